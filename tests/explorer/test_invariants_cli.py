"""The invariant language on the command line: --inv/--action-prop 'NAME: EXPR', --constraint,
--explain-inv, and --config FILE reproducing a command line exactly."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from protospec.explorer import check
from protospec.explorer.cli.main import main
from protospec.explorer.cli.properties import add_constraint
from protospec.explorer.loader import load_spec

ATOMICITY = 'split: not ("committed" in rm_state and "aborted" in rm_state)'
# Fields of the JSON result that measure the machine rather than the run.
TIMING = ("elapsed_s", "states_per_s", "peak_rss_bytes", "bytes_per_state")


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def run_json(argv: list[str], capsys) -> tuple[int, dict]:
    code, out, err = run([*argv, "--json"], capsys)
    assert code in (0, 1), err
    data = json.loads(out)
    for key in TIMING:
        data["stats"].pop(key)
    return code, data


def write(tmp_path: Path, text: str, name: str = "check.toml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


# -- --inv / --action-prop with expressions ----------------------------------------------------


def test_a_named_expression_is_checked_and_reported_under_its_name(capsys) -> None:
    code, data = run_json(["check", "two_phase_commit", "--variant", "tm_commits_early",
                           "--inv", ATOMICITY], capsys)
    assert code == 1
    assert data["properties_checked"] == ["split"]
    assert [(v["property"], v["kind"], v["length"]) for v in data["violations"]] == \
        [("split", "invariant", 3)]


def test_a_bare_expression_is_named_by_its_text(capsys) -> None:
    code, data = run_json(["check", "two_phase_commit", "--inv", "len(msgs)  <= 3"], capsys)
    assert code == 1
    assert data["violations"][0]["property"] == "len(msgs) <= 3"


def test_declared_names_and_expressions_mix(capsys) -> None:
    code, data = run_json(["check", "two_phase_commit", "--inv", "atomicity", "--inv",
                           "prepared_sent: forall r in tm_prepared: Prepared(r) in msgs"],
                          capsys)
    assert code == 0
    assert data["properties_checked"] == ["atomicity", "prepared_sent"]
    assert data["stats"]["distinct_states"] == 288


def test_an_action_property_expression_reports_the_step(capsys) -> None:
    code, out, _ = run(["check", "two_phase_commit", "--variant", "rm_aborts_after_prepare",
                        "--action-prop", "prepared_stays: forall r in RM: rm_state[r] == "
                        "prepared => rm_state'[r] in {prepared, committed}"], capsys)
    assert code == 1
    assert "Action property prepared_stays violated" in out
    assert "Shortest counterexample: 2 steps" in out


def test_an_unknown_declared_name_suggests_one_and_how_to_define_a_new_one(capsys) -> None:
    code, _, err = run(["check", "two_phase_commit", "--inv", "atomicty"], capsys)
    assert code == 2
    assert "has no invariant 'atomicty' (did you mean 'atomicity'?)" in err
    assert "--inv 'NAME: EXPRESSION'" in err


def test_a_syntax_error_exits_2_with_a_caret(capsys) -> None:
    code, _, err = run(["check", "two_phase_commit", "--inv", "x: rm_state[0] = working"], capsys)
    assert code == 2
    assert "protospec: error: invariant 'x': line 1, column 13: syntax error" in err
    assert "  rm_state[0] = working\n              ^" in err


def test_an_expression_that_raises_exits_2_with_the_trace_to_the_state(capsys) -> None:
    code, _, err = run(["check", "two_phase_commit", "--inv",
                        "x: tm_state == init or max(tm_prepared) >= 0"], capsys)
    assert code == 2
    assert "evaluating 'max(tm_prepared)'" in err and "ValueError" in err
    assert "reached in 1 step(s)" in err and "tm_abort()" in err


def test_a_primed_invariant_is_pointed_to_action_properties(capsys) -> None:
    code, _, err = run(["check", "two_phase_commit", "--inv", "x: msgs' == msgs"], capsys)
    assert code == 2 and "--action-prop" in err


# -- --constraint ------------------------------------------------------------------------------


def test_a_constraint_expression_bounds_the_search(capsys) -> None:
    _, full = run_json(["check", "two_phase_commit"], capsys)
    _, bounded = run_json(["check", "two_phase_commit", "--constraint", "len(msgs) <= 1"], capsys)
    assert bounded["stats"]["distinct_states"] < full["stats"]["distinct_states"]
    assert bounded["stats"]["outside_constraint"] > 0


def test_a_constraint_expression_is_conjoined_with_the_spec_own_constraint() -> None:
    raft = load_spec("raft")
    params = {"servers": 2, "max_term": 3, "max_msgs": 1}

    class Both(raft):  # the two constraints written by hand, for comparison
        def constraint(self, s):
            return super().constraint(s) and s.current_term[0] <= 2

    by_hand = check(Both(**params)).stats.distinct_states
    spec = raft(**params)
    add_constraint(spec, "current_term[0] <= 2")
    assert check(spec).stats.distinct_states == by_hand
    assert by_hand < check(raft(**params)).stats.distinct_states


# -- --explain-inv -----------------------------------------------------------------------------


def test_explain_prints_how_the_expression_is_read_and_checks_nothing(capsys) -> None:
    code, out, _ = run(["check", "two_phase_commit", "--explain-inv",
                        'forall r in RM: rm_state[r] == "committed" => commit in msgs'], capsys)
    assert code == 0
    assert ("Read as:    forall r in RM: (rm_state[r] == RMState.COMMITTED) => "
            "(Decision.COMMIT in msgs)") in out
    assert "commit       enum value Decision.COMMIT" in out
    assert "distinct states" not in out


def test_explain_of_a_declared_name_says_it_is_python(capsys) -> None:
    code, out, _ = run(["check", "two_phase_commit", "--explain-inv", "atomicity"], capsys)
    assert code == 0 and "atomicity: an invariant declared in the spec" in out


# -- --config ----------------------------------------------------------------------------------

CONFIG = f"""
    spec = "two_phase_commit"
    variant = "tm_commits_early"
    invariants = ["atomicity", '{ATOMICITY}']
    action_properties = ["decided: tm_state == done => unchanged(tm_state)"]
    constraint = "len(msgs) <= 4"
    deadlock = false
    max_depth = 10
    continue = true

    [params]
    rms = 2
"""

SAME_COMMAND_LINE = ["check", "two_phase_commit", "--variant", "tm_commits_early",
                     "-p", "rms=2", "--inv", "atomicity", "--inv", ATOMICITY,
                     "--action-prop", "decided: tm_state == done => unchanged(tm_state)",
                     "--constraint", "len(msgs) <= 4", "--no-deadlock", "--max-depth", "10",
                     "--continue"]


def test_a_config_file_reproduces_the_command_line_run_exactly(tmp_path, capsys) -> None:
    path = write(tmp_path, CONFIG)
    from_file = run_json(["check", "--config", path], capsys)
    from_argv = run_json(SAME_COMMAND_LINE, capsys)
    assert from_file == from_argv
    assert from_file[1]["properties_checked"] == ["atomicity", "split", "decided"]
    assert [v["property"] for v in from_file[1]["violations"]] == ["atomicity", "split"]


def test_invariants_may_be_a_table_of_name_and_expression(tmp_path, capsys) -> None:
    path = write(tmp_path, f"""
        spec = "two_phase_commit"
        variant = "tm_commits_early"
        [invariants]
        split = '{ATOMICITY.split(": ", 1)[1]}'
    """)
    _, data = run_json(["check", "--config", path], capsys)
    assert [(v["property"], v["length"]) for v in data["violations"]] == [("split", 3)]


def test_command_line_options_override_the_file(tmp_path, capsys) -> None:
    path = write(tmp_path, CONFIG)
    _, data = run_json(["check", "--config", path, "-p", "rms=3", "--inv", "atomicity",
                        "--max-depth", "20"], capsys)
    assert data["params"] == {"rms": 3}
    assert data["properties_checked"] == ["atomicity", "decided"]
    assert data["variant"] == "tm_commits_early"


def test_simulate_reads_runs_and_seed_from_the_file_and_ignores_check_keys(tmp_path,
                                                                            capsys) -> None:
    path = write(tmp_path, """
        spec = "two_phase_commit"
        max_depth = 3
        runs = 7
        seed = 11
    """)
    _, from_file = run_json(["simulate", "--config", path], capsys)
    _, from_argv = run_json(["simulate", "two_phase_commit", "--runs", "7", "--seed", "11"],
                            capsys)
    assert from_file == from_argv and from_file["runs"] == 7
    _, overridden = run_json(["simulate", "--config", path, "--runs", "2"], capsys)
    assert overridden["runs"] == 2


def test_a_spec_path_in_a_config_is_relative_to_the_file(tmp_path, capsys) -> None:
    (tmp_path / "tiny.py").write_text(textwrap.dedent('''
        """A counter."""
        from typing import NamedTuple
        from protospec.explorer import Spec, action

        class S(NamedTuple):
            n: int  # the count

        class Tiny(Spec):
            """Counts to two."""
            def init(self):
                yield S(0)

            @action
            def incr(self, s):
                return S(s.n + 1) if s.n < 2 else None
    '''))
    sub = tmp_path / "conf"
    sub.mkdir()
    path = write(sub, 'spec = "../tiny.py"\ninvariants = ["n <= 1"]\n')
    code, data = run_json(["check", "--config", path], capsys)
    assert code == 1 and data["violations"][0]["length"] == 2


@pytest.mark.parametrize(("text", "expected"), [
    ('spec = "two_phase_commit"\nmax_deph = 3\n',
     "unknown key 'max_deph' (did you mean 'max_depth'"),
    ('spec = "two_phase_commit"\nmax_depth = "3"\n', "max_depth must be an integer, not '3'"),
    ('spec = "two_phase_commit"\ninvariants = [1]\n',
     "every entry of invariants must be a string"),
    ('spec = "two_phase_commit\n', "not valid TOML"),
    ("max_depth = 3\n", "no spec: set spec = \"NAME\""),
    ('spec = "two_phase_commit"\n[params]\nrm = 2\n',
     "check.toml, [params]: spec 'two_phase_commit' has no parameter 'rm'"),
    ('spec = "two_phase_commit"\n[params]\nrms = "many"\n',
     "check.toml, [params]: parameter 'rms': expected an integer"),
])
def test_config_mistakes_exit_2_naming_the_file(tmp_path, capsys, text: str,
                                                expected: str) -> None:
    path = write(tmp_path, text)
    code, _, err = run(["check", "--config", path], capsys)
    assert code == 2
    assert expected in err


def test_an_expression_error_in_a_config_names_the_file(tmp_path, capsys) -> None:
    path = write(tmp_path, 'spec = "two_phase_commit"\ninvariants = ["x: rm_stat == 1"]\n')
    code, _, err = run(["check", "--config", path], capsys)
    assert code == 2
    assert f"{path}, invariants: invariant 'x': line 1, column 1: unknown name 'rm_stat'" in err


def test_a_missing_config_file_exits_2(tmp_path, capsys) -> None:
    code, _, err = run(["check", "--config", str(tmp_path / "nope.toml")], capsys)
    assert code == 2 and "does not exist" in err


def test_no_spec_and_no_config_exits_2(capsys) -> None:
    code, _, err = run(["check"], capsys)
    assert code == 2 and "name a SPEC" in err
