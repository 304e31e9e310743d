"""quorum_kv: quorum intersection gives regular reads; a session token gives monotonic reads.

Reference: DeCandia et al., Dynamo (SOSP 2007), section 4.5 (R + W > N) and 4.7 (read repair);
Terry et al., Session Guarantees (PDIS 1994).
"""

from __future__ import annotations

import pytest

from protospec.explorer import UsageError, check
from protospec.specs.quorum_kv import IDLE_CLIENT, Op, Put, QuorumKV


def initial(sp: QuorumKV):
    (s,) = sp.init()
    return s


def getting(**fields):
    return IDLE_CLIENT._replace(op=Op.GETTING, **fields)


def test_acked_put_on_w_replicas_fails_when_fewer_than_w_replicas_hold_it():
    sp = QuorumKV()
    bad = initial(sp)._replace(store=(1, 0, 0), latest_acked=1, next_version=2)
    assert sp.check_state(bad) == ["acked_put_on_w_replicas"]


def test_read_returns_latest_acked_fails_on_a_get_older_than_an_earlier_acknowledged_put():
    sp = QuorumKV()
    s = initial(sp)._replace(clients=(IDLE_CLIENT, getting(floor=1)))
    t = s._replace(clients=(IDLE_CLIENT, IDLE_CLIENT))
    assert sp.check_step(s, t) == ["read_returns_latest_acked"]


def test_read_your_writes_fails_on_a_get_older_than_the_clients_own_put():
    sp = QuorumKV()
    s = initial(sp)._replace(clients=(getting(last_write=1), IDLE_CLIENT))
    t = s._replace(clients=(IDLE_CLIENT._replace(last_write=1), IDLE_CLIENT))
    assert sp.check_step(s, t) == ["read_your_writes"]


def test_monotonic_reads_fails_on_a_get_older_than_the_previous_get():
    sp = QuorumKV()
    s = initial(sp)._replace(clients=(getting(last_read=1), IDLE_CLIENT))
    t = s._replace(clients=(IDLE_CLIENT, IDLE_CLIENT))
    assert sp.check_step(s, t) == ["monotonic_reads"]


def test_a_get_returns_the_newest_of_r_replies_and_repairs_the_stale_repliers():
    sp = QuorumKV()
    s = initial(sp)._replace(store=(1, 0, 0), next_version=2)
    s = sp.step(s, "get_begin", c=1)
    s = sp.step(s, "replica_get", c=1, r=0)
    assert sp.step(s, "get_complete", c=1) is None  # one reply, R = 2
    s = sp.step(sp.step(s, "replica_get", c=1, r=1), "get_complete", c=1)
    assert s.clients[1].last_read == 1
    assert s.puts == frozenset({Put(1, 1)})


def test_a_get_waits_for_a_reply_as_new_as_the_session_token():
    sp = QuorumKV()
    s = initial(sp)._replace(clients=(IDLE_CLIENT._replace(last_read=1), IDLE_CLIENT),
                             store=(1, 0, 0), next_version=2)
    s = sp.step(s, "get_begin", c=0)
    s = sp.step(sp.step(s, "replica_get", c=0, r=1), "replica_get", c=0, r=2)
    assert sp.step(s, "get_complete", c=0) is None
    s = sp.step(sp.step(s, "replica_get", c=0, r=0), "get_complete", c=0)
    assert s.clients[0].last_read == 1


def test_a_put_is_acknowledged_after_w_replicas_store_it():
    sp = QuorumKV()
    s = sp.step(initial(sp), "put_begin", c=0)
    s = sp.step(s, "replica_put", m=Put(2, 1))
    assert sp.step(s, "put_complete", c=0) is None
    s = sp.step(sp.step(s, "replica_put", m=Put(0, 1)), "put_complete", c=0)
    assert s.latest_acked == 1 and s.clients[0].last_write == 1


def test_r_plus_w_greater_than_n_holds_at_the_extremes():
    assert check(QuorumKV(r=1, w=3)).ok
    assert check(QuorumKV(r=3, w=1, clients=1)).ok


def test_r_plus_w_at_most_n_chosen_as_parameters_gives_a_stale_read():
    result = check(QuorumKV(r=1, w=2))
    assert [v.property for v in result.violations] == ["read_returns_latest_acked"]
    assert len(result.violations[0].trace) == 7


def test_quorums_larger_than_n_are_refused():
    with pytest.raises(UsageError, match="at most N"):
        QuorumKV(replicas=2, r=3)
