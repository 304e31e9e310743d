"""The Multi-Paxos store as three real processes on 127.0.0.1: the leader (node 1, which owns
ballot 0) is SIGKILLed mid-workload, a new leader takes over, the old one restarts from its
disk and catches up; every acknowledged write is read back, and the three event logs conform
to the spec."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from protospec.explorer.cli.main import main
from protospec.explorer.conformance import lookup
from protospec.impl.paxos.client import Client
from protospec.impl.runtime.local import LocalCluster

WAIT_S = 20


def wait_for(what: str, fn):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {WAIT_S} s waiting for {what}")


def status(client: Client, node: int) -> dict:
    with contextlib.suppress(OSError, ValueError):
        return client.status(node)
    return {}


def leader_among(client: Client, nodes) -> int:
    return wait_for("a leader", lambda: next(
        (n for n in nodes if status(client, n).get("role") == "leader"), None))


def test_acknowledged_writes_survive_killing_the_leader_and_the_logs_conform(tmp_path: Path,
                                                                            capsys):
    target = lookup("multi_paxos")
    cluster = LocalCluster(target.node_argv, target.cluster_size(3), tmp_path)
    client = Client(cluster.addrs, client_id="tester", timeout=WAIT_S, request_timeout=0.5)
    acked: dict[str, str] = {}
    try:
        for n in (1, 2, 3):
            cluster.start(n)
        wait_for("every node to listen", lambda: all(status(client, n) for n in (1, 2, 3)))
        for k in range(6):
            client.put(f"key{k}", f"v{k}")
            acked[f"key{k}"] = f"v{k}"
        # Node 1 leads ballot 0 unless a slow start let another node take over first.
        old = leader_among(client, (1, 2, 3))

        cluster.kill(old)
        for k in range(6, 12):
            client.put(f"key{k}", f"v{k}")
            acked[f"key{k}"] = f"v{k}"
        client.put("key0", "overwritten")
        acked["key0"] = "overwritten"
        new = leader_among(client, [n for n in (1, 2, 3) if n != old])

        cluster.start(old)  # from its disk: promises, votes and learned commands
        learned = status(client, new)["learned"]
        wait_for("the restarted node to catch up",
                 lambda: status(client, old).get("learned", 0) >= learned)
        for key, value in acked.items():
            assert client.get(key) == value, key
    finally:
        cluster.stop_all()
    capsys.readouterr()
    assert main(["conform", "multi_paxos", "--logs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "conform to the spec multi_paxos" in out and "from 3 nodes" in out
