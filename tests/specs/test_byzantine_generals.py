"""byzantine_generals: OM(m) of Lamport, Shostak and Pease (TOPLAS 1982): IC1 and IC2 with
n > 3m generals and at most m traitors (Theorem 1), and the three-generals failure (section 2,
figure 1)."""

from __future__ import annotations

import pytest
from protospec.explorer import UsageError, check
from protospec.specs.byzantine_generals import (
    ByzantineGenerals,
    Msg,
    Order,
    State,
    majority,
)

from tests.specs.catalogue_checks import (
    assert_cli_names_broken_property,
    assert_default_exhausts,
    assert_documented,
    assert_variant_caught,
)

VARIANTS = [("three_generals", 5), ("obey_commander", 11)]


def test_the_default_configuration_exhausts_with_no_violation() -> None:
    assert_default_exhausts(ByzantineGenerals, 345, 12)


def test_five_generals_with_one_traitor_agree() -> None:
    assert_default_exhausts(ByzantineGenerals, 1451, 20, {"generals": 5})


def test_four_generals_cannot_tolerate_two_traitors() -> None:
    result = check(ByzantineGenerals(generals=4, m=2))
    (v,) = result.violations
    assert v.property == "ic2"
    assert len(v.trace) == 16


@pytest.mark.parametrize(("variant", "length"), VARIANTS)
def test_each_variant_is_caught_with_a_shortest_replayable_trace(variant: str,
                                                                 length: int) -> None:
    assert_variant_caught(ByzantineGenerals, variant, length)


@pytest.mark.parametrize(("variant", "length"), VARIANTS)
def test_the_command_line_exits_1_naming_the_broken_property(variant: str, length: int,
                                                             capsys) -> None:
    assert_cli_names_broken_property(ByzantineGenerals, variant, length, capsys)


def test_the_spec_is_documented() -> None:
    assert_documented(ByzantineGenerals)


def test_om_m_needs_paths_of_m_plus_1_distinct_generals() -> None:
    with pytest.raises(UsageError, match="at most generals - 2"):
        ByzantineGenerals(generals=3, m=2)


def test_majority_reads_a_tie_as_retreat() -> None:
    assert majority([Order.ATTACK, Order.RETREAT]) is Order.RETREAT
    assert majority([Order.ATTACK, Order.ATTACK, Order.RETREAT]) is Order.ATTACK


def all_messages(spec: ByzantineGenerals, value_of) -> frozenset[Msg]:
    return frozenset(Msg(path, to, value_of(path, to)) for path, to in spec.slots)


def test_a_loyal_lieutenant_outvotes_one_lying_relay_with_four_generals() -> None:
    spec = ByzantineGenerals()  # n = 4, m = 1; lieutenant 3 lies about everything
    msgs = all_messages(spec, lambda path, to: Order.RETREAT if path[-1] == 3 else Order.ATTACK)
    s = State(frozenset({3}), Order.ATTACK, len(spec.slots), msgs, (Order.NONE,) * 4)
    assert spec.om_value(s, 1) is Order.ATTACK
    assert spec.om_value(s, 2) is Order.ATTACK


def test_the_paper_figure_1_lieutenant_2_cannot_tell_the_traitor() -> None:
    spec = ByzantineGenerals(generals=3)
    msgs = all_messages(spec, lambda path, to: Order.RETREAT if path[-1] == 1 else Order.ATTACK)
    s = State(frozenset({1}), Order.ATTACK, len(spec.slots), msgs, (Order.NONE,) * 3)
    s = spec.step(s, "decide", i=2)
    assert s.decision[2] is Order.RETREAT
    assert spec.check_state(s) == ["ic2"]


def test_traitors_do_not_decide() -> None:
    spec = ByzantineGenerals(generals=3)
    msgs = all_messages(spec, lambda path, to: Order.ATTACK)
    s = State(frozenset({1}), Order.ATTACK, len(spec.slots), msgs, (Order.NONE,) * 3)
    assert spec.step(s, "decide", i=1) is None


def test_every_set_of_at_most_m_traitors_starts_a_run() -> None:
    inits = list(ByzantineGenerals().init())  # n = 4, m = 1
    assert {s.traitors for s in inits} == {frozenset(), *(frozenset({g}) for g in range(4))}
    assert len(inits) == 9  # both orders for a loyal commander, none for a traitor


def test_loyal_lieutenants_agree_on_the_majority_a_traitor_commander_handed_out() -> None:
    spec = ByzantineGenerals()  # n = 4, m = 1, the commander is the traitor
    split = {1: Order.ATTACK, 2: Order.ATTACK, 3: Order.RETREAT}

    def value_of(path, to):
        return split[path[-1]] if len(path) == 2 else split[to]  # lieutenants relay faithfully

    s = State(frozenset({0}), Order.NONE, len(spec.slots), all_messages(spec, value_of),
              (Order.NONE,) * 4)
    assert {spec.om_value(s, i) for i in (1, 2, 3)} == {Order.ATTACK}
