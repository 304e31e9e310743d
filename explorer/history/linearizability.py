"""Linearizability: is there one order of the operations that respects real time and the model?

A history is *linearizable* (Herlihy & Wing 1990) iff its operations can be put in one sequence
such that (1) an operation that completed before another was invoked comes first, (2) the
sequence is legal for the sequential model and every operation returns what its client saw,
and (3) each ``info`` operation either appears somewhere after its invocation, with any result,
or not at all; ``fail`` operations never appear.

The search is Wing & Gong's (1993), as Lowe (2017) improved it and Porcupine implements it:
invocations and completions are kept in one doubly linked list in real-time order. From the
front of the list, the search tries to *linearize* each operation whose invocation comes before
the first completion still in the list: if the model accepts it, both its entries are unlinked
("lifted") and the search starts again from the front; reaching a completion means that
operation should already have been linearized, so the search backtracks. Lowe's memoization
remembers every (set of linearized operations, model state) pair visited: reaching one again
cannot lead anywhere new. An ``info`` operation completes at the very end; when the search
reaches a completion of an operation that may not have happened, it may *drop* it instead.

The linearized set is an int used as a bitset, stored relative to the lowest operation not yet
linearized, so a memo entry costs a few machine words however long the history is.

Cost: linear in the history when the clients see a linearizable register; exponential in the
number of concurrent operations in the worst case (the problem is NP-complete, Gibbons &
Korach 1997). ``info`` operations stay concurrent with everything after them, so many of them
make the search slow; ``timeout`` turns "too slow" into the verdict UNKNOWN.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..errors import TraceFormatError
from .history import INFINITY, UNKNOWN, History, Operation, Status
from .model import Model

__all__ = [
    "LinearizabilityResult",
    "PartialLinearization",
    "Verdict",
    "check_from",
    "check_linearizable",
    "check_naive",
    "prepare_all",
]

#: How many search steps between two looks at the clock and the progress callback.
_TICK = 1 << 13

# How an operation left the list, recorded on the search stack.
_TAKEN = 0  # linearized; on backtracking, try the next candidate instead
_FORCED = 1  # linearized without changing the state: no alternative to try
_DROPPED = 2  # left out (it may not have happened): no alternative to try


class Verdict(StrEnum):
    """The answer of a check: the property holds, does not hold, or the check gave up."""

    VALID = "valid"
    INVALID = "invalid"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PartialLinearization:
    """A legal sequence of some operations, and the operation it could not get past.

    ``steps`` are (operation, dropped, state after); a dropped step is an operation that may not
    have happened, taken out without effect. ``stuck`` is the operation whose completion the
    search reached without being able to linearize it (None for a complete linearization).
    """

    start: Any  # the model state before the first step
    steps: tuple[tuple[Operation, bool, Any], ...]
    stuck: Operation | None


@dataclass
class LinearizabilityResult:
    """What :func:`check_linearizable` found."""

    verdict: Verdict
    model: str  # the model's name
    operations: int  # operations checked (ok and info)
    elapsed_s: float
    configurations: int  # memoized (linearized set, state) pairs, over all parts
    #: For a valid history: each part's label and a linearization (the operations that took
    #: effect, in order). For a single-part model the label is None.
    linearizations: dict[Any, list[Operation]] = field(default_factory=dict)
    #: For an invalid (or unknown) history: the failing part's label, model and operations.
    part: Any = None
    part_model: Model | None = None
    part_ops: list[Operation] = field(default_factory=list)
    #: The partial linearization that got furthest in the failing part.
    furthest: PartialLinearization | None = None


class _Timeout(Exception):
    pass


def prepare_all(ops: Iterable[Operation], model: Model) -> list[tuple[Any, Any]]:
    """Each operation's (model input, expected output); TraceFormatError names a bad line."""
    prepared = []
    for op in ops:
        try:
            prepared.append(model.prepare(op))
        except (ValueError, TypeError, KeyError, IndexError) as e:
            where = f"line {op.line}" if op.line else f"operation {op.id}"
            raise TraceFormatError(f"{where}: process {op.process}'s :{op.f} does not fit the "
                                   f"{model.name} model: {e}") from None
    return prepared


class _Search:
    """One Wing & Gong search over one sub-history; keeps its memo for the shrinker."""

    def __init__(self, ops: Sequence[Operation], model: Model, *,
                 optional: frozenset[int] = frozenset(), reduce: bool = True) -> None:
        def may_be_left_out(o: Operation) -> bool:
            return o.status is not Status.OK or o.id in optional

        prepare_all(ops, model)  # report operations the model cannot read before pruning
        ops = model.prune(ops, may_be_left_out)
        # Operations that complete go first, by invocation; open ones after, in their own
        # bitset, so the relative bitset below stays as narrow as the concurrency.
        self.order = sorted(ops, key=lambda o: (o.ret >= INFINITY, o.call, o.id))
        self.model = model
        self.m = sum(1 for o in self.order if o.ret < INFINITY)
        prepared = prepare_all(self.order, model)
        self.inputs = [p[0] for p in prepared]
        self.expected = [UNKNOWN if o.status is not Status.OK else p[1]
                         for o, p in zip(self.order, prepared)]
        self.optional = [may_be_left_out(o) for o in self.order]
        # With `reduce`, reads (operations that change no state) are taken without branching;
        # the memo then holds fewer than all reachable configurations, which the shrinker's
        # left cut needs.
        self.forced = [reduce and bool(model.is_read(inp)) for inp in self.inputs]
        self.cache: set[tuple] = set()
        self.iterations = 0
        self.best: tuple[Any, list, int] | None = None  # (start, frames, stuck index)

    def run(self, starts: Iterable[Any], deadline: float | None,
            progress: Callable[[int, int], None] | None) -> list[tuple] | None:
        """Frames of a full linearization from one of ``starts``, or None; may raise _Timeout."""
        for start in starts:
            key = (0, 0, 0, start)
            if key in self.cache:
                continue
            self.cache.add(key)
            frames = self._run_from(start, deadline, progress)
            if frames is not None:
                return frames
        return None

    def _run_from(self, start: Any, deadline: float | None,
                  progress: Callable[[int, int], None] | None) -> list[tuple] | None:
        order, m = self.order, self.m
        n = len(order)
        events = sorted([(o.call, 0, i) for i, o in enumerate(order)]
                        + [(o.ret, 1, i) for i, o in enumerate(order)])
        head = 2 * n
        nxt = [-1] * (2 * n + 1)
        prv = [-1] * (2 * n + 1)
        prev = head
        for _, kind, i in events:
            e = 2 * i + kind
            nxt[prev] = e
            prv[e] = prev
            prev = e

        step = self.model.step
        inputs, expected, optional, forced = (self.inputs, self.expected, self.optional,
                                              self.forced)
        cache = self.cache
        add = cache.add
        stack: list[tuple] = []
        push, pop = stack.append, stack.pop
        state = start
        low = rel = info = 0  # all ops below `low` are linearized; rel: bits of low, low+1, ..
        best_depth = -1 if self.best is None else len(self.best[1])
        iterations = 0
        e = nxt[head]
        while e != -1:
            iterations += 1
            if not iterations & (_TICK - 1):
                if deadline is not None and time.monotonic() > deadline:
                    self.iterations += iterations
                    if len(stack) > best_depth:
                        self.best = (start, list(stack), -1)
                    raise _Timeout
                if progress is not None:
                    progress(max(best_depth, len(stack)), n)
            i = e >> 1
            if not e & 1:
                # A call entry: try to linearize operation i now.
                ok, out, new_state = step(state, inputs[i])
                if not ok:
                    e = nxt[e]
                    continue
                x = expected[i]
                if x is not UNKNOWN and x != out:
                    e = nxt[e]
                    continue
                # A read is taken without branching: it changes no state, so any
                # linearization that places it later can place it now.
                kind = _FORCED if forced[i] else _TAKEN
            elif optional[i]:
                # A return entry of an operation that may not have happened: drop it.
                new_state = state
                kind = _DROPPED
            else:
                kind = -1  # a return entry: operation i had to be linearized by now
            if kind >= 0:
                if i < m:
                    d = i - low
                    nrel = rel | (1 << d)
                    if d:
                        nlow = low
                    else:
                        t = (~nrel & (nrel + 1)).bit_length() - 1
                        nrel >>= t
                        nlow = low + t
                    ninfo = info
                else:
                    nlow, nrel, ninfo = low, rel, info | (1 << (i - m))
                # One hash lookup: the memo grew iff the configuration is new.
                size = len(cache)
                add((nlow, nrel, ninfo, new_state))
                if len(cache) != size:
                    push((i, state, low, rel, info, kind))
                    state, low, rel, info = new_state, nlow, nrel, ninfo
                    # Lift both entries of i out of the list (dancing links: i's own
                    # pointers stay, to put it back on backtracking).
                    c = 2 * i
                    p, q = prv[c], nxt[c]
                    nxt[p] = q
                    prv[q] = p  # a call is always followed by some entry
                    p, q = prv[c + 1], nxt[c + 1]
                    nxt[p] = q
                    if q != -1:
                        prv[q] = p
                    e = nxt[head]
                    continue
                if kind == _TAKEN:
                    e = nxt[e]  # explored before: try the next candidate
                    continue
                # Forced or dropped into an explored, failed configuration: this one fails too.
            if len(stack) > best_depth:
                best_depth = len(stack)
                self.best = (start, list(stack), i)
            # Backtrack: undo the last step and try the next candidate after it. Undoing a
            # forced or dropped step means its configuration is exhausted too: keep undoing.
            while True:
                if not stack:
                    self.iterations += iterations
                    return None
                i, state, low, rel, info, kind = pop()
                c = 2 * i
                p, q = prv[c + 1], nxt[c + 1]
                nxt[p] = c + 1
                if q != -1:
                    prv[q] = c + 1
                p, q = prv[c], nxt[c]
                nxt[p] = c
                prv[q] = c
                if kind == _TAKEN:
                    e = nxt[c]
                    break
        self.iterations += iterations
        return stack

    def partial(self, start: Any, frames: list[tuple], stuck: int) -> PartialLinearization:
        """Turn search frames into a PartialLinearization with the state after each step."""
        steps = []
        state = start
        for i, _, _, _, _, kind in frames:
            dropped = kind == _DROPPED
            if not dropped:
                state = self.model.step(state, self.inputs[i])[2]
            steps.append((self.order[i], dropped, state))
        return PartialLinearization(start, tuple(steps),
                                    self.order[stuck] if stuck >= 0 else None)

    def configurations(self) -> Iterable[tuple[frozenset[int], Any]]:
        """Every memoized configuration as (ids of the operations taken out, state)."""
        order, m = self.order, self.m
        for low, rel, info, state in self.cache:
            taken = {order[i].id for i in range(low)}
            j = 0
            while rel >> j:
                if (rel >> j) & 1:
                    taken.add(order[low + j].id)
                j += 1
            j = 0
            while info >> j:
                if (info >> j) & 1:
                    taken.add(order[m + j].id)
                j += 1
            yield frozenset(taken), state


def _search_part(ops: Sequence[Operation], model: Model, *, starts: Iterable[Any] | None = None,
                 optional: frozenset[int] = frozenset(), deadline: float | None = None,
                 progress: Callable[[int, int], None] | None = None, reduce: bool = True
                 ) -> tuple[Verdict, _Search, list[tuple] | None]:
    search = _Search(ops, model, optional=optional, reduce=reduce)
    try:
        frames = search.run([model.init()] if starts is None else starts, deadline, progress)
    except _Timeout:
        return Verdict.UNKNOWN, search, None
    return (Verdict.INVALID if frames is None else Verdict.VALID), search, frames


def check_from(ops: Sequence[Operation], model: Model, *, starts: Iterable[Any],
               optional: Iterable[int] = (), timeout: float | None = None) -> Verdict:
    """Is there a linearization of ``ops`` from one of the ``starts`` states?

    Operations whose ids are in ``optional`` may be left out (they may have taken effect
    before). This is how a shrunk :class:`~.shrink.Window` is checked; no partitioning.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    verdict, _, _ = _search_part([o for o in ops if o.status is not Status.FAIL], model,
                                 starts=list(starts), optional=frozenset(optional),
                                 deadline=deadline)
    return verdict


def check_linearizable(history: History | Sequence[Operation], model: Model, *,
                       timeout: float | None = None,
                       progress: Callable[[int, int], None] | None = None
                       ) -> LinearizabilityResult:
    """Decide whether ``history`` is linearizable with respect to ``model``.

    Failed operations are ignored. Models that partition (kv) are checked one part at a time;
    the first part that is not linearizable decides. ``timeout`` (seconds) bounds the whole
    check: past it the verdict is UNKNOWN. ``progress(done, total)`` is called now and then
    with the deepest partial linearization so far. Raises TraceFormatError when an operation
    does not fit the model.
    """
    began = time.monotonic()
    deadline = None if timeout is None else began + timeout
    ops = [op for op in (history.ops if isinstance(history, History) else history)
           if op.status is not Status.FAIL]
    prepare_all(ops, model)  # reject operations the model cannot read, before searching
    parts = model.partition(ops)
    if parts is None:
        parts = [(None, model, ops)]
    result = LinearizabilityResult(Verdict.VALID, model.name, len(ops), 0.0, 0)
    done_before = 0
    for label, part_model, part_ops in parts:
        report = None
        if progress is not None:
            def report(done: int, total: int, _before: int = done_before) -> None:
                progress(_before + done, len(ops))
        verdict, search, frames = _search_part(part_ops, part_model, deadline=deadline,
                                               progress=report)
        result.configurations += len(search.cache)
        done_before += len(part_ops)
        if verdict is Verdict.VALID:
            assert frames is not None
            result.linearizations[label] = [search.order[f[0]] for f in frames
                                            if f[5] != _DROPPED]
            continue
        result.verdict = verdict
        result.part, result.part_model, result.part_ops = label, part_model, list(part_ops)
        result.linearizations = {}
        if search.best is not None:
            result.furthest = search.partial(*search.best)
        break
    result.elapsed_s = time.monotonic() - began
    return result


def check_naive(history: History | Sequence[Operation], model: Model, *,
                timeout: float | None = None) -> Verdict:
    """The reference checker: try every interleaving that respects real time, no memo.

    Exponential in the length of the history; used to test :func:`check_linearizable` and as
    the baseline in the benchmark. Ignores the model's partition.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    ops = [op for op in (history.ops if isinstance(history, History) else history)
           if op.status is not Status.FAIL]
    n = len(ops)
    prepared = prepare_all(ops, model)
    required = 0
    for i, op in enumerate(ops):
        if op.status is Status.OK:
            required |= 1 << i
    # before[j]: the operations that completed before j was invoked.
    before = [sum(1 << i for i, a in enumerate(ops) if a.ret < b.call) for b in ops]
    step = model.step
    counter = [0]

    def extend(placed: int, gone: int, state: Any) -> bool:
        if placed & required == required:
            return True
        counter[0] += 1
        if deadline is not None and not counter[0] & 1023 and time.monotonic() > deadline:
            raise _Timeout
        for j in range(n):
            bit = 1 << j
            if (placed | gone) & bit or before[j] & required & ~placed:
                continue
            ok, out, new_state = step(state, prepared[j][0])
            x = prepared[j][1] if ops[j].status is Status.OK else UNKNOWN
            if not ok or not (x is UNKNOWN or x == out):
                continue
            # Optional operations that completed before j and are still unplaced never happen.
            if extend(placed | bit, gone | (before[j] & ~placed), new_state):
                return True
        return False

    try:
        return Verdict.VALID if extend(0, 0, model.init()) else Verdict.INVALID
    except _Timeout:
        return Verdict.UNKNOWN
