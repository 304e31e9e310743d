"""The bounded buffer: producers and consumers synchronised by three semaphores.

Source: Edsger W. Dijkstra, "Cooperating Sequential Processes" (EWD123, 1965), section 4.3
("The Bounded Buffer"), with the semaphores P and V of section 3.2; the deadlock of section 6
("The Problem of the Deadly Embrace").

The idea: producers put portions into a circular buffer of ``capacity`` slots, consumers take
them out. Three semaphores guard it: ``empty`` counts the free slots ("number of empty
positions", initially ``capacity``), ``full`` counts the filled ones ("number of queueing
portions", initially 0), and ``mutex`` ("buffer manipulation", initially 1) makes changing the
buffer a critical section. Dijkstra's programs, one step per line::

    producer:                          consumer:
        P(empty)                           P(full)
        P(mutex)                           P(mutex)
        buf[in] := portion                 portion := buf[out]
        in := (in + 1) mod capacity        out := (out + 1) mod capacity
        V(mutex)                           V(mutex)
        V(full)                            V(empty)

P(s) waits until s > 0 and decrements it; V(s) increments it; each is one atomic step. Adding
a portion is two steps (write the slot, move ``in``), as in any real buffer: the mutex is what
keeps two producers from writing the same slot.

Each producer makes ``items`` portions (numbered, so that a lost or duplicated one can be
named); consumers take portions for as long as there are any. When every portion has been
produced and taken, the run ends (the stuttering step ``finished``, as TLA+'s Terminating):
every other state without a successor is a deadlock, which the check reports.

Properties: ``no_lost_item`` (every portion put in the buffer is taken or still there: none
was overwritten) and ``no_duplicate_item`` (no portion is taken twice), and freedom from
deadlock (``check_deadlock``).

Left out: the content of the portions and the time spent producing and processing them.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from protospec import Param, Spec, action, except_at, invariant

# -- the programs -----------------------------------------------------------------------------


class Sem(IntEnum):
    """Dijkstra's three semaphores (each also the index of its field in State)."""

    EMPTY = 0  # number of empty positions
    FULL = 1  # number of queueing portions
    MUTEX = 2  # buffer manipulation


class Op(IntEnum):
    """An instruction of a producer's or consumer's program."""

    P = 0  # P(sem): wait until sem > 0, then decrement it
    V = 1  # V(sem): increment sem
    DEPOSIT = 2  # buf[in] := portion
    ADVANCE_IN = 3  # in := (in + 1) mod capacity
    FETCH = 4  # portion := buf[out]
    ADVANCE_OUT = 5  # out := (out + 1) mod capacity


Instr = tuple[Op, Sem | None]

PRODUCER: tuple[Instr, ...] = (
    (Op.P, Sem.EMPTY), (Op.P, Sem.MUTEX), (Op.DEPOSIT, None), (Op.ADVANCE_IN, None),
    (Op.V, Sem.MUTEX), (Op.V, Sem.FULL),
)
CONSUMER: tuple[Instr, ...] = (
    (Op.P, Sem.FULL), (Op.P, Sem.MUTEX), (Op.FETCH, None), (Op.ADVANCE_OUT, None),
    (Op.V, Sem.MUTEX), (Op.V, Sem.EMPTY),
)

# -- state ------------------------------------------------------------------------------------


class State(NamedTuple):
    """The semaphores, the buffer, and each process's place in its program."""

    empty: int  # semaphore "number of empty positions" (State[Sem.EMPTY])
    full: int  # semaphore "number of queueing portions" (State[Sem.FULL])
    mutex: int  # semaphore "buffer manipulation" (State[Sem.MUTEX])
    buf: tuple[int, ...]  # buf[k]: the portion in slot k (0: none ever put there)
    in_ptr: int  # in: the slot the next portion goes into
    out_ptr: int  # out: the slot the next portion is taken from
    pc: tuple[int, ...]  # pc[i]: the next instruction of process i (producers first)
    made: tuple[int, ...]  # made[p]: portions producer p has put into the buffer
    taken: tuple[int, ...]  # every portion taken by a consumer, sorted (a bag: repeats count)


class ProducerConsumer(Spec):
    """Bounded buffer with semaphores empty/full/mutex (Dijkstra 1965): no item lost or doubled."""

    name = "producer_consumer"
    check_deadlock = True

    producers = Param(2, "number of producers", min=1, max=3)
    consumers = Param(2, "number of consumers", min=1, max=3)
    capacity = Param(2, "slots in the buffer", min=1, max=4)
    items = Param(2, "portions each producer makes", min=1, max=4)

    def producer_program(self) -> tuple[Instr, ...]:
        """The producer's program (Dijkstra's, EWD123 section 4.3)."""
        return PRODUCER

    def consumer_program(self) -> tuple[Instr, ...]:
        """The consumer's program (Dijkstra's, EWD123 section 4.3)."""
        return CONSUMER

    def setup(self) -> None:
        self.Proc = range(self.producers + self.consumers)
        self.programs = ((self.producer_program(),) * self.producers
                         + (self.consumer_program(),) * self.consumers)
        self.total = self.producers * self.items

    def init(self):
        yield State(empty=self.capacity, full=0, mutex=1, buf=(0,) * self.capacity, in_ptr=0,
                    out_ptr=0, pc=(0,) * len(self.Proc), made=(0,) * self.producers, taken=())

    # -- helpers ------------------------------------------------------------------------------

    def current(self, s: State, i: int) -> Instr | None:
        """The instruction process i executes next (None: the producer is done)."""
        program = self.programs[i]
        return program[s.pc[i]] if s.pc[i] < len(program) else None

    def next_pc(self, s: State, i: int, made: tuple[int, ...]) -> tuple[int, ...]:
        """pc after process i's instruction: the next line, or back to the top of the loop
        (a producer that has made all its portions stops)."""
        pc = s.pc[i] + 1
        if pc == len(self.programs[i]):
            pc = len(self.programs[i]) if i < self.producers and made[i] == self.items else 0
        return except_at(s.pc, i, pc)

    def portion(self, p: int, k: int) -> int:
        """The number of producer p's k-th portion (1, 2, ...: 0 marks an unused slot)."""
        return p * self.items + k + 1

    # -- actions ------------------------------------------------------------------------------

    @action(i="Proc", sem=lambda self: list(Sem))
    def P(self, s: State, i: int, sem: Sem) -> State | None:
        """P(sem): process i waits until the semaphore is positive, then decrements it."""
        if self.current(s, i) != (Op.P, sem) or s[sem] == 0:
            return None
        return s._replace(**{sem.name.lower(): s[sem] - 1}, pc=self.next_pc(s, i, s.made))

    @action(i="Proc", sem=lambda self: list(Sem))
    def V(self, s: State, i: int, sem: Sem) -> State | None:
        """V(sem): process i increments the semaphore."""
        if self.current(s, i) != (Op.V, sem):
            return None
        return s._replace(**{sem.name.lower(): s[sem] + 1}, pc=self.next_pc(s, i, s.made))

    @action(p=lambda self: range(self.producers))
    def deposit(self, s: State, p: int) -> State | None:
        """buf[in] := portion: producer p writes its next portion into slot in."""
        if self.current(s, p) != (Op.DEPOSIT, None):
            return None
        made = except_at(s.made, p, s.made[p] + 1)
        buf = except_at(s.buf, s.in_ptr, self.portion(p, s.made[p]))
        return State(s.empty, s.full, s.mutex, buf, s.in_ptr, s.out_ptr,
                     self.next_pc(s, p, made), made, s.taken)

    @action(p=lambda self: range(self.producers))
    def advance_in(self, s: State, p: int) -> State | None:
        """in := (in + 1) mod capacity: producer p moves past the slot it filled."""
        if self.current(s, p) != (Op.ADVANCE_IN, None):
            return None
        return State(s.empty, s.full, s.mutex, s.buf, (s.in_ptr + 1) % self.capacity, s.out_ptr,
                     self.next_pc(s, p, s.made), s.made, s.taken)

    @action(c=lambda self: range(self.consumers))
    def fetch(self, s: State, c: int) -> State | None:
        """portion := buf[out]: consumer c takes the portion in slot out."""
        i = self.producers + c
        if self.current(s, i) != (Op.FETCH, None):
            return None
        taken = tuple(sorted((*s.taken, s.buf[s.out_ptr])))
        return State(s.empty, s.full, s.mutex, s.buf, s.in_ptr, s.out_ptr,
                     self.next_pc(s, i, s.made), s.made, taken)

    @action(c=lambda self: range(self.consumers))
    def advance_out(self, s: State, c: int) -> State | None:
        """out := (out + 1) mod capacity: consumer c frees the slot it emptied."""
        i = self.producers + c
        if self.current(s, i) != (Op.ADVANCE_OUT, None):
            return None
        return State(s.empty, s.full, s.mutex, s.buf, s.in_ptr, (s.out_ptr + 1) % self.capacity,
                     self.next_pc(s, i, s.made), s.made, s.taken)

    @action
    def finished(self, s: State) -> State | None:
        """Every portion has been made and taken, and every consumer waits at P(full) for
        more: the run is over (a stuttering step, so that the end is not a deadlock)."""
        if sum(s.made) != self.total or len(s.taken) != self.total or s.full != 0:
            return None
        if any(s.pc[i] != 0 for i in self.Proc[self.producers:]):
            return None
        return s

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def no_lost_item(self, s: State) -> bool:
        """Every portion put into the buffer has been taken or is still in it: none was
        overwritten before a consumer took it."""
        present = set(s.buf) | set(s.taken)
        return all(self.portion(p, k) in present
                   for p in range(self.producers) for k in range(s.made[p]))

    @invariant
    def no_duplicate_item(self, s: State) -> bool:
        """No portion is taken twice."""
        return all(a != b for a, b in zip(s.taken, s.taken[1:]))

    # -- chart hooks (optional; see explorer/chart_hints.py) ---------------------------------

    def chart_processes(self) -> list[str]:
        """The producers, then the consumers."""
        return ([f"producer {p}" for p in range(self.producers)]
                + [f"consumer {c}" for c in range(self.consumers)])

    def chart_lane(self, action: str, args: dict) -> str | None:
        """The process named in the step's argument."""
        if "p" in args:
            return f"producer {args['p']}"
        if "c" in args:
            return f"consumer {args['c']}"
        if "i" in args:
            i = args["i"]
            return (f"producer {i}" if i < self.producers
                    else f"consumer {i - self.producers}")
        return None


# -- bug variants -----------------------------------------------------------------------------


@ProducerConsumer.variant("swapped_semaphores", breaks="deadlock")
class SwappedSemaphores(ProducerConsumer):
    """The producer does P(mutex) before P(empty): on a full buffer everyone waits for ever.

    The producer waits for an empty slot inside the critical section, and no consumer can get
    in to empty one."""

    def producer_program(self) -> tuple[Instr, ...]:
        return (PRODUCER[1], PRODUCER[0]) + PRODUCER[2:]


@ProducerConsumer.variant("no_mutex", breaks="no_lost_item")
class NoMutex(ProducerConsumer):
    """No mutex around the buffer: two producers write the same slot and a portion is lost.

    Both write slot ``in`` before either moves ``in`` on, so the first portion is
    overwritten."""

    def producer_program(self) -> tuple[Instr, ...]:
        return tuple(x for x in PRODUCER if x[1] is not Sem.MUTEX)

    def consumer_program(self) -> tuple[Instr, ...]:
        return tuple(x for x in CONSUMER if x[1] is not Sem.MUTEX)


@ProducerConsumer.variant("consumers_without_mutex", breaks="no_duplicate_item")
class ConsumersWithoutMutex(ProducerConsumer):
    """The consumers leave the mutex out: two read the same slot and a portion is taken twice.

    Both read slot ``out`` before either moves ``out`` on."""

    def consumer_program(self) -> tuple[Instr, ...]:
        return tuple(x for x in CONSUMER if x[1] is not Sem.MUTEX)


# Measured (explorer.check, default parameters): 1,448 distinct states, depth 48, no violation
# and no deadlock; swapped_semaphores deadlocks in 15 steps, no_mutex loses a portion in 4,
# consumers_without_mutex doubles one in 16. Other configurations:
# docs/specs/producer_consumer.md.
