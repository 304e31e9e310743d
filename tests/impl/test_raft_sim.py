"""The deterministic simulator: runs are pure functions of their schedules; faults happen."""

from __future__ import annotations

import pytest

from protospec.impl.raft.kv import encode_command
from protospec.impl.raft.sim import Fault, Op, Schedule, SimResult, check_run, run_schedule, shrink


def test_the_same_schedule_gives_the_very_same_run():
    s = Schedule.random(7)
    a, b = run_schedule(s), run_schedule(s)
    assert a.events == b.events and a.applied == b.applied and a.acked == b.acked


def test_a_schedule_replays_identically_from_its_json_form():
    s = Schedule.random(3, bug="commit_old_term")
    again = Schedule.from_json(s.to_json())
    assert again == s
    assert run_schedule(again).events == run_schedule(s).events


def test_different_seeds_give_different_runs():
    assert run_schedule(Schedule.random(1)).events != run_schedule(Schedule.random(2)).events


def test_a_fault_free_run_elects_one_leader_and_acknowledges_every_operation():
    ops = tuple(Op(200 + 50 * k, 1 + k % 3, "put", f"k{k}", str(k)) for k in range(10))
    r = run_schedule(Schedule(seed=1, ops=ops))
    assert r.elections == 1 and len(r.acked) == 10 and r.unacked == 0
    assert check_run(r) == []


def test_a_crash_in_the_middle_of_a_write_leaves_a_torn_tail_that_restart_cuts_off():
    s = Schedule(seed=4, duration_ms=1500, faults=(Fault(400, "crash_torn", 2),
                                                   Fault(900, "restart", 2)),
                 ops=tuple(Op(300 + 20 * k, 1, "put", "k", str(k)) for k in range(20)))
    r = run_schedule(s)
    assert [c["node"] for c in r.recoveries] == [2]
    assert r.recoveries[0]["repaired_bytes"] > 0 and "torn last record" in r.recoveries[0]["note"]
    assert check_run(r) == []


def test_a_partition_stops_the_minority_from_acknowledging_writes():
    ops = tuple(Op(600 + 40 * k, 1, "put", "k", str(k)) for k in range(10))
    base = Schedule(seed=2, duration_ms=2000, ops=ops)
    leader = next(e["n"] for e in run_schedule(base).events if e["action"] == "become_leader")
    others = tuple(n for n in (1, 2, 3) if n != leader)
    cut = Schedule(seed=2, duration_ms=2000, ops=ops,
                   faults=(Fault(500, "partition", ((leader,), others)),))
    r = run_schedule(cut)
    assert r.elections >= 2  # the majority side elected a new leader
    late = [a for a in r.acked if a["invoked_ms"] >= 600]
    assert late and check_run(r) == []


def test_the_implementations_own_check_notices_divergent_applied_logs():
    r = run_schedule(Schedule.random(5))
    a, b, c = (encode_command("put", "k", v, client="c1", seq=1) for v in "abc")
    bad = SimResult(r.schedule, r.events, {1: [[a, b]], 2: [[a, c]]}, [], 0)
    assert check_run(bad) == [f"node 2 (run 0) applied {c} at index 2, node 1 applied {b}"]


def test_invalid_schedules_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="names no node"):
        Schedule(faults=(Fault(10, "crash", 7),)).validate()
    with pytest.raises(ValueError, match="unknown bug"):
        Schedule.from_json('{"bug": "nope"}')
    with pytest.raises(ValueError, match="not a schedule"):
        Schedule.from_json("[1, 2")
    with pytest.raises(ValueError, match="unknown fault families"):
        Schedule.random(0, faults=["meteor"])


def test_shrinking_keeps_only_what_the_failure_needs():
    # A stand-in failure: any partition during the run fails it; everything else is noise.
    s = Schedule.random(11)
    assert [f.kind for f in s.faults].count("partition") == 2 and len(s.ops) == 20

    def fails(candidate: Schedule) -> int | None:
        hits = [f.at_ms for f in candidate.faults
                if f.kind == "partition" and f.at_ms < candidate.duration_ms]
        return hits[0] if hits else None

    small = shrink(s, fails)
    assert [f.kind for f in small.faults] == ["partition"] and small.ops == ()
    assert small.duration_ms == small.faults[0].at_ms + 1
