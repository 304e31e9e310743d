"""The dining philosophers: deadlock when everyone takes the left fork first, and two fixes.

Source: Edsger W. Dijkstra, "Hierarchical Ordering of Sequential Processes" (Acta Informatica
1(2), 1971; EWD310), where the five dining philosophers illustrate the deadly embrace of
"Cooperating Sequential Processes" (EWD123, 1965, section 6); the fix by *resource ordering*
is J. W. Havender's, "Avoiding Deadlock in Multitasking Systems" (IBM Systems Journal 7(2),
1968): take resources in one global order; the fix by a *waiter* (Hoare's footman) is in
C. A. R. Hoare, "Communicating Sequential Processes" (Prentice Hall, 1985), section 2.5: at
most N - 1 philosophers may sit at the table at once.

The idea: N philosophers sit at a round table with one fork between each pair of neighbours;
philosopher i's left fork is fork i, its right fork is fork (i + 1) mod N. A philosopher
thinks, gets hungry, takes one fork, then the other, eats, and puts both down. Taking a fork
is one atomic step and waits while a neighbour holds it. If every philosopher takes the left
fork first, they can all hold one fork and wait for ever for the second: a deadlock. Two fixes,
chosen by the parameter ``fix``:

* ``ordering``: every philosopher takes the lower-numbered of its two forks first, so the last
  philosopher takes its right fork (fork 0) first and the cycle of waiting cannot close;
* ``waiter``: philosophers take the left fork first, but a waiter lets at most N - 1 of them
  be at the table (hungry or eating) at once, so one of them always gets both forks.

Properties: ``neighbours_never_eat_together`` and ``eating_holds_both_forks`` (each fork in
one hand at a time), freedom from deadlock (``check_deadlock``), and the liveness property
``no_starvation``: every hungry philosopher eventually eats, when taking a fork is strongly
fair (a fork that keeps coming back to the table is eventually taken by a philosopher who keeps
waiting for it) and putting forks down is weakly fair (nobody eats for ever). Getting hungry
is not fair: a philosopher may think for ever.

Left out: the time spent thinking and eating; forks are taken one at a time, never both in one
step (which would need the atomicity the problem is about).
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from protospec import Param, Spec, action, except_at, invariant, leads_to, liveness

# -- state ------------------------------------------------------------------------------------


class Phase(IntEnum):
    THINKING = 0
    HUNGRY = 1  # at the table, holding no fork
    ONE_FORK = 2  # holding its first fork, waiting for the second
    EATING = 3  # holding both forks


FREE = -1  # a fork on the table


class State(NamedTuple):
    """The philosophers and the forks."""

    phase: tuple[Phase, ...]  # phase[i]: what philosopher i is doing
    fork: tuple[int, ...]  # fork[f]: the philosopher holding fork f, or FREE


class DiningPhilosophers(Spec):
    """Dining philosophers (Dijkstra 1971): ordered forks or a waiter, no deadlock or starvation."""

    name = "dining_philosophers"
    check_deadlock = True

    philosophers = Param(5, "philosophers (and forks) at the table", min=2, max=8)
    fix = Param("ordering", "how deadlock is avoided: ordering (lower fork first) or waiter "
                "(at most N - 1 at the table)", choices=("ordering", "waiter"))

    def setup(self) -> None:
        self.Phil = range(self.philosophers)

    def init(self):
        n = self.philosophers
        yield State(phase=(Phase.THINKING,) * n, fork=(FREE,) * n)

    # -- the philosophers' choices ------------------------------------------------------------

    def left(self, i: int) -> int:
        return i

    def right(self, i: int) -> int:
        return (i + 1) % self.philosophers

    def first_fork(self, i: int) -> int:
        """The fork philosopher i takes first: the lower-numbered one (Havender's ordering),
        or, with the waiter, the left one."""
        if self.fix == "waiter":
            return self.left(i)
        return min(self.left(i), self.right(i))

    def second_fork(self, i: int) -> int:
        a, b = self.left(i), self.right(i)
        return b if self.first_fork(i) == a else a

    def seats(self) -> int:
        """How many philosophers may be at the table (hungry or eating) at once."""
        return self.philosophers - 1 if self.fix == "waiter" else self.philosophers

    # -- actions ------------------------------------------------------------------------------

    @action(i="Phil")
    def get_hungry(self, s: State, i: int) -> State | None:
        """Philosopher i stops thinking and sits down (with the waiter: only if a seat is
        free)."""
        if s.phase[i] is not Phase.THINKING:
            return None
        if sum(ph is not Phase.THINKING for ph in s.phase) >= self.seats():
            return None
        return State(except_at(s.phase, i, Phase.HUNGRY), s.fork)

    @action(i="Phil", fair="strong")
    def take_first_fork(self, s: State, i: int) -> State | None:
        """Hungry philosopher i picks up its first fork, once it lies on the table."""
        f = self.first_fork(i)
        if s.phase[i] is not Phase.HUNGRY or s.fork[f] != FREE:
            return None
        return State(except_at(s.phase, i, Phase.ONE_FORK), except_at(s.fork, f, i))

    @action(i="Phil", fair="strong")
    def take_second_fork(self, s: State, i: int) -> State | None:
        """Philosopher i picks up its second fork, once it lies on the table, and eats."""
        f = self.second_fork(i)
        if s.phase[i] is not Phase.ONE_FORK or s.fork[f] != FREE:
            return None
        return State(except_at(s.phase, i, Phase.EATING), except_at(s.fork, f, i))

    @action(i="Phil", fair="weak")
    def put_down_forks(self, s: State, i: int) -> State | None:
        """Philosopher i has eaten: it puts both forks down, leaves the table and thinks."""
        if s.phase[i] is not Phase.EATING:
            return None
        fork = except_at(except_at(s.fork, self.left(i), FREE), self.right(i), FREE)
        return State(except_at(s.phase, i, Phase.THINKING), fork)

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def neighbours_never_eat_together(self, s: State) -> bool:
        """No two neighbours eat at the same time (they share a fork)."""
        return not any(s.phase[i] is Phase.EATING and s.phase[self.right(i)] is Phase.EATING
                       for i in self.Phil)

    @invariant
    def eating_holds_both_forks(self, s: State) -> bool:
        """A philosopher eats only holding both its forks, and holds only its own forks."""
        return all(
            (s.phase[i] is not Phase.EATING
             or s.fork[self.left(i)] == i == s.fork[self.right(i)])
            for i in self.Phil
        ) and all(h == FREE or f in (self.left(h), self.right(h)) for f, h in enumerate(s.fork))

    @liveness
    def no_starvation(self):
        """Every hungry philosopher eventually eats."""
        return leads_to(lambda s, i: s.phase[i] is Phase.HUNGRY,
                        lambda s, i: s.phase[i] is Phase.EATING, over=self.Phil)

    # -- chart hooks (optional; see explorer/chart_hints.py) ---------------------------------

    def chart_processes(self) -> list[str]:
        """One lane per philosopher."""
        return [f"philosopher {i}" for i in self.Phil]

    def chart_lane(self, action: str, args: dict) -> str | None:
        """Every step is taken by the philosopher named in its argument."""
        return f"philosopher {args['i']}" if "i" in args else None


# -- bug variants -----------------------------------------------------------------------------


@DiningPhilosophers.variant("left_first", breaks="deadlock")
class LeftFirst(DiningPhilosophers):
    """Everyone takes the left fork first, no waiter: all hold one fork and wait for ever."""

    def first_fork(self, i: int) -> int:
        return self.left(i)

    def seats(self) -> int:
        return self.philosophers


@DiningPhilosophers.variant("waiter_admits_all", breaks="deadlock")
class WaiterAdmitsAll(DiningPhilosophers):
    """The waiter seats all N philosophers (off by one): left-first forks deadlock again."""

    def first_fork(self, i: int) -> int:
        return self.left(i)

    def seats(self) -> int:
        return self.philosophers


@DiningPhilosophers.variant("weakly_fair_forks", breaks="no_starvation")
class WeaklyFairForks(DiningPhilosophers):
    """Taking a fork is only weakly fair: a philosopher starves between eating neighbours.

    Its fork is on the table again and again but never for good. No deadlock and no safety
    violation: the fairness assumption itself is the mistake."""

    @action(i="Phil", fair="weak")
    def take_first_fork(self, s: State, i: int) -> State | None:
        return super().take_first_fork(s, i)

    @action(i="Phil", fair="weak")
    def take_second_fork(self, s: State, i: int) -> State | None:
        return super().take_second_fork(s, i)


# Measured (explorer.check, default parameters): 534 distinct states, depth 10, no violation,
# no deadlock, no starvation (491 states with fix=waiter); left_first and waiter_admits_all
# deadlock in 10 steps, weakly_fair_forks starves in a 5-step lasso. Other configurations:
# docs/specs/dining_philosophers.md.
