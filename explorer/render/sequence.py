"""Message sequence charts of traces, as Graphviz DOT.

One column (lane) per process, time going down, one row per step. A step is a box on the lane
of the process that took it, labelled with its number, action and arguments, with the variables
it changed in small grey print. Arrows join each message's send to its receipts; a message lost
by the network ends in a red dashed arrow at the step that dropped it; one nobody received is
drawn dashed into the last row, "in flight". The step that breaks a property is red and names it.
A liveness counterexample (a lasso, ``trace.loop``) has its cycle's steps outlined in purple and
a purple arrow from its last step back to the cycle's first, "back to state L": the steps between
repeat forever. A lasso that ends by stuttering says so on its last step.

The layout is plain ``dot``: every lane is a chain of nodes (its lifeline) kept straight by
heavy edges, every row is a ``rank=same`` group ordered left to right by invisible edges, and
message arrows do not constrain the layout, so they can cross lanes freely.
"""

from __future__ import annotations

import html
import itertools
import textwrap
from typing import Any

import graphviz

from ..result import Trace
from ..values import format_value
from .changes import shorten
from .lanes import NETWORK, Chart, infer_chart

__all__ = ["VIOLATION_COLOR", "sequence_chart", "sequence_dot"]

FONT = "Helvetica"
VIOLATION_COLOR = "#c62828"
VIOLATION_FILL = "#ffebee"
LOST_COLOR = VIOLATION_COLOR
LOOP_COLOR = "#6a1b9a"  # the cycle of a lasso (purple: neither a message colour nor "broken")
LOOP_FILL = "#f3e5f5"
LIFELINE_COLOR = "#9e9e9e"
# Lane header fills (pale) and message colours (dark, never red: red means lost or broken).
LANE_FILLS = ["#e3f2fd", "#e8f5e9", "#fff8e1", "#f3e5f5", "#e0f7fa", "#fbe9e7", "#f1f8e9",
              "#ede7f6", "#fffde7", "#e8eaf6"]
MESSAGE_COLORS = ["#1565c0", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#4e342e",
                  "#ad1457", "#283593", "#558b2f"]
MIN_LANE_WIDTH = 1.2  # inches
NOTE_WIDTH = 34  # characters of a value shown in a change note before it is cut


def sequence_chart(trace: Trace, *, violation: str | None = None, kind: str = "invariant",
                   doc: str = "") -> graphviz.Digraph:
    """The message sequence chart of ``trace`` as a graphviz Digraph.

    ``violation`` names the property the trace breaks (its last state for an invariant, its
    last step for an action property, no successor after it for a deadlock); that step is
    highlighted. ``doc`` is the property's one-line description, shown in the title.
    """
    saved = (trace.chart or {}).get("violation") or {}
    if violation is None and saved:  # a saved trace says what it breaks
        violation, kind, doc = saved.get("property"), saved.get("kind", kind), \
            doc or saved.get("doc", "")
    chart = infer_chart(trace)
    return _draw(chart, trace, violation, kind, doc)


def sequence_dot(trace: Trace, **kwargs: Any) -> str:
    """The DOT source of :func:`sequence_chart`."""
    return sequence_chart(trace, **kwargs).source


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _node(lane: int, row: int | str) -> str:
    return f"L{lane}_{row}"


def _title(trace: Trace, violation: str | None, kind: str, doc: str) -> str:
    what = trace.spec or "trace"
    if trace.params:
        what += " (" + ", ".join(f"{k}={format_value(v)}" for k, v in trace.params.items()) + ")"
    if trace.variant:
        what += f", variant {trace.variant}"
    n = len(trace)
    lines = [f"<B>{_esc(what)}</B>"]
    if violation and kind == "liveness" and trace.loop is not None:
        loop = trace.loop
        head = (f"a fair behaviour that breaks {violation}: {n} steps, then state {loop} stays "
                f"unchanged forever" if trace.stutters else
                f"a fair behaviour that breaks {violation}: {loop} steps, then steps "
                f"{loop + 1}..{n} repeat forever (back to state {loop})")
        lines.append(f'<FONT COLOR="{VIOLATION_COLOR}">{_esc(head)}</FONT>')
        if doc:
            text = textwrap.wrap(f"{violation}: {' '.join(doc.split())}", 110)
            lines += [f'<FONT POINT-SIZE="11">{_esc(line)}</FONT>' for line in text]
    elif violation:
        verb = {"invariant": "violates", "action_property": "violates"}.get(kind)
        steps = f"{n} step{'s' if n != 1 else ''}"
        last = "state" if kind == "invariant" else "step"
        head = (f"{steps} to a state with no successor (deadlock)" if kind == "deadlock"
                else f"{steps}: the last {last} {verb} {violation}")
        lines.append(f'<FONT COLOR="{VIOLATION_COLOR}">{_esc(head)}</FONT>')
        if doc:
            text = textwrap.wrap(f"{violation}: {' '.join(doc.split())}", 110)
            lines += [f'<FONT POINT-SIZE="11">{_esc(line)}</FONT>' for line in text]
    else:
        lines.append(_esc(f"{n} step{'s' if n != 1 else ''}"))
    return "<" + "".join(line + '<BR ALIGN="LEFT"/>' for line in lines) + ">"


def _draw(chart: Chart, trace: Trace, violation: str | None, kind: str,
          doc: str) -> graphviz.Digraph:
    n = len(trace.steps) - 1  # rows 1..n are steps
    lanes = chart.lanes or ["environment"]
    col = {lane: k for k, lane in enumerate(lanes)}

    g = graphviz.Digraph("sequence", format="svg")
    g.attr("graph", label=_title(trace, violation, kind, doc), labelloc="t", labeljust="l",
           fontname=FONT, fontsize="14", newrank="true", nodesep="0.5", ranksep="0.3",
           splines="line", outputorder="nodesfirst", forcelabels="true", bgcolor="white",
           pad="0.3")
    g.attr("node", fontname=FONT, fontsize="11", margin="0.08,0.04")
    g.attr("edge", fontname=FONT, fontsize="10")

    # Row 0 names the lanes (with their initial state), rows 1..n are the steps, and the last
    # row shows each lane's final state, where messages still in flight end.
    rows: list[int | str] = [0, *range(1, n + 1), "end"]
    events = {e.step: e for e in chart.events}
    broken = n if violation and kind in ("invariant", "action_property", "deadlock") else None
    loop = trace.loop if kind == "liveness" or violation is None else None
    cycle = range(loop + 1, n + 1) if loop is not None else range(0)
    # Each lane's header is as wide as its widest step, so that no step's box reaches over a
    # neighbouring lane's lifeline (dot only separates nodes of the same row).
    sends = {e.step: [f for f in chart.flows if f.sent_step == e.step and f.label != f.short]
             for e in chart.events}
    widths = {lane: max([MIN_LANE_WIDTH] + [
        _width_in(e.label, [c.text(NOTE_WIDTH) for c in e.changes[:4]]
                  + ["sends " + shorten(f.label, 2 * NOTE_WIDTH) for f in sends[e.step][:3]])
        for e in chart.events if e.lane == lane]) for lane in lanes}

    colors: dict[str, str] = {}  # one colour per kind of message
    for f in chart.flows:
        colors.setdefault(f.kind, MESSAGE_COLORS[len(colors) % len(MESSAGE_COLORS)])

    # -- nodes: headers, events, lifeline points, footers ----------------------------------
    for k, lane in enumerate(lanes):
        fill = LANE_FILLS[k % len(LANE_FILLS)]
        g.node(_node(k, 0), label=_stack([f"<B>{_esc(lane)}</B>"] + _notes(chart.headers, lane)),
               shape="box", width=f"{widths[lane]:.2f}", style="filled,bold", fillcolor=fill,
               color="#616161", id=f"lane-{k}", tooltip=lane, **{"class": "lane"})
        for row in rows[1:-1]:
            ev = events.get(row) if isinstance(row, int) else None
            if ev is not None and ev.lane == lane:
                sent = [(f.label, colors[f.kind]) for f in sends[row]]
                sends_any = any(f.sent_step == row for f in chart.flows)
                _event_node(g, _node(k, row), ev.step, ev.label, ev.changes, sent, sends_any,
                            fill, violation if row == broken else None, kind,
                            _loop_note(trace, row) if loop is not None else None,
                            row in cycle)
            else:
                g.node(_node(k, row), label="", shape="point", width="0.01", height="0.01",
                       color=LIFELINE_COLOR)
        last = "final state" if n else "initial state"
        # For an invariant the final state is the culprit: its boxes are outlined in red.
        bad_end = bool(violation) and kind == "invariant"
        g.node(_node(k, "end"), label=_stack([f"<I>{_esc(lane)}, {last}</I>"]
                                             + _notes(chart.footers, lane)),
               shape="box", style="filled", fillcolor=fill,
               color=VIOLATION_COLOR if bad_end else "#9e9e9e", fontsize="10",
               id=f"lane-{k}-end", **{"class": "lane-end"})
    if broken == 0:  # the initial state itself is bad: say so under the lanes
        g.attr("graph", label=_title(trace, violation, kind, doc))

    # -- layout: lifelines down each lane, rows across -------------------------------------
    for k in range(len(lanes)):
        for a, b in itertools.pairwise(rows):
            g.edge(_node(k, a), _node(k, b), arrowhead="none", color=LIFELINE_COLOR,
                   style="dashed" if b == "end" else "solid", weight="1000")
    for row in rows:
        with g.subgraph() as same:
            same.attr(rank="min" if row == 0 else "same")
            for k in range(len(lanes)):
                same.node(_node(k, row))
            for k in range(len(lanes) - 1):
                same.edge(_node(k, row), _node(k + 1, row), style="invis")

    # -- the lasso's way back: from its last step to the first step of its cycle -------------
    if loop is not None and not trace.stutters and n > loop:
        src = _node(col[events[n].lane], n) if n in events else _node(0, n)
        dst = _node(col[events[loop + 1].lane], loop + 1) if loop + 1 in events \
            else _node(0, loop + 1)
        g.edge(src, dst, label=f"  back to state {loop}: repeat from step {loop + 1}",
               color=LOOP_COLOR, fontcolor=LOOP_COLOR, style="dashed", penwidth="2",
               constraint="false", tailport="w", headport="n", id="loop-back",
               **{"class": "loop"})

    # -- messages -----------------------------------------------------------------------------
    for f in chart.flows:
        color = colors[f.kind]
        src = _node(col[f.sent_lane], f.sent_step)
        for j, (step, lane) in enumerate(f.receipts):
            # A broadcast is labelled once: its other arrows leave the same point in the
            # same colour, and repeating the label would pile text up beside the sender.
            _arrow(g, src, _node(col[lane], step), col[f.sent_lane], col[lane],
                   f.short if j == 0 else "", color=color, cls="message", tooltip=f.label,
                   ident=f"message-{f.sent_step}-to-{step}")
        if f.lost is not None:
            step, lane = f.lost
            _arrow(g, src, _node(col[lane], step), col[f.sent_lane], col[lane],
                   f"{f.short} (lost)", color=LOST_COLOR, style="dashed", arrowhead="tee",
                   cls="lost", ident=f"message-{f.sent_step}-lost-{step}")
        if f.in_flight:
            dest = f.dest if f.dest in col else (NETWORK if NETWORK in col else f.sent_lane)
            _arrow(g, src, _node(col[dest], "end"), col[f.sent_lane], col[dest],
                   f"{f.short} (in flight)", color=color, style="dashed", cls="in-flight",
                   tooltip=f"{f.label} (in flight)", ident=f"message-{f.sent_step}-in-flight")
    return g


def _notes(table: dict[str, list[str]], lane: str) -> list[str]:
    return [f'<FONT POINT-SIZE="9" COLOR="#424242">{_esc(shorten(h, NOTE_WIDTH + 12))}</FONT>'
            for h in table.get(lane, [])]


def _stack(lines: list[str]) -> str:
    """An HTML-like label of lines, one table row each: rows keep the underscores of one
    line clear of the next, which ``<BR/>`` does not."""
    rows = "".join(f"<TR><TD>{line}</TD></TR>" for line in lines)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{rows}</TABLE>>'


def _width_in(head: str, notes: list[str]) -> float:
    """A generous estimate of a step box's width in inches (11pt bold head, 9pt notes)."""
    return max([len(head) * 0.085] + [len(t) * 0.064 for t in notes]) + 0.3


def _loop_note(trace: Trace, row: int) -> str | None:
    """What a lasso's step says about its cycle (None for a step with nothing to say)."""
    n, loop = len(trace.steps) - 1, trace.loop
    if loop is None:
        return None
    if trace.stutters:
        return "then this state stays unchanged forever" if row == n else None
    if row == loop + 1:
        return f"the cycle starts here (from state {loop})"
    if row == n:
        return f"back to state {loop}: steps {loop + 1}..{n} repeat forever"
    return None


def _event_node(g: graphviz.Digraph, name: str, step: int, label: str, changes: list,
                sent: list[tuple[str, str]], sends_any: bool, fill: str,
                violated: str | None, kind: str, loop_note: str | None = None,
                in_cycle: bool = False) -> None:
    # One run of text per line: a browser's fonts are not dot's, and a line split into a bold
    # and a plain run is drawn with a gap between them.
    head = f"<B>{step}. {_esc(label)}</B>"
    lines = [head] + [f'<FONT POINT-SIZE="9" COLOR="#424242">{_esc(c.text(NOTE_WIDTH))}</FONT>'
                      for c in changes[:4]]
    if len(changes) > 4:
        lines.append(f'<FONT POINT-SIZE="9" COLOR="#424242">… {len(changes) - 4} more</FONT>')
    # What the step sent, in full: its arrows carry only the kind of message.
    lines += [f'<FONT POINT-SIZE="9" COLOR="{color}">sends {_esc(shorten(text, 2 * NOTE_WIDTH))}'
              f"</FONT>" for text, color in sent[:3]]
    if len(sent) > 3:
        lines.append(f'<FONT POINT-SIZE="9" COLOR="#424242">… sends {len(sent) - 3} more</FONT>')
    if not changes and not sends_any:
        lines.append('<FONT POINT-SIZE="9" COLOR="#757575">(no variable changed)</FONT>')
    attrs: dict[str, str] = {"shape": "box", "style": "rounded,filled", "fillcolor": "white",
                             "color": "#616161", "id": f"step-{step}", "class": "event",
                             "tooltip": label}
    if loop_note is not None:
        lines.append(f'<B><FONT COLOR="{LOOP_COLOR}">{_esc(loop_note)}</FONT></B>')
    if violated is not None:
        text = {"invariant": f"the state after this step violates {violated}",
                "action_property": f"this step violates {violated}",
                "deadlock": "no step is possible after this one (deadlock)"}[kind]
        lines.append(f'<B><FONT COLOR="{VIOLATION_COLOR}">{_esc(text)}</FONT></B>')
        attrs.update(fillcolor=VIOLATION_FILL, color=VIOLATION_COLOR, penwidth="2.5",
                     **{"class": "event violation"})
    else:
        attrs["fillcolor"] = fill
    if in_cycle:
        attrs.update(color=LOOP_COLOR, penwidth="2.5", **{"class": "event cycle"})
    g.node(name, label=_stack(lines), **attrs)


def _arrow(g: graphviz.Digraph, tail: str, head: str, tail_col: int, head_col: int, label: str,
           *, color: str, cls: str, style: str = "solid", arrowhead: str = "normal",
           tooltip: str | None = None, ident: str = "") -> None:
    """A message arrow leaving the side of the sender's box that faces the receiver."""
    # Only one step box sits in each row, so the space just beside the sender's box is free:
    # the label goes there, above the arrow, on a white ground in case a lifeline passes.
    if head_col > tail_col:
        ports = {"tailport": "e", "headport": "w", "labelangle": "25"}
    elif head_col < tail_col:
        ports = {"tailport": "w", "headport": "e", "labelangle": "-25"}
    else:
        ports = {"tailport": "e", "headport": "e", "labelangle": "25"}
    if label:
        ports["taillabel"] = (
            f'<<TABLE BORDER="0" CELLPADDING="0" CELLSPACING="0" BGCOLOR="white"><TR><TD>'
            f"{_esc(shorten(label, 48))}</TD></TR></TABLE>>")
    # dot centres a tail label at labeldistance x 10 points from the tail: a long label needs
    # to sit further out, or its near end covers the sender's box.
    distance = max(3.0, 1.0 + 0.22 * len(shorten(label, 48)))
    g.edge(tail, head, tooltip=tooltip or label, labeldistance=f"{distance:.1f}",
           labelfontcolor=color,
           labelfontsize="9", color=color, style=style, arrowhead=arrowhead,
           constraint="false", penwidth="1.4", id=ident, **ports, **{"class": cls})
