"""paxos: TLC's 3,921 states, Lamport's invariant, and the three mistakes that break Consistency.

Reference figure: TLC on Paxos.tla (tlaplus/Examples, specifications/Paxos) with 3 acceptors,
majority quorums, 2 values and ballots {0, 1}, no symmetry, finds 3,921 distinct states at
depth 17 (TLC counts the initial state as depth 1; protospec counts steps, hence 16).
"""

from __future__ import annotations

import pytest

from protospec.explorer import UsageError, check
from protospec.specs.paxos import NONE, Msg1a, Msg1b, Msg2a, Msg2b, Paxos, State
from tests.specs.catalogue_checks import assert_replays

N3 = (NONE,) * 3


def test_ballots_0_and_1_give_tlcs_3921_distinct_states_at_depth_16():
    result = check(Paxos())
    assert result.ok
    assert result.stats.distinct_states == 3921
    assert result.stats.depth == 16


@pytest.mark.slow
def test_ballots_0_to_2_give_185369_distinct_states_at_depth_24():
    result = check(Paxos(ballots=3))
    assert result.ok
    assert (result.stats.distinct_states, result.stats.depth) == (185369, 24)


def test_quorums_that_need_not_intersect_are_refused_by_the_correct_spec():
    with pytest.raises(UsageError, match="QuorumAssumption"):
        Paxos(quorum_size=1)


@pytest.mark.parametrize(("variant", "length"), [
    ("non_intersecting_quorums", 8),
    ("proposer_ignores_1b", 12),
    ("accept_below_promise", 12),
])
def test_each_variant_breaks_consistency_with_a_shortest_replayable_counterexample(
        variant, length):
    spec = Paxos.with_variant(variant)()
    spec.restrict_properties(invariants=["consistency"])  # as `--inv consistency`
    (v,) = check(spec).violations
    assert v.property == spec.variant_info.breaks == "consistency"
    assert len(v.trace) == length
    assert len(spec.chosen(v.trace.steps[-1].state)) == 2
    assert_replays(spec, v.trace)


@pytest.mark.parametrize(("variant", "first"), [
    ("non_intersecting_quorums", ("consistency", 8)),
    ("proposer_ignores_1b", ("msg_inv", 9)),
    ("accept_below_promise", ("msg_inv", 7)),
])
def test_lamports_invariant_fails_before_consistency_does(variant, first):
    # Inv implies Consistency only when quorums intersect, so with 1-acceptor quorums
    # Consistency is the first (and only) property to fail.
    (v,) = check(Paxos.with_variant(variant)()).violations
    assert (v.property, len(v.trace)) == first


def test_a_leader_must_propose_the_value_of_the_highest_reported_vote():
    # Paxos Made Simple, section 2.2: the proposal's value is that of the highest-numbered
    # proposal among the responses. Acceptor 0 voted for value 1 in ballot 0.
    spec = Paxos()
    s = State(max_bal=(1, 1, NONE), max_vbal=(0, NONE, NONE), max_val=(1, NONE, NONE),
              msgs=frozenset({Msg1a(0), Msg2a(0, 1), Msg2b(0, 0, 1), Msg1a(1),
                              Msg1b(0, 1, 0, 1), Msg1b(1, 1, NONE, NONE)}))
    assert spec.step(s, "phase2a", b=1, v=0) is None
    assert Msg2a(1, 1) in spec.step(s, "phase2a", b=1, v=1).msgs


def test_an_acceptor_does_not_vote_below_its_promise():
    spec = Paxos()
    s = State(max_bal=(1, NONE, NONE), max_vbal=N3, max_val=N3,
              msgs=frozenset({Msg1a(1), Msg1b(0, 1, NONE, NONE), Msg2a(0, 0)}))
    assert spec.step(s, "phase2b", a=0, b=0, v=0) is None
    assert spec.step(s, "phase2b", a=1, b=0, v=0) is not None


# -- each invariant fails on a hand-built state ------------------------------------------------


def test_consistency_fails_when_two_values_are_chosen():
    spec = Paxos()
    votes = {Msg2b(0, 0, 0), Msg2b(1, 0, 0), Msg2b(1, 1, 1), Msg2b(2, 1, 1)}
    s = State(max_bal=(0, 1, 1), max_vbal=(0, 1, 1), max_val=(0, 1, 1),
              msgs=frozenset({Msg2a(0, 0), Msg2a(1, 1), *votes}))
    spec.restrict_properties(invariants=["consistency"])
    assert spec.check_state(s) == ["consistency"]


def test_type_ok_fails_on_a_vote_above_the_promise():
    spec = Paxos()
    s = State(max_bal=(0, NONE, NONE), max_vbal=(1, NONE, NONE), max_val=(0, NONE, NONE),
              msgs=frozenset())
    spec.restrict_properties(invariants=["type_ok"])
    assert spec.check_state(s) == ["type_ok"]


def test_msg_inv_fails_on_a_promise_that_reports_a_vote_never_cast():
    spec = Paxos()
    s = State(max_bal=(1, NONE, NONE), max_vbal=N3, max_val=N3,
              msgs=frozenset({Msg1a(1), Msg1b(0, 1, 0, 1)}))
    assert spec.check_state(s) == ["msg_inv"]


def test_acc_inv_fails_on_a_vote_above_max_vbal():
    spec = Paxos()
    s = State(max_bal=(1, NONE, NONE), max_vbal=N3, max_val=N3,
              msgs=frozenset({Msg2a(1, 0), Msg2b(0, 1, 0)}))
    spec.restrict_properties(invariants=["acc_inv"])
    assert spec.check_state(s) == ["acc_inv"]
