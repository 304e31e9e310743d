"""A PBFT client: multicasts each request and accepts a result once f+1 replicas sent it.

    python -m protospec.impl.pbft.client --cluster A,B,C,D put k v
    python -m protospec.impl.pbft.client --cluster A,B,C,D get k

Section 4.1 of Castro & Liskov: a client waits for f+1 replies with valid MACs and the same
result (at least one of them from a correct replica), re-sending the request with the same
timestamp until it has them. Requests go to every replica at once, each over its own
connection; a reply whose MAC does not verify is ignored. Timestamps are the wall clock in
microseconds, so they grow across client processes with one client id.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from typing import Any

from protospec.impl.runtime.client import call

from .auth import body, client_keyring
from .server import DEFAULT_SECRET

__all__ = ["Client", "Unavailable", "main"]


class Unavailable(Exception):
    """f+1 matching replies did not arrive in time; the request may or may not have run."""


class Client:
    def __init__(self, cluster: list[str], *, client_id: str | None = None,
                 secret: str = DEFAULT_SECRET, timeout: float = 10.0,
                 request_timeout: float = 1.5, first_reply: bool = False) -> None:
        self.cluster = cluster
        self.n = len(cluster)
        self.f = (self.n - 1) // 3
        self.id = "c:" + (client_id or uuid.uuid4().hex[:12])
        self.keys = client_keyring(secret.encode(), self.id, self.n)
        self.timeout = timeout
        self.request_timeout = request_timeout
        self.first_reply = first_reply  # the client_accepts_first_reply bug
        self.ts = 0
        self.forged_replies = 0

    def put(self, key: str, value: str) -> Any:
        return self._run({"op": "put", "key": key, "value": value})

    def get(self, key: str) -> Any:
        return self._run({"op": "get", "key": key})

    def status(self, replica: int) -> dict[str, Any]:
        return call(self.cluster[replica - 1], {"op": "status"}, timeout=self.request_timeout)

    def _run(self, request: dict[str, Any]) -> Any:
        self.ts = max(self.ts + 1, int(time.time() * 1e6))
        req = {**request, "client": self.id, "ts": self.ts}
        req["auth"] = self.keys.authenticator([f"r{j}" for j in range(1, self.n + 1)], body(req))
        deadline = time.monotonic() + self.timeout
        votes: dict[int, str] = {}
        done = threading.Event()
        lock = threading.Lock()
        answer: list[Any] = []

        def ask(j: int) -> None:
            try:
                reply = call(self.cluster[j - 1], req, timeout=self.request_timeout)
            except (OSError, ValueError):
                return
            signed = {k: v for k, v in reply.items() if k != "mac"}
            if not reply.get("ok") or reply.get("replica") != j or reply.get("ts") != self.ts \
                    or reply.get("mac") != self.keys.mac(f"r{j}", body(signed)):
                with lock:
                    self.forged_replies += 1
                return
            with lock:
                votes.setdefault(j, json.dumps(reply.get("result")))
                count = list(votes.values()).count(json.dumps(reply.get("result")))
                if not answer and (self.first_reply or count >= self.f + 1):
                    answer.append(reply.get("result"))
                    done.set()

        while time.monotonic() < deadline:
            threads = [threading.Thread(target=ask, args=(j,), daemon=True)
                       for j in range(1, self.n + 1) if j not in votes]
            for t in threads:
                t.start()
            done.wait(self.request_timeout + 0.2)
            if answer:
                return answer[0]
        raise Unavailable(f"no f+1 matching replies in {self.timeout} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m protospec.impl.pbft.client")
    p.add_argument("--cluster", required=True, help="host:port of every replica, comma-separated")
    p.add_argument("--secret", default=DEFAULT_SECRET, help="the cluster's key secret")
    p.add_argument("op", choices=("put", "get"))
    p.add_argument("key")
    p.add_argument("value", nargs="?")
    args = p.parse_args(argv)
    client = Client([a for a in args.cluster.split(",") if a], secret=args.secret)
    try:
        print(client.put(args.key, args.value or "") if args.op == "put" else
              client.get(args.key))
    except Unavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
