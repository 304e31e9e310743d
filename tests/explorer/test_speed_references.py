"""The hand-written references of tests/bench/speed_bench.py explore the same models as the
specs: same distinct-state counts, same verdicts. Without this the yardstick of issue 23 could
drift (a reference that misses transitions would look fast)."""

from __future__ import annotations

import pytest

from protospec import check
from protospec.explorer.loader import load_spec
from tests.bench import reference_paxos, reference_twophase


def protospec_distinct(name: str, **params: object) -> int:
    spec = load_spec(name)(**params)
    spec.restrict_temporal([])
    result = check(spec, liveness=False)
    assert result.ok and result.stats.complete
    return result.stats.distinct_states


@pytest.mark.parametrize("rms", [3, 4, 5])
def test_reference_twophase_reaches_the_states_the_spec_reaches(rms: int) -> None:
    distinct, _, violated = reference_twophase.run(rms)
    assert violated is None
    assert distinct == protospec_distinct("two_phase_commit", rms=rms)


def test_reference_twophase_matches_tlc_for_three_rms() -> None:
    assert reference_twophase.run(3)[0] == 288  # TLC on TwoPhase.tla


@pytest.mark.parametrize("ballots", [1, 2])
def test_reference_paxos_reaches_the_states_the_spec_reaches(ballots: int) -> None:
    distinct, _, violated = reference_paxos.run(ballots)
    assert violated is None
    assert distinct == protospec_distinct("paxos", ballots=ballots)


def test_reference_paxos_matches_tlc_for_two_ballots() -> None:
    assert reference_paxos.run(2)[0] == 3921  # TLC on Paxos.tla, 3 acceptors, 2 values


def test_reference_invariants_fail_on_a_broken_state() -> None:
    """The references really check their invariants (a state TCConsistent forbids fails)."""
    _, _, invariants = reference_twophase.model(3)
    broken = ((2, 3, 0), 1, frozenset(), frozenset({-1, -2}))  # committed and aborted RMs
    assert [name for name, inv in invariants if not inv(broken)] == ["atomicity"]
