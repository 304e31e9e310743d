"""The HTML report: self-contained (nothing to fetch), with the summary, the chart inline as SVG,
the steps as a table of changes and the coverage table; and it opens in a real browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import protospec.explorer.render.dot as dot_module
import pytest
from protospec.explorer import check
from protospec.explorer.chart_hints import attach_chart_hints
from protospec.explorer.render.dot import dot_available
from protospec.explorer.render.html import result_html, trace_html
from protospec.specs.two_phase_commit import TwoPhaseCommit

needs_dot = pytest.mark.skipif(not dot_available(), reason="Graphviz's dot is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") \
    or shutil.which("google-chrome")


def early_result():
    spec = TwoPhaseCommit.with_variant("tm_commits_early")()
    result = check(spec)
    attach_chart_hints(spec, [v.trace for v in result.violations])
    return result


class Tags(HTMLParser):
    """Every start tag with its attributes, to look for anything that would fetch."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def fetching(html: str) -> list[str]:
    """What in a page could make a browser go to the network."""
    parser = Tags()
    parser.feed(html)
    found = [f"<{t} {k}={v}>" for t, attrs in parser.tags for k, v in attrs.items()
             if k in ("src", "href", "xlink:href", "srcset", "action", "data") and v]
    found += re.findall(r"url\(|@import|https?://", html)
    return found


@needs_dot
def test_report_inlines_the_chart_and_fetches_nothing() -> None:
    html = result_html(early_result())
    assert fetching(html) == []
    assert html.count("<svg") == 1
    assert 'class="node event violation"' in html
    assert "<!DOCTYPE svg" not in html and "<?xml" not in html


def test_report_has_summary_steps_and_coverage() -> None:
    html = result_html(early_result(), draw=False)
    assert "<h1>Check of two_phase_commit</h1>" in html
    assert "tm_commits_early" in html and "1 violation: atomicity" in html
    # The steps table: one row per state, the last one highlighted with the property.
    assert html.count('<td class="num">') >= 4
    assert '<tr class="violation">' in html and "this state violates atomicity" in html
    assert "<code>rm_state[1]</code>" in html  # a change at its smallest part
    assert "Action coverage" in html and "<code>tm_rcv_prepared</code>" in html


def test_report_without_dot_says_how_to_install_it_and_keeps_the_dot_source(
        monkeypatch) -> None:
    monkeypatch.setattr(dot_module.shutil, "which", lambda name: None)
    html = result_html(early_result())
    assert "<svg" not in html
    assert "apt-get install graphviz" in html
    assert "digraph sequence {" in html


def test_trace_report_of_a_saved_trace() -> None:
    trace = early_result().violations[0].trace
    html = trace_html(trace, violation="atomicity", draw=False)
    assert "Trace of two_phase_commit" in html and "3 steps" in html
    assert "does not record action coverage" in html


# -- in a real browser ------------------------------------------------------------------------


def page_requests(page: Path, screenshot: Path, tmp: Path) -> list[str]:
    """Open ``page`` in headless Chromium, save a screenshot, and list the network requests
    the page made (from Chromium's NetLog: requests whose isolation key is the file page,
    leaving out the browser's own background traffic)."""
    netlog = tmp / "netlog.json"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update",
           "--disable-extensions", f"--user-data-dir={tmp / 'profile'}",
           "--window-size=1280,1600", f"--log-net-log={netlog}",
           f"--screenshot={screenshot}", page.as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    events = json.loads(netlog.read_text())["events"]
    return sorted({e["params"]["url"] for e in events
                   if "file://" in str(e.get("params", {}).get("network_isolation_key", ""))
                   and not str(e["params"].get("url", "file:")).startswith("file:")})


@pytest.mark.slow
@needs_dot
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
def test_report_opens_in_headless_chromium_without_network_requests(tmp_path) -> None:
    page = tmp_path / "report.html"
    page.write_text(result_html(early_result()))
    shot = tmp_path / "report.png"
    assert page_requests(page, shot, tmp_path) == []
    assert shot.stat().st_size > 10_000  # a real picture, not an empty page

    # The check can fail: a page that fetches an image is caught.
    bad = tmp_path / "bad.html"
    bad.write_text('<img src="http://example.invalid/chart.png">')
    assert page_requests(bad, tmp_path / "bad.png", tmp_path) == \
        ["http://example.invalid/chart.png"]
