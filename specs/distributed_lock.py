"""A lock service with leases and fencing tokens: a paused client cannot clobber the resource.

Sources: Martin Kleppmann, "How to do distributed locking" (blog post, 8 February 2016),
sections "Protecting a resource with a lock" and "Making the lock safe with fencing", and the
same argument in his "Designing Data-Intensive Applications" (O'Reilly, 2017), chapter 8,
"The leader and the lock"; the idea of a *sequencer* checked by the resource is Mike Burrows,
"The Chubby lock service for loosely-coupled distributed systems" (OSDI 2006), section 2.4.

The idea: a lock server grants the lock as a *lease*: it expires after ``lease_ticks`` ticks
unless renewed, so a crashed holder cannot block everyone forever. But a holder can also
*pause* — a stop-the-world GC, a page fault, a slow network — after checking that its lease is
still valid and before its write reaches the storage. Meanwhile the lease expires, the lock
server grants it to another client, that client writes, and then the paused client's write
lands on top: two holders' writes interleave and the resource is corrupted. The fix is a
*fencing token*: every grant comes with a number that grows by one with each grant, the client
sends it with each write, and the storage remembers the largest token it has accepted and
rejects any write with a smaller one.

What fencing can and cannot promise: a write from a superseded lease that reaches the storage
*before* any write under the newer lease is accepted (the storage cannot tell it from a slow
but valid one); what it forbids is a write from a superseded lease *after* a write under the
newer lease. That is the property checked: the accepted writes' tokens never decrease, i.e.
the lease holders' writes never interleave on the resource.

The pause needs no action of its own: between ``check_lease`` and ``send_write`` any number of
ticks and other clients' steps may happen, which is exactly what a pause is. The network
between clients and storage may reorder write requests. Left out: lease renewal, releasing
the lock early, lock-server failover (a replicated lock server) and clock drift.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated, NamedTuple

from protospec import Param, Spec, Symmetric, action, except_at, from_state, invariant

# Clients are interchangeable (the lock server grants to whichever asks): `--symmetry` explores
# one state per orbit of their permutations.
ClientId = Symmetric("Client", size="clients")

# -- state ------------------------------------------------------------------------------------

NONE = -1  # "no client holds the lease"
NO_TOKEN = 0  # the token of a client that holds none (tokens start at 1)


class Client(IntEnum):
    IDLE = 0  # does not think it holds the lock
    HOLDING = 1  # holds a lease (as far as it knows) and has not yet decided to write
    WRITING = 2  # has checked its lease is valid and is about to send its write


class WriteRequest(NamedTuple):
    """A write on its way to the storage, carrying the writer's fencing token."""

    client: ClientId.Id
    token: int


class State(NamedTuple):
    """The lock server, the clients, the network and the storage."""

    holder: ClientId.Id  # the client the lock server last granted the lease to (NONE at first)
    grants: int  # leases granted so far; the last grant's fencing token is this number
    lease_left: int  # ticks until the current lease expires (0: expired, the lock is free)
    # client[c]: what client c believes and is doing
    client: Annotated[tuple[Client, ...], ClientId.index]
    # token[c]: the fencing token of c's lease (NO_TOKEN if IDLE)
    token: Annotated[tuple[int, ...], ClientId.index]
    msgs: frozenset[WriteRequest]  # writes in flight to the storage
    max_token: int  # the largest token the storage has accepted a write with (its fence)
    written: tuple[int, ...]  # the resource: the tokens of the accepted writes, in order


class DistributedLock(Spec):
    """Leased lock with fencing tokens (Kleppmann 2016): lease holders' writes never interleave."""

    name = "distributed_lock"

    clients = Param(3, "number of clients", min=1, max=5)
    symmetric = (ClientId,)
    lease_ticks = Param(2, "ticks a lease lasts", min=1)
    max_grants = Param(4, "leases the lock server grants in a run (bounds the tokens)", min=1)

    def setup(self) -> None:
        self.C = range(self.clients)

    def init(self):
        n = self.clients
        yield State(holder=NONE, grants=0, lease_left=0, client=(Client.IDLE,) * n,
                    token=(NO_TOKEN,) * n, msgs=frozenset(), max_token=NO_TOKEN, written=())

    # -- actions ------------------------------------------------------------------------------

    @action(c="C")
    def acquire(self, s: State, c: int) -> State | None:
        """The lock server grants a free (or expired) lease to c, with the next fencing token."""
        if s.client[c] is not Client.IDLE or s.lease_left > 0 or s.grants >= self.max_grants:
            return None
        token = s.grants + 1
        return s._replace(
            holder=c,
            grants=token,
            lease_left=self.lease_ticks,
            client=except_at(s.client, c, Client.HOLDING),
            token=except_at(s.token, c, token),
        )

    @action
    def tick(self, s: State) -> State | None:
        """Time passes; the current lease comes one tick closer to expiring."""
        if s.lease_left == 0:
            return None
        return s._replace(lease_left=s.lease_left - 1)

    @action(c="C")
    def check_lease(self, s: State, c: int) -> State | None:
        """c checks that its lease is still valid and decides to write. (It may now pause.)"""
        if s.client[c] is not Client.HOLDING or s.holder != c or s.lease_left == 0:
            return None
        return s._replace(client=except_at(s.client, c, Client.WRITING))

    @action(c="C")
    def send_write(self, s: State, c: int) -> State | None:
        """c sends its write with its fencing token, and is done with this lease."""
        if s.client[c] is not Client.WRITING:
            return None
        return s._replace(
            client=except_at(s.client, c, Client.IDLE),
            token=except_at(s.token, c, NO_TOKEN),
            msgs=s.msgs | {WriteRequest(c, s.token[c])},
        )

    @action(m=from_state(lambda s: sorted(s.msgs)))
    def storage_write(self, s: State, m: WriteRequest) -> State | None:
        """The storage receives a write: it accepts it unless its token is older than one it has
        already accepted (the fence); a rejected write is dropped."""
        msgs = s.msgs - {m}
        if not self.fence_admits(s.max_token, m.token):
            return s._replace(msgs=msgs)
        return s._replace(msgs=msgs, max_token=max(s.max_token, m.token),
                          written=s.written + (m.token,))

    def fence_admits(self, max_token: int, token: int) -> bool:
        """The fencing check: a token below the largest accepted one is stale."""
        return token >= max_token

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def no_superseded_write(self, s: State) -> bool:
        """No write from a superseded lease is accepted after a write under a newer lease: the
        tokens of the accepted writes never decrease (mutual exclusion on the resource)."""
        return all(a <= b for a, b in zip(s.written, s.written[1:]))


# -- bug variants -----------------------------------------------------------------------------


@DistributedLock.variant("no_fencing", breaks="no_superseded_write")
class NoFencing(DistributedLock):
    """The storage accepts every write, whatever its token: a client that paused past its lease
    overwrites the new holder's write."""

    def fence_admits(self, max_token: int, token: int) -> bool:
        return True


# Measured (explorer.check, default parameters): 14,887 distinct states, depth 24, no
# violation. Other configurations and every variant's counterexample length:
# docs/specs/distributed_lock.md.
