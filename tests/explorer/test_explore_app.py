"""protospec explore without a browser: the walk (replay, fit, search) and the app's routes
through Flask's test client, and the command's start-up errors and clean stop."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from protospec.explorer import check
from protospec.explorer.cli.commands.explore import prepare
from protospec.explorer.cli.main import build_parser, main
from protospec.explorer.itf import trace_to_itf, write_trace
from protospec.explorer.values import format_value
from protospec.explorer.web.app import create_app
from protospec.explorer.web.walk import Walk, WalkError, search_from
from protospec.specs.two_phase_commit import TwoPhaseCommit

from tests.explorer.toy_specs import Branching

ROOT = Path(__file__).resolve().parents[2]
EARLY = TwoPhaseCommit.with_variant("tm_commits_early")


def early_trace():
    return check(EARLY()).violations[0].trace


def client(walk: Walk, **kwargs):
    return create_app(walk, **kwargs).test_client()


def text_of(html: str, ident: str) -> str:
    m = re.search(rf'id="{ident}"[^>]*>(.*?)</', html, re.S)
    assert m, f"no #{ident} on the page"
    return " ".join(m.group(1).split())


# -- the walk ----------------------------------------------------------------------------------


def test_a_path_replays_to_the_states_check_found() -> None:
    trace = early_trace()
    walk = Walk(EARLY)
    tokens = walk.tokens_of(trace.steps)
    assert tokens[0] == "0" and tokens[1:] == [st.label for st in trace.steps[1:]]
    assert [st.state for st in walk.replay(tokens)] == trace.states


def test_a_step_that_is_not_enabled_is_refused_with_its_position() -> None:
    walk = Walk(EARLY)
    with pytest.raises(WalkError, match="step 2: 'rm_rcv_abort_msg\\(rm=0\\)' is not enabled"):
        walk.replay(["0", "tm_commit()", "rm_rcv_abort_msg(rm=0)"])


def test_several_successors_of_one_label_get_numbered_tokens() -> None:
    walk = Walk(Branching)
    tokens = [c.token for c in walk.choices(0)]
    assert tokens == ["jump()", "jump()#1"]
    assert [c.state for c in walk.choices(0)] == [1, 2]
    assert walk.replay(["1", "jump()#1"])[-1].state == 3  # from the second initial state


def test_a_spec_with_several_initial_states_offers_each_at_step_0() -> None:
    c = client(Walk(Branching))
    html = c.get("/?s=1").data.decode()
    assert re.findall(r'data-init="(\d)"', html) == ["0", "1"]
    assert 'class="action button current" data-init="1"' in html
    assert '<code class="value">1</code>' in html
    assert "Initial states" not in c.get("/?s=1&s=jump()").data.decode()


def test_search_from_a_state_is_the_engines_check_from_that_state() -> None:
    walk = Walk(EARLY)
    after_abort = walk.replay(["0", "rm_choose_to_abort(rm=0)"])[-1].state
    found = search_from(walk, after_abort)
    # The shortest violation from there: the TM commits, another RM receives it.
    assert found.property == "atomicity"
    assert [st.label for st in found.steps[1:]] == ["tm_commit()", "rm_rcv_commit_msg(rm=1)"]
    assert found.steps[0].state == after_abort


def test_search_from_a_state_of_the_correct_spec_finds_nothing_and_counts_states() -> None:
    walk = Walk(lambda: TwoPhaseCommit(rms=2))
    found = search_from(walk, walk.inits[0])
    assert found.property is None and found.complete
    assert found.distinct_states == check(TwoPhaseCommit(rms=2)).stats.distinct_states


def test_an_itf_trace_without_action_labels_fits_by_its_states() -> None:
    data = trace_to_itf(early_trace())
    for raw in data["states"]:
        raw["#meta"] = {}  # as Apalache writes them: no actions
    assert Walk(EARLY).fit_itf(data)[1:] == [st.label for st in early_trace().steps[1:]]


def test_an_itf_trace_of_another_configuration_does_not_fit() -> None:
    data = trace_to_itf(early_trace())
    with pytest.raises(WalkError, match=r"step 0.*two_phase_commit \(rms=4\)"):
        Walk(lambda: EARLY(rms=4)).fit_itf(data)
    with pytest.raises(WalkError, match="step 1 of the trace is not a step of"):
        Walk(TwoPhaseCommit).fit_itf(data)  # the correct TM does not commit first


# -- the routes --------------------------------------------------------------------------------


def test_the_start_page_shows_the_initial_state_and_every_enabled_step() -> None:
    walk = Walk(EARLY)
    html = client(walk).get("/").data.decode()
    assert text_of(html, "step-number") == "Step 0"
    buttons = re.findall(r'class="action button"[^>]*data-token="([^"]*)"', html)
    assert buttons == [c.token for c in walk.choices(walk.inits[0])]
    assert 'class="holds" data-name="atomicity"' in html
    assert "<svg" in html


def test_a_shared_url_shows_the_step_it_names() -> None:
    labels = [st.label for st in early_trace().steps[1:]]
    c = client(Walk(EARLY))
    html = c.get("/", query_string=[("s", "0")] + [("s", x) for x in labels]
                 + [("at", "2")]).data.decode()
    assert text_of(html, "step-number") == "Step 2"
    assert text_of(html, "step-label") == labels[1]
    assert 'class="step future" data-step="3"' in html  # the rest of the path is kept
    share = re.search(r'id="share-url"[^>]*value="([^"]*)"', html).group(1)
    assert share.startswith("http://localhost/?s=0&amp;s=tm_commit()")


def test_a_path_that_does_not_fit_is_an_error_on_the_page() -> None:
    resp = client(Walk(EARLY)).get("/?s=0&s=no_such_action()")
    assert resp.status_code == 400
    assert "does not fit the spec: step 1" in resp.data.decode()


def test_run_to_violation_redirects_to_the_shortest_violating_path() -> None:
    resp = client(Walk(EARLY)).get("/search?s=0&at=0")
    assert resp.status_code == 302
    expected = [st.label for st in early_trace().steps[1:]]
    query = resp.headers["Location"]
    html = client(Walk(EARLY)).get(query).data.decode()
    assert text_of(html, "step-number") == f"Step {len(expected)}"
    assert 'class="violated" data-name="atomicity"' in html


def test_run_to_violation_without_one_says_so_and_how_much_it_searched() -> None:
    html = client(Walk(lambda: TwoPhaseCommit(rms=2))).get("/search?s=0").data.decode()
    n = check(TwoPhaseCommit(rms=2)).stats.distinct_states
    assert f"No violation is reachable from step 0 ({n:,} states; every state" in html


def test_random_step_takes_the_step_the_generator_picks() -> None:
    walk = Walk(EARLY)
    choices = walk.choices(walk.inits[0])
    resp = client(walk, rng=lambda n: n - 1).get("/random?s=0")
    assert resp.headers["Location"].endswith(
        "s=0&s=" + choices[-1].token.replace("=", "%3D"))


def test_the_itf_download_is_the_path_up_to_the_current_step() -> None:
    trace = early_trace()
    query = "&".join(["s=0"] + [f"s={st.label}" for st in trace.steps[1:]])
    resp = client(Walk(EARLY)).get(f"/trace.itf.json?{query}")
    assert "attachment" in resp.headers["Content-Disposition"]
    data = json.loads(resp.data)
    assert data["#meta"]["violation"] == "atomicity"
    assert [s["#meta"].get("action") for s in data["states"]] == \
        [None, "tm_commit", "rm_choose_to_abort", "rm_rcv_commit_msg"]
    assert data["#meta"]["chart"]["processes"] == ["TM", "RM 0", "RM 1", "RM 2"]
    short = client(Walk(EARLY)).get(f"/trace.itf.json?{query}&at=1")
    assert len(json.loads(short.data)["states"]) == 2


def test_loading_an_itf_file_starts_at_its_step_0(tmp_path) -> None:
    path = tmp_path / "cex.json"
    write_trace(early_trace(), path, violation="atomicity")
    c = client(Walk(EARLY))
    with path.open("rb") as f:
        resp = c.post("/load", data={"trace": (f, "cex.json")})
    assert resp.status_code == 302
    html = c.get(resp.headers["Location"]).data.decode()
    assert text_of(html, "step-number") == "Step 0"
    assert html.count('class="step future"') == 3


def test_loading_a_file_that_is_not_json_is_an_error_on_the_page() -> None:
    from io import BytesIO

    resp = client(Walk(EARLY)).post("/load", data={"trace": (BytesIO(b"{oops"), "x.json")})
    assert resp.status_code == 400 and "x.json is not a JSON file" in resp.data.decode()


def test_changed_variables_are_marked_with_their_old_values() -> None:
    html = client(Walk(EARLY)).get("/?s=0&s=rm_choose_to_abort(rm%3D0)").data.decode()
    row = re.search(r'<tr class="changed" data-var="rm_state">(.*?)</tr>', html, re.S).group(1)
    assert "(aborted, working, working)" in row and "rm_state[0]: working → aborted" in row
    assert '<tr class="same" data-var="msgs">' in html


def test_the_page_fetches_nothing_from_the_network() -> None:
    html = client(Walk(EARLY)).get("/").data.decode()
    links = re.findall(r'\s(?:src|href|action|xlink:href)="([^"]*)"', html)
    assert links and all(link.startswith(("/", "?", "data:")) for link in links)
    assert not re.search(r"https?://(?!localhost)", html)


# -- the command -------------------------------------------------------------------------------


def args_for(*argv: str):
    return build_parser().parse_args(["explore", *argv])


def test_trace_option_takes_the_traces_configuration(tmp_path) -> None:
    path = tmp_path / "cex.json"
    trace = check(EARLY(rms=2)).violations[0].trace
    write_trace(trace, path, violation="atomicity")
    app = prepare(args_for("--trace", str(path), "--no-browser"))
    resp = app.test_client().get("/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("&at=0")
    html = app.test_client().get(resp.headers["Location"]).data.decode()
    assert "variant tm_commits_early" in html and "rms=2" in html


def test_a_trace_that_does_not_fit_the_named_spec_exits_2(tmp_path, capsys) -> None:
    path = tmp_path / "cex.json"
    write_trace(early_trace(), path)
    # -p names the configuration (the correct spec), so the trace's own variant is not taken.
    assert main(["explore", "two_phase_commit", "-p", "rms=3", "--trace", str(path),
                 "--no-browser"]) == 2
    assert "step 1 of the trace is not a step of two_phase_commit" in capsys.readouterr().err
    assert main(["explore", "two_phase_commit", "--variant", "nope", "--no-browser"]) == 2
    assert "no variant 'nope'" in capsys.readouterr().err


def test_an_added_invariant_is_shown_with_its_value() -> None:
    app = prepare(args_for("two_phase_commit", "--variant", "tm_commits_early",
                           "--inv", "atomicity", "--inv", "few_msgs: len(msgs) <= 0"))
    html = app.test_client().get("/?s=0&s=tm_commit()").data.decode()
    assert 'class="violated" data-name="few_msgs"' in html
    assert 'class="holds" data-name="atomicity"' in html
    assert 'data-name="type_ok"' not in html  # --inv selects, as for check


def test_explain_inv_explains_and_serves_nothing(capsys) -> None:
    assert main(["explore", "two_phase_commit", "--explain-inv", "len(msgs) <= 3"]) == 0
    assert "Kind:       invariant" in capsys.readouterr().out


def test_a_bad_port_exits_2(capsys) -> None:
    assert main(["explore", "two_phase_commit", "--port", "70000", "--no-browser"]) == 2
    assert "--port must be between 0 and 65535" in capsys.readouterr().err


def test_a_port_in_use_exits_2_naming_it(capsys) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["explore", "two_phase_commit", "--port", str(port), "--no-browser"]) == 2
    assert f"cannot serve on 127.0.0.1:{port}" in capsys.readouterr().err


def test_the_server_prints_its_address_serves_and_stops_on_ctrl_c_with_exit_0() -> None:
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-m", "protospec", "explore", "two_phase_commit",
                             "-p", "rms=2", "--no-browser"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"at (http://127\.0\.0\.1:\d+/) ", line).group(1)
        page = urllib.request.urlopen(url, timeout=30).read().decode()
        assert "two_phase_commit" in page and format_value(2) in page
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    assert code == 0


def test_without_no_browser_the_address_is_opened_in_the_users_browser(tmp_path) -> None:
    import os
    import time

    opened = tmp_path / "opened.txt"
    # webbrowser runs $BROWSER with the address for %s: here, a script that writes it down.
    browser = (f"{sys.executable} -c \"import sys; open(sys.argv[2], 'w').write(sys.argv[1])\" "
               f"%s {opened}")
    proc = subprocess.Popen([sys.executable, "-m", "protospec", "explore", "two_phase_commit",
                             "-p", "rms=1"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "BROWSER": browser, "DISPLAY": ""})
    try:
        url = re.search(r"at (http://127\.0\.0\.1:\d+/) ", proc.stdout.readline()).group(1)
        deadline = time.monotonic() + 30
        while not (opened.exists() and opened.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert opened.read_text() == url
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
