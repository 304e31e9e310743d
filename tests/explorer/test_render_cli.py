"""Pictures from the command line: ``check/simulate --render --html``, ``show --render``, the
``graph`` command and its size cap, and what happens when Graphviz's dot is missing."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import protospec.explorer.render.dot as dot_module
import pytest
from protospec.explorer import check
from protospec.explorer.cli.commands.graph import GraphTooBig, explore_graph
from protospec.explorer.cli.main import main
from protospec.explorer.render.dot import DotMissing, dot_available, render, write_rendered
from protospec.specs.two_phase_commit import TwoPhaseCommit

needs_dot = pytest.mark.skipif(not dot_available(), reason="Graphviz's dot is not installed")
SVG = "{http://www.w3.org/2000/svg}"
EARLY = ["two_phase_commit", "--variant", "tm_commits_early"]


@pytest.fixture
def no_dot(monkeypatch):
    """As if Graphviz were not installed: dot is not found on the PATH."""
    monkeypatch.setattr(dot_module.shutil, "which", lambda name: None)


def classes(path) -> list[str]:
    root = ET.parse(path).getroot()
    return [g.get("class") or "" for g in root.iter(f"{SVG}g")]


# -- check, simulate, show ----------------------------------------------------------------------


@needs_dot
def test_check_render_draws_the_counterexample_and_keeps_exit_code_1(tmp_path, capsys) -> None:
    out = tmp_path / "trace.svg"
    assert main(["check", *EARLY, "--render", str(out)]) == 1
    assert "node event violation" in classes(out)
    assert "Chart of the counterexample written to" in capsys.readouterr().err


@needs_dot
def test_show_renders_a_saved_trace_with_the_same_highlight(tmp_path, capsys) -> None:
    saved, out = tmp_path / "t.json", tmp_path / "t.svg"
    assert main(["check", *EARLY, "--trace-out", str(saved)]) == 1
    assert main(["show", str(saved), "--render", str(out)]) == 0
    root = ET.parse(out).getroot()
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "the state after this step violates atomicity" in texts
    assert "TCConsistent" in texts  # the property's description travelled in the file


def test_a_dot_file_needs_no_graphviz(tmp_path, no_dot) -> None:
    out = tmp_path / "trace.dot"
    assert main(["check", *EARLY, "--render", str(out)]) == 1
    assert out.read_text().startswith("digraph sequence {")


def test_without_dot_the_dot_source_is_written_with_install_advice(tmp_path, capsys,
                                                                   no_dot) -> None:
    out = tmp_path / "trace.svg"
    assert main(["check", *EARLY, "--render", str(out)]) == 1  # the verdict, unchanged
    assert not out.exists()
    assert (tmp_path / "trace.dot").read_text().startswith("digraph sequence {")
    err = capsys.readouterr().err
    assert "apt-get install graphviz" in err and "brew install graphviz" in err
    assert "trace.dot" in err


def test_render_without_dot_raises_a_clear_error_and_writes_nothing(tmp_path, no_dot) -> None:
    with pytest.raises(DotMissing, match="apt-get install graphviz"):
        render("digraph { a }", "svg")
    with pytest.raises(DotMissing):
        write_rendered("digraph { a }", tmp_path / "a.png")
    assert not (tmp_path / "a.png").exists()


def test_an_existing_chart_is_not_overwritten_before_the_check_runs(tmp_path, capsys) -> None:
    out = tmp_path / "trace.dot"
    out.write_text("mine")
    assert main(["check", *EARLY, "--render", str(out)]) == 2
    assert out.read_text() == "mine"
    assert "--force" in capsys.readouterr().err
    assert main(["check", *EARLY, "--render", str(out), "--force"]) == 1
    assert out.read_text().startswith("digraph")


def test_an_unknown_picture_format_is_a_usage_error(tmp_path, capsys) -> None:
    assert main(["check", *EARLY, "--render", str(tmp_path / "trace.jpg")]) == 2
    assert ".svg" in capsys.readouterr().err


def test_no_counterexample_means_no_chart_but_still_a_report(tmp_path, capsys) -> None:
    chart, report = tmp_path / "c.dot", tmp_path / "r.html"
    assert main(["check", "two_phase_commit", "-p", "rms=2", "--render", str(chart),
                 "--html", str(report)]) == 0
    assert not chart.exists()
    assert "no violation" in report.read_text()
    assert "was not written" in capsys.readouterr().err


def test_simulate_takes_the_same_chart_options(tmp_path) -> None:
    out = tmp_path / "walk.dot"
    assert main(["simulate", *EARLY, "--seed", "1", "--render", str(out)]) == 1
    assert "violates atomicity" in out.read_text()


# -- protospec graph ------------------------------------------------------------------------


def test_graph_has_every_reachable_state_the_explorer_counts() -> None:
    spec = TwoPhaseCommit(rms=2)
    graph = explore_graph(spec, 500)
    assert len(graph.states) == check(TwoPhaseCommit(rms=2)).stats.distinct_states
    assert graph.initial == {0}
    assert not graph.violations and not graph.path


def test_graph_path_is_a_shortest_way_to_a_violation() -> None:
    spec = TwoPhaseCommit.with_variant("tm_commits_early")(rms=2)
    graph = explore_graph(spec, 500)
    shortest = len(check(TwoPhaseCommit.with_variant("tm_commits_early")(rms=2))
                   .violations[0].trace)
    assert len(graph.path) == shortest
    edges = [graph.edges[k] for k in graph.path]
    assert edges[0][0] in graph.initial
    assert all(a[1] == b[0] for a, b in itertools.pairwise(edges))  # a connected path
    assert graph.violations[edges[-1][1]] == ["atomicity"]


def test_graph_refuses_a_space_past_the_cap_and_says_how_to_proceed() -> None:
    with pytest.raises(GraphTooBig, match="--max-states 400"):
        explore_graph(TwoPhaseCommit(rms=3), 100)  # 288 states


def test_graph_command_past_the_cap_exits_2_and_writes_nothing(tmp_path, capsys) -> None:
    out = tmp_path / "g.dot"
    assert main(["graph", "two_phase_commit", "-o", str(out), "--max-states", "50"]) == 2
    assert not out.exists()
    assert "more than 50 reachable states" in capsys.readouterr().err


@needs_dot
def test_graph_svg_colours_initial_violating_and_path(tmp_path) -> None:
    out = tmp_path / "g.svg"
    assert main(["graph", "two_phase_commit", "-p", "rms=2", "--variant",
                 "tm_commits_early", "-o", str(out)]) == 0
    found = classes(out)
    spec = TwoPhaseCommit.with_variant("tm_commits_early")(rms=2)
    graph = explore_graph(spec, 500)
    assert found.count("node state initial") == 1
    assert found.count("node state violation") == len(graph.violations) > 0
    assert found.count("edge step path") == len(graph.path) > 0
