"""PBFT: Byzantine fault tolerant state machine replication with 3f+1 replicas.

Source: Miguel Castro and Barbara Liskov, "Practical Byzantine Fault Tolerance" (OSDI '99),
section 4.2 (normal-case operation: pre-prepare, prepare, commit), section 4.4 (view changes:
view-change and new-view messages carrying prepared certificates) and the safety argument at
the end of 4.4. Names follow the paper: ``prepared(m, v, n, i)``, ``committed-local``, the new
primary's sets V and O.

The idea: n = 3f+1 replicas, up to f of them Byzantine. The primary of view v (replica v mod n)
assigns a sequence number n to a client request m in a PRE-PREPARE; each backup that accepts it
multicasts a PREPARE. A replica has *prepared* m at (v, n) when it holds the pre-prepare and 2f
matching prepares from different backups: 2f+1 replicas vouch for m, so no different request can
be prepared at (v, n) by a correct replica (two sets of 2f+1 out of 3f+1 share a correct
replica, which prepares one request per (v, n)). It then multicasts a COMMIT; with 2f+1
matching commits the request is *committed-local* and executed. If the primary misbehaves,
replicas move to view v+1 with a VIEW-CHANGE carrying their prepared certificates (the set P);
the new primary collects 2f+1 of them (the set V) and re-issues, for every sequence number, the
request of the certificate with the highest view (the set O, null requests for gaps) in a
NEW-VIEW. Any request committed-local at a correct replica was prepared by f+1 correct
replicas, one of which is in every V: the new view re-proposes it.

Byzantine replicas, kept abstract. A faulty replica may send any message a correct replica could
send, with any content (equivocation included), at any time; it cannot forge other replicas'
signed messages or clients' signed requests. Rather than storing its messages, the spec treats
every message a faulty replica could ever send as already sent: a faulty primary has
pre-prepared every request (and the null request) at every sequence number of its views, and a
faulty replica has sent matching prepares and commits for every one of them. This loses no
behaviour: correct replicas' guards only ever *require* messages from others (every "has not
sent" guard is about a replica's own messages), so a message a faulty replica sends later could
as well have been sent at the start. Messages whose content depends on others' signatures are
computed when used: a faulty replica's view-change may carry any subset of the prepared
certificates that exist (signed by enough replicas) at that moment, and a faulty new primary's
new-view may carry any O that a valid V of view-changes yields. The equivocation attacks the
variants need (a faulty primary pre-preparing two requests at one sequence number, faulty votes
completing a too-small quorum, a faulty replica hiding its certificates in a view change) are
all in this set. The state holds only what correct replicas did.

Left out: checkpoints and garbage collection (the log never fills: watermarks are 0 and
``seqs``), client replies, digests (a message carries the request itself), MACs versus
signatures (messages are simply authenticated), and timers (a correct replica may start a view
change at any moment, which covers every timeout).
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import IntEnum
from itertools import combinations, product
from typing import Annotated, NamedTuple

from protospec import Param, Spec, Symmetric, UsageError, action, except_at, invariant

# The correct replicas that are primary of no explored view are interchangeable (a primary is
# chosen by its id, v mod n, and the faulty ones are named): `--symmetry` explores one state per
# orbit of their permutations.
Replica = Symmetric("Replica", size="n", members="interchangeable")

NULL = -1  # the null request a new primary puts in gaps of the log (executes as a no-op)


class MsgType(IntEnum):
    PRE_PREPARE = 0
    PREPARE = 1
    COMMIT = 2
    VIEW_CHANGE = 3
    NEW_VIEW = 4


# -- messages (only those sent by correct replicas are stored) ---------------------------------
# Every message starts with its type, so a prepare and a commit with the same fields differ.


class PrePrepare(NamedTuple):
    """<PRE-PREPARE, v, n, m> from the primary of view v: m gets sequence number n."""

    type: MsgType
    view: int
    seq: int
    req: int


class Prepare(NamedTuple):
    """<PREPARE, v, n, m, i>: backup i accepted the pre-prepare of m at (v, n)."""

    type: MsgType
    view: int
    seq: int
    req: int
    sender: Replica.Id


class Commit(NamedTuple):
    """<COMMIT, v, n, m, i>: replica i has prepared m at (v, n)."""

    type: MsgType
    view: int
    seq: int
    req: int
    sender: Replica.Id


class ViewChange(NamedTuple):
    """<VIEW-CHANGE, v, P, i>: replica i moves to view v; P holds its prepared certificates."""

    type: MsgType
    view: int
    prepared: frozenset[tuple[int, int, int]]  # P: the (view, seq, req) that i has prepared
    sender: Replica.Id


class NewView(NamedTuple):
    """<NEW-VIEW, v, V, O> from the primary of v: O re-issues requests, seq by seq from 1.

    V is not kept: O is computed from it when the message is made, and only O matters after.
    """

    type: MsgType
    view: int
    log: tuple[int, ...]  # O: log[k] is the request re-issued at sequence number k+1


Message = PrePrepare | Prepare | Commit | ViewChange | NewView

Cert = tuple[int, int, int]  # a prepared certificate, named by its (view, seq, req)


class State(NamedTuple):
    # view[i]: the view replica i is in (or moving to)
    view: Annotated[tuple[int, ...], Replica.index]
    # active[i]: i has entered view[i] (False while changing views)
    active: Annotated[tuple[bool, ...], Replica.index]
    issued: frozenset[int]  # the requests clients have issued (and signed)
    msgs: frozenset[Message]  # every message a correct replica has sent


class PBFT(Spec):
    """PBFT (Castro & Liskov, OSDI '99): agreement with up to f Byzantine replicas of 3f+1."""

    name = "pbft"

    f = Param(1, "number of Byzantine replicas tolerated (n = 3f+1 replicas)", min=1, max=2)
    requests = Param(2, "number of distinct client requests", min=1, max=3)
    views = Param(2, "number of views: 2 means views {0, 1} (one view change)", min=1, max=3)
    seqs = Param(1, "number of sequence numbers: 1 means {1}", min=1, max=3)
    faulty = Param((0,), "the Byzantine replicas (at most f); replica v mod n leads view v",
                   type=tuple)
    symmetric = (Replica,)

    def setup(self) -> None:
        self.configure(n=3 * self.f + 1, quorum=2 * self.f + 1)

    def configure(self, n: int, quorum: int) -> None:
        """Set the replica count and the quorum (2f+1 in PBFT) that certificates need."""
        self.n = n
        self.quorum = quorum
        self.Replica = range(n)
        bad = [i for i in self.faulty if not isinstance(i, int) or not 0 <= i < n]
        if bad or len(set(self.faulty)) > self.f:
            raise UsageError(f"spec 'pbft': faulty must name at most f={self.f} distinct "
                             f"replicas among 0..{n - 1}, got {self.faulty!r}")
        self.Faulty = frozenset(self.faulty)
        self.Correct = [i for i in self.Replica if i not in self.Faulty]
        self.View = range(self.views)
        self.LaterView = range(1, self.views)
        self.Seq = range(1, self.seqs + 1)
        self.Request = range(self.requests)
        self.RequestOrNull = range(NULL, self.requests)  # what a log entry may hold
        self.Quorum = [frozenset(q) for q in combinations(self.Replica, quorum)]
        # Views past n repeat their primaries (v mod n), and the conformance mapping sizes
        # ``views`` without bound: look at one round of views only.
        primaries = {self.primary(v) for v in range(min(self.views, n))}
        self.interchangeable = [i for i in self.Correct if i not in primaries]

    def primary(self, v: int) -> int:
        """The primary of view v (section 4.1: p = v mod |R|)."""
        return v % self.n

    def init(self) -> Iterator[State]:
        yield State(
            view=(0,) * self.n,
            active=(True,) * self.n,
            issued=frozenset(),
            msgs=frozenset(),
        )

    # -- what a replica can read off the network --------------------------------------------

    def pre_prepared(self, s: State, v: int, n: int, m: int) -> bool:
        """A pre-prepare of m at (v, n) exists: sent by a correct primary, or any a faulty one
        could send: any issued request, and in a later view also the null request (which
        correct backups accept only as part of a new-view's O)."""
        if self.primary(v) in self.Faulty:
            return m in s.issued or (m == NULL and v > 0)
        return PrePrepare(MsgType.PRE_PREPARE, v, n, m) in s.msgs

    def prepares(self, s: State, v: int, n: int, m: int) -> int:
        """How many different backups of view v have sent a prepare for m at (v, n).

        Faulty backups count as having sent it (they may send any prepare); the primary's own
        prepares never count (section 4.2: 2f prepares *from different backups*).
        """
        p = self.primary(v)
        count = sum(1 for i in self.Faulty if i != p)
        for i in self.Correct:
            if i != p and Prepare(MsgType.PREPARE, v, n, m, i) in s.msgs:
                count += 1
        return count

    def accepted(self, s: State, i: int, v: int, n: int, m: int) -> bool:
        """Correct replica i accepted the pre-prepare of m at (v, n) (its own, if primary)."""
        if i == self.primary(v):
            return PrePrepare(MsgType.PRE_PREPARE, v, n, m) in s.msgs
        return Prepare(MsgType.PREPARE, v, n, m, i) in s.msgs

    def prepared(self, s: State, i: int, v: int, n: int, m: int) -> bool:
        """prepared(m, v, n, i): i accepted the pre-prepare and holds quorum-1 matching prepares."""
        return self.accepted(s, i, v, n, m) and self.prepares(s, v, n, m) >= self.quorum - 1

    def certificate_exists(self, s: State, v: int, n: int, m: int) -> bool:
        """A prepared certificate for m at (v, n) can be shown: a pre-prepare and quorum-1
        prepares, all signed by their senders. A faulty replica can only show these."""
        return self.pre_prepared(s, v, n, m) and self.prepares(s, v, n, m) >= self.quorum - 1

    def committed_local(self, s: State, i: int, v: int, n: int, m: int) -> bool:
        """committed-local(m, v, n, i): i prepared m (it sent its commit) and holds a quorum
        of matching commits. Faulty replicas count as having sent every commit.

        A replica counts as committed as soon as the commits exist, even if it has since moved
        to a later view; that can only add commitments, so agreement is checked conservatively.
        """
        if Commit(MsgType.COMMIT, v, n, m, i) not in s.msgs:
            return False
        count = len(self.Faulty)
        for j in self.Correct:
            if Commit(MsgType.COMMIT, v, n, m, j) in s.msgs:
                count += 1
        return count >= self.quorum

    def committed(self, s: State) -> set[tuple[int, int, int, int]]:
        """Every (replica, view, seq, req) that is committed-local at a correct replica."""
        return {
            (c.sender, c.view, c.seq, c.req)
            for c in s.msgs
            if c.type is MsgType.COMMIT and self.committed_local(s, c.sender, c.view, c.seq, c.req)
        }

    # -- the new primary's computation of O (section 4.4) -----------------------------------

    def new_view_log(self, certs: list[frozenset[Cert]]) -> tuple[int, ...]:
        """O from the P sets of the view-changes in V.

        max-s is the highest sequence number in any certificate; for every n from 1 to max-s,
        O re-issues the request of the certificate for n with the highest view, or the null
        request if there is none. (Two certificates of one view for different requests cannot
        both exist with 2f+1 quorums; should they, the larger request is taken.)
        """
        best: dict[int, tuple[int, int]] = {}
        for P in certs:
            for v, n, m in P:
                if n not in best or (v, m) > best[n]:
                    best[n] = (v, m)
        max_s = max(best, default=0)
        return tuple(best[n][1] if n in best else NULL for n in range(1, max_s + 1))

    def faulty_view_change_options(self, s: State, v: int) -> list[frozenset[Cert]]:
        """Every P a faulty replica can put in a view-change for view v: any subset of the
        certificates of earlier views that exist (it can hide any, but cannot make one up)."""
        real = [(w, n, m) for w in range(v) for n in self.Seq
                for m in (NULL, *sorted(s.issued)) if self.certificate_exists(s, w, n, m)]
        return [frozenset(c) for k in range(len(real) + 1) for c in combinations(real, k)]

    def new_view_logs(self, s: State, v: int, q: frozenset[int]) -> set[tuple[int, ...]]:
        """Every O the primary of v can compute from view-changes of the replicas in q."""
        per_sender: list[list[frozenset[Cert]]] = []
        faulty_options = None
        for j in sorted(q):
            if j in self.Faulty:
                if faulty_options is None:
                    faulty_options = self.faulty_view_change_options(s, v)
                per_sender.append(faulty_options)
                continue
            sent = [m.prepared for m in s.msgs
                    if m.type is MsgType.VIEW_CHANGE and m.view == v and m.sender == j]
            if not sent:
                return set()
            per_sender.append(sent)
        return {self.new_view_log(list(choice)) for choice in product(*per_sender)}

    # -- actions: clients and the normal case (section 4.2) ---------------------------------

    @action(m="Request")
    def client_request(self, s: State, m: int) -> State | None:
        """A client issues (signs and sends) request m."""
        if m in s.issued:
            return None
        return s._replace(issued=s.issued | {m})

    @action(v="View", n="Seq", m="Request")
    def send_pre_prepare(self, s: State, v: int, n: int, m: int) -> State | None:
        """The correct primary of view v assigns sequence number n to request m."""
        p = self.primary(v)
        if p in self.Faulty or s.view[p] != v or not s.active[p] or m not in s.issued:
            return None
        for x in s.msgs:  # one request per (v, n), one sequence number per request and view
            if x.type is MsgType.PRE_PREPARE and x.view == v and (x.seq == n or x.req == m):
                return None
        return s._replace(msgs=s.msgs | {PrePrepare(MsgType.PRE_PREPARE, v, n, m)})

    @action(i="Correct", v="View", n="Seq", m="RequestOrNull")
    def send_prepare(self, s: State, i: int, v: int, n: int, m: int) -> State | None:
        """Backup i accepts the pre-prepare of m at (v, n) and multicasts a prepare.

        Only in its current view, and only if it has not accepted a different request at
        (v, n): a faulty primary's equivocation cannot make one correct backup accept both.
        """
        if i == self.primary(v) or s.view[i] != v or not s.active[i]:
            return None
        if not self.pre_prepared(s, v, n, m):
            return None
        for x in s.msgs:
            if x.type is MsgType.PREPARE and x.sender == i and x.view == v and x.seq == n:
                return None
        return s._replace(msgs=s.msgs | {Prepare(MsgType.PREPARE, v, n, m, i)})

    @action(i="Correct", v="View", n="Seq", m="RequestOrNull")
    def send_commit(self, s: State, i: int, v: int, n: int, m: int) -> State | None:
        """Replica i has prepared m at (v, n) and multicasts a commit."""
        if s.view[i] != v or not s.active[i]:
            return None
        msg = Commit(MsgType.COMMIT, v, n, m, i)
        if msg in s.msgs or not self.prepared(s, i, v, n, m):
            return None
        return s._replace(msgs=s.msgs | {msg})

    # -- actions: view changes (section 4.4) -----------------------------------------------

    @action(i="Correct", v="LaterView")
    def start_view_change(self, s: State, i: int, v: int) -> State | None:
        """Replica i's timer expires: it moves to view v and sends its prepared certificates."""
        if s.view[i] >= v:
            return None
        P = frozenset(
            (x.view, x.seq, x.req) for x in s.msgs
            if x.type in (MsgType.PREPARE, MsgType.PRE_PREPARE)
            and self.prepared(s, i, x.view, x.seq, x.req)
        )
        return State(
            view=except_at(s.view, i, v),
            active=except_at(s.active, i, False),
            issued=s.issued,
            msgs=s.msgs | {ViewChange(MsgType.VIEW_CHANGE, v, P, i)},
        )

    @action(v="LaterView", q="Quorum", many=True)
    def send_new_view(self, s: State, v: int, q: frozenset[int]) -> list[State]:
        """The correct primary of v, holding view-changes from the quorum q (V), computes O and
        multicasts the new-view with a pre-prepare for every entry of O."""
        p = self.primary(v)
        if p in self.Faulty or s.view[p] != v or s.active[p]:
            return []
        out = []
        for log in sorted(self.new_view_logs(s, v, q)):
            sent = {NewView(MsgType.NEW_VIEW, v, log)}
            sent.update(PrePrepare(MsgType.PRE_PREPARE, v, n, m)
                        for n, m in enumerate(log, start=1))
            out.append(State(view=s.view, active=except_at(s.active, p, True), issued=s.issued,
                             msgs=s.msgs | sent))
        return out

    @action(i="Correct", v="LaterView", many=True)
    def accept_new_view(self, s: State, i: int, v: int) -> list[State]:
        """Backup i accepts a valid new-view for view v, enters v and prepares every entry of O.

        From a correct primary, any new-view it sent; from a faulty one, any O that some valid
        V yields (backups recompute O from V, so a faulty primary cannot make O up).
        """
        if i == self.primary(v) or s.view[i] > v or (s.view[i] == v and s.active[i]):
            return []
        if self.primary(v) in self.Faulty:
            logs: set[tuple[int, ...]] = set()
            for q in self.Quorum:
                logs |= self.new_view_logs(s, v, q)
        else:
            logs = {x.log for x in s.msgs if x.type is MsgType.NEW_VIEW and x.view == v}
        out = []
        for log in sorted(logs):
            sent = {Prepare(MsgType.PREPARE, v, n, m, i) for n, m in enumerate(log, start=1)}
            out.append(State(view=except_at(s.view, i, v), active=except_at(s.active, i, True),
                             issued=s.issued, msgs=s.msgs | sent))
        return out

    # -- chart hooks (optional; see explorer/chart_hints.py) ---------------------------------

    def chart_processes(self) -> list[str]:
        """Lanes: the clients, then every replica (faulty ones marked)."""
        return ["clients"] + [f"replica {r}" + (" (faulty)" if r in self.Faulty else "")
                              for r in self.Replica]

    def chart_lane(self, action: str, args: dict) -> str | None:
        """Clients issue requests; a view's primary pre-prepares and sends the new-view."""
        if action == "client_request":
            return "clients"
        r = self.primary(args["v"]) if action in ("send_pre_prepare", "send_new_view") \
            else args.get("i")
        if r is None:
            return None
        return f"replica {r}" + (" (faulty)" if r in self.Faulty else "")

    def chart_message_label(self, msg: Message) -> str:
        """The paper's message names with view, sequence number and request."""
        kind = msg.type
        if kind is MsgType.VIEW_CHANGE:
            certs = ",".join(f"{v}/{n}/{m}" for v, n, m in sorted(msg.prepared)) or "none"
            return f"VIEW-CHANGE(v{msg.view}, P={certs})"
        if kind is MsgType.NEW_VIEW:
            return f"NEW-VIEW(v{msg.view}, O={list(msg.log)})"
        name = {MsgType.PRE_PREPARE: "PRE-PREPARE", MsgType.PREPARE: "PREPARE",
                MsgType.COMMIT: "COMMIT"}[kind]
        return f"{name}(v{msg.view}, n{msg.seq}, m{msg.req})"

    def chart_message_to(self, msg: Message) -> str | None:
        """Every PBFT message is multicast to all replicas."""
        return None

    # -- properties -------------------------------------------------------------------------

    @invariant
    def agreement(self, s: State) -> bool:
        """No two correct replicas commit different requests at the same sequence number,
        in the same view or in different views."""
        decided: dict[int, set[int]] = {}
        for _, _, n, m in self.committed(s):
            decided.setdefault(n, set()).add(m)
        return all(len(reqs) == 1 for reqs in decided.values())

    @invariant
    def validity(self, s: State) -> bool:
        """Every request committed at a correct replica was issued by a client (or is null)."""
        return all(m == NULL or m in s.issued for _, _, _, m in self.committed(s))


# -- bug variants -----------------------------------------------------------------------------


@PBFT.variant("quorum_2f", breaks="agreement")
class Quorum2f(PBFT):
    """Certificates need only 2f replicas (pre-prepare plus 2f-1 prepares; 2f commits)."""

    def setup(self) -> None:
        self.configure(n=3 * self.f + 1, quorum=2 * self.f)


@PBFT.variant("n_equals_3f", breaks="agreement")
class NEquals3f(PBFT):
    """Only 3f replicas, so quorums of n-f = 2f (all one can wait for) need not share a
    correct replica."""

    def setup(self) -> None:
        self.configure(n=3 * self.f, quorum=2 * self.f)


@PBFT.variant("new_primary_ignores_certificates", breaks="agreement")
class NewPrimaryIgnoresCertificates(PBFT):
    """The new primary's O ignores the prepared certificates in V (and backups check O the
    same way), so it starts the new view with an empty log."""

    def new_view_log(self, certs: list[frozenset[Cert]]) -> tuple[int, ...]:
        return ()


# Measured state counts (no violation): the default configuration (f=1, 4 replicas, replica 0
# Byzantine, 2 requests, views {0, 1}, sequence number 1) has 20,752 distinct states, depth 18
# steps; views=3 has 1,784,136. Castro & Liskov give no state counts; see docs/specs/pbft.md.
