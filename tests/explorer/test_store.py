"""The state store: ids, parents and the edge log, checked against dumb references; state counts
that do not depend on the hash seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import deque
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from protospec.explorer.bfs import explore
from protospec.explorer.spec import ActionInstance
from protospec.explorer.store import StateStore
from tests.explorer.toy_specs import Grid

ROOT = Path(__file__).resolve().parents[2]

batches = st.lists(st.lists(st.integers(-50, 50).map(lambda x: x * 0x9E3779B97F4A7C15 % 2**63),
                            max_size=40), max_size=12)


def _reference_ids(all_batches):
    ids: dict[int, int] = {}
    out = []
    for batch in all_batches:
        got = []
        for fp in batch:
            got.append(ids.setdefault(fp, len(ids)))
        out.append(got)
    return out


@settings(max_examples=150, deadline=None)
@given(batches)
def test_ids_are_dense_and_given_in_order_of_first_appearance_like_a_dict(all_batches):
    store = StateStore(capacity=16)  # small: the index grows several times
    expected = _reference_ids(all_batches)
    for batch, want in zip(all_batches, expected):
        fps = np.array(batch, dtype=np.int64)
        ids, _new = store.add_new(fps, np.full(len(fps), -1))
        assert ids.tolist() == want
    assert len(store) == len({fp for b in all_batches for fp in b})


@settings(max_examples=50, deadline=None)
@given(batches)
def test_a_spilled_and_a_reloaded_store_answer_like_the_one_in_memory(tmp_path_factory,
                                                                      all_batches):
    folder = tmp_path_factory.mktemp("store")
    mem, disk = StateStore(capacity=16), StateStore(capacity=16)
    disk.spill(folder / "spill")
    for batch in all_batches:
        fps = np.array(batch, dtype=np.int64)
        parents = np.arange(len(fps)) - 1
        a, _ = mem.add_new(fps, parents)
        b, _ = disk.add_new(fps, parents)
        assert a.tolist() == b.tolist()
    mem.save(folder / "saved")
    loaded = StateStore.load(folder / "saved")
    everything = np.array([fp for b in all_batches for fp in b] + [12345], dtype=np.int64)
    assert loaded.lookup(everything).tolist() == mem.lookup(everything).tolist()
    assert loaded.parents.view().tolist() == disk.parents.view().tolist()
    disk.close()


def test_the_store_costs_at_most_32_bytes_per_state_without_edges():
    store = StateStore()
    rng = np.random.default_rng(7)
    for _ in range(50):
        fps = rng.integers(-(2**63), 2**63 - 1, size=20_000, dtype=np.int64)
        store.add_new(fps, np.zeros(len(fps), dtype=np.int64))
    assert store.nbytes / len(store) <= 32


def _dumb_graph(spec):
    """Reference: whole states in a dict, every (src, label, dst) in BFS order."""
    index, order, edges = {}, [], []
    queue = deque()
    for s in spec.init():
        if s not in index:
            index[s] = len(order)
            order.append(s)
            queue.append(s)
    while queue:
        s = queue.popleft()
        for label, t in spec.successors(s):
            if t not in index:
                index[t] = len(order)
                order.append(t)
                queue.append(t)
            edges.append((index[s], str(label), index[t]))
    return order, edges


def test_the_edge_log_holds_every_step_with_its_action_instance_label():
    spec = Grid(bound=3)
    search = explore(spec, record_edges=True, keep_states=True)
    store = search.store
    states, edges = _dumb_graph(spec)
    assert search.states == states
    src, dst, lab = store.edge_arrays()
    logged = [(int(i), str(ActionInstance(*store.label(int(k)))), int(j))
              for i, j, k in zip(src, dst, lab)]
    assert logged == edges
    assert [(k, j) for k, j in store.successors(0)] == [
        (int(lab[n]), int(dst[n])) for n in range(len(src)) if src[n] == 0]
    assert search.result.stats.edges == len(edges)


def test_parents_lead_back_to_an_initial_state_along_shortest_paths():
    spec = Grid(bound=4)
    search = explore(spec, keep_states=True)
    store = search.store
    for i in range(len(store)):
        path = store.path_to(i)
        assert store.parent(path[0]) == -1
        assert len(path) - 1 == store.depth_of(i)
        s = search.states[i]
        assert store.depth_of(i) == s.x // 2 + s.x % 2 + s.y  # steps of 2 first, then 1s


_COUNTS = textwrap.dedent("""
    import json
    from protospec.explorer import check
    from protospec.explorer.loader import load_spec
    out = []
    for name, params, variant in {configs!r}:
        spec = load_spec(name).with_variant(variant)(**params)
        r = check(spec)
        out.append([r.stats.distinct_states, r.stats.depth,
                    [len(v.trace) for v in r.violations]])
    print(json.dumps(out))
""")

# Figures from docs/specs/*.md (two_phase_commit: TLC's counts on TwoPhase.tla, 3..5 RMs).
CONFIGS = [
    ("two_phase_commit", {"rms": 3}, None),
    ("two_phase_commit", {"rms": 4}, None),
    ("two_phase_commit", {"rms": 5}, None),
    ("two_phase_commit", {"rms": 3}, "tm_commits_early"),
    ("paxos", {}, None),
    ("lamport_clock", {}, None),
]


def test_state_counts_and_counterexample_lengths_do_not_depend_on_the_hash_seed():
    results = []
    for seed in ("0", "1"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", _COUNTS.format(configs=CONFIGS)], cwd=ROOT,
                             capture_output=True, text=True, env=env, timeout=600)
        assert out.returncode == 0, out.stderr
        results.append(json.loads(out.stdout))
    assert results[0] == results[1]
    assert [r[0] for r in results[0][:3]] == [288, 1568, 8832]


def test_a_canonicalisation_hook_stores_one_state_per_class_and_traces_still_replay():
    from protospec.explorer import Param, Spec, action, invariant

    class Twins(Spec):
        """Two interchangeable counters; the invariant forbids both reaching the bound."""

        name = "twins"
        bound = Param(3, "largest value")

        def init(self):
            yield (0, 0)

        @action(i="PROCS")
        def inc(self, s, i):
            if s[i] >= self.bound:
                return None
            return tuple(v + 1 if k == i else v for k, v in enumerate(s))

        @invariant
        def not_both_at_bound(self, s):
            return s != (self.bound, self.bound)

        PROCS = (0, 1)

    plain = explore(Twins(), keep_going=True).result
    reduced = explore(Twins(), keep_going=True, canon=lambda s: tuple(sorted(s))).result
    assert plain.stats.distinct_states == 16
    assert reduced.stats.distinct_states == 10  # the pairs {a, b} with a, b in 0..3
    (v,) = reduced.violations
    assert len(v.trace) == 6 == len(plain.violations[0].trace)
    assert v.trace.states[-1] == (3, 3)
