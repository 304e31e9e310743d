"""Trace refinement of the Raft implementation's logs against specs/raft.py.

Seeds and event numbers pinned here were measured by running the simulator and the check.
"""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path

from protospec.explorer.refinement import format_failure, refine
from protospec.impl.raft.core import Config
from protospec.impl.raft.sim import Fault, Op, Schedule, Simulation, check_run, run_schedule
from protospec.specs.raft import Raft
from protospec.specs.raft_refinement import RaftMapping, load_logs, with_compaction


def check(events, nodes=3, spec_cls=Raft, **kw):
    return refine(RaftMapping(nodes, spec_cls), events, **kw)


def test_every_logged_action_is_a_spec_action_and_every_spec_action_is_logged():
    # Guards the mapping against renames in specs/raft.py: event names are spec action names
    # (of the spec extended with batches and snapshots). Two exceptions, both by design: a
    # compaction changes no spec variable (the spec keeps whole logs), and a batch is logged
    # as the append_entries whose request carries several entries.
    events = [e for seed in range(3) for e in run_schedule(Schedule.random(seed)).events]
    logged = {e["action"] for e in events}
    spec_actions = {a.name for a in with_compaction(Raft).actions()}
    assert logged - spec_actions == {"compact"}
    assert spec_actions - logged == {"append_entries_batch"}
    assert any(e["action"] == "append_entries" and len(e["sent"][0]["entries"]) > 1
               for e in events)


def first_failing_seed(bug: str, spec_cls=Raft, limit: int = 200):
    for seed in range(limit):
        result = check(run_schedule(Schedule.random(seed, bug=bug)).events, spec_cls=spec_cls,
                       keep_trace=False)
        if not result.ok:
            return seed, result
    return None, None


def test_thirty_seeded_runs_with_every_fault_conform_and_keep_their_promises():
    events = 0
    for seed in range(30):
        run = run_schedule(Schedule.random(seed))
        result = check(run.events)
        assert result.ok, f"seed {seed}:\n{format_failure(result)}"
        assert check_run(run) == [], f"seed {seed}"
        events += result.events
    assert events > 20_000  # the runs are not trivially short


def test_a_leader_committing_an_old_terms_entry_is_caught_at_the_first_seed():
    seed, result = first_failing_seed("commit_old_term")
    f = result.failure
    assert (seed, f.kind, f.event_index) == (0, "unexplained", 775)
    assert f.event["action"] == "advance_commit_index"
    assert "guard is false" in f.nearest.blocked_at


def test_a_vote_granted_without_the_log_check_is_caught_at_the_first_seed():
    seed, result = first_failing_seed("vote_without_log_check")
    f = result.failure
    assert (seed, f.kind, f.event_index) == (0, "unexplained", 182)
    assert f.event["action"] == "handle_request_vote_request"
    assert any("sent a message the spec step does not send" in m.what
               for m in f.nearest.mismatches)


def test_against_the_matching_spec_variant_the_buggy_votes_break_an_invariant():
    # The buggy implementation conforms to the spec variant that has the same bug, and the
    # spec's invariants, checked on every state the log reaches, catch it.
    seed, result = first_failing_seed("vote_without_log_check",
                                      Raft.with_variant("vote_without_log_check"))
    f = result.failure
    assert (seed, f.kind, f.property_name) == (0, "invariant", "leader_completeness")


def tampered(events, index, fn):
    out = copy.deepcopy(events)
    fn(out[index])
    return out


def test_a_logged_commit_index_the_spec_does_not_reach_is_the_nearest_mismatch():
    events = run_schedule(Schedule.random(0)).events
    k = next(i for i, e in enumerate(events) if e["action"] == "advance_commit_index")
    bad = tampered(events, k, lambda e: e["state"].update(commit=e["state"]["commit"] + 1))
    result = check(bad)
    f = result.failure
    assert f.event_index == k and f.nearest.enabled
    n = events[k]["n"]
    assert [m.what for m in f.nearest.mismatches] == [f"server {n - 1} (node {n}) commit_index"]
    assert "Nearest mismatch: advance_commit_index" in format_failure(result)


def test_a_sent_entry_with_the_wrong_previous_term_is_caught_where_it_is_sent():
    events = run_schedule(Schedule.random(0)).events
    k = next(i for i, e in enumerate(events) if e["action"] == "append_entries"
             and e["sent"][0]["prev_log_index"] > 0)
    bad = tampered(events, k, lambda e: e["sent"][0].update(prev_log_term=99))
    f = check(bad).failure
    assert f.event_index == k
    n = events[k]["n"]
    assert [m.what for m in f.nearest.mismatches] == [
        f"server {n - 1} (node {n}) sent a message the spec step does not send"]


def test_a_restart_that_recovers_a_different_log_is_caught():
    events = run_schedule(Schedule.random(0)).events
    k = next(i for i, e in enumerate(events) if e["action"] == "restart" and e.get("log"))
    bad = tampered(events, k, lambda e: e["log"][-1].__setitem__(1, "forged"))
    f = check(bad).failure
    assert f.event_index == k and "log" in {m.what.split()[-1] for m in f.nearest.mismatches}


def test_lost_messages_need_not_be_logged():
    events = [e for e in run_schedule(Schedule.random(0)).events
              if e["action"] != "drop_message"]
    assert check(events).ok


def test_copies_made_by_the_network_must_be_logged():
    # A hidden step is only tried just before the event that needs it, and by the second
    # delivery of a message its first copy is gone: unlogged duplication is not inferred.
    events = [e for e in run_schedule(Schedule.random(0)).events
              if e["action"] != "duplicate_message"]
    f = check(events).failure
    assert (f.event_index, f.event["action"]) == (35, "handle_append_entries_request")
    assert "not in its domain" in f.nearest.blocked_at


CRASH_UNLOGGED = Schedule(seed=3, duration_ms=1200, faults=(Fault(300, "crash_unlogged", 1),
                                                            Fault(700, "restart", 1)),
                          ops=tuple(Op(250 + 10 * k, 1, "put", "k", str(k)) for k in range(10)))


def test_a_step_whose_log_line_a_crash_cut_off_is_inferred_before_the_restart():
    events = run_schedule(CRASH_UNLOGGED).events
    result = check(events)
    assert result.ok and result.hidden_steps == 1
    restart = next(i for i, e in enumerate(events) if e["action"] == "restart" and e["boot"])
    strict = RaftMapping(3)
    strict.max_hidden = 0
    f = refine(strict, events).failure
    assert f.event_index == restart


def test_per_node_log_files_are_merged_causally_and_conform(tmp_path: Path):
    # What a real cluster leaves behind: one file per node, no network events. Without
    # duplication (which must be logged), the merged logs conform.
    s = Schedule.random(4, faults=("drop", "reorder", "partition", "crash"))
    events = run_schedule(s).events
    per_node: dict[int, list] = {}
    for e in events:
        if e["n"]:
            per_node.setdefault(e["n"], []).append(e)
    for n, evs in per_node.items():
        folder = tmp_path / f"node{n}"
        folder.mkdir()
        lines = [json.dumps({**e, "t": 0, "i": i}) for i, e in enumerate(evs)]
        (folder / "events.jsonl").write_text("\n".join(lines) + "\n" + '{"n": 1, "act')
    merged, notes, nodes = load_logs(tmp_path)
    assert nodes == 3 and len(merged) == sum(len(v) for v in per_node.values())
    assert len(notes) == 3 and "incomplete last line" in notes[0]
    result = check(merged)
    assert result.ok, format_failure(result)


def test_with_quiet_heartbeats_seeded_runs_with_every_fault_still_conform():
    # The argument in RaftCore._heartbeat, tested: quiet exchanges are stutters, so logs
    # without them still refine the spec, under drops, duplicates, partitions and crashes.
    quiet_sent = 0
    for seed in range(30):
        sim = Simulation(Schedule.random(seed), config=Config(quiet_heartbeats=True))
        original = sim._send

        def counting_send(m, original=original):
            nonlocal quiet_sent
            quiet_sent += bool(getattr(m, "quiet", False))
            original(m)

        sim._send = counting_send
        run = sim.run()
        result = check(run.events, keep_trace=False)
        assert result.ok, f"seed {seed}:\n{format_failure(result)}"
        assert check_run(run) == [], f"seed {seed}"
    assert quiet_sent > 500  # the runs did exchange quiet heartbeats


def write_per_node_logs(folder: Path, events, keep: dict[int, int] | None = None) -> None:
    per_node: dict[int, list] = {}
    for e in events:
        if e["n"]:
            per_node.setdefault(e["n"], []).append(e)
    for n, evs in per_node.items():
        evs = evs[:(keep or {}).get(n, len(evs))]
        (folder / f"node{n}").mkdir()
        lines = [json.dumps({**e, "i": i}) for i, e in enumerate(evs)]
        (folder / f"node{n}" / "events.jsonl").write_text("\n".join(lines) + "\n")


def test_logs_of_a_running_cluster_are_cut_consistently_and_say_so(tmp_path: Path):
    # Node 1's file was read early: later files receive messages it had not logged yet.
    events = run_schedule(Schedule.random(4, faults=("drop", "reorder"))).events
    write_per_node_logs(tmp_path, events, keep={1: 40})
    merged, notes, _ = load_logs(tmp_path)
    assert notes and all("the cluster is running" in n for n in notes)
    result = check(merged)
    assert result.ok, format_failure(result)


def test_logs_of_a_stopped_cluster_are_never_cut(tmp_path: Path):
    events = run_schedule(Schedule.random(4, faults=("drop", "reorder"))).events
    write_per_node_logs(tmp_path, events, keep={1: 40})
    old = time.time() - 3600
    for f in tmp_path.rglob("events.jsonl"):
        os.utime(f, (old, old))
    merged, notes, _ = load_logs(tmp_path)
    assert notes == []
    assert not check(merged).ok  # a receive of a message no log sends: reported, not hidden
