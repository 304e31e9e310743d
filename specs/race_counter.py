"""A shared counter incremented by several threads: the lost update, and its fix with a lock.

Source: the ``count++`` race of Abraham Silberschatz, Peter B. Galvin and Greg Gagne,
"Operating System Concepts" (10th edition, Wiley, 2018), section 6.1 ("Background"):
``count++`` is three machine instructions, ``register = count; register = register + 1;
count = register``, and two threads interleaving them can both read the same value and both
store it plus one, so one increment is lost. The remedy, a critical section around the three
instructions, is the mutual exclusion problem of Edsger W. Dijkstra, "Solution of a Problem in
Concurrent Programming Control" (CACM 8(9), 1965), here solved by a lock (a binary semaphore:
Dijkstra, "Cooperating Sequential Processes", EWD123, 1965, section 3.2).

The idea: each of ``threads`` threads increments the shared ``counter`` ``increments`` times.
An increment is ``acquire`` the lock, ``load`` the counter into the thread's register, ``add``
one to the register, ``store`` the register back, ``release`` the lock. Each instruction is
one atomic step; between any two, any other thread may run.

Properties: ``no_lost_update`` (the counter always equals the number of stores done: no store
overwrote another thread's) and ``final_count`` (once every thread has finished, the counter
is ``threads * increments``).

Left out: memory models weaker than sequential consistency (caches, reordering), where even
a single ``store`` is not seen at once by the other threads.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from protospec import Param, Spec, action, except_at, invariant

# -- state ------------------------------------------------------------------------------------


class PC(IntEnum):
    """Where a thread is in its loop: the instruction it executes next."""

    ACQUIRE = 0  # lock.acquire()
    LOAD = 1  # register = count
    ADD = 2  # register = register + 1
    STORE = 3  # count = register
    RELEASE = 4  # lock.release()
    DONE = 5  # every increment made


NO_ONE = -1  # the lock's holder when it is free


class State(NamedTuple):
    """The shared counter and lock, and each thread's program counter and register."""

    counter: int  # count: the shared counter
    holder: int  # the thread holding the lock, or NO_ONE
    pc: tuple[PC, ...]  # pc[t]: the next instruction of thread t
    register: tuple[int, ...]  # register[t]: thread t's private copy of the counter
    done: tuple[int, ...]  # done[t]: increments thread t has stored (a ghost: for the property)


class RaceCounter(Spec):
    """Shared counter, read-increment-write: with a lock no increment is lost (no lost update)."""

    name = "race_counter"

    threads = Param(3, "number of threads", min=1, max=4)
    increments = Param(2, "increments each thread makes", min=1, max=4)

    def setup(self) -> None:
        self.T = range(self.threads)

    def init(self):
        n = self.threads
        yield State(counter=0, holder=NO_ONE, pc=(PC.ACQUIRE,) * n, register=(0,) * n,
                    done=(0,) * n)

    # -- actions: the five instructions of one increment --------------------------------------

    @action(t="T")
    def acquire(self, s: State, t: int) -> State | None:
        """lock.acquire(): thread t takes the lock, waiting while another thread holds it."""
        if s.pc[t] is not PC.ACQUIRE or s.holder != NO_ONE:
            return None
        return State(s.counter, t, except_at(s.pc, t, PC.LOAD), s.register, s.done)

    @action(t="T")
    def load(self, s: State, t: int) -> State | None:
        """register = count: thread t reads the shared counter."""
        if s.pc[t] is not PC.LOAD:
            return None
        return State(s.counter, s.holder, except_at(s.pc, t, PC.ADD),
                     except_at(s.register, t, s.counter), s.done)

    @action(t="T")
    def add(self, s: State, t: int) -> State | None:
        """register = register + 1: thread t increments its private copy."""
        if s.pc[t] is not PC.ADD:
            return None
        return State(s.counter, s.holder, except_at(s.pc, t, PC.STORE),
                     except_at(s.register, t, s.register[t] + 1), s.done)

    @action(t="T")
    def store(self, s: State, t: int) -> State | None:
        """count = register: thread t writes its copy back to the shared counter."""
        if s.pc[t] is not PC.STORE:
            return None
        return State(s.register[t], s.holder, except_at(s.pc, t, PC.RELEASE), s.register,
                     except_at(s.done, t, s.done[t] + 1))

    @action(t="T")
    def release(self, s: State, t: int) -> State | None:
        """lock.release(): thread t frees the lock and starts its next increment, if any."""
        if s.pc[t] is not PC.RELEASE:
            return None
        after = PC.DONE if s.done[t] == self.increments else PC.ACQUIRE
        return State(s.counter, NO_ONE, except_at(s.pc, t, after), s.register, s.done)

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def no_lost_update(self, s: State) -> bool:
        """The counter equals the number of increments stored so far: no store overwrote
        another thread's increment."""
        return s.counter == sum(s.done)

    @invariant
    def final_count(self, s: State) -> bool:
        """Once every thread has finished, the counter is threads * increments."""
        return any(pc is not PC.DONE for pc in s.pc) or \
            s.counter == self.threads * self.increments

    # -- chart hooks (optional; see explorer/chart_hints.py) ---------------------------------

    def chart_processes(self) -> list[str]:
        """One lane per thread."""
        return [f"thread {t}" for t in self.T]

    def chart_lane(self, action: str, args: dict) -> str | None:
        """Every instruction is executed by the thread named in its argument."""
        return f"thread {args['t']}" if "t" in args else None


# -- bug variants -----------------------------------------------------------------------------


@RaceCounter.variant("no_lock", breaks="no_lost_update")
class NoLock(RaceCounter):
    """count++ without the lock: two threads load the same value and one increment is lost."""

    def init(self):
        n = self.threads
        yield State(counter=0, holder=NO_ONE, pc=(PC.LOAD,) * n, register=(0,) * n,
                    done=(0,) * n)

    def acquire(self, s: State, t: int) -> State | None:
        return None  # never taken

    def store(self, s: State, t: int) -> State | None:
        if s.pc[t] is not PC.STORE:
            return None
        after = PC.DONE if s.done[t] + 1 == self.increments else PC.LOAD
        return State(s.register[t], s.holder, except_at(s.pc, t, after), s.register,
                     except_at(s.done, t, s.done[t] + 1))


@RaceCounter.variant("lock_around_load_only", breaks="no_lost_update")
class LockAroundLoadOnly(RaceCounter):
    """The lock is released after the load, before the store: an increment is still lost.

    The read-modify-write is still not atomic: another thread can load between the first
    thread's load and store."""

    def load(self, s: State, t: int) -> State | None:
        if s.pc[t] is not PC.LOAD:
            return None
        return State(s.counter, NO_ONE, except_at(s.pc, t, PC.ADD),
                     except_at(s.register, t, s.counter), s.done)

    def release(self, s: State, t: int) -> State | None:
        if s.pc[t] is not PC.RELEASE:
            return None
        after = PC.DONE if s.done[t] == self.increments else PC.ACQUIRE
        return State(s.counter, s.holder, except_at(s.pc, t, after), s.register, s.done)


# Measured (explorer.check, default parameters): 931 distinct states, depth 30, no violation;
# no_lock caught in 6 steps, lock_around_load_only in 8. Other configurations:
# docs/specs/race_counter.md.
