"""Weaker consistency models on the same histories: sequential consistency, session guarantees.

**Sequential consistency** (Lamport 1979) asks for one legal order of all operations that keeps
each process's own order, but not real time across processes: a read may return an old value
long after a newer write completed, as long as every process sees one history. When each
process runs one operation at a time, a linearizable history is sequentially consistent, so
the fast linearizability check goes first. Otherwise a depth-first search with memoization
runs over configurations (position in each process's operations, model state), trying first
the process whose next operation was invoked earliest, and taking legal reads without
branching. Without real time to cut wrong branches short, that search is exponential much
sooner than the linearizability search: beyond a few hundred operations, a history that is
not linearizable often ends as UNKNOWN. Unlike linearizability, sequential consistency is not
compositional, so a key-value history is checked whole.

**Session guarantees** (Terry et al., "Session Guarantees for Weakly Consistent Replicated
Data", PDIS 1994) constrain what one client (a Jepsen process = a session) sees:

* read-your-writes: a read sees the session's earlier writes;
* monotonic reads: a read sees everything the session's earlier reads saw;
* monotonic writes: the session's writes are ordered in the order it issued them;
* writes-follow-reads: a write is ordered after the writes the session had read.

They are checked per key of a register or key-value history, where written values are unique
(each read then names the write it saw), as in Elle (Kingsbury & Alvaro, VLDB 2020). Each
guarantee turns into *version-order* constraints between writes of one key ("w1 comes before
w2"); the guarantee holds iff some total order of each key's writes satisfies them, i.e. iff the
constraint graph has no cycle. The initial value comes before every write. A cycle is reported
with the operations and the rule that produced each of its edges. Terry's guarantees are
defined over all the writes a server has seen; without the servers' write sets, protospec
checks them key by key. Reads of a value that no write wrote, or that a failed write wrote, are
reported for every guarantee.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from ..errors import TraceFormatError, UsageError
from .history import UNKNOWN, History, Operation, Status, format_value
from .linearizability import PartialLinearization, Verdict, check_linearizable, prepare_all
from .model import KeyValue, Model

__all__ = [
    "GUARANTEES",
    "ConsistencyResult",
    "SessionViolation",
    "check_sequential",
    "check_sessions",
]

GUARANTEES = ("read-your-writes", "monotonic-reads", "monotonic-writes", "writes-follow-reads")

_TICK = 1 << 12


@dataclass(frozen=True)
class SessionViolation:
    """One violation of the session guarantees on one key.

    ``edges`` form a cycle of version-order constraints (earlier write, later write, why), or,
    for a read of a value nobody wrote, are empty with ``ops`` holding the read.
    """

    guarantees: tuple[str, ...]  # the guarantees whose constraints make up the cycle
    key: Any  # the key (None for a single register)
    message: str  # one sentence
    ops: tuple[Operation, ...]  # the operations involved, by invocation
    edges: tuple[tuple[Operation | None, Operation | None, str], ...] = ()  # None: initial


@dataclass
class ConsistencyResult:
    """What a weaker-model check found."""

    verdict: Verdict
    consistency: str  # "sequential" or the session guarantees checked, comma-separated
    model: str
    operations: int
    elapsed_s: float
    configurations: int = 0  # sequential consistency: memoized configurations
    order: list[Operation] = field(default_factory=list)  # sequential: a legal order, if valid
    furthest: PartialLinearization | None = None  # sequential: the deepest partial order
    violations: list[SessionViolation] = field(default_factory=list)  # session guarantees


class _Timeout(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Sequential consistency


def check_sequential(history: History | Sequence[Operation], model: Model, *,
                     timeout: float | None = None,
                     progress: Callable[[int, int], None] | None = None) -> ConsistencyResult:
    """Decide whether the history is sequentially consistent with respect to ``model``.

    Each process's operations keep their order (by invocation); ``info`` operations may be
    left out. Raises TraceFormatError when an operation does not fit the model.
    """
    began = time.monotonic()
    deadline = None if timeout is None else began + timeout
    ops = [o for o in (history.ops if isinstance(history, History) else history)
           if o.status is not Status.FAIL]
    prepared = dict(zip((o.id for o in ops), prepare_all(ops, model)))
    by_process: dict[Any, list[Operation]] = {}
    for o in sorted(ops, key=lambda o: (o.call, o.id)):
        by_process.setdefault(o.process, []).append(o)
    seqs = list(by_process.values())
    inputs = [[prepared[o.id][0] for o in seq] for seq in seqs]
    expected = [[prepared[o.id][1] if o.status is Status.OK else UNKNOWN for o in seq]
                for seq in seqs]
    optional = [[o.status is not Status.OK for o in seq] for seq in seqs]
    lengths = tuple(len(s) for s in seqs)
    step = model.step
    result = ConsistencyResult(Verdict.VALID, "sequential", model.name, len(ops), 0.0)

    # A linearization keeps real time, hence program order when each process runs one
    # operation at a time: then a linearizable history is sequentially consistent, and the
    # linearizability search, which real time keeps from running ahead, is far faster.
    one_at_a_time = all(a.ret < b.call for seq in seqs for a, b in pairwise(seq))
    if one_at_a_time:
        lin = check_linearizable(ops, model, timeout=timeout)
        if lin.verdict is Verdict.VALID:
            result.configurations = lin.configurations
            if list(lin.linearizations) == [None]:  # one order of the whole history
                result.order = lin.linearizations[None]
            result.elapsed_s = time.monotonic() - began
            return result

    forced = [[bool(model.is_read(inp)) for inp in row] for row in inputs]
    n_proc = len(seqs)
    # Each operation's position in invocation order, to bound how far a process runs ahead.
    rank = {o.id: i for i, o in enumerate(sorted(ops, key=lambda o: (o.call, o.id)))}
    ranks = [[rank[o.id] for o in seq] for seq in seqs]
    start_state = model.init()
    start = (tuple(0 for _ in seqs), start_state)

    def moves(positions: tuple[int, ...], state: Any, skew: int) -> list[tuple[int, bool, Any]]:
        """The moves to try from a configuration, as (process, dropped, new state).

        Processes are tried in the order their next operations were invoked, so the search
        first follows real time (a valid order whenever the history is linearizable), and no
        operation is taken more than ``skew`` places (in invocation order) ahead of the
        earliest one not yet taken. A legal read is taken alone, without alternatives: it
        changes no state, and program order is the only constraint, so any order that takes
        it later can take it now.
        """
        live = sorted((ranks[p][positions[p]], p) for p in range(n_proc)
                      if positions[p] < lengths[p])
        found = []
        limit = live[0][0] + skew if live else 0
        for r, p in live:
            if r > limit:
                break
            k = positions[p]
            ok, out, new_state = step(state, inputs[p][k])
            x = expected[p][k]
            if ok and (x is UNKNOWN or x == out):
                if forced[p][k]:
                    return [(p, False, new_state)]
                found.append((p, False, new_state))
            if optional[p][k]:
                found.append((p, True, state))
        return found

    def search(skew: int) -> tuple[bool, list[tuple[int, bool]], list[tuple[int, bool]], int]:
        """Depth-first search: (found, moves of the order found, deepest moves, configs)."""
        seen = {start}
        # Frames: [positions, state, the moves to try, index of the next one].
        stack: list[list] = [[start[0], start_state, moves(*start, skew), 0]]
        path: list[tuple[int, bool]] = []
        best: list[tuple[int, bool]] = []
        iterations = 0
        try:
            while stack:
                iterations += 1
                if not iterations & (_TICK - 1):
                    if deadline is not None and time.monotonic() > deadline:
                        raise _Timeout
                    if progress is not None:
                        progress(max(len(best), len(path)), len(ops))
                frame = stack[-1]
                positions, _, options, index = frame
                if positions == lengths:
                    return True, path, best, len(seen)
                moved = False
                while index < len(options):
                    p, drop, new_state = options[index]
                    index += 1
                    new_positions = positions[:p] + (positions[p] + 1,) + positions[p + 1:]
                    key = (new_positions, new_state)
                    if key in seen:
                        continue
                    seen.add(key)
                    frame[3] = index
                    stack.append([new_positions, new_state,
                                  moves(new_positions, new_state, skew), 0])
                    path.append((p, drop))
                    moved = True
                    break
                if not moved:
                    if len(path) > len(best):
                        best = list(path)
                    stack.pop()
                    if path:
                        path.pop()
        except _Timeout:
            raise _Timeout(max(best, path, key=len), len(seen)) from None
        return False, [], best, len(seen)

    # Bounded searches first: an order found under a bound is an answer; only the unbounded
    # search can show that there is none.
    found, path, best, configurations = False, [], [], 0
    try:
        for skew in (8, 64, len(ops)):
            found, path, best, configs = search(skew)
            configurations += configs
            if found:
                break
    except _Timeout as stopped:
        result.verdict = Verdict.UNKNOWN
        best, configs = stopped.args
        configurations += configs
    if result.verdict is Verdict.VALID and not found:
        result.verdict = Verdict.INVALID
    result.configurations = configurations
    taken = [0] * n_proc
    steps = []
    state = start_state
    for p, dropped in (path if result.verdict is Verdict.VALID else best):
        o = seqs[p][taken[p]]
        taken[p] += 1
        if not dropped:
            state = step(state, inputs[p][taken[p] - 1])[2]
        steps.append((o, dropped, state))
    if result.verdict is Verdict.VALID:
        result.order = [o for o, dropped, _ in steps if not dropped]
    else:
        stuck = min((seqs[p][taken[p]] for p in range(n_proc) if taken[p] < lengths[p]),
                    key=lambda o: o.call, default=None)
        result.furthest = PartialLinearization(start_state, tuple(steps), stuck)
    result.elapsed_s = time.monotonic() - began
    return result


# ---------------------------------------------------------------------------------------------
# Session guarantees

_INITIAL = "initial"


class _Key:
    """The writes and the version-order constraints of one key."""

    def __init__(self) -> None:
        self.writer: dict[Any, Operation] = {}  # written value -> the write
        self.edges: dict[Any, dict[Any, str]] = {}  # node -> node -> reason (first one kept)
        self.sources: dict[tuple[Any, Any], tuple[Operation, ...]] = {}  # edge -> its ops

    def constrain(self, before: Any, after: Any, guarantee: str, why: str,
                  ops: tuple[Operation, ...] = ()) -> None:
        """Record "``before`` comes no later than ``after``" in the version order.

        Read-your-writes and monotonic reads allow the same write on both sides; monotonic
        writes and writes-follow-reads order two distinct writes, so there a write before
        itself is a cycle of one edge.
        """
        if before == after and guarantee in ("read-your-writes", "monotonic-reads"):
            return
        if after not in self.edges.setdefault(before, {}):
            self.edges[before][after] = f"{guarantee}: {why}"
            self.sources[(before, after)] = ops


def _register_ops(op: Operation, model: Model) -> tuple[Any, str, Any, Any]:
    """(key, kind, written value, observed value) of a register or kv operation."""
    if isinstance(model, KeyValue):
        key, arg, output = model.split(op)
    else:
        key, arg, output = None, op.value, op.output
    if op.f == "read":
        return key, "read", None, output
    if op.f == "write":
        return key, "write", arg, UNKNOWN
    if op.f == "cas":
        old, new = arg
        return key, "cas", new, old if op.status is Status.OK else UNKNOWN
    raise ValueError(f"session guarantees need read, write and cas, not {op.f!r}")


def check_sessions(history: History, model: Model,
                   guarantees: Sequence[str] = GUARANTEES) -> ConsistencyResult:
    """Check the session guarantees named in ``guarantees`` on a register or kv history.

    Raises UsageError for a model without registers or an unknown guarantee, and
    TraceFormatError when two writes of one key write the same value (a read would not say
    which one it saw).
    """
    began = time.monotonic()
    if not getattr(model, "registers", False):
        raise UsageError(f"session guarantees are checked on register and kv histories, not on "
                         f"the {model.name} model")
    unknown = set(guarantees) - set(GUARANTEES)
    if unknown:
        raise UsageError(f"unknown session guarantee(s) {', '.join(sorted(unknown))}; "
                         f"choose from {', '.join(GUARANTEES)}")
    chosen = set(guarantees)
    initial = getattr(model, "initial", None)
    prepare_all(history.ops, model)
    keys: dict[Any, _Key] = {}
    failed_writes: dict[tuple[Any, Any], Operation] = {}
    decoded: dict[int, tuple[Any, str, Any, Any]] = {}
    for op in history.failed:
        try:
            key, kind, written, _ = _register_ops(op, model)
        except ValueError:
            continue
        if kind != "read":
            failed_writes[(key, written)] = op
    for op in history.ops:
        key, kind, written, observed = decoded[op.id] = _register_ops(op, model)
        k = keys.setdefault(key, _Key())
        if kind != "read":
            if written == initial or written in k.writer:
                other = k.writer.get(written)
                where = f"line {other.line}" if other else "the initial value"
                raise TraceFormatError(
                    f"line {op.line}: session guarantees need unique written values per key, "
                    f"but {format_value(written)} is also written by {where}")
            k.writer[written] = op

    violations: list[SessionViolation] = []
    # Per session, per key: what it has written and what it has seen so far.
    by_process: dict[Any, list[Operation]] = {}
    for op in sorted(history.ops, key=lambda o: (o.call, o.id)):
        by_process.setdefault(op.process, []).append(op)
    for process, session in by_process.items():
        own_writes: dict[Any, list[Operation]] = {}
        seen: dict[Any, list[tuple[Any, Operation]]] = {}  # key -> (node read, the read)
        for op in session:
            key, kind, written, observed = decoded[op.id]
            k = keys[key]
            if observed is not UNKNOWN:
                node = _observed_node(k, key, observed, initial, op, failed_writes, violations)
                if node is not None:
                    if "read-your-writes" in chosen:
                        for w in own_writes.get(key, ()):
                            k.constrain(w.id, node, "read-your-writes",
                                        f"process {format_value(process)} wrote "
                                        f"{_what(w, decoded)} before {_saw(op, observed)}",
                                        (w, op))
                    if "monotonic-reads" in chosen and seen.get(key):
                        prev_node, prev = seen[key][-1]
                        k.constrain(prev_node, node, "monotonic-reads",
                                    f"process {format_value(process)} "
                                    f"{_saw(prev, decoded[prev.id][3])} before "
                                    f"{_saw(op, observed)}", (prev, op))
                    seen.setdefault(key, []).append((node, op))
            if kind != "read":
                if "monotonic-writes" in chosen and own_writes.get(key):
                    w = own_writes[key][-1]
                    k.constrain(w.id, op.id, "monotonic-writes",
                                f"process {format_value(process)} wrote {_what(w, decoded)} "
                                f"before {_what(op, decoded)}", (w, op))
                if "writes-follow-reads" in chosen:
                    for node, r in dict((n, r) for n, r in seen.get(key, ())).items():
                        if kind == "cas" and r is op:
                            continue  # a cas reads and writes at once
                        k.constrain(node, op.id, "writes-follow-reads",
                                    f"process {format_value(process)} "
                                    f"{_saw(r, decoded[r.id][3])} before writing "
                                    f"{format_value(written)}", (r, op))
                own_writes.setdefault(key, []).append(op)
    by_id = {o.id: o for o in history.ops}
    for key, k in keys.items():
        for node in k.writer.values():
            k.constrain(_INITIAL, node.id, "initial", "the initial value comes first")
        cycle = _find_cycle(k.edges)
        if cycle:
            edges = tuple((by_id.get(a), by_id.get(b), k.edges[a][b]) for a, b in cycle)
            names = tuple(sorted({why.split(":")[0] for _, _, why in edges} - {"initial"}))
            involved = {o.id: o for a, b, _ in edges for o in (a, b) if o is not None}
            involved.update((o.id, o) for edge in cycle for o in k.sources.get(edge, ()))
            where = "" if key is None else f" on key {format_value(key)}"
            violations.append(SessionViolation(
                names, key, f"no order of the writes{where} satisfies "
                f"{' and '.join(names)}: the constraints form a cycle of {len(edges)}",
                tuple(sorted(involved.values(), key=lambda o: o.call)), edges))
    return ConsistencyResult(Verdict.INVALID if violations else Verdict.VALID,
                             ", ".join(g for g in GUARANTEES if g in chosen), model.name,
                             len(history.ops), time.monotonic() - began,
                             violations=violations)


def _observed_node(k: _Key, key: Any, observed: Any, initial: Any, op: Operation,
                   failed_writes: dict, violations: list[SessionViolation]) -> Any:
    """The version-order node a read saw: a write's id, the initial value, or None if bad."""
    if observed in k.writer:
        return k.writer[observed].id
    if observed == initial:
        return _INITIAL
    where = "" if key is None else f" of key {format_value(key)}"
    failed = failed_writes.get((key, observed))
    why = (f"whose write failed (line {failed.line})" if failed is not None
           else "that no operation wrote")
    violations.append(SessionViolation(
        ("valid-reads",), key, f"line {op.line}: process {format_value(op.process)} read "
        f"{format_value(observed)}{where}, a value {why}", (op,)))
    return None


def _what(op: Operation, decoded: dict) -> str:
    return f"{format_value(decoded[op.id][2])} (line {op.line})"


def _saw(op: Operation, observed: Any) -> str:
    verb = "read" if op.f == "read" else "cas-read"
    return f"{verb} {format_value(observed)} (line {op.line})"


def _find_cycle(edges: dict[Any, dict[Any, str]]) -> list[tuple[Any, Any]]:
    """A shortest cycle through some node of a cyclic graph, as edges; [] if acyclic."""
    # Kahn's algorithm removes every node not on or behind a cycle.
    indegree: dict[Any, int] = {}
    for a, outs in edges.items():
        indegree.setdefault(a, 0)
        for b in outs:
            indegree[b] = indegree.get(b, 0) + 1
    queue = deque(n for n, d in indegree.items() if d == 0)
    while queue:
        n = queue.popleft()
        for b in edges.get(n, ()):
            indegree[b] -= 1
            if indegree[b] == 0:
                queue.append(b)
    cyclic = {n for n, d in indegree.items() if d > 0}
    if not cyclic:
        return []
    best: list[tuple[Any, Any]] = []
    for source in sorted(cyclic, key=repr)[:50]:
        parent = {source: None}
        frontier = deque([source])
        found = None
        while frontier and found is None:
            n = frontier.popleft()
            for b in edges.get(n, ()):
                if b == source:
                    found = n
                    break
                if b in cyclic and b not in parent:
                    parent[b] = n
                    frontier.append(b)
        if found is None:
            continue
        cycle = [(found, source)]
        n = found
        while parent[n] is not None:
            cycle.append((parent[n], n))
            n = parent[n]
        cycle.reverse()
        if not best or len(cycle) < len(best):
            best = cycle
    return best
