"""The fair-cycle checker agrees with a brute-force reference on small random graphs.

The reference (liveness_reference.py) enumerates every possible infinity set of a behaviour,
straight from the definitions of weak and strong fairness; the checker decomposes into SCCs
and prunes. They must give the same verdict on every graph, and every lasso the checker
returns must be, step by step, a fair behaviour that violates the property.
"""

from __future__ import annotations

import random

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protospec.explorer.liveness import FAIR_STRONG, FAIR_WEAK, StateGraph, find_lasso

from .liveness_reference import (
    STRONG,
    WEAK,
    Graph,
    lasso_problem,
    violated,
    violated_recurring,
)

N_LABELS = 3
MODES = ("eventually", "always_eventually", "leads_to", "eventually_always")


def _to_state_graph(g: Graph) -> StateGraph:
    fairness = np.zeros(N_LABELS, dtype=np.int8)
    for lab, kind in g.fairness.items():
        fairness[lab] = FAIR_WEAK if kind == WEAK else FAIR_STRONG
    e = g.edges
    return StateGraph(g.n, g.init, [a for a, _, _ in e], [b for _, b, _ in e],
                      [lab for _, _, lab in e], fairness)


def _mask(n: int, states: set[int] | None) -> np.ndarray | None:
    if states is None:
        return None
    m = np.zeros(n, dtype=bool)
    m[list(states)] = True
    return m


def _case(g: Graph, goal: set[int], trigger: set[int] | None, initial_only: bool,
          recurring: bool = False) -> bool:
    """Compare checker and reference on one case; return the verdict (True: violated)."""
    expected = (violated_recurring(g, goal) if recurring
                else violated(g, goal, trigger, initial_only))
    lasso = find_lasso(_to_state_graph(g), _mask(g.n, goal), _mask(g.n, trigger), initial_only,
                       recurring=recurring)
    assert (lasso is not None) == expected, (g.__dict__, goal, trigger, initial_only, lasso)
    if lasso is not None:
        problem = lasso_problem(g, lasso.states, lasso.labels, lasso.loop, goal, trigger,
                                initial_only, recurring)
        assert problem is None, (problem, g.__dict__, goal, trigger, lasso)
    return expected


def _random_case(rng: random.Random) -> tuple[Graph, set[int], set[int] | None, bool, bool]:
    n = rng.randint(1, 5)
    edges = sorted({(rng.randrange(n), rng.randrange(n), rng.randrange(N_LABELS))
                    for _ in range(rng.randint(0, 9))})
    fairness = {lab: rng.choice((WEAK, STRONG)) for lab in range(N_LABELS)
                if rng.random() < 0.6}
    init = sorted(rng.sample(range(n), rng.randint(1, min(2, n))))
    goal = {s for s in range(n) if rng.random() < 0.3}
    mode = rng.choice(MODES)
    trigger = {s for s in range(n) if rng.random() < 0.5} if mode == "leads_to" else None
    return (Graph(n, edges, fairness, init), goal, trigger, mode == "eventually",
            mode == "eventually_always")


def test_checker_agrees_with_the_reference_on_2500_random_graphs():
    rng = random.Random(21)
    verdicts = {True: 0, False: 0}
    kinds = {WEAK: 0, STRONG: 0}
    weak_not_enough = 0  # violated with every fair label weak, holds with them strong
    for _ in range(2500):
        g, goal, trigger, initial_only, recurring = _random_case(rng)
        verdict = _case(g, goal, trigger, initial_only, recurring)
        verdicts[verdict] += 1
        for kind in g.fairness.values():
            kinds[kind] += 1
        if g.fairness:
            all_weak = Graph(g.n, g.edges, dict.fromkeys(g.fairness, WEAK), g.init)
            all_strong = Graph(g.n, g.edges, dict.fromkeys(g.fairness, STRONG), g.init)
            if _case(all_weak, goal, trigger, initial_only, recurring) and \
                    not _case(all_strong, goal, trigger, initial_only, recurring):
                weak_not_enough += 1
    assert min(verdicts.values()) > 300, verdicts
    assert min(kinds.values()) > 1000, kinds
    assert weak_not_enough >= 5, weak_not_enough


@st.composite
def cases(draw):
    n = draw(st.integers(1, 5))
    node = st.integers(0, n - 1)
    edges = sorted(set(draw(st.lists(st.tuples(node, node, st.integers(0, N_LABELS - 1)),
                                     max_size=9))))
    fairness = draw(st.dictionaries(st.integers(0, N_LABELS - 1), st.sampled_from((WEAK,
                                                                                   STRONG))))
    init = sorted(draw(st.sets(node, min_size=1, max_size=2)))
    goal = draw(st.sets(node))
    mode = draw(st.sampled_from(MODES))
    trigger = draw(st.sets(node)) if mode == "leads_to" else None
    return (Graph(n, edges, fairness, init), goal, trigger, mode == "eventually",
            mode == "eventually_always")


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_checker_agrees_with_the_reference_on_hypothesis_graphs(case):
    _case(*case)


def test_weak_fairness_does_not_force_an_action_that_is_only_enabled_now_and_then():
    # 0 <-> 1 by label 0; from 0 only, label 1 leads to the goal 2. Label 1 is enabled in
    # state 0 and disabled in state 1, infinitely often each: WF(1) is satisfied by cycling,
    # SF(1) is not.
    edges = [(0, 1, 0), (1, 0, 0), (0, 2, 1)]
    goal = {2}
    weak = Graph(3, edges, {0: WEAK, 1: WEAK}, [0])
    strong = Graph(3, edges, {0: WEAK, 1: STRONG}, [0])
    assert _case(weak, goal, None, True) is True
    assert _case(strong, goal, None, True) is False


def test_a_deadlock_outside_the_goal_is_a_violation_whatever_the_fairness():
    g = Graph(2, [(0, 1, 0)], {0: STRONG}, [0])
    assert _case(g, set(), None, True) is True  # the goal is nowhere: state 1 stutters
    assert _case(g, {1}, None, True) is False


def test_an_unchanging_step_neither_enables_nor_fulfils_fairness():
    # State 0 loops on itself by label 0 (weakly fair) and may go to the goal by label 1.
    g = Graph(2, [(0, 0, 0), (0, 1, 1)], {0: WEAK}, [0])
    assert _case(g, {1}, None, True) is True  # label 1 is not fair: looping forever is fine
    g = Graph(2, [(0, 0, 0), (0, 1, 1)], {0: WEAK, 1: WEAK}, [0])
    assert _case(g, {1}, None, True) is False
