"""Message sequence charts, the picture: real SVGs drawn by Graphviz's dot, read back as XML to
check the lanes, the message arrows and the highlighted step (never compared byte for byte)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from protospec.explorer import check
from protospec.explorer.chart_hints import attach_chart_hints
from protospec.explorer.render.dot import dot_available, render
from protospec.explorer.render.lanes import infer_chart
from protospec.explorer.render.sequence import sequence_dot
from protospec.specs.two_phase_commit import TwoPhaseCommit

from .test_render_lanes import toy_network_trace

needs_dot = pytest.mark.skipif(not dot_available(), reason="Graphviz's dot is not installed")
SVG = "{http://www.w3.org/2000/svg}"


def violation_of(variant: str):
    spec = TwoPhaseCommit.with_variant(variant)()
    v = check(spec).violations[0]
    attach_chart_hints(spec, [v.trace])
    return v


def svg_of(source: str) -> ET.Element:
    return ET.fromstring(render(source, "svg"))


def groups(root: ET.Element, cls: str) -> list[ET.Element]:
    """The <g> elements whose class list contains ``cls`` (dot copies DOT's class attribute)."""
    return [g for g in root.iter(f"{SVG}g") if cls in (g.get("class") or "").split()]


def texts(element: ET.Element) -> list[str]:
    return [t.text or "" for t in element.iter(f"{SVG}text")]


@needs_dot
@pytest.mark.parametrize("variant", sorted(TwoPhaseCommit.variants()))
def test_two_phase_commit_chart_has_its_lanes_arrows_and_the_broken_step(variant) -> None:
    v = violation_of(variant)
    root = svg_of(sequence_dot(v.trace, violation=v.property, kind=v.kind, doc=v.doc))
    chart = infer_chart(v.trace)

    lanes = [texts(g)[0] for g in groups(root, "lane")]
    assert lanes == ["TM", "RM 0", "RM 1", "RM 2"]

    # One arrow per receipt, each from the sender's step to the receiver's step.
    arrows = groups(root, "message")
    assert len(arrows) == sum(len(f.receipts) for f in chart.flows) > 0
    drawn = {a.get("id") for a in arrows}
    assert drawn == {f"message-{f.sent_step}-to-{step}" for f in chart.flows
                     for step, _lane in f.receipts}
    # ...and each arrow ends at the receiving step's box (dot's <title> is "tail:port->head:port").
    node_of = {g.get("id"): g.find(f"{SVG}title").text for g in groups(root, "event")}
    for a in arrows:
        head = a.find(f"{SVG}title").text.split("->")[1].split(":")[0]
        assert head == node_of[f"step-{a.get('id').rsplit('-', 1)[1]}"]

    # Exactly one step is highlighted: the last, naming the property it breaks.
    [broken] = groups(root, "violation")
    assert broken.get("id") == f"step-{len(v.trace)}"
    assert any("violates atomicity" in t for t in texts(broken))
    assert any(t.startswith(f"{len(v.trace)}. ") for t in texts(broken))


@needs_dot
def test_lost_and_in_flight_messages_are_drawn_dashed() -> None:
    root = svg_of(sequence_dot(toy_network_trace()))
    [lost] = groups(root, "lost")
    [flying] = groups(root, "in-flight")
    for edge in (lost, flying):
        path = next(edge.iter(f"{SVG}path"))
        assert path.get("stroke-dasharray")  # dot draws style=dashed with a dash array
    assert "(lost)" in " ".join(texts(lost))
    assert "(in flight)" in " ".join(texts(flying))
    assert [texts(g)[0] for g in groups(root, "lane")] == ["node 0", "node 1", "node 2",
                                                            "network"]


def test_the_highlight_says_how_the_property_failed() -> None:
    trace = violation_of("tm_commits_early").trace
    assert "the state after this step violates atomicity" in sequence_dot(
        trace, violation="atomicity", kind="invariant")
    assert "this step violates grows" in sequence_dot(
        trace, violation="grows", kind="action_property")
    assert "no step is possible after this one (deadlock)" in sequence_dot(
        trace, violation="deadlock", kind="deadlock")
    assert "violates" not in sequence_dot(trace.__class__(trace.steps, spec="x"))


def test_a_saved_trace_remembers_which_property_it_breaks() -> None:
    v = violation_of("tm_commits_early")
    v.trace.chart = {**v.trace.chart, "violation": {"property": "atomicity",
                                                    "kind": "invariant", "doc": "no split"}}
    source = sequence_dot(v.trace)
    assert "the state after this step violates atomicity" in source
    assert "atomicity: no split" in source
