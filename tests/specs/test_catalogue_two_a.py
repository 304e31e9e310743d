"""Catalogue II, first part: primary_backup, quorum_kv, crdt, cap, saga.

Every spec exhausts its default configuration without a violation (the distinct-state counts and
depths are pinned as the explorer measured them), and every bug variant is caught: check() reports
the property the variant says it breaks, with a shortest counterexample of the pinned length
whose every step replays through the spec's own successor relation, and the command line exits 1
naming that property.
"""

from __future__ import annotations

from typing import Any

import pytest

from protospec.explorer import Spec
from protospec.specs.cap import CAP
from protospec.specs.crdt import CRDT
from protospec.specs.primary_backup import PrimaryBackup
from protospec.specs.quorum_kv import QuorumKV
from protospec.specs.saga import Saga
from tests.specs.catalogue_checks import (
    assert_cli_names_broken_property,
    assert_default_exhausts,
    assert_documented,
    assert_variant_caught,
)

SPECS: list[type[Spec]] = [PrimaryBackup, QuorumKV, CRDT, CAP, Saga]

# (spec, parameters, distinct states, depth): measured with explorer.check.
EXHAUSTIVE = [
    pytest.param(PrimaryBackup, {}, 26336, 22, id="primary_backup"),
    pytest.param(QuorumKV, {}, 30587, 22, id="quorum_kv", marks=pytest.mark.slow),
    pytest.param(CRDT, {}, 5236, 14, id="crdt-or_set"),
    pytest.param(CRDT, {"datatype": "g_counter"}, 1828, 14, id="crdt-g_counter"),
    pytest.param(CRDT, {"datatype": "pn_counter"}, 12580, 14, id="crdt-pn_counter"),
    pytest.param(CRDT, {"datatype": "lww_register"}, 2308, 14, id="crdt-lww_register"),
    pytest.param(CAP, {}, 134, 8, id="cap-cp"),
    pytest.param(CAP, {"mode": "ap"}, 806, 10, id="cap-ap"),
    pytest.param(Saga, {}, 716, 20, id="saga"),
]

# (spec, variant, counterexample length): measured with explorer.check on the defaults.
VARIANTS = [
    (PrimaryBackup, "ack_before_backup_applies", 2),
    (PrimaryBackup, "ack_view_before_transfer", 6),
    (PrimaryBackup, "forward_before_transfer", 12),
    (QuorumKV, "r_plus_w_le_n", 7),
    (QuorumKV, "no_session_token", 10),
    (QuorumKV, "unversioned_store", 6),
    (CRDT, "naive_set", 6),
    (CRDT, "lww_tie_keeps_local", 2),
    (CRDT, "g_counter_merge_adds", 1),
    (CAP, "cp_with_availability", 2),
    (CAP, "ap_with_linearizability", 3),
    (CAP, "ap_drops_during_partition", 3),
    (Saga, "non_idempotent_compensation", 7),
    (Saga, "non_idempotent_step", 8),
    (Saga, "timeout_as_failure", 2),
]
VARIANT_IDS = [f"{s.name}-{v}" for s, v, _ in VARIANTS]


@pytest.mark.parametrize(("spec_cls", "params", "distinct", "depth"), EXHAUSTIVE)
def test_the_default_configuration_exhausts_with_no_violation(spec_cls: type[Spec],
                                                              params: dict[str, Any],
                                                              distinct: int, depth: int) -> None:
    assert_default_exhausts(spec_cls, distinct, depth, params)


@pytest.mark.parametrize(("spec_cls", "variant", "length"), VARIANTS, ids=VARIANT_IDS)
def test_each_variant_is_caught_with_a_shortest_replayable_trace(spec_cls: type[Spec],
                                                                 variant: str,
                                                                 length: int) -> None:
    assert_variant_caught(spec_cls, variant, length)


@pytest.mark.parametrize(("spec_cls", "variant", "length"), VARIANTS, ids=VARIANT_IDS)
def test_the_command_line_exits_1_naming_the_broken_property(spec_cls: type[Spec], variant: str,
                                                             length: int, capsys) -> None:
    assert_cli_names_broken_property(spec_cls, variant, length, capsys)


@pytest.mark.parametrize("spec_cls", SPECS, ids=[s.name for s in SPECS])
def test_every_spec_has_a_one_line_summary_a_source_a_variant_and_a_docs_page(
        spec_cls: type[Spec]) -> None:
    assert_documented(spec_cls)
