"""Simulation: seeded random walks for state spaces too large to exhaust.

Each run starts from a random initial state and takes up to ``depth`` random steps, checking
every invariant on every state and every action property on every step, as ``check`` does. A
walk stops early at a state with no successor (a deadlock, if the spec says that is an error).
Everything is drawn from one ``random.Random(seed)``: the same seed gives the same runs, so a
violation found by simulation replays exactly. Traces are the walks themselves, not shortest.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from .bfs import peak_rss_bytes
from .errors import SpecError
from .result import ActionCoverage, CheckResult, Stats, Step, Trace, Violation
from .spec import Spec

__all__ = ["simulate"]


def simulate(spec: Spec, *, runs: int = 100, depth: int = 100, seed: int = 0,
             keep_going: bool = False, check_deadlock: bool | None = None,
             swarm: bool = False,
             progress: Callable[[int, int], None] | None = None,
             seen_fps: set[int] | None = None) -> CheckResult:
    """Run ``runs`` random walks of at most ``depth`` steps; stop at the first violation.

    ``progress(run_index, runs)`` is called after each run. States outside the spec's
    constraint are never stepped into, as in ``check``.

    With ``swarm``, each run may use only a random subset of the actions (each kept with
    probability 1/2: swarm testing, Groce et al., ISSTA 2012). Uniform walks spend their steps
    on whatever is most often enabled (timeouts, message loss); leaving some actions out of a
    run lets others run long enough to build the deep scenarios bugs need. A swarm run that
    has no allowed action left simply ends (it is not a deadlock).

    ``seen_fps``: a set to collect the visited states' hashes into (``parallel_simulate``
    unions them across runs); a new one if not given.
    """
    deadlock = spec.check_deadlock if check_deadlock is None else check_deadlock
    rng = random.Random(seed)
    started = time.perf_counter()
    docs = spec.property_docs()
    coverage = {a.name: ActionCoverage() for a in spec.actions()}
    violations: list[Violation] = []
    violated: set[str] = set()
    stats = Stats(complete=False, stopped_by="simulation")
    constraint = spec.constraint
    try:
        inits = [s for s in spec.init() if constraint is None or constraint(s)]
    except Exception as exc:
        raise SpecError(f"spec {spec.name!r}: init() raised {type(exc).__name__}: {exc}",
                        spec=spec.name, cause=exc) from exc
    if not inits:
        raise SpecError(f"spec {spec.name!r}: no initial state (within the constraint)",
                        spec=spec.name)
    if seen_fps is None:
        seen_fps = set()
    done_runs = 0
    max_depth_seen = 0

    def trace_of(steps: list[Step]) -> Trace:
        return Trace(list(steps), spec=spec.name, params=dict(spec.param_values),
                     variant=spec.variant_name)

    def record(name: str, kind: str, steps: list[Step]) -> None:
        if name not in violated:
            violated.add(name)
            violations.append(Violation(name, kind, docs.get(name, ""), trace_of(steps)))

    action_names = [a.name for a in spec.actions()]
    for run in range(runs):
        allowed = None
        if swarm:
            allowed = {a for a in action_names if rng.random() < 0.5} or {rng.choice(action_names)}
        state = rng.choice(inits)
        steps = [Step(None, {}, state)]
        seen_fps.add(hash(state))
        stats.states_generated += 1
        bad = [n for n in _checked(spec.check_state, state, spec, steps) if n not in violated]
        for name in bad:
            record(name, "invariant", steps)
        for _ in range(depth):
            if bad and not keep_going:
                break
            try:
                succ = [(lab, t) for lab, t in spec.successors(state)
                        if (constraint is None or constraint(t))
                        and (allowed is None or lab.action in allowed)]
            except Exception as exc:
                err = SpecError(f"spec {spec.name!r}: an action raised {type(exc).__name__}: "
                                f"{exc} at step {len(steps)} of simulation run {run} "
                                f"(seed {seed})", spec=spec.name, depth=len(steps) - 1,
                                cause=exc)
                err.trace = trace_of(steps)
                raise err from exc
            stats.states_generated += len(succ)
            if not succ:
                if deadlock and allowed is None and "deadlock" not in violated:
                    record("deadlock", "deadlock", steps)
                    bad = ["deadlock"]
                break
            label, nxt = succ[rng.randrange(len(succ))]
            cov = coverage[label.action]
            cov.enabled += 1
            cov.fired += 1
            fp = hash(nxt)
            if fp not in seen_fps:
                seen_fps.add(fp)
                cov.new += 1
            steps.append(Step(label.action, label.arg_dict, nxt))
            bad = []
            for name in _checked(lambda t, s=state: spec.check_step(s, t), nxt, spec, steps):
                if name not in violated:
                    record(name, "action_property", steps)
                    bad.append(name)
            for name in _checked(spec.check_state, nxt, spec, steps):
                if name not in violated:
                    record(name, "invariant", steps)
                    bad.append(name)
            state = nxt
        max_depth_seen = max(max_depth_seen, len(steps) - 1)
        done_runs = run + 1
        if progress is not None:
            progress(done_runs, runs)
        if violations and not keep_going:
            break
    stats.distinct_states = len(seen_fps)
    stats.depth = max_depth_seen
    stats.elapsed_s = time.perf_counter() - started
    stats.peak_rss_bytes = peak_rss_bytes()
    return CheckResult(
        spec=spec.name, params=dict(spec.param_values), variant=spec.variant_name,
        mode="simulate", violations=violations, stats=stats, coverage=coverage,
        properties_checked=[n for n, _ in spec.invariant_fns]
        + [n for n, _ in spec.action_property_fns] + (["deadlock"] if deadlock else []),
        runs=done_runs,
    )


def _checked(check_fn: Callable[[Any], list[str]], state: Any, spec: Spec,
             steps: list[Step]) -> list[str]:
    try:
        return check_fn(state)
    except Exception as exc:
        err = SpecError(f"spec {spec.name!r}: a property raised {type(exc).__name__}: {exc} "
                        f"at step {len(steps) - 1} of a simulation", spec=spec.name, cause=exc)
        err.trace = Trace(list(steps), spec=spec.name, params=dict(spec.param_values),
                          variant=spec.variant_name)
        raise err from exc
