"""Dynamo-style quorum replication: N replicas, reads wait for R replies, writes for W acks.

Source: DeCandia et al., "Dynamo: Amazon's Highly Available Key-value Store" (SOSP 2007):
the quorum rule of section 4.5 (execution of get and put: "setting R and W such that R + W > N
yields a quorum-like system") and read repair as described in section 5 (implementation);
section 4.6's sloppy quorum with hinted handoff is left out, see below. The session guarantees
are those of Terry et al., "Session Guarantees for Weakly Consistent Replicated Data" (PDIS
1994): read-your-writes and monotonic reads.

The idea: one key is stored on N replicas. A put is sent to all N and is acknowledged to the
client once W replicas have stored it; a get asks all N and returns the newest version among the
first R replies, then repairs the stale replicas that replied (read repair). Every read quorum
then meets every write quorum when R + W > N, so a get returns a version at least
as new as every put acknowledged before the get began: a *regular* register (Lamport, "On
Interprocess Communication", 1986). A regular register is not atomic: a get that overlaps a put
may return the new version while a later get returns the old one. A session (a client) therefore
carries a token, the newest version it has read or written, and a get waits for replies until
it can return a version at least that new; that gives read-your-writes and monotonic reads.

Modelling choices. Versions come from one global counter (as if clocks were perfect), so they
are totally ordered; Dynamo's vector clocks and sibling versions are left out. A replica keeps
the newer of its version and an incoming one. Messages may be reordered and delayed forever —
for safety that also covers lost messages, crashed replicas and Dynamo's "sloppy" failures where
a coordinator proceeds with whichever R or W replicas answer. Requests to replicas are not
shown as messages: a replica answers a get the moment it processes it (``replica_get``), and a
put's acknowledgement reaches the client with the put (``replica_put``); the client still
decides when to complete. Hinted handoff (writes to a substitute replica outside the preference
list) is left out: with it, R + W > N no longer guarantees intersection, which Dynamo accepts.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated, NamedTuple

from protospec import (
    Param,
    Spec,
    Symmetric,
    UsageError,
    action,
    action_property,
    except_at,
    from_state,
    invariant,
)

# Replicas are interchangeable (any R or W of them form a quorum), and so are clients:
# `--symmetry` explores one state per orbit of both.
Replica = Symmetric("Replica", size="replicas")
ClientId = Symmetric("Client", size="clients")

# -- messages and state -----------------------------------------------------------------------


class Op(IntEnum):
    IDLE = 0
    PUTTING = 1
    GETTING = 2


class Put(NamedTuple):
    """A request to replica ``replica`` to store ``version`` (from a put or a read repair)."""

    replica: Replica.Id
    version: int


class Client(NamedTuple):
    op: Op  # the operation in progress
    version: int  # PUTTING: the version being written (0 otherwise)
    acks: frozenset[Replica.Id]  # PUTTING: the replicas that have stored it
    replies: frozenset[tuple[Replica.Id, int]]  # GETTING: (replica, version) replies so far
    floor: int  # GETTING: newest acknowledged version when the get began (for the property)
    last_read: int  # the version this client's previous get returned
    last_write: int  # the version of this client's last acknowledged put


IDLE_CLIENT = Client(Op.IDLE, 0, frozenset(), frozenset(), 0, 0, 0)


class State(NamedTuple):
    # store[r]: the version replica r holds (0: the initial value)
    store: Annotated[tuple[int, ...], Replica.index]
    puts: frozenset[Put]  # put requests in flight to replicas
    clients: Annotated[tuple[Client, ...], ClientId.index]  # each client's session
    next_version: int  # the version the next put will write
    latest_acked: int  # the newest version whose put has been acknowledged


class QuorumKV(Spec):
    """Dynamo-style N/R/W quorums: with R + W > N, a read sees every acknowledged write."""

    name = "quorum_kv"

    replicas = Param(3, "N: replicas holding the key", min=1, max=5)
    r = Param(2, "R: replies a get waits for", min=1, max=5)
    w = Param(2, "W: acknowledgements a put waits for", min=1, max=5)
    clients = Param(2, "clients (sessions), each doing one get or put at a time", min=1, max=3)
    writes = Param(1, "number of puts in total (versions 1..writes)", min=1, max=4)
    symmetric = (Replica, ClientId)

    def setup(self) -> None:
        if self.r > self.replicas or self.w > self.replicas:
            raise UsageError(f"spec {self.name!r}: R and W must be at most N={self.replicas}")
        self.REPLICA = range(self.replicas)
        self.CLIENT = range(self.clients)
        self.read_quorum = self.r
        self.write_quorum = self.w

    def init(self):
        yield State(
            store=(0,) * self.replicas,
            puts=frozenset(),
            clients=(IDLE_CLIENT,) * self.clients,
            next_version=1,
            latest_acked=0,
        )

    # -- puts ---------------------------------------------------------------------------------

    @action(c="CLIENT")
    def put_begin(self, s: State, c: int) -> State | None:
        """put(key, value): the coordinator sends the next version to all N replicas."""
        cl = s.clients[c]
        if cl.op is not Op.IDLE or s.next_version > self.writes:
            return None
        v = s.next_version
        return s._replace(
            puts=s.puts | {Put(r, v) for r in self.REPLICA},
            clients=except_at(s.clients, c, cl._replace(op=Op.PUTTING, version=v)),
            next_version=v + 1,
        )

    @action(m=from_state(lambda s: sorted(s.puts)))
    def replica_put(self, s: State, m: Put) -> State | None:
        """A replica stores a put request's version if it is newer; a waiting put counts its ack."""
        clients = s.clients
        if any(cl.op is Op.PUTTING and cl.version == m.version for cl in clients):
            clients = tuple(
                cl._replace(acks=cl.acks | {m.replica})
                if cl.op is Op.PUTTING and cl.version == m.version else cl
                for cl in clients
            )
        return s._replace(store=except_at(s.store, m.replica, self.stored(s.store[m.replica], m)),
                          puts=s.puts - {m}, clients=clients)

    def stored(self, held: int, m: Put) -> int:
        """The version a replica keeps when it holds ``held`` and receives ``m``: the newer."""
        return max(held, m.version)

    @action(c="CLIENT")
    def put_complete(self, s: State, c: int) -> State | None:
        """W replicas have stored the version: the put is acknowledged to the client."""
        cl = s.clients[c]
        if cl.op is not Op.PUTTING or len(cl.acks) < self.write_quorum:
            return None
        done = IDLE_CLIENT._replace(last_read=cl.last_read, last_write=cl.version)
        return s._replace(clients=except_at(s.clients, c, done),
                          latest_acked=max(s.latest_acked, cl.version))

    # -- gets ---------------------------------------------------------------------------------

    @action(c="CLIENT")
    def get_begin(self, s: State, c: int) -> State | None:
        """get(key): the coordinator asks all N replicas for their version."""
        cl = s.clients[c]
        if cl.op is not Op.IDLE:
            return None
        return s._replace(clients=except_at(s.clients, c,
                                       cl._replace(op=Op.GETTING, floor=s.latest_acked)))

    @action(c="CLIENT", r="REPLICA")
    def replica_get(self, s: State, c: int, r: int) -> State | None:
        """Replica r answers client c's get with the version it holds now."""
        cl = s.clients[c]
        if cl.op is not Op.GETTING or any(rr == r for rr, _ in cl.replies):
            return None
        return s._replace(clients=except_at(s.clients, c,
                                       cl._replace(replies=cl.replies | {(r, s.store[r])})))

    @action(c="CLIENT")
    def get_complete(self, s: State, c: int) -> State | None:
        """R replicas have answered: return the newest version and repair the stale repliers.

        The session token: the get returns only a version at least as new as the newest this
        client has read or written; otherwise it waits for more replies.
        """
        cl = s.clients[c]
        if cl.op is not Op.GETTING or len(cl.replies) < self.read_quorum:
            return None
        best = max(v for _, v in cl.replies)
        if best < self.session_token(cl):
            return None
        repairs = {Put(r, best) for r, v in cl.replies if v < best}
        done = IDLE_CLIENT._replace(last_read=best, last_write=cl.last_write)
        return s._replace(puts=s.puts | repairs, clients=except_at(s.clients, c, done))

    def session_token(self, cl: Client) -> int:
        """The newest version this session has read or written."""
        return max(cl.last_read, cl.last_write)

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def acked_put_on_w_replicas(self, s: State) -> bool:
        """The newest acknowledged version (or a newer one) is held by at least W replicas."""
        return sum(v >= s.latest_acked for v in s.store) >= self.write_quorum

    @action_property
    def read_returns_latest_acked(self, s: State, t: State) -> bool:
        """Regular register: a get returns a version at least as new as every put acknowledged
        before the get began."""
        return all(t.clients[c].last_read >= s.clients[c].floor for c in _gets_done(s, t))

    @action_property
    def read_your_writes(self, s: State, t: State) -> bool:
        """A get returns a version at least as new as the client's own last acknowledged put."""
        return all(t.clients[c].last_read >= s.clients[c].last_write for c in _gets_done(s, t))

    @action_property
    def monotonic_reads(self, s: State, t: State) -> bool:
        """A client's successive gets return versions that never go back."""
        return all(t.clients[c].last_read >= s.clients[c].last_read for c in _gets_done(s, t))


def _gets_done(s: State, t: State) -> list[int]:
    """The clients whose get completes in the step s -> t."""
    before, after = s.clients, t.clients
    if before is after:  # most steps leave the clients alone: the fast path
        return []
    return [c for c in range(len(before))
            if before[c].op is Op.GETTING and after[c].op is Op.IDLE]


# -- bug variants -----------------------------------------------------------------------------


@QuorumKV.variant("r_plus_w_le_n", breaks="read_returns_latest_acked")
class PartialQuorum(QuorumKV):
    """Gets wait for only N - W replies, so R + W = N: a read quorum can miss the write quorum."""

    def setup(self) -> None:
        super().setup()
        self.read_quorum = max(1, self.replicas - self.w)


@QuorumKV.variant("no_session_token", breaks="monotonic_reads")
class NoSessionToken(QuorumKV):
    """The client forgets what it has read: after a get that saw an in-flight put, the next get
    of the same client may return the older version."""

    def session_token(self, cl: Client) -> int:
        return 0


@QuorumKV.variant("unversioned_store", breaks="acked_put_on_w_replicas")
class UnversionedStore(QuorumKV):
    """A replica stores whatever arrives last, so a delayed older put overwrites a newer one."""

    writes = Param(2, "number of puts in total (two: an older one must arrive late)", min=2, max=4)

    def stored(self, held: int, m: Put) -> int:
        return m.version


# Measured state counts: see docs/specs/quorum_kv.md.
