"""crdt: strong eventual consistency and the semilattice laws of merge, over explored states.

Reference: Shapiro, Preguiça, Baquero, Zawirski, "A comprehensive study of Convergent and
Commutative Replicated Data Types" (INRIA RR-7506, 2011): Specifications 6, 7, 8 and 15,
Definition 2.3 (SEC) and Theorem 2.1.
"""

from __future__ import annotations

from typing import Any

from protospec.explorer import check
from protospec.specs.crdt import CRDT, ELEMENT, LWWPayload, Op, State, StateMsg


def initial(sp: CRDT) -> State:
    (s,) = sp.init()
    return s


def seen_own_updates(replicas: int) -> tuple[frozenset, ...]:
    """Each replica has seen only its own first update (so SEC asks nothing of them)."""
    return tuple(frozenset({(i, 0)}) for i in range(replicas))


class Midpoint:
    """A made-up merge, commutative and idempotent but not associative: the rounded-up mean."""

    ops = (Op.INCREMENT,)

    def __init__(self, replicas: int) -> None:
        pass

    def initial(self) -> Any:
        return 0

    def update(self, p: int, i: int, op: Op, dot: Any) -> Any:
        return p + 2

    def merge(self, a: int, b: int) -> Any:
        return -((-a - b) // 2)

    def value(self, p: int) -> Any:
        return p


class MidpointCRDT(CRDT):
    """Not a spec of the catalogue: a CRDT spec whose merge is not associative."""

    def make_datatype(self) -> Any:
        return Midpoint(self.replicas)


def test_strong_convergence_fails_when_replicas_with_the_same_updates_differ():
    sp = CRDT(datatype="or_set")
    s = sp.step(initial(sp), "update", replica=0, op=Op.ADD)
    bad = s._replace(seen=(s.seen[0], s.seen[0]))  # replica 1 "saw" the add but lacks it
    assert sp.check_state(bad) == ["strong_convergence"]


def test_merge_commutative_fails_on_two_tied_lww_writes_with_a_local_bias():
    sp = CRDT.with_variant("lww_tie_keeps_local")()
    bad = initial(sp)._replace(payload=(LWWPayload(1, 0, 1), LWWPayload(1, 1, 2)),
                               seen=seen_own_updates(2))
    assert sp.check_state(bad) == ["merge_commutative"]


def test_merge_associative_fails_on_three_states_of_a_non_associative_merge():
    sp = MidpointCRDT(replicas=3)
    bad = initial(sp)._replace(payload=(0, 2, 4), seen=seen_own_updates(3))
    assert sp.check_state(bad) == ["merge_associative"]


def test_merge_idempotent_fails_on_a_counter_whose_merge_adds():
    sp = CRDT.with_variant("g_counter_merge_adds")()
    bad = initial(sp)._replace(payload=((1, 0), (0, 0)), seen=seen_own_updates(2))
    assert sp.check_state(bad) == ["merge_idempotent"]


def test_a_non_associative_merge_is_caught_by_exploration():
    result = check(MidpointCRDT(replicas=3, updates=2))
    assert [v.property for v in result.violations] == ["merge_associative"]


def test_or_set_add_wins_over_a_concurrent_remove():
    sp = CRDT(datatype="or_set")
    s = sp.step(initial(sp), "update", replica=0, op=Op.ADD)
    s = sp.step(s, "send", src=0, dst=1)
    s = sp.step(s, "deliver", m=next(iter(s.msgs)))
    s = sp.step(s, "update", replica=1, op=Op.REMOVE)  # removes the add it has seen
    s = sp.step(s, "update", replica=0, op=Op.ADD)  # concurrent: a fresh tag
    s = sp.step(s, "send", src=0, dst=1)
    s = sp.step(s, "send", src=1, dst=0)
    for m in sorted(s.msgs, key=lambda m: (m.dst, len(m.seen))):
        s = sp.step(s, "deliver", m=m) or s
    assert [sp.dt.value(p) for p in s.payload] == [frozenset({ELEMENT})] * 2


def test_a_duplicated_state_message_changes_nothing():
    sp = CRDT(datatype="g_counter")
    s = sp.step(initial(sp), "update", replica=0, op=Op.INCREMENT)
    s = sp.step(s, "send", src=0, dst=1)
    (m,) = s.msgs
    s = sp.step(s, "deliver", m=m)
    assert s.payload[1] == (1, 0)
    assert sp.step(s, "deliver", m=m) is None


def test_lww_register_breaks_timestamp_ties_by_writer():
    sp = CRDT(datatype="lww_register")
    s = sp.step(initial(sp), "update", replica=0, op=Op.ASSIGN)
    s = sp.step(s, "update", replica=1, op=Op.ASSIGN)
    s = sp.step(s, "send", src=1, dst=0)
    s = sp.step(s, "deliver", m=StateMsg(0, s.payload[1], s.seen[1]))
    assert s.payload[0] == LWWPayload(1, 1, 2)


def test_three_or_set_replicas_converge():
    result = check(CRDT(datatype="or_set", replicas=3, updates=2))
    assert result.ok
    assert (result.stats.distinct_states, result.stats.depth) == (31208, 17)
