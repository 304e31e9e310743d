"""The PBFT store checked against ``pbft`` by trace refinement, with its clients' histories
checked for linearizability: runs with every fault family and every Byzantine strategy
conform, and each deliberate bug is caught, shrunk and replayable."""

from __future__ import annotations

import re
import shlex
from dataclasses import replace

import pytest

from protospec.explorer.cli.main import main
from protospec.explorer.conformance import check_events, history_problems, lookup
from protospec.impl.pbft.byzantine import STRATEGIES
from protospec.impl.pbft.core import BUGS
from protospec.impl.pbft.sim import PbftSchedule, check_run, random_schedule, run_schedule

TARGET = lookup("pbft")


def test_simulated_runs_with_every_fault_family_and_liar_conform_and_are_linearizable(capsys):
    assert main(["conform", "pbft", "--runs", "10", "--seed", "300"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("10 simulated runs (seeds 300..309; faults: drop, duplicate, reorder, "
                          "partition, crash, torn): every event is a step of the spec pbft")
    assert "the clients' histories of 10 runs are linearizable" in out
    assert "agreement, validity" in out


@pytest.mark.slow
def test_200_simulated_runs_with_every_fault_family_and_liar_conform(capsys):
    assert main(["conform", "pbft", "--runs", "200"]) == 0


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_each_byzantine_strategy_alone_leaves_the_correct_replicas_conforming(strategy):
    for seed in range(3):
        schedule = random_schedule(seed, strategies=(strategy,))
        assert [s for _, s in schedule.byzantine] == [strategy]
        sim = TARGET.run(schedule)
        result = check_events(TARGET, 4, None, sim.events)
        assert result.ok, result.failure
        assert sim.problems == [] and history_problems(sim) == []


def test_the_forgers_messages_are_dropped_by_authentication():
    schedule = replace(random_schedule(4, strategies=("forger",), faults=()),
                       byzantine=((4, "forger"),))
    r = run_schedule(schedule)
    assert r.facts["forged_dropped"] > 0
    assert r.acked == len(schedule.ops)  # and the forgeries cost no request


def test_with_f_2_seven_replicas_survive_two_liars():
    schedule = random_schedule(1, nodes=7, faults=("drop", "reorder"))
    assert len(schedule.byzantine) == 2
    sim = TARGET.run(schedule)
    assert check_events(TARGET, 7, None, sim.events).ok
    assert sim.problems == [] and history_problems(sim) == []
    assert sim.facts["acked"] > 0


@pytest.mark.parametrize("bug", BUGS)
def test_each_bug_is_caught_shrunk_and_its_replay_fails_the_same_way(bug, capsys):
    assert main(["conform", "pbft", "--runs", "200", "--bug", bug]) == 1
    out = capsys.readouterr().out
    assert "Shrunk to:" in out
    assert "is not a step of the spec pbft" in out or "not linearizable" in out
    replay = next(line for line in out.splitlines() if line.startswith("Replay: "))
    assert main(shlex.split(replay.removeprefix("Replay: protospec "))) == 1
    first = re.search(r"Event \d+ \(node \d, t=\d+\)|not linearizable", out).group(0)
    assert first in capsys.readouterr().out


@pytest.mark.parametrize("bug", ["quorum_2f", "new_primary_ignores_certificates"])
def test_against_the_variant_with_the_same_mistake_the_bug_breaks_agreement(bug, capsys):
    """The spec has these two mistakes as variants: against them every step of the buggy
    replicas conforms (so the failure above is the bug, not a mapping artefact), and the
    spec's own invariant, evaluated on the states the log reaches, catches the consequence."""
    assert main(["conform", "pbft", "--runs", "30", "--no-shrink", "--bug", bug,
                 "--variant", bug]) == 1
    out = capsys.readouterr().out
    assert "Invariant agreement violated by the spec state reached at event" in out
    assert "is not a step of the spec" not in out


def test_a_run_is_a_pure_function_of_its_schedule():
    s = random_schedule(7)
    assert run_schedule(s).events == run_schedule(PbftSchedule.from_json(s.to_json())).events


def test_a_schedule_naming_more_liars_than_f_is_refused():
    s = replace(random_schedule(0), byzantine=((1, "silent"), (2, "forger")))
    with pytest.raises(ValueError, match="at most f=1"):
        TARGET.parse_schedule(s.to_json())


def test_correct_replicas_execute_one_sequence_under_an_equivocating_primary():
    r = run_schedule(random_schedule(0, strategies=("equivocating_primary",)))
    assert r.schedule.byzantine == ((1, "equivocating_primary"),)
    assert r.facts["view_changes"] > 0 and check_run(r) == []


def test_the_chart_of_a_forger_run_shows_each_forgery_and_the_drops_it_caused():
    from protospec.impl.pbft.chart import chart, demo_schedule

    schedule = demo_schedule("forger")
    r = run_schedule(schedule)
    text = chart(r.events, 4, dict(schedule.byzantine), rows=1000)
    forged = sum(e["action"] == "byzantine_forge" for e in r.events)
    assert forged > 0 and text.count("* forge ") == forged
    assert text.count("DROP forged") == r.facts["forged_dropped"]


def test_a_replica_count_that_is_not_3f_plus_1_is_bad_input(capsys):
    assert main(["conform", "pbft", "--nodes", "5", "--runs", "1"]) == 2
    assert "n = 3f+1" in capsys.readouterr().err
