"""The CAP trade-off: a register on two sites; under partition, consistency or availability.

Source: Seth Gilbert and Nancy Lynch, "Brewer's Conjecture and the Feasibility of Consistent,
Available, Partition-Tolerant Web Services" (SIGACT News 33(2), 2002), section 3 (Theorem 1,
asynchronous networks), after Eric Brewer's PODC 2000 keynote. Gilbert and Lynch define a
*consistent* service as an atomic (linearizable) read/write object, an *available* one as one in
which "every request received by a non-failing node in the system must result in a response",
and a partition as the loss of every message between two groups of nodes. Theorem 1: no
algorithm guarantees both in an asynchronous network that may partition.

The model: one register replicated on two sites, A (0) and B (1). Clients read and write at
either site. While the sites are connected a write updates both copies in one step (synchronous
replication), so with no partition the service is both consistent and available. The network may
``partition`` and ``heal``; replication messages sent during a partition wait until it heals.
The parameter ``mode`` says what a site does when it cannot reach the other:

* ``cp`` (consistent, partition-tolerant): site A holds the majority (think of a witness voting
  with it), so it keeps serving; site B serves a request only by asking A, and *refuses* when it
  cannot reach A. Linearizable, not available.
* ``ap`` (available, partition-tolerant): each site serves every request from its own copy and
  queues its writes for the other side; copies diverge during the partition and converge after
  healing, by last-writer-wins on (Lamport timestamp, site). Available, not linearizable.

Properties. Operations complete in one step, so linearizability is simple to state: every read
returns the value of the most recently completed write (``linearizable``). Availability stated as
safety: no request has been refused (``available``). Eventual consistency stated as safety: once
the network is healed and every queued message delivered, both sites hold the same value
(``converges_after_heal``). Each mode claims only what it guarantees, and by default a check of
that mode checks exactly those properties (``guaranteed``); the CAP theorem is then shown by two
variants that hold a mode to the property it gives up, each failing with a counterexample:
``cp_with_availability`` and ``ap_with_linearizability``. On the command line the same is
``protospec check cap -p mode=cp --inv available`` (``--inv`` may name any property of the spec).

Left out: more than two sites and real quorums (site A's majority is given, not voted), crashes
(for safety a crashed site is one that is partitioned off and never heard from), multi-step
operations and the read/write messages of B's forwarded requests (a request completes in one
step, so a partition cannot fall in the middle of one).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, NamedTuple

from protospec import Param, Spec, action, except_at, from_state, invariant

A, B = 0, 1  # the two sites; in CP mode site A is on the majority side
SITES = (A, B)

# -- messages and state -----------------------------------------------------------------------


class Version(NamedTuple):
    """A site's copy of the register: last-writer-wins on (timestamp, writer)."""

    timestamp: int  # a Lamport clock
    writer: int  # the site that wrote it (breaks timestamp ties)
    value: int


class Update(NamedTuple):
    """A replication message: site ``dst`` should take ``version`` if it is newer."""

    dst: int
    version: Version


class OpKind(IntEnum):
    NONE = 0  # no operation yet
    READ = 1
    WRITE = 2
    REFUSED = 3  # the site could not serve the request (it answered with an error)


class LastOp(NamedTuple):
    """The most recent client operation and its outcome (kept to state the properties)."""

    kind: OpKind
    site: int
    value: int  # READ: the value returned; WRITE: the value written; else 0


class State(NamedTuple):
    copy: tuple[Version, Version]  # copy[site]: that site's copy of the register
    connected: bool  # false during a partition: no message crosses
    msgs: frozenset[Update]  # replication messages waiting for the network
    writes_done: int  # writes completed so far (bounded by `writes`)
    latest: int  # the value of the most recently completed write (real-time order)
    last_op: LastOp  # the most recent operation


GUARANTEES: dict[str, tuple[str, ...]] = {
    "cp": ("linearizable", "converges_after_heal"),
    "ap": ("available", "converges_after_heal"),
}


class CAP(Spec):
    """CAP (Gilbert & Lynch 2002): two sites, one register; partitioned, CP refuses, AP diverges."""

    name = "cap"

    mode = Param("cp", "cp: the minority side refuses requests; ap: both sides serve locally",
                 choices=("cp", "ap"))
    writes = Param(3, "number of writes in total (values 1..writes)", min=1, max=5)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        # Every property is declared (so --inv can name any of them), but a mode is held only
        # to what it guarantees unless asked otherwise.
        self._declared = (list(self.invariant_fns), list(self.action_property_fns))
        claimed = self.guaranteed()
        self.invariant_fns = [(n, f) for n, f in self.invariant_fns if n in claimed]
        self.action_property_fns = [(n, f) for n, f in self.action_property_fns if n in claimed]

    def guaranteed(self) -> tuple[str, ...]:
        """The properties this mode guarantees: the ones checked by default."""
        return GUARANTEES[self.mode]

    def restrict_properties(self, invariants: Any = None, action_properties: Any = None) -> None:
        """Select among *all* declared properties, not only the mode's guaranteed ones."""
        if invariants is not None:
            self.invariant_fns = list(self._declared[0])
        if action_properties is not None:
            self.action_property_fns = list(self._declared[1])
        super().restrict_properties(invariants, action_properties)

    def setup(self) -> None:
        self.SITE = SITES

    def init(self):
        v0 = Version(0, A, 0)
        yield State(copy=(v0, v0), connected=True, msgs=frozenset(), writes_done=0, latest=0,
                    last_op=LastOp(OpKind.NONE, A, 0))

    # -- client operations --------------------------------------------------------------------

    def serving_site(self, s: State, site: int) -> int | None:
        """The site whose copy answers a request made at ``site`` (None: the request is refused).

        CP: site A always; B's requests are forwarded to A, which works only while connected.
        AP: always the site itself.
        """
        if self.mode == "ap":
            return site
        return A if site == A or s.connected else None

    @action(site="SITE")
    def write(self, s: State, site: int) -> State | None:
        """A client writes the next value at ``site``.

        Connected: both copies take the new version at once. Partitioned: the serving site takes
        it and queues it for the other side (or the request is refused).
        """
        if s.writes_done >= self.writes:
            return None
        at = self.serving_site(s, site)
        if at is None:
            return self.refuse(s, site)
        value = s.writes_done + 1
        if s.connected:
            ts = max(s.copy[A].timestamp, s.copy[B].timestamp) + 1
            new = Version(ts, at, value)
            copy, msgs = (new, new), s.msgs
        else:
            new = Version(s.copy[at].timestamp + 1, at, value)
            copy, msgs = except_at(s.copy, at, new), s.msgs | {Update(1 - at, new)}
        return s._replace(copy=copy, msgs=msgs, writes_done=value, latest=value,
                          last_op=LastOp(OpKind.WRITE, site, value))

    @action(site="SITE")
    def read(self, s: State, site: int) -> State | None:
        """A client reads at ``site``: the serving site's copy (or the request is refused)."""
        at = self.serving_site(s, site)
        if at is None:
            return self.refuse(s, site)
        return s._replace(last_op=LastOp(OpKind.READ, site, s.copy[at].value))

    def refuse(self, s: State, site: int) -> State:
        """The site answers the request with an error: it cannot serve it consistently."""
        return s._replace(last_op=LastOp(OpKind.REFUSED, site, 0))

    # -- the network --------------------------------------------------------------------------

    @action
    def partition(self, s: State) -> State | None:
        """The network between A and B fails: every message is held back."""
        if not s.connected:
            return None
        return s._replace(connected=False)

    @action
    def heal(self, s: State) -> State | None:
        """The network between A and B is repaired."""
        if s.connected:
            return None
        return s._replace(connected=True)

    @action(m=from_state(lambda s: sorted(s.msgs)))
    def deliver(self, s: State, m: Update) -> State | None:
        """A queued update crosses the healed network; the receiver keeps the newer version."""
        if not s.connected:
            return None
        return s._replace(copy=except_at(s.copy, m.dst, max(s.copy[m.dst], m.version)),
                          msgs=s.msgs - {m})

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def linearizable(self, s: State) -> bool:
        """C: every read returns the value of the most recently completed write."""
        return s.last_op.kind is not OpKind.READ or s.last_op.value == s.latest

    @invariant
    def available(self, s: State) -> bool:
        """A: every request to a non-failing site gets a non-error response."""
        return s.last_op.kind is not OpKind.REFUSED

    @invariant
    def converges_after_heal(self, s: State) -> bool:
        """Once healed with every queued update delivered, both sites hold the same value."""
        return not (s.connected and not s.msgs) or s.copy[A].value == s.copy[B].value


# -- the trade-off as two counterexamples, and a bug ------------------------------------------


@CAP.variant("cp_with_availability", breaks="available")
class CPWithAvailability(CAP):
    """CP mode held to availability too: during a partition site B must refuse a request."""

    mode = Param("cp", "this variant is the CP mode", choices=("cp",))

    def guaranteed(self) -> tuple[str, ...]:
        return (*GUARANTEES["cp"], "available")


@CAP.variant("ap_with_linearizability", breaks="linearizable")
class APWithLinearizability(CAP):
    """AP mode held to linearizability too: a read on one side misses a write on the other."""

    mode = Param("ap", "this variant is the AP mode", choices=("ap",))

    def guaranteed(self) -> tuple[str, ...]:
        return (*GUARANTEES["ap"], "linearizable")


@CAP.variant("ap_drops_during_partition", breaks="converges_after_heal")
class APDropsDuringPartition(CAP):
    """AP mode that drops the updates it cannot send instead of queueing them: no anti-entropy."""

    mode = Param("ap", "this variant is the AP mode", choices=("ap",))

    def write(self, s: State, site: int) -> State | None:
        t = super().write(s, site)
        return None if t is None else t._replace(msgs=s.msgs)


# Measured state counts: see docs/specs/cap.md.
