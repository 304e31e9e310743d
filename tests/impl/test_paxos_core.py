"""The sans-IO Multi-Paxos node, one behaviour per test (Reference: Lamport, "Paxos Made
Simple", sections 2.2-2.3 for the acceptor, section 3 for the leader)."""

from __future__ import annotations

import random

from protospec.impl.paxos.core import encode_command, make_node
from protospec.impl.runtime.core import decode_record

OLD = encode_command("put", "k", "old", client="c", seq=1)
NEW = encode_command("put", "k", "new", client="c", seq=2)


def node(i, records=(), boot=0, bug=None):
    n = make_node(i, 3, list(records), boot, random.Random(i), bug)
    n.ready()
    return n


def silence(n):
    """Tick until the node, hearing no leader, starts a ballot; the events of that tick."""
    for _ in range(100):
        n.tick()
        events = n.ready().events
        if events:
            return events
    raise AssertionError("no ballot started")


def msg(kind, src, dst, **fields):
    return {"type": kind, "src": src, "dst": dst, "id": f"{kind}.{src}.{dst}", **fields}


def test_an_acceptor_logs_its_promise_before_answering_and_reports_its_votes():
    a = node(2)
    a.step(msg("2a", 1, 2, b=0, slot=0, cmd="x"))
    a.ready()
    a.step(msg("1a", 3, 2, b=2))
    rd = a.ready()
    assert decode_record(rd.records[0]) == {"k": "promise", "b": 2}
    assert rd.messages[0]["type"] == "1b" and rd.messages[0]["votes"] == {"0": [0, "x"]}


def test_an_acceptor_refuses_a_proposal_below_its_promise():
    a = node(2)
    a.step(msg("1a", 3, 2, b=2))
    a.ready()
    a.step(msg("2a", 1, 2, b=0, slot=0, cmd="x"))
    rd = a.ready()
    assert not rd.records and [m["type"] for m in rd.messages] == ["nack"]


def test_a_new_leader_reproposes_the_highest_ballot_vote_of_each_slot():
    p = node(2)
    assert [e["action"] for e in silence(p)] == ["phase1a"]  # node 2 starts ballot 1
    p.step(msg("1b", 2, 2, b=1, votes={"1": [0, OLD]}))
    p.step(msg("1b", 3, 2, b=1, votes={}))
    rd = p.ready()
    assert [e["action"] for e in rd.events] == ["become_leader", "phase2a", "phase2a"]
    assert [(e["slot"], e["cmd"]) for e in rd.events[1:]][1] == (1, OLD)
    assert "noop" in rd.events[1]["cmd"]  # slot 0 was free below a forced slot


def test_ballots_belong_to_one_node_each_and_grow_past_every_ballot_heard_of():
    p = node(3)
    p.step(msg("heartbeat", 1, 3, b=7, learned=[]))
    p.ready()
    b = silence(p)[0]["b"]
    assert b > 7 and b % 3 == 2  # node 3 owns ballots 2, 5, 8, ...


def test_a_learner_learns_a_slot_from_a_majority_of_votes_in_one_ballot():
    r = node(3)
    r.step(msg("2b", 1, 3, b=0, slot=0, cmd=NEW))
    assert not r.ready().events
    r.step(msg("2b", 2, 3, b=0, slot=0, cmd=NEW))
    rd = r.ready()
    assert [(e["action"], e["cmd"]) for e in rd.events] == [("learn", NEW)]
    assert decode_record(rd.records[0]) == {"k": "learn", "s": 0, "b": 0, "c": NEW}
    assert r.data == {"k": "new"}


def test_with_the_bug_a_restarted_acceptor_forgets_promises_it_did_not_vote_in():
    records = [b'{"b":4,"k":"promise"}']
    assert node(2, records, boot=1).max_bal == 4
    assert node(2, records, boot=1, bug="acceptor_forgets_promise").max_bal == -1
