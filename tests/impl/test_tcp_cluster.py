"""Three real server processes on 127.0.0.1: writes survive the leader's death, the dead node
comes back from its disk, and all three nodes' event logs conform to the Raft spec."""

from __future__ import annotations

import contextlib
import json
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

    def __init__(self, data: Path, nodes: int = 3, extra: tuple[str, ...] = ()) -> None:
        self.data = data
        self.extra = list(extra)
        self.addrs = [f"127.0.0.1:{p}" for p in free_ports(nodes)]
        self.procs: dict[int, subprocess.Popen] = {}
        self.secret = secrets.token_hex(16)

    def argv(self, node: int) -> list[str]:
        return [sys.executable, "-m", "protospec.impl.raft.server", "--id", str(node),
                "--cluster", ",".join(self.addrs), "--data", str(self.data / f"node{node}"),
                "--seed", str(node), *self.extra]

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


class ClusterCommand:
    """``protospec cluster`` as a user runs it, with its control port."""

    def __init__(self, data: Path, nodes: int = 3, *extra: str) -> None:
        self.data = data
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "protospec", "cluster", "raft", "--nodes", str(nodes),
             "--base-port", "0", "--data", str(data), "--control", "0", *extra],
            cwd=ROOT, stdout=open(data.parent / f"{data.name}.cluster.out", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.manifest = wait_for("cluster.json", self._manifest)
        self.addrs = self.manifest["nodes"]
        self.client = Client(self.addrs, client_id="ops", timeout=WAIT_S, request_timeout=0.5)

    def _manifest(self) -> dict | None:
        path = self.data / "cluster.json"
        if not path.exists():
            return None
        m = json.loads(path.read_text())
        return m if m.get("control") else None

    def control(self, line: str) -> str:
        host, _, port = self.manifest["control"].rpartition(":")
        with socket.create_connection((host, int(port)), timeout=WAIT_S) as sock:
            sock.sendall((line + "\n").encode())
            return sock.makefile().readline().strip()

    def pids(self) -> dict[int, int]:
        reply = self.control("status")
        assert reply.startswith("ok "), reply
        return {int(k): v["pid"] for k, v in json.loads(reply[3:]).items() if v["running"]}

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigterm_to_the_cluster_command_leaves_no_node_process_behind(tmp_path: Path):
    c = ClusterCommand(tmp_path / "data")
    try:
        wait_for("a leader", lambda: leader_of(c.client, (1, 2, 3)))
        pids = c.pids()
        assert len(pids) == 3 and all(alive(p) for p in pids.values())
    finally:
        code = c.stop()
    assert code == 0
    assert [p for p in pids.values() if alive(p)] == []
    for addr in c.addrs:  # nobody listens on a node's port any more
        host, _, port = addr.rpartition(":")
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no listener
            s.bind((host, int(port)))


def test_the_cluster_keeps_going_when_a_node_dies_and_restarts_it_on_command(tmp_path: Path):
    c = ClusterCommand(tmp_path / "data")
    try:
        wait_for("a leader", lambda: leader_of(c.client, (1, 2, 3)))
        c.client.put("a", "1")
        victim = 2
        os.kill(c.pids()[victim], signal.SIGKILL)  # from outside, as an OOM killer would
        wait_for("the death to be seen", lambda: victim not in c.pids())
        c.client.put("b", "2")  # two of three still make a majority
        assert c.control(f"restart {victim}") == "ok"
        addr = c.addrs[victim - 1]
        wait_for("the restarted node to apply both puts",
                 lambda: statuses(c.client, [victim]).get(victim, {}).get("applied", 0) >= 3)
        assert c.client.status(addr)["boot"] == 1
        assert c.control("restart 9").startswith("error: no node 9")
    finally:
        assert c.stop() == 0
    out = (tmp_path / "data.cluster.out").read_text()
    assert f"node {victim} exited with code -9" in out


def test_an_isolated_leader_is_replaced_and_the_logs_conform(tmp_path: Path, capsys):
    c = ClusterCommand(tmp_path / "data")
    try:
        old, term = wait_for("a leader", lambda: leader_of(c.client, (1, 2, 3)))
        c.client.put("k", "before")
        assert c.control(f"isolate {old}") == "ok"
        others = [n for n in (1, 2, 3) if n != old]
        wait_for("a new leader", lambda: leader_of(c.client, others, term))
        c.client.put("k", "during")
        assert c.control("heal") == "ok"
        wait_for("the old leader to follow", lambda: statuses(c.client, [old]).get(
            old, {}).get("role") == "follower")
        assert c.client.get("k") == "during"
    finally:
        assert c.stop() == 0
    capsys.readouterr()
    assert main(["conform", "raft", "--logs", str(tmp_path / "data")]) == 0


def test_an_idle_cluster_does_not_log_its_heartbeats(tmp_path: Path):
    # Long election timeouts (1-2 s): on a loaded machine a late heartbeat must not start an
    # election in the window watched.
    cluster = Cluster(tmp_path, extra=("--election-ticks", "50"))
    client = Client(cluster.addrs, client_id="idle", timeout=WAIT_S, request_timeout=0.5)
    try:
        for n in (1, 2, 3):
            cluster.start(n)
        client.put("k", "v")
        wait_for("every node to apply the put", lambda: all(
            cluster.status(n).get("applied", 0) >= 2 for n in (1, 2, 3)))
        time.sleep(0.5)  # the commit index reaches every follower in a logged heartbeat

        def lines() -> int:
            return sum(len((tmp_path / f"node{n}" / "events.jsonl").read_bytes().splitlines())
                       for n in (1, 2, 3))

        before = lines()
        time.sleep(1.0)  # 25 heartbeat rounds at the server's default timing
        assert lines() == before
    finally:
        cluster.stop_all()


def test_a_nemesis_schedule_kills_and_restarts_a_node_at_its_times(tmp_path: Path):
    nemesis = tmp_path / "nemesis.txt"
    nemesis.write_text("# seconds command\n3 kill 2\n4 restart 2\n")
    data = tmp_path / "data"
    proc = subprocess.run(
        [sys.executable, "-m", "protospec", "cluster", "raft", "--base-port", "0", "--data",
         str(data), "--nemesis", str(nemesis), "--for", "8"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    applied = [line.split(" ", 1)[1] for line in (data / "nemesis.log").read_text().splitlines()]
    assert applied == ["kill 2", "restart 2"]
    # Both applied without error: the kill found node 2 running, the restart found it dead.
    assert "nemesis: kill 2" in proc.stdout and "nemesis: restart 2" in proc.stdout


def test_a_nemesis_file_with_an_unknown_command_is_refused_before_anything_starts(tmp_path):
    nemesis = tmp_path / "nemesis.txt"
    nemesis.write_text("1 explode 2\n")
    assert main(["cluster", "raft", "--data", str(tmp_path / "d"), "--nemesis",
                 str(nemesis)]) == 2
    assert not (tmp_path / "d").exists()
