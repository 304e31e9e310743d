"""Temporal properties a spec can state: eventually, always eventually, leads to.

A liveness property is a *formula* over state predicates, built with three helpers that read as
their TLA+ counterparts::

    eventually(p)          ◇P     every behaviour reaches a state where p holds
    always_eventually(p)   □◇P    p holds again and again, forever (never stops holding for good)
    leads_to(p, q)         P ~> Q whenever p holds, q holds then or later
    eventually_always(p)   ◇□P    from some point on, p holds for good (stabilisation)

``p`` and ``q`` are state predicates ``(state) -> bool``. With ``over=D`` they take a second
argument and the formula is stated for every ``i`` in ``D`` (TLA+'s ``\\A i \\in D: ...``), e.g.
``leads_to(requesting, critical, over=self.P)`` with ``requesting(s, i)``: each instance is
checked on its own, and a counterexample names the instance it breaks. A spec declares a
property with a ``@liveness`` method that returns one of these (see explorer.spec); the CLI
builds them from the invariant language (``--prop 'name: eventually(...)'``).

The first three are one shape: *from a trigger state, the goal is eventually reached*. ◇P
triggers at the initial states, □◇P at every state, P ~> Q at the states where P holds. ◇□P is
the other shape: no fair behaviour leaves P infinitely often (``recurring``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AlwaysEventually", "Eventually", "EventuallyAlways", "LeadsTo", "Temporal",
           "always_eventually", "eventually", "eventually_always", "leads_to"]

Predicate = Callable[..., bool]


@dataclass(frozen=True)
class Temporal:
    """A liveness formula: *whenever* ``trigger`` holds, ``goal`` holds then or later.

    ``trigger`` is None for ◇P (its only trigger is the initial state) and □◇P (every state).
    ``over``, if not None, is the domain of the formula's parameter: the predicates then take
    ``(state, i)`` and the formula holds iff it holds for every ``i``.
    """

    goal: Predicate = field(compare=False)
    trigger: Predicate | None = field(default=None, compare=False)
    over: tuple[Any, ...] | None = None
    operator = ""

    @property
    def initial_only(self) -> bool:
        """True for ◇P: only behaviours' first states trigger the obligation."""
        return False

    @property
    def recurring(self) -> bool:
        """True for ◇□P: violated by a fair behaviour that leaves P infinitely often."""
        return False

    def instances(self) -> list[tuple[Any, Temporal]]:
        """``(i, formula over plain state predicates)`` per parameter value; ``[(None, self)]``
        for a formula without ``over``."""
        if self.over is None:
            return [(None, self)]
        out = []
        for i in self.over:
            goal = _bind(self.goal, i)
            trigger = None if self.trigger is None else _bind(self.trigger, i)
            out.append((i, type(self)(goal, trigger)))
        return out


def _bind(p: Predicate, i: Any) -> Callable[[Any], bool]:
    return lambda s: p(s, i)


def _check(p: Any, where: str) -> Predicate:
    if not callable(p):
        raise TypeError(f"{where} needs a state predicate (a function of the state), "
                        f"got {p!r}")
    return p


def _domain(over: Iterable[Any] | None) -> tuple[Any, ...] | None:
    return None if over is None else tuple(over)


class Eventually(Temporal):
    """◇P: every behaviour reaches a state satisfying P."""

    operator = "eventually"

    @property
    def initial_only(self) -> bool:
        return True


class AlwaysEventually(Temporal):
    """□◇P: in every behaviour P holds infinitely often (a deadlock counts as repeating its
    last state forever)."""

    operator = "always_eventually"


class EventuallyAlways(Temporal):
    """◇□P: in every behaviour P holds from some point on, for good."""

    operator = "eventually_always"

    @property
    def recurring(self) -> bool:
        return True


class LeadsTo(Temporal):
    """P ~> Q, i.e. □(P ⇒ ◇Q): every state satisfying P is followed by (or itself satisfies) Q."""

    operator = "leads_to"


def eventually(p: Predicate, *, over: Iterable[Any] | None = None) -> Eventually:
    """◇p: every (fair) behaviour eventually reaches a state where ``p`` holds (for every ``i``
    in ``over``, with ``p(s, i)``, if given)."""
    return Eventually(_check(p, "eventually(p)"), None, _domain(over))


def always_eventually(p: Predicate, *, over: Iterable[Any] | None = None) -> AlwaysEventually:
    """□◇p: in every (fair) behaviour ``p`` holds infinitely often."""
    return AlwaysEventually(_check(p, "always_eventually(p)"), None, _domain(over))


def leads_to(p: Predicate, q: Predicate, *, over: Iterable[Any] | None = None) -> LeadsTo:
    """p ~> q: in every (fair) behaviour, each state where ``p`` holds is followed by (or is) a
    state where ``q`` holds."""
    return LeadsTo(_check(q, "leads_to(p, q)"), _check(p, "leads_to(p, q)"), _domain(over))


def eventually_always(p: Predicate, *, over: Iterable[Any] | None = None) -> EventuallyAlways:
    """◇□p: in every (fair) behaviour ``p`` holds from some point on, forever (e.g. "there is a
    time after which no correct process is suspected")."""
    return EventuallyAlways(_check(p, "eventually_always(p)"), None, _domain(over))
