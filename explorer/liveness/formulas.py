"""Temporal properties a spec can state: eventually, always eventually, leads to.

A liveness property is a *formula* over state predicates, built with three helpers that read as
their TLA+ counterparts::

    eventually(p)          ◇P     every behaviour reaches a state where p holds
    always_eventually(p)   □◇P    p holds again and again, forever (never stops holding for good)
    leads_to(p, q)         P ~> Q whenever p holds, q holds then or later

``p`` and ``q`` are state predicates ``(state) -> bool``. A spec declares a property with a
``@liveness`` method that returns one of these (see explorer.spec); the CLI builds them from the
invariant language (``--prop 'name: eventually(...)'``).

All three are one shape: *from a trigger state, the goal is eventually reached*. ◇P triggers
at the initial states, □◇P at every state, P ~> Q at the states where P holds. The checker
(explorer.liveness.check) works on that shape only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AlwaysEventually", "Eventually", "LeadsTo", "Temporal", "always_eventually",
           "eventually", "leads_to"]

Predicate = Callable[[Any], bool]


class Temporal:
    """A liveness formula: *whenever* ``trigger`` holds, ``goal`` holds then or later.

    ``trigger`` is None for ◇P, whose only trigger is the initial state.
    """

    operator: str = ""
    trigger: Predicate | None
    goal: Predicate

    @property
    def initial_only(self) -> bool:
        """True for ◇P: only behaviours' first states trigger the obligation."""
        return False

    def predicates(self) -> list[Predicate]:
        """The state predicates to evaluate on every reachable state (goal first)."""
        return [self.goal] + ([self.trigger] if self.trigger is not None else [])


def _check_predicate(p: Any, where: str) -> Predicate:
    if not callable(p):
        raise TypeError(f"{where} needs a state predicate (a function of the state), "
                        f"got {p!r}")
    return p


@dataclass(frozen=True)
class Eventually(Temporal):
    """◇P: every behaviour reaches a state satisfying P."""

    goal: Predicate = field(compare=False)
    operator = "eventually"

    @property
    def trigger(self) -> None:  # type: ignore[override]
        return None

    @property
    def initial_only(self) -> bool:
        return True


@dataclass(frozen=True)
class AlwaysEventually(Temporal):
    """□◇P: in every behaviour P holds infinitely often (a deadlock counts as repeating its
    last state forever)."""

    goal: Predicate = field(compare=False)
    operator = "always_eventually"

    @property
    def trigger(self) -> None:  # type: ignore[override]
        return None


@dataclass(frozen=True)
class LeadsTo(Temporal):
    """P ~> Q, i.e. □(P ⇒ ◇Q): every state satisfying P is followed (or itself satisfies) Q."""

    trigger: Predicate = field(compare=False)  # type: ignore[assignment]
    goal: Predicate = field(compare=False)
    operator = "leads_to"


def eventually(p: Predicate) -> Eventually:
    """◇p: every (fair) behaviour eventually reaches a state where ``p`` holds."""
    return Eventually(_check_predicate(p, "eventually(p)"))


def always_eventually(p: Predicate) -> AlwaysEventually:
    """□◇p: in every (fair) behaviour ``p`` holds infinitely often."""
    return AlwaysEventually(_check_predicate(p, "always_eventually(p)"))


def leads_to(p: Predicate, q: Predicate) -> LeadsTo:
    """p ~> q: in every (fair) behaviour, each state where ``p`` holds is followed by (or is) a
    state where ``q`` holds."""
    return LeadsTo(_check_predicate(p, "leads_to(p, q)"), _check_predicate(q, "leads_to(p, q)"))
