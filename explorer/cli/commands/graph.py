"""``protospec graph``: draw the state graph of a small spec; and the chart options of the others.

``graph`` explores the spec with the engine's breadth-first search, asking its state store to
log every step (``record_edges``) and to keep the states themselves (a graph worth drawing is
small), up to ``--max-states`` states, and writes the picture. It refuses bigger spaces with a
message saying how to make it draw: a graph of thousands of states is a grey blur, not an
explanation.

This module also holds what ``check``, ``simulate`` and ``show`` share for pictures:
``--render FILE`` (a message sequence chart of the counterexample: .dot, .svg, .png or .pdf)
and ``--html FILE`` (a self-contained report). Pictures need Graphviz's ``dot``; without it the
DOT source is written instead, with a message saying how to install Graphviz, and the exit
code stays what the check decided.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ...bfs import explore
from ...chart_hints import attach_chart_hints
from ...errors import ProtospecError, UsageError
from ...render.dot import DotFailed, DotMissing, dot_available, format_of, write_rendered
from ...render.html import result_html, trace_html
from ...render.sequence import sequence_dot
from ...render.stategraph import StateGraph, state_graph_dot
from ...render.text import format_params
from ...result import CheckResult, Trace
from ...spec import ActionInstance, Spec
from ..common import add_spec_arguments, confirm_overwrite, err_console, instantiate, out_console

__all__ = ["add_render_arguments", "check_render_targets", "explore_graph", "register", "run",
           "write_result_charts", "write_trace_charts"]

DEFAULT_MAX_STATES = 500


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "graph", help="draw the state graph of a small spec (states, steps, violations)",
        description="Explore every reachable state of SPEC and draw the state graph: states "
                    "as boxes, steps as arrows labelled with their actions, initial states "
                    "green, states violating an invariant red, and the shortest path to a "
                    "violation bold red. For small configurations only: it stops past "
                    f"--max-states (default {DEFAULT_MAX_STATES}).")
    add_spec_arguments(p)
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="where to write the graph: .dot, .svg, .png or .pdf")
    p.add_argument("--max-states", type=int, default=DEFAULT_MAX_STATES, metavar="N",
                   help=f"refuse to draw more than N states (default {DEFAULT_MAX_STATES})")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.set_defaults(func=run)


class GraphTooBig(UsageError):
    """The state space has more states than the cap allows drawing."""


def explore_graph(spec: Spec, max_states: int) -> StateGraph:
    """Every reachable state and step of ``spec``, breadth-first; GraphTooBig past the cap.

    States are numbered as the engine numbers them (breadth-first, in enumeration order); the
    steps are the store's edge log, in the order they were generated.
    """
    search = explore(spec, max_states=max_states + 1, keep_going=True, check_deadlock=False,
                     record_edges=True, keep_states=True)
    store = search.store
    if len(store) > max_states:
        raise GraphTooBig(
            f"spec {spec.name!r} has more than {max_states} reachable states: too many to "
            f"draw readably. Draw a smaller configuration (fewer processes or values with "
            f"-p NAME=VALUE), or raise the limit with --max-states "
            f"{max_states * 4} (dot may then take minutes and the picture will be dense).")
    states = search.states or []
    graph = StateGraph(states=list(states), edges=[])
    parents = store.parents.view()
    graph.initial = {i for i in range(len(states)) if parents[i] < 0}
    for i, s in enumerate(states):
        bad = spec.check_state(s)
        if bad:
            graph.violations[i] = bad
    names: dict[int, str] = {}
    has_successor: set[int] = set()
    parent_edge: dict[int, int] = {}
    src, dst, lab = (a.tolist() for a in store.edge_arrays())
    for k, (i, j, label_id) in enumerate(zip(src, dst, lab)):
        if label_id not in names:
            action, args = store.label(label_id)
            names[label_id] = str(ActionInstance(action, args))
        graph.edges.append((i, j, names[label_id]))
        has_successor.add(i)
        if j not in graph.initial and j not in parent_edge:
            parent_edge[j] = k  # the first way found to j is a shortest one
        bad = spec.check_step(states[i], states[j])
        if bad:
            graph.bad_edges[k] = bad
    graph.terminal = set(range(len(states))) - has_successor
    graph.path = _shortest_bad_path(graph, parent_edge)
    return graph


def _shortest_bad_path(graph: StateGraph, parent_edge: dict[int, int]) -> list[int]:
    """Edges from an initial state to the first violation found breadth-first (the nearest)."""
    targets: list[tuple[int, int | None]] = [(i, None) for i in sorted(graph.violations)]
    targets += [(graph.edges[k][0], k) for k in sorted(graph.bad_edges)]
    if not targets:
        return []

    def depth(i: int) -> int:
        d = 0
        while i in parent_edge:
            i = graph.edges[parent_edge[i]][0]
            d += 1
        return d

    state, last = min(targets, key=lambda t: (depth(t[0]) + (t[1] is not None), t[0]))
    path: list[int] = [] if last is None else [last]
    while state in parent_edge:
        path.append(parent_edge[state])
        state = graph.edges[parent_edge[state]][0]
    return list(reversed(path))


def run(args: argparse.Namespace) -> int:
    if args.max_states < 1:
        raise UsageError(f"--max-states must be a positive number, got {args.max_states}")
    _check_format(args.output, "-o")
    out = confirm_overwrite(args.output, args.force, "-o")
    spec = instantiate(args)
    graph = explore_graph(spec, args.max_states)
    title = spec.name + (f" ({format_params(spec.param_values)})" if spec.param_values else "")
    if spec.variant_name:
        title += f", variant {spec.variant_name}"
    written = _write_picture(state_graph_dot(graph, title), out, args.force)
    con = out_console()
    bad = sorted({p for ps in graph.violations.values() for p in ps}
                 | {p for ps in graph.bad_edges.values() for p in ps})
    con.print(f"{len(graph.states)} states, {len(graph.edges)} steps"
              + (f"; violated: {', '.join(bad)} (path of {len(graph.path)} steps in bold red)"
                 if bad else "; no property violated"), markup=False)
    if written is not None:
        con.print(f"State graph written to {written}", markup=False)
    return 0


# ---------------------------------------------------------------------------------------------
# --render and --html for check, simulate and show


def add_render_arguments(p: argparse.ArgumentParser, *, force: bool = False) -> None:
    """``--render FILE`` and ``--html FILE`` (and ``--force`` if the command lacks it)."""
    p.add_argument("--render", metavar="FILE",
                   help="draw the counterexample as a message sequence chart: FILE.dot, .svg, "
                        ".png or .pdf (pictures need Graphviz's dot)")
    p.add_argument("--html", metavar="FILE",
                   help="write a self-contained HTML report (summary, chart, steps, coverage)")
    if force:
        p.add_argument("--force", action="store_true",
                       help="overwrite output files that already exist")


def _check_format(path: str, option: str) -> None:
    try:
        format_of(path)
    except ValueError as exc:
        raise UsageError(f"{option} {path}: {exc}") from None


def check_render_targets(args: argparse.Namespace) -> None:
    """Before a run: refuse unknown formats, and output paths that cannot be written or that
    exist (without --force): --trace-out, --render and --html."""
    if getattr(args, "trace_out", None):
        confirm_overwrite(args.trace_out, args.force, "--trace-out")
    if getattr(args, "render", None):
        _check_format(args.render, "--render")
        confirm_overwrite(args.render, args.force, "--render")
    if getattr(args, "html", None):
        if Path(args.html).suffix.lower() not in (".html", ".htm"):
            raise UsageError(f"--html {args.html}: the report is HTML; name it FILE.html")
        confirm_overwrite(args.html, args.force, "--html")


def _write_picture(source: str, path: Path, force: bool) -> Path | None:
    """Write the picture; without dot, write the DOT source next to it and say so."""
    from ..common import write_output

    note = err_console()
    try:
        return write_rendered(source, path)
    except DotMissing as exc:
        fallback = path.with_suffix(".dot")
        note.print(f"protospec: {exc}", markup=False, highlight=False)
        if fallback.exists() and not force:
            note.print(f"protospec: {fallback} exists, so the DOT source was not written "
                       f"either (pass --force to replace it)", markup=False, highlight=False)
            return None
        write_output(fallback, source, "DOT source")
        note.print(f"protospec: wrote the DOT source to {fallback} instead; "
                   f"`dot -T{path.suffix[1:]} {fallback} -o {path}` draws it once Graphviz "
                   f"is installed", markup=False, highlight=False)
        return None
    except DotFailed as exc:
        note.print(f"protospec: {exc}", markup=False, highlight=False)
        return None


def write_result_charts(result: CheckResult, args: argparse.Namespace) -> None:
    """After check/simulate: attach chart hints (so --trace-out keeps them), then write the
    --render chart and the --html report. Problems with pictures are reported on stderr and
    never change the exit code: the check's verdict is what the run is for."""
    from ..common import write_output

    render, html = getattr(args, "render", None), getattr(args, "html", None)
    if not (render or html or getattr(args, "trace_out", None)):
        return
    note = err_console()
    if result.violations:
        try:
            attach_chart_hints(instantiate(args), [v.trace for v in result.violations])
        except ProtospecError:
            raise
        except Exception as exc:  # a spec's chart hook failed: draw without its hints
            note.print(f"protospec: the spec's chart hooks failed ({type(exc).__name__}: "
                       f"{exc}); drawing without them", markup=False, highlight=False)
        for v in result.violations:  # so that a saved trace still says what it breaks
            v.trace.chart = {**(v.trace.chart or {}),
                             "violation": {"property": v.property, "kind": v.kind,
                                           "doc": v.doc}}
    if render:
        if result.violations:
            v = result.violations[0]
            source = sequence_dot(v.trace, violation=v.property, kind=v.kind, doc=v.doc)
            written = _write_picture(source, Path(render), args.force)
            if written is not None:
                note.print(f"Chart of the counterexample written to {written}", markup=False,
                           highlight=False)
        else:
            note.print(f"No counterexample, so {render} was not written.", markup=False,
                       highlight=False)
    if html:
        if result.violations and not dot_available():
            note.print(f"protospec: the report has no chart: {DotMissing()}", markup=False,
                       highlight=False)
        write_output(html, result_html(result), "HTML report")
        note.print(f"HTML report written to {html}", markup=False, highlight=False)


def write_trace_charts(trace: Trace, meta: dict[str, Any], args: argparse.Namespace) -> None:
    """For ``show``: the --render chart and --html report of a saved trace."""
    from ..common import write_output

    if not (getattr(args, "render", None) or getattr(args, "html", None)):
        return
    check_render_targets(args)
    saved = (trace.chart or {}).get("violation") or {}
    violation = meta.get("violation") or saved.get("property")
    kind = saved.get("kind", "invariant")
    doc = saved.get("doc", "")
    note = err_console()
    if args.render:
        source = sequence_dot(trace, violation=violation, kind=kind, doc=doc)
        written = _write_picture(source, Path(args.render), args.force)
        if written is not None:
            note.print(f"Chart written to {written}", markup=False, highlight=False)
    if args.html:
        if not dot_available():
            note.print(f"protospec: the report has no chart: {DotMissing()}", markup=False,
                       highlight=False)
        write_output(args.html, trace_html(trace, violation=violation, kind=kind, doc=doc),
                     "HTML report")
        note.print(f"HTML report written to {args.html}", markup=False, highlight=False)
