"""State-based CRDTs: replicas that have seen the same updates agree, whatever the network does.

Source: Marc Shapiro, Nuno Preguiça, Carlos Baquero and Marek Zawirski, "Conflict-free
Replicated Data Types" (SSS 2011) and its long version, INRIA research report RR-7506, "A
comprehensive study of Convergent and Commutative Replicated Data Types" (2011). The four data
types are the report's Specifications 6 (G-Counter), 7 (PN-Counter), 8 (LWW-Register) and 15
(state-based OR-Set); strong eventual consistency (SEC) is its Definition 2.3 and the
sufficient condition — a merge that is a least upper bound of a join-semilattice, applied to
states that only grow — is its Theorem 2.1.

The idea: each replica updates its own copy without coordination and now and then sends its
whole state to another replica, which *merges* it into its own. If the merge is commutative,
associative and idempotent, the order in which states arrive, how often, and how late, does not
matter: two replicas that have delivered the same updates hold equivalent states. The network
here reorders and duplicates: a sent state stays in flight forever and may be delivered any
number of times, at any later point (never delivering it is also allowed, which covers loss).

What is checked, on every reachable state:

* ``strong_convergence`` (SEC): two replicas that have delivered the same set of updates return
  the same value. (Delivery is tracked with a ghost set of update identifiers per replica that
  travels with the state.) This is "eventual consistency" stated as a safety property: once
  every update has reached every replica, they agree.
* ``merge_commutative``, ``merge_associative``, ``merge_idempotent``: the three laws of a
  join-semilattice's least upper bound, checked on every pair and triple of the states present
  in the reachable state (the replicas' states and every state in flight). So the laws are
  checked over every state the system can actually produce, not over a hand-picked sample.

Left out: operation-based (CmRDT) replication, which needs causal, exactly-once delivery from
the network; the other data types of the report (registers with multiple values, sequences,
graphs); garbage collection of OR-Set tombstones.
"""

from __future__ import annotations

import functools
from enum import IntEnum
from typing import Any, NamedTuple

from protospec import Param, Spec, action, except_at, from_state, invariant

NO_REPLICA = -1  # the writer of an LWW-Register's initial value
ELEMENT = "x"  # the one element the sets add and remove


class Op(IntEnum):
    """The update operations; each data type offers some of them."""

    INCREMENT = 0
    DECREMENT = 1
    ADD = 2  # add ELEMENT
    REMOVE = 3  # remove ELEMENT (only where it is present: the source's precondition)
    ASSIGN = 4  # an LWW-Register write; replica i writes the value i + 1


Dot = tuple[int, int]  # a unique update identifier: (replica, n-th update of that replica)

# -- the data types: payload, update, merge, query --------------------------------------------


class GCounter:
    """Specification 6: one count per replica; merge takes the per-replica maximum."""

    ops = (Op.INCREMENT,)

    def __init__(self, replicas: int) -> None:
        self.replicas = replicas

    def initial(self) -> Any:
        return (0,) * self.replicas

    def update(self, p: tuple[int, ...], i: int, op: Op, dot: Dot) -> Any:
        return except_at(p, i, p[i] + 1)

    def merge(self, a: tuple[int, ...], b: tuple[int, ...]) -> Any:
        return tuple(map(max, a, b))

    def value(self, p: tuple[int, ...]) -> Any:
        return sum(p)


class PNPayload(NamedTuple):
    p: tuple[int, ...]  # increments per replica (a G-Counter)
    n: tuple[int, ...]  # decrements per replica (a G-Counter)


class PNCounter:
    """Specification 7: two G-Counters, one for increments and one for decrements."""

    ops = (Op.INCREMENT, Op.DECREMENT)

    def __init__(self, replicas: int) -> None:
        self.g = GCounter(replicas)

    def initial(self) -> Any:
        return PNPayload(self.g.initial(), self.g.initial())

    def update(self, p: PNPayload, i: int, op: Op, dot: Dot) -> Any:
        if op is Op.INCREMENT:
            return PNPayload(except_at(p.p, i, p.p[i] + 1), p.n)
        return PNPayload(p.p, except_at(p.n, i, p.n[i] + 1))

    def merge(self, a: PNPayload, b: PNPayload) -> Any:
        return PNPayload(self.g.merge(a.p, b.p), self.g.merge(a.n, b.n))

    def value(self, p: PNPayload) -> Any:
        return sum(p.p) - sum(p.n)


class LWWPayload(NamedTuple):
    timestamp: int  # a Lamport clock: one more than the newest timestamp the replica has seen
    writer: int  # the replica that wrote the value: breaks timestamp ties
    value: int


class LWWRegister:
    """Specification 8: keep the value with the greatest (timestamp, writer)."""

    ops = (Op.ASSIGN,)

    def __init__(self, replicas: int) -> None:
        pass

    def initial(self) -> Any:
        return LWWPayload(0, NO_REPLICA, 0)

    def update(self, p: LWWPayload, i: int, op: Op, dot: Dot) -> Any:
        return LWWPayload(p.timestamp + 1, i, i + 1)

    def merge(self, a: LWWPayload, b: LWWPayload) -> Any:
        return max(a, b)  # (timestamp, writer) is unique per write, so this is a total order

    def value(self, p: LWWPayload) -> Any:
        return p.value


class ORPayload(NamedTuple):
    added: frozenset[tuple[str, Dot]]  # A: every (element, unique tag) ever added
    removed: frozenset[tuple[str, Dot]]  # R: the tagged pairs removed (tombstones)


class ORSet:
    """Specification 15: add tags the element uniquely; remove tombstones the tags it has seen.

    An add concurrent with a remove wins, because the remove cannot have seen the add's tag.
    """

    ops = (Op.ADD, Op.REMOVE)

    def __init__(self, replicas: int) -> None:
        pass

    def initial(self) -> Any:
        return ORPayload(frozenset(), frozenset())

    def update(self, p: ORPayload, i: int, op: Op, dot: Dot) -> Any:
        if op is Op.ADD:
            return ORPayload(p.added | {(ELEMENT, dot)}, p.removed)
        if ELEMENT not in self.value(p):
            return None  # precondition: remove only an element the replica sees
        return ORPayload(p.added, p.removed | {a for a in p.added if a[0] == ELEMENT})

    def merge(self, a: ORPayload, b: ORPayload) -> Any:
        return ORPayload(a.added | b.added, a.removed | b.removed)

    def value(self, p: ORPayload) -> Any:
        return frozenset(e for e, _ in p.added - p.removed)


DATATYPES: dict[str, type] = {
    "g_counter": GCounter,
    "pn_counter": PNCounter,
    "lww_register": LWWRegister,
    "or_set": ORSet,
}

# -- messages and state -----------------------------------------------------------------------


class StateMsg(NamedTuple):
    """A replica's whole state, sent to ``dst``; it stays in flight (it may be delivered again)."""

    dst: int
    payload: Any
    seen: frozenset[Dot]  # ghost: the updates this state reflects


class State(NamedTuple):
    payload: tuple[Any, ...]  # payload[i]: replica i's state of the data type
    seen: tuple[frozenset[Dot], ...]  # seen[i] (ghost): the updates replica i has delivered
    msgs: frozenset[StateMsg]  # every state ever sent (the network reorders and duplicates)
    updates_done: int  # updates made so far, all replicas together (bounded by `updates`)


class CRDT(Spec):
    """State-based CRDTs (Shapiro et al. 2011): same updates, same value; merge is a join."""

    name = "crdt"

    datatype = Param("or_set", "the replicated data type", choices=tuple(DATATYPES))
    replicas = Param(2, "number of replicas", min=2, max=4)
    updates = Param(3, "number of updates in total, over all replicas", min=0, max=6)

    def setup(self) -> None:
        self.dt = self.make_datatype()
        self.REPLICA = range(self.replicas)
        self.OP = self.dt.ops
        self._laws: dict[tuple[str, frozenset[Any]], bool] = {}  # laws are pure: remember them

    def make_datatype(self) -> Any:
        """The data type's operations (variants substitute a broken one)."""
        return DATATYPES[self.datatype](self.replicas)

    def init(self):
        p = self.dt.initial()
        yield State(
            payload=(p,) * self.replicas,
            seen=(frozenset(),) * self.replicas,
            msgs=frozenset(),
            updates_done=0,
        )

    # -- actions ------------------------------------------------------------------------------

    @action(replica="REPLICA", op="OP")
    def update(self, s: State, replica: int, op: Op) -> State | None:
        """An update at its source replica: applied locally, at once, without coordination."""
        if s.updates_done >= self.updates:
            return None
        dot = (replica, sum(1 for r, _ in s.seen[replica] if r == replica))
        new = self.dt.update(s.payload[replica], replica, op, dot)
        if new is None:
            return None
        return s._replace(payload=except_at(s.payload, replica, new),
                          seen=except_at(s.seen, replica, s.seen[replica] | {dot}),
                          updates_done=s.updates_done + 1)

    @action(src="REPLICA", dst="REPLICA")
    def send(self, s: State, src: int, dst: int) -> State | None:
        """Replica src sends its whole current state to dst."""
        if src == dst:
            return None
        m = StateMsg(dst, s.payload[src], s.seen[src])
        if m in s.msgs:
            return None
        return s._replace(msgs=s.msgs | {m})

    @action(m=from_state(lambda s: sorted(s.msgs, key=_message_order)))
    def deliver(self, s: State, m: StateMsg) -> State | None:
        """The destination merges a received state into its own (the message stays in flight)."""
        i = m.dst
        merged = self.dt.merge(s.payload[i], m.payload)
        seen = s.seen[i] | m.seen
        if merged == s.payload[i] and seen == s.seen[i]:
            return None  # nothing new: a duplicate
        return s._replace(payload=except_at(s.payload, i, merged), seen=except_at(s.seen, i, seen))

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def strong_convergence(self, s: State) -> bool:
        """Replicas that have delivered the same updates have the same value (SEC)."""
        value = self.dt.value
        return all(value(s.payload[i]) == value(s.payload[j])
                   for i in self.REPLICA for j in range(i + 1, self.replicas)
                   if s.seen[i] == s.seen[j])

    @invariant
    def merge_commutative(self, s: State) -> bool:
        """merge(a, b) = merge(b, a) for every two states present (replicas and in flight)."""
        return self._law_holds("commutative", _states_present(s))

    @invariant
    def merge_associative(self, s: State) -> bool:
        """merge(a, merge(b, c)) = merge(merge(a, b), c) for every three states present."""
        return self._law_holds("associative", _states_present(s))

    @invariant
    def merge_idempotent(self, s: State) -> bool:
        """merge(a, a) = a for every state present: a duplicated delivery changes nothing."""
        return self._law_holds("idempotent", _states_present(s))

    def _law_holds(self, law: str, present: frozenset[Any]) -> bool:
        """Whether ``law`` holds for every pair (triple) drawn from ``present``.

        Laws are pure, so results are remembered per set of states. A new set is checked as
        the set without one of its members (checked the same way, and often already known, as
        neighbouring states share most of their states) plus the pairs (triples) that involve
        that member.
        """
        key = (law, present)
        ok = self._laws.get(key)
        if ok is not None:
            return ok
        new = next(iter(present))
        rest = present - {new}
        ok = (not rest or self._law_holds(law, rest)) and self._law_with(law, new, present)
        self._laws[key] = ok
        return ok

    def _law_with(self, law: str, p: Any, present: frozenset[Any]) -> bool:
        """The law on the pairs (triples) of ``present`` in which ``p`` occurs."""
        merge = self.dt.merge
        if law == "idempotent":
            return merge(p, p) == p
        if law == "commutative":
            return all(merge(p, a) == merge(a, p) for a in present)
        for a in present:
            for b in present:
                for x, y, z in ((p, a, b), (a, p, b), (a, b, p)):
                    if merge(x, merge(y, z)) != merge(merge(x, y), z):
                        return False
        return True


def _canonical(v: Any) -> Any:
    """A sort key for messages that does not depend on set iteration order (hash seeds)."""
    if isinstance(v, frozenset):
        return tuple(sorted(_canonical(x) for x in v))
    if isinstance(v, tuple):
        return tuple(_canonical(x) for x in v)
    return v


@functools.cache
def _message_order(m: StateMsg) -> Any:
    """The (remembered) sort key of a message: messages recur in many states."""
    return _canonical(m)


def _states_present(s: State) -> frozenset[Any]:
    """The distinct data-type states in ``s``: every replica's and every one in flight."""
    return frozenset(s.payload).union(m.payload for m in s.msgs)


# -- bug variants -----------------------------------------------------------------------------


class NaiveSet:
    """A plain set: add inserts, remove deletes, merge is union. Union is a lattice join, but
    remove makes the state shrink, so a merge brings a removed element back — or not, depending
    on which state reached which replica first."""

    ops = (Op.ADD, Op.REMOVE)

    def __init__(self, replicas: int) -> None:
        pass

    def initial(self) -> Any:
        return frozenset()

    def update(self, p: frozenset[str], i: int, op: Op, dot: Dot) -> Any:
        if op is Op.ADD:
            return p | {ELEMENT}
        return p - {ELEMENT} if ELEMENT in p else None

    def merge(self, a: frozenset[str], b: frozenset[str]) -> Any:
        return a | b

    def value(self, p: frozenset[str]) -> Any:
        return p


@CRDT.variant("naive_set", breaks="strong_convergence")
class NaiveSetVariant(CRDT):
    """The OR-Set replaced by a plain set merged by union: a remove is lost at some replicas."""

    datatype = Param("or_set", "the replicated data type (this variant replaces the OR-Set)",
                     choices=("or_set",))

    def make_datatype(self) -> Any:
        return NaiveSet(self.replicas)


class LWWTieKeepsLocal(LWWRegister):
    """Timestamps without the writer as tie-breaker: on equal timestamps, keep your own value."""

    def merge(self, a: LWWPayload, b: LWWPayload) -> Any:
        return b if b.timestamp > a.timestamp else a


@CRDT.variant("lww_tie_keeps_local", breaks="merge_commutative")
class LWWTieVariant(CRDT):
    """LWW-Register merge keeps the local value on a timestamp tie: concurrent writes diverge."""

    datatype = Param("lww_register", "the replicated data type (this variant's LWW-Register)",
                     choices=("lww_register",))

    def make_datatype(self) -> Any:
        return LWWTieKeepsLocal(self.replicas)


class GCounterMergeAdds(GCounter):
    """A G-Counter whose merge adds the counts instead of taking their maximum."""

    def merge(self, a: tuple[int, ...], b: tuple[int, ...]) -> Any:
        return tuple(x + y for x, y in zip(a, b))


@CRDT.variant("g_counter_merge_adds", breaks="merge_idempotent")
class GCounterAddsVariant(CRDT):
    """G-Counter whose merge adds counts: a duplicated message counts the increments twice."""

    datatype = Param("g_counter", "the replicated data type (this variant's G-Counter)",
                     choices=("g_counter",))

    def make_datatype(self) -> Any:
        return GCounterMergeAdds(self.replicas)


# Measured state counts: see docs/specs/crdt.md.
