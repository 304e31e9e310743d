"""protospec explore in a real browser: the server as a process, headless Chromium clicking.

The scenario is 2PC's ``tm_commits_early`` counterexample, as ``check`` finds it in this test
run (nothing hard-coded): the test clicks its steps one by one and reads, at each step, what the
page shows against the spec's own states and invariants; it goes back, jumps, runs the search,
loads the counterexample as an ITF file and opens a shared link. A screenshot of the violating
step is kept in artifacts/ (gitignored; CI keeps it).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from protospec.explorer import check
from protospec.explorer.itf import trace_from_itf, write_trace
from protospec.explorer.values import changed_vars, format_value, state_vars
from protospec.specs.two_phase_commit import TwoPhaseCommit

from tests.explorer.browser import ARTIFACTS, chromium, chromium_or_skip, requested_urls

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
RED = "rgba(183, 28, 28, 1)"  # #b71c1c, the colour of a violated property


@pytest.fixture(scope="module")
def counterexample():
    spec = TwoPhaseCommit.with_variant("tm_commits_early")()
    return spec, check(spec).violations[0]


@pytest.fixture(scope="module")
def server():
    proc = subprocess.Popen([sys.executable, "-m", "protospec", "explore", "two_phase_commit",
                             "--variant", "tm_commits_early", "--no-browser"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.search(r"at (http://127\.0\.0\.1:\d+/) ", line)
    assert m, f"no address printed: {line!r} {proc.stderr.read() if proc.poll() else ''}"
    yield m.group(1)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium_or_skip()
    driver = chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


def css(browser, selector: str):
    from selenium.webdriver.common.by import By

    return browser.find_elements(By.CSS_SELECTOR, selector)


def one(browser, selector: str):
    found = css(browser, selector)
    assert len(found) == 1, f"{len(found)} elements match {selector!r}"
    return found[0]


def go(browser, selector: str) -> None:
    """Click the link or button ``selector`` and wait until the next page has replaced this one."""
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    page = browser.find_element("tag name", "html")
    one(browser, selector).click()
    WebDriverWait(browser, 60).until(expected_conditions.staleness_of(page))


def assert_page_shows_step(browser, spec, steps, i: int) -> None:
    """The page shows step ``i`` of ``steps``: its label, the state, what changed, the
    invariants' values (violated ones red, with their docs), the path and the chart."""
    step = steps[i]
    assert one(browser, "#step-number").text == f"Step {i}"
    assert one(browser, "#step-label").text == step.label
    shown = {row.get_attribute("data-var"): row for row in css(browser, "#state tbody tr")}
    values = state_vars(step.state)
    assert list(shown) == list(values)
    for name, value in values.items():
        assert shown[name].find_element("css selector", "code.value").text == \
            format_value(value)
    changed = {row.get_attribute("data-var") for row in css(browser, "#state tr.changed")}
    before = steps[i - 1].state if i else None
    assert changed == (set(changed_vars(before, step.state)) if i else set())
    docs = spec.property_docs()
    for name, fn in spec.invariant_fns:
        row = one(browser, f'#properties tr[data-name="{name}"]')
        holds = fn(step.state)
        assert row.get_attribute("class") == ("holds" if holds else "violated")
        assert row.find_element("css selector", "td.doc").text == docs[name]
        if not holds:
            assert row.find_element("css selector", "td.value").value_of_css_property(
                "color") == RED
    assert [li.text for li in css(browser, "#path li")][: i + 1] == \
        [st.label for st in steps[: i + 1]]
    # The chart grows with the path: one event box per step taken so far.
    assert len(css(browser, "#chart svg g.node.event")) == i


def test_clicking_through_the_counterexample_shows_every_step(browser, server,
                                                               counterexample) -> None:
    spec, violation = counterexample
    steps = violation.trace.steps
    browser.get(server)
    assert_page_shows_step(browser, spec, steps, 0)
    assert "violation" not in one(browser, "#banner").get_attribute("class")
    for i in range(1, len(steps)):
        go(browser, f'#actions a[data-token="{steps[i].label}"]')
        assert_page_shows_step(browser, spec, steps, i)
    banner = one(browser, "#banner")
    assert "violation" in banner.get_attribute("class")
    assert f"violates {violation.property}" in banner.text
    assert len(css(browser, "#chart svg g.node.event.violation")) == 1
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "explore_two_phase_commit_tm_commits_early.png"))


def test_back_jump_and_forward_move_along_the_same_path(browser, server,
                                                        counterexample) -> None:
    spec, violation = counterexample
    steps = violation.trace.steps
    n = len(steps) - 1
    go(browser, "#back")
    assert_page_shows_step(browser, spec, steps, n - 1)
    go(browser, '#path li[data-step="1"] a')
    assert_page_shows_step(browser, spec, steps, 1)
    assert len(css(browser, "#path li.future")) == n - 1  # the rest is kept, greyed
    go(browser, "#forward")
    assert_page_shows_step(browser, spec, steps, 2)
    go(browser, "#restart")
    assert_page_shows_step(browser, spec, steps, 0)
    assert len(css(browser, "#path li")) == 1


def test_a_shared_link_opens_the_same_step(browser, server, counterexample) -> None:
    spec, violation = counterexample
    steps = violation.trace.steps
    browser.get(server)
    for st in steps[1:3]:
        go(browser, f'#actions a[data-token="{st.label}"]')
    link = one(browser, "#share-url").get_attribute("value")
    browser.delete_all_cookies()
    browser.get("about:blank")
    browser.get(link)
    assert_page_shows_step(browser, spec, steps, 2)


def test_run_to_violation_finds_the_shortest_one_from_here(browser, server,
                                                           counterexample) -> None:
    spec, violation = counterexample
    steps = violation.trace.steps
    browser.get(server)
    go(browser, "#search")
    assert_page_shows_step(browser, spec, steps, len(steps) - 1)


def test_random_step_takes_an_enabled_step(browser, server) -> None:
    browser.get(server)
    enabled = {a.get_attribute("data-token") for a in css(browser, "#actions a")}
    go(browser, "#random")
    assert one(browser, "#step-number").text == "Step 1"
    assert one(browser, "#step-label").text in enabled


def test_loading_an_itf_file_steps_through_it(browser, server, counterexample,
                                              tmp_path) -> None:
    spec, violation = counterexample
    steps = violation.trace.steps
    path = tmp_path / "cex.json"
    write_trace(violation.trace, path, violation=violation.property)
    browser.get(server)
    one(browser, "#load-file").send_keys(str(path))
    go(browser, "#load-submit")
    for i in range(len(steps)):
        assert_page_shows_step(browser, spec, steps, i)
        if i < len(steps) - 1:
            go(browser, "#forward")
    # And the page's own download gives the same behaviour back.
    href = one(browser, "#download-itf").get_attribute("href")
    back = trace_from_itf(json.loads(urllib.request.urlopen(href).read()))
    assert [st.label for st in back.steps] == [st.label for st in steps]


def test_every_request_the_pages_made_went_to_the_local_server(browser, server) -> None:
    """Run last in this module: the log holds every request of the scenarios above."""
    browser.get(server)
    go(browser, "#search")
    urls = requested_urls(browser)
    assert any(u.endswith("/static/explore.css") for u in urls)
    network = [u for u in urls if u.startswith(("http:", "https:", "ws:", "wss:", "ftp:"))]
    assert network and [u for u in network if not u.startswith(server)] == []
