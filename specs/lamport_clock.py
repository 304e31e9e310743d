"""Lamport clocks: a counter per process that never runs backwards along happened-before.

Source: Leslie Lamport, "Time, Clocks, and the Ordering of Events in a Distributed System"
(CACM 21(7), 1978), section 3 ("Logical Clocks"): the Clock Condition and the implementation
rules IR1 and IR2.

The idea: each process Pi keeps a counter Ci and stamps each of its events with it.
*Happened-before* (->) is the smallest relation such that a -> b if a comes before b in the same
process, or a is the sending of a message and b its receipt, closed under transitivity. The
*Clock Condition* asks that a -> b imply C(a) < C(b). Two rules give it:

* IR1: each process increments Ci between any two successive events;
* IR2: (a) a message m sent at event a carries the timestamp Tm = C(a); (b) on receiving m, the
  receiver sets Cj greater than or equal to its present value *and greater than Tm*.

Here every event increments the clock by one, and a receipt sets Cj to max(Cj, Tm) + 1.

To check the Clock Condition the spec keeps the history: per process, the list of its events
with their kind, clock value and (for a receipt) which send event it receives. Happened-before
is computed from that history alone (process order, send -> receive, transitively), never from
the clocks, so a wrong clock rule cannot hide its own mistake. The network is a set of messages
in flight (no order, no loss, no duplication); each message is received at most once.

Left out: the total order => built from the clocks and the process ids (it extends -> whenever
the Clock Condition holds, so it adds nothing to check here), and physical clocks (section 4).
Bounded: each process has at most ``events`` events.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from protospec import Param, Spec, action, action_property, except_at, from_state, invariant

# -- state ------------------------------------------------------------------------------------

NO_EVENT = -1  # "no send event": the ``src_proc``/``src_index`` of local and send events


class Kind(IntEnum):
    LOCAL = 0
    SEND = 1
    RECEIVE = 2


class Event(NamedTuple):
    """One event of a process: what it was, its clock value C(e), and what it received."""

    kind: Kind
    clock: int  # C(e): the process's clock value at this event
    src_proc: int  # for a RECEIVE: the process of the matching send event, else NO_EVENT
    src_index: int  # for a RECEIVE: that send event's position in its process, else NO_EVENT


class Message(NamedTuple):
    """A message in flight: sent by ``src`` at its event ``index`` to ``dst``, carrying Tm."""

    src: int
    index: int  # the position of the send event in src's history (identifies the message)
    dst: int
    timestamp: int  # Tm = C(send event), IR2(a)


class State(NamedTuple):
    """The processes' clocks, their histories and the network."""

    clock: tuple[int, ...]  # clock[i]: Ci, the clock of process i (its last event's value)
    history: tuple[tuple[Event, ...], ...]  # history[i]: process i's events, oldest first
    msgs: frozenset[Message]  # messages sent and not yet received


class LamportClock(Spec):
    """Lamport clocks (CACM 1978, IR1/IR2): if a happened before b then C(a) < C(b)."""

    name = "lamport_clock"

    processes = Param(3, "number of processes", min=1, max=6)
    events = Param(2, "events per process (bounds the history and every clock)", min=1, max=8)

    def setup(self) -> None:
        self.P = range(self.processes)

    def init(self):
        yield State(clock=(0,) * self.processes, history=((),) * self.processes,
                    msgs=frozenset())

    def _record(self, s: State, i: int, event: Event, msgs: frozenset[Message]) -> State:
        """Process i performs ``event``: its clock becomes C(event) and the event is recorded."""
        return State(except_at(s.clock, i, event.clock),
                     except_at(s.history, i, s.history[i] + (event,)), msgs)

    # -- actions ------------------------------------------------------------------------------

    @action(i="P")
    def local_event(self, s: State, i: int) -> State | None:
        """An internal event of process i. IR1: Ci is incremented first."""
        if len(s.history[i]) >= self.events:
            return None
        return self._record(s, i, Event(Kind.LOCAL, s.clock[i] + 1, NO_EVENT, NO_EVENT), s.msgs)

    @action(i="P", j="P")
    def send(self, s: State, i: int, j: int) -> State | None:
        """Process i sends a message to j. IR1 increments Ci; IR2(a): the message carries Ci."""
        if i == j or len(s.history[i]) >= self.events:
            return None
        c = s.clock[i] + 1
        m = Message(i, len(s.history[i]), j, c)
        return self._record(s, i, Event(Kind.SEND, c, NO_EVENT, NO_EVENT), s.msgs | {m})

    @action(m=from_state(lambda s: sorted(s.msgs)))
    def receive(self, s: State, m: Message) -> State | None:
        """Process j receives m. IR2(b): Cj becomes greater than its present value and than Tm."""
        j = m.dst
        if len(s.history[j]) >= self.events:
            return None
        c = self.receive_clock(s.clock[j], m.timestamp)
        return self._record(s, j, Event(Kind.RECEIVE, c, m.src, m.index), s.msgs - {m})

    def receive_clock(self, cj: int, tm: int) -> int:
        """The receiver's new clock value: max(Cj, Tm) + 1."""
        return max(cj, tm) + 1

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def clock_condition(self, s: State) -> bool:
        """Clock Condition: for any events a, b, if a -> b then C(a) < C(b)."""
        clocks = [e.clock for h in s.history for e in h]
        return all(clocks[a] < clocks[b]
                   for b, past in enumerate(happened_before(s.history)) for a in _bits(past))

    @action_property
    def ir1_clock_ticks(self, s: State, t: State) -> bool:
        """IR1: every event increments the clock of its process (no clock ever runs backwards)."""
        return all(t.clock[i] > s.clock[i] if len(t.history[i]) > len(s.history[i])
                   else t.clock[i] == s.clock[i] for i in self.P)


def happened_before(history: tuple[tuple[Event, ...], ...]) -> list[int]:
    """For each event (numbered process by process, oldest first) the bitmask of the events that
    happened before it: process order and send -> receive, closed under transitivity.

    Computed from the history alone, never from the clocks.
    """
    first = []  # first[i]: the number of process i's first event
    total = 0
    for h in history:
        first.append(total)
        total += len(h)
    past: list[int | None] = [None] * total

    def visit(i: int, k: int) -> int:
        n = first[i] + k
        if past[n] is None:
            mask = visit(i, k - 1) | 1 << (n - 1) if k > 0 else 0
            e = history[i][k]
            if e.kind is Kind.RECEIVE:
                src = first[e.src_proc] + e.src_index
                mask |= visit(e.src_proc, e.src_index) | 1 << src
            past[n] = mask
        return past[n]

    return [visit(i, k) for i, h in enumerate(history) for k in range(len(h))]


def _bits(mask: int):
    """The positions of the set bits of ``mask``."""
    n = 0
    while mask:
        if mask & 1:
            yield n
        mask >>= 1
        n += 1


# -- bug variants -----------------------------------------------------------------------------


@LamportClock.variant("receive_forgets_max", breaks="clock_condition")
class ReceiveForgetsMax(LamportClock):
    """On receipt the clock only ticks (Cj + 1), ignoring the message's timestamp Tm."""

    def receive_clock(self, cj: int, tm: int) -> int:
        return cj + 1


@LamportClock.variant("send_does_not_tick", breaks="ir1_clock_ticks")
class SendDoesNotTick(LamportClock):
    """A send event reuses the current clock value instead of incrementing it first (no IR1)."""

    def send(self, s: State, i: int, j: int) -> State | None:
        if i == j or len(s.history[i]) >= self.events:
            return None
        c = s.clock[i]
        m = Message(i, len(s.history[i]), j, c)
        return self._record(s, i, Event(Kind.SEND, c, NO_EVENT, NO_EVENT), s.msgs | {m})


# Measured (explorer.check, default parameters): 7,530 distinct states, depth 6, no
# violation. Other configurations and every variant's counterexample length:
# docs/specs/lamport_clock.md.
