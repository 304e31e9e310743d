"""The breadth-first explorer: shortest counterexamples, bounds, and agreement with a dumb BFS."""

from __future__ import annotations

from collections import deque

import pytest
from protospec.explorer import check
from protospec.explorer.bfs import fingerprint_of, rebuild_trace
from protospec.specs.two_phase_commit import TwoPhaseCommit

from tests.explorer.toy_specs import Graph, Grid

# a -> b -> c -> f is the short way to f (3 steps); a -> d -> e -> c -> f is longer.
DIAMOND = (("a", "d"), ("d", "e"), ("e", "c"), ("a", "b"), ("b", "c"), ("c", "f"))


def test_the_counterexample_is_the_shortest_path_to_a_bad_state():
    result = check(Graph(edges=DIAMOND))
    (v,) = result.violations
    assert v.property == "not_bad"
    assert v.trace.states == ["a", "b", "c", "f"]
    assert [st.label for st in v.trace.steps[1:]] == ["edge(dst='b')", "edge(dst='c')",
                                                      "edge(dst='f')"]


def test_a_bad_initial_state_is_a_counterexample_of_length_zero():
    result = check(Graph(edges=DIAMOND, inits=("f",)))
    assert len(result.violations[0].trace) == 0


def test_among_equally_short_paths_the_first_in_enumeration_order_is_reported():
    edges = (("a", "x"), ("a", "y"), ("x", "f"), ("y", "f"))
    assert check(Graph(edges=edges)).violations[0].trace.states == ["a", "x", "f"]


def test_a_violation_deeper_than_max_depth_is_not_found_and_the_run_says_incomplete():
    result = check(Graph(edges=DIAMOND), max_depth=2)
    assert result.ok
    assert not result.stats.complete
    assert result.stats.stopped_by == "max_depth"


def test_max_states_stops_the_search_early():
    result = check(Grid(bound=10), max_states=20)
    assert not result.stats.complete
    assert result.stats.stopped_by == "max_states"
    assert 20 <= result.stats.distinct_states < 121


def test_keep_going_reports_every_violated_property_each_with_its_shortest_trace():
    spec = Grid(bound=3, target_x=2)
    spec.add_property("y_below_2", "invariant", lambda s: s.y < 2)
    result = check(spec, keep_going=True)
    lengths = {v.property: len(v.trace) for v in result.violations}
    assert lengths == {"x_not_target": 1, "y_below_2": 2}
    assert result.stats.distinct_states == 16  # it went on to the end


def test_the_search_stops_at_the_first_violation_by_default():
    result = check(Grid(bound=3, target_x=2))
    assert len(result.violations) == 1
    assert result.stats.distinct_states < 16


def test_a_trace_replays_step_by_step_through_the_spec():
    spec = TwoPhaseCommit.with_variant("rm_aborts_after_prepare")(rms=3)
    trace = check(spec).violations[0].trace
    for before, after in zip(trace.steps, trace.steps[1:]):
        assert (after.action, after.args, after.state) in [
            (label.action, label.arg_dict, t) for label, t in spec.successors(before.state)]


def test_rebuild_trace_recovers_labels_from_fingerprints_alone():
    spec = Grid(bound=2)
    states = [(0, 0), (1, 0), (1, 1)]
    from tests.explorer.toy_specs import Counter

    trace = rebuild_trace(spec, [fingerprint_of(Counter(*s)) for s in states])
    assert [st.label for st in trace.steps] == ["Initial state", "inc_x(step=1)", "inc_y()"]


def dumb_bfs(spec):
    """The reference: whole states in a set, parents in a dict; returns (count, shortest bad)."""
    inits = list(spec.init())
    depth = dict.fromkeys(inits, 0)
    queue = deque(inits)
    first_bad = None
    while queue:
        s = queue.popleft()
        if first_bad is None and spec.check_state(s):
            first_bad = depth[s]
        for _, t in spec.successors(s):
            if t not in depth:
                depth[t] = depth[s] + 1
                queue.append(t)
    return len(depth), first_bad, max(depth.values())


@pytest.mark.parametrize("variant", [None, *TwoPhaseCommit.variants()])
@pytest.mark.parametrize("rms", [2, 3])
def test_the_explorer_agrees_with_a_dumb_bfs_on_two_phase_commit(rms, variant):
    spec = TwoPhaseCommit.with_variant(variant)(rms=rms)
    count, first_bad, depth = dumb_bfs(spec)
    result = check(spec, keep_going=True)
    assert result.stats.distinct_states == count
    assert result.stats.depth == depth
    # The reference checks invariants only (liveness variants break temporal properties).
    invariant_violations = [v for v in result.violations if v.kind == "invariant"]
    if first_bad is None:
        assert not invariant_violations
    else:
        assert min(len(v.trace) for v in invariant_violations) == first_bad
