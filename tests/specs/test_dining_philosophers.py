"""dining_philosophers: the deadlock of left-first forks (Dijkstra 1971), fixed by resource
ordering (Havender 1968) or by a waiter seating N - 1 (Hoare 1985, section 2.5)."""

from __future__ import annotations

import pytest
from protospec.explorer import check
from protospec.specs.dining_philosophers import FREE, DiningPhilosophers, Phase

from tests.specs.catalogue_checks import (
    assert_cli_names_broken_property,
    assert_default_exhausts,
    assert_documented,
    assert_variant_caught,
    run,
    start,
)

VARIANTS = [("left_first", 10), ("waiter_admits_all", 10), ("weakly_fair_forks", 5)]


def test_the_default_configuration_exhausts_with_no_violation_no_deadlock_no_starvation(
) -> None:
    assert_default_exhausts(DiningPhilosophers, 534, 10)


def test_the_waiter_fix_exhausts_with_no_deadlock_and_no_starvation() -> None:
    assert_default_exhausts(DiningPhilosophers, 491, 9, {"fix": "waiter"})


@pytest.mark.parametrize(("variant", "length"), VARIANTS)
def test_each_variant_is_caught_with_a_shortest_replayable_trace(variant: str,
                                                                 length: int) -> None:
    assert_variant_caught(DiningPhilosophers, variant, length)


@pytest.mark.parametrize(("variant", "length"), VARIANTS)
def test_the_command_line_exits_1_naming_the_broken_property(variant: str, length: int,
                                                             capsys) -> None:
    assert_cli_names_broken_property(DiningPhilosophers, variant, length, capsys)


def test_the_spec_is_documented() -> None:
    assert_documented(DiningPhilosophers)


def test_with_ordered_forks_the_last_philosopher_reaches_for_fork_0_first() -> None:
    spec = DiningPhilosophers(philosophers=3)
    s = run(spec, start(spec), ("get_hungry", {"i": 2}), ("take_first_fork", {"i": 2}))
    assert s.fork == (2, FREE, FREE)


def test_a_philosopher_waits_while_a_neighbour_holds_the_shared_fork() -> None:
    spec = DiningPhilosophers(philosophers=3)
    s = run(spec, start(spec), ("get_hungry", {"i": 0}), ("take_first_fork", {"i": 0}),
            ("take_second_fork", {"i": 0}), ("get_hungry", {"i": 1}))
    assert spec.step(s, "take_first_fork", i=1) is None  # fork 1 is in philosopher 0's hand
    s = run(spec, s, ("put_down_forks", {"i": 0}), ("take_first_fork", {"i": 1}))
    assert s.phase[1] is Phase.ONE_FORK


def test_the_waiter_keeps_the_last_philosopher_from_sitting_down() -> None:
    spec = DiningPhilosophers(philosophers=3, fix="waiter")
    s = run(spec, start(spec), ("get_hungry", {"i": 0}), ("get_hungry", {"i": 1}))
    assert spec.step(s, "get_hungry", i=2) is None


def test_neighbours_eating_together_violates_the_invariants() -> None:
    spec = DiningPhilosophers(philosophers=3)
    s = start(spec)._replace(phase=(Phase.EATING, Phase.EATING, Phase.THINKING),
                             fork=(0, 0, 1))
    assert spec.check_state(s) == ["neighbours_never_eat_together", "eating_holds_both_forks"]


def test_without_strong_fairness_a_philosopher_starves_between_eating_neighbours() -> None:
    spec = DiningPhilosophers.with_variant("weakly_fair_forks")()
    (v,) = check(spec).violations
    assert (v.property, v.instance) == ("no_starvation", 0)
    cycle = v.trace.steps[v.trace.loop + 1:]
    assert all(spec.check_state(step.state) == [] for step in v.trace.steps)
    assert all(step.state.phase[0] is Phase.HUNGRY for step in cycle)
