"""Two-phase commit checked against its spec by trace refinement: correct runs conform under
every fault family, and each deliberate bug is caught, shrunk and replayable."""

from __future__ import annotations

import re
import shlex

import pytest
from protospec.explorer.cli.main import main
from protospec.explorer.conformance import check_events, lookup
from protospec.impl.runtime.sim import Fault, Schedule
from protospec.impl.two_phase_commit.core import BUGS
from protospec.impl.two_phase_commit.sim import check_run, random_schedule, run_schedule

TARGET = lookup("two_phase_commit")


def test_200_simulated_runs_with_every_fault_family_conform(capsys):
    assert main(["conform", "two_phase_commit", "--runs", "200"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("200 simulated runs (seeds 0..199; faults: drop, duplicate, reorder, "
                          "partition, crash, torn): every event is a step of the spec "
                          "two_phase_commit")
    assert "Properties checked on every spec state: type_ok, atomicity." in out


def test_bugs_lists_the_two_switches(capsys):
    assert main(["conform", "two_phase_commit", "--bugs"]) == 0
    assert capsys.readouterr().out.split() == ["tm_commits_early", "rm_forgets_prepared"]


@pytest.mark.parametrize("bug", BUGS)
def test_each_bug_is_caught_shrunk_and_its_replay_fails_the_same_way(bug, capsys):
    assert main(["conform", "two_phase_commit", "--runs", "200", "--bug", bug]) == 1
    out = capsys.readouterr().out
    assert "Shrunk to:" in out and "is not a step of the spec two_phase_commit" in out
    shrunk = re.search(r"Shrunk to: \d+ participants \+ TM, \d+ ms, (\d+) client ops", out)
    assert shrunk and int(shrunk.group(1)) <= 3
    replay = next(line for line in out.splitlines() if line.startswith("Replay: "))
    assert main(shlex.split(replay.removeprefix("Replay: protospec "))) == 1
    event = re.search(r"Event \d+ \(transaction [^)]*\)", out).group(0)
    assert event in capsys.readouterr().out


def test_against_the_variant_with_the_same_mistake_early_commits_break_atomicity(capsys):
    """The early commit is the spec's tm_commits_early variant: against it every step
    conforms, and the spec's atomicity invariant catches what the bug does to participants."""
    assert main(["conform", "two_phase_commit", "--runs", "10", "--no-shrink", "--bug",
                 "tm_commits_early", "--variant", "tm_commits_early"]) == 1
    out = capsys.readouterr().out
    assert "Invariant atomicity violated by the spec state reached at event" in out
    assert "is not a step of the spec" not in out


def test_a_run_is_a_pure_function_of_its_schedule():
    s = random_schedule(7)
    assert run_schedule(s).events == run_schedule(s).events


def test_a_coordinator_crashing_between_logging_and_sending_its_decision_conforms():
    # Crash the TM at its first durable decision (after the fsync, before logging or sending).
    s = Schedule(nodes=3, duration_ms=1500, ops=((100, 1, "k0", "v1"),),
                 faults=(Fault(0, "crash_unlogged", 1), Fault(600, "restart", 1)))
    r = run_schedule(s)
    assert r.outcomes == {"c1.1": "committed"}
    assert r.facts["crashes"] == 1 and not check_run(r)
    result = check_events(TARGET, 3, None, r.events)
    assert result.ok and result.hidden_steps >= 1  # the lost decision was inferred


def test_an_event_log_edited_to_commit_without_a_vote_is_rejected():
    events = run_schedule(random_schedule(1, faults=(), ops=3)).events
    for ev in events:  # the TM "forgets" it ever received node 4's vote
        if ev["action"] == "tm_rcv_prepared" and ev["recv"]["src"] == 4:
            ev["action"] = "tm_abort"
            break
    assert not check_events(TARGET, 3, None, events).ok


def test_participants_commit_together_and_clients_hear_the_logged_outcome():
    r = run_schedule(random_schedule(11, faults=("crash", "drop")))
    assert r.outcomes and not check_run(r)
    assert {"committed", "aborted"} >= set(r.outcomes.values())
