"""The state graph liveness is checked on: numbered states, labelled edges, fairness per label.

The checker never sees a spec. It gets the reachable graph as arrays, the way the state store
records it during the search (one edge per generated successor: source number, target number,
and the interned action instance that produced it), plus which action instances are fair.

Semantics (docs/liveness.md):

* A *behaviour* is an infinite path from an initial state. A state with no successor at all
  (a deadlock) repeats forever: it has an implicit stuttering step to itself.
* An edge from a state to itself is a stuttering step: it may be repeated forever like any
  other cycle, but, as in TLA+ (where WF_vars(A) asks for an <A>_vars step, one that changes
  the state), it neither enables an action instance for fairness nor counts as taking it.
* Action instance ``a`` is *enabled* in state ``s`` iff some edge labelled ``a`` leaves ``s``
  for another state; it is *taken* on a cycle iff the cycle has an edge labelled ``a``.
* Weak fairness of ``a`` (TLA+ WF): a behaviour in which ``a`` is from some point on enabled in
  every state must take ``a`` infinitely often. Strong fairness (SF): a behaviour in which
  ``a`` is enabled infinitely often must take it infinitely often.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FAIR_NONE", "FAIR_STRONG", "FAIR_WEAK", "StateGraph", "unique"]

FAIR_NONE, FAIR_WEAK, FAIR_STRONG = 0, 1, 2


def unique(a: np.ndarray, counts: bool = False):
    """The sorted distinct values of ``a`` (and how often each occurs): a plain sort, which
    on millions of int64 keys is several times faster than ``np.unique``'s hashing."""
    a = np.sort(a, kind="stable")
    if len(a) == 0:
        return (a, np.zeros(0, dtype=np.int64)) if counts else a
    first = np.empty(len(a), dtype=bool)
    first[0] = True
    np.not_equal(a[1:], a[:-1], out=first[1:])
    out = a[first]
    if not counts:
        return out
    starts = np.flatnonzero(first)
    return out, np.diff(np.append(starts, len(a)))


@dataclass
class StateGraph:
    """States ``0..n-1``; edges ``src[k] -> dst[k]`` labelled ``label[k]`` (an action instance
    number); ``fairness[a]`` is FAIR_NONE, FAIR_WEAK or FAIR_STRONG for instance ``a``;
    ``init`` lists the initial states. Every state is assumed reachable from ``init``."""

    n: int
    init: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    label: np.ndarray
    fairness: np.ndarray

    def __post_init__(self) -> None:
        # The store's int32 arrays are used as they are (no copy): 12 bytes per edge. Keys that
        # combine two numbers are computed in int64.
        self.init = np.asarray(self.init, dtype=np.int64)
        self.src = _ints(self.src)
        self.dst = _ints(self.dst)
        self.label = _ints(self.label)
        self.fairness = np.asarray(self.fairness, dtype=np.int8)
        if not (len(self.src) == len(self.dst) == len(self.label)):
            raise ValueError("src, dst and label must have one entry per edge")
        self._proper: np.ndarray | None = None
        self._stutter: np.ndarray | None = None
        self._enabled: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def proper(self) -> np.ndarray:
        """Mask of the edges that change the state (not self-loops)."""
        if self._proper is None:
            self._proper = self.src != self.dst
        return self._proper

    @property
    def stutter(self) -> np.ndarray:
        """Mask of the states that may repeat forever on their own: deadlocks (no edge out)
        and states with an edge to themselves."""
        if self._stutter is None:
            out = np.bincount(self.src, minlength=self.n)[: self.n]
            loops = np.zeros(self.n, dtype=bool)
            loops[self.src[~self.proper]] = True
            self._stutter = (out == 0) | loops
        return self._stutter

    @property
    def enabled_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(state, instance) pairs, each once, for every fair instance enabled in a state."""
        if self._enabled is None:
            fair = self.fairness[self.label] > 0 if len(self.label) else np.zeros(0, bool)
            sel = self.proper & fair
            key = unique(self.src[sel].astype(np.int64) * self.n_labels + self.label[sel])
            self._enabled = (key // self.n_labels, key % self.n_labels)
        return self._enabled

    @property
    def n_labels(self) -> int:
        return max(len(self.fairness), 1)


def _ints(a: object) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype not in (np.int32, np.int64):
        arr = arr.astype(np.int64)
    return arr
