"""Benchmark: the Raft key-value store on a 3-node loopback cluster, and its recovery time.

1. Puts per second and p50/p99 latency with 1 and 32 concurrent clients, with fsync and
   without (``--no-fsync``, unsafe, to show what the disk costs), with batching
   (``--max-batch 64``, the default: the entries waiting for a follower go in one
   AppendEntries) and without (``--max-batch 1``: one entry per request, raft.tla's way, as the
   server did before batching). Each client is a thread with its own connection per request
   (the synchronous :class:`impl.raft.client.Client`), so the 32-client figure includes
   Python's GIL on the client side.
2. Recovery time of a node's ``raft.log`` holding ~100 MB of entries, before and after
   compaction into a snapshot (:meth:`impl.raft.storage.Storage.compact`), measured by
   :meth:`Storage.recover` on the real file.
3. A real node's restart (process start to answering ``status``) after 3,000 puts to 100 keys,
   with automatic compaction off (``--snapshot-entries 0``) and on (``--snapshot-entries
   500``): the log's size on disk and the restart time.

    python tests/bench/raft_kv_bench.py            # the full run (a few minutes)
    python tests/bench/raft_kv_bench.py --quick    # fewer seconds per cell, a 20 MB log

Run it alone: the machine's other load changes the figures; they are medians of one run.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from protospec.impl.raft.client import Client, Unavailable, request  # noqa: E402
from protospec.impl.raft.core import Entry  # noqa: E402
from protospec.impl.raft.server import SECRET_ENV  # noqa: E402
from protospec.impl.raft.storage import Snapshot, Storage  # noqa: E402
from tests.impl.test_tcp_cluster import free_ports  # noqa: E402


def start_cluster(data: Path, fsync: bool, extra: tuple[str, ...] = (), nodes: int = 3,
                  secret: str | None = None, addrs: list[str] | None = None
                  ) -> tuple[list[str], list[subprocess.Popen]]:
    addrs = addrs or [f"127.0.0.1:{p}" for p in free_ports(nodes)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), SECRET_ENV: secret or secrets.token_hex(16)}
    procs = []
    for k in range(1, len(addrs) + 1):
        argv = [sys.executable, "-m", "protospec.impl.raft.server", "--id", str(k),
                "--cluster", ",".join(addrs), "--data", str(data / f"node{k}"),
                "--seed", str(k), *extra] + ([] if fsync else ["--no-fsync"])
        procs.append(subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for a in addrs:
            try:
                if request(a, {"op": "status"}, 0.5).get("role") == "leader":
                    return addrs, procs
            except OSError:
                pass
        time.sleep(0.1)
    raise SystemExit("no leader within 30 s")


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def load(addrs: list[str], clients: int, seconds: float) -> tuple[int, list[float], int]:
    """Run ``clients`` threads putting for ``seconds``: (puts acknowledged, latencies in s,
    failures)."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker(w: int) -> None:
        c = Client(addrs, client_id=f"bench{w}", timeout=5, request_timeout=2)
        n = 0
        mine = []
        while time.monotonic() < stop_at:
            n += 1
            began = time.perf_counter()
            try:
                c.put(f"k{w}-{n % 100}", "x" * 100)
            except Unavailable:
                with lock:
                    failures[0] += 1
                continue
            mine.append(time.perf_counter() - began)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies), latencies, failures[0]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def bench_puts(seconds: float) -> None:
    print(f"\n3-node loopback cluster, {seconds:g} s per cell, 100-byte values")
    print(f"{'fsync':>6} {'clients':>7} {'batch':>5} {'puts/s':>8} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'failed':>6}")
    for fsync in (True, False):
        for clients in (1, 32):
            for batch in (1, 64):
                data = Path(tempfile.mkdtemp(prefix="raftbench-"))
                addrs, procs = start_cluster(data, fsync, ("--max-batch", str(batch)))
                try:
                    load(addrs, clients, 1.0)  # warm up: connections, leader's caches
                    done, lat, failed = load(addrs, clients, seconds)
                finally:
                    stop(procs)
                    shutil.rmtree(data, ignore_errors=True)
                print(f"{'on' if fsync else 'off':>6} {clients:>7} {batch:>5} "
                      f"{done / seconds:>8.0f} {pct(lat, 0.5) * 1e3:>8.1f} "
                      f"{pct(lat, 0.99) * 1e3:>8.1f} {failed:>6}", flush=True)


def bench_restart(puts: int = 3000) -> None:
    """A one-node cluster: ``puts`` puts to 100 keys, stop, restart; log size and restart
    time without and with automatic compaction."""
    print(f"\nrestart of a real node after {puts:,} puts to 100 keys (1-node cluster, no fsync)")
    for every in (0, 500):
        data = Path(tempfile.mkdtemp(prefix="raftbench-restart-"))
        secret = secrets.token_hex(16)
        extra = ("--snapshot-entries", str(every))
        try:
            addrs, procs = start_cluster(data, False, extra, nodes=1, secret=secret)
            try:
                c = Client(addrs, client_id="fill", timeout=10, request_timeout=2)
                for k in range(puts):
                    c.put(f"k{k % 100}", "x" * 100)
            finally:
                stop(procs)
            size = (data / "node1" / "raft.log").stat().st_size
            began = time.perf_counter()
            _, procs = start_cluster(data, False, extra, secret=secret, addrs=addrs)
            restart = time.perf_counter() - began
            stop(procs)
            print(f"  --snapshot-entries {every:>4}: raft.log {size / 1e3:,.0f} kB, restart to "
                  f"leader {restart:.2f} s", flush=True)
        finally:
            shutil.rmtree(data, ignore_errors=True)


def bench_recovery(megabytes: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="raftbench-log-"))
    path = data / "raft.log"
    try:
        s, _ = Storage.open(path)
        value = "v" * 1000
        entries, index = [], 0
        while s.size() < megabytes << 20:
            batch = [Entry(1, f'{{"op":"put","key":"k{index + k}","value":"{value}"}}')
                     for k in range(1000)]
            s.write(None, index + 1, batch)
            index += len(batch)
            entries.extend(batch[-1:])
        s.sync()
        s.close()
        size = path.stat().st_size
        began = time.perf_counter()
        s, rec = Storage.open(path)
        before = time.perf_counter() - began
        assert len(rec.log) == index
        kv = {f"k{k}": value for k in range(index)}  # the state machine after every entry
        began = time.perf_counter()
        s.compact(Snapshot(index - 100, 1, kv), (rec.current_term, rec.voted_for),
                  rec.log[index - 100:])
        compact_s = time.perf_counter() - began
        s.close()
        small = path.stat().st_size
        began = time.perf_counter()
        s, rec = Storage.open(path)
        after = time.perf_counter() - began
        s.close()
        print(f"\nrecovery of raft.log: {size / 1e6:.0f} MB, {index:,} entries: "
              f"{before:.2f} s; compaction (snapshot of {len(kv):,} keys + 100 entries) "
              f"took {compact_s:.2f} s -> {small / 1e6:.1f} MB, recovery {after:.2f} s")
        print("(the snapshot holds the whole map, so compaction pays off when the map is "
              "smaller than the log: overwrites, deletes, reads)")
        # The common case: many writes to few keys.
        s, _ = Storage.open(path)
        s.compact(Snapshot(index - 100, 1, {f"k{k}": value for k in range(1000)}),
                  (rec.current_term, rec.voted_for), rec.log[-100:])
        s.close()
        began = time.perf_counter()
        s, rec = Storage.open(path)
        hot = time.perf_counter() - began
        s.close()
        print(f"with 1,000 live keys: {path.stat().st_size / 1e6:.1f} MB, recovery "
              f"{hot * 1e3:.0f} ms")
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="short cells, a 20 MB log")
    args = p.parse_args()
    print(f"Python {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}")
    bench_puts(3.0 if args.quick else 10.0)
    bench_restart(1000 if args.quick else 3000)
    bench_recovery(20 if args.quick else 100)


if __name__ == "__main__":
    main()
