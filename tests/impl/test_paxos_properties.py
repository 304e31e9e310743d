"""Hypothesis drives the Multi-Paxos simulator: random fault schedules and workloads; every
run must conform to specs/multi_paxos.py, keep the replicas' promises (check_run) and give a
linearizable client history. A failing schedule is shrunk by Hypothesis and reported with the
command that replays it."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protospec.explorer.conformance import SimRun, check_events, history_problems, lookup
from protospec.impl.paxos.sim import check_run, run_schedule
from protospec.impl.runtime.sim import Schedule

from .test_2pc_properties import faults

NODES = 3
DURATION_MS = 1500
TARGET = lookup("multi_paxos")

operations = st.lists(
    st.one_of(st.tuples(st.integers(0, DURATION_MS), st.integers(1, 3), st.just("put"),
                        st.sampled_from(["a", "b"]), st.sampled_from(["1", "2", "3"])),
              st.tuples(st.integers(0, DURATION_MS), st.integers(1, 3),
                        st.sampled_from(["get", "delete"]), st.sampled_from(["a", "b"]),
                        st.none())),
    max_size=12).map(lambda ops: tuple(sorted(ops, key=lambda o: (o[0], o[1]))))

schedules = st.builds(Schedule, seed=st.integers(0, 10_000), nodes=st.just(NODES),
                      duration_ms=st.just(DURATION_MS), drop=st.sampled_from([0.0, 0.1]),
                      duplicate=st.sampled_from([0.0, 0.1]),
                      delay_ms=st.sampled_from([(1, 5), (1, 30)]),
                      faults=faults(NODES, DURATION_MS), ops=operations)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules)
def test_every_schedule_conforms_and_its_history_is_linearizable(schedule):
    run = run_schedule(schedule)
    result = check_events(TARGET, NODES, None, run.events, keep_trace=False)
    replay = f"protospec conform multi_paxos --schedule '{schedule.to_json()}'"
    assert result.ok, f"does not conform; replay: {replay}"
    assert not check_run(run), f"{check_run(run)}; replay: {replay}"
    assert not history_problems(SimRun(run.events, history=run.history)), replay
