"""Three real server processes on 127.0.0.1: writes survive the leader's death, the dead node
comes back from its disk, and all three nodes' event logs conform to the Raft spec."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from protospec.explorer.cli.main import main
from protospec.impl.raft.client import Client, request
from protospec.impl.raft.server import SECRET_ENV

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 20  # every wait below is bounded by this


def free_ports(n: int) -> list[int]:
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


class Cluster:
    """The server processes this test started, by node id."""

    def __init__(self, data: Path, nodes: int = 3) -> None:
        self.data = data
        self.addrs = [f"127.0.0.1:{p}" for p in free_ports(nodes)]
        self.procs: dict[int, subprocess.Popen] = {}
        self.secret = secrets.token_hex(16)

    def argv(self, node: int) -> list[str]:
        return [sys.executable, "-m", "protospec.impl.raft.server", "--id", str(node),
                "--cluster", ",".join(self.addrs), "--data", str(self.data / f"node{node}"),
                "--seed", str(node)]

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
                SECRET_ENV: self.secret}

    def start(self, node: int) -> None:
        out = open(self.data / f"node{node}.out", "ab")  # noqa: SIM115 - the child keeps it
        self.procs[node] = subprocess.Popen(self.argv(node), cwd=ROOT, stdout=out,
                                            stderr=subprocess.STDOUT, env=self.env())
        out.close()

    def status(self, node: int) -> dict:
        """The node's status reply, or {} if it does not answer."""
        try:
            return request(self.addrs[node - 1], {"op": "status"}, 1.0)
        except (OSError, ValueError):
            return {}

    def kill(self, node: int) -> None:
        p = self.procs.pop(node)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)

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


def statuses(client: Client, nodes) -> dict[int, dict]:
    out = {}
    for n in nodes:
        with contextlib.suppress(OSError, ValueError):
            out[n] = client.status(client.cluster[n - 1])
    return out


def wait_for(what: str, fn):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {WAIT_S} s waiting for {what}")


def leader_of(client: Client, nodes, above_term: int = 0) -> tuple[int, int] | None:
    for n, st in statuses(client, nodes).items():
        if st["role"] == "leader" and st["term"] > above_term:
            return n, st["term"]
    return None


def test_acknowledged_writes_survive_killing_the_leader_and_the_logs_conform(tmp_path: Path,
                                                                            capsys):
    cluster = Cluster(tmp_path)
    client = Client(cluster.addrs, client_id="tester", timeout=WAIT_S, request_timeout=0.5)
    acked: dict[str, str] = {}
    try:
        for n in (1, 2, 3):
            cluster.start(n)
        old, term = wait_for("a leader", lambda: leader_of(client, (1, 2, 3)))
        for k in range(10):
            client.put(f"key{k}", f"v{k}")
            acked[f"key{k}"] = f"v{k}"

        cluster.kill(old)
        survivors = [n for n in (1, 2, 3) if n != old]
        new, _ = wait_for("a new leader", lambda: leader_of(client, survivors, term))
        assert new != old
        for k in range(10, 20):
            client.put(f"key{k}", f"v{k}")
            acked[f"key{k}"] = f"v{k}"
        client.put("key0", "overwritten")
        acked["key0"] = "overwritten"

        cluster.start(old)  # from its disk: term, vote and log as it last fsynced them
        target = statuses(client, [new])[new]["commit"]
        wait_for("the restarted node to catch up", lambda: statuses(client, [old]).get(
            old, {}).get("applied", 0) >= target)
        for key, value in acked.items():
            assert client.get(key) == value, key
    finally:
        cluster.stop_all()
    capsys.readouterr()
    assert main(["conform", "raft", "--logs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "conform to the spec raft" in out and "from 3 nodes" in out
