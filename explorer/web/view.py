"""What one page of the explorer shows, as plain data for the template.

The page is one step ``at`` of a path (a list of tokens, see walk.py): the state after that step
with the variables that step changed, each process's part of it (the chart's lanes), the enabled
steps, every invariant's value (and every action property's value on the step taken), the path
as a list and as a message sequence chart. The chart is drawn by the same renderer as
``check --render`` (``render/sequence.py``), from a trace carrying the spec's chart hints.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..render.changes import describe_changes
from ..render.dot import DotFailed, DotMissing, render
from ..render.html import inline_svg
from ..render.lanes import infer_chart
from ..render.sequence import sequence_dot
from ..values import format_value, state_vars
from .walk import Choice, Walk

__all__ = ["PageView", "page_view"]


@dataclass
class Variable:
    name: str
    value: str
    changed: bool
    before: str | None  # the value before the step, when it changed
    details: list[str]  # the changed parts (``rm_state[0]: working → aborted``)


@dataclass
class Property:
    name: str
    kind: str  # "invariant" or "action property"
    holds: bool
    doc: str


@dataclass
class PathStep:
    index: int
    label: str
    future: bool  # after the current step (kept so "forward" can return to it)


@dataclass
class PageView:
    spec: str
    params: dict[str, str]
    variant: str | None
    variant_breaks: str | None
    tokens: list[str]
    at: int
    path: list[PathStep]
    variables: list[Variable]
    lanes: list[tuple[str, list[str]]]
    choices: list[Choice]
    properties: list[Property]
    chart_svg: str | None
    chart_note: str | None
    violated: list[Property] = field(default_factory=list)
    deadlock: bool = False
    # At step 0 of a spec with several initial states: (number, token, state) of each, to pick.
    initial_states: list[tuple[int, str]] = field(default_factory=list)


def page_view(walk: Walk, tokens: list[str], at: int | None, *, draw: bool = True) -> PageView:
    """The page for step ``at`` (default: the last) of the path ``tokens``.

    Raises WalkError if the tokens do not replay on this spec configuration.
    """
    steps = walk.replay(tokens)
    tokens = list(tokens) if tokens else ["0"]
    at = len(steps) - 1 if at is None else max(0, min(at, len(steps) - 1))
    shown = steps[: at + 1]
    state = shown[-1].state
    before = shown[-2].state if len(shown) > 1 else None

    parts = describe_changes(before, state) if before is not None else []
    old = state_vars(before) if before is not None else {}
    variables = []
    for name, value in state_vars(state).items():
        changed = before is not None and old.get(name) != value
        variables.append(Variable(
            name, format_value(value), changed,
            format_value(old[name]) if changed and name in old else None,
            [c.text() for c in parts if c.variable == name] if changed else []))

    properties = [Property(n, "invariant", ok, doc) for n, ok, doc in walk.invariants(state)]
    if before is not None:
        properties += [Property(n, "action property", ok, doc)
                       for n, ok, doc in walk.action_properties(before, state)]
    violated = [p for p in properties if not p.holds]

    trace = walk.trace(shown)
    chart = infer_chart(trace)
    lanes = [(lane, chart.footers.get(lane, [])) for lane in chart.lanes] \
        if len(chart.lanes) > 1 else []

    choices = walk.choices(state)
    chart_svg = chart_note = None
    if draw:
        first = violated[0] if violated else None
        kind = "invariant" if first is None or first.kind == "invariant" else "action_property"
        if first is None and not choices and walk.spec.check_deadlock:
            first, kind = Property("deadlock", "deadlock", False, ""), "deadlock"
        source = sequence_dot(trace, violation=first.name if first else None, kind=kind,
                              doc=first.doc if first else "")
        try:
            chart_svg = inline_svg(render(source, "svg"))
        except (DotMissing, DotFailed) as exc:
            chart_note = str(exc)

    info = type(walk.spec).variant_info
    path = [PathStep(i, st.label, i > at) for i, st in enumerate(steps)]
    return PageView(
        spec=walk.spec.name,
        params={k: format_value(v) for k, v in walk.spec.param_values.items()},
        variant=walk.spec.variant_name, variant_breaks=info.breaks if info else None,
        tokens=tokens[: len(steps)], at=at, path=path, variables=variables, lanes=lanes,
        choices=choices, properties=properties, chart_svg=chart_svg, chart_note=chart_note,
        violated=violated, deadlock=not choices,
        initial_states=[(k, format_value(s)) for k, s in enumerate(walk.inits)]
        if at == 0 and len(walk.inits) > 1 else [])
