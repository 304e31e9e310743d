"""The Multi-Paxos store checked against ``multi_paxos`` by trace refinement, with its clients'
histories checked for linearizability: correct runs conform under every fault family, and each
deliberate bug is caught, shrunk and replayable."""

from __future__ import annotations

import json
import re
import shlex

import pytest
from protospec.explorer.cli.main import main
from protospec.explorer.conformance import check_events, lookup
from protospec.explorer.history import Verdict, check_linearizable, get_model, parse_history
from protospec.impl.paxos.core import BUGS
from protospec.impl.paxos.sim import check_run, random_schedule, run_schedule
from protospec.impl.runtime.sim import Fault, Schedule

TARGET = lookup("multi_paxos")


def test_simulated_runs_with_every_fault_family_conform_and_are_linearizable(capsys):
    assert main(["conform", "multi_paxos", "--runs", "15", "--seed", "100"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("15 simulated runs (seeds 100..114; faults: drop, duplicate, reorder, "
                          "partition, crash, torn): every event is a step of the spec "
                          "multi_paxos")
    assert "the clients' histories of 15 runs are linearizable" in out
    assert "slot_agreement, learned_prefixes_agree" in out


@pytest.mark.slow
def test_200_simulated_runs_with_every_fault_family_conform(capsys):
    assert main(["conform", "multi_paxos", "--runs", "200"]) == 0


@pytest.mark.parametrize("bug", BUGS)
def test_each_bug_is_caught_shrunk_and_its_replay_fails_the_same_way(bug, capsys):
    assert main(["conform", "multi_paxos", "--runs", "200", "--bug", bug]) == 1
    out = capsys.readouterr().out
    assert "Shrunk to:" in out and "is not a step of the spec multi_paxos" in out
    replay = next(line for line in out.splitlines() if line.startswith("Replay: "))
    assert main(shlex.split(replay.removeprefix("Replay: protospec "))) == 1
    event = re.search(r"Event \d+ \(node \d, t=\d+\)", out).group(0)
    assert event in capsys.readouterr().out


def test_against_the_variant_with_the_same_mistake_the_bug_breaks_slot_agreement(capsys):
    """The bug is the spec's leader_skips_reproposal variant: against it every step conforms
    (so the refinement failure above is the bug, not a mapping artefact), and the spec's own
    invariant, evaluated on the states the log reaches, catches the consequence."""
    assert main(["conform", "multi_paxos", "--runs", "10", "--no-shrink", "--bug",
                 "proposer_ignores_phase1_values", "--variant", "leader_skips_reproposal"]) == 1
    out = capsys.readouterr().out
    assert "Invariant slot_agreement violated by the spec state reached at event" in out
    assert "is not a step of the spec" not in out


def test_a_run_is_a_pure_function_of_its_schedule():
    s = random_schedule(5)
    assert run_schedule(s).events == run_schedule(s).events


def test_a_new_leader_reproposes_what_a_majority_accepted():
    # Reference: Paxos Made Simple, section 3: the new leader learns, from phase 1, the
    # commands it must propose again. Node 1 leads ballot 0 and is killed after its writes.
    s = Schedule(nodes=3, duration_ms=2000, ops=((100, 1, "put", "a", "1"),
                                                 (120, 1, "put", "b", "2"),
                                                 (900, 2, "get", "a", None)),
                 faults=(Fault(500, "crash", 1),))
    r = run_schedule(s)
    assert not check_run(r)
    assert any(e["action"] == "become_leader" and e["forced"] for e in r.events)
    assert [a["result"] for a in r.acked if a["op"] == "get"] == ["1"]


def test_the_clients_history_of_a_faulty_run_is_linearizable():
    r = run_schedule(random_schedule(21))
    lines = [json.dumps(e) for e in r.history]
    assert check_linearizable(parse_history(lines), get_model("kv")).verdict is Verdict.VALID


def test_an_event_log_edited_to_vote_below_a_promise_is_rejected():
    events = run_schedule(random_schedule(2)).events
    promised = next(e for e in events if e["action"] == "phase1b")
    later = next(e for e in events[events.index(promised):]
                 if e["action"] == "phase2b" and e["n"] == promised["n"])
    assert later["b"] >= promised["b"]
    later["b"] = promised["b"] - 1
    assert not check_events(TARGET, 3, None, events).ok
