"""two_phase_commit: TLC's state counts, atomicity, and the variants that break it.

Reference figures: TLC on TwoPhase.tla (tlaplus/Examples) finds 288 distinct states for
3 RMs; 1,568 / 8,832 / 50,816 for 4 / 5 / 6 RMs (also the counts in shared/PERFORMANCE.md).
"""

from __future__ import annotations

import pytest

from protospec.explorer import check
from protospec.specs.two_phase_commit import (
    Decision,
    Prepared,
    RMState,
    State,
    TMState,
    TwoPhaseCommit,
)

W, P, C, A = RMState.WORKING, RMState.PREPARED, RMState.COMMITTED, RMState.ABORTED


@pytest.mark.parametrize(("rms", "distinct", "depth"),
                         [(3, 288, 10), (4, 1568, 13), (5, 8832, 16)])
def test_distinct_state_counts_equal_tlcs(rms, distinct, depth):
    result = check(TwoPhaseCommit(rms=rms))
    assert result.ok
    assert result.stats.distinct_states == distinct
    assert result.stats.depth == depth  # TLC reports depth + 1: it counts the initial state


@pytest.mark.parametrize(("variant", "length"), [
    ("tm_commits_early", 3),
    ("rm_aborts_after_prepare", 9),
    ("tm_aborts_after_commit", 10),
])
def test_each_variant_breaks_atomicity_with_a_shortest_counterexample(variant, length):
    cls = TwoPhaseCommit.with_variant(variant)
    result = check(cls(rms=3))
    (v,) = result.violations
    assert v.property == cls.variant_info.breaks == "atomicity"
    assert len(v.trace) == length
    last = v.trace.steps[-1].state.rm_state
    assert C in last and A in last


def test_tm_commits_early_lets_a_committed_and_an_aborted_rm_coexist():
    trace = check(TwoPhaseCommit.with_variant("tm_commits_early")(rms=3)).violations[0].trace
    assert [st.action for st in trace.steps[1:]] == [
        "tm_commit", "rm_choose_to_abort", "rm_rcv_commit_msg"]


def test_atomicity_fails_on_a_state_with_a_committed_and_an_aborted_rm():
    spec = TwoPhaseCommit(rms=2)
    bad = State((C, A), TMState.DONE, frozenset({0, 1}), frozenset({Decision.COMMIT}))
    assert spec.check_state(bad) == ["atomicity"]


def test_type_ok_fails_on_a_state_with_an_rm_out_of_range():
    spec = TwoPhaseCommit(rms=2)
    bad = State((W, W), TMState.INIT, frozenset({5}), frozenset({Prepared(0)}))
    assert spec.check_state(bad) == ["type_ok"]


def test_the_tm_commits_only_after_every_rm_prepared():
    spec = TwoPhaseCommit(rms=2)
    half = State((P, W), TMState.INIT, frozenset({0}), frozenset({Prepared(0)}))
    assert spec.step(half, "tm_commit") is None
    full = State((P, P), TMState.INIT, frozenset({0, 1}), frozenset({Prepared(0), Prepared(1)}))
    assert spec.step(full, "tm_commit").msgs == full.msgs | {Decision.COMMIT}
