"""State graphs of small specs, as Graphviz DOT: every state a node, every step an edge.

Initial states are green, states that violate an invariant red (with the invariants' names),
and the shortest path from an initial state to a violation is drawn bold red, so the picture
shows at once where the bug is and how one gets there. Meant for a few hundred states at most:
the ``graph`` command refuses bigger spaces (its ``--max-states``).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import graphviz

from ..values import format_value, state_vars
from .changes import shorten

__all__ = ["StateGraph", "state_graph_dot"]

FONT = "Helvetica"
INIT_FILL = "#e8f5e9"
BAD_FILL = "#ffebee"
BAD_COLOR = "#c62828"
VALUE_WIDTH = 60  # characters of a variable's value shown in a node


@dataclass
class StateGraph:
    """The reachable states (numbered in breadth-first order) and the steps between them."""

    states: list[Any]
    edges: list[tuple[int, int, str]]  # (from, to, action label)
    initial: set[int] = field(default_factory=set)
    violations: dict[int, list[str]] = field(default_factory=dict)  # state -> invariants
    bad_edges: dict[int, list[str]] = field(default_factory=dict)  # edge index -> properties
    path: list[int] = field(default_factory=list)  # edge indexes of the shortest bad path
    terminal: set[int] = field(default_factory=set)  # states with no successor


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _state_label(i: int, state: Any, bad: list[str]) -> str:
    rows = [f'<TR><TD ALIGN="LEFT"><B>state {i}</B></TD></TR>']
    for name, value in state_vars(state).items():
        rows.append(f'<TR><TD ALIGN="LEFT">{_esc(name)} = '
                    f"{_esc(shorten(format_value(value), VALUE_WIDTH))}</TD></TR>")
    for prop in bad:
        rows.append(f'<TR><TD ALIGN="LEFT"><B><FONT COLOR="{BAD_COLOR}">violates '
                    f"{_esc(prop)}</FONT></B></TD></TR>")
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
            + "".join(rows) + "</TABLE>>")


def state_graph_dot(graph: StateGraph, title: str = "") -> str:
    """The DOT source of ``graph``; ``title`` goes on top with a one-line legend."""
    g = graphviz.Digraph("states", format="svg")
    # Left to right: a breadth-first level is a column. State spaces are far wider than deep,
    # and a tall picture scrolls better than a wide one.
    legend = (f"{len(graph.states)} states, {len(graph.edges)} steps. Green: initial states; "
              f"red: states (and steps) that violate a property; bold red: the shortest path "
              f"to a violation; double border: no successor.")
    g.attr("graph", label=f"<<B>{_esc(title)}</B><BR/>{_esc(legend)}>", labelloc="t",
           fontname=FONT, fontsize="13", rankdir="LR", nodesep="0.3", ranksep="0.45",
           bgcolor="white", pad="0.3")
    g.attr("node", shape="box", style="rounded,filled", fillcolor="white", fontname=FONT,
           fontsize="10", color="#757575")
    g.attr("edge", fontname=FONT, fontsize="9", color="#757575", fontcolor="#424242")
    on_path = set(graph.path)
    path_states = {graph.edges[e][0] for e in graph.path} | {graph.edges[e][1]
                                                            for e in graph.path}
    for i, state in enumerate(graph.states):
        bad = graph.violations.get(i, [])
        attrs: dict[str, str] = {"id": f"state-{i}", "class": "state"}
        if i in graph.initial:
            attrs.update(fillcolor=INIT_FILL, color="#2e7d32", penwidth="2",
                         **{"class": "state initial"})
        if bad:
            attrs.update(fillcolor=BAD_FILL, color=BAD_COLOR, penwidth="2.5",
                         **{"class": "state violation"})
        elif i in path_states and i not in graph.initial:
            attrs.update(color=BAD_COLOR, penwidth="1.5")
        if i in graph.terminal:
            attrs["peripheries"] = "2"
        g.node(f"s{i}", label=_state_label(i, state, bad), **attrs)
    # Steps between the same two states are drawn as one arrow with one label line each.
    merged: dict[tuple[int, int], list[int]] = {}
    for k, (a, b, _label) in enumerate(graph.edges):
        merged.setdefault((a, b), []).append(k)
    for (a, b), ks in merged.items():
        lines = []
        attrs = {"id": f"step-{ks[0]}", "class": "step"}
        for k in ks:
            text = graph.edges[k][2]
            if k in graph.bad_edges:
                text += " violates " + ", ".join(graph.bad_edges[k])
                attrs.update(color=BAD_COLOR, fontcolor=BAD_COLOR,
                             **{"class": "step violation"})
            lines.append(text)
        if on_path.intersection(ks):
            attrs.update(color=BAD_COLOR, fontcolor=BAD_COLOR, penwidth="3",
                         **{"class": "step path"})
        g.edge(f"s{a}", f"s{b}", label="\n".join(lines), **attrs)
    return g.source
