"""Runs that stop early say so and exit 3; an interrupted run resumes to exactly the result of an
uninterrupted one; a run short of memory spills to disk and finds the same states; a run whose
stderr is not a terminal shows that it is alive."""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "protospec"]


def run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def essentials(data: dict) -> dict:
    """What must not depend on whether the run was interrupted: counts, depth, coverage,
    verdict."""
    s = data["stats"]
    return {"ok": data["ok"], "complete": data["complete"],
            "distinct": s["distinct_states"], "generated": s["states_generated"],
            "depth": s["depth"], "coverage": data["coverage"],
            "violations": [(v["property"], v["length"]) for v in data["violations"]]}


@pytest.mark.slow
def test_a_run_interrupted_half_way_with_sigint_resumes_to_the_uninterrupted_result(tmp_path):
    # TwoPhase with 7 RMs: 296,448 distinct states (TLC's count for TwoPhase.tla).
    args = ["check", "two_phase_commit", "-p", "rms=7", "--json"]
    proc = subprocess.Popen([*CLI, *args, "--run-dir", str(tmp_path / "run"),
                             "--progress-every", "0.2"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:  # wait until about half the states are found
        m = re.search(r"([\d,]+) distinct states", line)
        if m and int(m.group(1).replace(",", "")) >= 120_000:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    first = json.loads(out)
    assert first["complete"] is False
    assert first["incomplete_reason"] == "interrupted"
    assert 120_000 <= first["stats"]["distinct_states"] < 296_448
    command = first["resume"]["command"]
    assert "--resume" in command
    # The printed command, run as printed, finishes the search.
    resumed = subprocess.run(shlex.split(command), cwd=ROOT, capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    whole = run_cli(*args)
    assert whole.returncode == 0, whole.stderr
    assert essentials(json.loads(resumed.stdout)) == essentials(json.loads(whole.stdout))
    assert json.loads(whole.stdout)["stats"]["distinct_states"] == 296_448


def test_sigint_stops_within_a_second_and_prints_the_summary_and_the_resume_command(tmp_path):
    proc = subprocess.Popen([*CLI, "check", "two_phase_commit", "-p", "rms=7",
                             "--run-dir", str(tmp_path / "run"), "--progress-every", "0.1"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    proc.stderr.readline()  # the first progress line: the search is running
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    # The search stops at the next state it expands; the checkpoint and summary follow.
    assert time.monotonic() - sent < 5.0
    assert proc.returncode == 3
    assert "Incomplete (interrupted)" in out
    assert "distinct states" in out and "queue" in out
    assert f"--resume {tmp_path / 'run'}" in out
    assert (tmp_path / "run" / "checkpoint" / "meta.json").is_file()


def test_resuming_with_other_parameters_is_refused(tmp_path):
    run = tmp_path / "run"
    first = run_cli("check", "two_phase_commit", "-p", "rms=5", "--run-dir", str(run),
                    "--time-limit", "0")
    assert first.returncode == 3, first.stderr
    assert (run / "checkpoint").is_dir()
    other = run_cli("check", "two_phase_commit", "-p", "rms=4", "--resume", str(run))
    assert other.returncode == 2
    assert "different configuration" in other.stderr


def test_a_time_limit_stops_with_a_checkpoint_that_resumes_to_the_full_count(tmp_path):
    run = tmp_path / "run"
    first = run_cli("check", "two_phase_commit", "-p", "rms=5", "--run-dir", str(run),
                    "--time-limit", "0", "--json")
    assert first.returncode == 3
    data = json.loads(first.stdout)
    assert data["incomplete_reason"] == "stopped by the time limit"
    again = run_cli("check", "two_phase_commit", "-p", "rms=5", "--resume", str(run), "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["stats"]["distinct_states"] == 8832


def test_a_small_memory_budget_spills_to_disk_and_finds_the_same_states(tmp_path):
    small = run_cli("check", "two_phase_commit", "-p", "rms=5", "--memory", "16K",
                    "--run-dir", str(tmp_path / "run"), "--json")
    assert small.returncode == 0, small.stderr
    data = json.loads(small.stdout)
    assert data["stats"]["spilled"] is True
    whole = run_cli("check", "two_phase_commit", "-p", "rms=5", "--json")
    assert essentials(data) == essentials(json.loads(whole.stdout))
    assert data["stats"]["distinct_states"] == 8832


def test_max_states_exits_3_and_says_the_search_is_incomplete():
    text = run_cli("check", "two_phase_commit", "-p", "rms=5", "--max-states", "500")
    assert text.returncode == 3
    assert "Incomplete (stopped by --max-states)" in text.stdout
    js = run_cli("check", "two_phase_commit", "-p", "rms=5", "--max-states", "500", "--json")
    assert js.returncode == 3
    data = json.loads(js.stdout)
    assert data["complete"] is False
    assert data["incomplete_reason"] == "stopped by --max-states"


def test_max_depth_exits_3():
    out = run_cli("check", "two_phase_commit", "-p", "rms=3", "--max-depth", "2")
    assert out.returncode == 3
    assert "stopped by --max-depth" in out.stdout


def test_a_complete_run_still_exits_0():
    assert run_cli("check", "two_phase_commit", "-p", "rms=3").returncode == 0


def test_progress_lines_appear_when_stderr_is_not_a_terminal():
    out = run_cli("check", "two_phase_commit", "-p", "rms=5", "--progress-every", "0.01")
    assert out.returncode == 0
    lines = [ln for ln in out.stderr.splitlines() if "distinct states" in ln]
    assert lines, out.stderr
    assert re.search(r"states/s, memory [\d,]+ MiB", lines[0])
    assert "queued" in lines[0] and "depth" in lines[0]


def test_no_progress_silences_them():
    out = run_cli("check", "two_phase_commit", "-p", "rms=5", "--progress-every", "0.01",
                  "--no-progress")
    assert out.returncode == 0
    assert "distinct states" not in out.stderr


def test_checkpoints_are_written_periodically_and_sigterm_stops_like_sigint(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([*CLI, "check", "two_phase_commit", "-p", "rms=7", "--run-dir",
                             str(run), "--checkpoint-every", "0.005", "--no-progress"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run / "checkpoint" / "meta.json").exists():  # written while the run goes on
        assert proc.poll() is None, "the run ended before any periodic checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 3
    assert "Incomplete (interrupted)" in out and "--resume" in out
