"""bully_election: Garcia-Molina's bully algorithm (IEEE ToC 1982, section IV) with the textbook
messages election / answer / coordinator (Coulouris et al., section 15.3.1)."""

from __future__ import annotations

from protospec.specs.bully_election import NONE, BullyElection, Kind, Msg, State, Status


def initial(spec: BullyElection) -> State:
    return next(iter(spec.init()))


def test_the_next_highest_process_bullies_its_way_in_after_the_leader_crashes() -> None:
    spec = BullyElection()
    s = spec.step(initial(spec), "crash", p=2)
    s = spec.step(s, "detect_leader_failure", p=0)
    assert s.msgs == {Msg(Kind.ELECTION, 0, 1)}  # nothing is sent to the crashed 2
    assert spec.step(s, "answer_timeout", p=0) is None  # 1 has not answered yet
    s = spec.step(s, "receive_election", m=Msg(Kind.ELECTION, 0, 1))
    assert s.status[1] is Status.ELECTION  # 1 answers and holds its own election
    s = spec.step(s, "receive_answer", m=Msg(Kind.ANSWER, 1, 0))
    assert s.status[0] is Status.WAITING
    s = spec.step(s, "answer_timeout", p=1)  # nobody above 1 is live
    s = spec.step(s, "receive_coordinator", m=Msg(Kind.COORDINATOR, 1, 0))
    assert s.leader == (1, 1, NONE) and not s.msgs
    assert spec.check_state(s) == []


def test_a_waiting_process_starts_over_when_its_answerer_crashes() -> None:
    spec = BullyElection()
    s = spec.step(initial(spec), "crash", p=2)
    s = spec.step(s, "detect_leader_failure", p=0)
    s = spec.step(s, "receive_election", m=Msg(Kind.ELECTION, 0, 1))
    s = spec.step(s, "receive_answer", m=Msg(Kind.ANSWER, 1, 0))
    s = spec.step(s, "crash", p=1)
    s = spec.step(s, "coordinator_timeout", p=0)
    assert s.status[0] is Status.ELECTION
    s = spec.step(s, "answer_timeout", p=0)
    assert s.leader[0] == 0 and s.elected_round[0] == 2


def test_recovery_waits_until_no_election_is_under_way() -> None:
    spec = BullyElection()
    s = spec.step(initial(spec), "crash", p=2)
    s = spec.step(s, "detect_leader_failure", p=0)
    assert spec.step(s, "recover", p=2) is None


def test_one_leader_per_round_is_violated_by_two_declarations_in_one_round() -> None:
    spec = BullyElection()
    s = initial(spec)._replace(leader=(1, 1, 2), elected_round=(NONE, 0, 0))
    assert "one_leader_per_round" in spec.check_state(s)


def test_leader_is_highest_live_is_violated_by_a_lower_process_declaring() -> None:
    spec = BullyElection()
    s = initial(spec)._replace(crashes=1, elected_round=(NONE, 1, NONE))
    assert spec.check_state(s) == ["leader_is_highest_live"]


def test_agreement_is_violated_by_a_settled_process_following_a_lower_live_leader() -> None:
    spec = BullyElection()
    s = initial(spec)._replace(leader=(1, 2, 2))
    assert spec.check_state(s) == ["agreement"]
    # While messages are in flight the election is not over: no verdict yet.
    busy = s._replace(msgs=frozenset({Msg(Kind.COORDINATOR, 2, 0)}))
    assert spec.check_state(busy) == []
