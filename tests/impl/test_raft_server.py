"""Real server processes: what a user is owed when a disk is damaged, large values, framing
limits and peer authentication."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
from pathlib import Path

from protospec.impl.raft.client import Client
from protospec.impl.raft.core import RequestVoteRequest, message_to_dict
from protospec.impl.runtime.storage import record_spans
from protospec.impl.runtime.wire import MAX_FRAME, frame, recv_frame, seal_peer

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



def send_raw(addr: str, data: bytes) -> bytes:
    """Send bytes to a node and read until it closes the connection (or 10 s pass)."""
    host, _, port = addr.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out


def test_unauthenticated_peer_messages_are_refused_and_logged(tmp_path: Path):
    cluster = Cluster(tmp_path, nodes=1)
    cluster.start(1)
    try:
        term = wait_for("the node", lambda: cluster.status(1)).get("term")
        vote = message_to_dict(RequestVoteRequest("9.0.1", term + 5, 2, 1, 99, 99))
        # A Raft message with no MAC at all, and one sealed with the wrong secret.
        assert send_raw(cluster.addrs[0], frame(json.dumps(vote).encode())) == b""
        assert send_raw(cluster.addrs[0], frame(seal_peer(b"not the secret", vote))) == b""
        st = cluster.status(1)
        assert st["refused"] == 2 and st["term"] == term  # neither message was stepped
    finally:
        cluster.stop_all()
    out = (tmp_path / "node1.out").read_text()
    assert "refused an unauthenticated Raft message" in out
    assert "refused a peer frame whose HMAC does not verify" in out


def test_a_frame_over_the_maximum_gets_a_clear_error_reply(tmp_path: Path):
    cluster = Cluster(tmp_path, nodes=1)
    cluster.start(1)
    try:
        wait_for("the node", lambda: cluster.status(1))
        reply = send_raw(cluster.addrs[0], struct.pack(">I", MAX_FRAME + 1) + b"{")
        body = json.loads(reply[4:])
        assert body["error"] == "frame_too_large" and body["max"] == MAX_FRAME
        assert cluster.status(1)["ok"]  # the node is fine
    finally:
        cluster.stop_all()


def test_gets_are_answered_by_read_index_without_a_log_entry(tmp_path: Path):
    cluster = Cluster(tmp_path, nodes=3)
    for n in (1, 2, 3):
        cluster.start(n)
    client = Client(cluster.addrs, client_id="r", timeout=20, request_timeout=1)
    try:
        client.put("k", "v")
        leader = wait_for("the leader", lambda: next(
            (n for n in (1, 2, 3) if cluster.status(n).get("role") == "leader"), None))
        before = cluster.status(leader)["log_len"]
        assert [client.get("k") for _ in range(5)] == ["v"] * 5
        assert client.get("absent") is None
        assert cluster.status(leader)["log_len"] == before
    finally:
        cluster.stop_all()


def test_pipelined_requests_on_one_connection_are_each_answered_with_their_rid(tmp_path):
    cluster = Cluster(tmp_path, nodes=1)
    cluster.start(1)
    try:
        wait_for("a leader", lambda: cluster.status(1).get("role") == "leader")
        host, _, port = cluster.addrs[0].rpartition(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            for rid in range(1, 6):  # five requests before reading any reply
                req = {"op": "put", "key": f"p{rid}", "value": str(rid), "client": "pipe",
                       "seq": rid, "rid": rid}
                sock.sendall(frame(json.dumps(req).encode()))
            replies = [json.loads(recv_frame(sock)) for _ in range(5)]
        assert sorted(r["rid"] for r in replies) == [1, 2, 3, 4, 5]
        assert all(r["ok"] for r in replies)
        client = Client(cluster.addrs, client_id="check", timeout=10, request_timeout=1)
        assert [client.get(f"p{k}") for k in range(1, 6)] == ["1", "2", "3", "4", "5"]
    finally:
        cluster.stop_all()
