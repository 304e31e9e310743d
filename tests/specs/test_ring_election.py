"""ring_election: Chang and Roberts (CACM 1979), with participant flags as in Coulouris et al.,
section 15.3.1."""

from __future__ import annotations

from protospec.specs.ring_election import NONE, Kind, Msg, RingElection, State


def initial(spec: RingElection) -> State:
    return next(iter(spec.init()))


def run_to_quiet(spec: RingElection, s: State) -> State:
    """Deliver messages (always the first in order) until none is in flight."""
    while s.msgs:
        m = min(s.msgs)
        action = "receive_election" if m.kind is Kind.ELECTION else "receive_elected"
        s = spec.step(s, action, m=m)
    return s


def test_the_largest_id_wins_whoever_starts() -> None:
    spec = RingElection()  # ring 1 -> 3 -> 0 -> 2 -> 1
    for starter in spec.P:
        s = run_to_quiet(spec, spec.step(initial(spec), "start_election", p=starter))
        assert s.leader == (3, 3, 3, 3)
        assert s.elected_round == (NONE, NONE, NONE, 0)
        assert not any(s.participant)


def test_a_participant_swallows_a_smaller_id() -> None:
    spec = RingElection()
    s = spec.step(initial(spec), "start_election", p=2)  # 2 sends election(2) to 1
    s = spec.step(s, "start_election", p=1)  # 1 sends election(1) to 3
    s = spec.step(s, "receive_election", m=Msg(Kind.ELECTION, 2, 1))  # 2 > 1: forwarded
    assert Msg(Kind.ELECTION, 2, 3) in s.msgs
    s = spec.step(s, "receive_election", m=Msg(Kind.ELECTION, 1, 3))  # 3 substitutes its id
    s = spec.step(s, "receive_election", m=Msg(Kind.ELECTION, 2, 3))  # 3 participates: swallowed
    assert s.msgs == {Msg(Kind.ELECTION, 3, 0)}


def test_the_ring_closes_over_a_crashed_process() -> None:
    spec = RingElection()
    s = run_to_quiet(spec, spec.step(initial(spec), "start_election", p=0))
    s = spec.step(s, "crash", p=3)
    s = run_to_quiet(spec, spec.step(s, "start_election", p=0))
    assert s.leader == (2, 2, 2, NONE)
    assert spec.check_state(s) == []


def test_one_leader_per_round_is_violated_by_two_elected_in_one_round() -> None:
    spec = RingElection()
    s = initial(spec)._replace(elected_round=(NONE, NONE, 0, 0), msgs=frozenset({
        Msg(Kind.ELECTED, 3, 0)}))
    assert "one_leader_per_round" in spec.check_state(s)


def test_leader_is_highest_live_is_violated_by_electing_a_smaller_id() -> None:
    spec = RingElection()
    s = initial(spec)._replace(elected_round=(NONE, NONE, 0, NONE),
                               msgs=frozenset({Msg(Kind.ELECTED, 2, 1)}))
    assert spec.check_state(s) == ["leader_is_highest_live"]


def test_agreement_is_violated_by_following_a_smaller_live_leader_when_quiet() -> None:
    spec = RingElection()
    s = initial(spec)._replace(leader=(3, 3, 2, 3))
    assert spec.check_state(s) == ["agreement"]
