"""A search on several workers (processes or Ray actors) owes the user the one-process result:
the same distinct states, states generated, depth, verdict and counterexample length."""

from __future__ import annotations

import json
import os
import pickle
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protospec import sometimes
from protospec.explorer.bfs import SearchControl, check
from protospec.explorer.errors import SpecError
from protospec.explorer.liveness.run import check as check_with_sometimes
from protospec.explorer.loader import load_spec
from protospec.explorer.parallel import check_parallel
from protospec.explorer.parallel_ray import ray_available

from .toy_specs import Bounded, Branching, Broken, Graph, Grid

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "protospec"]


def build(name: str, variant: str | None = None, **params):
    return load_spec(name).with_variant(variant)(**params)


def essentials(result) -> dict:
    s = result.stats
    return {"distinct": s.distinct_states, "generated": s.states_generated, "depth": s.depth,
            "complete": s.complete, "fired": {k: c.fired for k, c in result.coverage.items()},
            "violations": [(v.property, v.kind, len(v.trace)) for v in result.violations]}


CASES = [
    ("two_phase_commit", None, {"rms": 5}),  # 8,832 states (TLC's count for TwoPhase.tla)
    ("two_phase_commit", None, {"rms": 6}),  # 50,816
    ("paxos", None, {}),
    ("raft", None, {"max_term": 2, "max_log_length": 1}),
    ("two_phase_commit", "tm_commits_early", {"rms": 4}),  # a violation: shortest trace
]


@pytest.mark.parametrize(("name", "variant", "params"), CASES,
                         ids=[f"{n}-{v or 'base'}-{p}" for n, v, p in CASES])
def test_two_worker_processes_find_what_one_process_finds(name, variant, params):
    one = check(build(name, variant, **params))
    two = check_parallel(build(name, variant, **params), workers=2, probe_states=0)
    assert essentials(two) == essentials(one)


TOY_CASES = [  # the engine's corners: many-actions, action properties, constraints, deadlock
    (Grid, {"bound": 40}),
    (Grid, {"bound": 40, "target_x": 37}),  # an invariant violated deep in the space
    (Branching, {"limit": 300}),
    (Branching, {"limit": 30, "allow_decrease": True}),  # an action property violated
    (Bounded, {"cap": 500}),  # the state constraint cuts an infinite space
    (Graph, {"deadlock": True, "bad": "none"}),  # a deadlock at node f
]


@pytest.mark.parametrize("probe", [0, 100], ids=["from-the-start", "after-a-probe"])
@pytest.mark.parametrize(("cls", "params"), TOY_CASES,
                         ids=[f"{c.name}-{p}" for c, p in TOY_CASES])
def test_workers_match_one_process_on_the_engines_corner_cases(cls, params, probe):
    # probe=100: the search starts in this process and the workers take over its checkpoint.
    one = check(cls(**params))
    two = check_parallel(cls(**params), workers=2, probe_states=probe)
    assert verdict(two) == verdict(one)
    if one.stats.complete:  # a search stopped by a violation counts what it had reached
        assert essentials(two) == essentials(one)
        assert two.stats.outside_constraint == one.stats.outside_constraint


def verdict(result) -> dict:
    """What a stopped search owes: the properties violated, the shortest counterexamples'
    lengths, the depth reached."""
    return {"violations": [(v.property, v.kind, len(v.trace)) for v in result.violations],
            "depth": result.stats.depth, "complete": result.stats.complete}


@settings(max_examples=15, deadline=None)
@given(edges=st.lists(st.tuples(st.sampled_from("abcdefgh"), st.sampled_from("abcdefgh")),
                      max_size=25, unique=True),
       bad=st.sampled_from("abcdefghz"), deadlock=st.booleans())
def test_workers_match_one_process_on_random_graphs(edges, bad, deadlock):
    params = {"edges": tuple(edges), "bad": bad, "deadlock": deadlock}
    one = check(Graph(**params))
    two = check_parallel(Graph(**params), workers=2, probe_states=0)
    assert verdict(two) == verdict(one)
    if one.stats.complete:
        assert essentials(two) == essentials(one)


def test_the_partitioned_design_used_on_ray_matches_one_process_too():
    for name, variant, params in (CASES[1], CASES[4]):
        one = check(build(name, variant, **params))
        two = check_parallel(build(name, variant, **params), workers=2, probe_states=0,
                             design="partitioned")
        assert two.parallel["transport"] == "processes"
        assert essentials(two) == essentials(one)


def test_a_spec_error_in_a_worker_is_reported_with_the_trace_to_it():
    with pytest.raises(SpecError) as one:
        check(Broken(mistake="raise"))
    with pytest.raises(SpecError) as two:
        check_parallel(Broken(mistake="raise"), workers=2, probe_states=0)
    assert str(two.value) == str(one.value)
    assert len(two.value.trace) == len(one.value.trace)


def test_a_spec_error_in_a_wide_level_is_reported_with_its_trace():
    # An invariant that fails (raises) at depth 10 of 2PC rms=6, in levels of thousands of
    # states: the other worker is still busy, and the trace crosses workers' parts.
    from protospec import invariant

    base = load_spec("two_phase_commit")

    class RaisesDeep(base):
        @invariant
        def raises_deep(self, s) -> bool:
            """Raises once five RMs are prepared at the TM (a bug in the spec)."""
            if len(s.tm_prepared) == 5:
                raise ZeroDivisionError("the spec's own bug")
            return True

    with pytest.raises(SpecError) as one:
        check(RaisesDeep(rms=6))
    for _ in range(3):
        with pytest.raises(SpecError) as two:
            check_parallel(RaisesDeep(rms=6), workers=2, probe_states=0)
        assert "ZeroDivisionError" in str(two.value)
        assert len(two.value.trace) == len(one.value.trace)


@pytest.mark.slow
def test_a_checkpoint_taken_in_the_middle_of_a_level_resumes_to_the_uninterrupted_result(
        tmp_path):
    # Checkpoints every 20 ms pause the workers between batches, in the middle of levels;
    # copies of some taken mid-level are each resumed to the end.
    folder = tmp_path / "run"
    folder.mkdir()
    copies: list[Path] = []

    def keep_mid_level_checkpoints(_progress) -> None:
        ck = folder / "checkpoint"
        if len(copies) < 2 and (ck / "driver.pkl").exists():
            with open(ck / "driver.pkl", "rb") as f:
                if pickle.load(f)["cur"]["new"] > 0:  # the level was half done
                    copies.append(tmp_path / f"copy-{len(copies)}")
                    shutil.copytree(ck, copies[-1])

    spec = build("two_phase_commit", rms=6)
    whole = check_parallel(spec, workers=2, probe_states=0, progress=keep_mid_level_checkpoints,
                           control=SearchControl(folder=folder, checkpoint_every_s=0.02))
    assert whole.stats.distinct_states == 50816  # TLC's count
    assert copies, "no checkpoint was taken in the middle of a level"
    for copy in copies:
        resumed = check_parallel(build("two_phase_commit", rms=6), workers=2, resume=copy)
        assert essentials(resumed) == essentials(whole)


@pytest.mark.slow
def test_a_run_on_workers_stopped_by_its_time_limit_resumes_with_the_printed_command(tmp_path):
    args = ["check", "two_phase_commit", "-p", "rms=7", "--workers", "2", "--json",
            "--no-liveness"]
    # Half a second: about a third of the 296,448 states on a fast 2-core machine (the whole
    # search takes 2 s there), so the limit stops it wherever it runs.
    first = subprocess.run([*CLI, *args, "--time-limit", "0.5s", "--run-dir",
                            str(tmp_path / "run")], cwd=ROOT, capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 3, first.stderr
    data = json.loads(first.stdout)
    assert data["incomplete_reason"] == "stopped by the time limit"
    assert data["stats"]["distinct_states"] < 296_448
    command = shlex.split(data["resume"]["command"])
    assert command[command.index("--workers") + 1] == "2"
    i = command.index("--time-limit")  # the rest of the run needs more than the limit
    resumed = subprocess.run(command[:i] + command[i + 2:], cwd=ROOT, capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    data = json.loads(resumed.stdout)
    assert "can_commit" in data["properties_checked"]  # 2PC's sometimes property, judged
    stats = data["stats"]
    one = check(build("two_phase_commit", rms=7))
    assert (stats["distinct_states"], stats["states_generated"], stats["depth"]) == (
        296_448, one.stats.states_generated, one.stats.depth)  # TLC's count


def stop_at_once(tmp_path: Path, name: str, *options: str) -> Path:
    """A run of 2PC rms=6 stopped by a time limit of 0: the checkpoint it leaves."""
    run = tmp_path / name
    proc = subprocess.run([*CLI, "check", "two_phase_commit", "-p", "rms=6", "--no-liveness",
                           *options, "--time-limit", "0", "--run-dir", str(run)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3, proc.stderr
    assert "Resume with:" in proc.stdout
    return run


def resume(run: Path, *options: str) -> dict:
    proc = subprocess.run([*CLI, "check", "two_phase_commit", "-p", "rms=6", "--no-liveness",
                           *options, "--resume", str(run), "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["complete"] is True
    return data["stats"]


@pytest.mark.slow
def test_a_checkpoint_of_two_workers_resumes_on_three_workers_or_on_one(tmp_path):
    # Another worker count re-deals the checkpoint: worker 0 takes the stored states.
    whole = check(build("two_phase_commit", rms=6)).stats
    for k, options in enumerate((["--workers", "3"], [])):
        run = stop_at_once(tmp_path, f"run-{k}", "--workers", "2")
        assert (run / "checkpoint" / "worker-1").is_dir()  # one part per worker
        stats = resume(run, *options)
        assert (stats["distinct_states"], stats["states_generated"], stats["depth"]) == (
            50816, whole.states_generated, whole.depth)  # TLC's count


@pytest.mark.slow
def test_a_one_process_checkpoint_resumes_on_workers(tmp_path):
    run = stop_at_once(tmp_path, "run")
    assert not (run / "checkpoint" / "worker-0").exists()  # bfs's own format
    stats = resume(run, "--workers", "2")
    whole = check(build("two_phase_commit", rms=6)).stats
    assert (stats["distinct_states"], stats["states_generated"], stats["depth"]) == (
        50816, whole.states_generated, whole.depth)


def test_three_workers_also_match_and_the_trace_replays_to_a_violating_state():
    spec = build("two_phase_commit", "tm_commits_early", rms=4)
    one = check(spec)
    three = check_parallel(build("two_phase_commit", "tm_commits_early", rms=4), workers=3,
                           probe_states=0)
    assert essentials(three) == essentials(one)
    (v,) = three.violations
    last = v.trace.steps[-1].state
    assert not dict(spec.invariant_fns)[v.property](last)


def test_a_space_larger_than_the_probe_goes_to_the_workers_with_the_same_result():
    one = check(build("two_phase_commit", rms=5))
    two = check_parallel(build("two_phase_commit", rms=5), workers=2, probe_states=1000)
    assert getattr(two, "parallel", {}).get("workers") == 2  # searched by the workers
    assert essentials(two) == essentials(one)


def test_a_small_space_is_answered_in_process_without_starting_workers():
    small = check_parallel(build("two_phase_commit", rms=4), workers=2)
    assert not hasattr(small, "parallel")
    assert small.stats.distinct_states == 1568  # TLC's count for TwoPhase with 4 RMs


def test_the_cli_runs_workers_and_reports_the_one_process_counts():
    runs = {}
    for w in ("1", "2"):
        proc = subprocess.run([*CLI, "check", "two_phase_commit", "-p", "rms=6", "--json",
                               "--no-liveness",
                               "--workers", w], cwd=ROOT, capture_output=True, text=True,
                              timeout=300)
        data = json.loads(proc.stdout)
        runs[w] = data["stats"]
        # 2PC's sometimes property (can_commit) is judged on workers too.
        assert proc.returncode == 0, proc.stderr
        assert "can_commit" in data["properties_checked"]
        assert runs[w]["liveness_unchecked"] is None
    # 50,816 states (TLC's count): beyond the in-process probe, so the workers search it.
    assert runs["2"]["distinct_states"] == runs["1"]["distinct_states"] == 50816
    assert runs["2"]["depth"] == runs["1"]["depth"]


def test_liveness_is_reported_unchecked_on_workers_not_silently_passed():
    proc = subprocess.run([*CLI, "check", "two_phase_commit", "-p", "rms=3", "--workers", "2"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert "safety properties only" in proc.stdout


def test_workers_must_be_a_positive_number_or_auto():
    proc = subprocess.run([*CLI, "check", "two_phase_commit", "--workers", "0"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "--workers" in proc.stderr


def test_sigint_stops_the_workers_writes_a_checkpoint_and_prints_the_resume_command(
        tmp_path):
    proc = subprocess.Popen([*CLI, "check", "two_phase_commit", "-p", "rms=8", "--workers",
                             "2", "--no-liveness", "--progress-every", "0.1", "--run-dir",
                             str(tmp_path / "run")], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert proc.stderr is not None
    for line in proc.stderr:  # past the in-process probe (20,000 states): workers run
        m = re.search(r"([\d,]+) distinct states", line)
        if m and int(m.group(1).replace(",", "")) > 30_000:
            break
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 10.0
    assert proc.returncode == 3
    assert "Incomplete (interrupted)" in out
    assert "distinct states" in out
    assert (tmp_path / "run" / "checkpoint" / "worker-1" / "states.pkl").is_file()
    resume = out.split("Resume with:")[1].strip()
    assert "--workers 2" in resume
    assert f"--resume {tmp_path / 'run'}" in resume
    # No worker is left behind: the session holds no process of this run any more.
    leftover = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True)
    assert leftover.stdout.strip() == ""


@pytest.fixture(scope="module")
def ray_or_skip():
    if not ray_available():
        if os.environ.get("CI"):
            pytest.fail("ray is not importable in CI: the test extra must install it")
        pytest.skip("ray is not installed (pip install 'protospec[ray]')")


@pytest.mark.slow
def test_a_local_ray_with_two_actors_finds_what_one_process_finds(ray_or_skip):
    from protospec.explorer.parallel_ray import check_ray

    for name, variant, params in (CASES[0], CASES[4]):
        one = check(build(name, variant, **params))
        on_ray = check_ray(build(name, variant, **params), address="auto", workers=2)
        assert on_ray.parallel["transport"] == "ray"
        assert on_ray.parallel["workers"] == 2
        assert essentials(on_ray) == essentials(one)


def sim_essentials(result) -> dict:
    return {"runs": result.runs, "distinct": result.stats.distinct_states,
            "generated": result.stats.states_generated, "depth": result.stats.depth,
            "fired": {k: c.fired for k, c in result.coverage.items()},
            "violations": [(v.property, [(s.action, s.args) for s in v.trace.steps])
                           for v in result.violations]}


@pytest.mark.parametrize(("variant", "params"), [(None, {"rms": 4}),
                                                 ("tm_commits_early", {"rms": 4})])
def test_simulation_on_workers_depends_on_the_seed_not_on_the_number_of_workers(variant,
                                                                                params):
    from protospec.explorer.parallel_simulate import simulate_parallel

    def sim(workers: int, seed: int):
        return sim_essentials(simulate_parallel(build("two_phase_commit", variant, **params),
                                                workers=workers, runs=40, depth=30,
                                                seed=seed))

    one = sim(1, 7)
    assert sim(2, 7) == one
    assert sim(3, 7) == one
    assert sim(2, 8) != one  # the seed does matter


# -- the shared fingerprint table ----------------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(batches=st.lists(st.lists(st.integers(min_value=1, max_value=40), max_size=60),
                        max_size=5))
def test_the_shared_table_wins_each_fingerprint_once_like_a_set(batches):
    import numpy as np

    from protospec.explorer.fingerprint import table_insert

    table = np.zeros(256, dtype=np.uint64)
    seen: set[int] = set()
    for batch in batches:
        keys = np.array(batch, dtype=np.int64)
        won = np.zeros(len(keys), dtype=np.uint8)
        added = table_insert(table, keys, won)
        expected = []
        for k in batch:
            expected.append(k not in seen)
            seen.add(k)
        assert won.astype(bool).tolist() == expected
        assert added == sum(expected)
    assert sorted(table[table != 0].tolist()) == sorted(seen)


def test_two_processes_inserting_the_same_fingerprints_win_each_exactly_once(tmp_path):
    # The compare-and-swap is what makes ownership unique: two forked processes insert the
    # same 200,000 fingerprints (in opposite orders) into one shared table at the same time.
    import multiprocessing as mp

    import numpy as np

    from protospec.explorer.parallel_worker import SharedTable

    table = SharedTable(str(tmp_path / "seen"), 1 << 19, create=True)
    keys = np.arange(1, 200_001, dtype=np.int64) * 0x9E3779B1

    ctx = mp.get_context("fork")
    start = ctx.Barrier(2)

    def insert(order: int, out: str) -> None:
        mine = SharedTable(str(tmp_path / "seen"), 1 << 19)
        ks = keys if order == 0 else keys[::-1].copy()
        won = np.zeros(len(ks), dtype=np.uint8)
        start.wait()  # both insert at the same time (where the scheduler lets them)
        mine.insert(ks, won)
        np.save(out, ks[won.astype(bool)])

    procs = [ctx.Process(target=insert, args=(i, str(tmp_path / f"won-{i}.npy")))
             for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    won = [np.load(tmp_path / f"won-{i}.npy") for i in range(2)]
    assert len(won[0]) + len(won[1]) == len(keys)  # every key won once...
    assert len(np.intersect1d(won[0], won[1])) == 0  # ...by one process only
    table.close()


class GridCorners(Grid):
    """The grid with one corner that is reached and one value that never is."""

    @sometimes
    def far_corner(self, s) -> bool:
        return s.x == self.bound and s.y == self.bound

    @sometimes
    def x_beyond_bound(self, s) -> bool:
        return s.x > self.bound


def sometimes_verdict(result) -> list[tuple[str, str]]:
    return sorted((v.property, v.kind) for v in result.violations)


@pytest.mark.parametrize("probe", [0, 500])
def test_workers_judge_sometimes_properties_as_one_process_does(probe):
    one = check_with_sometimes(GridCorners(bound=80), liveness=False)
    two = check_parallel(GridCorners(bound=80), workers=2, probe_states=probe)
    assert sometimes_verdict(one) == [("x_beyond_bound", "sometimes")]
    assert sometimes_verdict(two) == sometimes_verdict(one)
    assert {"far_corner", "x_beyond_bound"} <= set(two.properties_checked)


class TwoPhaseWithEarlyWitness(load_spec("two_phase_commit")):
    @sometimes
    def tm_decided(self, s) -> bool:
        return s.tm_state != 0  # the TM may abort in the first step


def test_a_witness_found_before_a_checkpoint_still_counts_after_resume(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    copies: list[Path] = []

    def keep_a_late_checkpoint(_progress) -> None:
        ck = folder / "checkpoint"
        if not copies and (ck / "driver.pkl").exists():
            with open(ck / "driver.pkl", "rb") as f:
                if pickle.load(f)["depth"] >= 3:  # well past the TM's first decision
                    copies.append(tmp_path / "copy")
                    shutil.copytree(ck, copies[-1])

    whole = check_parallel(TwoPhaseWithEarlyWitness(rms=6), workers=2, probe_states=0,
                           progress=keep_a_late_checkpoint,
                           control=SearchControl(folder=folder, checkpoint_every_s=0.01))
    assert whole.violations == []
    assert copies, "no checkpoint was taken past depth 3"
    resumed = check_parallel(TwoPhaseWithEarlyWitness(rms=6), workers=2, resume=copies[0])
    assert resumed.violations == []  # tm_decided was witnessed before the checkpoint
    assert essentials(resumed) == essentials(whole)
