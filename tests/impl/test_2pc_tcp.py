"""Two-phase commit as real processes on 127.0.0.1: the coordinator is SIGKILLed after it has
logged a decision and before sending it; restarted, it re-sends the decision, every outcome a
client was told holds at every participant, and the four event logs conform to the spec."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from protospec.explorer.cli.main import main
from protospec.explorer.conformance import lookup
from protospec.impl.runtime.local import LocalCluster
from protospec.impl.two_phase_commit.client import Client, Unavailable

WAIT_S = 20


def wait_for(what: str, fn):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {WAIT_S} s waiting for {what}")


def _answers(client: Client, node: int) -> bool:
    try:
        return bool(client.participant(node).get("ok"))
    except OSError:
        return False


def test_a_coordinator_killed_between_logging_and_sending_its_decision_keeps_it(
        tmp_path: Path, capsys):
    target = lookup("two_phase_commit")
    cluster = LocalCluster(target.node_argv, target.cluster_size(3), tmp_path)
    client = Client(cluster.addrs, timeout=WAIT_S)
    told: dict[str, tuple[str, str, str]] = {}
    try:
        for k in (2, 3, 4):
            cluster.start(k)
        wait_for("the participants to listen", lambda: all(
            _answers(client, k) for k in (2, 3, 4)))
        # The TM's 3rd record is its 3rd decision: it dies right after fsyncing it.
        cluster.start(1, "--kill-after-records", "3")
        for n in (1, 2):
            told[f"t{n}"] = (client.run(f"t{n}", f"k{n}", f"v{n}"), f"k{n}", f"v{n}")
        started = time.monotonic()
        client.request_timeout, client.timeout = 1.0, 1.0
        with contextlib.suppress(Unavailable):  # the coordinator dies mid-transaction
            client.run("t3", "k3", "v3")
        assert cluster.wait_exit(1, timeout=WAIT_S - (time.monotonic() - started)) != 0
        cluster.start(1)  # from its disk: the decision it logged and never sent
        client.timeout, client.request_timeout = WAIT_S, 2.0
        told["t3"] = (client.status("t3"), "k3", "v3")
        told["t4"] = (client.run("t4", "k1", "v4"), "k1", "v4")
        # On an idle machine all four commit; under load a vote may time out and abort one.
        # Either way, what each client was told must be what every participant did.
        data: dict[str, str] = {}
        for outcome, key, value in told.values():
            if outcome == "committed":
                data[key] = value

        def settled():
            states = [client.participant(k) for k in (2, 3, 4)]
            return all(st["txns"].get(t) == o for st in states
                       for t, (o, _, _) in told.items()) and states
        for st in wait_for("every participant to apply every told outcome", settled):
            assert st["data"] == data
    finally:
        cluster.stop_all()
    capsys.readouterr()
    assert main(["conform", "two_phase_commit", "--logs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "conform to the spec two_phase_commit" in out and "from 3 nodes" in out
