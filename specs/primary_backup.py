"""Primary-backup replication with a view service: an acknowledged write survives failover.

Source: the primary-backup approach of Budhiraja, Marzullo, Schneider and Toueg, "The
Primary-Backup Approach" (in Mullender, ed., Distributed Systems, 2nd ed., 1993, ch. 8), in the
concrete form of MIT 6.824's view service and primary/backup key-value service (6.824 Lab 2,
"Primary/Backup Key/Value Service", 2013-2015 editions). The rules modelled here are the lab's:

* A *view service* (VS) decides, in numbered views, which server is primary and which is backup.
  Servers learn the current view by pinging it (``Ping(viewnum)``).
* The VS must not move from view X to view X+1 until the primary of view X has acknowledged
  view X by pinging with X; this is what keeps two views from being acted on at once.
* When the primary is declared dead the VS promotes the backup (never an idle server, which may
  lack the data); when the backup is declared dead, or there is none, an idle server may become
  the new backup.
* The primary forwards every client write to the backup and replies to the client only after
  the backup has applied it. A backup applies a forwarded write only if it is the backup of the
  view the primary names (so a primary that missed a view change cannot succeed).
* A new backup is initialised by a complete state transfer from the primary, and the primary
  acknowledges its view to the VS only once that transfer is confirmed: otherwise the VS could
  promote an empty backup. (A well-known pitfall of the lab; see the variant
  ``ack_view_before_transfer``.)

What is checked: every write the client was told succeeded is in the database of the current
view's primary (``acked_writes_survive``) — whatever sequence of crashes, false suspicions and
view changes led there — and the VS's two rules, as action properties.

Modelling choices. The VS's failure detector is unreliable when ``false_suspicion`` is on: it may
declare a live server dead (its pings were late), which is how split brain arises; a declared-dead
server is never used again, which bounds the number of views. Dropping a server and adding an
idle one as the new backup are two view changes here (the lab may make them one); that only adds
a view. Crashes are fail-stop. Messages between servers may be reordered and delayed forever
(which, for safety, covers loss), but are not duplicated. A database is the set of write ids
applied (write order is not modelled), and the client retries a write it has not seen
acknowledged at whichever server claims to be primary.

Left out: the client's reads (the lab forwards them to the backup too; they add no new way to
lose a write), restarted servers rejoining with an empty database, and failure of the view
service itself (the lab's acknowledged single point of failure, which Paxos removes).
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from protospec import Param, Spec, action, action_property, except_at, from_state, invariant

NO_SERVER = -1  # a view without a backup
NO_WRITE = -1  # the write field of a state-transfer message

# -- messages and state -----------------------------------------------------------------------


class View(NamedTuple):
    """A view of the view service: its number, its primary and its backup (or NO_SERVER)."""

    num: int
    primary: int
    backup: int


class MsgType(IntEnum):
    FORWARD = 0  # primary -> backup: apply this client write
    FORWARD_REPLY = 1  # backup -> primary: applied it
    TRANSFER = 2  # primary -> new backup: here is my whole database
    TRANSFER_REPLY = 3  # new backup -> primary: installed it


class Msg(NamedTuple):
    type: MsgType
    view: int  # the view number the sender believed current when sending
    src: int
    dst: int
    write: int  # the write id (FORWARD, FORWARD_REPLY), else NO_WRITE
    data: frozenset[int]  # the database (TRANSFER), else empty


class State(NamedTuple):
    view: View  # the view service's current view
    acked: bool  # the primary of `view` has acknowledged it, so the VS may move on
    dead: frozenset[int]  # servers the VS has declared dead; it never uses them again
    up: tuple[bool, ...]  # up[s]: server s has not crashed
    known: tuple[View, ...]  # known[s]: the latest view server s has learned by pinging
    data: tuple[frozenset[int], ...]  # data[s]: the write ids in server s's database
    installed: tuple[int, ...]  # installed[s]: the view in which s installed a state transfer
    confirmed: tuple[int, ...]  # confirmed[s]: the view in which s's backup confirmed one
    msgs: frozenset[Msg]  # messages in flight between servers
    acked_writes: frozenset[int]  # writes the client has been told succeeded


def _of_type(kind: MsgType):
    """The domain "every message of this type in flight", sorted for a deterministic order."""
    return from_state(lambda s: sorted(m for m in s.msgs if m.type is kind))


class PrimaryBackup(Spec):
    """Primary-backup with a view service (MIT 6.824): acknowledged writes survive failover."""

    name = "primary_backup"

    servers = Param(3, "number of servers (server 0 starts as primary, server 1 as backup)",
                    min=2, max=5)
    writes = Param(1, "number of distinct client writes", min=1, max=4)
    false_suspicion = Param(True, "the view service may declare a live server dead (late pings)")

    def setup(self) -> None:
        self.SERVER = range(self.servers)
        self.WRITE = range(self.writes)

    def init(self):
        first = View(1, 0, 1)
        yield State(
            view=first,
            acked=True,
            dead=frozenset(),
            up=(True,) * self.servers,
            known=(first,) * self.servers,
            data=(frozenset(),) * self.servers,
            installed=except_at((0,) * self.servers, 1, 1),  # the first backup starts in sync
            confirmed=except_at((0,) * self.servers, 0, 1),
            msgs=frozenset(),
            acked_writes=frozenset(),
        )

    # -- servers ------------------------------------------------------------------------------

    @action(srv="SERVER")
    def ping(self, s: State, srv: int) -> State | None:
        """Ping(viewnum): srv learns the current view; a primary acknowledges it once synced.

        A primary that learns of a new view with a backup sends it a state transfer; it
        acknowledges the view (letting the VS move on) only when it has no backup or its backup
        has confirmed the transfer.
        """
        if not s.up[srv]:
            return None
        v = s.view
        msgs = s.msgs
        if s.known[srv] != v and v.primary == srv and v.backup != NO_SERVER:
            msgs = msgs | {Msg(MsgType.TRANSFER, v.num, srv, v.backup, NO_WRITE, s.data[srv])}
        acked = s.acked or (v.primary == srv and self.view_synced(s, srv))
        if s.known[srv] == v and acked == s.acked:
            return None  # nothing new to learn or acknowledge
        return s._replace(known=except_at(s.known, srv, v), acked=acked, msgs=msgs)

    def view_synced(self, s: State, srv: int) -> bool:
        """The primary srv may acknowledge the current view: no backup, or the backup is synced."""
        return s.view.backup == NO_SERVER or s.confirmed[srv] == s.view.num

    @action(srv="SERVER", w="WRITE")
    def primary_write(self, s: State, srv: int, w: int) -> State | None:
        """Put: the client sends write w to srv, which believes it is primary.

        The primary applies the write and forwards it to its backup; with no backup it replies
        to the client at once.
        """
        k = s.known[srv]
        if not s.up[srv] or k.primary != srv or w in s.acked_writes:
            return None
        data = except_at(s.data, srv, s.data[srv] | {w})
        if k.backup == NO_SERVER:
            return s._replace(data=data, acked_writes=s.acked_writes | {w})
        fwd = Msg(MsgType.FORWARD, k.num, srv, k.backup, w, frozenset())
        return s._replace(data=data, msgs=s.msgs | {fwd})

    @action(m=_of_type(MsgType.FORWARD))
    def backup_apply_forward(self, s: State, m: Msg) -> State | None:
        """Forward: the backup applies a forwarded write if it is the backup of m's view.

        It must also have installed that view's state transfer: the transfer replaces the
        database and would erase a write applied before it.
        """
        b = m.dst
        k = s.known[b]
        if not s.up[b] or k.num != m.view or k.backup != b or s.installed[b] != m.view:
            return None
        reply = Msg(MsgType.FORWARD_REPLY, m.view, b, m.src, m.write, frozenset())
        return s._replace(data=except_at(s.data, b, s.data[b] | {m.write}),
                          msgs=(s.msgs - {m}) | {reply})

    @action(m=_of_type(MsgType.FORWARD_REPLY))
    def primary_receive_forward_reply(self, s: State, m: Msg) -> State | None:
        """The backup has applied the write: the primary replies OK to the client."""
        p = m.dst
        k = s.known[p]
        if not s.up[p] or k.num != m.view or k.primary != p:
            return None
        return s._replace(msgs=s.msgs - {m}, acked_writes=s.acked_writes | {m.write})

    @action(m=_of_type(MsgType.TRANSFER))
    def backup_install_transfer(self, s: State, m: Msg) -> State | None:
        """The new backup replaces its database with the primary's and confirms."""
        b = m.dst
        k = s.known[b]
        if not s.up[b] or k.num != m.view or k.backup != b:
            return None
        reply = Msg(MsgType.TRANSFER_REPLY, m.view, b, m.src, NO_WRITE, frozenset())
        return s._replace(
            data=except_at(s.data, b, m.data),
            installed=except_at(s.installed, b, m.view),
            msgs=(s.msgs - {m}) | {reply},
        )

    @action(m=_of_type(MsgType.TRANSFER_REPLY))
    def primary_receive_transfer_reply(self, s: State, m: Msg) -> State | None:
        """The primary learns its backup is in sync (and may now acknowledge the view)."""
        p = m.dst
        k = s.known[p]
        if not s.up[p] or k.num != m.view or k.primary != p:
            return None
        return s._replace(confirmed=except_at(s.confirmed, p, m.view), msgs=s.msgs - {m})

    @action(srv="SERVER")
    def crash(self, s: State, srv: int) -> State | None:
        """Server srv stops (fail-stop): it sends, receives and pings no more."""
        if not s.up[srv]:
            return None
        return s._replace(up=except_at(s.up, srv, False))

    # -- the view service ---------------------------------------------------------------------

    @action(srv="SERVER")
    def vs_declare_dead(self, s: State, srv: int) -> State | None:
        """tick(): the VS has missed srv's pings and moves to a view without it.

        Only once the current view is acknowledged. A dead primary is replaced by the backup;
        with no backup the VS cannot proceed (the service stays down, as in the lab).
        """
        v = s.view
        if not s.acked or srv in s.dead or srv not in (v.primary, v.backup):
            return None
        if s.up[srv] and not self.false_suspicion:
            return None
        if srv == v.primary:
            if v.backup == NO_SERVER:
                return None
            new = View(v.num + 1, v.backup, NO_SERVER)
        else:
            new = View(v.num + 1, v.primary, NO_SERVER)
        return s._replace(view=new, acked=False, dead=s.dead | {srv})

    @action(srv="SERVER")
    def vs_add_backup(self, s: State, srv: int) -> State | None:
        """tick(): the current view has no backup; an idle server that pings becomes it."""
        v = s.view
        if not s.acked or v.backup != NO_SERVER or srv == v.primary or srv in s.dead \
                or not s.up[srv]:
            return None
        return s._replace(view=View(v.num + 1, v.primary, srv), acked=False)

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def acked_writes_survive(self, s: State) -> bool:
        """Every write acknowledged to the client is in the current view's primary's database."""
        return s.acked_writes <= s.data[s.view.primary]

    @action_property
    def view_changes_only_after_ack(self, s: State, t: State) -> bool:
        """The VS moves from view X only to X+1, and only once X's primary acknowledged X."""
        return t.view.num == s.view.num or (s.acked and t.view.num == s.view.num + 1)

    @action_property
    def only_backup_promoted(self, s: State, t: State) -> bool:
        """When the primary changes, the new primary is the previous view's backup."""
        return t.view.primary == s.view.primary or t.view.primary == s.view.backup


# -- bug variants -----------------------------------------------------------------------------


@PrimaryBackup.variant("ack_before_backup_applies", breaks="acked_writes_survive")
class AckBeforeBackupApplies(PrimaryBackup):
    """The primary replies OK once it has forwarded the write, before the backup applied it."""

    def primary_write(self, s: State, srv: int, w: int) -> State | None:
        t = super().primary_write(s, srv, w)
        return None if t is None else t._replace(acked_writes=t.acked_writes | {w})


@PrimaryBackup.variant("ack_view_before_transfer", breaks="acked_writes_survive")
class AckViewBeforeTransfer(PrimaryBackup):
    """The primary acknowledges a new view before its new backup has the state transfer."""

    def view_synced(self, s: State, srv: int) -> bool:
        return True


@PrimaryBackup.variant("forward_before_transfer", breaks="acked_writes_survive")
class ForwardBeforeTransfer(PrimaryBackup):
    """A new backup applies forwarded writes before the state transfer, which then erases them."""

    def backup_apply_forward(self, s: State, m: Msg) -> State | None:
        b = m.dst
        k = s.known[b]
        if not s.up[b] or k.num != m.view or k.backup != b:
            return None
        reply = Msg(MsgType.FORWARD_REPLY, m.view, b, m.src, m.write, frozenset())
        return s._replace(data=except_at(s.data, b, s.data[b] | {m.write}),
                          msgs=(s.msgs - {m}) | {reply})


# Measured state counts: see docs/specs/primary_backup.md.
