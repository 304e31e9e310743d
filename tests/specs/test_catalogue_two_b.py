"""Catalogue II, second part: message_queue, cache_aside, consistent_hashing, blockchain.

Every spec exhausts its default configuration without a violation (the distinct-state counts and
depths are pinned as the explorer measured them), and every bug variant is caught: check() reports
the property the variant says it breaks, with a shortest counterexample of the pinned length
whose every step replays through the spec's own successor relation, and the command line exits 1
naming that property. Behaviour and non-vacuity tests are in the per-spec files.
"""

from __future__ import annotations

import sys

import pytest

from explorer import Spec, Trace, check
from explorer.cli.main import main
from specs.blockchain import Blockchain
from specs.cache_aside import CacheAside
from specs.consistent_hashing import ConsistentHashing
from specs.message_queue import MessageQueue

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


def assert_replays(spec: Spec, trace: Trace) -> None:
    """Each step of ``trace`` is one of the spec's own successors, with the same label."""
    assert trace.steps[0].state in list(spec.init())
    for before, after in zip(trace.steps, trace.steps[1:]):
        labelled = {(label.action, label.args, t) for label, t in spec.successors(before.state)}
        assert (after.action, tuple(after.args.items()), after.state) in labelled, after.label


@pytest.mark.parametrize(("spec_cls", "distinct", "depth"), EXHAUSTIVE,
                         ids=[s.name for s, _, _ in EXHAUSTIVE])
def test_the_default_configuration_exhausts_with_no_violation(spec_cls: type[Spec],
                                                              distinct: int, depth: int) -> None:
    result = check(spec_cls())
    assert result.ok, [v.property for v in result.violations]
    assert result.stats.complete
    assert (result.stats.distinct_states, result.stats.depth) == (distinct, depth)


@pytest.mark.parametrize(("spec_cls", "variant", "length"), VARIANTS, ids=VARIANT_IDS)
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


@pytest.mark.parametrize(("spec_cls", "variant", "length"), VARIANTS, ids=VARIANT_IDS)
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
    assert all(p.doc for p in spec_cls.params().values())
