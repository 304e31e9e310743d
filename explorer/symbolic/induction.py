"""Inductive invariants: INV holds initially and every action preserves it.

``prove_inductive`` asks z3 two questions: can an initial state violate INV (initiation), and
can a state satisfying INV take one step to a state violating it (consecution)? If neither,
INV holds in every reachable state for these parameters, however many states there are: no
enumeration is involved. If consecution fails, the answer is a *counterexample to induction*:
a state that satisfies INV (not necessarily reachable) and a step leaving it — the hint that
INV needs strengthening. It is returned as a two-state trace in the explorer's format.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import z3

from ..errors import SpecError
from ..result import Step, Trace
from .encoding import SymbolicEncoding

__all__ = ["InductionResult", "prove_inductive"]


@dataclass
class InductionResult:
    invariant: str
    initiation: bool  # every initial state satisfies INV
    consecution: bool  # every step from an INV state stays in INV
    counterexample: Trace | None  # a state satisfying INV (or an initial state) and a bad step
    elapsed_s: float

    @property
    def proved(self) -> bool:
        return self.initiation and self.consecution


def prove_inductive(enc: SymbolicEncoding, name: str, *, timeout_ms: int = 0) -> InductionResult:
    """Check that invariant ``name`` of the encoding is inductive for the spec's parameters."""
    spec = enc.spec
    inv = enc.invariant(name)
    started = time.perf_counter()
    f, g = enc.frame(0), enc.frame(1)

    solver = z3.Solver()
    if timeout_ms:
        solver.set("timeout", timeout_ms)
    solver.add(enc.domain(f), enc.init(f), z3.Not(inv(f)))
    first = _verdict(solver, spec.name, "initiation")
    if first == z3.sat:
        state = enc.decode(solver.model(), f)
        trace = Trace([Step(None, {}, state)], spec=spec.name,
                      params=dict(spec.param_values), variant=spec.variant_name)
        return InductionResult(name, False, False, trace, time.perf_counter() - started)

    solver = z3.Solver()
    if timeout_ms:
        solver.set("timeout", timeout_ms)
    selector = enc.step_selector(0)
    solver.add(enc.domain(f), enc.domain(g), inv(f), enc.transition(f, g, selector),
               z3.Not(inv(g)))
    second = _verdict(solver, spec.name, "consecution")
    if second == z3.sat:
        model = solver.model()
        s, t = enc.decode(model, f), enc.decode(model, g)
        action, args = enc.action_instances()[
            model.eval(selector, model_completion=True).as_long()]
        trace = Trace([Step(None, {}, s), Step(action, dict(args), t)], spec=spec.name,
                      params=dict(spec.param_values), variant=spec.variant_name)
        return InductionResult(name, True, False, trace, time.perf_counter() - started)
    return InductionResult(name, True, True, None, time.perf_counter() - started)


def _verdict(solver: z3.Solver, spec: str, what: str) -> z3.CheckSatResult:
    verdict = solver.check()
    if verdict == z3.unknown:
        raise SpecError(f"z3 could not decide {what} for {spec!r}: {solver.reason_unknown()}",
                        spec=spec)
    return verdict
