"""PBFT as four real processes on 127.0.0.1 (f = 1): replica 3 is Byzantine (it forges
messages in other replicas' names and lies to clients), the primary of view 0 is SIGKILLed
mid-workload so the others change view, and it restarts from its disk and catches up. Every
acknowledged write reads back, the forgeries are dropped by authentication, and the correct
replicas' event logs conform to the spec."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from protospec.explorer.cli.main import main
from protospec.explorer.conformance import lookup
from protospec.impl.pbft.client import Client
from protospec.impl.runtime.local import LocalCluster

WAIT_S = 20
LIAR = 3


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


def test_writes_survive_a_byzantine_replica_and_killing_the_primary_and_the_logs_conform(
        tmp_path: Path, capsys):
    target = lookup("pbft")
    cluster = LocalCluster(target.node_argv, target.cluster_size(4), tmp_path)
    client = Client(cluster.addrs, client_id="tester", timeout=WAIT_S, request_timeout=1.0)
    acked: dict[str, str] = {}
    try:
        for n in (1, 2, 3, 4):
            cluster.start(n, *(["--byzantine", "forger"] if n == LIAR else []))
        wait_for("every replica to listen", lambda: all(status(client, n) for n in (1, 2, 3, 4)))
        for k in range(5):
            client.put(f"key{k}", f"v{k}")
            acked[f"key{k}"] = f"v{k}"

        cluster.kill(1)  # the primary of view 0
        for k in range(5, 10):
            client.put(f"key{k}", f"v{k}")
            acked[f"key{k}"] = f"v{k}"
        assert status(client, 2)["view"] >= 1 and status(client, 4)["view"] >= 1

        cluster.start(1)  # from its disk
        done = status(client, 2)["executed"]
        wait_for("the restarted replica to catch up",
                 lambda: status(client, 1).get("executed", 0) >= done)
        for key, value in acked.items():
            assert client.get(key) == value, key
        assert status(client, 2)["auth_failures"] > 0  # the forgeries were dropped
    finally:
        cluster.stop_all()
    capsys.readouterr()
    assert main(["conform", "pbft", "--logs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "conform to the spec pbft" in out
