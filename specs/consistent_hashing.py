"""Consistent hashing with virtual nodes: nodes join and leave, and only the affected arcs move.

Source: David Karger, Eric Lehman, Tom Leighton, Rina Panigrahy, Matthew Levine and Daniel
Lewin, "Consistent Hashing and Random Trees: Distributed Caching Protocols for Relieving Hot
Spots on the World Wide Web" (STOC '97), section 4: buckets and items hashed onto the unit
circle, an item assigned to the closest bucket clockwise, each bucket replicated at several
points ("virtual nodes"), and the *monotonicity* property (when buckets are added, an item
moves only from an old bucket to a new one, never between old buckets). The join and leave
hand-off is the one of Chord (Stoica et al., SIGCOMM '01, section 4.4, "Node Joins") and
Dynamo (DeCandia et al., SOSP '07, sections 4.2 and 4.9): a joining node takes over from its
successor the keys of the arc it now covers; a leaving node hands its keys to its successors.

The idea: the ring is the integers modulo 2**ring_bits. Every node has ``vnodes`` points on it
and every key one point, all placed by a fixed hash (SHA-256, so the layout is the same on every
run). A key belongs to the node owning the first point at or after the key's point, going
clockwise. Membership changes are the protocol: each ``join`` or ``leave`` moves data between
nodes, arc by arc, and the properties check that the data always sits where a lookup will look
for it, that no key is lost or duplicated, and that a change moves only the keys of the arcs
it affects, which is what makes the hashing "consistent" (with ``hash mod n`` nearly every key
moves; see the variant).

Left out: replication of a key on several successors (Dynamo's preference lists), concurrent
or failed hand-offs (a join or leave is one atomic step here), the routing tables of Chord
(a lookup is computed from the membership directly), and load balance, which is a
probabilistic property of the hash and not a safety property of the protocol.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from typing import NamedTuple

from protospec import Param, Spec, action, action_property, except_at, invariant

NOBODY = -1  # the holder of a key that no node stores


class State(NamedTuple):
    members: frozenset[int]  # the nodes currently on the ring
    stored: tuple[frozenset[int], ...]  # stored[n]: the keys node n holds
    written: frozenset[int]  # the keys clients have written (each must be stored somewhere)


def ring_position(label: str, bits: int) -> int:
    """The point of ``label`` on a ring of 2**bits points (SHA-256, the same on every run)."""
    digest = hashlib.sha256(label.encode()).digest()
    return int.from_bytes(digest[:8], "big") % (1 << bits)


class ConsistentHashing(Spec):
    """Consistent hashing ring with virtual nodes: one owner per key, joins move only their arcs."""

    name = "consistent_hashing"

    nodes = Param(5, "number of nodes that may be on the ring", min=1, max=6)
    vnodes = Param(3, "virtual nodes (points on the ring) per node", min=1, max=8)
    keys = Param(6, "number of keys clients may write", min=1, max=8)
    ring_bits = Param(16, "the ring has 2**ring_bits points", min=8, max=32)

    def setup(self) -> None:
        self.N = range(self.nodes)
        self.K = range(self.keys)
        size = 1 << self.ring_bits
        # Points of virtual nodes: hash of "node-n#i", moved on by one point if taken, so every
        # point has one owner (the STOC '97 model assumes distinct points).
        taken: dict[int, int] = {}
        points = []
        for n in self.N:
            mine = []
            for i in range(self.vnodes):
                p = ring_position(f"node-{n}#{i}", self.ring_bits)
                while p in taken:
                    p = (p + 1) % size
                taken[p] = n
                mine.append(p)
            points.append(tuple(mine))
        self.vnode_points: tuple[tuple[int, ...], ...] = tuple(points)
        self.point_owner = taken  # ring point -> node
        self.key_points = tuple(ring_position(f"key-{k}", self.ring_bits) for k in self.K)
        # Lookups depend only on the membership: memoised per member set, filled as needed.
        self.lookup_table: dict[frozenset[int], tuple[int, ...]] = {}

    def init(self):
        # Node 0 starts the ring alone; no key is written yet.
        yield State(members=frozenset({0}), stored=(frozenset(),) * self.nodes,
                    written=frozenset())

    # -- the ring -----------------------------------------------------------------------------

    def ring(self, members: frozenset[int]) -> list[int]:
        """The points of the members' virtual nodes, sorted clockwise."""
        return sorted(p for n in members for p in self.vnode_points[n])

    def successor_point(self, ring: list[int], point: int) -> int:
        """The first ring point at or after ``point``, clockwise (wrapping past the top)."""
        i = bisect_left(ring, point)
        return ring[i] if i < len(ring) else ring[0]

    def lookup(self, members: frozenset[int], k: int) -> int:
        """The node a lookup of key k routes to: the owner of the first virtual node clockwise
        from the key's point."""
        table = self.lookup_table.get(members)
        if table is None:
            ring = self.ring(members)
            table = tuple(self.point_owner[self.successor_point(ring, kp)]
                          for kp in self.key_points)
            self.lookup_table[members] = table
        return table[k]

    def in_arc(self, point: int, after: int, upto: int) -> bool:
        """Whether ``point`` lies on the arc (after, upto], clockwise (the whole ring if equal)."""
        if after < upto:
            return after < point <= upto
        return point > after or point <= upto

    # -- actions ------------------------------------------------------------------------------

    @action(k="K")
    def put(self, s: State, k: int) -> State | None:
        """A client writes key k for the first time: it is stored on the node a lookup finds."""
        if k in s.written:
            return None
        owner = self.lookup(s.members, k)
        return s._replace(stored=except_at(s.stored, owner, s.stored[owner] | {k}),
                          written=s.written | {k})

    @action(n="N")
    def join(self, s: State, n: int) -> State | None:
        """Node n joins: for each of its virtual nodes, it takes over from the old successor
        point's owner the keys on the arc from the preceding point up to its own point."""
        if n in s.members:
            return None
        old_ring = self.ring(s.members)
        new_ring = self.ring(s.members | {n})
        stored = list(s.stored)
        for q in self.vnode_points[n]:
            i = new_ring.index(q)
            after = new_ring[i - 1]  # the preceding point, clockwise (wraps at i = 0)
            giver = self.point_owner[self.successor_point(old_ring, q)]
            moving = frozenset(k for k in stored[giver]
                               if self.in_arc(self.key_points[k], after, q))
            stored[giver] = stored[giver] - moving
            stored[n] = stored[n] | moving
        return s._replace(members=s.members | {n}, stored=tuple(stored))

    @action(n="N")
    def leave(self, s: State, n: int) -> State | None:
        """Node n leaves gracefully (never the last node): the keys on the arc of each of its
        virtual nodes go to the owner of the next point clockwise among the remaining nodes."""
        if n not in s.members or len(s.members) == 1:
            return None
        old_ring = self.ring(s.members)
        rest_ring = self.ring(s.members - {n})
        stored = list(s.stored)
        for q in self.vnode_points[n]:
            i = old_ring.index(q)
            after = old_ring[i - 1]
            taker = self.point_owner[self.successor_point(rest_ring, q)]
            moving = frozenset(k for k in stored[n] if self.in_arc(self.key_points[k], after, q))
            stored[n] = stored[n] - moving
            stored[taker] = stored[taker] | moving
        return s._replace(members=s.members - {n}, stored=tuple(stored))

    # -- properties ---------------------------------------------------------------------------

    def holders(self, s: State, k: int) -> list[int]:
        """The nodes storing key k."""
        return [n for n in self.N if k in s.stored[n]]

    @invariant
    def exactly_one_owner(self, s: State) -> bool:
        """Every written key is stored by exactly one node, a member; no node stores a key that
        was never written."""
        for k in self.K:
            holders = self.holders(s, k)
            if k in s.written:
                if len(holders) != 1 or holders[0] not in s.members:
                    return False
            elif holders:
                return False
        return True

    @invariant
    def lookup_finds_key(self, s: State) -> bool:
        """A lookup of any written key routes to a node that stores it."""
        return all(k in s.stored[self.lookup(s.members, k)] for k in s.written)

    @action_property
    def monotonicity(self, s: State, t: State) -> bool:
        """Only the affected arcs move (STOC '97's monotonicity, and its mirror for leaving):
        when a node joins, a key changes hands only to the joining node; when a node leaves,
        only the leaving node's keys change hands; otherwise no key moves."""
        joined = t.members - s.members
        left = s.members - t.members
        for k in s.written:
            before, after = _holder(s, k), _holder(t, k)
            if before == after:
                continue
            if joined and after in joined:
                continue
            if left and before in left:
                continue
            return False
        return True


def _holder(s: State, k: int) -> int:
    """The first node storing key k (NOBODY if none)."""
    for n, keys in enumerate(s.stored):
        if k in keys:
            return n
    return NOBODY


# -- bug variants -----------------------------------------------------------------------------


@ConsistentHashing.variant("mod_n_hashing", breaks="monotonicity")
class ModNHashing(ConsistentHashing):
    """Keys placed by hash mod (number of nodes): a join reassigns keys between old nodes too."""

    def lookup(self, members: frozenset[int], k: int) -> int:
        ordered = sorted(members)
        return ordered[self.key_points[k] % len(ordered)]

    def _rehash(self, s: State, members: frozenset[int]) -> State:
        stored = [set() for _ in self.N]
        for k in s.written:
            stored[self.lookup(members, k)].add(k)
        return s._replace(members=members, stored=tuple(frozenset(x) for x in stored))

    def join(self, s: State, n: int) -> State | None:
        if n in s.members:
            return None
        return self._rehash(s, s.members | {n})

    def leave(self, s: State, n: int) -> State | None:
        if n not in s.members or len(s.members) == 1:
            return None
        return self._rehash(s, s.members - {n})


@ConsistentHashing.variant("lookup_ignores_virtual_nodes", breaks="lookup_finds_key")
class LookupIgnoresVirtualNodes(ConsistentHashing):
    """Clients route by each node's first point only, while hand-offs move data by every point."""

    def lookup(self, members: frozenset[int], k: int) -> int:
        ring = sorted(self.vnode_points[n][0] for n in members)
        return self.point_owner[self.successor_point(ring, self.key_points[k])]


@ConsistentHashing.variant("join_keeps_old_copy", breaks="exactly_one_owner")
class JoinKeepsOldCopy(ConsistentHashing):
    """A joining node copies its arcs' keys but the old owner does not drop them."""

    def join(self, s: State, n: int) -> State | None:
        if n in s.members:
            return None
        old_ring = self.ring(s.members)
        new_ring = self.ring(s.members | {n})
        stored = list(s.stored)
        for q in self.vnode_points[n]:
            i = new_ring.index(q)
            after = new_ring[i - 1]
            giver = self.point_owner[self.successor_point(old_ring, q)]
            stored[n] = stored[n] | frozenset(
                k for k in stored[giver] if self.in_arc(self.key_points[k], after, q))
        return s._replace(members=s.members | {n}, stored=tuple(stored))


# Measured with explorer.check (no violation): 1,984 distinct states, depth 11 with the defaults,
# which is (2**nodes - 1) * 2**keys: the layout depends only on membership and written keys.
# Variants' shortest counterexamples: 3 steps (mod_n_hashing), 2 (lookup_ignores_virtual_nodes,
# join_keeps_old_copy). See docs/specs/consistent_hashing.md.
