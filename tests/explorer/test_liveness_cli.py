"""Liveness on the command line: lassos printed, saved (ITF ``#meta.loop``, ``--json``) and
drawn; ``--prop`` with the temporal operators; ``--no-liveness``; incomplete searches."""

from __future__ import annotations

import json
import textwrap

from protospec.explorer.cli.main import main
from protospec.explorer.itf import read_trace
from protospec.explorer.liveness.run import check
from protospec.explorer.loader import load_spec
from protospec.explorer.render.html import result_html
from protospec.explorer.render.sequence import sequence_dot

DECIDED = "forall r in RM: rm_state[r] in {'committed', 'aborted'}"


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def run_json(argv: list[str], capsys) -> tuple[int, dict]:
    code, out, err = run([*argv, "--json"], capsys)
    assert code in (0, 1, 3), err
    return code, json.loads(out)


def test_2pc_with_a_crashing_tm_blocks_and_the_lasso_says_so(capsys):
    code, out, _ = run(["check", "two_phase_commit", "--variant", "tm_may_crash"], capsys)
    assert code == 1
    assert "Liveness property every_rm_decides violated" in out
    assert "tm_crash()" in out
    assert "state 4 stays unchanged forever" in out


def test_a_cycle_is_printed_with_the_way_back_marked(capsys):
    code, out, _ = run(["check", "circuit_breaker", "--variant", "success_weakly_fair"], capsys)
    assert code == 1
    assert "-- the cycle starts here: state 4 --" in out
    assert "(back to state 4)" in out
    assert "steps 5..9 repeat forever" in out


def test_json_gives_the_loop_of_the_lasso(capsys):
    code, data = run_json(["check", "circuit_breaker", "--variant", "success_weakly_fair"],
                          capsys)
    assert code == 1
    (v,) = data["violations"]
    assert (v["property"], v["kind"], v["length"], v["loop"]) == ("recloses", "liveness", 9, 4)
    assert v["trace"]["#meta"]["loop"] == 4


def test_a_saved_lasso_reads_back_with_its_loop_and_shows_it(tmp_path, capsys):
    path = tmp_path / "lasso.itf.json"
    code, _, _ = run(["check", "circuit_breaker", "--variant", "success_weakly_fair",
                      "--trace-out", str(path)], capsys)
    assert code == 1
    trace, meta = read_trace(path)
    assert (meta["loop"], trace.loop, len(trace)) == (4, 4, 9)
    assert trace.steps[-1].state == trace.steps[4].state
    code, out, _ = run(["show", str(path)], capsys)
    assert code == 0
    assert "back to state 4" in out


def test_no_liveness_skips_the_check_and_logs_no_edge(capsys):
    code, data = run_json(["check", "two_phase_commit", "--variant", "tm_may_crash",
                           "--no-liveness"], capsys)
    assert code == 0
    assert "every_rm_decides" not in data["properties_checked"]
    assert data["stats"]["edges"] == 0


def test_liveness_is_not_claimed_after_an_incomplete_search(capsys):
    code, out, _ = run(["check", "two_phase_commit", "--max-depth", "3"], capsys)
    assert code == 3
    assert "not checked: the search was incomplete" in out


def test_prop_eventually_holds_on_2pc(capsys):
    code, data = run_json(["check", "two_phase_commit", "--prop",
                           f"decided: eventually({DECIDED})"], capsys)
    assert code == 0
    assert data["properties_checked"][-1:] == ["decided"]


def test_prop_eventually_fails_when_the_tm_may_crash(capsys):
    code, data = run_json(["check", "two_phase_commit", "--variant", "tm_may_crash", "--prop",
                           f"decided: eventually({DECIDED})"], capsys)
    assert code == 1
    assert [(v["property"], v["kind"]) for v in data["violations"]] == [("decided", "liveness")]


def test_prop_leads_to_both_ways(capsys):
    holds = "prepared_decides: leads_to(rm_state[0] == 'prepared', " \
            "rm_state[0] in {'committed', 'aborted'})"
    fails = "prepared_commits: leads_to(rm_state[0] == 'prepared', rm_state[0] == 'committed')"
    code, data = run_json(["check", "two_phase_commit", "--prop", holds, "--prop", fails],
                          capsys)
    assert code == 1
    (v,) = data["violations"]
    assert v["property"] == "prepared_commits"
    # Fairness forces RM 0 to decide: the lasso ends where it has aborted, for ever.
    assert v["trace"]["states"][-1]["rm_state"]["#tup"][0]["tag"] == "ABORTED"


def test_prop_always_eventually_fails_once_the_tm_has_decided(capsys):
    code, data = run_json(["check", "two_phase_commit", "--prop",
                           "tm_waits: always_eventually(tm_state == 'init')"], capsys)
    assert code == 1
    assert data["violations"][0]["property"] == "tm_waits"


def test_prop_sometimes_reports_a_vacuous_predicate(capsys):
    code, out, _ = run(["check", "two_phase_commit", "--prop",
                        "crowded: sometimes(len(msgs) > 10)"], capsys)
    assert code == 1
    assert "Reachability check crowded failed: no reachable state satisfies it" in out


def test_prop_selects_a_declared_property_by_name(capsys):
    code, data = run_json(["check", "two_phase_commit", "--prop", "every_rm_decides"], capsys)
    assert code == 0
    assert data["properties_checked"] == ["type_ok", "atomicity", "every_rm_decides"]


def test_a_temporal_operator_inside_an_invariant_is_refused(capsys):
    code, _, err = run(["check", "two_phase_commit", "--inv",
                        "bad: eventually(tm_state == 'done')"], capsys)
    assert code == 2
    assert "temporal operator" in err


def test_an_unknown_temporal_property_is_a_usage_error(capsys):
    code, _, err = run(["check", "two_phase_commit", "--prop", "every_rm_decide"], capsys)
    assert code == 2
    assert "every_rm_decides" in err  # did you mean


def test_the_config_file_takes_properties(tmp_path, capsys):
    path = tmp_path / "check.toml"
    path.write_text(textwrap.dedent(f"""
        spec = "two_phase_commit"
        variant = "tm_may_crash"
        properties = ["decided: eventually({DECIDED})"]
    """))
    code, data = run_json(["check", "--config", str(path)], capsys)
    assert code == 1
    assert data["violations"][0]["property"] == "decided"


def test_the_sequence_chart_and_html_report_show_the_cycle():
    spec = load_spec("circuit_breaker").with_variant("success_weakly_fair")()
    result = check(spec, until=frozenset({"recloses"}))
    (v,) = result.violations
    dot = sequence_dot(v.trace, violation=v.property, kind=v.kind, doc=v.doc)
    assert 'id="loop-back"' in dot and "back to state 4: repeat from step 5" in dot
    page = result_html(result, draw=False)
    assert page.count('<tr class="cycle">') == 5
    assert "back to state 4: steps 5..9 repeat forever" in page
