"""Pictures of histories: a text timeline per process, and an SVG or HTML timeline.

The pictures show operations as bars from invocation to completion, one lane per process, in
real-time order (the x axis follows the order of events, not their timestamps, so that short
operations stay readable). Given the partial linearization that got furthest, they number the
operations it took in order, mark the one it could not get past in red, and list the model
state after each step, the way Porcupine's visualizer does. Renderers return strings; only the
CLI prints or writes files.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .history import INFINITY, Operation, Status
from .linearizability import PartialLinearization
from .model import Model

__all__ = ["Picture", "render_html", "render_svg", "render_text"]


@dataclass(frozen=True)
class Picture:
    """What to draw: a window of operations and what the search made of it."""

    ops: tuple[Operation, ...]  # the operations to draw
    model: Model  # for labels and states
    title: str = ""
    furthest: PartialLinearization | None = None  # numbered in order; its stuck op in red
    starts: tuple[Any, ...] | None = None  # possible states before the window (None: initial)
    optional: frozenset[int] = frozenset()  # ids that may have taken effect before the window
    context: tuple[Operation, ...] = ()  # other operations in the same span, drawn faint
    notes: tuple[str, ...] = ()  # extra lines under the picture
    show_start: bool = True  # say which states the window starts from


def _roles(picture: Picture) -> tuple[dict[int, int], int | None, set[int]]:
    """(op id -> position in the furthest linearization, stuck op id, dropped op ids)."""
    order: dict[int, int] = {}
    dropped: set[int] = set()
    stuck = None
    if picture.furthest is not None:
        for n, (op, was_dropped, _) in enumerate(picture.furthest.steps, 1):
            if was_dropped:
                dropped.add(op.id)
            else:
                order[op.id] = n
        if picture.furthest.stuck is not None:
            stuck = picture.furthest.stuck.id
    return order, stuck, dropped


def _layout(ops: Sequence[Operation], widths: dict[int, int], gap: int) -> tuple[dict, int]:
    """x of every call and return: in real-time order, each bar wide enough for its label."""
    events = sorted([(o.call, 0, o.id) for o in ops]
                    + [(o.ret, 1, o.id) for o in ops if o.ret < INFINITY])
    x: dict[tuple[int, int], int] = {}
    last = 0
    for _, kind, oid in events:
        pos = last + gap
        if kind == 1:
            pos = max(pos, x[(oid, 0)] + widths[oid])
        x[(oid, kind)] = pos
        last = pos
    return x, last


def _lanes(ops: Sequence[Operation]) -> list[Any]:
    return list(dict.fromkeys(o.process for o in sorted(ops, key=lambda o: o.call)))


def _start_lines(picture: Picture) -> list[str]:
    return [_start_line(picture)] if picture.show_start else []


def _start_line(picture: Picture) -> str:
    model = picture.model
    if picture.starts is None:
        return f"Starts from the initial state {model.format_state(model.init())}."
    states = ", ".join(model.format_state(s) for s in picture.starts[:12])
    more = f" (and {len(picture.starts) - 12} more)" if len(picture.starts) > 12 else ""
    return (f"The operations before this window can leave the state as: {states}{more}.")


def _steps_lines(picture: Picture) -> list[str]:
    model, furthest = picture.model, picture.furthest
    if furthest is None:
        return []
    lines = ([f"Partial linearization that got furthest ({len(furthest.steps)} steps):"]
             if furthest.steps else [])
    for n, (op, dropped, state) in enumerate(furthest.steps, 1):
        what = ("left out (may not have happened)" if dropped
                else f"-> {model.format_state(state)}")
        lines.append(f"  {n:>3}. p{op.process} {model.describe(op)}  {what}")
    if furthest.stuck is not None:
        op = furthest.stuck
        lines.append(f"  stuck: p{op.process} {model.describe(op)} (line {op.line}) "
                     "cannot be linearized next, in any order tried")
    return lines


def render_text(picture: Picture, *, width: int = 110) -> str:
    """A text timeline: one row per process, ``[label--]`` from invocation to completion.

    Linearized operations carry their position (``#1``), the stuck one ``!!``; an open
    operation ends in ``>``; context operations are drawn ``(label..)``. Wider than ``width``
    columns, the timeline is split into rows.
    """
    ops = sorted(picture.ops, key=lambda o: o.call)
    in_window = {o.id for o in ops}
    drawn = sorted(ops + [c for c in picture.context if c.id not in in_window],
                   key=lambda o: o.call)
    order, stuck, dropped = _roles(picture)
    labels = {}
    for o in drawn:
        mark = f"#{order[o.id]} " if o.id in order else ("!! " if o.id == stuck else "")
        if o.id in dropped:
            mark = "(dropped) "
        if o.id in picture.optional:
            mark += "? "
        labels[o.id] = f"{mark}{picture.model.describe(o)}"
    widths = {o.id: len(labels[o.id]) + 3 for o in drawn}
    x, end = _layout(drawn, widths, 1)
    end += 2
    lanes = _lanes(drawn)
    name_w = max(len(f"p{p}") for p in lanes) + 2
    rows = {p: [" "] * (end + 1) for p in lanes}
    for o in drawn:
        # Window operations are [label---]; context operations, drawn for orientation, (label..).
        faint = o.id not in in_window
        row = rows[o.process]
        a = x[(o.id, 0)]
        b = x[(o.id, 1)] if o.ret < INFINITY else end
        row[a] = "(" if faint else "["
        for i in range(a + 1, b):
            row[i] = "." if faint else "-"
        row[b] = ">" if o.ret >= INFINITY else (")" if faint else "]")
        for i, ch in enumerate(labels[o.id][: max(0, b - a - 1)]):
            row[a + 1 + i] = ch
    out = [picture.title] if picture.title else []
    span = max(20, width - name_w)
    for start in range(0, end + 1, span):
        for p in lanes:
            text = "".join(rows[p][start:start + span]).rstrip()
            out.append(f"{'p' + str(p):<{name_w}}{text}")
        if start + span <= end:
            out.append("")
    out.extend(_start_lines(picture))
    out.extend(_steps_lines(picture))
    out.extend(picture.notes)
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# SVG

_FONT = 12
_CHAR = 7.2  # approximate advance of a 12px monospace character
_LANE = 38
_BAR = 22
_LEFT = 70
_TOP = 40
_COLORS = {"taken": "#4c9f70", "stuck": "#d9534f", "other": "#8a96a3", "context": "#d5dae0",
           "dropped": "#b9c2cc"}


def render_svg(picture: Picture) -> str:
    """A standalone SVG timeline of the picture (hover an operation for its details)."""
    ops = sorted(picture.ops, key=lambda o: o.call)
    drawn = sorted(list(ops) + [c for c in picture.context
                                if c.id not in {o.id for o in ops}], key=lambda o: o.call)
    order, stuck, dropped = _roles(picture)
    model = picture.model
    labels = {o.id: model.describe(o) for o in drawn}
    for oid, n in order.items():
        labels[oid] = f"{n}. " + labels[oid]
    widths = {o.id: int(len(labels[o.id]) * _CHAR) + 16 for o in drawn}
    x, end = _layout(drawn, widths, 10)
    lanes = _lanes(drawn)
    right = _LEFT + end + 60
    text_lines = _start_lines(picture) + _steps_lines(picture) + list(picture.notes)
    height = _TOP + len(lanes) * _LANE + 24 + len(text_lines) * 16 + 10
    width = max(right + 20, 40 + int(max(len(t) for t in text_lines) * _CHAR))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="monospace" font-size="{_FONT}">',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    if picture.title:
        out.append(f'<text x="10" y="22" font-size="14" font-weight="bold">'
                   f'{html.escape(picture.title)}</text>')
    lane_y = {p: _TOP + i * _LANE for i, p in enumerate(lanes)}
    for p, y in lane_y.items():
        out.append(f'<text x="10" y="{y + _LANE // 2 + 4}" fill="#333">p{html.escape(str(p))}'
                   '</text>')
        out.append(f'<line x1="{_LEFT - 6}" x2="{right}" y1="{y + _LANE // 2}" '
                   f'y2="{y + _LANE // 2}" stroke="#eef0f2"/>')
    in_window = {o.id for o in ops}
    for o in drawn:
        if o.id not in in_window:
            role = "context"
        elif o.id == stuck:
            role = "stuck"
        elif o.id in order:
            role = "taken"
        elif o.id in dropped:
            role = "dropped"
        else:
            role = "other"
        color = _COLORS[role]
        x0 = _LEFT + x[(o.id, 0)]
        x1 = _LEFT + (x[(o.id, 1)] if o.ret < INFINITY else end + 50)
        y = lane_y[o.process] + (_LANE - _BAR) // 2
        dash = ' stroke-dasharray="4 3"' if (o.id in picture.optional or o.ret >= INFINITY
                                            or o.status is Status.INFO) else ""
        tip = (f"p{o.process} {model.describe(o)}\nline {o.line}"
               + (f"-{o.ret_line}" if o.ret_line else "")
               + (" (open: may or may not have happened)" if o.ret >= INFINITY else "")
               + (" (may have taken effect before the window)"
                  if o.id in picture.optional else ""))
        fill_opacity = "0.25" if role == "context" else "0.9"
        out.append(f'<g><title>{html.escape(tip)}</title>'
                   f'<rect x="{x0}" y="{y}" width="{max(4, x1 - x0)}" height="{_BAR}" rx="4" '
                   f'fill="{color}" fill-opacity="{fill_opacity}" stroke="{color}"{dash}/>'
                   f'<text x="{x0 + 8}" y="{y + _BAR // 2 + 4}" '
                   f'fill="{"#333" if role in ("context", "dropped") else "white"}">'
                   f'{html.escape(labels[o.id])}</text></g>')
    y = _TOP + len(lanes) * _LANE + 24
    for line in text_lines:
        color = _COLORS["stuck"] if line.lstrip().startswith("stuck:") else "#222"
        out.append(f'<text x="10" y="{y}" fill="{color}" xml:space="preserve">'
                   f'{html.escape(line)}</text>')
        y += 16
    out.append("</svg>")
    return "\n".join(out) + "\n"


def render_html(picture: Picture) -> str:
    """A self-contained HTML page: the SVG timeline and a table of the operations."""
    model = picture.model
    order, stuck, _ = _roles(picture)
    rows = []
    for o in sorted(picture.ops, key=lambda o: o.call):
        role = ("stuck" if o.id == stuck else f"#{order[o.id]}" if o.id in order else "")
        rows.append(f"<tr><td>{role}</td><td>p{html.escape(str(o.process))}</td>"
                    f"<td>{html.escape(model.describe(o))}</td><td>{o.line}</td>"
                    f"<td>{o.ret_line or ''}</td><td>{o.status.name.lower()}</td></tr>")
    title = html.escape(picture.title or "history")
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; font-family: monospace; }}
td, th {{ border: 1px solid #ddd; padding: 2px 8px; text-align: left; }}
.svg {{ overflow-x: auto; }}
</style></head><body>
<h2>{title}</h2>
<div class="svg">{render_svg(picture)}</div>
<h3>Operations</h3>
<table><tr><th>order</th><th>process</th><th>operation</th><th>invoked (line)</th>
<th>completed (line)</th><th>status</th></tr>
{chr(10).join(rows)}
</table></body></html>
"""
