"""Processes of a protocol on 127.0.0.1, for tests and demos: start, SIGKILL, restart.

``argv(node_id, cluster, data)`` is the command of one process (a conformance object's
``node_argv``); the processes run with the repository importable and write their output to
``DATA/node<k>.out``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["LocalCluster", "free_ports"]

ROOT = Path(__file__).resolve().parents[2]


def free_ports(n: int) -> list[int]:
    """``n`` ports free on 127.0.0.1 right now."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class LocalCluster:
    """The processes this object started, by id; stop them with :meth:`stop_all`."""

    def __init__(self, argv: Callable[[int, Sequence[str], Path], list[str]], size: int,
                 data: Path) -> None:
        self.argv = argv
        self.data = data
        self.addrs = [f"127.0.0.1:{p}" for p in free_ports(size)]
        self.procs: dict[int, subprocess.Popen] = {}

    def start(self, node: int, *extra: str) -> None:
        out = open(self.data / f"node{node}.out", "ab")  # noqa: SIM115 - the child keeps it
        path = os.environ.get("PYTHONPATH", "")
        env = {**os.environ, "PYTHONUNBUFFERED": "1",
               "PYTHONPATH": str(ROOT) + (os.pathsep + path if path else "")}
        self.procs[node] = subprocess.Popen(
            [*self.argv(node, self.addrs, self.data / f"node{node}"), *extra], cwd=ROOT,
            stdout=out, stderr=subprocess.STDOUT, env=env)
        out.close()

    def kill(self, node: int) -> None:
        """SIGKILL process ``node`` (if it has not died already) and reap it."""
        p = self.procs.pop(node)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)

    def wait_exit(self, node: int, timeout: float) -> int:
        """Wait for process ``node`` to exit on its own; its return code."""
        p = self.procs.pop(node)
        return p.wait(timeout=timeout)

    def stop_all(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        self.procs.clear()
