"""The contract between a spec's symbolic encoding and the z3 checkers.

An encoding subclasses ``SymbolicEncoding`` and describes one configuration of one spec (its
parameters come from an instance of the explicit spec):

* ``declare(frame)`` creates the z3 variables of one state (a ``Frame``, addressed like the
  state: ``f.rm_state[i]``, ``f.tm_state``);
* ``init(f)`` is the initial-state predicate;
* ``action_instances()`` lists (action name, arguments) in the explicit spec's order, and
  ``action(name, args, f, g)`` is the formula for that step from frame f to frame g (guard and
  update, with every unchanged variable stated, as TLA+'s UNCHANGED);
* ``invariants()`` maps property names to predicates over a frame; ``domain(f)`` states the
  variables' types, assumed of every frame by ``prove`` (so a counterexample to induction is
  always a well-typed state);
* ``decode(model, f)`` turns a z3 model of a frame back into the explicit spec's state, and
  ``encode(state, f)`` states that a frame equals a concrete state.

Variants: an encoding subclass per variant, registered in ``variants``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import z3

from ..spec import Spec

__all__ = ["Frame", "SymbolicEncoding"]


class Frame:
    """The z3 variables of one state; attributes are set by the encoding's ``declare``."""

    def __init__(self, index: int) -> None:
        self.index = index

    def name(self, var: str) -> str:
        return f"{var}@{self.index}"


class SymbolicEncoding:
    """Base class of symbolic encodings (see the module docstring for the contract)."""

    variants: ClassVar[dict[str, type[SymbolicEncoding]]] = {}

    def __init__(self, spec: Spec) -> None:
        self.spec = spec

    # -- what an encoding defines ------------------------------------------------------------

    def declare(self, f: Frame) -> None:
        raise NotImplementedError

    def init(self, f: Frame) -> z3.BoolRef:
        raise NotImplementedError

    def action_instances(self) -> list[tuple[str, tuple[tuple[str, Any], ...]]]:
        raise NotImplementedError

    def action(self, name: str, args: dict[str, Any], f: Frame, g: Frame) -> z3.BoolRef:
        raise NotImplementedError

    def invariants(self) -> dict[str, Callable[[Frame], z3.BoolRef]]:
        raise NotImplementedError

    def domain(self, f: Frame) -> z3.BoolRef:
        """The types of the variables (as TLA+'s TypeOK), assumed of every frame in a proof."""
        return z3.BoolVal(True)

    def decode(self, model: z3.ModelRef, f: Frame) -> Any:
        raise NotImplementedError

    def encode(self, state: Any, f: Frame) -> z3.BoolRef:
        raise NotImplementedError

    # -- derived -------------------------------------------------------------------------------

    def frame(self, index: int) -> Frame:
        f = Frame(index)
        self.declare(f)
        return f

    def step_selector(self, index: int) -> z3.ArithRef:
        """An integer naming which action instance step ``index`` -> ``index + 1`` takes."""
        return z3.Int(f"action@{index}")

    def transition(self, f: Frame, g: Frame, selector: z3.ArithRef | None = None) -> z3.BoolRef:
        """The next-state relation: one of the action instances, recorded in ``selector``."""
        options = []
        for i, (name, args) in enumerate(self.action_instances()):
            step = self.action(name, dict(args), f, g)
            options.append(step if selector is None else z3.And(selector == i, step))
        return z3.Or(options) if options else z3.BoolVal(False)

    def invariant(self, name: str) -> Callable[[Frame], z3.BoolRef]:
        invs = self.invariants()
        if name not in invs:
            from ..errors import UsageError

            known = ", ".join(invs) or "none"
            raise UsageError(f"the symbolic encoding of {self.spec.name!r} has no invariant "
                             f"{name!r} (it has: {known})")
        return invs[name]

    def holds_on(self, name: str, state: Any) -> bool:
        """Evaluate a symbolic invariant on a concrete state (to cross-check it explicitly)."""
        f = self.frame(10**6)
        solver = z3.Solver()
        solver.add(self.encode(state, f))
        solver.add(z3.Not(self.invariant(name)(f)))
        return solver.check() == z3.unsat

    def successors(self, state: Any) -> set[Any]:
        """Every successor z3 allows from a concrete state (for cross-checking the encoding)."""
        f, g = self.frame(10**6), self.frame(10**6 + 1)
        solver = z3.Solver()
        solver.add(self.encode(state, f))
        solver.add(self.transition(f, g))
        found: set[Any] = set()
        while solver.check() == z3.sat:
            t = self.decode(solver.model(), g)
            found.add(t)
            solver.add(z3.Not(self.encode(t, g)))
        return found


def bool_vector(f: Frame, var: str, n: int) -> list[z3.BoolRef]:
    return [z3.Bool(f"{f.name(var)}[{i}]") for i in range(n)]


def int_vector(f: Frame, var: str, n: int) -> list[z3.ArithRef]:
    return [z3.Int(f"{f.name(var)}[{i}]") for i in range(n)]


def unchanged(pairs: Iterable[tuple[Any, Any]]) -> list[z3.BoolRef]:
    """TLA+'s UNCHANGED for lists of (before, after) z3 terms."""
    return [a == b for a, b in pairs]
