"""Readers and writers: many readers or one writer, with semaphores (Courtois, Heymans, Parnas).

Source: P. J. Courtois, F. Heymans and D. L. Parnas, "Concurrent Control with 'Readers' and
'Writers'" (CACM 14(10), 1971): Problem 1 (readers' priority: "no reader shall be kept waiting
unless a writer has already obtained permission to use the resource") and Problem 2 (writers'
priority: "once a writer is ready to write, he performs his 'write' as soon as possible"),
with their semaphore programs, P and V as in Dijkstra's EWD123 (1965), section 3.2.

The idea: readers may share the resource, a writer needs it alone. In Problem 1 the first
reader in locks writers out (``P(w)``) and the last reader out lets them in again
(``V(w)``); ``readcount`` counts the readers inside and ``mutex`` protects it::

    reader:                                  writer:
        P(mutex)                                 P(w)
        readcount := readcount + 1               ... write ...
        if readcount = 1 then P(w)               V(w)
        V(mutex)
        ... read ...
        P(mutex)
        readcount := readcount - 1
        if readcount = 0 then V(w)
        V(mutex)

Problem 2 adds ``writecount`` and semaphores ``r`` (a waiting writer closes the door to new
readers), ``mutex 2`` (protects writecount) and ``mutex 3`` (at most one reader queues on
``r``); its ``mutex 1`` is Problem 1's ``mutex``. The spec is Problem 2; Problem 1 is the
variant ``readers_priority``, since its writers can starve. Each line is one atomic step;
the test of ``if`` is a step of its own (``test``), and the P or V it guards the next step,
as in a program.

Properties: ``no_reader_with_writer`` and ``one_writer``, freedom from deadlock
(``check_deadlock``: every process loops for ever), and the liveness property
``writers_eventually_write``: a writer that wants to write eventually writes, when P is
strongly fair (a semaphore that is positive again and again is eventually taken by a process
that keeps waiting on it) and every other step weakly fair. Problem 2 has it; in Problem 1
readers that keep overlapping keep ``readcount`` above zero and a writer out for ever.
(Problem 2 in turn can starve readers: that is the price of its priority, and not a property
claimed here.)

Left out: what is read and written, and the time it takes.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from protospec import Param, Spec, action, except_at, invariant, leads_to, liveness

# -- the programs -----------------------------------------------------------------------------


class Var(IntEnum):
    """The shared variables; each value is also the index of the variable's field in State."""

    MUTEX_1 = 0  # semaphore "mutex" of Problem 1, "mutex 1" of Problem 2
    MUTEX_2 = 1  # semaphore "mutex 2" (Problem 2): protects writecount
    MUTEX_3 = 2  # semaphore "mutex 3" (Problem 2): one reader at a time queues on r
    W = 3  # semaphore "w": held by a writer, or by the readers as a group
    R = 4  # semaphore "r" (Problem 2): held while writers are waiting or writing
    READCOUNT = 5  # readers inside (between the two critical sections on mutex 1)
    WRITECOUNT = 6  # writers waiting or writing (Problem 2)


SEMAPHORES = (Var.MUTEX_1, Var.MUTEX_2, Var.MUTEX_3, Var.W, Var.R)
COUNTERS = (Var.READCOUNT, Var.WRITECOUNT)


class Op(IntEnum):
    P = 0  # P(sem)
    V = 1  # V(sem)
    INCREMENT = 2  # var := var + 1
    DECREMENT = 3  # var := var - 1
    TEST = 4  # if var = k then (the next instruction) else skip it
    READ = 5  # a reader at this line is reading; the step is its end
    WRITE = 6  # a writer at this line is writing; the step is its end


Instr = tuple[Op, Var | None, int]

M1, M2, M3, W, R, RC, WC = Var

READER_1: tuple[Instr, ...] = (
    (Op.P, M1, 0), (Op.INCREMENT, RC, 0), (Op.TEST, RC, 1), (Op.P, W, 0), (Op.V, M1, 0),
    (Op.READ, None, 0),
    (Op.P, M1, 0), (Op.DECREMENT, RC, 0), (Op.TEST, RC, 0), (Op.V, W, 0), (Op.V, M1, 0),
)
WRITER_1: tuple[Instr, ...] = ((Op.P, W, 0), (Op.WRITE, None, 0), (Op.V, W, 0))

READER_2: tuple[Instr, ...] = (
    (Op.P, M3, 0), (Op.P, R, 0), (Op.P, M1, 0), (Op.INCREMENT, RC, 0), (Op.TEST, RC, 1),
    (Op.P, W, 0), (Op.V, M1, 0), (Op.V, R, 0), (Op.V, M3, 0),
    (Op.READ, None, 0),
    (Op.P, M1, 0), (Op.DECREMENT, RC, 0), (Op.TEST, RC, 0), (Op.V, W, 0), (Op.V, M1, 0),
)
WRITER_2: tuple[Instr, ...] = (
    (Op.P, M2, 0), (Op.INCREMENT, WC, 0), (Op.TEST, WC, 1), (Op.P, R, 0), (Op.V, M2, 0),
    (Op.P, W, 0), (Op.WRITE, None, 0), (Op.V, W, 0),
    (Op.P, M2, 0), (Op.DECREMENT, WC, 0), (Op.TEST, WC, 0), (Op.V, R, 0), (Op.V, M2, 0),
)

# -- state ------------------------------------------------------------------------------------


class State(NamedTuple):
    """The shared variables (in the order of Var) and each process's next line."""

    mutex_1: int
    mutex_2: int
    mutex_3: int
    w: int
    r: int
    readcount: int
    writecount: int
    pc: tuple[int, ...]  # pc[i]: the next line of process i (readers first, then writers)


class ReadersWriters(Spec):
    """Readers-writers lock (Courtois, Heymans, Parnas 1971): writers alone, and none starves."""

    name = "readers_writers"
    check_deadlock = True

    readers = Param(2, "number of readers", min=1, max=4)
    writers = Param(2, "number of writers", min=1, max=3)

    def reader_program(self) -> tuple[Instr, ...]:
        """The reader's program: Problem 2's (writers' priority)."""
        return READER_2

    def writer_program(self) -> tuple[Instr, ...]:
        """The writer's program: Problem 2's (writers' priority)."""
        return WRITER_2

    def setup(self) -> None:
        self.Proc = range(self.readers + self.writers)
        self.programs = ((self.reader_program(),) * self.readers
                         + (self.writer_program(),) * self.writers)

    def init(self):
        yield State(mutex_1=1, mutex_2=1, mutex_3=1, w=1, r=1, readcount=0, writecount=0,
                    pc=(0,) * len(self.Proc))

    # -- helpers ------------------------------------------------------------------------------

    def at(self, s: State, i: int) -> Instr:
        return self.programs[i][s.pc[i]]

    def goto(self, s: State, i: int, lines: int = 1) -> tuple[int, ...]:
        """pc after process i moves ``lines`` lines on (round to the top: processes loop)."""
        return except_at(s.pc, i, (s.pc[i] + lines) % len(self.programs[i]))

    def is_reading(self, s: State, i: int) -> bool:
        return i < self.readers and self.at(s, i)[0] is Op.READ

    def is_writing(self, s: State, i: int) -> bool:
        return i >= self.readers and self.at(s, i)[0] is Op.WRITE

    # -- actions ------------------------------------------------------------------------------

    @action(i="Proc", sem=lambda self: SEMAPHORES, fair="strong")
    def P(self, s: State, i: int, sem: Var) -> State | None:
        """P(sem): process i waits until the semaphore is positive, then decrements it."""
        op, var, _ = self.at(s, i)
        if op is not Op.P or var != sem or s[sem] == 0:
            return None
        return s._replace(**{sem.name.lower(): s[sem] - 1}, pc=self.goto(s, i))

    @action(i="Proc", sem=lambda self: SEMAPHORES, fair="weak")
    def V(self, s: State, i: int, sem: Var) -> State | None:
        """V(sem): process i increments the semaphore."""
        op, var, _ = self.at(s, i)
        if op is not Op.V or var != sem:
            return None
        return s._replace(**{sem.name.lower(): s[sem] + 1}, pc=self.goto(s, i))

    @action(i="Proc", var=lambda self: COUNTERS, fair="weak")
    def increment(self, s: State, i: int, var: Var) -> State | None:
        """readcount := readcount + 1 (or writecount)."""
        op, v, _ = self.at(s, i)
        if op is not Op.INCREMENT or v != var:
            return None
        return s._replace(**{var.name.lower(): s[var] + 1}, pc=self.goto(s, i))

    @action(i="Proc", var=lambda self: COUNTERS, fair="weak")
    def decrement(self, s: State, i: int, var: Var) -> State | None:
        """readcount := readcount - 1 (or writecount)."""
        op, v, _ = self.at(s, i)
        if op is not Op.DECREMENT or v != var:
            return None
        return s._replace(**{var.name.lower(): s[var] - 1}, pc=self.goto(s, i))

    @action(i="Proc", var=lambda self: COUNTERS, fair="weak")
    def test(self, s: State, i: int, var: Var) -> State | None:
        """if var = k then ...: process i reads the counter now, and goes on to the guarded
        P or V only if it equals k (else it skips that line)."""
        op, v, k = self.at(s, i)
        if op is not Op.TEST or v != var:
            return None
        return s._replace(pc=self.goto(s, i, 1 if s[var] == k else 2))

    @action(i=lambda self: range(self.readers), fair="weak")
    def read(self, s: State, i: int) -> State | None:
        """Reader i finishes reading."""
        if not self.is_reading(s, i):
            return None
        return s._replace(pc=self.goto(s, i))

    @action(i=lambda self: range(self.readers, self.readers + self.writers), fair="weak")
    def write(self, s: State, i: int) -> State | None:
        """Writer i finishes writing."""
        if not self.is_writing(s, i):
            return None
        return s._replace(pc=self.goto(s, i))

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def no_reader_with_writer(self, s: State) -> bool:
        """No reader reads while a writer writes."""
        return not (any(self.is_reading(s, i) for i in self.Proc)
                    and any(self.is_writing(s, i) for i in self.Proc))

    @invariant
    def one_writer(self, s: State) -> bool:
        """At most one writer writes at a time."""
        return sum(self.is_writing(s, i) for i in self.Proc) <= 1

    @liveness
    def writers_eventually_write(self):
        """Every writer that wants to write eventually writes."""
        return leads_to(lambda s, i: s.pc[i] == 0, lambda s, i: self.is_writing(s, i),
                        over=range(self.readers, self.readers + self.writers))

    # -- chart hooks (optional; see explorer/chart_hints.py) ---------------------------------

    def chart_processes(self) -> list[str]:
        """The readers, then the writers."""
        return [self.process_name(i) for i in self.Proc]

    def process_name(self, i: int) -> str:
        return f"reader {i}" if i < self.readers else f"writer {i - self.readers}"

    def chart_lane(self, action: str, args: dict) -> str | None:
        """The process named in the step's argument."""
        return self.process_name(args["i"]) if "i" in args else None


# -- bug variants -----------------------------------------------------------------------------


def _without_mutex_1(program: tuple[Instr, ...], section: slice) -> tuple[Instr, ...]:
    """The program with P(mutex 1) and V(mutex 1) left out of the lines in ``section``."""
    lines = range(len(program))[section]
    return tuple(x for n, x in enumerate(program)
                 if not (n in lines and x[0] in (Op.P, Op.V) and x[1] is M1))


@ReadersWriters.variant("readers_priority", breaks="writers_eventually_write")
class ReadersPriority(ReadersWriters):
    """Problem 1, readers' priority: overlapping readers starve a waiting writer.

    Readers that keep overlapping keep readcount above zero, so w is never released (safety
    holds)."""

    def reader_program(self) -> tuple[Instr, ...]:
        return READER_1

    def writer_program(self) -> tuple[Instr, ...]:
        return WRITER_1


@ReadersWriters.variant("entry_without_mutex", breaks="no_reader_with_writer")
class EntryWithoutMutex(ReadersPriority):
    """Problem 1's readers count themselves in without the mutex: one reads beside a writer.

    Two readers both increment readcount before either tests it, neither sees readcount = 1,
    and nobody waits for the writer who holds w."""

    def reader_program(self) -> tuple[Instr, ...]:
        return _without_mutex_1(READER_1, slice(0, 6))


@ReadersWriters.variant("exit_without_mutex", breaks="one_writer")
class ExitWithoutMutex(ReadersPriority):
    """Problem 1's readers count themselves out without the mutex: two writers get in.

    Both decrement before either tests, both see readcount = 0, and w is signalled twice."""

    # The same race also deadlocks (a reader entering under the mutex tests readcount just as
    # one leaving without it has changed it, and waits on w inside the mutex): 11 steps with
    # --deadlock. Off here, so that the check hunts down the two writers this variant is about.
    check_deadlock = False

    def reader_program(self) -> tuple[Instr, ...]:
        return _without_mutex_1(READER_1, slice(len(READER_1) - 5, None))


# Measured (explorer.check, default parameters): 1,969 distinct states, depth 34, no violation,
# no deadlock, no starving writer; readers_priority (85 states) starves a writer in a 23-step
# lasso, entry_without_mutex is caught in 4 steps, exit_without_mutex in 19. Other
# configurations: docs/specs/readers_writers.md.
