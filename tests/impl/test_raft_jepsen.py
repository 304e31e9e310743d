"""Jepsen-style: five real node processes under `protospec cluster`, concurrent clients doing
put/get/cas for 15 s, and a nemesis that partitions, kills -9, restarts and leaves a
torn record at the tail of a node's log. What users are owed, checked afterwards:

* the clients' history is linearizable (the project's checker, kv model, key by key);
* every acknowledged write of a write-once key reads back at the end;
* ``protospec conform raft --logs`` passes on the nodes' event logs.

Jepsen's conventions: an operation that timed out completes ``info`` (it may or may not have
happened) and its client process never invokes again (a fresh process id takes over); a cas
that found another value completes ``fail``.
"""

from __future__ import annotations

import json
import random
import struct
import threading
import time
import zlib
from pathlib import Path

import pytest

from protospec.explorer.cli.main import main
from protospec.explorer.history import Verdict, check_linearizable, get_model, parse_history
from protospec.impl.raft.client import Client, Unavailable
from tests.impl.test_tcp_cluster import ClusterCommand, leader_of, wait_for

NODES = 5
CLIENTS = 5
RUN_S = 15.0  # client traffic under faults
FAULT_EVERY_S = 1.5
SNAPSHOT_ENTRIES = 50  # nodes compact their logs often, so snapshots live through the faults
THINK_S = 0.05  # a client's pause between operations: keeps the log (and the check) small
SHARED_KEYS = ("a", "b", "c")


class Recorder:
    """The history, in real-time order: invocations and completions appended as they happen."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[dict] = []
        self.acked_unique: dict[str, str] = {}

    def add(self, process: int, kind: str, f: str, value) -> None:
        with self.lock:
            self.events.append({"process": process, "type": kind, "f": f, "value": value})


def client_loop(addrs: list[str], worker: int, stop: threading.Event, rec: Recorder) -> None:
    rng = random.Random(worker)
    process = worker
    client = Client(addrs, client_id=f"w{worker}p{process}", timeout=2.0, request_timeout=0.5)
    n = 0
    while not stop.wait(THINK_S):
        n += 1
        roll = rng.random()
        value = f"{worker}.{n}"
        if roll < 0.2:  # a write-once key: it must read back at the end
            key, f, inv = f"u-{worker}-{n}", "write", [f"u-{worker}-{n}", value]
        else:
            key = rng.choice(SHARED_KEYS)
            if roll < 0.5:
                f, inv = "write", [key, value]
            elif roll < 0.8:
                f, inv = "read", [key, None]
            else:
                old = f"{rng.randrange(CLIENTS)}.{rng.randrange(max(1, n))}"
                f, inv = "cas", [key, [old, value]]
        rec.add(process, "invoke", f, inv)
        try:
            result = perform(client, f, inv)
        except Unavailable:
            rec.add(process, "info", f, inv)
            # Jepsen: a process whose operation is indeterminate never invokes again.
            process += CLIENTS
            client = Client(addrs, client_id=f"w{worker}p{process}", timeout=2.0,
                            request_timeout=0.5)
            continue
        if f == "read":
            rec.add(process, "ok", f, [key, result])
        elif f == "cas":
            rec.add(process, "ok" if result else "fail", f, inv)
        else:
            rec.add(process, "ok", f, inv)
            if key.startswith("u-"):
                with rec.lock:
                    rec.acked_unique[key] = value


def perform(client: Client, f: str, inv: list):
    key, arg = inv
    if f == "read":
        return client.get(key)
    if f == "cas":
        return client.cas(key, arg[0], arg[1])
    return client.put(key, arg)


def tear_tail(log: Path, rng: random.Random) -> str:
    """Append what a crash in the middle of an append leaves: part of a record."""
    if rng.random() < 0.5:
        length = 300
        head = struct.pack(">II", length, 0x12345678)
        torn = head + struct.pack(">I", zlib.crc32(head)) + bytes(rng.randrange(256)
                                                                  for _ in range(40))
    else:
        torn = bytes([0, 0, 1, 7, 9])  # inside the header
    with open(log, "ab") as f:
        f.write(torn)
    return f"{len(torn)} bytes"


def nemesis(c: ClusterCommand, stop: threading.Event, faults: list[str]) -> None:
    rng = random.Random(7)
    kinds = ["partition", "kill", "torn", "isolate"]
    k = 0
    while not stop.wait(FAULT_EVERY_S):
        kind = kinds[k % len(kinds)]
        k += 1
        node = rng.randrange(1, NODES + 1)
        if kind == "partition":
            nodes = list(range(1, NODES + 1))
            rng.shuffle(nodes)
            groups = f"{','.join(map(str, nodes[:2]))}/{','.join(map(str, nodes[2:]))}"
            assert c.control(f"partition {groups}") == "ok"
            faults.append(f"partition {groups}")
            if stop.wait(FAULT_EVERY_S):
                break
            assert c.control("heal") == "ok"
        elif kind == "isolate":
            assert c.control(f"isolate {node}") == "ok"
            faults.append(f"isolate {node}")
            if stop.wait(FAULT_EVERY_S):
                break
            assert c.control("heal") == "ok"
        else:
            assert c.control(f"kill {node}") == "ok"
            faults.append(f"kill -9 {node}")
            if kind == "torn":
                what = tear_tail(c.data / f"node{node}" / "raft.log", rng)
                faults.append(f"torn tail {node} ({what})")
            stop.wait(FAULT_EVERY_S / 2)
            assert c.control(f"restart {node}") == "ok"
            faults.append(f"restart {node}")
    c.control("heal")


@pytest.mark.slow
def test_five_nodes_under_partitions_kills_and_torn_tails_stay_linearizable(tmp_path: Path,
                                                                            capsys):
    c = ClusterCommand(tmp_path / "data", NODES,
                       f"--node-arg=--snapshot-entries={SNAPSHOT_ENTRIES}")
    rec = Recorder()
    faults: list[str] = []
    stop = threading.Event()
    try:
        wait_for("a leader", lambda: leader_of(c.client, range(1, NODES + 1)))
        workers = [threading.Thread(target=client_loop, args=(c.addrs, w, stop, rec))
                   for w in range(CLIENTS)]
        nem = threading.Thread(target=nemesis, args=(c, stop, faults))
        for t in (*workers, nem):
            t.start()
        time.sleep(RUN_S)
        stop.set()
        for t in (*workers, nem):
            t.join(timeout=60)
        # Heal, bring every node back, and read everything through a fresh client.
        c.control("heal")
        for k in range(1, NODES + 1):
            if k not in c.pids():
                c.control(f"restart {k}")
        wait_for("a leader", lambda: leader_of(c.client, range(1, NODES + 1)))
        final = Client(c.addrs, client_id="final", timeout=30, request_timeout=1)
        for key in SHARED_KEYS:
            rec.add(10_000, "invoke", "read", [key, None])
            rec.add(10_000, "ok", "read", [key, final.get(key)])
        lost = {k: v for k, v in sorted(rec.acked_unique.items()) if final.get(k) != v}
    finally:
        stop.set()
        assert c.stop() == 0

    ops = sum(1 for e in rec.events if e["type"] == "invoke")
    done = {kind: sum(1 for e in rec.events if e["type"] == kind) for kind in ("ok", "fail",
                                                                              "info")}
    (tmp_path / "history.jsonl").write_text("".join(json.dumps(e) + "\n" for e in rec.events))
    print(f"jepsen: {ops} operations ({done}), {len(rec.acked_unique)} write-once keys, "
          f"faults: {len(faults)}: {'; '.join(faults)}")
    assert not lost, f"acknowledged writes lost: {lost}"
    assert ops > 50 and done["ok"] > 25, "too little traffic to mean anything"
    assert any(f.startswith("torn") for f in faults) and any(f.startswith("kill") for f in faults)
    result = check_linearizable(parse_history(json.dumps(e) for e in rec.events),
                                get_model("kv"), timeout=120)
    assert result.verdict is Verdict.VALID, result
    out = capsys.readouterr().out
    assert main(["conform", "raft", "--logs", str(tmp_path / "data")]) == 0, \
        capsys.readouterr().out
    restarts = sum((tmp_path / "data" / f"node{k}.out").read_text().count("repaired a torn")
                   for k in range(1, NODES + 1))
    assert restarts >= 1  # the torn tails were found and repaired on restart, and said so
    compactions = sum(_count_actions(tmp_path / "data" / f"node{k}", "compact")
                      for k in range(1, NODES + 1))
    assert compactions >= 1  # the run did exercise snapshots, so it vouches for them
    installs = sum(_count_actions(tmp_path / "data" / f"node{k}",
                                  "handle_install_snapshot_request") for k in range(1, NODES + 1))
    print(f"jepsen: {compactions} compactions, {installs} InstallSnapshot requests handled")
    print(out)


def _count_actions(node_dir: Path, action: str) -> int:
    """How many events of ``action`` a node logged (every rotated segment of events.jsonl)."""
    return sum(json.loads(line).get("action") == action
               for f in sorted(node_dir.glob("events.jsonl*"))
               for line in f.read_text().splitlines() if line.strip().endswith("}"))
