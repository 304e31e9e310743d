"""consistent_hashing: one owner per key, and joins and leaves that move only their arcs.

Reference: Karger et al., "Consistent Hashing and Random Trees" (STOC '97), section 4
(monotonicity); the arc hand-off of Chord (SIGCOMM '01, section 4.4).
"""

from __future__ import annotations

import pytest

from protospec.explorer import check
from protospec.specs.consistent_hashing import ConsistentHashing, State, ring_position


def state(spec: ConsistentHashing, members: set[int], stored: dict[int, set[int]]) -> State:
    written = frozenset(k for keys in stored.values() for k in keys)
    return State(frozenset(members),
                 tuple(frozenset(stored.get(n, ())) for n in spec.N), written)


# -- behaviour --------------------------------------------------------------------------------


@pytest.mark.parametrize(("nodes", "keys"), [(3, 3), (4, 4), (5, 6)])
def test_the_data_layout_depends_only_on_membership_and_written_keys(nodes, keys):
    # Every non-empty membership with every set of written keys is reachable, and no two
    # histories leading there store the keys differently: (2**nodes - 1) * 2**keys states.
    result = check(ConsistentHashing(nodes=nodes, keys=keys))
    assert result.ok
    assert result.stats.distinct_states == (2 ** nodes - 1) * 2 ** keys


def test_a_join_moves_exactly_the_keys_whose_lookup_now_names_the_joining_node():
    spec = ConsistentHashing()
    s = state(spec, {0, 1}, {})
    for k in spec.K:
        s = spec.step(s, "put", k=k)
    t = spec.step(s, "join", n=2)
    moved = {k for k in spec.K if k not in t.stored[spec.lookup(s.members, k)]}
    assert moved == {k for k in spec.K if spec.lookup(t.members, k) == 2}
    assert moved and moved == set(t.stored[2])


def test_the_last_node_cannot_leave():
    spec = ConsistentHashing()
    assert spec.step(state(spec, {3}, {3: {0}}), "leave", n=3) is None


def test_ring_positions_come_from_sha256_so_the_layout_is_the_same_on_every_run():
    # Python's hash() of a str changes with PYTHONHASHSEED; the ring must not.
    spec = ConsistentHashing()
    assert ring_position("key-0", 16) == 26160
    assert spec.key_points[0] == 26160
    assert spec.vnode_points[0] == (5995, 54752, 58048)


# -- non-vacuity: each property fails on a hand-built state or step ---------------------------


def test_exactly_one_owner_fails_when_two_nodes_store_a_key():
    spec = ConsistentHashing()
    k = 0
    owner = spec.lookup(frozenset({0, 1}), k)
    other = 1 - owner
    assert spec.check_state(state(spec, {0, 1}, {owner: {k}, other: {k}})) == \
        ["exactly_one_owner"]


def test_exactly_one_owner_fails_when_a_written_key_is_stored_nowhere():
    spec = ConsistentHashing()
    lost = State(frozenset({0}), (frozenset(),) * spec.nodes, frozenset({0}))
    assert spec.check_state(lost) == ["exactly_one_owner", "lookup_finds_key"]


def test_lookup_finds_key_fails_when_the_only_copy_is_on_another_node():
    spec = ConsistentHashing()
    k = 0
    owner = spec.lookup(frozenset({0, 1}), k)
    assert spec.check_state(state(spec, {0, 1}, {1 - owner: {k}})) == ["lookup_finds_key"]


def test_monotonicity_fails_when_a_key_moves_between_nodes_that_stay():
    spec = ConsistentHashing()
    s = state(spec, {0, 1, 2}, {0: {0}})
    t = state(spec, {0, 1, 2, 3}, {1: {0}})  # node 3 joined, yet key 0 went from 0 to 1
    assert spec.check_step(s, t) == ["monotonicity"]
    assert spec.check_step(s, state(spec, {0, 1, 2, 3}, {3: {0}})) == []
