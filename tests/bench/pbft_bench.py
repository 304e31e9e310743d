"""Throughput and latency of the real PBFT cluster on loopback. Not run by the test suite.

    python tests/bench/pbft_bench.py [--seconds 8] [--clients 4]

Three configurations, each a fresh cluster of real processes on 127.0.0.1 (asyncio TCP, every
protocol message fsynced before it is sent, HMAC authenticators): 4 replicas (f = 1) all
correct; 4 replicas with replica 4 Byzantine (``conflicting_votes``: it sends every replica
conflicting prepares and commits and lies to every client); 7 replicas (f = 2) all correct.
``--clients`` closed-loop clients (threads, each waiting for f+1 matching replies before its
next put) run for ``--seconds``; the script prints completed requests per second and the p50
and p99 latency. One run per configuration: on a shared machine, read the ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from protospec.explorer.conformance import lookup
from protospec.impl.pbft.client import Client, Unavailable
from protospec.impl.runtime.local import LocalCluster


def measure(nodes: int, liar: str | None, seconds: float, clients: int) -> dict:
    target = lookup("pbft")
    with tempfile.TemporaryDirectory() as tmp:
        cluster = LocalCluster(target.node_argv, nodes, Path(tmp))
        try:
            for k in range(1, nodes + 1):
                cluster.start(k, *(["--byzantine", liar] if liar and k == nodes else []))
            probe = Client(cluster.addrs, timeout=30)
            probe.put("warm", "up")  # every replica listens and the primary works
            latencies: list[float] = []
            lock = threading.Lock()
            stop = time.monotonic() + seconds

            def loop(c: int) -> None:
                client = Client(cluster.addrs, client_id=f"bench{c}", timeout=10)
                k = 0
                while time.monotonic() < stop:
                    t0 = time.perf_counter()
                    with contextlib.suppress(Unavailable):
                        client.put(f"k{c}", str(k))
                        with lock:
                            latencies.append(time.perf_counter() - t0)
                    k += 1

            threads = [threading.Thread(target=loop, args=(c,)) for c in range(clients)]
            started = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - started
        finally:
            cluster.stop_all()
    lat = sorted(latencies)
    return {"requests": len(lat), "rps": len(lat) / elapsed,
            "p50_ms": 1000 * statistics.median(lat) if lat else float("nan"),
            "p99_ms": 1000 * lat[int(0.99 * (len(lat) - 1))] if lat else float("nan")}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--clients", type=int, default=4)
    args = p.parse_args()
    print(f"{'configuration':<44} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for label, nodes, liar in (("4 replicas (f=1), all correct", 4, None),
                               ("4 replicas (f=1), replica 4 conflicting_votes", 4,
                                "conflicting_votes"),
                               ("7 replicas (f=2), all correct", 7, None)):
        r = measure(nodes, liar, args.seconds, args.clients)
        print(f"{label:<44} {r['requests']:>8} {r['rps']:>8.1f} {r['p50_ms']:>8.1f} "
              f"{r['p99_ms']:>8.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
