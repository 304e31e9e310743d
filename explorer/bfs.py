"""Exhaustive breadth-first search with structural fingerprints and shortest counterexamples.

The search goes level by level. Each level's states are expanded in order; their successors
are gathered in batches (state, fingerprint, action) and the batch's fingerprints are looked up
in the state store all at once (``StateStore.lookup``). New states are then checked against
every invariant, numbered in discovery order, and queued for the next level.

The store (``store.py``) keeps per distinct state its fingerprint and its parent's id, and,
with ``record_edges``, every step with its action-instance label. A counterexample is rebuilt
by walking parent ids back to an initial state and replaying forwards: at each step the spec's
successors of the current state are enumerated and the one whose fingerprint matches is taken,
which also recovers the action's name and arguments. Because levels are processed in order,
the first violation found is at minimal depth: counterexamples are shortest.

A run can be stopped from outside (``SearchControl.request_stop``, e.g. from a SIGINT
handler): the batch in hand is finished, a checkpoint is written if the control has a folder,
and the result says ``complete=False, stopped_by="interrupted"``. :func:`check` with
``resume=`` continues from a checkpoint to exactly the result an uninterrupted run gives.

Symmetry and other reductions plug in through ``canon``: the search stores (and looks up) the
fingerprint of ``canon(state)`` instead of ``state``; traces are replayed the same way.
"""

from __future__ import annotations

import ast
import gc
import itertools
import json
import os
import pickle
import resource
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import SpecError
from .fingerprint import UnsupportedValue, collision_probability, find_unsupported, fingerprint
from .fingerprint import _core as _fpcore
from .frontier import RAW_BUDGET, Level, NotPicklable
from .inline import NotInlinable, inline_action, inlining_enabled, state_layout
from .propcache import memoized_invariant
from .result import ActionCoverage, CheckResult, Stats, Step, Trace, Violation
from .spec import Spec, from_state
from .store import StateStore

__all__ = ["Progress", "Search", "SearchControl", "check", "explore", "fingerprint_of",
           "rebuild_trace"]

BATCH = 1 << 13  # successors gathered before one store lookup
CHECKPOINT_FORMAT = 1


@dataclass
class Progress:
    """A snapshot handed to the progress callback after each batch."""

    distinct: int
    generated: int
    depth: int
    queued: int
    elapsed_s: float
    memory_bytes: int = 0  # the store's and the waiting levels' bytes in memory
    spilled: bool = False


@dataclass
class SearchControl:
    """How a search is steered from outside: stop requests, time limit, memory, checkpoints.

    ``request_stop`` may be called from a signal handler: the search notices it at the next
    state it expands, finishes the batch in hand (milliseconds) and stops. ``folder`` is the
    run's folder: checkpoints (``folder/checkpoint``) and spill files (``folder/spill``) go
    there. ``memory_bytes``: above this, the store and the waiting levels move to disk.
    ``meta`` is saved with each checkpoint (the CLI puts what it needs to resume there).
    """

    folder: Path | None = None
    memory_bytes: int | None = None
    checkpoint_every_s: float | None = None
    time_limit_s: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    stop_requested: bool = False
    checkpoint_written: Path | None = None
    checkpoint_bytes: int = 0
    checkpoint_seconds: float = 0.0
    checkpoint_error: str | None = None

    def request_stop(self) -> None:
        self.stop_requested = True


def fingerprint_of(state: Any) -> int:
    """The fingerprint the explorer stores for ``state`` (see ``fingerprint.py``)."""
    return fingerprint(state)


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Search:
    """One breadth-first search: its store, initial states and (optionally) every state.

    ``store`` is the :class:`StateStore` (ids in BFS order, parents, edge log if recorded);
    ``states[id]`` is the state itself when the search was asked to ``keep_states`` (small
    searches such as ``protospec graph``); ``result`` is the :class:`CheckResult`.
    """

    def __init__(self, spec: Spec, store: StateStore, fp: Callable[[Any], int]) -> None:
        self.spec = spec
        self.store = store
        self.fp = fp
        self.inits: list[Any] = []
        self.states: list[Any] | None = None
        self.result: CheckResult | None = None

    def path_to(self, index: int) -> list[int]:
        return self.store.path_to(index)

    def trace_to(self, index: int, extra: Any = None) -> Trace:
        """The trace from an initial state to state ``index`` (then to ``extra``, if given)."""
        fps = self.store.fps
        target_fps = [int(fps[i]) for i in self.store.path_to(index)]
        if extra is not None:
            target_fps.append(self.fp(extra))
        return rebuild_trace(self.spec, target_fps, self.inits, fp=self.fp)


def rebuild_trace(spec: Spec, fps: list[int], inits: list[Any] | None = None,
                  fp: Callable[[Any], int] = fingerprint) -> Trace:
    """Replay a path given as a list of fingerprints, recovering each step's label."""
    candidates = list(spec.init()) if inits is None else inits
    state = next((s for s in candidates if fp(s) == fps[0]), None)
    if state is None:
        raise SpecError(f"spec {spec.name!r}: cannot replay the trace: its initial state is "
                        f"not among init() (is init() deterministic?)", spec=spec.name)
    steps = [Step(None, {}, state)]
    for depth, target in enumerate(fps[1:], start=1):
        for label, t in spec.successors(state):
            if fp(t) == target:
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


class _Failed(Exception):
    """An invariant returned false in the fast loop of ``flush``."""


def compile_expander(spec: Spec, action_index: dict[str, int],
                     fp: Callable[[Any], int] = fingerprint,
                     intern: Callable[[str, tuple], int] | None = None, *,
                     emitter: bool = False) -> Callable[..., None]:
    """Build ``expand(s, add_state, add_fp, add_act, enabled_many)`` for this spec instance.

    It enumerates every action instance on ``s`` in enumeration order and appends each
    successor, its fingerprint and its action number -- or, given ``intern`` (edge logging),
    its action-instance label id, ``intern(action name, ((arg, value), ...))``. The code is
    generated once per run. Each action's body is inlined into it where that is certainly
    equivalent (explorer/inline.py: state fields unpacked once per state, guards tested
    before the loops over arguments they do not mention); other actions are called, unrolled
    over their static argument tuples with each function and argument bound as a default
    parameter (fast locals). ``PROTOSPEC_PLAIN_EXPANDER=1`` calls every action. With
    ``emitter=True`` the function is ``expand(s, emit, enabled_many)`` and calls
    ``emit(t, label)`` once per successor: a C ``Emitter`` bound to the three lists does the
    appends and the fingerprint (its own, or ``fp`` given to it), and drops successors the
    store already holds. The generated
    text comes from the engine (action numbers, generated names) and from the spec's own
    action source, renamed, never from other input.
    """
    plain = _Generator(spec, action_index, fp, intern, emitter).plain()
    if not inlining_enabled():
        return plain
    try:
        return _Generator(spec, action_index, fp, intern, emitter).inlined(plain)
    except SyntaxError:  # a rewrite the engine cannot compile: the plain expander is exact
        return plain


def inlining_report(spec: Spec) -> dict[str, str]:
    """Action name -> "inlined" or the reason it is called as a method (for tests and
    ``explain``-style diagnostics)."""
    gen = _Generator(spec, {a.name: i for i, a in enumerate(spec.actions())}, fingerprint,
                     None)
    gen.inlined(None)
    return gen.report


class _Generator:
    """Writes the source of one ``expand`` function, action by action."""

    def __init__(self, spec: Spec, action_index: dict[str, int], fp: Callable[[Any], int],
                 intern: Callable[[str, tuple], int] | None, emitter: bool = False) -> None:
        self.spec, self.action_index, self.intern = spec, action_index, intern
        self.emitter_mode = emitter
        self.args = "EMIT, enabled_many" if emitter else "add_state, add_fp, add_act, enabled_many"
        self.env: dict[str, Any] = {"FP": fp}
        self.lines: list[str] = []
        self.n = 0  # a fresh number for each plain-called piece
        self.report: dict[str, str] = {}
        self.shared: dict[int, str] = {}  # id(from_state fn) -> its per-state variable

    def finish(self) -> Callable[..., None]:
        env, lines = self.env, self.lines
        params = ", ".join(f"{name}={name}" for name in env)
        src = (f"def expand(s, {self.args}, {params}):\n"
               + ("\n".join(lines) if lines else "    pass") + "\n")
        namespace: dict[str, Any] = dict(env)
        exec(compile(src, f"<protospec expander for {self.spec.name}>", "exec"), namespace)
        expand = namespace["expand"]
        expand.source = src  # type: ignore[attr-defined]  # for debugging the engine
        return expand

    def plain(self) -> Callable[..., None]:
        spec = self.spec
        for act in spec.actions():
            self.plain_static(act)
        for act, fn, resolved in spec.dynamic_actions:
            self.plain_dynamic(act, fn, resolved)
        return self.finish()

    def plain_static(self, act: Any) -> None:
        spec, env, lines, intern = self.spec, self.env, self.lines, self.intern
        for k, fn, args, many in spec.static_instances:
            label = spec.static_labels[k]
            if label.action != act.name:
                continue
            n = self.n
            self.n += 1
            a = (self.action_index[label.action] if intern is None
                 else intern(label.action, label.args))
            env[f"F{n}"] = fn
            arg_names = []
            for j, value in enumerate(args):
                env[f"A{n}_{j}"] = value
                arg_names.append(f"A{n}_{j}")
            call = f"F{n}(s{''.join(', ' + x for x in arg_names)})"
            e = self.action_index[label.action]
            if many:
                lines += [f"    t = {call}",
                          "    if t is not None:",
                          "        got = 0",
                          "        for u in t:",
                          f"            {self.add('u', a)}; got = 1",
                          f"        enabled_many[{e}] += got"]
            else:
                lines += [f"    t = {call}",
                          "    if t is not None:",
                          f"        {self.add('t', a)}"]

    def plain_dynamic(self, act: Any, fn: Callable, resolved: list) -> None:
        # Nested loops over the argument domains, read off the state where they depend on it;
        # labels are built only when edges are logged (replay recovers them otherwise).
        env, lines = self.env, self.lines
        n = self.n
        self.n += 1
        e = self.action_index[act.name]
        env[f"G{n}"] = fn
        indent = "    "
        names = []
        if act.many:
            lines.append("    got = 0")
        for j, (_arg, domain) in enumerate(resolved):
            var = f"x{n}_{j}"
            names.append(var)
            shared = self.shared.get(id(domain.fn)) if isinstance(domain, from_state) else None
            if shared is not None:  # computed once per state for every action using it
                lines.append(f"{indent}for {var} in ({shared} if {shared} is not None "
                             f"else ({shared} := tuple({shared}_FN(s)))):")
            elif isinstance(domain, from_state):
                env[f"DOM{n}_{j}"] = domain.fn
                lines.append(f"{indent}for {var} in DOM{n}_{j}(s):")
            else:
                env[f"DOM{n}_{j}"] = tuple(domain)
                lines.append(f"{indent}for {var} in DOM{n}_{j}:")
            indent += "    "
        act_expr = self.dynamic_label(n, act, [arg for arg, _ in resolved], names)
        call = f"G{n}(s{''.join(', ' + x for x in names)})"
        lines += [f"{indent}t = {call}", f"{indent}if t is not None:"]
        if act.many:
            lines += [f"{indent}    for u in t:",
                      f"{indent}        {self.add('u', act_expr)}; got = 1"]
        else:
            lines.append(f"{indent}    {self.add('t', act_expr)}")
        if act.many:
            lines.append(f"    enabled_many[{e}] += got")

    def add(self, var: str, label: Any) -> str:
        """The statement that adds successor ``var`` with its label."""
        if self.emitter_mode:
            return f"EMIT({var}, {label})"
        return f"add_state({var}); add_fp(FP({var})); add_act({label})"

    def dynamic_label(self, n: int, act: Any, arg_names: list[str], vars_: list[str]) -> str:
        if self.intern is None:
            return str(self.action_index[act.name])
        self.env["INTERN"] = self.intern
        self.env[f"NAME{n}"] = act.name
        self.env[f"ARGN{n}"] = tuple(arg_names)
        pairs = "".join(f"(ARGN{n}[{j}], {v}), " for j, v in enumerate(vars_))
        return f"INTERN(NAME{n}, ({pairs}))"

    # -- inlined actions ---------------------------------------------------------------------
    def inlined(self, plain: Callable[..., None] | None) -> Callable[..., None]:
        spec, env, lines = self.spec, self.env, self.lines
        layout = state_layout(spec)
        if layout is not None and plain is not None:
            cls, fields = layout
            env["STATE"], env["PLAIN"] = cls, plain
            lines += ["    if type(s) is not STATE:",
                      f"        return PLAIN(s, {self.args})"]
            if fields:
                lines.append(f"    {', '.join(f'S{i}' for i in range(len(fields)))}, = s")
        env["SELF"] = spec
        dynamic = {act.name: (fn, resolved) for act, fn, resolved in spec.dynamic_actions}
        static = [a for a in spec.actions() if a.name not in dynamic]
        ordered = [(a, False) for a in static] + [(a, True) for a, _, _ in spec.dynamic_actions]
        # A from_state domain that several actions share is computed once per state.
        uses: dict[int, int] = {}
        for _, _, resolved in spec.dynamic_actions:
            for _, d in resolved:
                if isinstance(d, from_state):
                    uses[id(d.fn)] = uses.get(id(d.fn), 0) + 1
        shared = self.shared
        for _, _, resolved in spec.dynamic_actions:
            for _, d in resolved:
                if isinstance(d, from_state) and uses[id(d.fn)] > 1 and id(d.fn) not in shared:
                    name = f"SDOM{len(shared)}"
                    shared[id(d.fn)] = name
                    env[f"{name}_FN"] = d.fn
                    lines.append(f"    {name} = None")
        for k, (act, is_dynamic) in enumerate(ordered):
            fn = getattr(spec, act.name)
            resolved = (dynamic[act.name][1] if is_dynamic else
                        [(arg, spec._resolve_domain(act, arg, d)) for arg, d in act.domains])
            try:
                done = inline_action(k, act, fn, resolved, layout,
                                     self.emitter(k, act, resolved, is_dynamic), shared)
            except NotInlinable as exc:
                self.report[act.name] = str(exc)
                (self.plain_dynamic(act, fn, resolved) if is_dynamic
                 else self.plain_static(act))
                continue
            except Exception as exc:  # an engine gap: the method call is always exact
                self.report[act.name] = f"the inliner failed ({type(exc).__name__}: {exc})"
                (self.plain_dynamic(act, fn, resolved) if is_dynamic
                 else self.plain_static(act))
                continue
            self.report[act.name] = "inlined"
            env.update(done.env)
            got = f"got{k}"
            if act.many and is_dynamic:
                lines.append(f"    {got} = 0")
            for st in done.body:
                lines += ["    " + line for line in ast.unparse(st).splitlines()]
            if act.many and is_dynamic:
                lines.append(f"    enabled_many[{self.action_index[act.name]}] += {got}")
        return self.finish()

    def emitter(self, k: int, act: Any, resolved: list,
                is_dynamic: bool) -> Callable[[str, list[str]], list[str]]:
        """The lines that add the successor(s) held in a variable, with their label."""
        e = self.action_index[act.name]
        if self.intern is None:
            label = str(e)
        elif is_dynamic:
            label = self.dynamic_label(1000 + k, act, [arg for arg, _ in resolved],
                                       [f"i{k}_{j}" for j in range(len(resolved))])
        else:
            names = [arg for arg, _ in resolved]
            ids = {}
            for combo in itertools.product(*(values for _, values in resolved)):
                ids[combo if len(combo) != 1 else combo[0]] = self.intern(
                    act.name, tuple(zip(names, combo)))
            self.env[f"LBL{k}"] = ids
            key = ", ".join(f"i{k}_{j}" for j in range(len(resolved)))
            label = (f"LBL{k}[{key}]" if len(resolved) == 1
                     else f"LBL{k}[({key})]" if resolved else f"LBL{k}[()]")
        # a static many-action counts the argument tuples that gave a successor; a dynamic
        # one counts the states where some tuple did (as the plain expander does)
        static_many = act.many and not is_dynamic

        def emit(var: str, _loop_vars: list[str], not_none: bool = False) -> list[str]:
            if act.many:
                flag = "got = 1" if static_many else f"got{k} = 1"
                out = [f"if {var} is not None:"]
                if static_many:
                    out.append("    got = 0")
                out += [f"    for u in {var}:",
                        f"        {self.add('u', label)}; {flag}"]
                if static_many:
                    out.append(f"    enabled_many[{e}] += got")
                return out
            add = self.add(var, label)
            return [add] if not_none else [f"if {var} is not None:", "    " + add]

        return emit


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
    """A state the engine cannot fingerprint: say which action, which step, where inside."""
    try:
        fingerprint(t)
    except (UnsupportedValue, TypeError) as inner:
        return _unsupported_error(spec, f"action {label}", t, depth + 1, inner)
    return None


def _unsupported_error(spec: Spec, who: str, t: Any, step: int, inner: Exception) -> SpecError:
    where = find_unsupported(t) or f"state holds a value it cannot fingerprint ({inner})"
    return SpecError(
        f"spec {spec.name!r}: {who} produced a state that cannot be fingerprinted at step "
        f"{step}: {where}. States must be immutable values: ints, strings, enums, tuples, "
        f"NamedTuples, frozensets and frozen dataclasses (tuples instead of lists, frozensets "
        f"instead of sets and dicts, no functions or objects compared by identity)",
        spec=spec.name, action=who, depth=step, cause=inner)


def check(spec: Spec, *, max_depth: int | None = None, max_states: int | None = None,
          keep_going: bool = False, progress: Callable[[Progress], None] | None = None,
          until: frozenset[str] | None = None, check_deadlock: bool | None = None,
          control: SearchControl | None = None, resume: Path | None = None,
          record_edges: bool = False, canon: Callable[[Any], Any] | None = None,
          observe: Callable[[Any], None] | None = None,
          symmetry: bool = False) -> CheckResult:
    """Explore every reachable state of ``spec`` breadth-first and check its properties.

    ``until`` names properties to hunt for: violations of others are recorded and the search
    goes on until one of these is violated (e.g. a bug variant's ``breaks`` property, when an
    invariant that implies it fails first).
    Stops at the first violation unless ``keep_going`` (then it reports the first, shortest,
    violation of each property). ``max_depth`` bounds the number of steps from an initial
    state, ``max_states`` the number of distinct states; either makes the result incomplete,
    as do a stop request, the time limit of ``control``, and nothing else.
    ``resume`` is a checkpoint folder written by an earlier run of the same configuration.
    ``symmetry`` explores one state per orbit of the spec's declared symmetric sets
    (explorer/symmetry.py); counterexamples stay concrete behaviours.
    Raises SpecError if the spec misbehaves, with the trace to the failing state attached.
    """
    search = explore(spec, max_depth=max_depth, max_states=max_states, keep_going=keep_going,
                     progress=progress, until=until, check_deadlock=check_deadlock,
                     control=control, resume=resume, record_edges=record_edges, canon=canon,
                     observe=observe, symmetry=symmetry)
    assert search.result is not None
    return search.result


def explore(spec: Spec, *, max_depth: int | None = None, max_states: int | None = None,
            keep_going: bool = False, progress: Callable[[Progress], None] | None = None,
            until: frozenset[str] | None = None, check_deadlock: bool | None = None,
            control: SearchControl | None = None, resume: Path | None = None,
            record_edges: bool = False, keep_states: bool = False,
            canon: Callable[[Any], Any] | None = None,
            observe: Callable[[Any], None] | None = None, symmetry: bool = False) -> Search:
    """:func:`check`, returning the whole :class:`Search` (its store, edge log if
    ``record_edges``, every state if ``keep_states``) with the result in ``.result``.

    ``observe(state)`` is called once per stored state, in id order (liveness records its
    predicates so). If it has ``snapshot()`` and ``restore(data)``, checkpoints keep what it
    recorded."""
    deadlock = spec.check_deadlock if check_deadlock is None else check_deadlock
    fp = fingerprint if canon is None else (lambda s: fingerprint(canon(s)))
    sym = None
    if symmetry:
        if canon is not None:
            raise ValueError("symmetry and canon are two ways to say the same thing: pick one")
        from .symmetry import build_symmetry, guard_first_states

        sym = build_symmetry(spec, list(spec.init()), fingerprint)
        guard_first_states(sym, spec)
        fp = sym.canonical_fingerprint
    search = Search(spec, StateStore(record_edges=record_edges), fp)
    if keep_states:
        search.states = []
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the search allocates millions of tuples and frees none: GC passes are waste
    try:
        stop_on = None if keep_going else until
        run = _BFS(spec, search, max_depth, max_states, keep_going or until is not None,
                   progress, deadlock, stop_on, control or SearchControl())
        run.observe = observe
        search.result = run.run(resume)
        if sym is not None:
            search.result.stats.symmetry = tuple(x.name for x in sym.sets)
    finally:
        if gc_was_enabled:
            gc.enable()
    return search


class _BFS:
    """The mutable state of one breadth-first run (kept in one object to checkpoint it)."""

    def __init__(self, spec: Spec, search: Search, max_depth: int | None,
                 max_states: int | None, keep_going: bool,
                 progress: Callable[[Progress], None] | None, deadlock: bool,
                 stop_on: frozenset[str] | None, control: SearchControl) -> None:
        self.spec, self.search, self.store = spec, search, search.store
        self.max_depth, self.max_states, self.keep_going = max_depth, max_states, keep_going
        self.progress, self.deadlock, self.stop_on, self.control = (progress, deadlock, stop_on,
                                                                    control)
        self.action_names = [a.name for a in spec.actions()]
        n = len(self.action_names)
        self.fired = np.zeros(n, dtype=np.int64)
        self.dropped_fired = np.zeros(n, dtype=np.int64)  # since the last flush
        self.enabled_many = [0] * n  # "enabled" differs from "fired" only for many-actions
        self.new_by_action = np.zeros(n, dtype=np.int64)
        self.violations: list[Violation] = []
        self.violated: set[str] = set()
        self.stats = Stats()
        self.outside: set[int] = set()  # fingerprints of states the constraint rejected
        self.generated = 0
        self.depth = 0
        self.level_start = 0  # id of the first state of the level being expanded
        self.elapsed_before = 0.0  # time spent before a resume
        # label id -> action number, for coverage when the expander emits label ids
        self.label_action: list[int] = []
        self.observe: Callable[[Any], None] | None = None  # called on each stored state

    # -- properties --------------------------------------------------------------------------
    def violation(self, name: str, kind: str, trace: Trace) -> bool:
        """Record a violation; True if the search should stop."""
        if name not in self.violated:
            self.violated.add(name)
            self.violations.append(Violation(name, kind, self.docs.get(name, ""), trace))
        if self.stop_on is not None:
            return name in self.stop_on
        return not self.keep_going

    def check_invariants(self, state: Any, index: int) -> bool:
        for name, inv in self.invariants:
            if name in self.violated:
                continue
            try:
                ok = inv(state)
            except Exception as exc:
                raise _property_failed(self.spec, "invariant", name, exc,
                                       self.search.trace_to(index)) from exc
            if not ok and self.violation(name, "invariant", self.search.trace_to(index)):
                return True
        return False

    def intern(self, action: str, args: tuple) -> int:
        i = self.store.intern_label((action, args))
        if i == len(self.label_action):
            self.label_action.append(self.action_index[action])
        return i

    # -- the run -----------------------------------------------------------------------------
    def run(self, resume: Path | None) -> CheckResult:
        spec = self.spec
        self.started = time.perf_counter()
        self.rss_before = peak_rss_bytes()
        self.action_index = {name: i for i, name in enumerate(self.action_names)}
        self.record = self.store.record_edges
        layout = state_layout(spec)
        self.invariants = [(name, memoized_invariant(spec, fn, layout, fingerprint))
                           for name, fn in spec.invariant_fns]
        self.action_props = list(spec.action_property_fns)
        self.constraint = spec.constraint
        self.docs = spec.property_docs()
        self.last_checkpoint = time.perf_counter()
        if resume is not None:
            frontier, next_frontier = self.load_checkpoint(resume)
            stop = False
        else:
            frontier, stop = self.initial_states()
            next_frontier = self.new_level()
        # The C emitter computes the plain structural fingerprint itself; a canonical one
        # (symmetry, canon) it gets from search.fp.
        self.emitter = getattr(_fpcore, "Emitter", None) if inlining_enabled() else None
        self.emit_fp = None if self.search.fp is fingerprint else self.search.fp
        self.expand = compile_expander(spec, self.action_index, self.search.fp,
                                       self.intern if self.record else None,
                                       emitter=self.emitter is not None)
        if not stop:
            self.levels(frontier, next_frontier)
        return self.finish()

    def initial_states(self) -> tuple[Level, bool]:
        spec, store, search = self.spec, self.store, self.search
        try:
            init_states = list(spec.init())
        except Exception as exc:
            raise SpecError(f"spec {spec.name!r}: init() raised {type(exc).__name__}: {exc}",
                            spec=spec.name, cause=exc) from exc
        init_fps = []
        for s in init_states:
            try:
                init_fps.append(search.fp(s))
            except (UnsupportedValue, TypeError) as exc:
                raise _unsupported_error(spec, "init()", s, 0, exc) from exc
        if not init_states:
            raise SpecError(f"spec {spec.name!r}: init() yielded no initial state",
                            spec=spec.name)
        fps = np.array(init_fps, dtype=np.int64)
        _, first = np.unique(fps, return_index=True)
        frontier = self.new_level()
        store.mark_level()
        for p in np.sort(first).tolist():
            s = init_states[p]
            if self.constraint is not None and not self.constraint(s):
                self.stats.outside_constraint += 1
                self.outside.add(init_fps[p])
                continue
            (i,) = store.add(fps[p:p + 1], np.array([-1]))
            if self.observe is not None:
                self.observe(s)
            frontier.append(s)
            search.inits.append(s)
            if search.states is not None:
                search.states.append(s)
            if self.check_invariants(s, int(i)):
                return frontier, True
        self.generated = len(init_states)
        return frontier, False

    def levels(self, frontier: Level, next_frontier: Level) -> None:
        spec, store, search, control = self.spec, self.store, self.search, self.control
        expand, enabled_many = self.expand, self.enabled_many
        action_props, deadlock = self.action_props, self.deadlock
        max_depth, max_states = self.max_depth, self.max_states
        stop = False
        while len(frontier) and not stop:
            if max_depth is not None and self.depth >= max_depth:
                self.stats.complete = False
                self.stats.stopped_by = "max_depth"
                break
            if len(store.level_starts) < self.depth + 2:
                store.mark_level()  # the next level's states get ids from here on
            if control.folder is not None and store.spilled:
                next_frontier.spill_to(control.folder / "spill" / f"level-{self.depth + 1}.bin")
            c_states: list[Any] = []
            c_fps: list[int] = []
            c_act: list[int] = []
            c_off: list[int] = []  # c_off[j]: first candidate of frontier state j of this batch
            batch_first = 0  # frontier position of the batch's first state
            add_state, add_fp, add_act, add_off = (c_states.append, c_fps.append,
                                                   c_act.append, c_off.append)
            emit = None
            if self.emitter is not None:
                emit = self.emitter(c_states, c_fps, c_act, self.emit_fp)
                cache = getattr(self.emit_fp, "cache", None)
                if cache is not None:  # symmetry: the emitter reads the canonical cache itself
                    emit.canonical(*cache)
            # Successors already stored are dropped by the emitter itself (counted as fired),
            # unless edges are logged; action properties see every step in `steps`.
            watch = emit is not None and not self.record
            steps: list[Any] | None = None
            if watch and action_props:
                steps = []
                emit.steps(steps)
            self.emit_dropped = 0
            if watch:
                self.watch(emit)
            batch_base = emit.count if emit is not None else 0
            pos = 0
            n_frontier = len(frontier)
            level_start = self.level_start
            for chunk in frontier.chunks():
                for k, s in enumerate(chunk):
                    start = len(c_fps)
                    add_off(start)
                    try:
                        if emit is not None:
                            before = emit.count
                            expand(s, emit, enabled_many)
                            now = emit.count  # successors so far, dropped ones included
                        else:
                            before = start
                            expand(s, add_state, add_fp, add_act, enabled_many)
                            now = len(c_fps)
                    except Exception as exc:
                        err = _diagnose(spec, s, exc, self.depth)
                        err.trace = search.trace_to(level_start + pos)
                        raise err from exc
                    end = len(c_fps)
                    if steps is not None:
                        stop = self.check_steps(s, steps, 0, len(steps), level_start + pos)
                        steps.clear()
                    elif action_props:
                        stop = self.check_steps(s, c_states, start, end, level_start + pos)
                    if (deadlock and now == before and "deadlock" not in self.violated
                            and self.violation("deadlock", "deadlock",
                                               search.trace_to(level_start + pos))):
                        stop = True
                    pos += 1
                    if stop:
                        break
                    # batches end where they would without dropping: the same runs stop at
                    # the same state under max_states
                    if now - batch_base >= BATCH or pos == n_frontier or control.stop_requested:
                        if watch:  # what the emitter dropped counts at the flush, as the rest
                            self.generated += emit.dropped - self.emit_dropped
                            self.emit_dropped = emit.dropped
                            self.fired += self.dropped_fired
                            self.dropped_fired[:] = 0
                        stop = self.flush(c_states, c_fps, c_act, c_off,
                                          level_start + batch_first, next_frontier)
                        c_states.clear()
                        c_fps.clear()
                        c_act.clear()
                        c_off.clear()
                        batch_first = pos
                        batch_base = emit.count if emit is not None else 0
                        if max_states is not None and len(store) >= max_states:
                            self.stats.complete = False
                            self.stats.stopped_by = "max_states"
                            stop = True
                        if self.progress is not None:
                            self.report_progress(len(next_frontier) + n_frontier - pos)
                        if not stop:
                            stop = self.between_batches(frontier, chunk[k + 1:],
                                                        next_frontier, level_start + pos)
                        if watch and not stop:
                            self.watch(emit)  # the store may have moved its arrays
                        if stop:
                            self.stats.queued = n_frontier - pos + len(next_frontier)
                        if stop:
                            break
                if stop:
                    break
            if watch:
                emit.unwatch()
            if stop:
                break
            self.level_start += n_frontier
            if len(next_frontier):
                self.depth += 1
            frontier, next_frontier = next_frontier, self.new_level()

    def new_level(self) -> Level:
        """A level waiting to be expanded. Its chunks stay raw while resident memory is under
        the budget; under a memory limit (which counts pickled bytes only) the budget is at
        most a quarter of it, so raw chunks can never carry the search past the limit."""
        limit = self.control.memory_bytes
        return Level(RAW_BUDGET if limit is None else min(RAW_BUDGET, limit // 4))

    def watch(self, emit: Any) -> None:
        """Let the C emitter drop successors the store already holds."""
        store = self.store
        emit.watch(store.index_array(), store.fps.view(), self.dropped_fired)

    def check_steps(self, s: Any, c_states: list[Any], start: int, end: int,
                    index: int) -> bool:
        for j in range(start, end):
            t = c_states[j]
            for name, ap in self.action_props:
                if name in self.violated:
                    continue
                try:
                    ok = ap(s, t)
                except Exception as exc:
                    raise _property_failed(self.spec, "action property", name, exc,
                                           self.search.trace_to(index, extra=t)) from exc
                if not ok and self.violation(name, "action_property",
                                             self.search.trace_to(index, extra=t)):
                    return True
        return False

    def flush(self, c_states: list[Any], c_fps: list[int], c_act: list[int],
              c_off: list[int], first_src: int, next_frontier: Level) -> bool:
        """One store lookup for the batch, then the new states in order; True to stop."""
        store, search = self.store, self.search
        n_actions = len(self.action_names)
        fp_arr = np.array(c_fps, dtype=np.int64)
        self.generated += len(fp_arr)
        act_arr = np.array(c_act, dtype=np.int64)
        if self.record and len(act_arr):
            act_arr_labels = act_arr
            act_arr = np.asarray(self.label_action, dtype=np.int64)[act_arr]
        self.fired += np.bincount(act_arr, minlength=n_actions)
        # Distinct fingerprints of the batch first (successors repeat a lot within a batch),
        # then one store lookup for those; the first occurrence of each new one is kept.
        if self.record:
            uniq, first, inverse = np.unique(fp_arr, return_index=True, return_inverse=True)
        else:
            uniq, first = np.unique(fp_arr, return_index=True)
        ids_u = store.lookup(uniq)
        unknown_u = np.flatnonzero(ids_u < 0)
        new_pos = np.sort(first[unknown_u])
        off_arr = np.array(c_off, dtype=np.int64)
        parent_of = first_src + np.searchsorted(off_arr, new_pos, side="right") - 1
        constraint, outside = self.constraint, self.outside
        if constraint is not None or outside:
            kept = []
            for p in new_pos.tolist():
                f = c_fps[p]
                if f in outside:
                    continue
                if constraint is not None and not constraint(c_states[p]):
                    self.stats.outside_constraint += 1
                    outside.add(f)
                    continue
                kept.append(p)
            sel = np.isin(new_pos, np.array(kept, dtype=np.int64))
            keep_idx, keep_par = new_pos[sel], parent_of[sel]
        else:
            keep_idx, keep_par = new_pos, parent_of
        first_new = len(store)
        store.add(fp_arr[keep_idx], keep_par)
        observe = self.observe
        for p in keep_idx.tolist():
            next_frontier.append(c_states[p])
            if observe is not None:
                observe(c_states[p])
        if search.states is not None:
            search.states.extend(c_states[p] for p in keep_idx.tolist())
        if self.record and len(fp_arr):
            if len(unknown_u):
                ids_u[unknown_u] = store.lookup(uniq[unknown_u])
            ids = ids_u[inverse]
            src = first_src + np.searchsorted(off_arr, np.arange(len(fp_arr)), side="right") - 1
            inside = ids >= 0  # steps into states outside the constraint are not in the graph
            store.add_edges(src[inside], ids[inside], act_arr_labels[inside])
        if len(keep_idx):
            self.new_by_action += np.bincount(act_arr[keep_idx], minlength=n_actions)
        if self.invariants:
            # The common case first: every invariant holds (one loop, no bookkeeping); a
            # state where one fails or raises is checked again the careful way.
            fns = [inv for name, inv in self.invariants if name not in self.violated]
            check = self.check_invariants
            for i, p in enumerate(keep_idx.tolist()):
                s = c_states[p]
                try:
                    for inv in fns:
                        if not inv(s):
                            raise _Failed
                except Exception:
                    if check(s, first_new + i):
                        return True
                    fns = [inv for name, inv in self.invariants if name not in self.violated]
        return False

    def memory_bytes(self, *levels: Level) -> int:
        return self.store.nbytes + sum(level.nbytes for level in levels)

    def report_progress(self, queued: int) -> None:
        assert self.progress is not None
        self.progress(Progress(len(self.store), self.generated, self.depth + 1, queued,
                               self.elapsed(), self.store.nbytes, self.store.spilled))

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.started

    def between_batches(self, frontier: Level, rest: list[Any], next_frontier: Level,
                        next_id: int) -> bool:
        """Stop requests, time limit, spilling and periodic checkpoints; True to stop."""
        control = self.control
        if control.memory_bytes is not None and control.folder is not None \
                and not self.store.spilled \
                and self.memory_bytes(frontier, next_frontier) > control.memory_bytes:
            spill = control.folder / "spill"
            spill.mkdir(parents=True, exist_ok=True)
            self.store.spill(spill)
            next_frontier.spill_to(spill / f"level-{self.depth + 1}.bin")
        reason = None
        if control.stop_requested:
            reason = "interrupted"
        elif (control.time_limit_s is not None
              and time.perf_counter() - self.started >= control.time_limit_s):
            reason = "time_limit"
        if reason is not None:
            self.stats.complete = False
            self.stats.stopped_by = reason
        due = (control.checkpoint_every_s is not None
               and time.perf_counter() - self.last_checkpoint >= control.checkpoint_every_s)
        if control.folder is not None and (reason is not None or due):
            self.save_checkpoint(frontier, rest, next_frontier, next_id)
            self.last_checkpoint = time.perf_counter()
        return reason is not None

    # -- checkpoints -------------------------------------------------------------------------
    def save_checkpoint(self, frontier: Level, rest: list[Any], next_frontier: Level,
                        next_id: int) -> None:
        """Write everything needed to go on from here into ``folder/checkpoint``, atomically
        (a new folder renamed over the old one)."""
        control = self.control
        assert control.folder is not None
        t0 = time.perf_counter()
        folder = control.folder
        tmp = folder / "checkpoint.new"
        final = folder / "checkpoint"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            with open(tmp / "frontier.bin", "wb") as f:
                frontier.write_rest(f, rest)
            with open(tmp / "next.bin", "wb") as f:
                next_frontier.write_rest(f)
            with open(tmp / "search.pkl", "wb") as f:
                pickle.dump(self.snapshot(next_id), f, protocol=pickle.HIGHEST_PROTOCOL)
        except NotPicklable as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            control.checkpoint_error = (f"the spec's states cannot be pickled ({exc}), so no "
                                        f"checkpoint was written")
            return
        self.store.save(tmp / "store")
        (tmp / "meta.json").write_text(json.dumps(
            {"format": CHECKPOINT_FORMAT, **control.meta}, indent=1, default=str))
        old = folder / "checkpoint.old"
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
        control.checkpoint_written = final
        control.checkpoint_bytes = sum(p.stat().st_size for p in final.rglob("*")
                                       if p.is_file())
        control.checkpoint_seconds = time.perf_counter() - t0

    def snapshot(self, next_id: int) -> dict[str, Any]:
        return {
            "fired": self.fired, "enabled_many": self.enabled_many,
            "new_by_action": self.new_by_action, "violations": self.violations,
            "violated": self.violated, "outside_constraint": self.stats.outside_constraint,
            "outside": self.outside, "generated": self.generated, "depth": self.depth,
            "level_start": self.level_start, "next_id": next_id,
            "elapsed": self.elapsed(), "inits": self.search.inits,
            "label_action": self.label_action, "action_names": self.action_names,
            "observer": (self.observe.__self__.snapshot()  # type: ignore[attr-defined]
                         if hasattr(getattr(self.observe, "__self__", None), "snapshot")
                         else None),
        }

    def load_checkpoint(self, folder: Path) -> tuple[Level, Level]:
        with open(folder / "search.pkl", "rb") as f:
            snap = pickle.load(f)
        if snap["action_names"] != self.action_names:
            raise SpecError(f"spec {self.spec.name!r}: the checkpoint in {folder} was written "
                            f"for other actions ({', '.join(snap['action_names'])}): it cannot "
                            f"be resumed with this spec", spec=self.spec.name)
        self.store = self.search.store = StateStore.load(folder / "store")
        self.fired = snap["fired"]
        self.enabled_many = snap["enabled_many"]
        self.new_by_action = snap["new_by_action"]
        self.violations = snap["violations"]
        self.violated = snap["violated"]
        self.stats.outside_constraint = snap["outside_constraint"]
        self.outside = snap["outside"]
        self.generated = snap["generated"]
        self.depth = snap["depth"]
        self.elapsed_before = snap["elapsed"]
        self.search.inits = snap["inits"]
        self.label_action = snap["label_action"]
        owner = getattr(self.observe, "__self__", None)
        if snap.get("observer") is not None and hasattr(owner, "restore"):
            owner.restore(snap["observer"])
        with open(folder / "frontier.bin", "rb") as f:
            frontier = Level.read(f)
        with open(folder / "next.bin", "rb") as f:
            next_frontier = Level.read(f)
        # The current level resumes at state next_id: the ids of its first states (already
        # expanded) come before, so ``level_start`` is shifted to keep parent ids right.
        self.level_start = snap["next_id"]
        if not len(frontier):  # stopped at the end of a level: go on with the next one
            if len(next_frontier):
                self.depth += 1
            frontier, next_frontier = next_frontier, self.new_level()
        return frontier, next_frontier

    # -- the result --------------------------------------------------------------------------
    def finish(self) -> CheckResult:
        spec, stats, store = self.spec, self.stats, self.store
        n = len(store)
        stats.distinct_states = n
        stats.states_generated = self.generated
        stats.depth = self.depth
        stats.elapsed_s = self.elapsed()
        stats.peak_rss_bytes = peak_rss_bytes()
        stats.bytes_per_state = (max(0, stats.peak_rss_bytes - self.rss_before) / n
                                 if n else 0.0)
        stats.store_bytes_per_state = store.nbytes / n if n and not store.spilled else 0.0
        stats.edges = store.edge_count
        stats.spilled = store.spilled
        stats.collision_probability = collision_probability(n, self.generated)
        violations = self.violations
        if violations and (not self.keep_going or (self.stop_on is not None
                                                   and self.violated & self.stop_on)):
            stats.complete = False
            stats.stopped_by = stats.stopped_by or "violation"
        coverage = {}
        for i, act in enumerate(spec.actions()):
            # A many-action may yield several successors per enabling; others exactly one.
            enabled = self.enabled_many[i] if act.many else int(self.fired[i])
            coverage[act.name] = ActionCoverage(enabled, int(self.fired[i]),
                                                int(self.new_by_action[i]))
        return CheckResult(
            spec=spec.name, params=dict(spec.param_values), variant=spec.variant_name,
            mode="check", violations=violations, stats=stats, coverage=coverage,
            properties_checked=[n for n, _ in self.invariants]
            + [n for n, _ in self.action_props] + (["deadlock"] if self.deadlock else []),
        )
