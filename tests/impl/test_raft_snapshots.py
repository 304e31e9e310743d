"""Log compaction, InstallSnapshot and batched AppendEntries: in the core (one behaviour per
test, citing the Raft paper, section 7 and Figure 13), in the deterministic simulator, and in
the trace refinement that checks them against the Raft spec.

Seeds and counts pinned here were measured by running the simulator and the check.
"""

from __future__ import annotations

import copy
import random

from protospec.explorer.refinement import format_failure, refine
from protospec.impl.raft.core import (
    AppendEntriesRequest,
    AppendEntriesResponse,
    Config,
    Entry,
    InstallSnapshotRequest,
    RaftCore,
    snapshot_digest,
)
from protospec.impl.raft.kv import KVStore, encode_command
from protospec.impl.raft.sim import Fault, Op, Schedule, Simulation, check_run, run_schedule
from protospec.impl.raft.storage import Storage
from protospec.specs.raft import Entry as SpecEntry
from protospec.specs.raft import Raft
from protospec.specs.raft_refinement import RaftMapping
from tests.impl.test_raft_core import drain, elect

# -- the core ---------------------------------------------------------------------------------


def core(node: int = 1, n: int = 3, batch: int = 64, **kw) -> RaftCore:
    c = RaftCore(node, list(range(1, n + 1)), rng=random.Random(0),
                 config=Config(10, 3, max_batch_entries=batch), **kw)
    drain(c)
    return c


def ack(c: RaftCore, j: int, match: int) -> None:
    c.step(AppendEntriesResponse(f"{j}.0.{match}", c.current_term, j, c.id, True, match))


def appends_to(rd, j: int) -> list[AppendEntriesRequest]:
    return [m for m in rd.messages if isinstance(m, AppendEntriesRequest) and m.dst == j]


def test_a_leader_sends_the_entries_proposed_while_a_follower_was_busy_in_one_request():
    # Item 5 of the issue: batching. The follower has the no-op in flight; three commands
    # proposed meanwhile leave together once it acknowledges.
    c = core()
    elect(c)  # the no-op (index 1) went to both peers
    for cmd in ("a", "b", "c"):
        c.propose(cmd)
    assert appends_to(drain(c), 2) == []  # stop-and-wait: entry 1 is not yet acknowledged
    ack(c, 2, 1)
    (m,) = appends_to(drain(c), 2)
    assert (m.prev_log_index, [e.command for e in m.entries]) == (1, ["a", "b", "c"])


def test_commands_proposed_before_the_next_ready_leave_in_one_request():
    # Item 5 of the issue: the leader appends every pending command and sends them together.
    c = core()
    elect(c)
    ack(c, 2, 1)
    ack(c, 3, 1)
    drain(c)  # both followers hold the no-op: up to date
    for cmd in ("a", "b", "c"):
        c.propose(cmd)
    rd = drain(c)
    for j in (2, 3):
        (m,) = appends_to(rd, j)
        assert (m.prev_log_index, [e.command for e in m.entries]) == (1, ["a", "b", "c"])
    assert [e["action"] for e in rd.events] == ["client_request"] * 3 + ["append_entries"] * 2


def test_a_batch_is_capped_at_max_batch_entries():
    c = core(batch=2)
    elect(c)
    for cmd in "abcde":
        c.propose(cmd)
    drain(c)
    ack(c, 2, 1)
    (m,) = appends_to(drain(c), 2)
    assert [e.command for e in m.entries] == ["a", "b"]


def test_a_follower_appends_a_batch_and_replaces_only_from_the_first_conflict():
    # Figure 2, AppendEntries receiver rules 3-4, entry by entry.
    c = core(log=[Entry(1, "a"), Entry(1, "b"), Entry(1, "x")])
    c.step(AppendEntriesRequest("2.0.1", 2, 2, 1, 0, 0,
                                (Entry(1, "a"), Entry(1, "b"), Entry(2, "C"), Entry(2, "D")), 0))
    rd = drain(c)
    assert c.log == [Entry(1, "a"), Entry(1, "b"), Entry(2, "C"), Entry(2, "D")]
    assert rd.log_from == 3 and rd.messages[0].match_index == 4


def committed_leader(n_entries: int) -> RaftCore:
    """A leader of a 3-node cluster whose n entries (after its no-op) are committed."""
    c = core()
    elect(c)
    for k in range(n_entries):
        c.propose(f"c{k}")
    drain(c)
    ack(c, 2, n_entries + 1)
    drain(c)
    assert c.commit_index == n_entries + 1
    return c


def test_compaction_keeps_only_the_entries_after_the_snapshot():
    # Reference: section 7: the committed prefix is replaced by a snapshot.
    c = committed_leader(4)
    assert c.compact(3, {"state": 3})
    rd = drain(c)
    assert (c.snapshot_index, c.snapshot_term, c.last_index()) == (3, 2, 5)
    assert c.log == [Entry(2, "c2"), Entry(2, "c3")]
    assert rd.snapshot.index == 3 and not rd.snapshot.installed
    assert rd.log_from == 4 and rd.entries == tuple(c.log) and rd.hard_state == (2, 1)
    assert rd.events[0]["snapshot"] == [3, 2, snapshot_digest({"state": 3})]


def test_compaction_is_refused_beyond_what_is_applied_and_committed():
    c = committed_leader(2)
    c.propose("uncommitted")
    drain(c)
    assert not c.compact(4, {})  # entry 4 is not committed
    assert c.compact(3, {}) and not c.compact(3, {})  # nothing past the snapshot
    assert c.snapshot_index == 3


def test_a_follower_behind_the_snapshot_gets_install_snapshot_instead_of_entries():
    # Reference: section 7: "the leader must occasionally send snapshots to followers that lag
    # behind".
    c = committed_leader(4)
    c.compact(5, {"kv": 5})
    drain(c)
    # Node 3 never acknowledged the no-op: it rejects, and the entry before next_index is
    # compacted away.
    c.step(AppendEntriesResponse("3.0.1", c.current_term, 3, 1, False, 0))
    (m,) = [m for m in drain(c).messages if m.dst == 3]
    assert isinstance(m, InstallSnapshotRequest)
    assert (m.last_included_index, m.last_included_term, m.data) == (5, 2, {"kv": 5})


def test_a_snapshot_in_flight_is_not_sent_again_each_heartbeat_round():
    # With quiet heartbeats (the server's default) a lagging follower gets quiet keep-alives
    # while its snapshot travels, and the snapshot again only after an election timeout.
    c = RaftCore(1, [1, 2, 3], rng=random.Random(0),
                 config=Config(10, 3, quiet_heartbeats=True))
    drain(c)
    elect(c)
    c.propose("a")
    drain(c)
    ack(c, 2, 2)
    drain(c)
    c.compact(2, {"kv": 2})
    drain(c)
    c.step(AppendEntriesResponse("3.0.1", c.current_term, 3, 1, False, 0))
    sent = [type(m).__name__ for m in drain(c).messages if m.dst == 3]
    for _ in range(9):  # three heartbeat rounds, within one election timeout
        c.tick()
        sent += [type(m).__name__ for m in drain(c).messages if m.dst == 3]
    assert sent == ["InstallSnapshotRequest"] + ["AppendEntriesRequest"] * 3
    for _ in range(3):
        c.tick()
    assert [type(m).__name__ for m in drain(c).messages if m.dst == 3] == \
        ["InstallSnapshotRequest"]


def test_a_leader_restarted_from_its_snapshot_sends_it_only_once_it_has_committed_past_it():
    c = committed_leader(2)
    c.compact(3, {"kv": 3})
    rd = drain(c)
    restarted = core(current_term=2, voted_for=1, log=list(rd.entries),
                     snapshot=(3, 2, {"kv": 3}))
    elect(restarted)  # commit_index 0: the snapshot is not yet known committed in its view
    restarted.next_index[3] = 1
    restarted._append_entries(3)
    assert appends_to(drain(restarted), 3) == [] and restarted.commit_index == 0
    ack(restarted, 2, restarted.last_index())
    drain(restarted)
    restarted._append_entries(3)
    (m,) = [m for m in drain(restarted).messages if m.dst == 3]
    assert isinstance(m, InstallSnapshotRequest) and m.last_included_index == 3


def test_install_snapshot_replaces_a_log_without_its_last_entry():
    # Figure 13, receiver rule 7: discard the entire log; reset the state machine.
    c = core(log=[Entry(1, "a"), Entry(1, "stale")])
    c.step(InstallSnapshotRequest("2.0.1", 2, 2, 1, 5, 2, snapshot_digest({"kv": 1}), {"kv": 1}))
    rd = drain(c)
    assert (c.log, c.snapshot_index, c.commit_index, c.last_applied) == ([], 5, 5, 5)
    assert rd.snapshot.installed and rd.snapshot.data == {"kv": 1} and rd.committed == ()
    reply = rd.messages[0]
    assert isinstance(reply, AppendEntriesResponse) and (reply.success, reply.match_index) == \
        (True, 5)


def test_install_snapshot_keeps_the_entries_following_its_last_entry():
    # Figure 13, receiver rule 6.
    log = [Entry(1, "a"), Entry(1, "b"), Entry(2, "c")]
    c = core(log=log)
    c.step(InstallSnapshotRequest("2.0.1", 2, 2, 1, 2, 1, snapshot_digest({}), {}))
    rd = drain(c)
    assert c.log == log and c.snapshot_index == 0 and rd.snapshot is None
    assert c.commit_index == 2 and rd.committed == ((1, log[0]), (2, log[1]))


def test_install_snapshot_from_an_old_term_is_rejected():
    # Figure 13, receiver rule 1.
    c = core(current_term=3)
    c.step(InstallSnapshotRequest("2.0.1", 2, 2, 1, 5, 2, snapshot_digest({}), {}))
    rd = drain(c)
    assert rd.snapshot is None and rd.messages[0].success is False and c.snapshot_index == 0


def test_the_event_log_names_a_snapshot_by_its_digest_not_its_data():
    c = committed_leader(2)
    c.compact(3, {"big": "x" * 1000})
    drain(c)
    c.next_index[2] = 1
    c._append_entries(2)
    (ev,) = drain(c).events
    assert ev["action"] == "install_snapshot" and "data" not in ev["sent"][0]
    assert ev["sent"][0]["digest"] == snapshot_digest({"big": "x" * 1000})


# -- the simulator: real storage on a simulated disk, real state machines ----------------------


def puts(n: int, start_ms: int, client: int = 1, every_ms: int = 30) -> tuple[Op, ...]:
    return tuple(Op(start_ms + k * every_ms, client, "put", f"k{k % 7}", f"v{k}")
                 for k in range(n))


def first_leader(schedule: Schedule) -> int:
    r = run_schedule(schedule)
    return next(e["n"] for e in r.events if e["action"] == "become_leader")


def test_a_partitioned_follower_catches_up_by_install_snapshot_with_the_same_kv_state():
    base = Schedule(seed=3, nodes=3, duration_ms=3000, snapshot_every=4, ops=puts(1, 200))
    leader = first_leader(base)
    cut_off = leader % 3 + 1  # a follower
    rest = tuple(n for n in (1, 2, 3) if n != cut_off)
    schedule = Schedule(seed=3, nodes=3, duration_ms=3000, snapshot_every=4, batch=8,
                        ops=puts(30, 400),
                        faults=(Fault(300, "partition", ((cut_off,), rest)), Fault(1500, "heal")))
    sim = Simulation(schedule)
    r = sim.run()
    assert check_run(r) == []
    assert [a["node"] for a in r.installs] and {a["node"] for a in r.installs} == {cut_off}
    kvs = [sim.nodes[n].kv for n in (1, 2, 3)]
    assert all(kv.data == kvs[0].data and kv.applied == kvs[0].applied for kv in kvs)
    assert kvs[0].data == {f"k{k % 7}": f"v{k}" for k in range(30)}
    result = refine(RaftMapping(3), r.events)
    assert result.ok, format_failure(result)


def test_a_restart_after_compaction_recovers_from_snapshot_and_tail_losing_nothing_acked():
    # Every node crashes after it compacted (snapshot_every=3, 20 puts) and comes back from
    # its disk: the snapshot and the entries after it, nothing else.
    crashes = tuple(f for n in (1, 2, 3) for f in (Fault(1200 + 300 * n, "crash", n),
                                                    Fault(1350 + 300 * n, "restart", n)))
    schedule = Schedule(seed=5, nodes=3, duration_ms=3500, snapshot_every=3,
                        ops=puts(20, 200), faults=crashes)
    sim = Simulation(schedule)
    r = sim.run()
    restarts = [e for e in r.events if e["action"] == "restart" and "snapshot" in e]
    assert {e["n"] for e in restarts} == {1, 2, 3}
    assert all(len(e["log"]) < e["snapshot"][0] for e in restarts)  # the tail is short
    assert check_run(r) == [] and len(r.acked) == 20
    for n in (1, 2, 3):
        assert sim.nodes[n].kv.data == {f"k{k % 7}": f"v{k}" for k in range(20)}
    rec = Storage(sim.nodes[1].disk).recover()
    assert rec.snapshot is not None and len(rec.log) < sim.nodes[1].kv.applied
    result = refine(RaftMapping(3), r.events)
    assert result.ok, format_failure(result)


def test_random_runs_with_compaction_and_batches_conform_and_use_both():
    events = installs = batches = 0
    for seed in range(20):
        r = run_schedule(Schedule.random(seed))
        result = refine(RaftMapping(3), r.events, keep_trace=False)
        assert result.ok, f"seed {seed}:\n{format_failure(result)}"
        assert check_run(r) == [], f"seed {seed}"
        events += result.events
        installs += sum(e["action"] == "handle_install_snapshot_request" for e in r.events)
        batches += sum(e["action"] == "append_entries" and len(e["sent"][0]["entries"]) > 1
                       for e in r.events)
    assert events > 15_000 and installs > 50 and batches > 100


# -- the refinement mapping: what it checks of snapshots and batches ---------------------------


def a_run_with_snapshots():
    """The first seeded run that batches (every random schedule compacts)."""
    return run_schedule(next(s for s in map(Schedule.random, range(50)) if s.batch > 1))


def first(events, pred) -> int:
    return next(k for k, e in enumerate(events) if pred(e))


def test_a_snapshot_whose_contents_differ_from_the_committed_entries_is_caught():
    events = a_run_with_snapshots().events
    k = first(events, lambda e: e["action"] == "compact")
    bad = copy.deepcopy(events)
    bad[k]["snapshot"][2] = snapshot_digest({"data": {}, "sessions": {}})
    f = refine(RaftMapping(3), bad).failure
    assert f.event_index == k and "digest" in f.nearest.mismatches[0].what


def test_an_install_snapshot_naming_another_index_than_it_sends_is_caught():
    events = a_run_with_snapshots().events
    k = first(events, lambda e: e["action"] == "install_snapshot")
    bad = copy.deepcopy(events)
    bad[k]["sent"][0]["last_included_term"] += 1
    f = refine(RaftMapping(3), bad).failure
    assert f.event_index == k and "InstallSnapshot" in f.nearest.mismatches[0].what


def test_a_batch_whose_follower_logs_a_shorter_log_is_caught():
    events = a_run_with_snapshots().events
    k = first(events, lambda e: e["action"] == "handle_append_entries_request"
              and len(e["recv"]["entries"]) > 1 and e["sent"][0]["success"])
    bad = copy.deepcopy(events)
    bad[k]["state"]["log_len"] -= 1
    f = refine(RaftMapping(3), bad).failure
    assert f.event_index == k and any("log length" in m.what for m in f.nearest.mismatches)


def test_the_state_machine_digest_is_the_kv_stores_own():
    # The mapping replays the spec's entries through the real state machine: a snapshot taken
    # by KVStore after the same commands has the same digest.
    kv = KVStore()
    cmds = [encode_command("put", "a", "1", client="c", seq=1),
            encode_command("cas", "a", "2", client="c", seq=2, expect="1")]
    for k, cmd in enumerate(cmds, start=1):
        kv.apply(k, cmd)
    m = RaftMapping(3)
    spec_entries = tuple(SpecEntry(term=1, value=m.value(c)) for c in cmds)
    assert m.digest(spec_entries) == snapshot_digest(kv.snapshot_data())
    restored = KVStore.restore(kv.snapshot_data(), 2)
    assert (restored.data, restored.sessions, restored.applied) == (kv.data, kv.sessions, 2)


def test_the_built_in_raft_spec_has_none_of_the_extensions_actions():
    # The extension is only ever the mapping's: the built-in spec has none of its actions.
    names = {a.name for a in Raft.actions()}
    assert not names & {"append_entries_batch", "install_snapshot",
                        "handle_install_snapshot_request"}


# -- real processes over TCP on 127.0.0.1 ------------------------------------------------------


def test_a_restarted_node_catches_up_by_install_snapshot_over_tcp(tmp_path, capsys):
    from protospec.explorer.cli.main import main
    from protospec.impl.raft.client import Client
    from protospec.impl.raft.events import read_events
    from tests.impl.test_tcp_cluster import WAIT_S, Cluster, leader_of, wait_for

    cluster = Cluster(tmp_path, extra=("--snapshot-entries", "10"))
    client = Client(cluster.addrs, client_id="snap", timeout=WAIT_S, request_timeout=0.5)
    try:
        for n in (1, 2, 3):
            cluster.start(n)
        leader, _ = wait_for("a leader", lambda: leader_of(client, (1, 2, 3)))
        lagging = leader % 3 + 1
        cluster.kill(lagging)
        for k in range(40):
            client.put(f"k{k % 9}", f"v{k}")
        others = [n for n in (1, 2, 3) if n != lagging]
        wait_for("the others to compact", lambda: all(
            cluster.status(n).get("snapshot_index", 0) >= 30 for n in others))
        cluster.start(lagging)
        commit = cluster.status(leader)["commit"]
        wait_for("the restarted node to catch up", lambda: cluster.status(lagging).get(
            "applied", 0) >= commit)
        assert cluster.status(lagging)["snapshot_index"] >= 30
        for k in range(31, 40):
            assert client.get(f"k{k % 9}") == f"v{k}"
    finally:
        cluster.stop_all()
    events, _ = read_events(tmp_path / f"node{lagging}" / "events.jsonl")
    assert any(e["action"] == "handle_install_snapshot_request" for e in events)
    capsys.readouterr()
    assert main(["conform", "raft", "--logs", str(tmp_path)]) == 0
    assert "conform to the spec raft" in capsys.readouterr().out
