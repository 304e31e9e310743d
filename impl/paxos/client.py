"""A client of the Multi-Paxos key-value store: leader discovery, retries; and a small CLI.

    python -m protospec.impl.paxos.client --cluster A,B,C put k v
    python -m protospec.impl.paxos.client --cluster A,B,C get k

Each operation goes to the node the client believes leads; a ``not_leader`` answer names the
leader if the node knows it, and the client tries that one next (else the next node). The
operation keeps its sequence number across retries, so the store executes it once. After
``timeout`` seconds the operation fails with :class:`Unavailable` (it may or may not have
taken effect).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from typing import Any

from protospec.impl.runtime.client import call

__all__ = ["Client", "Unavailable", "main"]


class Unavailable(Exception):
    """No leader answered in time; the operation may or may not have been executed."""


class Client:
    def __init__(self, cluster: list[str], *, client_id: str | None = None,
                 timeout: float = 10.0, request_timeout: float = 1.0) -> None:
        self.cluster = cluster
        self.id = client_id or uuid.uuid4().hex[:12]
        self.timeout = timeout
        self.request_timeout = request_timeout
        self.seq = 0
        self.target = 1

    def put(self, key: str, value: str) -> Any:
        return self._run({"op": "put", "key": key, "value": value})

    def get(self, key: str) -> Any:
        return self._run({"op": "get", "key": key})

    def delete(self, key: str) -> Any:
        return self._run({"op": "delete", "key": key})

    def status(self, node: int) -> dict[str, Any]:
        return call(self.cluster[node - 1], {"op": "status"}, timeout=self.request_timeout)

    def _run(self, request: dict[str, Any]) -> Any:
        self.seq += 1
        request = {**request, "client": self.id, "seq": self.seq}
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                reply = call(self.cluster[self.target - 1], request,
                             timeout=self.request_timeout)
            except (OSError, ValueError):
                reply = {}
            if reply.get("ok"):
                return reply["result"]
            hint = reply.get("leader")
            if reply.get("error") == "log_full":
                raise Unavailable("the replicated log is full")
            self.target = hint if hint and hint != self.target else \
                self.target % len(self.cluster) + 1
            time.sleep(0.05)
        raise Unavailable(f"no leader answered in {self.timeout} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m protospec.impl.paxos.client")
    p.add_argument("--cluster", required=True, help="host:port of every node, comma-separated")
    p.add_argument("op", choices=("put", "get", "delete"))
    p.add_argument("key")
    p.add_argument("value", nargs="?")
    args = p.parse_args(argv)
    client = Client([a for a in args.cluster.split(",") if a])
    try:
        if args.op == "put":
            print(client.put(args.key, args.value or ""))
        elif args.op == "get":
            print(client.get(args.key))
        else:
            print(client.delete(args.key))
    except Unavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
