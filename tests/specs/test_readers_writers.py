"""readers_writers: Courtois, Heymans and Parnas's semaphore solutions (CACM 1971), Problem 1
(readers' priority) and Problem 2 (writers' priority)."""

from __future__ import annotations

import pytest
from protospec.explorer import check
from protospec.specs.readers_writers import ReadersWriters, Var

from tests.specs.catalogue_checks import (
    assert_cli_names_broken_property,
    assert_default_exhausts,
    assert_documented,
    assert_variant_caught,
    run,
    start,
)

VARIANTS = [("readers_priority", 23), ("entry_without_mutex", 4), ("exit_without_mutex", 19)]


def test_problem_2_exhausts_with_no_violation_no_deadlock_and_no_starving_writer() -> None:
    assert_default_exhausts(ReadersWriters, 1969, 34)


def test_problem_1_is_safe_and_free_of_deadlock_but_starves_a_writer() -> None:
    result = check(ReadersWriters.with_variant("readers_priority")())
    assert result.stats.distinct_states == 85
    (v,) = result.violations
    assert (v.property, v.instance) == ("writers_eventually_write", 2)
    cycle = [step.state for step in v.trace.steps[v.trace.loop:]]
    assert all(s.readcount > 0 and s.w == 0 for s in cycle)  # readers hold w throughout


@pytest.mark.parametrize(("variant", "length"), VARIANTS)
def test_each_variant_is_caught_with_a_shortest_replayable_trace(variant: str,
                                                                 length: int) -> None:
    assert_variant_caught(ReadersWriters, variant, length)


@pytest.mark.parametrize(("variant", "length"), VARIANTS)
def test_the_command_line_exits_1_naming_the_broken_property(variant: str, length: int,
                                                             capsys) -> None:
    assert_cli_names_broken_property(ReadersWriters, variant, length, capsys)


def test_the_spec_is_documented() -> None:
    assert_documented(ReadersWriters)


def enter_as_reader(i: int, first: bool) -> list[tuple]:
    steps = [("P", {"i": i, "sem": Var.MUTEX_1}),
             ("increment", {"i": i, "var": Var.READCOUNT}),
             ("test", {"i": i, "var": Var.READCOUNT})]
    if first:
        steps.append(("P", {"i": i, "sem": Var.W}))
    return [*steps, ("V", {"i": i, "sem": Var.MUTEX_1})]


def test_readers_share_the_resource_and_only_the_first_takes_w() -> None:
    spec = ReadersWriters.with_variant("readers_priority")()
    s = run(spec, start(spec), *enter_as_reader(0, first=True),
            *enter_as_reader(1, first=False))
    assert (s.readcount, s.w) == (2, 0)
    assert spec.is_reading(s, 0) and spec.is_reading(s, 1)
    assert spec.step(s, "P", i=2, sem=Var.W) is None  # the writer waits


def test_a_reader_arriving_while_a_writer_writes_waits_on_w_holding_the_mutex() -> None:
    spec = ReadersWriters.with_variant("readers_priority")()
    s = run(spec, start(spec), ("P", {"i": 2, "sem": Var.W}),
            *enter_as_reader(0, first=True)[:3])
    assert spec.step(s, "P", i=0, sem=Var.W) is None
    assert s.mutex_1 == 0


def test_in_problem_2_a_waiting_writer_closes_the_door_to_new_readers() -> None:
    spec = ReadersWriters()
    s = run(spec, start(spec), ("P", {"i": 2, "sem": Var.MUTEX_2}),
            ("increment", {"i": 2, "var": Var.WRITECOUNT}),
            ("test", {"i": 2, "var": Var.WRITECOUNT}), ("P", {"i": 2, "sem": Var.R}),
            ("P", {"i": 0, "sem": Var.MUTEX_3}))
    assert spec.step(s, "P", i=0, sem=Var.R) is None


def test_a_reader_and_a_writer_inside_together_violate_the_invariant() -> None:
    spec = ReadersWriters.with_variant("readers_priority")(readers=1, writers=2)
    s = start(spec)._replace(pc=(5, 1, 1))  # the reader at its read line, both writers writing
    assert spec.check_state(s) == ["no_reader_with_writer", "one_writer"]
