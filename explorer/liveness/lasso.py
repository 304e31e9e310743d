"""Counterexamples to liveness: lassos, a shortest prefix to a fair cycle and the cycle itself.

``find_lasso(graph, goal, trigger)`` decides "whenever ``trigger`` holds, ``goal`` holds then
or later" under the graph's fairness, and returns a behaviour that violates it, or None:

* the *prefix* runs from an initial state to a state where ``trigger`` holds and ``goal`` does
  not, and from there, through states where ``goal`` does not hold, into a fair component
  (explorer.liveness.fair_cycles) of the goal-free states; it is a shortest such path (a
  breadth-first search over two copies of the graph: before the trigger, anywhere; after it,
  goal-free);
* the *cycle* starts and ends where the prefix entered the component and passes, in turn,
  through the nearest state or edge that each fairness constraint needs (a state where a weakly
  fair instance is disabled, or an edge taking it), so that repeating it forever is a fair
  behaviour. A component of one state that may stutter gives a cycle of no step: the
  behaviour stays there forever.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .fair_cycles import FairComponents, fair_components
from .graph import FAIR_WEAK, StateGraph, unique

__all__ = ["Lasso", "find_lasso"]



@dataclass
class Lasso:
    """A behaviour as state numbers: ``states[0]`` initial; ``labels[i]`` is the action instance
    of the step ``states[i] -> states[i+1]``. The behaviour repeats ``states[loop:]`` forever:
    the last state equals ``states[loop]`` (the last step closes the cycle), unless
    ``loop == len(states) - 1``, when the last state stutters forever."""

    states: list[int]
    labels: list[int]
    loop: int

    @property
    def stutters(self) -> bool:
        return self.loop == len(self.states) - 1


class _Edges:
    """The label of the first logged edge ``u -> v``: a scan of the edge arrays per lookup
    (a lasso has tens of steps), which needs no index over millions of edges."""

    def __init__(self, g: StateGraph) -> None:
        self.g = g

    def label(self, u: int, v: int) -> int:
        hits = np.flatnonzero((self.g.src == u) & (self.g.dst == v))
        assert len(hits), "no such edge"
        return int(self.g.label[hits[0]])


def _unique_pairs(src: np.ndarray, dst: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    key = unique(src.astype(np.int64) * n + dst)
    return key // n, key % n


def _prefix(g: StateGraph, allowed: np.ndarray, trigger: np.ndarray, initial_only: bool,
            target: np.ndarray) -> list[int] | None:
    """A shortest path init -> (trigger & allowed) -> ... allowed ... -> target, or None.

    A breadth-first search over two copies of the graph (before the trigger: every state;
    after: the allowed ones), joined by a "switch" edge at each trigger state. Every path
    from the first copy to a target in the second crosses exactly one switch edge, so the
    fewest edges is the fewest steps (plus one)."""
    n = g.n
    proper = g.proper
    s, d = g.src[proper], g.dst[proper]
    after = allowed[s] & allowed[d]
    rows = [s[after] + n]
    cols = [d[after] + n]
    if initial_only:
        starts = g.init[allowed[g.init] & trigger[g.init]]
    else:
        starts = g.init
        sw = np.flatnonzero(trigger & allowed).astype(s.dtype)
        rows += [s, sw]
        cols += [d, sw + n]
    starts = unique(starts)
    if len(starts) == 0:
        return None
    r, c = np.concatenate(rows), np.concatenate(cols)
    from scipy.sparse import csr_matrix  # here: scipy slows every start-up, liveness or not
    from scipy.sparse.csgraph import dijkstra

    m = csr_matrix((np.ones(len(r), dtype=np.float32), (r, c)), shape=(2 * n, 2 * n))
    start_nodes = starts + (n if initial_only else 0)
    dist, pred, _ = dijkstra(m, directed=True, indices=start_nodes, min_only=True,
                             unweighted=True, return_predecessors=True)
    goal_dist = dist[n:][target]
    if not np.isfinite(goal_dist).any():
        return None
    cand = np.flatnonzero(target)
    node = int(cand[int(np.argmin(goal_dist))]) + n
    path = [node]
    while pred[node] >= 0:
        node = int(pred[node])
        path.append(node)
    path.reverse()
    states: list[int] = []
    for v in path:  # the switch to the second copy is the same state: collapse it
        if not states or states[-1] != v % n:
            states.append(v % n)
    return states


class _Component:
    """One fair component as a small graph of its own (local numbers), for walking in it."""

    def __init__(self, g: StateGraph, fc: FairComponents, c: int) -> None:
        self.members = np.flatnonzero(fc.comp == c)
        local = np.full(g.n, -1, dtype=np.int64)
        local[self.members] = np.arange(len(self.members))
        self.local = local
        sel = g.proper & (fc.comp[g.src] == c) & (fc.comp[g.dst] == c)
        self.e_src = local[g.src[sel]]
        self.e_dst = local[g.dst[sel]]
        self.e_lab = g.label[sel]
        k = len(self.members)
        s, d = _unique_pairs(self.e_src, self.e_dst, max(k, 1))
        from scipy.sparse import csr_matrix

        self.adj = csr_matrix((np.ones(len(s)), (s, d)), shape=(k, k))

    def from_(self, u: int) -> tuple[np.ndarray, np.ndarray]:
        from scipy.sparse.csgraph import shortest_path

        dist, pred = shortest_path(self.adj, directed=True, unweighted=True, indices=u,
                                   return_predecessors=True)
        return dist, pred

    def to(self, v: int) -> tuple[np.ndarray, np.ndarray]:
        from scipy.sparse.csgraph import shortest_path

        dist, pred = shortest_path(self.adj.T.tocsr(), directed=True, unweighted=True,
                                   indices=v, return_predecessors=True)
        return dist, pred


def _requirements(g: StateGraph, comp: _Component) -> list[tuple[np.ndarray, int | None]]:
    """Per fair instance enabled in the component: (states that satisfy it by being visited,
    instance whose edges satisfy it by being taken, or None)."""
    k = len(comp.members)
    en_s, en_l = g.enabled_pairs
    inside = comp.local[en_s] >= 0
    ls, ll = comp.local[en_s[inside]], en_l[inside]
    reqs: list[tuple[np.ndarray, int | None]] = []
    for lab in unique(ll).tolist():
        where = ls[ll == lab]
        taken = bool((comp.e_lab == lab).any())
        disabled = np.ones(k, dtype=bool)
        disabled[where] = False
        if g.fairness[lab] == FAIR_WEAK and disabled.any():
            reqs.append((disabled, lab if taken else None))
        else:  # enabled everywhere (weak) or somewhere (strong): the cycle must take it
            reqs.append((np.zeros(k, dtype=bool), lab))
    return reqs


def _cycle(g: StateGraph, fc: FairComponents, entry: int,
           edges: _Edges) -> tuple[list[int], list[int]]:
    """A closed walk from ``entry`` (global number) satisfying every fairness need of its
    component: the states after ``entry`` (the last one is ``entry`` again) and the labels.
    Empty if the component is one stuttering state."""
    comp = _Component(g, fc, int(fc.comp[entry]))
    e = int(comp.local[entry])
    pending = _requirements(g, comp)
    cur = e
    walk: list[int] = []  # local numbers, after the entry
    labels: list[int] = []

    def step(u: int, v: int, lab: int | None = None) -> None:
        labels.append(lab if lab is not None else edges.label(int(comp.members[u]),
                                                              int(comp.members[v])))
        walk.append(v)

    def satisfied(req: tuple[np.ndarray, int | None], states: list[int],
                  labs: list[int]) -> bool:
        need_state, need_lab = req
        return any(need_state[x] for x in states) or (need_lab is not None and need_lab in labs)

    pending = [r for r in pending if not satisfied(r, [e], [])]
    while pending:
        dist, pred = comp.from_(cur)
        best = None  # (cost, req index, target state, edge index or None)
        for i, (need_state, need_lab) in enumerate(pending):
            if need_state.any():
                cand = np.flatnonzero(need_state)
                j = int(cand[np.argmin(dist[cand])])
                if np.isfinite(dist[j]) and (best is None or dist[j] < best[0]):
                    best = (dist[j], i, j, None)
            if need_lab is not None:
                eidx = np.flatnonzero(comp.e_lab == need_lab)
                costs = dist[comp.e_src[eidx]] + 1
                j = int(np.argmin(costs))
                if np.isfinite(costs[j]) and (best is None or costs[j] < best[0]):
                    best = (costs[j], i, int(comp.e_src[eidx[j]]), int(eidx[j]))
        assert best is not None, "a fair component's needs are reachable inside it"
        _, _, target, eid = best
        hops = []
        v = target
        while v != cur:
            hops.append(v)
            v = int(pred[v])
        start = len(walk)
        prev = cur
        for v in reversed(hops):
            step(prev, v)
            prev = v
        if eid is not None:
            step(prev, int(comp.e_dst[eid]), int(comp.e_lab[eid]))
        cur = walk[-1] if walk else cur
        new_states, new_labs = walk[start:], labels[start:]
        pending = [r for r in pending if not satisfied(r, new_states, new_labs)]
    if cur != e or not walk:
        if len(comp.members) == 1:
            return [], []  # one state repeating itself forever
        dist_to, pred_to = comp.to(e)
        if cur == e:  # nothing was needed: the shortest cycle through the entry
            succ = comp.e_dst[comp.e_src == e]
            v = int(succ[np.argmin(dist_to[succ])])
            step(e, v)
            cur = v
        while cur != e:
            nxt = int(pred_to[cur])
            step(cur, nxt)
            cur = nxt
    return [int(comp.members[x]) for x in walk], labels


def find_lasso(g: StateGraph, goal: np.ndarray, trigger: np.ndarray | None = None,
               initial_only: bool = False, fair: FairComponents | None = None, *,
               recurring: bool = False) -> Lasso | None:
    """A fair behaviour in which, after some state where ``trigger`` holds (the initial state
    if ``initial_only``; any state if ``trigger`` is None), ``goal`` never holds; or None if
    there is none, i.e. the property holds. ``goal``/``trigger`` are boolean masks over the
    states. ``fair`` may pass precomputed fair components (of ``~goal``; of every state if
    ``recurring``).

    ``recurring=True`` decides ◇□goal instead: a violation is a fair behaviour that visits a
    state outside ``goal`` infinitely often, i.e. a reachable fair component of the whole
    graph with such a state in it; its cycle starts at that state."""
    goal = np.asarray(goal, dtype=bool)
    trig = np.ones(g.n, dtype=bool) if trigger is None else np.asarray(trigger, dtype=bool)
    if recurring:
        allowed = np.ones(g.n, dtype=bool)
        fc = fair if fair is not None else fair_components(g, allowed)
        target = fc.states & ~goal
        trig = np.ones(g.n, dtype=bool)
        initial_only = False
    else:
        allowed = ~goal
        fc = fair if fair is not None else fair_components(g, allowed)
        target = fc.states
    if not target.any():
        return None
    prefix = _prefix(g, allowed, trig, initial_only, target)
    if prefix is None:
        return None
    edges = _Edges(g)
    labels = [edges.label(u, v) for u, v in itertools.pairwise(prefix)]
    cyc_states, cyc_labels = _cycle(g, fc, prefix[-1], edges)
    return Lasso(prefix + cyc_states, labels + cyc_labels, len(prefix) - 1)
