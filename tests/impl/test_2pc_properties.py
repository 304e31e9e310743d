"""Hypothesis drives the two-phase commit simulator: random fault schedules (crashes at any
point, the TM's between logging and sending its decision included) and random transactions;
every run must conform to specs/two_phase_commit.py and keep the promises of check_run. A
failing schedule is shrunk by Hypothesis and reported with the command that replays it."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protospec.explorer.conformance import check_events, lookup
from protospec.impl.runtime.sim import CRASH_KINDS, Fault, Schedule
from protospec.impl.two_phase_commit.sim import check_run, run_schedule

RMS = 3
PROCESSES = RMS + 1
DURATION_MS = 1500
TARGET = lookup("two_phase_commit")


def faults(processes: int, duration: int) -> st.SearchStrategy[tuple[Fault, ...]]:
    at = st.integers(0, duration)
    node = st.integers(1, processes)
    crash = st.builds(Fault, at, st.sampled_from(CRASH_KINDS), node)
    restart = st.builds(Fault, at, st.just("restart"), node)
    partition = st.builds(
        lambda t, order, cut: Fault(t, "partition", (tuple(sorted(order[:cut])),
                                                     tuple(sorted(order[cut:])))),
        at, st.permutations(range(1, processes + 1)), st.integers(1, processes - 1))
    heal = st.builds(Fault, at, st.just("heal"))
    return st.lists(st.one_of(crash, restart, restart, partition, heal), max_size=8).map(
        lambda fs: tuple(sorted(fs, key=lambda f: f.at_ms)))


transactions = st.lists(st.tuples(st.integers(0, DURATION_MS), st.integers(1, 3),
                                  st.sampled_from(["a", "b"]), st.sampled_from(["1", "2"])),
                        max_size=10).map(lambda ops: tuple(sorted(ops)))

schedules = st.builds(Schedule, seed=st.integers(0, 10_000), nodes=st.just(RMS),
                      duration_ms=st.just(DURATION_MS), drop=st.sampled_from([0.0, 0.1]),
                      duplicate=st.sampled_from([0.0, 0.1]),
                      delay_ms=st.sampled_from([(1, 5), (1, 30)]),
                      faults=faults(PROCESSES, DURATION_MS), ops=transactions)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules)
def test_every_schedule_conforms_and_keeps_every_told_outcome(schedule):
    run = run_schedule(schedule)
    result = check_events(TARGET, RMS, None, run.events, keep_trace=False)
    replay = f"protospec conform two_phase_commit --schedule '{schedule.to_json()}'"
    assert result.ok, f"does not conform; replay: {replay}"
    assert not check_run(run), f"{check_run(run)}; replay: {replay}"
