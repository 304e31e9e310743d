"""The protospec command: exit codes, JSON output, user spec files, and every error path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from protospec.explorer.cli.main import main

ROOT = Path(__file__).resolve().parents[2]

MY_SPEC = '''
"""A user's own spec, outside the specs package."""
from typing import NamedTuple
from protospec.explorer import Param, Spec, action, invariant

class S(NamedTuple):
    n: int

class Counter(Spec):
    """Counts up to a limit."""
    limit = Param(3, "how far to count")
    mistake = Param("none", "which mistake to make",
                    choices=("none", "raise", "unhashable", "invariant_raises"))

    def init(self):
        yield S(0)

    @action
    def incr(self, s):
        if s.n >= self.limit:
            return None
        if s.n == 1 and self.mistake == "raise":
            raise ZeroDivisionError("boom in incr")
        if s.n == 1 and self.mistake == "unhashable":
            return [s.n + 1]
        return S(s.n + 1)

    @invariant
    def below_three(self, s):
        """n stays below 3."""
        if self.mistake == "invariant_raises" and s.n == 2:
            raise KeyError("missing")
        return s.n < 3
'''


@pytest.fixture
def my_spec(tmp_path: Path) -> Path:
    path = tmp_path / "my_spec.py"
    path.write_text(MY_SPEC)
    return path


def run_cli(*argv: str) -> tuple[int, str, str]:
    """Run the real console entry point in a subprocess (exit code as the shell sees it)."""
    proc = subprocess.run([sys.executable, "-m", "protospec", *argv], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def test_a_correct_spec_exits_0(capsys):
    assert main(["check", "two_phase_commit", "-p", "rms=3"]) == 0
    out = capsys.readouterr().out
    assert "288 distinct states" in out
    assert "No violation" in out


def test_a_violation_exits_1_and_prints_the_numbered_counterexample(capsys):
    assert main(["check", "two_phase_commit", "--variant", "tm_commits_early"]) == 1
    out = capsys.readouterr().out
    assert "Invariant atomicity violated" in out
    assert "Shortest counterexample: 3 steps" in out
    assert "  1  tm_commit()" in out and "  3  rm_rcv_commit_msg(rm=1)" in out
    assert "^ state 3 violates atomicity" in out


def test_json_output_is_machine_readable(capsys):
    assert main(["check", "two_phase_commit", "--variant", "tm_commits_early", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    assert data["violations"][0]["property"] == "atomicity"
    assert data["violations"][0]["length"] == 3
    assert len(data["violations"][0]["trace"]["states"]) == 4
    assert data["coverage"]["tm_commit"]["fired"] >= 1
    assert data["stats"]["distinct_states"] > 0


def test_a_users_spec_file_outside_the_package_is_checked(my_spec, capsys):
    assert main(["check", str(my_spec)]) == 1
    out = capsys.readouterr().out
    assert "Invariant below_three violated" in out
    assert main(["check", str(my_spec), "-p", "limit=2"]) == 0


def test_the_real_command_exits_with_the_same_codes(my_spec):
    assert run_cli("check", str(my_spec), "-p", "limit=2")[0] == 0
    assert run_cli("check", str(my_spec))[0] == 1
    assert run_cli("check", str(my_spec), "-p", "limit=two")[0] == 2


def test_trace_out_saves_itf_and_show_prints_it(tmp_path, capsys):
    path = tmp_path / "cex.json"
    assert main(["check", "two_phase_commit", "--variant", "tm_commits_early",
                 "--trace-out", str(path)]) == 1
    assert json.loads(path.read_text())["#meta"]["format"] == "ITF"
    capsys.readouterr()
    assert main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "3 step(s)" in out and "rm_rcv_commit_msg(rm=1)" in out and "violates atomicity" in out


def test_an_existing_file_is_not_overwritten_without_force(tmp_path, capsys):
    path = tmp_path / "mine.json"
    path.write_text("precious")
    assert main(["check", "two_phase_commit", "--variant", "tm_commits_early",
                 "--trace-out", str(path)]) == 2
    assert path.read_text() == "precious"
    assert "already exists" in capsys.readouterr().err
    assert main(["check", "two_phase_commit", "--variant", "tm_commits_early",
                 "--trace-out", str(path), "--force"]) == 1
    assert path.read_text() != "precious"


def test_simulate_finds_a_bug_variant_and_is_reproducible_by_seed(capsys):
    args = ["simulate", "two_phase_commit", "--variant", "tm_commits_early", "--runs", "200",
            "--depth", "20", "--seed", "7", "--json"]
    assert main(args) == 1
    first = json.loads(capsys.readouterr().out)
    assert main(args) == 1
    second = json.loads(capsys.readouterr().out)
    assert first["violations"] == second["violations"]
    assert first["runs"] == second["runs"]


def test_simulate_of_a_correct_spec_exits_0(capsys):
    assert main(["simulate", "two_phase_commit", "--runs", "20", "--depth", "30"]) == 0
    assert "20 run(s)" in capsys.readouterr().out


def test_list_names_the_built_in_specs_with_their_variants(capsys):
    assert main(["list", "--json"]) == 0  # every built-in spec loads
    data = json.loads(capsys.readouterr().out)
    tpc = next(s for s in data["specs"] if s["name"] == "two_phase_commit")
    assert tpc["parameters"]["rms"]["default"] == 3
    assert "tm_commits_early" in tpc["variants"]
    assert "atomicity" in tpc["invariants"]


# -- error paths: a clear paragraph, exit 2, no traceback unless --debug ---------------------


def assert_clean_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"


def test_an_action_that_raises_is_reported_with_spec_action_step_and_cause(my_spec):
    code, _, err = run_cli("check", str(my_spec), "-p", "mistake=raise")
    assert_clean_error(code, err, "spec 'my_spec'", "action incr()", "ZeroDivisionError",
                       "boom in incr", "depth 1", "reached in 1 step(s)")


def test_debug_shows_the_traceback(my_spec):
    code, _, err = run_cli("--debug", "check", str(my_spec), "-p", "mistake=raise")
    assert code == 2
    assert "Traceback" in err and "ZeroDivisionError" in err


def test_an_unhashable_state_is_reported_naming_the_action(my_spec):
    code, _, err = run_cli("check", str(my_spec), "-p", "mistake=unhashable")
    assert_clean_error(code, err, "action incr()", "cannot be fingerprinted", "state is a list",
                       "use a tuple")


def test_an_invariant_that_raises_is_reported_with_the_state(my_spec):
    code, _, err = run_cli("check", str(my_spec), "-p", "mistake=invariant_raises")
    assert_clean_error(code, err, "invariant 'below_three' raised KeyError", "n = 2")


def test_an_unknown_parameter_is_reported_with_the_known_ones(my_spec):
    code, _, err = run_cli("check", str(my_spec), "-p", "limt=2")
    assert_clean_error(code, err, "spec 'my_spec' has no parameter 'limt'",
                       "its parameters: limit, mistake")


def test_a_bad_parameter_value_is_reported(my_spec):
    code, _, err = run_cli("check", str(my_spec), "-p", "limit=lots")
    assert_clean_error(code, err, "parameter 'limit'", "expected an integer", "'lots'")
    code, _, err = run_cli("check", str(my_spec), "-p", "mistake=other")
    assert_clean_error(code, err, "'other' is not one of")
    code, _, err = run_cli("check", str(my_spec), "-p", "limit")
    assert_clean_error(code, err, "expected NAME=VALUE")


def test_an_unknown_spec_suggests_close_names():
    code, _, err = run_cli("check", "two_phase_comit")
    assert_clean_error(code, err, "no spec named 'two_phase_comit'", "two_phase_commit")


def test_a_spec_file_with_a_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "typo.py"
    path.write_text("from explorer import Spec\nclass X(Spec)\n    pass\n")
    code, _, err = run_cli("check", str(path))
    assert_clean_error(code, err, "typo.py", "line 2", "syntax error")


def test_a_file_without_a_spec_is_reported(tmp_path):
    path = tmp_path / "empty.py"
    path.write_text("x = 1\n")
    assert_clean_error(*run_cli("check", str(path))[::2], "defines no Spec subclass")


def test_an_unknown_variant_lists_the_variants():
    code, _, err = run_cli("check", "two_phase_commit", "--variant", "oops")
    assert_clean_error(code, err, "no variant 'oops'", "tm_commits_early")


def test_a_corrupt_trace_file_is_reported(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    code, _, err = run_cli("show", str(path))
    assert_clean_error(code, err, "broken.json", "not valid JSON", "line 1")


def test_a_usage_error_from_argparse_exits_2():
    code, _, err = run_cli("check")
    assert code == 2 and "SPEC" in err


# -- determinism --------------------------------------------------------------------------


def check_json(seed: str, *argv: str) -> dict:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    proc = subprocess.run([sys.executable, "-m", "protospec", "check", *argv, "--json"],
                          cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    return json.loads(proc.stdout)


@pytest.mark.parametrize("variant", [None, "tm_commits_early", "rm_aborts_after_prepare"])
def test_results_do_not_depend_on_pythonhashseed(variant):
    argv = ["two_phase_commit", "-p", "rms=4"] + (["--variant", variant] if variant else [])
    a, b = check_json("1", *argv), check_json("12345", *argv)
    for key in ("distinct_states", "states_generated", "depth"):
        assert a["stats"][key] == b["stats"][key]
    assert a["ok"] == b["ok"]
    assert [(v["property"], v["length"]) for v in a["violations"]] == \
        [(v["property"], v["length"]) for v in b["violations"]]
    assert a["coverage"] == b["coverage"]


def test_a_swarm_simulation_is_reproducible_and_finds_a_variant(capsys):
    args = ["simulate", "two_phase_commit", "--variant", "tm_commits_early", "--swarm",
            "--runs", "300", "--depth", "20", "--seed", "3", "--json"]
    assert main(args) == 1
    first = json.loads(capsys.readouterr().out)
    assert main(args) == 1
    assert json.loads(capsys.readouterr().out)["violations"] == first["violations"]


def test_swarm_runs_each_use_a_subset_of_the_actions():
    from protospec.explorer.simulate import simulate
    from protospec.specs.two_phase_commit import TwoPhaseCommit

    used_per_run = []
    for seed in range(8):
        result = simulate(TwoPhaseCommit(rms=3), runs=1, depth=50, seed=seed, swarm=True)
        used_per_run.append(frozenset(n for n, c in result.coverage.items() if c.fired))
    every_action = {a.name for a in TwoPhaseCommit.actions()}
    assert all(used < every_action for used in used_per_run)
    assert len(set(used_per_run)) > 3  # different runs leave out different actions
