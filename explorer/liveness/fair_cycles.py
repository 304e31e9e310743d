"""Which states lie on a fair cycle: SCC decomposition with fairness pruning.

The standard algorithm of explicit-state liveness checkers (TLC; SPIN's fairness; Emerson and
Lei, "Modalities for model checking", 1987): the states a fair behaviour visits infinitely
often, with the edges it takes infinitely often, form a strongly connected subgraph that
satisfies every fairness constraint. So:

1. decompose the allowed states into strongly connected components (SCCs); a component is a
   candidate if it has an edge inside (two or more states, or one that may stutter);
2. strong fairness of ``a``: if ``a`` is taken on no edge inside a component, no fair cycle in
   it may visit a state where ``a`` is enabled; remove those states and go back to 1 (what is
   left may fall apart into smaller components);
3. weak fairness of ``a``: if ``a`` is taken on no edge inside a component and is enabled in
   every one of its states, every cycle in it is unfair: drop the component;
4. what remains is fair: the whole component, walked edge by edge, is a fair cycle (taking
   every edge inside satisfies every "taken" condition; visiting every state every "disabled
   somewhere" one).

Step 2 never removes a state of a fair subgraph (it takes no ``a``, so ``a`` is enabled on none
of its states), and step 3 drops a component only if every sub-cycle is unfair: the result is
exact. SCCs are computed by scipy's C implementation (Pearce's algorithm); the fairness tests
are numpy operations over all components at once, so each round costs a few passes over the
edge arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .graph import FAIR_STRONG, FAIR_WEAK, StateGraph, unique

__all__ = ["FairComponents", "fair_components"]


@dataclass
class FairComponents:
    """``comp[s]`` is the fair component of state ``s`` (-1: on no fair cycle)."""

    comp: np.ndarray
    rounds: int  # SCC decompositions done (1 + strong-fairness prunings)

    @property
    def states(self) -> np.ndarray:
        return self.comp >= 0


def _scc(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    # imported here: scipy costs every start-up a tenth of a second, liveness or not
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    # float64 data: what csgraph works on, so that it does not make a converted copy.
    m = csr_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    del src, dst
    _, comp = connected_components(m, directed=True, connection="strong")
    return comp.astype(np.int32, copy=False)  # int32: one per state, and 4 bytes per edge below


def _member(keys: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``keys[i] in table`` for each i; ``table`` sorted and distinct."""
    if len(table) == 0:
        return np.zeros(len(keys), dtype=bool)
    pos = np.searchsorted(table, keys)
    pos[pos == len(table)] = 0
    return table[pos] == keys


def fair_components(g: StateGraph, allowed: np.ndarray) -> FairComponents:
    """The states of ``allowed`` that lie on a fair cycle using only ``allowed`` states.

    A cycle here is a strongly connected set of states with the edges among them; a single
    state counts if it may stutter (a deadlock, or an edge to itself).
    """
    n = g.n
    alive = np.asarray(allowed, dtype=bool).copy()
    proper = g.proper
    weak = g.fairness == FAIR_WEAK
    strong = g.fairness == FAIR_STRONG
    fair_label = (g.fairness > 0)[g.label] if len(g.label) else np.zeros(0, bool)
    en_state, en_label = g.enabled_pairs
    nl = g.n_labels
    rounds = 0
    while True:
        rounds += 1
        if not alive.any():
            return FairComponents(np.full(n, -1, dtype=np.int32), rounds)
        e_in = alive[g.src]
        e_in &= alive[g.dst]
        e_in &= proper
        comp = _scc(n, g.src[e_in], g.dst[e_in])
        comp[~alive] = -1
        ncomp = int(comp.max()) + 1 if n else 0
        size = np.bincount(comp[alive], minlength=ncomp)
        # A single state with no edge inside its component is on no cycle (unless it stutters).
        cyclic = size >= 2
        st = alive & g.stutter
        cyclic[comp[st]] = True
        trivial = alive & ~cyclic[np.maximum(comp, 0)]
        alive &= ~trivial
        comp[trivial] = -1
        # Fair instances taken on an edge inside a component: keys comp * nl + label.
        inside = comp[g.src] == comp[g.dst]
        inside &= e_in
        inside &= fair_label
        inside &= comp[g.src] >= 0
        taken = unique(comp[g.src[inside]].astype(np.int64) * nl + g.label[inside])
        live_pair = alive[en_state]
        ps, pl = en_state[live_pair], en_label[live_pair]
        pkey = comp[ps].astype(np.int64) * nl + pl
        ptaken = _member(pkey, taken)
        # Strong fairness: enabled in the component, never taken there -> remove those states.
        bad = strong[pl] & ~ptaken
        if bad.any():
            alive[ps[bad]] = False
            continue
        # Weak fairness: never taken, enabled in every state of the component -> drop it.
        wsel = weak[pl] & ~ptaken
        wkey, counts = unique(pkey[wsel], counts=True)
        full = counts == size[wkey // nl]
        if full.any():
            dead = np.zeros(max(ncomp, 1), dtype=bool)
            dead[wkey[full] // nl] = True
            drop = alive & dead[np.maximum(comp, 0)]
            alive &= ~drop
            comp[drop] = -1
        comp[~alive] = -1
        return FairComponents(comp, rounds)
