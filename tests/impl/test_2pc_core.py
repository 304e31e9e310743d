"""The sans-IO two-phase commit cores, one behaviour per test (Reference: Gray and Lamport,
"Consensus on Transaction Commit", section 3; recovery as in section 4.2's 2PC discussion)."""

from __future__ import annotations

import random
import subprocess
import sys

from protospec.impl.runtime.core import decode_record
from protospec.impl.runtime.local import ROOT
from protospec.impl.runtime.storage import FileBackend, RecordLog, record_spans
from protospec.impl.two_phase_commit.core import COORDINATOR, make_node

RMS = (2, 3, 4)


def node(i, records=(), boot=0, bug=None):
    return make_node(i, 4, list(records), boot, random.Random(0), bug)


def prepare(txn="t", key="k", value="v", dst=2):
    return {"type": "prepare", "src": 1, "dst": dst, "id": f"p.{dst}", "txn": txn,
            "key": key, "value": value}


def vote(rm, txn="t", kind="prepared"):
    return {"type": kind, "src": rm, "dst": 1, "id": f"v.{rm}", "txn": txn}


def test_the_tm_commits_only_when_every_participant_has_prepared_and_logs_it_first():
    tm = node(COORDINATOR)
    tm.ready()
    tm.request("h", {"op": "txn", "txn": "t", "key": "k", "value": "v"})
    assert {m["dst"] for m in tm.ready().messages if m["type"] == "prepare"} == set(RMS)
    tm.step(vote(2))
    tm.step(vote(3))
    rd = tm.ready()
    assert not rd.records and all(m["type"] != "commit" for m in rd.messages)
    tm.step(vote(4))
    rd = tm.ready()
    assert [decode_record(r) for r in rd.records] == [{"txn": "t", "decision": "commit"}]
    assert [e["action"] for e in rd.events] == ["tm_rcv_prepared", "tm_commit"]
    assert rd.replies == [("h", {"ok": True, "txn": "t", "outcome": "committed"})]


def test_a_participant_logs_its_vote_before_sending_prepared():
    rm = node(2)
    rm.ready()
    rm.step(prepare())
    rd = rm.ready()
    assert decode_record(rd.records[0])["state"] == "prepared"
    assert [m["type"] for m in rd.messages] == ["prepared"]


def test_a_participant_refuses_a_transaction_whose_key_another_prepared_one_holds():
    rm = node(2)
    rm.step(prepare("t1"))
    rm.step(prepare("t2"))
    rd = rm.ready()
    assert [e["action"] for e in rd.events][-1] == "rm_choose_to_abort"
    assert rd.messages[-1]["type"] == "refused"


def test_a_restarted_tm_resends_its_logged_decision():
    tm = node(COORDINATOR, [b'{"decision":"commit","txn":"t"}'], boot=1)
    rd = tm.ready()
    assert sorted((m["dst"], m["type"]) for m in rd.messages) == [(k, "commit") for k in RMS]


def test_a_restarted_prepared_participant_asks_for_the_outcome():
    rm = node(2, [b'{"key":"k","state":"prepared","txn":"t","value":"v"}'], boot=1)
    rm.ready()
    for _ in range(10):
        rm.tick()
    assert [(m["type"], m["txn"]) for m in rm.ready().messages] == [("decision_request", "t")]


def test_a_tm_asked_about_a_transaction_it_never_decided_since_restarting_aborts_it():
    tm = node(COORDINATOR, boot=1)
    tm.ready()
    tm.step(vote(3, kind="decision_request"))
    rd = tm.ready()
    assert [decode_record(r) for r in rd.records] == [{"txn": "t", "decision": "abort"}]


def test_a_node_whose_log_is_corrupt_in_the_middle_refuses_to_start(tmp_path):
    data = tmp_path / "node2"
    data.mkdir()
    log = RecordLog(FileBackend(data / "state.log"))
    log.recover()
    for k in range(3):
        log.append(b'{"state":"aborted","txn":"t%d"}' % k)
    log.sync()
    log.close()
    raw = bytearray((data / "state.log").read_bytes())
    start, _ = record_spans(bytes(raw))[1]
    raw[start + 14] ^= 0xFF  # a flipped bit in the second record's payload
    (data / "state.log").write_bytes(bytes(raw))
    p = subprocess.run([sys.executable, "-m", "protospec.impl.two_phase_commit.server", "--id",
                        "2", "--cluster", "127.0.0.1:1,127.0.0.1:2", "--data", str(data)],
                       cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert p.returncode == 2
    assert f"record 2 at byte offset {start}" in p.stderr and "left unchanged" in p.stderr
