"""``protospec conform`` and ``protospec cluster``: outcomes, replay commands, usage errors."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from protospec.explorer.cli.main import main
from protospec.explorer.itf import read_trace
from protospec.impl.raft.sim import Schedule, run_schedule


def test_simulated_runs_that_conform_exit_0_and_report_events_per_second(capsys):
    assert main(["conform", "raft", "--runs", "3", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 simulated runs (seeds 5..7; faults: drop, duplicate, reorder, "
                          "partition, crash, torn, compact): every event is a step of the "
                          "spec raft")
    assert re.search(r"[\d,]+ events validated in [\d.]+ s \([\d,]+ events/s\)", out)
    assert "Properties checked on every spec state: type_ok, election_safety" in out


def test_a_buggy_implementation_fails_with_a_shrunk_schedule_that_replays(capsys, tmp_path):
    trace = tmp_path / "trace.itf.json"
    assert main(["conform", "raft", "--runs", "5", "--bug", "commit_old_term",
                 "--trace-out", str(trace)]) == 1
    out = capsys.readouterr().out
    assert "Run 1 (seed 0) does not conform" in out and "Shrunk to:" in out
    assert "is not a step of the spec raft" in out
    assert "tried advance_commit_index(i=1): advance_commit_index is not enabled" in out
    replay = next(line for line in out.splitlines() if line.startswith("Replay: "))
    argv = shlex.split(replay.removeprefix("Replay: protospec "))
    assert main(argv) == 1  # the replay command fails the same way
    again = capsys.readouterr().out
    event = re.search(r"Event \d+ \(node \d, t=\d+\)", out).group(0)
    assert event in again
    steps, meta = read_trace(trace)
    assert len(steps) > 10 and meta.get("violation") == "refinement"


def test_without_a_target_conform_lists_every_registered_implementation(capsys):
    from protospec.explorer.conformance import registered

    assert main(["conform"]) == 0
    out = capsys.readouterr().out
    names = [t.name for t in registered()]
    assert "raft" in names
    for name in names:
        assert f"{name}: " in out


def test_bugs_lists_one_bug_switch_per_line(capsys):
    from protospec.explorer.conformance import lookup

    assert main(["conform", "raft", "--bugs"]) == 0
    assert capsys.readouterr().out.splitlines() == list(lookup("raft").bugs())


def test_json_output_carries_the_figures(capsys):
    assert main(["conform", "raft", "--runs", "2", "--faults", "none", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] and data["runs"] == 2 and data["events"] > 0 and data["events_per_s"] > 0


def test_logs_of_a_cluster_are_checked_from_their_folder(capsys, tmp_path: Path):
    events = run_schedule(Schedule.random(2, faults=("drop", "partition", "crash"))).events
    for n in (1, 2, 3):
        (tmp_path / f"n{n}").mkdir()
        (tmp_path / f"n{n}" / "events.jsonl").write_text(
            "".join(json.dumps(e) + "\n" for e in events if e["n"] == n))
    assert main(["conform", "raft", "--logs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"conform to the spec raft: {sum(e['n'] > 0 for e in events):,} events from 3 nodes" \
        in out


def test_a_log_the_mapping_cannot_read_is_a_usage_error_naming_the_event(capsys, tmp_path):
    (tmp_path / "events.jsonl").write_text('{"n": 1, "action": "timeout"}\n')
    assert main(["conform", "raft", "--logs", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "event 0 (node 1, line 1 of its log): the mapping cannot read it (KeyError: 'state')" \
        in err


@pytest.mark.parametrize(("argv", "message"), [
    (["conform", "no_such_protocol"], "no implementation registered for 'no_such_protocol'"),
    (["conform", "--bugs"], "--bugs needs a TARGET"),
    (["conform", "raft", "--bug", "nope"], "raft has no bug 'nope'"),
    (["conform", "raft", "--faults", "meteor"], "unknown fault family meteor"),
    (["conform", "raft", "--schedule", "{bad"], "--schedule: not a schedule"),
    (["conform", "raft", "--logs", "/no/such/folder"], "does not exist"),
    (["conform", "raft", "--variant", "nope"], "has no variant 'nope'"),
    (["conform", "raft", "--runs", "0"], "--runs must be a positive number"),
    (["cluster", "raft", "--nodes", "0"], "--nodes must be between 1 and 9"),
])
def test_usage_errors_exit_2_with_one_paragraph(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
