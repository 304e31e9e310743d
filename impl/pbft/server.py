"""One PBFT replica on asyncio TCP (:mod:`impl.runtime.tcp`), correct or Byzantine.

    python -m protospec.impl.pbft.server --id 1 \\
        --cluster 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003,127.0.0.1:7004 --data DIR \\
        [--byzantine forger] [--secret TEXT]

The replica's keys derive from ``--secret`` (the same on every replica and client; the default
is a demo secret, fine on loopback and nowhere else); each process is handed only its own keys
(:mod:`impl.pbft.auth`). ``--byzantine STRATEGY`` runs a liar (:mod:`impl.pbft.byzantine`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from protospec.impl.runtime.storage import CorruptLog
from protospec.impl.runtime.tcp import TcpNode, run_node

from .auth import replica_keyring
from .byzantine import STRATEGIES, make_byzantine
from .core import BUGS, Replica

__all__ = ["DEFAULT_SECRET", "main"]

DEFAULT_SECRET = "protospec-pbft-demo"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m protospec.impl.pbft.server",
                                description="Run one replica of the PBFT key-value store.")
    p.add_argument("--id", type=int, required=True, help="this replica's position in --cluster")
    p.add_argument("--cluster", required=True, help="host:port of every replica, comma-separated")
    p.add_argument("--data", required=True, help="this replica's data folder")
    p.add_argument("--tick-ms", type=int, default=20, help="milliseconds per tick (default 20)")
    p.add_argument("--seed", type=int, help="seed the replica's random generator")
    p.add_argument("--bug", choices=BUGS, help="run a deliberately broken replica")
    p.add_argument("--byzantine", choices=sorted(STRATEGIES), help="run a Byzantine replica")
    p.add_argument("--secret", default=DEFAULT_SECRET, help="the cluster's key secret")
    args = p.parse_args(argv)
    cluster = [a.strip() for a in args.cluster.split(",") if a.strip()]
    if not 1 <= args.id <= len(cluster):
        p.error(f"--id must be between 1 and {len(cluster)} (the replicas in --cluster)")
    if len(cluster) < 4 or (len(cluster) - 1) % 3:
        p.error(f"PBFT runs n = 3f+1 replicas (4, 7, ...); --cluster names {len(cluster)}")
    keys = replica_keyring(args.secret.encode(), args.id, len(cluster))

    def factory(i: int, n: int, records: list[bytes], boot: int, rng: Any,
                bug: str | None) -> Replica:
        if args.byzantine:
            return make_byzantine(args.byzantine, i, n, records, boot, rng, None, keys)
        return Replica(i, n, records, boot, rng, bug, keys)

    try:
        node = TcpNode(factory, args.id, cluster, Path(args.data), tick_ms=args.tick_ms,
                       seed=args.seed, bug=args.bug)
    except CorruptLog as exc:
        print(f"replica {args.id}: cannot start: {exc}", file=sys.stderr)
        return 2
    asyncio.run(run_node(node))
    return 0


if __name__ == "__main__":
    sys.exit(main())
