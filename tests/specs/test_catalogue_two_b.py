"""Catalogue II, second part: message_queue, cache_aside, consistent_hashing, blockchain.

Every spec exhausts its default configuration without a violation (the distinct-state counts and
depths are pinned as the explorer measured them), and every bug variant is caught: check() reports
the property the variant says it breaks, with a shortest counterexample of the pinned length
whose every step replays through the spec's own successor relation, and the command line exits 1
naming that property. Behaviour and non-vacuity tests are in the per-spec files.
"""

from __future__ import annotations

import pytest

from protospec.explorer import Spec
from protospec.specs.blockchain import Blockchain
from protospec.specs.cache_aside import CacheAside
from protospec.specs.consistent_hashing import ConsistentHashing
from protospec.specs.message_queue import MessageQueue
from tests.specs.catalogue_checks import (
    assert_cli_names_broken_property,
    assert_default_exhausts,
    assert_documented,
    assert_variant_caught,
)

SPECS: list[type[Spec]] = [MessageQueue, CacheAside, ConsistentHashing, Blockchain]

# (spec, distinct states, depth) of the default configuration: measured with explorer.check.
EXHAUSTIVE = [
    (MessageQueue, 13684, 28),
    (CacheAside, 13367, 13),
    (ConsistentHashing, 1984, 11),
    (Blockchain, 14849, 12),
]

# (spec, variant, counterexample length) on the defaults: measured with explorer.check.
VARIANTS = [
    pytest.param(MessageQueue, "ack_before_process", 4),
    pytest.param(MessageQueue, "no_dedup", 6),
    pytest.param(MessageQueue, "competing_consumers", 5),
    pytest.param(CacheAside, "fill_without_lease", 5),
    pytest.param(CacheAside, "delete_before_write", 5),
    pytest.param(CacheAside, "set_on_write", 4),
    pytest.param(ConsistentHashing, "mod_n_hashing", 3),
    pytest.param(ConsistentHashing, "lookup_ignores_virtual_nodes", 2),
    pytest.param(ConsistentHashing, "join_keeps_old_copy", 2),
    # About 240,000 states before the 10-step private-chain attack is found.
    pytest.param(Blockchain, "adversary_majority", 10, marks=pytest.mark.slow),
]
VARIANT_IDS = [f"{p.values[0].name}-{p.values[1]}" for p in VARIANTS]


@pytest.mark.parametrize(("spec_cls", "distinct", "depth"), EXHAUSTIVE,
                         ids=[s.name for s, _, _ in EXHAUSTIVE])
def test_the_default_configuration_exhausts_with_no_violation(spec_cls: type[Spec],
                                                              distinct: int, depth: int) -> None:
    assert_default_exhausts(spec_cls, distinct, depth)


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
