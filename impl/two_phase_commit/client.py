"""A client of two-phase commit: runs transactions through the coordinator; and a small CLI.

    python -m protospec.impl.two_phase_commit.client --cluster TM,RM1,RM2,RM3 txn t1 key value
    python -m protospec.impl.two_phase_commit.client --cluster ... status t1
    python -m protospec.impl.two_phase_commit.client --cluster ... participant 2

:meth:`Client.run` asks the coordinator (the first address) to write ``key = value`` at every
participant atomically and returns the outcome, "committed" or "aborted". If the coordinator
does not answer (it is down, or crashed mid-transaction), the client asks for the outcome
(``status``) until it gets one or ``timeout`` seconds pass (:class:`Unavailable`: the outcome
is unknown to the client, not undecided forever: a restarted coordinator answers).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from protospec.impl.runtime.client import call

__all__ = ["Client", "Unavailable", "main"]


class Unavailable(Exception):
    """The coordinator did not answer in time; the outcome is unknown to the client."""


class Client:
    def __init__(self, cluster: list[str], *, timeout: float = 10.0,
                 request_timeout: float = 2.0) -> None:
        self.cluster = cluster
        self.timeout = timeout
        self.request_timeout = request_timeout

    def run(self, txn: str, key: str, value: str) -> str:
        """Run one transaction; its outcome ("committed" or "aborted")."""
        return self._ask({"op": "txn", "txn": txn, "key": key, "value": value})

    def status(self, txn: str) -> str:
        """The outcome of ``txn`` (a coordinator that never decided it aborts it now)."""
        return self._ask({"op": "status", "txn": txn})

    def participant(self, node: int) -> dict[str, Any]:
        """What participant ``node`` (2..) has logged and applied."""
        return call(self.cluster[node - 1], {"op": "status"}, timeout=self.request_timeout)

    def _ask(self, request: dict[str, Any]) -> str:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                reply = call(self.cluster[0], request, timeout=self.request_timeout)
                if reply.get("ok"):
                    return reply["outcome"]
            except ConnectionRefusedError:
                pass  # not delivered: the coordinator is not listening (yet); ask again
            except (OSError, ValueError):
                # It may have arrived: from now on only ask for the outcome (a coordinator
                # that restarted and never saw the transaction aborts it).
                request = {"op": "status", "txn": request["txn"]}
            if time.monotonic() >= deadline:
                raise Unavailable(f"no outcome for {request['txn']} after {self.timeout} s")
            time.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m protospec.impl.two_phase_commit.client")
    p.add_argument("--cluster", required=True, help="TM first, then the participants")
    p.add_argument("command", choices=("txn", "status", "participant"))
    p.add_argument("args", nargs="*")
    args = p.parse_args(argv)
    client = Client([a for a in args.cluster.split(",") if a])
    try:
        if args.command == "txn" and len(args.args) == 3:
            print(client.run(*args.args))
        elif args.command == "status" and len(args.args) == 1:
            print(client.status(args.args[0]))
        elif args.command == "participant" and len(args.args) == 1:
            print(json.dumps(client.participant(int(args.args[0]))))
        else:
            p.error("txn TXN KEY VALUE | status TXN | participant NODE")
    except Unavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
