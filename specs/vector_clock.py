"""Vector clocks: timestamps whose order is exactly happened-before.

Sources: Colin Fidge, "Timestamps in Message-Passing Systems That Preserve the Partial Ordering"
(Proc. 11th Australian Computer Science Conference, 1988), and Friedemann Mattern, "Virtual
Time and Global States of Distributed Systems" (Parallel and Distributed Algorithms, 1989),
section 4 ("Vector time"), whose Theorem (characterisation of causality) is checked here.

The idea: Lamport clocks only give a -> b => C(a) < C(b); the converse fails, so a Lamport
clock cannot tell concurrent events from ordered ones. A vector clock keeps one counter per
process: V[i] at process i counts i's own events, and V[j] the events of j that i has heard of.

* local and send events: process i increments its own entry V[i]; a message carries V;
* a receipt at j: V := componentwise max(V, Vm), then j increments its own entry V[j].

Vectors are ordered componentwise: V <= W iff every V[k] <= W[k]; V < W iff V <= W and V != W.
Mattern's theorem: a -> b iff V(a) < V(b), and so a || b (concurrent: neither a -> b nor
b -> a) iff V(a) and V(b) are incomparable.

The spec keeps each process's history (kind, vector, and for a receipt which send it receives);
happened-before is computed from that history alone (process order, send -> receive,
transitively), never from the vectors. The network is a set of messages in flight (no order,
no loss, no duplication); each message is received at most once.

Left out: the optimisations that send only changed entries (Singhal-Kshemkalyani) and matrix
clocks. Bounded: each process has at most ``events`` events.
"""

from __future__ import annotations

from typing import NamedTuple

from protospec import Param, Spec, action, except_at, from_state, invariant

# The events and their happened-before relation are those of lamport_clock: only the clock
# each event carries differs.
from protospec.specs.lamport_clock import Kind, happened_before

# -- state ------------------------------------------------------------------------------------

NO_EVENT = -1  # "no send event": the ``src_proc``/``src_index`` of local and send events


class Event(NamedTuple):
    """One event of a process: what it was, its vector timestamp V(e), and what it received."""

    kind: Kind
    vc: tuple[int, ...]  # V(e): the process's vector clock at this event
    src_proc: int  # for a RECEIVE: the process of the matching send event, else NO_EVENT
    src_index: int  # for a RECEIVE: that send event's position in its process, else NO_EVENT


class Message(NamedTuple):
    """A message in flight: sent by ``src`` at its event ``index`` to ``dst``, carrying Vm."""

    src: int
    index: int  # the position of the send event in src's history (identifies the message)
    dst: int
    vc: tuple[int, ...]  # Vm = V(send event)


class State(NamedTuple):
    """The processes' vector clocks, their histories and the network."""

    vc: tuple[tuple[int, ...], ...]  # vc[i]: process i's vector clock (its last event's vector)
    history: tuple[tuple[Event, ...], ...]  # history[i]: process i's events, oldest first
    msgs: frozenset[Message]  # messages sent and not yet received


class VectorClock(Spec):
    """Vector clocks (Fidge, Mattern): a -> b iff V(a) < V(b); concurrent iff incomparable."""

    name = "vector_clock"

    processes = Param(3, "number of processes", min=1, max=6)
    events = Param(2, "events per process (bounds the history and every vector entry)",
                   min=1, max=8)

    def setup(self) -> None:
        self.P = range(self.processes)

    def init(self):
        zero = (0,) * self.processes
        yield State(vc=(zero,) * self.processes, history=((),) * self.processes,
                    msgs=frozenset())

    def _record(self, s: State, i: int, event: Event, msgs: frozenset[Message]) -> State:
        """Process i performs ``event``: its clock becomes V(event) and the event is recorded."""
        return State(
            except_at(s.vc, i, event.vc), except_at(s.history, i, s.history[i] + (event,)), msgs
        )

    # -- actions ------------------------------------------------------------------------------

    @action(i="P")
    def local_event(self, s: State, i: int) -> State | None:
        """An internal event of process i: V[i] := V[i] + 1."""
        if len(s.history[i]) >= self.events:
            return None
        v = _tick(s.vc[i], i)
        return self._record(s, i, Event(Kind.LOCAL, v, NO_EVENT, NO_EVENT), s.msgs)

    @action(i="P", j="P")
    def send(self, s: State, i: int, j: int) -> State | None:
        """Process i sends to j: V[i] := V[i] + 1, and the message carries V."""
        if i == j or len(s.history[i]) >= self.events:
            return None
        v = _tick(s.vc[i], i)
        m = Message(i, len(s.history[i]), j, v)
        return self._record(s, i, Event(Kind.SEND, v, NO_EVENT, NO_EVENT), s.msgs | {m})

    @action(m=from_state(lambda s: sorted(s.msgs)))
    def receive(self, s: State, m: Message) -> State | None:
        """Process j receives m: V := max(V, Vm) componentwise, then V[j] := V[j] + 1."""
        j = m.dst
        if len(s.history[j]) >= self.events:
            return None
        v = self.receive_vc(s.vc[j], m.vc, j)
        return self._record(s, j, Event(Kind.RECEIVE, v, m.src, m.index), s.msgs - {m})

    def receive_vc(self, v: tuple[int, ...], vm: tuple[int, ...], j: int) -> tuple[int, ...]:
        """The receiver's new vector: the componentwise max, then its own entry ticks."""
        return _tick(tuple(map(max, v, vm)), j)

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def hb_iff_vc_less(self, s: State) -> bool:
        """For any events a, b: a -> b if and only if V(a) < V(b) (Mattern's characterisation)."""
        vcs = [e.vc for h in s.history for e in h]
        past = happened_before(s.history)
        return all((past[b] >> a & 1 == 1) == _less(vcs[a], vcs[b])
                   for a in range(len(vcs)) for b in range(len(vcs)))

    @invariant
    def concurrent_iff_incomparable(self, s: State) -> bool:
        """For distinct events a, b: a || b (neither happened before the other) if and only if
        V(a) and V(b) are incomparable (neither V(a) <= V(b) nor V(b) <= V(a))."""
        vcs = [e.vc for h in s.history for e in h]
        past = happened_before(s.history)
        for b in range(len(vcs)):
            for a in range(b):
                concurrent = not (past[b] >> a & 1 or past[a] >> b & 1)
                incomparable = not (_leq(vcs[a], vcs[b]) or _leq(vcs[b], vcs[a]))
                if concurrent != incomparable:
                    return False
        return True


def _tick(v: tuple[int, ...], i: int) -> tuple[int, ...]:
    """v with entry i incremented."""
    return v[:i] + (v[i] + 1,) + v[i + 1:]


def _leq(v: tuple[int, ...], w: tuple[int, ...]) -> bool:
    return all(a <= b for a, b in zip(v, w))


def _less(v: tuple[int, ...], w: tuple[int, ...]) -> bool:
    return v != w and _leq(v, w)


# -- bug variants -----------------------------------------------------------------------------


@VectorClock.variant("receive_forgets_increment", breaks="hb_iff_vc_less")
class ReceiveForgetsIncrement(VectorClock):
    """On receipt the vector is merged (componentwise max) but the receiver's own entry does not
    tick, so a receipt can carry the very vector of the send it receives."""

    def receive_vc(self, v: tuple[int, ...], vm: tuple[int, ...], j: int) -> tuple[int, ...]:
        return tuple(map(max, v, vm))


# Measured (explorer.check, default parameters): 7,530 distinct states, depth 6, no
# violation. Other configurations and every variant's counterexample length:
# docs/specs/vector_clock.md.
