"""Trace refinement: check that an implementation's event log is a behaviour of a spec.

The implementation logs what it does, one event per protocol step; a :class:`Mapping` written
beside the spec says, for each event, which spec step(s) may explain it and what the spec
state must look like afterwards. :func:`refine` then walks the log:

* it keeps the **set of spec states consistent with the events so far** (the log shows only
  part of the state — a node's own variables, not the whole network — so several spec states
  may fit; usually one does);
* for each event it tries every alternative the mapping offers (a sequence of spec steps, or
  none: a stutter) from every state in the set; a step happens only if its arguments are in
  their declared domains (e.g. a message handled is in the network) and the action is enabled;
  the states reached that satisfy the mapping's constraints form the next set;
* if no state explains an event, it may insert up to ``mapping.max_hidden`` **unlogged spec
  steps** before the event (the steps the mapping's :meth:`Mapping.hidden` proposes, e.g. a
  step whose log line a crash cut off), breadth first, and try again;
* it stops at the **first event nothing explains**, and reports the event, the spec states it
  was compared against, and the nearest mismatch (the candidate successor that broke the
  fewest constraints, and which ones), with the spec steps leading there, rendered like a
  counterexample;
* it checks the spec's invariants on every state reached and its action properties on every
  step, so runs far beyond the bounds the model checker explores still get them. A successor
  that breaks one is on no conforming path and is dropped; when every successor that fits an
  event breaks a property, the check stops there and reports the property (so with several
  interpretations of the log, a violation is reported only if all of them violate).

Soundness and its limits. Every accepted log is, step for step, a behaviour of the spec from
its initial states (without its state constraint, which a mapping removes: implementation runs
go far beyond model-checking bounds). What the log does not show is not checked, except through
its consequences in what it does show. Hidden steps are inserted only just before the event
that needs them: a log that needs an unlogged step earlier than that (say, a message copied by
the network before its first delivery) is rejected, so such faults must be logged. When the set
of consistent states grows beyond ``max_states`` the check stops with an inconclusive result
rather than guess.

Nothing here knows any protocol: the mapping carries all of that. Per-process logs are put into
one order with :func:`causal_merge`, given which events send and receive which message ids.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import SpecError, TraceFormatError
from .result import Step, Trace
from .spec import Spec, from_state
from .values import changed_vars, format_value, state_vars

__all__ = [
    "Attempt",
    "Mapping",
    "Mismatch",
    "RefinementFailure",
    "RefinementResult",
    "SpecStep",
    "causal_merge",
    "format_failure",
    "refine",
]


@dataclass(frozen=True)
class SpecStep:
    """One spec step: an action and its arguments (``args=None``: any arguments at all)."""

    action: str
    args: tuple[tuple[str, Any], ...] | None = ()

    @classmethod
    def of(cls, action: str, **args: Any) -> SpecStep:
        return cls(action, tuple(args.items()))

    def __str__(self) -> str:
        if self.args is None:
            return f"{self.action}(...)"
        return f"{self.action}({', '.join(f'{k}={format_value(v)}' for k, v in self.args)})"


@dataclass(frozen=True)
class Mismatch:
    """One constraint an event puts on the spec state that a candidate state breaks."""

    what: str  # e.g. "state[1].commit_index"
    logged: Any  # what the implementation logged
    spec: Any  # what the spec state has

    def __str__(self) -> str:
        return f"{self.what}: the log says {format_value(self.logged)}, the spec state has " \
               f"{format_value(self.spec)}"


class Mapping:
    """How one implementation's events correspond to one spec's steps. Subclass it.

    Set ``spec`` (an instance, usually with generous parameters and ``constraint = None``) and
    override :meth:`explain` and :meth:`mismatches`; the rest has defaults.
    """

    spec: Spec
    max_hidden: int = 0  # unlogged spec steps allowed before one event
    max_states: int = 1000  # the most spec states kept consistent at once

    def initial_states(self) -> Iterable[Hashable]:
        """The spec states a log may start from (default: the spec's initial states)."""
        return self.spec.init()

    def explain(self, event: Any, state: Any) -> Iterable[Sequence[SpecStep]]:
        """The alternatives for ``event`` from ``state``: each a sequence of spec steps taken
        in order (an empty sequence: the event changed nothing the spec models)."""
        raise NotImplementedError

    def mismatches(self, event: Any, before: Any, after: Any) -> list[Mismatch]:
        """The constraints ``event`` puts on the spec state ``after`` it that are broken (empty:
        the state is consistent with the event). ``before`` is the state the steps began in."""
        return []

    def hidden(self, event: Any, state: Any) -> Iterable[SpecStep]:
        """Unlogged steps that may have happened before ``event`` (default: none)."""
        return ()

    def describe(self, event: Any) -> str:
        """One line saying what the event was, for reports."""
        return format_value(event)

    def position(self, event: Any) -> str:
        """Where the event is in the log(s), for reports (e.g. 'node 2, line 31')."""
        return ""


@dataclass
class Attempt:
    """One candidate explanation of the failing event, tried from one consistent state."""

    state_index: int  # which of the states before the event (0-based)
    steps: tuple[SpecStep, ...]
    enabled: bool  # False: a step was not enabled (or its argument not in its domain)
    blocked_at: str = ""  # the step that could not be taken, and why
    after: Any = None
    mismatches: list[Mismatch] = field(default_factory=list)
    origin: Any = field(default=None, repr=False)  # the path node the attempt started from

    @property
    def label(self) -> str:
        return " ; ".join(map(str, self.steps)) or "(no spec step: stutter)"


@dataclass
class RefinementFailure:
    """Why a log is not a behaviour of the spec, and where."""

    kind: str  # "unexplained", "invariant", "action_property", "too_many_states", "no_initial"
    event_index: int  # position of the event in the merged log (0-based)
    event_text: str
    position: str
    states_before: list[Any]  # the spec states the event was compared against
    attempts: list[Attempt] = field(default_factory=list)
    property_name: str | None = None
    property_doc: str = ""
    trace: Trace | None = None  # spec steps from an initial state to the failure
    step_events: list[int] = field(default_factory=list)  # per trace step: its event index
    event: Any = None  # the event itself, as logged

    @property
    def nearest(self) -> Attempt | None:
        """The candidate that came closest: enabled, with the fewest broken constraints."""
        enabled = [a for a in self.attempts if a.enabled]
        if enabled:
            return min(enabled, key=lambda a: len(a.mismatches))
        return self.attempts[0] if self.attempts else None


@dataclass
class RefinementResult:
    """The outcome of checking one log against one spec."""

    spec: str
    params: dict[str, Any]
    events: int  # events validated (all of them if ok)
    total_events: int
    spec_steps: int  # spec steps taken along the accepted path
    hidden_steps: int  # unlogged steps inserted along it
    max_states: int  # the largest set of consistent spec states at any point
    elapsed_s: float
    properties_checked: list[str]
    failure: RefinementFailure | None = None
    final_states: list[Any] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def events_per_s(self) -> float:
        return self.events / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "spec": self.spec, "ok": self.ok, "events": self.events,
            "total_events": self.total_events, "spec_steps": self.spec_steps,
            "hidden_steps": self.hidden_steps, "max_states": self.max_states,
            "elapsed_s": round(self.elapsed_s, 4), "events_per_s": round(self.events_per_s, 1),
            "properties_checked": self.properties_checked,
        }
        f = self.failure
        if f is not None:
            near = f.nearest
            out["failure"] = {
                "kind": f.kind, "event_index": f.event_index, "event": f.event_text,
                "position": f.position, "property": f.property_name,
                "states_compared": len(f.states_before),
                "nearest": None if near is None else {
                    "steps": near.label, "enabled": near.enabled, "blocked_at": near.blocked_at,
                    "mismatches": [str(m) for m in near.mismatches]},
            }
        return out


class _Node:
    """A spec state on an accepted path, with how it was reached (for counterexamples)."""

    __slots__ = ("event", "label", "parent", "state")

    def __init__(self, state: Any, parent: _Node | None, label: SpecStep | None,
                 event: int) -> None:
        self.state = state
        self.parent = parent
        self.label = label
        self.event = event


class _Stepper:
    """Applies named spec steps, checking their arguments against the declared domains."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.actions = {a.name: a for a in spec.actions()}
        self.static: dict[tuple[str, str], Any] = {}

    def _domain(self, domain: Any) -> Any:
        """A static domain, for membership tests. A range or set is kept as it is, so a
        mapping may widen a domain to a huge range (e.g. every client value) at no cost."""
        values = getattr(self.spec, domain) if isinstance(domain, str) else (
            domain(self.spec) if callable(domain) else domain)
        if isinstance(values, (range, set, frozenset, dict)):
            return values
        return tuple(values)

    def apply(self, s: Any, st: SpecStep) -> tuple[list[tuple[SpecStep, Any]], str]:
        """The (label, successor) pairs of step ``st`` from ``s``; or [] and the reason."""
        act = self.actions.get(st.action)
        if act is None:
            return [], f"the spec has no action {st.action!r}"
        if st.args is None:  # any arguments: enumerate the spec's own successors
            out = [(SpecStep(lab.action, lab.args), t) for lab, t in self.spec.successors(s)
                   if lab.action == st.action]
            return out, "" if out else f"{st.action} is enabled for no arguments"
        args = dict(st.args)
        for name, domain in act.domains:
            if name not in args:
                return [], f"{st.action}: argument {name!r} missing"
            if isinstance(domain, from_state):
                if args[name] not in domain.fn(s):
                    return [], f"{st.action}: {name}={format_value(args[name])} is not in its " \
                               f"domain in this state (e.g. the message is not in flight)"
            else:
                key = (st.action, name)
                if key not in self.static:
                    self.static[key] = self._domain(domain)
                if args[name] not in self.static[key]:
                    return [], f"{st.action}: {name}={format_value(args[name])} is outside " \
                               f"its domain"
        try:
            out = self.spec.step(s, st.action, **args)
        except Exception as exc:  # the spec's own code failed: say where, as the explorer does
            raise SpecError(f"spec {self.spec.name!r}, action {st.action!r}: raised "
                            f"{type(exc).__name__}: {exc} (on step {st})", spec=self.spec.name,
                            action=st.action, cause=exc) from exc
        if act.many:
            return [(st, t) for t in out], "" if out else f"{st.action} is not enabled"
        if out is None:
            return [], f"{st.action} is not enabled (its guard is false)"
        return [(st, out)], ""


def refine(mapping: Mapping, events: Sequence[Any], *, check_properties: bool = True,
           keep_trace: bool = True,
           progress: Callable[[int, int], None] | None = None) -> RefinementResult:
    """Check ``events`` (in order) against ``mapping.spec``; see the module docstring.

    With ``keep_trace`` (the default) the spec path is kept so that a failure shows the steps
    that led to it; without it only the current states are kept (a little faster).
    """
    spec = mapping.spec
    stepper = _Stepper(spec)
    props = [n for n, _ in spec.invariant_fns] + [n for n, _ in spec.action_property_fns]
    started = time.perf_counter()
    result = RefinementResult(spec.name, dict(spec.param_values), 0, len(events), 0, 0, 0, 0.0,
                              props if check_properties else [])
    current: dict[Any, _Node] = {}
    for s in mapping.initial_states():
        current.setdefault(s, _Node(s, None, None, -1))
    if not current:
        result.failure = RefinementFailure("no_initial", 0, "", "", [])
        return _finish(result, started)
    result.max_states = len(current)

    for k, event in enumerate(events):
        try:
            nxt, attempts, bad = _advance(mapping, stepper, current, event, k,
                                          check_properties, keep_trace)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            where = _safe(mapping.position, event)
            raise TraceFormatError(
                f"event {k}{f' ({where})' if where else ''}: the mapping cannot read it "
                f"({type(exc).__name__}: {exc}); is the log in the format the mapping "
                f"expects?") from exc
        hidden_used = 0
        frontier = current
        while not nxt and bad is None and hidden_used < mapping.max_hidden:
            frontier = _hidden_level(mapping, stepper, frontier, event, k, keep_trace,
                                     check_properties)
            if not frontier:
                break
            hidden_used += 1
            nxt, more, bad = _advance(mapping, stepper, frontier, event, k, check_properties,
                                      keep_trace)
            attempts.extend(more)
        if bad is not None:
            kind, prop, node = bad
            result.failure = _failure(mapping, spec, kind, k, event, list(current), attempts,
                                      node, prop)
            return _finish(result, started)
        if not nxt:
            first = next(iter(current.values()))
            result.failure = _failure(mapping, spec, "unexplained", k, event, list(current),
                                      attempts, first, None)
            return _finish(result, started)
        if len(nxt) > mapping.max_states:
            first = next(iter(nxt.values()))
            result.failure = _failure(mapping, spec, "too_many_states", k, event, list(current),
                                      [], first, None)
            return _finish(result, started)
        result.hidden_steps += hidden_used
        result.max_states = max(result.max_states, len(nxt))
        current = nxt
        result.events = k + 1
        if progress is not None and k % 1000 == 0:
            progress(k, len(events))
    node = next(iter(current.values()))
    while node is not None and node.label is not None:
        result.spec_steps += 1
        node = node.parent
    result.final_states = list(current)
    return _finish(result, started)


def _safe(fn: Callable[[Any], str], event: Any) -> str:
    try:
        return fn(event)
    except Exception:  # describing a malformed event must not hide why it is malformed
        return ""


def _finish(result: RefinementResult, started: float) -> RefinementResult:
    result.elapsed_s = time.perf_counter() - started
    return result


def _advance(mapping: Mapping, stepper: _Stepper, current: dict[Any, _Node], event: Any,
             k: int, check_properties: bool, keep_trace: bool
             ) -> tuple[dict[Any, _Node], list[Attempt], tuple | None]:
    """The states consistent with ``event`` from ``current``; the attempts that failed; and,
    if every successor that fits the event breaks a property, (kind, property, node)."""
    spec = mapping.spec
    nxt: dict[Any, _Node] = {}
    attempts: list[Attempt] = []
    violations: list[tuple[str, str, _Node]] = []
    for index, (s, node) in enumerate(current.items()):
        for alt in mapping.explain(event, s):
            alt = tuple(alt)
            # Each path: (state, its node, the first property broken on the way, if any).
            paths: list[tuple[Any, _Node, tuple | None]] = [(s, node, None)]
            why = ""
            for st in alt:
                grown = []
                for state, n, broken in paths:
                    outs, reason = stepper.apply(state, st)
                    why = why or reason
                    for label, t in outs:
                        child = _Node(t, n if keep_trace else None, label, k)
                        if broken is None and check_properties:
                            hit = _broken(spec, state, t)
                            if hit is not None:
                                broken = (*hit, child)
                        grown.append((t, child, broken))
                paths = grown
                if not paths:
                    break
            if not paths:
                attempts.append(Attempt(index, alt, False, why, origin=node))
                continue
            for t, child, broken in paths:
                mm = mapping.mismatches(event, s, t)
                if mm:
                    attempts.append(Attempt(index, alt, True, "", t, mm, origin=node))
                elif broken is not None:
                    violations.append(broken)
                elif t not in nxt:
                    nxt[t] = child
    if not nxt and violations:
        return nxt, attempts, violations[0]
    return nxt, attempts, None


def _broken(spec: Spec, s: Any, t: Any) -> tuple[str, str] | None:
    for name, fn in spec.invariant_fns:
        if not fn(t):
            return "invariant", name
    for name, fn in spec.action_property_fns:
        if not fn(s, t):
            return "action_property", name
    return None


def _hidden_level(mapping: Mapping, stepper: _Stepper, frontier: dict[Any, _Node], event: Any,
                  k: int, keep_trace: bool, check_properties: bool) -> dict[Any, _Node]:
    """Every state one unlogged step (of those the mapping proposes) beyond ``frontier``."""
    out: dict[Any, _Node] = {}
    for s, node in frontier.items():
        for st in mapping.hidden(event, s):
            outs, _ = stepper.apply(s, st)
            for label, t in outs:
                if t in out or t in frontier or (check_properties
                                                 and _broken(mapping.spec, s, t) is not None):
                    continue  # a state breaking a property is on no conforming path
                out[t] = _Node(t, node if keep_trace else None, label, -2 - k)
    return out


def _failure(mapping: Mapping, spec: Spec, kind: str, k: int, event: Any, before: list[Any],
             attempts: list[Attempt], node: _Node, prop: str | None) -> RefinementFailure:
    doc = ""
    if prop is not None:
        props = {p.name: p.doc for p in spec.invariants() + spec.action_properties()}
        doc = props.get(prop, "")
    f = RefinementFailure(kind, k, mapping.describe(event), mapping.position(event), before,
                          attempts, prop, doc, event=event)
    # The path: for an unexplained event, to the state the nearest attempt started from.
    near = f.nearest
    if kind == "unexplained" and near is not None and near.origin is not None:
        node = near.origin
    chain = []
    n: _Node | None = node
    while n is not None:
        chain.append(n)
        n = n.parent
    chain.reverse()
    steps = [Step(None, {}, chain[0].state)]
    f.step_events = [chain[0].event]
    for n in chain[1:]:
        lab = n.label
        steps.append(Step(lab.action, dict(lab.args or ()), n.state))
        f.step_events.append(n.event)
    f.trace = Trace(steps, spec=spec.name, params=dict(spec.param_values),
                    variant=spec.variant_name)
    return f


def format_failure(result: RefinementResult, *, window: int = 6, width: int = 100) -> str:
    """A failure as text: the event, what was compared, the nearest mismatch, the last steps.

    ``window`` limits the spec steps shown before the failure (the full path is in
    ``failure.trace``, which can be saved as an ITF trace).
    """
    f = result.failure
    if f is None:
        return "No failure."
    where = f" ({f.position})" if f.position else ""
    lines: list[str] = []
    if f.kind == "unexplained":
        lines.append(f"Event {f.event_index}{where} is not a step of the spec {result.spec}:")
    elif f.kind in ("invariant", "action_property"):
        what = "Invariant" if f.kind == "invariant" else "Action property"
        lines.append(f"{what} {f.property_name} violated by the spec state reached at event "
                     f"{f.event_index}{where}:")
    elif f.kind == "too_many_states":
        lines.append(f"Inconclusive at event {f.event_index}{where}: more spec states fit the "
                     f"log than the mapping's max_states; the check stopped there:")
    else:
        lines.append("No initial spec state fits the mapping.")
    lines.append(f"  {f.event_text}")
    if f.property_doc:
        first = " ".join(f.property_doc.split("\n\n")[0].split())
        lines.append(f"  {f.property_name}: {first}")
    lines.append("")
    if f.kind == "unexplained":
        n = len(f.states_before)
        lines.append(f"It was compared against the {n} spec state{'s' if n != 1 else ''} "
                     f"consistent with the {f.event_index} event(s) before it.")
        tried: dict[str, Attempt] = {}
        for a in f.attempts:
            prev = tried.get(a.label)
            if prev is None or (a.enabled and (not prev.enabled
                                               or len(a.mismatches) < len(prev.mismatches))):
                tried[a.label] = a
        for a in tried.values():
            if not a.enabled:
                lines.append(f"  tried {a.label}: {a.blocked_at}")
            else:
                lines.append(f"  tried {a.label}: reaches a state that breaks "
                             f"{len(a.mismatches)} constraint(s) of the event")
        near = f.nearest
        if near is not None and near.enabled:
            lines.append("")
            lines.append(f"Nearest mismatch: {near.label}")
            for m in near.mismatches:
                lines.append(f"  {m}")
    lines.append("")
    if f.trace is not None:
        lines.append(_format_path(f, window, width))
    return "\n".join(lines)


def _format_path(f: RefinementFailure, window: int, width: int) -> str:
    trace = f.trace
    assert trace is not None
    steps = trace.steps
    near = f.nearest if f.kind == "unexplained" else None
    total = len(steps) - 1
    first = max(0, len(steps) - window - 1)
    lines = [f"The spec's path to it ({total} step{'s' if total != 1 else ''}"
             + (f", the last {len(steps) - 1 - first} shown" if first else "") + "):"]
    prev = None
    for i in range(first, len(steps)):
        st = steps[i]
        ev = f.step_events[i]
        if i == first:
            tag = "initial state" if st.action is None else f"state after step {i}"
            lines.append(f"{i:>4}  [{tag}]")
            values = state_vars(st.state)
        else:
            src = f"event {ev}" if ev >= 0 else (f"unlogged, before event {-2 - ev}"
                                                 if ev <= -2 else "")
            lines.append(f"{i:>4}  {st.label}    <- {src}")
            values = changed_vars(prev, st.state)
        lines.extend(_vars(values, width))
        prev = st.state
    if near is not None:
        lines.append(f"   X  {near.label}    <- event {f.event_index}"
                     + ("" if near.enabled else f": {near.blocked_at}"))
        if near.enabled and near.after is not None:
            lines.extend(_vars(changed_vars(prev, near.after), width))
            lines.append("      ^ the event's state disagrees with this one (see above)")
    elif f.kind in ("invariant", "action_property"):
        lines.append(f"      ^ {'state' if f.kind == 'invariant' else 'step'} {len(steps) - 1} "
                     f"violates {f.property_name}")
    return "\n".join(lines)


def _vars(values: dict[str, Any], width: int, max_lines: int = 4) -> list[str]:
    """Variables as ``name = value`` lines, long values wrapped over at most ``max_lines``."""
    out = []
    pad = max((len(k) for k in values), default=0)
    for name, value in values.items():
        head = f"        {name:<{pad}} = "
        lines = textwrap.wrap(format_value(value), width=max(40, width - len(head)),
                              break_long_words=True, break_on_hyphens=False) or [""]
        if len(lines) > max_lines:
            lines = [*lines[:max_lines - 1], lines[max_lines - 1][:-4] + " ..."]
        out.append(head + lines[0])
        out.extend(" " * len(head) + line for line in lines[1:])
    return out


def causal_merge(streams: Sequence[Sequence[Any]], *, sends: Callable[[Any], Iterable[Hashable]],
                 receives: Callable[[Any], Iterable[Hashable]],
                 order: Callable[[Any], Any] | None = None) -> list[Any]:
    """One sequence of the events of several processes' logs, consistent with causality.

    Each stream keeps its order; an event that receives a message id comes after the event
    that sent it. Among the events ready at each point, the one with the least ``order`` key
    (e.g. a timestamp) goes first, then the lowest stream. A receive of an id that no stream
    sends (its sender's log was lost) is not waited for. Raises ValueError if the logs contain
    a cycle (a process received a message before, in its own log, it was sent).
    """
    import heapq

    sent_by: dict[Hashable, tuple[int, int]] = {}
    for si, stream in enumerate(streams):
        for ei, ev in enumerate(stream):
            for mid in sends(ev):
                sent_by.setdefault(mid, (si, ei))
    pos = [0] * len(streams)
    done: set[Hashable] = set()
    waiting: dict[Hashable, list[int]] = {}
    ready: list[tuple[Any, int]] = []
    out: list[Any] = []

    def blocker(si: int) -> Hashable | None:
        ev = streams[si][pos[si]]
        for mid in receives(ev):
            if mid in sent_by and mid not in done:
                return mid
        return None

    def offer(si: int) -> None:
        if pos[si] >= len(streams[si]):
            return
        mid = blocker(si)
        if mid is None:
            key = order(streams[si][pos[si]]) if order else 0
            heapq.heappush(ready, (key, si))
        else:
            waiting.setdefault(mid, []).append(si)

    for si in range(len(streams)):
        offer(si)
    while ready:
        _, si = heapq.heappop(ready)
        ev = streams[si][pos[si]]
        out.append(ev)
        pos[si] += 1
        for mid in sends(ev):
            done.add(mid)
            for other in waiting.pop(mid, []):
                offer(other)
        offer(si)
    if len(out) != sum(len(s) for s in streams):
        stuck = [si for si in range(len(streams)) if pos[si] < len(streams[si])]
        raise ValueError(f"the logs cannot be ordered causally: streams {stuck} wait for "
                         f"messages that are sent only after them")
    return out
