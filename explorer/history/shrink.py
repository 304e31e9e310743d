"""Shrinking a non-linearizable history to a small window that is still not linearizable.

Removing an operation from a history can *create* a violation (take away the write that a read
saw, and the read becomes impossible), so the shrinker never removes an operation merely because
the rest still fails. It removes operation ``o`` only when the history still fails with ``o``
*relaxed*: allowed to take effect anywhere within its own interval, with any result, or not at
all. Any linearization of the history is one of the relaxed history, so the violation does not
depend on ``o`` at all; and a failing relaxed history stays failing without ``o``. The result is
a window in which every operation is needed: relaxing any one of them makes it linearizable.

Three steps, each keeping the window failing:

1. **Left cut.** An exhaustive search of the failing history visits every configuration (set
   of operations taken out, model state) that any legal partial linearization can reach. For
   a real-time cut ``t``, the states of the configurations that took out every operation
   completed before ``t`` and none invoked after it are exactly the states the history can be
   in at ``t``. The window
   keeps the operations invoked after ``t``, starts from any of those states, and makes the
   operations that straddle ``t`` optional (they may have taken effect before it). The latest
   cut that still fails is found by galloping back from the operation the search got stuck on.
2. **Right cut.** A prefix of a failing window fails too when the operations still running
   at the cut are made open (``info``); the earliest failing prefix is found the same way.
3. **Relax and remove**, in chunks that halve (delta debugging, Zeller 2002), until every
   remaining operation is needed.

Every check runs under the caller's time budget; a check that runs out counts as "does not
fail", so the window only grows, and ``complete`` says whether the last step finished.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .history import INFINITY, UNKNOWN, Operation, Status
from .linearizability import (
    LinearizabilityResult,
    PartialLinearization,
    Verdict,
    _Search,
    _search_part,
)
from .model import Model

__all__ = ["Window", "minimal_window"]


@dataclass(frozen=True)
class Window:
    """A small non-linearizable window of a history (see the module docstring)."""

    ops: tuple[Operation, ...]  # the window's operations, by invocation
    optional: frozenset[int]  # ids of operations that may have taken effect before the window
    starts: tuple[Any, ...]  # states the operations before the window can leave
    cut: int  # real-time rank where the window starts (0: the beginning of the history)
    before: int  # operations completed before the window
    furthest: PartialLinearization | None  # the deepest partial linearization of the window
    complete: bool  # False when the time budget ran out before the window was minimal
    checks: int  # searches run while shrinking


class _Shrinker:
    def __init__(self, model: Model, deadline: float | None) -> None:
        self.model = model
        self.deadline = deadline
        self.checks = 0
        self.out_of_time = False

    def fails(self, ops: Sequence[Operation], optional: frozenset[int],
              starts: Sequence[Any]) -> bool:
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.out_of_time = True
            return False
        self.checks += 1
        verdict, _, _ = _search_part(ops, self.model, starts=starts,
                                     optional=optional & {o.id for o in ops},
                                     deadline=self.deadline)
        if verdict is Verdict.UNKNOWN:
            self.out_of_time = True
        return verdict is Verdict.INVALID


def _state_intervals(search: _Search) -> list[tuple[int, int, Any]]:
    """For each memoized configuration: the cuts t with lo < t <= hi it is a boundary of."""
    order, m = search.order, search.m
    calls = [o.call for o in order]
    rets = [o.ret for o in order]
    suffix_min = [INFINITY] * (m + 1)
    for i in range(m - 1, -1, -1):
        suffix_min[i] = min(rets[i], suffix_min[i + 1])
    intervals = []
    for low, rel, info, state in search.cache:
        width = rel.bit_length()
        top = low + width
        hi = suffix_min[top]
        for j in range(width):
            if not (rel >> j) & 1 and rets[low + j] < hi:
                hi = rets[low + j]
        lo = calls[top - 1] if top > 0 else -1
        j = 0
        while info >> j:
            if (info >> j) & 1 and calls[m + j] > lo:
                lo = calls[m + j]
            j += 1
        if lo < hi:
            intervals.append((lo, hi, state))
    return intervals


def _left_window(ops: Sequence[Operation], t: int, intervals: list[tuple[int, int, Any]]
                 ) -> tuple[list[Operation], frozenset[int], list[Any]]:
    """The window from cut ``t``: its operations, the straddling ones, the start states."""
    window = [o for o in ops if o.call >= t or o.ret >= t]
    straddling = frozenset(o.id for o in window if o.call < t)
    starts = list(dict.fromkeys(s for lo, hi, s in intervals if lo < t <= hi))
    return window, straddling, starts


def _prefix(ops: Sequence[Operation], k: int) -> list[Operation]:
    """The operations invoked before rank ``k``; those still running at ``k`` become open."""
    return [o if o.ret < k else o._replace(status=Status.INFO, output=UNKNOWN, ret=INFINITY)
            for o in ops if o.call < k]


def _relax(o: Operation) -> Operation:
    return o._replace(status=Status.INFO, output=UNKNOWN)


def minimal_window(result: LinearizabilityResult, *, timeout: float | None = 30.0) -> Window:
    """Shrink the failing part of a non-linearizable result to a minimal failing window.

    ``result`` must come from :func:`~.linearizability.check_linearizable` with verdict
    INVALID. ``timeout`` bounds the whole shrinking (seconds); when it runs out the window
    returned still fails but may not be minimal (``complete`` is False).
    """
    if result.verdict is not Verdict.INVALID or result.part_model is None:
        raise ValueError("only a non-linearizable result can be shrunk")
    began = time.monotonic()
    model = result.part_model
    shrinker = _Shrinker(model, None if timeout is None else began + timeout)
    ops = sorted(result.part_ops, key=lambda o: (o.call, o.id))
    init = model.init()

    # 1. Left cut, from an exhaustive search without the checker's read reduction, so that its
    # memo holds every reachable configuration. Gallop back from the stuck operation's
    # invocation, then bisect. If that search runs out of time, there is no left cut.
    verdict, search, _ = _search_part(ops, model, reduce=False, deadline=shrinker.deadline)
    shrinker.checks += 1
    stuck = search.best[2] if search.best is not None else -1
    stuck_op = search.order[stuck] if stuck >= 0 else ops[-1]
    good = 0  # index into cuts of the latest cut known to fail (0: the whole history)
    cuts = sorted({o.call for o in ops})
    if verdict is Verdict.INVALID:
        intervals = _state_intervals(search)
        k = cuts.index(stuck_op.call)
        bad = None  # index of a cut known not to fail
        step = 0
        while k - step > 0:
            window, straddling, starts = _left_window(ops, cuts[k - step], intervals)
            if shrinker.fails(window, straddling, starts):
                good = k - step
                break
            bad = k - step
            step = 2 * step + 1
        if bad is not None:
            while bad - good > 1:
                mid = (good + bad) // 2
                window, straddling, starts = _left_window(ops, cuts[mid], intervals)
                if shrinker.fails(window, straddling, starts):
                    good = mid
                else:
                    bad = mid
    else:
        shrinker.out_of_time = True
    cut = cuts[good] if good > 0 else 0
    if cut:
        window, optional, starts = _left_window(ops, cut, intervals)
    else:
        window, optional, starts = list(ops), frozenset(), [init]
    before = sum(1 for o in ops if o.ret < cut)

    # 2. Right cut: the earliest prefix of the window that still fails.
    ends = sorted({o.ret + 1 for o in window if o.ret < INFINITY})

    def prefix_fails(i: int) -> bool:
        return i >= len(ends) or shrinker.fails(_prefix(window, ends[i]), optional, starts)

    # ends[hi] fails (len(ends) stands for the whole window), ends[lo] does not (-1: nothing).
    lo, hi = -1, len(ends)
    first = next((i for i, e in enumerate(ends) if e > stuck_op.ret), len(ends))
    if prefix_fails(first):
        hi = first
    else:
        lo, step = first, 1
        while first + step < len(ends):
            if prefix_fails(first + step):
                hi = first + step
                break
            lo, step = first + step, 2 * step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if prefix_fails(mid):
            hi = mid
        else:
            lo = mid
    if hi < len(ends):
        window = _prefix(window, ends[hi])

    # 3. Relax and remove, in halving chunks.
    # Removing one operation can make another unneeded, so single operations are retried
    # until a whole pass removes nothing.
    current = list(window)
    chunk = max(1, len(current) // 2)
    while current and not shrinker.out_of_time:
        i = 0
        removed = False
        while i < len(current) and not shrinker.out_of_time:
            trial = current[:i] + [_relax(o) for o in current[i:i + chunk]] + current[i + chunk:]
            if shrinker.fails(trial, optional, starts):
                current = current[:i] + current[i + chunk:]
                removed = True
            else:
                i += chunk
        if chunk == 1 and not removed:
            break
        chunk = max(1, chunk // 2)

    verdict, final, _ = _search_part(current, model, starts=starts,
                                     optional=optional & {o.id for o in current}, reduce=False)
    assert verdict is not Verdict.VALID, "a shrinking step kept a linearizable window"
    furthest = final.partial(*final.best) if final.best is not None else None
    return Window(tuple(current), optional & {o.id for o in current}, tuple(starts), cut,
                  before, furthest, complete=not shrinker.out_of_time,
                  checks=shrinker.checks)
