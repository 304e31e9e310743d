"""One real server process: what a user is owed when its disk is damaged, and large values."""

from __future__ import annotations

import subprocess
from pathlib import Path

from protospec.impl.raft.client import Client
from protospec.impl.runtime.storage import record_spans

from tests.impl.test_tcp_cluster import ROOT, Cluster, wait_for


def one_node_with_five_puts(tmp_path: Path) -> tuple[Cluster, Path]:
    cluster = Cluster(tmp_path, nodes=1)
    cluster.start(1)
    client = Client(cluster.addrs, client_id="c", timeout=20, request_timeout=1)
    try:
        for k in range(5):
            client.put(f"k{k}", f"v{k}")
    finally:
        cluster.stop_all()
    return cluster, tmp_path / "node1" / "raft.log"


def test_a_flipped_byte_in_the_middle_of_the_log_stops_the_node_naming_the_offset(tmp_path):
    cluster, log = one_node_with_five_puts(tmp_path)
    data = bytearray(log.read_bytes())
    spans = record_spans(bytes(data))
    start, end = spans[len(spans) // 2]
    data[(start + end) // 2] ^= 0x01
    log.write_bytes(bytes(data))
    proc = subprocess.run(cluster.argv(1), cwd=ROOT, env=cluster.env(), capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 2
    assert f"byte offset {start}" in proc.stderr and str(log) in proc.stderr
    assert f"record {len(spans) // 2 + 1}" in proc.stderr
    assert log.read_bytes() == bytes(data)


def test_a_torn_last_record_is_repaired_and_the_earlier_writes_are_kept(tmp_path: Path):
    cluster, log = one_node_with_five_puts(tmp_path)
    data = log.read_bytes()
    start, end = record_spans(data)[-1]
    log.write_bytes(data[:end - 3])
    cluster.start(1)
    client = Client(cluster.addrs, client_id="d", timeout=20, request_timeout=1)
    try:
        assert [client.get(f"k{k}") for k in range(4)] == ["v0", "v1", "v2", "v3"]
    finally:
        cluster.stop_all()
    out = (tmp_path / "node1.out").read_text()
    assert "repaired a torn last record" in out and f"byte offset {start}" in out


def test_a_one_mebibyte_value_round_trips_through_a_three_node_cluster(tmp_path: Path):
    cluster = Cluster(tmp_path, nodes=3)
    for n in (1, 2, 3):
        cluster.start(n)
    client = Client(cluster.addrs, client_id="big", timeout=30, request_timeout=5)
    value = "".join(chr(ord("a") + k % 26) for k in range(1 << 20))
    try:
        client.put("big", value)
        assert client.get("big") == value
        # Every follower stored it too: the entry travelled in one AppendEntries.
        wait_for("the followers to apply it", lambda: all(
            st.get("applied", 0) >= 2 for st in
            (cluster.status(n) for n in (1, 2, 3))))
    finally:
        cluster.stop_all()

