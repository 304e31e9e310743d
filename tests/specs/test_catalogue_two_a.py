"""Catalogue II, first part: primary_backup, quorum_kv, crdt, cap, saga.

Every spec exhausts its default configuration without a violation (the distinct-state counts and
depths are pinned as the explorer measured them), and every bug variant is caught: check() reports
the property the variant says it breaks, with a shortest counterexample of the pinned length
whose every step replays through the spec's own successor relation, and the command line exits 1
naming that property.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from explorer import Spec, Trace, check
from explorer.cli.main import main
from specs.cap import CAP
from specs.crdt import CRDT
from specs.primary_backup import PrimaryBackup
from specs.quorum_kv import QuorumKV
from specs.saga import Saga

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


def assert_replays(spec: Spec, trace: Trace) -> None:
    """Each step of ``trace`` is one of the spec's own successors, with the same label."""
    assert trace.steps[0].state in list(spec.init())
    for before, after in zip(trace.steps, trace.steps[1:]):
        labelled = {(label.action, label.args, t) for label, t in spec.successors(before.state)}
        assert (after.action, tuple(after.args.items()), after.state) in labelled, after.label


@pytest.mark.parametrize(("spec_cls", "params", "distinct", "depth"), EXHAUSTIVE)
def test_the_default_configuration_exhausts_with_no_violation(spec_cls: type[Spec],
                                                              params: dict[str, Any],
                                                              distinct: int, depth: int) -> None:
    result = check(spec_cls(**params))
    assert result.ok, [v.property for v in result.violations]
    assert result.stats.complete
    assert (result.stats.distinct_states, result.stats.depth) == (distinct, depth)


@pytest.mark.parametrize(("spec_cls", "variant", "length"), VARIANTS,
                         ids=[f"{s.name}-{v}" for s, v, _ in VARIANTS])
def test_each_variant_is_caught_with_a_shortest_replayable_trace(spec_cls: type[Spec],
                                                                 variant: str,
                                                                 length: int) -> None:
    cls = spec_cls.with_variant(variant)
    spec = cls()
    result = check(spec)
    (v,) = result.violations
    assert v.property == cls.variant_info.breaks
    assert len(v.trace) == length
    assert_replays(spec, v.trace)
    last, prev = v.trace.steps[-1].state, v.trace.steps[-2].state
    if v.kind == "invariant":
        assert v.property in spec.check_state(last)
    else:
        assert v.property in spec.check_step(prev, last)


@pytest.mark.parametrize(("spec_cls", "variant", "length"), VARIANTS,
                         ids=[f"{s.name}-{v}" for s, v, _ in VARIANTS])
def test_the_command_line_exits_1_naming_the_broken_property(spec_cls: type[Spec], variant: str,
                                                             length: int, capsys) -> None:
    assert main(["check", spec_cls.name, "--variant", variant]) == 1
    out = capsys.readouterr().out
    assert spec_cls.with_variant(variant).variant_info.breaks in out
    assert f"Shortest counterexample: {length} step" in out


@pytest.mark.parametrize("spec_cls", SPECS, ids=[s.name for s in SPECS])
def test_every_spec_has_a_one_line_summary_a_source_and_a_variant(spec_cls: type[Spec]) -> None:
    assert spec_cls.summary().endswith(".")
    assert len(spec_cls.summary()) <= 96
    assert "Source:" in sys.modules[spec_cls.__module__].__doc__
    assert spec_cls.variants()
    declared = {p.name for p in spec_cls.invariants() + spec_cls.action_properties()}
    assert {v.variant_info.breaks for v in spec_cls.variants().values()} <= declared
