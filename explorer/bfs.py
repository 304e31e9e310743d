"""Exhaustive breadth-first search with fingerprints and shortest counterexamples.

The search goes level by level. Each level's states are expanded in order; their successors
are gathered in batches (state, fingerprint, action) and the batch's fingerprints are looked up
in the visited set all at once (``FingerprintSet.add_batch``). New states are then checked
against every invariant, numbered in discovery order, and queued for the next level.

Only two small numbers are kept per distinct state: its fingerprint and its parent's number
(int64 + int32 arrays). A counterexample is rebuilt by walking parent numbers back to an initial
state and replaying forwards: at each step the spec's successors of the current state are
enumerated and the one whose fingerprint matches is taken, which also recovers the action's
name and arguments without storing them. Because levels are processed in order, the first
violation found is at minimal depth: counterexamples are shortest.
"""

from __future__ import annotations

import gc
import resource
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import SpecError
from .fingerprint import ZERO_FINGERPRINT, FingerprintSet, collision_probability
from .frontier import Level
from .result import ActionCoverage, CheckResult, Stats, Step, Trace, Violation
from .spec import Spec, from_state

__all__ = ["Progress", "check", "fingerprint_of", "rebuild_trace"]

BATCH = 1 << 13  # successors gathered before one visited-set lookup


@dataclass
class Progress:
    """A snapshot handed to the progress callback after each batch."""

    distinct: int
    generated: int
    depth: int
    queued: int
    elapsed_s: float


def fingerprint_of(state: Any) -> int:
    """The fingerprint the explorer stores for ``state``: its hash (0 is reserved)."""
    h = hash(state)
    return h if h != 0 else ZERO_FINGERPRINT


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class _Search:
    """The state of one breadth-first search (kept in one object so errors can rebuild paths)."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.fps = array("q")  # fingerprint of state number i
        self.parents = array("i")  # parent number of state i (-1 for initial states)
        self.inits: list[Any] = []

    def path_to(self, index: int) -> list[int]:
        out = []
        while index >= 0:
            out.append(index)
            index = self.parents[index]
        out.reverse()
        return out

    def trace_to(self, index: int, extra: Any = None) -> Trace:
        """The trace from an initial state to state ``index`` (then to ``extra``, if given)."""
        path = self.path_to(index)
        target_fps = [self.fps[i] for i in path]
        if extra is not None:
            target_fps.append(fingerprint_of(extra))
        return rebuild_trace(self.spec, target_fps, self.inits)


def rebuild_trace(spec: Spec, fps: list[int], inits: list[Any] | None = None) -> Trace:
    """Replay a path given as a list of fingerprints, recovering each step's label."""
    candidates = list(spec.init()) if inits is None else inits
    state = next((s for s in candidates if fingerprint_of(s) == fps[0]), None)
    if state is None:
        raise SpecError(f"spec {spec.name!r}: cannot replay the trace: its initial state is "
                        f"not among init() (is init() deterministic?)", spec=spec.name)
    steps = [Step(None, {}, state)]
    for depth, fp in enumerate(fps[1:], start=1):
        for label, t in spec.successors(state):
            if fingerprint_of(t) == fp:
                steps.append(Step(label.action, label.arg_dict, t))
                state = t
                break
        else:
            raise SpecError(
                f"spec {spec.name!r}: cannot replay step {depth} of the trace: no successor of "
                f"the previous state matches (do the actions use randomness or mutate state?)",
                spec=spec.name, depth=depth)
    return Trace(steps, spec=spec.name, params=dict(spec.param_values),
                 variant=spec.variant_name)


def compile_expander(spec: Spec, action_index: dict[str, int]) -> Callable[..., None]:
    """Build ``expand(s, add_state, add_fp, add_act, enabled_many)`` for this spec instance.

    It calls every bound action instance on ``s`` in enumeration order and appends each
    successor, its hash and its action number. The code is generated once per run, unrolled,
    with each instance's function and arguments bound as default parameters (fast locals):
    a loop over (function, arguments) tuples costs about a third more per call, and these
    calls are most of a search's time. The generated text comes from the engine only (action
    numbers and generated names), never from user input.
    """
    env: dict[str, Any] = {}
    lines: list[str] = []
    for n, (k, fn, args, many) in enumerate(spec.static_instances):
        a = action_index[spec.static_labels[k].action]
        env[f"F{n}"] = fn
        arg_names = []
        for j, value in enumerate(args):
            env[f"A{n}_{j}"] = value
            arg_names.append(f"A{n}_{j}")
        call = f"F{n}(s{''.join(', ' + x for x in arg_names)})"
        if many:
            lines += [f"    t = {call}",
                      "    if t is not None:",
                      "        got = 0",
                      "        for u in t:",
                      f"            add_state(u); add_fp(hash(u)); add_act({a}); got = 1",
                      f"        enabled_many[{a}] += got"]
        else:
            lines += [f"    t = {call}",
                      "    if t is not None:",
                      f"        add_state(t); add_fp(hash(t)); add_act({a})"]
    for n, (act, fn, resolved) in enumerate(spec.dynamic_actions):
        # Nested loops over the argument domains, read off the state where they depend on it;
        # labels are not built here (replay recovers them), only successors.
        a = action_index[act.name]
        env[f"G{n}"] = fn
        indent = "    "
        names = []
        if act.many:
            lines.append("    got = 0")
        for j, (_arg, domain) in enumerate(resolved):
            var = f"x{n}_{j}"
            names.append(var)
            if isinstance(domain, from_state):
                env[f"DOM{n}_{j}"] = domain.fn
                lines.append(f"{indent}for {var} in DOM{n}_{j}(s):")
            else:
                env[f"DOM{n}_{j}"] = tuple(domain)
                lines.append(f"{indent}for {var} in DOM{n}_{j}:")
            indent += "    "
        call = f"G{n}(s{''.join(', ' + x for x in names)})"
        lines += [f"{indent}t = {call}", f"{indent}if t is not None:"]
        if act.many:
            lines += [f"{indent}    for u in t:",
                      f"{indent}        add_state(u); add_fp(hash(u)); add_act({a}); got = 1"]
        else:
            lines.append(f"{indent}    add_state(t); add_fp(hash(t)); add_act({a})")
        if act.many:
            lines.append(f"    enabled_many[{a}] += got")
    params = ", ".join(f"{name}={name}" for name in env)
    src = (f"def expand(s, add_state, add_fp, add_act, enabled_many, {params}):\n"
           + ("\n".join(lines) if lines else "    pass") + "\n")
    namespace: dict[str, Any] = dict(env)
    exec(compile(src, f"<protospec expander for {spec.name}>", "exec"), namespace)
    return namespace["expand"]


def _property_failed(spec: Spec, kind: str, name: str, exc: Exception,
                     trace: Trace) -> SpecError:
    """A property raised: report it with the trace to where it happened (a SpecError the
    property raised itself, e.g. from the invariant language, keeps its own message)."""
    if isinstance(exc, SpecError):
        err = exc
    else:
        err = SpecError(f"spec {spec.name!r}: {kind} {name!r} raised {type(exc).__name__}: "
                        f"{exc} on a reachable {'step' if kind != 'invariant' else 'state'}",
                        spec=spec.name, cause=exc)
    if err.trace is None:
        err.trace = trace
    return err


def _diagnose(spec: Spec, s: Any, exc: BaseException, depth: int) -> SpecError:
    """Find which action failed on ``s`` (the fast loop does not know) and say so."""
    for k, fn, args, many in spec.static_instances:
        label = spec.static_labels[k]
        err = _try_action(spec, s, label, lambda fn=fn, args=args: fn(s, *args), many, depth)
        if err:
            return err
    for act, fn, resolved in spec.dynamic_actions:
        try:
            results = list(spec._dynamic_successors(s, act, fn, resolved))
        except Exception as inner:
            return SpecError(
                f"spec {spec.name!r}: action {act.name!r} raised {type(inner).__name__}: "
                f"{inner} while expanding a state at depth {depth}",
                spec=spec.name, action=act.name, depth=depth, cause=inner)
        for label, t in results:
            err = _check_hashable(spec, label, t, depth)
            if err:
                return err
    return SpecError(f"spec {spec.name!r}: {type(exc).__name__}: {exc} while expanding a state "
                     f"at depth {depth}", spec=spec.name, depth=depth, cause=exc)


def _try_action(spec: Spec, s: Any, label: Any, call: Callable[[], Any], many: bool,
                depth: int) -> SpecError | None:
    try:
        out = call()
        outs = [] if out is None else (list(out) if many else [out])
    except Exception as inner:
        return SpecError(
            f"spec {spec.name!r}: action {label} raised {type(inner).__name__}: {inner} "
            f"while expanding a state at depth {depth}",
            spec=spec.name, action=str(label), depth=depth, cause=inner)
    for t in outs:
        err = _check_hashable(spec, label, t, depth)
        if err:
            return err
    return None


def _check_hashable(spec: Spec, label: Any, t: Any, depth: int) -> SpecError | None:
    try:
        hash(t)
    except TypeError as inner:
        return SpecError(
            f"spec {spec.name!r}: action {label} returned a state that cannot be hashed "
            f"({inner}) at depth {depth + 1}; states must be immutable: use tuples, "
            f"NamedTuples and frozensets instead of lists, dicts and sets",
            spec=spec.name, action=str(label), depth=depth + 1, cause=inner)
    return None


def check(spec: Spec, *, max_depth: int | None = None, max_states: int | None = None,
          keep_going: bool = False, progress: Callable[[Progress], None] | None = None,
          until: frozenset[str] | None = None,
          check_deadlock: bool | None = None) -> CheckResult:
    """Explore every reachable state of ``spec`` breadth-first and check its properties.

    ``until`` names properties to hunt for: violations of others are recorded and the search
    goes on until one of these is violated (e.g. a bug variant's ``breaks`` property, when an
    invariant that implies it fails first).
    Stops at the first violation unless ``keep_going`` (then it reports the first, shortest,
    violation of each property). ``max_depth`` bounds the number of steps from an initial
    state, ``max_states`` the number of distinct states; either makes the result incomplete.
    Raises SpecError if the spec misbehaves, with the trace to the failing state attached.
    """
    deadlock = spec.check_deadlock if check_deadlock is None else check_deadlock
    search = _Search(spec)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the search allocates millions of tuples and frees none: GC passes are waste
    try:
        stop_on = None if keep_going else until
        return _run(spec, search, max_depth, max_states, keep_going or until is not None,
                    progress, deadlock, stop_on)
    finally:
        if gc_was_enabled:
            gc.enable()


def _run(spec: Spec, search: _Search, max_depth: int | None, max_states: int | None,
         keep_going: bool, progress: Callable[[Progress], None] | None,
         deadlock: bool, stop_on: frozenset[str] | None = None) -> CheckResult:
    started = time.perf_counter()
    rss_before = peak_rss_bytes()
    action_names = [a.name for a in spec.actions()]
    action_index = {name: i for i, name in enumerate(action_names)}
    expand = compile_expander(spec, action_index)
    invariants = list(spec.invariant_fns)
    action_props = list(spec.action_property_fns)
    constraint = spec.constraint
    docs = spec.property_docs()

    n_actions = len(action_names)
    fired = np.zeros(n_actions, dtype=np.int64)
    enabled_many = [0] * n_actions  # "enabled" differs from "fired" only for many-actions
    new_by_action = np.zeros(n_actions, dtype=np.int64)
    violations: list[Violation] = []
    violated: set[str] = set()
    stats = Stats()
    visited = FingerprintSet()
    fps, parents = search.fps, search.parents

    def violation(name: str, kind: str, trace: Trace) -> bool:
        """Record a violation; True if the search should stop."""
        if name not in violated:
            violated.add(name)
            violations.append(Violation(name, kind, docs.get(name, ""), trace))
        if stop_on is not None:
            return name in stop_on
        return not keep_going

    def check_invariants(state: Any, index: int) -> bool:
        for name, inv in invariants:
            if name in violated:
                continue
            try:
                ok = inv(state)
            except Exception as exc:
                raise _property_failed(spec, "invariant", name, exc,
                                       search.trace_to(index)) from exc
            if not ok and violation(name, "invariant", search.trace_to(index)):
                return True
        return False

    # -- initial states ----------------------------------------------------------------------
    try:
        init_states = list(spec.init())
        init_fps = [fingerprint_of(s) for s in init_states]
    except TypeError as exc:
        raise SpecError(f"spec {spec.name!r}: init() must yield hashable states ({exc})",
                        spec=spec.name, cause=exc) from exc
    except Exception as exc:
        raise SpecError(f"spec {spec.name!r}: init() raised {type(exc).__name__}: {exc}",
                        spec=spec.name, cause=exc) from exc
    if not init_states:
        raise SpecError(f"spec {spec.name!r}: init() yielded no initial state", spec=spec.name)
    new_pos = visited.add_batch(np.array(init_fps, dtype=np.int64))
    frontier = Level()
    stop = False
    for p in new_pos.tolist():
        s = init_states[p]
        if constraint is not None and not constraint(s):
            stats.outside_constraint += 1
            continue
        fps.append(init_fps[p])
        parents.append(-1)
        frontier.append(s)
        search.inits.append(s)
        if check_invariants(s, len(fps) - 1):
            stop = True
            break
    generated = len(init_states)
    depth = 0
    level_start = 0

    # -- level by level ----------------------------------------------------------------------
    while frontier and not stop:
        if max_depth is not None and depth >= max_depth:
            stats.complete = False
            stats.stopped_by = "max_depth"
            break
        next_frontier = Level()
        c_states: list[Any] = []
        c_fps: list[int] = []
        c_act: list[int] = []
        c_off: list[int] = []  # c_off[j]: first candidate of frontier state j of this batch
        batch_first = 0  # frontier position of the batch's first state
        add_state, add_fp, add_act, add_off = (c_states.append, c_fps.append, c_act.append,
                                               c_off.append)
        pos = 0
        n_frontier = len(frontier)
        for s in frontier:
            if stop:
                break
            start = len(c_fps)
            add_off(start)
            try:
                expand(s, add_state, add_fp, add_act, enabled_many)
            except Exception as exc:
                err = _diagnose(spec, s, exc, depth)
                err.trace = search.trace_to(level_start + pos)
                raise err from exc
            end = len(c_fps)
            if action_props:
                for j in range(start, end):
                    t = c_states[j]
                    for name, ap in action_props:
                        if name in violated:
                            continue
                        try:
                            ok = ap(s, t)
                        except Exception as exc:
                            raise _property_failed(
                                spec, "action property", name, exc,
                                search.trace_to(level_start + pos, extra=t)) from exc
                        if not ok and violation(name, "action_property",
                                                search.trace_to(level_start + pos, extra=t)):
                            stop = True
                            break
                    if stop:
                        break
            if (deadlock and end == start and "deadlock" not in violated
                    and violation("deadlock", "deadlock", search.trace_to(level_start + pos))):
                stop = True
            pos += 1
            if (len(c_fps) >= BATCH or pos == n_frontier) and not stop:
                # -- the batch: one visited-set lookup, then the new states in order --------
                fp_arr = np.array(c_fps, dtype=np.int64)
                generated += len(fp_arr)
                act_arr = np.array(c_act, dtype=np.int64)
                fired += np.bincount(act_arr, minlength=n_actions)
                new_pos = visited.add_batch(fp_arr)
                off_arr = np.array(c_off, dtype=np.int64)
                parent_of = level_start + batch_first + np.searchsorted(
                    off_arr, new_pos, side="right") - 1
                first_new_index = len(fps)
                kept = []
                for p in new_pos.tolist():
                    t = c_states[p]
                    if constraint is not None and not constraint(t):
                        stats.outside_constraint += 1
                        continue
                    kept.append(p)
                    next_frontier.append(t)
                if len(kept) == len(new_pos):
                    keep_idx = new_pos
                    keep_par = parent_of
                else:
                    sel = np.isin(new_pos, np.array(kept, dtype=np.int64))
                    keep_idx = new_pos[sel]
                    keep_par = parent_of[sel]
                fps.frombytes(np.where(fp_arr[keep_idx] == 0, ZERO_FINGERPRINT, fp_arr[keep_idx])
                              .astype(np.int64).tobytes())
                parents.frombytes(keep_par.astype(np.int32).tobytes())
                if len(keep_idx):
                    new_by_action += np.bincount(act_arr[keep_idx], minlength=n_actions)
                if invariants:
                    for i, p in enumerate(keep_idx.tolist()):
                        if check_invariants(c_states[p], first_new_index + i):
                            stop = True
                            break
                c_states.clear()
                c_fps.clear()
                c_act.clear()
                c_off.clear()
                batch_first = pos
                if max_states is not None and len(fps) >= max_states:
                    stats.complete = False
                    stats.stopped_by = "max_states"
                    stop = True
                if progress is not None:
                    progress(Progress(len(fps), generated, depth + 1,
                                      len(next_frontier) + n_frontier - pos,
                                      time.perf_counter() - started))
        level_start += n_frontier
        if next_frontier:
            depth += 1
        frontier = next_frontier

    stats.distinct_states = len(fps)
    stats.states_generated = generated
    stats.depth = depth
    stats.elapsed_s = time.perf_counter() - started
    stats.peak_rss_bytes = peak_rss_bytes()
    stats.bytes_per_state = (max(0, stats.peak_rss_bytes - rss_before) / len(fps)
                             if len(fps) else 0.0)
    stats.collision_probability = collision_probability(len(fps), generated)
    if violations and (not keep_going or (stop_on is not None and violated & stop_on)):
        stats.complete = False
        stats.stopped_by = stats.stopped_by or "violation"
    coverage = {}
    for i, act in enumerate(spec.actions()):
        name = act.name
        # A many-action may yield several successors per enabling; others exactly one.
        enabled = enabled_many[i] if act.many else int(fired[i])
        coverage[name] = ActionCoverage(enabled, int(fired[i]), int(new_by_action[i]))
    return CheckResult(
        spec=spec.name, params=dict(spec.param_values), variant=spec.variant_name,
        mode="check", violations=violations, stats=stats, coverage=coverage,
        properties_checked=[n for n, _ in invariants] + [n for n, _ in action_props]
        + (["deadlock"] if deadlock else []),
    )
