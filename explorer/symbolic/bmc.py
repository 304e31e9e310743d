"""Bounded model checking: is an invariant violated within K steps? Incremental in K.

The solver holds the initial predicate on frame 0 and the transition relation between frames
0..k; at each k it asks, under a push/pop, whether frame k can violate an invariant. The first
k at which it can is the length of a shortest counterexample, as the explicit search's. The
trace z3 produces is decoded and replayed through the explicit spec before it is returned: a
disagreement between encoding and spec is reported as an error, never shown as a result.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import z3

from ..errors import SpecError
from ..result import CheckResult, Stats, Step, Trace, Violation
from .encoding import Frame, SymbolicEncoding

__all__ = ["bmc", "replay"]


def bmc(enc: SymbolicEncoding, depth: int, *, invariants: list[str] | None = None,
        progress: Callable[[int, float], None] | None = None) -> CheckResult:
    """Search for an invariant violation in at most ``depth`` steps (shortest first).

    By default the invariants checked are those the explicit spec declares (and the encoding
    encodes); strengthenings written only for ``prove`` are checked when named.
    """
    spec = enc.spec
    declared = [n for n, _ in spec.invariant_fns]
    names = invariants if invariants is not None else [n for n in enc.invariants()
                                                      if n in declared]
    invs = {n: enc.invariant(n) for n in names}
    docs = spec.property_docs()
    started = time.perf_counter()
    solver = z3.Solver()
    frames: list[Frame] = [enc.frame(0)]
    solver.add(enc.init(frames[0]))
    violations: list[Violation] = []
    checked = -1
    for k in range(depth + 1):
        f = frames[k]
        solver.push()
        solver.add(z3.Or([z3.Not(inv(f)) for inv in invs.values()]))
        verdict = solver.check()
        if verdict == z3.sat:
            model = solver.model()
            trace = decode_trace(enc, model, frames)
            broken = next(n for n, inv in invs.items()
                          if z3.is_false(model.eval(inv(f), model_completion=True)))
            violations.append(Violation(broken, "invariant", docs.get(broken, ""), trace))
            solver.pop()
            checked = k
            break
        if verdict == z3.unknown:
            raise SpecError(f"z3 could not decide depth {k} of {spec.name!r}: "
                            f"{solver.reason_unknown()}", spec=spec.name)
        solver.pop()
        checked = k
        if progress is not None:
            progress(k, time.perf_counter() - started)
        if k < depth:
            frames.append(enc.frame(k + 1))
            solver.add(enc.transition(f, frames[k + 1], enc.step_selector(k)))
    stats = Stats(depth=checked, elapsed_s=time.perf_counter() - started,
                  complete=False, stopped_by="bmc_depth" if not violations else "violation")
    return CheckResult(spec=spec.name, params=dict(spec.param_values),
                       variant=spec.variant_name, mode="bmc", violations=violations,
                       stats=stats, properties_checked=names)


def decode_trace(enc: SymbolicEncoding, model: z3.ModelRef, frames: list[Frame]) -> Trace:
    """The z3 model as a trace with the explicit spec's labels, replayed through the spec."""
    instances = enc.action_instances()
    states = [enc.decode(model, f) for f in frames]
    labels = []
    for k in range(len(frames) - 1):
        index = model.eval(enc.step_selector(k), model_completion=True).as_long()
        labels.append(instances[index])
    return replay(enc, states, labels)


def replay(enc: SymbolicEncoding, states: list, labels: list) -> Trace:
    """Check each decoded step against the explicit spec and build the Trace."""
    spec = enc.spec
    if states[0] not in set(spec.init()):
        raise SpecError(f"symbolic encoding of {spec.name!r} disagrees with the spec: its "
                        f"initial state {states[0]} is not one of the spec's", spec=spec.name)
    steps = [Step(None, {}, states[0])]
    for k, ((name, args), t) in enumerate(zip(labels, states[1:]), start=1):
        s = states[k - 1]
        ok = any(label.action == name and label.args == tuple(args) and u == t
                 for label, u in spec.successors(s))
        if not ok:
            raise SpecError(f"symbolic encoding of {spec.name!r} disagrees with the spec at "
                            f"step {k}: {name}{dict(args)} does not lead from {s} to {t} in "
                            f"the explicit spec", spec=spec.name, depth=k)
        steps.append(Step(name, dict(args), t))
    return Trace(steps, spec=spec.name, params=dict(spec.param_values),
                 variant=spec.variant_name)
