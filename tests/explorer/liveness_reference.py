"""A dumb, exact reference for liveness under fairness, straight from the definitions.

A behaviour is an infinite path; what decides whether it is fair, and whether it avoids the
goal forever, is its *infinity set*: the states and edges it visits infinitely often. Those
form a strongly connected subgraph, and every strongly connected subgraph is the infinity set
of some behaviour (walk all its edges round and round). So a property "whenever T, eventually
G" fails iff some set of edges, all among goal-free states, is strongly connected, satisfies
every fairness constraint (read off the definitions of WF and SF), and is reachable from a
trigger state through goal-free states. This module enumerates every subset of edges: no SCC,
no pruning, nothing shared with explorer.liveness. It also checks a lasso step by step.
"""

from __future__ import annotations

from itertools import combinations, pairwise

WEAK, STRONG = 1, 2


class Graph:
    """n states; edges (src, dst, label); fairness {label: WEAK | STRONG}; init states."""

    def __init__(self, n: int, edges: list[tuple[int, int, int]], fairness: dict[int, int],
                 init: list[int]) -> None:
        self.n, self.edges, self.fairness, self.init = n, edges, fairness, init

    def enabled(self, s: int, label: int) -> bool:
        return any(a == s and b != s and lab == label for a, b, lab in self.edges)

    def deadlocked(self, s: int) -> bool:
        return not any(a == s for a, _, _ in self.edges)

    def reach(self, starts: set[int], allowed: set[int] | None = None) -> set[int]:
        seen = {s for s in starts if allowed is None or s in allowed}
        todo = list(seen)
        while todo:
            u = todo.pop()
            for a, b, _ in self.edges:
                if a == u and b not in seen and (allowed is None or b in allowed):
                    seen.add(b)
                    todo.append(b)
        return seen

    def fair(self, states: set[int], edges: list[tuple[int, int, int | None]]) -> bool:
        """Whether a behaviour with this infinity set satisfies every fairness constraint."""
        for label, kind in self.fairness.items():
            taken = any(lab == label and a != b for a, b, lab in edges)
            if taken:
                continue
            enabled_at = [s for s in states if self.enabled(s, label)]
            if kind == WEAK and len(enabled_at) == len(states):
                return False
            if kind == STRONG and enabled_at:
                return False
        return True


def _strongly_connected(states: set[int], edges: list) -> bool:
    start = next(iter(states))
    for forward in (True, False):
        seen, todo = {start}, [start]
        while todo:
            u = todo.pop()
            for a, b, _ in edges:
                x, y = (a, b) if forward else (b, a)
                if x == u and y not in seen:
                    seen.add(y)
                    todo.append(y)
        if seen != states:
            return False
    return True


def violated(g: Graph, goal: set[int], trigger: set[int] | None, initial_only: bool) -> bool:
    """True iff some fair behaviour has a trigger state after which the goal never holds."""
    allowed = set(range(g.n)) - goal
    trig = set(range(g.n)) if trigger is None else trigger
    if initial_only:
        sources = {s for s in g.init if s in allowed and s in trig}
    else:
        sources = {s for s in g.reach(set(g.init)) if s in allowed and s in trig}
    reachable = g.reach(sources, allowed)
    # Candidate infinity-set edges: among goal-free states; a deadlock stutters on itself.
    cand = [(a, b, lab) for a, b, lab in g.edges if a in allowed and b in allowed]
    cand += [(s, s, None) for s in allowed if g.deadlocked(s)]
    for k in range(1, len(cand) + 1):
        for subset in combinations(cand, k):
            states = {a for a, _, _ in subset} | {b for _, b, _ in subset}
            if not states & reachable:
                continue
            if _strongly_connected(states, list(subset)) and g.fair(states, list(subset)):
                return True
    return False


def violated_recurring(g: Graph, goal: set[int]) -> bool:
    """◇□goal fails iff some fair infinity set, reachable from init, has a state outside goal."""
    reachable = g.reach(set(g.init))
    cand = list(g.edges) + [(s, s, None) for s in range(g.n) if g.deadlocked(s)]
    for k in range(1, len(cand) + 1):
        for subset in combinations(cand, k):
            states = {a for a, _, _ in subset} | {b for _, b, _ in subset}
            if not states & reachable or states <= goal:
                continue
            if _strongly_connected(states, list(subset)) and g.fair(states, list(subset)):
                return True
    return False


def lasso_problem(g: Graph, states: list[int], labels: list[int], loop: int,
                  goal: set[int], trigger: set[int] | None, initial_only: bool,
                  recurring: bool = False) -> str | None:
    """Why this lasso is not a fair behaviour violating the property (None: it is one)."""
    if not states or states[0] not in g.init:
        return "does not start in an initial state"
    if len(labels) != len(states) - 1:
        return "one label per step expected"
    for i, (a, b) in enumerate(pairwise(states)):
        if (a, b, labels[i]) not in g.edges:
            return f"step {i} ({a} -> {b} by {labels[i]}) is not an edge"
    if not 0 <= loop < len(states):
        return "loop index out of range"
    if loop == len(states) - 1:
        last = states[-1]
        if not (g.deadlocked(last) or any(a == b == last for a, b, _ in g.edges)):
            return "ends in a state that cannot stutter"
        inf_states, inf_edges = {last}, []
    else:
        if states[-1] != states[loop]:
            return "the last state is not the loop's first"
        inf_states = set(states[loop:])
        inf_edges = list(zip(states[loop:], states[loop + 1:], labels[loop:]))
    if not g.fair(inf_states, inf_edges):
        return "the cycle is not fair"
    if recurring:
        return None if inf_states - goal else "the cycle never leaves the goal"
    # Some trigger position j, with no goal state from j on.
    positions = [0] if initial_only else range(len(states))
    trig = set(range(g.n)) if trigger is None else trigger
    if not any(states[j] in trig and not set(states[j:]) & goal for j in positions):
        return "no trigger after which the goal is avoided"
    return None
