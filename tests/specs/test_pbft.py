"""pbft: agreement with a Byzantine replica, and the three ways of getting quorums wrong.

Figures measured with the explorer; Castro & Liskov (OSDI '99) give no state counts.
"""

from __future__ import annotations

import pytest

from protospec.explorer import UsageError, check
from protospec.explorer.result import Trace
from protospec.specs.pbft import (
    NULL,
    PBFT,
    Commit,
    MsgType,
    NewView,
    Prepare,
    PrePrepare,
    State,
    ViewChange,
)

PREPARE, COMMIT = MsgType.PREPARE, MsgType.COMMIT


def replays(spec: PBFT, trace: Trace) -> bool:
    """Every step of the trace is one of the spec's labelled successors of the step before."""
    for before, after in zip(trace.steps, trace.steps[1:]):
        if (after.action, after.state) not in {
                (label.action, t) for label, t in spec.successors(before.state)
                if label.arg_dict == after.args}:
            return False
    return True


def state(msgs: set, view=(0, 0, 0, 0), active=(True,) * 4, issued=(0, 1)) -> State:
    return State(view=tuple(view), active=tuple(active), issued=frozenset(issued),
                 msgs=frozenset(msgs))


@pytest.mark.parametrize(("params", "distinct", "depth"), [
    ({}, 20752, 18),  # the default: replica 0, primary of view 0, is Byzantine
    ({"faulty": (1,)}, 19544, 17),  # the primary of view 1 is Byzantine
    ({"faulty": (3,)}, 7096, 17),  # a Byzantine backup
])
def test_agreement_and_validity_hold_with_one_byzantine_replica(params, distinct, depth):
    result = check(PBFT(**params))
    assert result.ok
    assert (result.stats.distinct_states, result.stats.depth) == (distinct, depth)


def test_more_byzantine_replicas_than_f_are_refused():
    with pytest.raises(UsageError, match="at most f=1"):
        PBFT(faulty=(0, 1))


@pytest.mark.parametrize(("variant", "length"), [
    ("quorum_2f", 6),
    ("n_equals_3f", 6),
    ("new_primary_ignores_certificates", 14),
])
def test_each_variant_breaks_agreement_with_a_shortest_replayable_counterexample(
        variant, length):
    spec = PBFT.with_variant(variant)()
    (v,) = check(spec).violations
    assert v.property == spec.variant_info.breaks == "agreement"
    assert len(v.trace) == length
    assert replays(spec, v.trace)


def test_with_2f_quorums_a_byzantine_primary_gets_two_requests_committed_at_one_seq():
    # The equivocating primary (replica 0) pre-prepares request 0 to replica 1 and request 1
    # to replica 2; with 2f = 2, each backup's own prepare and the primary's commit suffice.
    trace = check(PBFT.with_variant("quorum_2f")()).violations[0].trace
    assert [st.label for st in trace.steps[3:]] == [
        "send_prepare(i=1, v=0, n=1, m=0)", "send_prepare(i=2, v=0, n=1, m=1)",
        "send_commit(i=1, v=0, n=1, m=0)", "send_commit(i=2, v=0, n=1, m=1)"]


def test_a_new_primary_ignoring_certificates_reassigns_a_committed_sequence_number():
    trace = check(PBFT.with_variant("new_primary_ignores_certificates")()).violations[0].trace
    committed = PBFT().committed(trace.steps[-1].state)
    assert {(v, m) for _, v, _, m in committed} == {(0, 0), (1, 1)}


def test_an_equivocating_primary_cannot_get_two_requests_prepared_with_2f_plus_1_quorums():
    # Section 4.2: prepared needs 2f matching prepares from different backups. Replicas 1 and
    # 2 accepted different pre-prepares from the faulty primary 0; replica 3 sides with 1.
    spec = PBFT()
    s = state({Prepare(PREPARE, 0, 1, 0, 1), Prepare(PREPARE, 0, 1, 1, 2),
               Prepare(PREPARE, 0, 1, 0, 3)})
    assert spec.prepared(s, 1, 0, 1, 0)
    assert not spec.prepared(s, 2, 0, 1, 1)
    assert spec.step(s, "send_prepare", i=3, v=0, n=1, m=1) is None  # one request per (v, n)


def test_the_new_primary_re_proposes_the_request_in_the_highest_certificate():
    # Section 4.4: O holds, for each sequence number, the request of the prepared certificate
    # with the highest view in V. Replica 2 prepared request 0 at (0, 1).
    spec = PBFT()
    prepares = {Prepare(PREPARE, 0, 1, 0, i) for i in (2, 3)}
    s = state({*prepares,
               ViewChange(MsgType.VIEW_CHANGE, 1, frozenset({(0, 1, 0)}), 2),
               ViewChange(MsgType.VIEW_CHANGE, 1, frozenset(), 1)},
              view=(0, 1, 1, 0), active=(True, False, False, True))
    logs = {t.msgs - s.msgs for t in spec.step(s, "send_new_view", v=1,
                                               q=frozenset({0, 1, 2}))}
    new_view = {NewView(MsgType.NEW_VIEW, 1, (0,)), PrePrepare(MsgType.PRE_PREPARE, 1, 1, 0)}
    assert logs == {frozenset(new_view)}  # the faulty replica 0 cannot hide replica 2's


# -- each invariant fails on a hand-built state ------------------------------------------------


def test_agreement_fails_when_correct_replicas_commit_different_requests_at_one_seq():
    spec = PBFT()
    votes = {Commit(COMMIT, 0, 1, 0, i) for i in (1, 2)} | {Commit(COMMIT, 1, 1, 1, i)
                                                              for i in (2, 3)}
    assert spec.check_state(state(votes)) == ["agreement"]


def test_validity_fails_when_a_request_no_client_issued_is_committed():
    spec = PBFT()
    votes = {Commit(COMMIT, 0, 1, 1, i) for i in (1, 2)}
    assert spec.check_state(state(votes, issued=(0,))) == ["validity"]


def test_a_null_request_commits_without_being_issued():
    spec = PBFT()
    votes = {Commit(COMMIT, 1, 1, NULL, i) for i in (1, 2)}
    assert spec.check_state(state(votes, issued=())) == []
