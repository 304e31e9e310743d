"""A client for the Raft key-value store: leader discovery, retries, timeouts; and a small CLI.

    python -m impl.raft.client --cluster 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 put k v
    python -m impl.raft.client --cluster ... get k
    python -m impl.raft.client --cluster ... delete k
    python -m impl.raft.client --cluster ... status

A :class:`Client` sends each operation to the node it believes leads. A node that does not
lead answers ``not_leader`` with the leader it knows of, which the client tries next; a node
that does not answer within ``request_timeout`` seconds (down, partitioned, or a leader that
lost its majority) is skipped for the next one. The operation keeps its sequence number across
retries, so the state machine applies it once even if an earlier attempt reached the log
(see impl/raft/kv.py). After ``timeout`` seconds in all the operation fails with
:class:`Unavailable`, and it may or may not have taken effect.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
import uuid
from typing import Any

from ..runtime.wire import FrameTooLarge, frame, recv_frame

__all__ = ["Client", "Unavailable", "main"]


class Unavailable(Exception):
    """No leader answered in time; the operation may or may not have been applied."""


class Client:
    """A synchronous client of one cluster (not thread-safe: one operation at a time)."""

    def __init__(self, cluster: list[str], *, client_id: str | None = None,
                 timeout: float = 10.0, request_timeout: float = 1.0) -> None:
        if not cluster:
            raise ValueError("a client needs the address of at least one node")
        self.cluster = list(cluster)
        self.id = client_id or uuid.uuid4().hex[:12]
        self.timeout = timeout
        self.request_timeout = request_timeout
        self.seq = 0
        self.leader: str | None = None
        self._next = 0

    def put(self, key: str, value: str) -> str | None:
        """Set ``key``; returns its previous value (None if it had none)."""
        return self._run({"op": "put", "key": key, "value": value})

    def get(self, key: str) -> str | None:
        """The value of ``key`` (None if absent), linearizably (ReadIndex on the leader)."""
        return self._run({"op": "get", "key": key})

    def cas(self, key: str, expect: str | None, value: str) -> bool:
        """Set ``key`` to ``value`` if it holds ``expect`` (None: absent); whether it did."""
        return bool(self._run({"op": "cas", "key": key, "expect": expect, "value": value}))

    def delete(self, key: str) -> bool:
        """Remove ``key``; returns whether it existed."""
        return bool(self._run({"op": "delete", "key": key}))

    def status(self, addr: str) -> dict[str, Any]:
        """One node's view: role, term, known leader, log length, commit index."""
        return request(addr, {"op": "status"}, self.request_timeout)

    def _run(self, req: dict[str, Any]) -> Any:
        self.seq += 1
        req = {**req, "client": self.id, "seq": self.seq}
        deadline = time.monotonic() + self.timeout
        last_error = "no node tried"
        while time.monotonic() < deadline:
            addr = self.leader or self._rotate()
            try:
                reply = request(addr, req, min(self.request_timeout,
                                               max(0.05, deadline - time.monotonic())))
            except (OSError, ValueError, FrameTooLarge) as exc:
                last_error = f"{addr}: {exc}"
                self.leader = None
                self._rotate_past(addr)
                time.sleep(0.02)
                continue
            if reply.get("ok"):
                self.leader = addr
                return reply.get("result")
            last_error = f"{addr}: {reply.get('error')}"
            hint = reply.get("leader")
            self.leader = hint if hint and hint != addr else None
            if self.leader is None:
                self._rotate_past(addr)
            time.sleep(0.02 if hint else 0.05)
        raise Unavailable(f"no leader answered within {self.timeout:g} s (last: {last_error})")

    def _rotate(self) -> str:
        addr = self.cluster[self._next % len(self.cluster)]
        self._next += 1
        return addr

    def _rotate_past(self, addr: str) -> None:
        if addr in self.cluster:
            self._next = self.cluster.index(addr) + 1


def request(addr: str, req: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Send one request frame to ``addr`` and read its reply frame (OSError on failure)."""
    host, _, port = addr.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(frame(json.dumps(req).encode()))
        reply = json.loads(recv_frame(sock))
    if not isinstance(reply, dict):
        raise ValueError(f"unexpected reply {reply!r}")
    return reply


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m impl.raft.client",
                                description="Talk to the Raft key-value store.")
    p.add_argument("--cluster", required=True, help="host:port of the nodes, comma-separated")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds before giving up")
    sub = p.add_subparsers(dest="cmd", required=True)
    put = sub.add_parser("put", help="set a key")
    put.add_argument("key")
    put.add_argument("value")
    sub.add_parser("get", help="read a key").add_argument("key")
    sub.add_parser("delete", help="remove a key").add_argument("key")
    sub.add_parser("status", help="every node's role, term and commit index")
    args = p.parse_args(argv)
    client = Client([a.strip() for a in args.cluster.split(",") if a.strip()],
                    timeout=args.timeout)
    try:
        if args.cmd == "put":
            print(json.dumps(client.put(args.key, args.value)))
        elif args.cmd == "get":
            print(json.dumps(client.get(args.key)))
        elif args.cmd == "delete":
            print(json.dumps(client.delete(args.key)))
        else:
            for addr in client.cluster:
                try:
                    print(addr, json.dumps(client.status(addr)))
                except OSError as exc:
                    print(addr, f"unreachable ({exc})")
    except Unavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
