"""race_counter: the lost update of count++ and its fix with a lock (Silberschatz, Galvin and
Gagne, Operating System Concepts, 10th ed., section 6.1)."""

from __future__ import annotations

import pytest
from protospec.specs.race_counter import PC, RaceCounter

from tests.specs.catalogue_checks import (
    assert_cli_names_broken_property,
    assert_default_exhausts,
    assert_documented,
    assert_variant_caught,
    run,
    start,
)

VARIANTS = [("no_lock", 6), ("lock_around_load_only", 8)]


def increment(t: int) -> list[tuple]:
    return [(a, {"t": t}) for a in ("acquire", "load", "add", "store", "release")]


def test_the_default_configuration_exhausts_with_no_violation() -> None:
    assert_default_exhausts(RaceCounter, 931, 30)


@pytest.mark.parametrize(("threads", "increments", "distinct", "depth"),
                         [(2, 2, 83, 20), (3, 3, 5608, 45)])
def test_other_configurations_exhaust_at_their_documented_counts(threads: int, increments: int,
                                                                 distinct: int,
                                                                 depth: int) -> None:
    assert_default_exhausts(RaceCounter, distinct, depth,
                            {"threads": threads, "increments": increments})


@pytest.mark.parametrize(("variant", "length"), VARIANTS)
def test_each_variant_is_caught_with_a_shortest_replayable_trace(variant: str,
                                                                 length: int) -> None:
    assert_variant_caught(RaceCounter, variant, length)


@pytest.mark.parametrize(("variant", "length"), VARIANTS)
def test_the_command_line_exits_1_naming_the_broken_property(variant: str, length: int,
                                                             capsys) -> None:
    assert_cli_names_broken_property(RaceCounter, variant, length, capsys)


def test_the_spec_is_documented() -> None:
    assert_documented(RaceCounter)


def test_a_thread_waits_for_the_lock_while_another_increments() -> None:
    spec = RaceCounter(threads=2, increments=1)
    s = run(spec, start(spec), ("acquire", {"t": 0}), ("load", {"t": 0}))
    assert spec.step(s, "acquire", t=1) is None
    s = run(spec, s, ("add", {"t": 0}), ("store", {"t": 0}), ("release", {"t": 0}),
            *increment(1))
    assert s.counter == 2
    assert s.pc == (PC.DONE, PC.DONE)
    assert spec.check_state(s) == []


def test_two_loads_of_the_same_value_lose_an_increment_without_the_lock() -> None:
    spec = RaceCounter.with_variant("no_lock")(threads=2, increments=1)
    s = run(spec, start(spec), ("load", {"t": 0}), ("load", {"t": 1}), ("add", {"t": 0}),
            ("add", {"t": 1}), ("store", {"t": 0}), ("store", {"t": 1}))
    assert s.counter == 1
    assert spec.check_state(s) == ["no_lost_update", "final_count"]
