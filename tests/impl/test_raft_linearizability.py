"""The Raft KV store's client histories, checked for linearizability (issue 11, point 6).

The simulator records what each client saw (invocation, completion ``ok`` / ``info``) in the
JSON-lines format of :mod:`explorer.history`; the kv model checks each key as a register.
A correct cluster's histories are linearizable under every fault family; the
``stale_leader_reads`` bug (a leader answers gets from its own state machine, with no log entry,
read index or lease) is invisible to trace refinement but gives a non-linearizable history as
soon as a partition cuts the old leader off while a client keeps reading from it.
"""

from __future__ import annotations

import json

import pytest
from protospec.explorer.cli.main import main
from protospec.explorer.history import (
    Verdict,
    check_linearizable,
    get_model,
    minimal_window,
    parse_history,
)
from protospec.explorer.history.render import Picture, render_text
from protospec.impl.raft.sim import (
    FAULT_KINDS,
    Fault,
    Op,
    Schedule,
    check_run,
    history_lines,
    run_schedule,
    shrink,
)

KV = get_model("kv")

#: Seeded runs with every fault family (drop, duplicate, reorder, partition, crash, torn), 40
#: client operations each: about 4 s for all of them (simulation included).
RUNS = 200
OPS = 40


def _check(result):
    return check_linearizable(parse_history(history_lines(result)), KV, timeout=30)


def test_the_history_records_invocations_and_completions_in_the_kv_format():
    r = run_schedule(Schedule.random(3, ops=20))
    events = [json.loads(line) for line in history_lines(r)]
    invokes = [e for e in events if e["type"] == "invoke"]
    oks = [e for e in events if e["type"] == "ok"]
    infos = [e for e in events if e["type"] == "info"]
    assert len(invokes) == len(oks) + len(infos)
    assert len(oks) == len(r.acked) and len(infos) <= r.unacked
    assert {e["f"] for e in events} <= {"read", "write"}
    assert all(isinstance(e["value"], list) and len(e["value"]) == 2 for e in events)
    # Each client is sequential: it invokes again only after its previous operation ended.
    open_ops: dict[int, bool] = {}
    for e in events:
        if e["type"] == "invoke":
            assert not open_ops.get(e["process"])
        open_ops[e["process"]] = e["type"] == "invoke"
    # With virtual times the (coarser) order gives the same verdict.
    timed = parse_history(history_lines(r, times=True))
    assert check_linearizable(timed, KV).verdict is Verdict.VALID


def test_recording_the_history_changes_nothing_else():
    a = run_schedule(Schedule.random(11, ops=30))
    b = run_schedule(Schedule.random(11, ops=30))
    assert a.events == b.events and a.history == b.history and a.acked == b.acked


def test_client_histories_of_seeded_runs_with_faults_are_all_linearizable():
    ops = 0
    for seed in range(RUNS):
        r = run_schedule(Schedule.random(seed, faults=FAULT_KINDS, ops=OPS))
        assert check_run(r) == []
        result = _check(r)
        assert result.verdict is Verdict.VALID, f"seed {seed}: {result.verdict}"
        ops += result.operations
    assert ops > RUNS * OPS * 0.8  # most operations were invoked, and checked


# -- the stale-read bug ----------------------------------------------------------------------

PARTITION_MS = 1000
HEAL_MS = 2200


def _leader_at(seed: int, t: int) -> int:
    """The node that leads at ``t`` ms in the fault-free run of ``seed``.

    A run is a pure function of its schedule, and a fault scheduled at ``t`` changes nothing
    before ``t``, so this is also the leader just before the partition below.
    """
    probe = run_schedule(Schedule(seed=seed, duration_ms=t))
    return [e["n"] for e in probe.events if e["action"] == "become_leader"][-1]


def stale_read_schedule(seed: int, bug: str | None = "stale_leader_reads") -> Schedule:
    """Client 1 reads k0 every 50 ms; client 2 writes it every 200 ms; from 1000 ms to 2200 ms
    a partition cuts the leader of the moment off from the other two nodes. Client 1 keeps
    asking the old leader (which still believes it leads); client 2's writes time out there and
    go to the new leader of the majority."""
    old = _leader_at(seed, PARTITION_MS)
    others = tuple(n for n in (1, 2, 3) if n != old)
    ops = [Op(t, 1, "get", "k0") for t in range(200, 2800, 50)]
    ops += [Op(t, 2, "put", "k0", f"v{i}") for i, t in enumerate(range(300, 2800, 200))]
    return Schedule(seed=seed, duration_ms=3000,
                    faults=(Fault(PARTITION_MS, "partition", ((old,), others)),
                            Fault(HEAL_MS, "heal")),
                    ops=tuple(sorted(ops, key=lambda o: (o.at_ms, o.client))), bug=bug)


#: Seeds tried for the bug; in practice the first one already fails (all of 0..9 do).
STALE_SEEDS = 10


@pytest.mark.parametrize("seed", range(3))
def test_without_the_bug_the_partition_schedule_is_linearizable(seed):
    r = run_schedule(stale_read_schedule(seed, bug=None))
    assert check_run(r) == []
    assert _check(r).verdict is Verdict.VALID


def _first_failing_seed():
    for seed in range(STALE_SEEDS):
        schedule = stale_read_schedule(seed)
        r = run_schedule(schedule)
        result = _check(r)
        if result.verdict is Verdict.INVALID:
            return seed, schedule, r, result
    pytest.fail(f"no seed in 0..{STALE_SEEDS - 1} gave a non-linearizable history")


def test_stale_leader_reads_give_a_non_linearizable_history_caught_and_drawn(tmp_path, capsys):
    seed, _, r, result = _first_failing_seed()
    assert seed < STALE_SEEDS
    # The bug is invisible to the implementation's own check (the reads are not in the log)...
    assert check_run(r) == []
    assert any(a.get("local") for a in r.acked)
    # ... but not to the linearizability check: a read returned a value overwritten by a write
    # that had completed before the read began.
    assert result.part == "k0"
    window = minimal_window(result, timeout=10)
    assert window.ops and any(o.f == "read" for o in window.ops)
    text = render_text(Picture(window.ops, result.part_model, title="stale read",
                               furthest=window.furthest,
                               starts=window.starts if window.cut else None,
                               optional=window.optional))
    assert "stuck" in text
    # The CLI says the same, and draws it.
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(history_lines(r)) + "\n")
    svg = tmp_path / "window.svg"
    assert main(["linearizable", str(path), "--model", "kv", "--render", str(svg)]) == 1
    assert "Not linearizable" in capsys.readouterr().out
    assert svg.read_text().lstrip().startswith("<")


def test_a_failing_stale_read_schedule_shrinks_and_still_fails():
    _, schedule, _, _ = _first_failing_seed()

    def fails(s: Schedule) -> int | None:
        r = run_schedule(s)
        if not r.history or _check(r).verdict is not Verdict.INVALID:
            return None
        return r.history[-1]["time"]

    small = shrink(schedule, fails, max_attempts=60)
    assert fails(small) is not None
    assert len(small.ops) < len(schedule.ops)
    print(f"shrunk from {len(schedule.ops)} ops to {len(small.ops)}, faults "
          f"{[(f.at_ms, f.kind) for f in small.faults]}, {small.duration_ms} ms")
    # The trace refinement of the same run finds nothing wrong: only the client history shows it.
    assert check_run(run_schedule(small)) == []
    assert small.bug == "stale_leader_reads"
