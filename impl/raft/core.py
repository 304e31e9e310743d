"""The sans-IO Raft core: messages and timer ticks in; state to persist, messages, entries out.

In the manner of etcd-io/raft, this module does the algorithm and nothing else: no sockets, no
clocks, no threads, no files, and no randomness except the seeded ``random.Random`` it is
given. A driver (``impl.raft.sim`` or ``impl.raft.server``) owns all IO and uses four verbs:

* :meth:`RaftCore.tick` — one unit of logical time has passed;
* :meth:`RaftCore.step` — a message arrived; :meth:`RaftCore.propose` — a client command;
  :meth:`RaftCore.read_index` — a linearizable read without a log entry (ReadIndex);
* :meth:`RaftCore.ready` — what the steps so far produced, as a :class:`Ready`;
* :meth:`RaftCore.advance` — the driver has handled that Ready.

A Ready must be handled **in this order** (the order is what makes the protocol safe and the
event log truthful): (1) persist the hard state and log change, and fsync; (2) write the events
to the event log; (3) send the messages; (4) apply the committed entries. A reply that depends
on a vote or an entry is therefore never sent before that vote or entry is on disk (Figure 2:
"updated on stable storage before responding to RPCs"), and every logged step is durable.

The protocol follows the Raft paper (Ongaro and Ousterhout 2014, section 5 and Figure 2) and is
deliberately kept step for step to raft.tla, the spec ``specs/raft.py`` models, so that every
step can be checked against the spec by trace refinement (``protospec conform raft``):

* a leader sends the entries from next_index on, up to ``Config.max_batch_entries`` of them
  in one AppendEntries request, so commands proposed before the next Ready go out together
  (raft.tla sends one entry; a batch is checked against the spec's ``append_entries_batch``
  step, see ``specs/raft_refinement.py``);
* each protocol step is one event named after the spec action it performs (``timeout``,
  ``request_vote``, ``become_leader``, ``client_request``, ``advance_commit_index``,
  ``append_entries``, ``update_term``, ``handle_request_vote_request``, ...), carrying the
  message it consumed, the messages it sent and the node's state after the step;
* a leader sets match_index from each successful response as it comes (raft.tla does; a
  reordered old response can lower it, which only makes the leader resend an entry).

Choices beyond the spec, which leave its steps unchanged: a new leader appends a no-op entry
(section 8, so it learns what is committed); a candidate re-asks peers that have not answered
every heartbeat interval; a leader sends the next entry as soon as a follower acknowledges one
(only when the acknowledgement is news, so retransmissions do not multiply).

**Snapshots** (section 7, Figure 13). The driver may :meth:`RaftCore.compact` the log up to an
entry it has applied and the core knows committed, handing over its state machine's state
(JSON-ready data; the core keeps it opaque and names it by :func:`snapshot_digest`). The core
then keeps ``snapshot_index``/``snapshot_term`` and only the entries after them; indexes stay
absolute. A leader whose follower needs an entry it has compacted away sends an
InstallSnapshot request instead (once its own commit index has reached its snapshot, so the
snapshot is known committed in its term's view); the follower keeps its log if it holds the
snapshot's last entry (rule 6), else replaces log and state machine by the snapshot (rule 7),
and answers with an AppendEntries response whose match_index is the snapshot's index (as
etcd-io/raft does). A :class:`Ready` with a ``snapshot`` asks the driver to rewrite its storage
(snapshot, hard state, the entries after it) and, when ``snapshot.installed``, to reset its
state machine from the snapshot's data.

Two deliberate bugs can be switched on (``bug=``) to show that conformance checking catches
them: ``commit_old_term`` (a leader commits an entry of an earlier term by counting replicas,
against section 5.4.2) and ``vote_without_log_check`` (votes are granted without the
up-to-date check of section 5.4.1). A third, ``stale_leader_reads``, lives in the drivers (the
simulator and the TCP server), not in the core: a node that believes it leads answers a get
from its own state machine, without a log entry, a read index or a lease. Its steps are the
spec's, so trace refinement cannot see it; the linearizability check of the client history
catches it (an old leader cut off by a partition answers stale reads).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

__all__ = [
    "BUGS",
    "AppendEntriesRequest",
    "AppendEntriesResponse",
    "Config",
    "Entry",
    "InstallSnapshotRequest",
    "Message",
    "RaftCore",
    "Ready",
    "RequestVoteRequest",
    "RequestVoteResponse",
    "Role",
    "SnapshotInfo",
    "message_from_dict",
    "message_to_dict",
    "snapshot_digest",
]

#: The deliberate bugs a core can be built with (see the module docstring).
BUGS = ("commit_old_term", "vote_without_log_check", "stale_leader_reads")

#: The command a new leader appends to commit the entries of earlier terms (section 8).
NOOP = '{"op":"noop"}'


class Role(IntEnum):
    """A server's state (Figure 2: follower, candidate, leader)."""

    FOLLOWER = 0
    CANDIDATE = 1
    LEADER = 2


@dataclass(frozen=True, slots=True)
class Entry:
    """A log entry: the term in which a leader created it, and the client's command."""

    term: int
    command: str


@dataclass(frozen=True, slots=True)
class RequestVoteRequest:
    """Candidate ``src`` asks ``dst`` for its vote in ``term`` (section 5.2)."""

    id: str  # unique per message: "node.boot.counter" (lets per-node logs be merged)
    term: int
    src: int
    dst: int
    last_log_index: int  # the length of the candidate's log
    last_log_term: int  # the term of its last entry (0 if its log is empty)


@dataclass(frozen=True, slots=True)
class RequestVoteResponse:
    """``src`` answers candidate ``dst``: whether it granted its vote in ``term``."""

    id: str
    term: int
    src: int
    dst: int
    vote_granted: bool


@dataclass(frozen=True, slots=True)
class AppendEntriesRequest:
    """Leader ``src`` sends ``dst`` zero entries (a heartbeat) or one, after prev_log_index."""

    id: str
    term: int
    src: int
    dst: int
    prev_log_index: int
    prev_log_term: int  # 0 if prev_log_index is 0
    entries: tuple[Entry, ...]
    commit_index: int  # the leader's commit index, capped at the last entry sent
    # A quiet heartbeat (Config.quiet_heartbeats): outside the spec, never logged; see
    # RaftCore._heartbeat. Ignored by the refinement mapping, like request_id below.
    quiet: bool = False


@dataclass(frozen=True, slots=True)
class AppendEntriesResponse:
    """``src`` answers leader ``dst``; on success, how far its log now matches the leader's."""

    id: str
    term: int
    src: int
    dst: int
    success: bool
    match_index: int  # prev_log_index + len(entries) on success, 0 otherwise
    # The id of the request answered: lets a leader tell which heartbeat round a follower
    # acknowledged (ReadIndex). Not part of the spec's message, which the mapping ignores.
    request_id: str = ""
    quiet: bool = False  # the answer to a quiet heartbeat (success: it changed nothing)


@dataclass(frozen=True, slots=True)
class InstallSnapshotRequest:
    """Leader ``src`` sends ``dst`` its snapshot: the state machine after entries
    1..last_included_index (Figure 13, in one chunk: no offset or done)."""

    id: str
    term: int
    src: int
    dst: int
    last_included_index: int
    last_included_term: int
    digest: str  # snapshot_digest(data): what the event log records instead of the data
    data: Any = None  # the state machine's JSON-ready state; not in the event log


Message = (RequestVoteRequest | RequestVoteResponse | AppendEntriesRequest
           | AppendEntriesResponse | InstallSnapshotRequest)


def snapshot_digest(data: Any) -> str:
    """A short name for a snapshot's data: SHA-256 of its canonical JSON (keys sorted), in
    hex, 32 digits. Equal data, equal digest, however it travelled."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class SnapshotInfo:
    """A snapshot for the driver to make durable: entries 1..index (the last of term ``term``)
    applied into ``data``. ``installed``: it came from the leader, so the driver must also
    reset its state machine from ``data`` (else it is the driver's own compaction)."""

    index: int
    term: int
    data: Any
    installed: bool = False


@dataclass(frozen=True)
class Config:
    """Timing, in ticks. The election timeout is drawn from [election_ticks, 2*election_ticks)
    afresh each time the timer is reset (section 5.2: randomized election timeouts)."""

    election_ticks: int = 10
    heartbeat_ticks: int = 3  # a leader's AppendEntries round, a candidate's re-asking round
    #: Send heartbeats that would change nothing quietly: no event is logged for them, so an
    #: idle cluster's event log does not grow (see RaftCore._heartbeat for why the trace
    #: refinement loses nothing).
    quiet_heartbeats: bool = False
    #: The most entries one AppendEntries request carries (1: raft.tla's one at a time).
    max_batch_entries: int = 64


@dataclass(frozen=True)
class Ready:
    """What the steps since the previous Ready produced, in handling order: an immutable value.

    ``hard_state`` is ``(current_term, voted_for)`` if it changed; ``log_from``, if not None,
    says the log from that index on (1-based) was replaced by ``entries`` (a truncation and
    an append in one); both go to disk in one fsynced record before anything else happens.
    ``committed`` are the (index, entry) pairs to apply, in order, after that.
    ``snapshot``, if not None, replaces that record: the driver rewrites its storage as the
    snapshot, ``hard_state`` (then always given) and ``entries`` (then the whole log after the
    snapshot, ``log_from`` being its index + 1), and resets its state machine from the
    snapshot first if it was installed; ``committed`` then starts after the snapshot.
    """

    hard_state: tuple[int, int | None] | None = None
    log_from: int | None = None
    entries: tuple[Entry, ...] = ()
    events: tuple[dict[str, Any], ...] = ()
    messages: tuple[Message, ...] = ()
    committed: tuple[tuple[int, Entry], ...] = ()
    #: ReadIndex reads now confirmed: (ctx, read_index) each; the driver answers a read from
    #: its state machine once it has applied up to read_index (after this Ready's committed).
    reads: tuple[tuple[Any, int], ...] = ()
    snapshot: SnapshotInfo | None = None

    def empty(self) -> bool:
        return not (self.hard_state or self.log_from is not None or self.events
                    or self.messages or self.committed or self.reads
                    or self.snapshot is not None)


@dataclass
class _Unready:
    """What the steps since the last :meth:`RaftCore.ready` produced (the next Ready's parts)."""

    hard_state: tuple[int, int | None] | None = None
    log_from: int | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    reads: list[tuple[Any, int]] = field(default_factory=list)
    snapshot: SnapshotInfo | None = None


@dataclass
class _Read:
    """A ReadIndex read waiting for a majority to confirm this leader (dissertation 6.4)."""

    ctx: Any
    index: int | None  # the read index; None until the leader has committed in its term
    round: int  # heartbeats of this round or later confirm it
    acks: set[int]


class RaftCore:
    """One Raft server's protocol state and its handlers; see the module docstring.

    Node ids are 1..n. The persistent state (``current_term``, ``voted_for``, ``log`` and the
    ``snapshot`` it follows, as ``(index, term, data)``) is given at construction, as recovered
    from disk; everything else starts afresh, as after a restart. Indexes are absolute: with a
    snapshot of index k, ``log[0]`` is entry k + 1.
    """

    def __init__(self, node_id: int, node_ids: list[int], *, rng: random.Random,
                 current_term: int = 1, voted_for: int | None = None,
                 log: list[Entry] | None = None, boot: int = 0, config: Config | None = None,
                 bug: str | None = None,
                 snapshot: tuple[int, int, Any] | None = None) -> None:
        if bug is not None and bug not in BUGS:
            raise ValueError(f"unknown bug {bug!r} (known: {', '.join(BUGS)})")
        self.id = node_id
        self.nodes = sorted(node_ids)
        self.peers = [n for n in self.nodes if n != node_id]
        self.quorum = len(self.nodes) // 2 + 1  # any two majorities intersect
        self.rng = rng
        self.config = config or Config()
        self.bug = bug
        self.boot = boot  # restarts so far; part of every message id
        # Persistent state (Figure 2), recovered from disk.
        self.current_term = current_term  # Invariant: never decreases
        self.voted_for = voted_for  # whom this node voted for in current_term, or None
        self.log: list[Entry] = list(log or [])  # entry snapshot_index + 1 is log[0]
        # The snapshot the log follows (section 7): entries 1..snapshot_index are compacted
        # into snapshot_data, the last of them of snapshot_term. Invariant: every compacted
        # entry is committed.
        self.snapshot_index, self.snapshot_term, self.snapshot_data = snapshot or (0, 0, None)
        self._snapshot_digest = (snapshot_digest(self.snapshot_data) if self.snapshot_index
                                 else "")
        # Volatile state, lost on a restart.
        self.role = Role.FOLLOWER
        self.commit_index = 0  # Invariant: commit_index <= len(log), never decreases
        self.last_applied = 0  # Invariant: last_applied <= commit_index
        self.leader_id: int | None = None  # the leader of current_term, if known (for clients)
        self.votes_granted: set[int] = set()  # candidates only
        self.next_index = {n: 1 for n in self.nodes}  # leaders only
        self.match_index = {n: 0 for n in self.nodes}  # leaders only
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.election_timeout = self._random_timeout()
        self._msg_counter = 0
        self._unready = _Unready()
        self._outstanding: Ready | None = None  # handed out by ready(), not yet advanced
        # The last index handed out to apply (>= last_applied); the snapshot is applied.
        self._handed_out = self.snapshot_index
        self.last_applied = self.snapshot_index
        self._reads: list[_Read] = []  # leaders only: ReadIndex reads not yet confirmed
        self._read_round = 0  # leaders only: bumped by each read_index() round
        self._round_unsent = False  # a read round's heartbeats are queued, not yet handed out
        self._request_round: dict[str, int] = {}  # AppendEntries id -> round, while reads wait
        self._quiet_ok: set[int] = set()  # leaders only: peers a quiet heartbeat suffices for
        self._ticks = 0  # ticks since start (to pace snapshot resends)
        self._snapshot_sent: dict[int, int] = {}  # leaders only: peer -> tick of the last send
        self._append_due: set[int] = set()  # leaders only: peers owed new entries (next Ready)
        self._sent_commit: dict[str, int] = {}  # leaders only: logged AppendEntries id -> commit
        extra: dict[str, Any] = {}
        if self.snapshot_index:
            extra["snapshot"] = [self.snapshot_index, self.snapshot_term, self._snapshot_digest]
        self._emit("restart", log=[[e.term, e.command] for e in self.log], boot=boot, **extra)

    # -- absolute indexes over a compacted log -------------------------------------------------

    def last_index(self) -> int:
        """The index of the last entry (compacted or not); 0 if there is none."""
        return self.snapshot_index + len(self.log)

    def term_at(self, index: int) -> int:
        """The term of the entry at ``index``: 0 for index 0, the snapshot's term at its index,
        -1 for an entry compacted away before it (its term is no longer known)."""
        si = self.snapshot_index
        if index > si:
            return self.log[index - si - 1].term
        if index == si:
            return self.snapshot_term if si else 0
        return -1

    # -- the driver's verbs --------------------------------------------------------------------

    def compact(self, index: int, data: Any) -> bool:
        """Log compaction (section 7): the driver's state machine, having applied entries
        1..``index``, is ``data`` (JSON-ready); forget those entries, keeping ``data`` as the
        snapshot. Only applied entries the core knows committed may be compacted; returns
        False (nothing done) if ``index`` is not past the current snapshot or is beyond the
        last entry applied or committed. The next Ready carries the snapshot to persist."""
        if not self.snapshot_index < index <= min(self.last_applied, self.commit_index):
            return False
        term = self.term_at(index)
        del self.log[:index - self.snapshot_index]
        self._set_snapshot(index, term, data, installed=False)
        self._emit("compact", snapshot=[index, term, self._snapshot_digest])
        return True

    def _set_snapshot(self, index: int, term: int, data: Any, *, installed: bool) -> None:
        self.snapshot_index, self.snapshot_term, self.snapshot_data = index, term, data
        self._snapshot_digest = snapshot_digest(data)
        u = self._unready
        prior = u.snapshot is not None and u.snapshot.installed
        # An install not yet handed to the driver stays an install: its state machine must
        # still be reset, even if a compaction follows it within the same Ready.
        u.snapshot = SnapshotInfo(index, term, data, installed or prior)


    def tick(self) -> None:
        """One tick of logical time: maybe start an election, or send a heartbeat round."""
        self._ticks += 1
        if self.role is Role.LEADER:
            self.heartbeat_elapsed += 1
            if self.heartbeat_elapsed >= self.config.heartbeat_ticks:
                self.heartbeat_elapsed = 0
                for j in self.peers:
                    self._heartbeat(j)
            return
        self.election_elapsed += 1
        if self.election_elapsed >= self.election_timeout:
            self._timeout()
            return
        if self.role is Role.CANDIDATE:
            self.heartbeat_elapsed += 1
            if self.heartbeat_elapsed >= self.config.heartbeat_ticks:
                self.heartbeat_elapsed = 0
                for j in self.peers:
                    if j not in self.votes_granted:
                        self._request_vote(j)

    def propose(self, command: str) -> int | None:
        """Append a client command if this node is leader: its log index, else None."""
        if self.role is not Role.LEADER:
            return None
        return self._client_request(command)

    def read_index(self, ctx: Any) -> bool:
        """ReadIndex (Raft dissertation, section 6.4): a linearizable read without a log entry.

        On a leader: remember the commit index (once the leader has committed an entry of its
        own term, which its no-op gives it), send a heartbeat round, and when a majority has
        answered a heartbeat of this round or later in the current term — so no other leader
        can have committed anything newer — hand out ``(ctx, index)`` in :attr:`Ready.reads`.
        The driver answers the read once it has applied ``index``. Returns False (nothing
        registered) on a node that does not lead; reads still waiting when the node stops
        leading are dropped, and the driver fails them.
        """
        if self.role is not Role.LEADER:
            return False
        if not self._round_unsent:
            # A new heartbeat round; reads registered before it leaves share it (its messages
            # go out with the next Ready, after all of them).
            self._read_round += 1
            self._round_unsent = True
            self._reads.append(_Read(ctx, self._read_index_now(), self._read_round, {self.id}))
            for j in self.peers:
                self._heartbeat(j)
        else:
            self._reads.append(_Read(ctx, self._read_index_now(), self._read_round, {self.id}))
        self._release_reads()
        return True

    def _ack_read_round(self, m: AppendEntriesResponse) -> None:
        """A response in our term to a heartbeat of round r confirms the reads of rounds <= r
        (the follower had not moved to a later term when it answered)."""
        acked_round = self._request_round.pop(m.request_id, None)
        if acked_round is not None and m.term == self.current_term:
            for r in self._reads:
                if r.round <= acked_round:
                    r.acks.add(m.src)

    def _read_index_now(self) -> int | None:
        """The commit index, if the leader has committed an entry of its term (section 8)."""
        c = self.commit_index
        return c if c and self.term_at(c) == self.current_term else None

    def _release_reads(self) -> None:
        if not self._reads:
            self._request_round.clear()
            return
        now = self._read_index_now()
        waiting = []
        for r in self._reads:
            if r.index is None:
                r.index = now
            if r.index is not None and len(r.acks) >= self.quorum:
                self._unready.reads.append((r.ctx, r.index))
            else:
                waiting.append(r)
        self._reads = waiting
        if not waiting:
            self._request_round.clear()

    # -- quiet heartbeats ------------------------------------------------------------------------

    def _heartbeat(self, j: int) -> None:
        """A heartbeat to j: quiet if j is known to hold our whole log and commit index.

        Why the trace refinement loses nothing: a quiet heartbeat is sent only when the last
        logged AppendEntries j acknowledged (in this term, matching our whole log) carried our
        current commit index, so handling it changes nothing the spec sees. The follower checks
        that again (it may have restarted, or moved on): if handling would change its term,
        role, log or commit index, it does not act on the message at all and answers "send me a
        logged one"; the leader then sends a logged AppendEntries next round. A quiet exchange
        therefore only resets the follower's election timer and leader hint, which the spec
        does not model: it is stuttering, and its messages never enter the spec's network.
        """
        if self.config.quiet_heartbeats and self._snapshot_in_flight(j):
            # A snapshot (perhaps megabytes) is on its way: do not send it again each round;
            # a quiet heartbeat keeps j's election timer from firing meanwhile.
            self._quiet_heartbeat(j)
            return
        if (not self.config.quiet_heartbeats or j not in self._quiet_ok
                or self.next_index[j] <= self.last_index()):
            self._append_entries(j)
            return
        self._quiet_heartbeat(j)

    def _snapshot_in_flight(self, j: int) -> bool:
        """Whether j was sent the snapshot it needs less than an election timeout ago."""
        sent = self._snapshot_sent.get(j)
        return (sent is not None and self._ticks - sent < self.config.election_ticks
                and self.next_index[j] <= self.snapshot_index)

    def _quiet_heartbeat(self, j: int) -> None:
        prev = self.last_index()
        m = AppendEntriesRequest(self._next_id(), self.current_term, self.id, j, prev,
                                 self.term_at(prev), (), self.commit_index,
                                 True)
        if self._reads:
            self._request_round[m.id] = self._read_round
        self._unready.messages.append(m)  # no event: see above

    def _handle_quiet_heartbeat(self, m: AppendEntriesRequest) -> None:
        last_term = self.term_at(self.last_index())
        same_term_follower = m.term == self.current_term and self.role is Role.FOLLOWER
        changes_nothing = (same_term_follower and m.prev_log_index == self.last_index()
                           and m.prev_log_term == last_term
                           and m.commit_index == self.commit_index)
        if same_term_follower:
            self.leader_id = m.src
            self._reset_election_timer()
        reply = AppendEntriesResponse(self._next_id(), self.current_term, self.id, m.src,
                                      changes_nothing,
                                      self.last_index() if changes_nothing else 0,
                                      m.id, True)
        self._unready.messages.append(reply)

    def _handle_quiet_response(self, m: AppendEntriesResponse) -> None:
        if self.role is not Role.LEADER:
            return
        if not m.success:
            self._quiet_ok.discard(m.src)  # the next heartbeat to it is logged
        self._ack_read_round(m)
        self._release_reads()

    def _drop_reads(self) -> None:
        self._reads = []
        self._request_round.clear()

    def step(self, m: Message) -> None:
        """Handle one message from the network (section 5.1: the term check comes first)."""
        if m.dst != self.id:
            raise ValueError(f"node {self.id} was handed a message for node {m.dst}")
        if isinstance(m, AppendEntriesRequest) and m.quiet:
            self._handle_quiet_heartbeat(m)
            return
        if isinstance(m, AppendEntriesResponse) and m.quiet:
            self._handle_quiet_response(m)
            return
        if m.term > self.current_term:
            self._update_term(m)
        if isinstance(m, RequestVoteRequest):
            self._handle_request_vote_request(m)
        elif isinstance(m, RequestVoteResponse):
            if m.term < self.current_term:
                self._emit("drop_stale_response", recv=m)
            else:
                self._handle_request_vote_response(m)
        elif isinstance(m, AppendEntriesRequest):
            self._handle_append_entries_request(m)
        elif isinstance(m, InstallSnapshotRequest):
            self._handle_install_snapshot_request(m)
        elif isinstance(m, AppendEntriesResponse):
            if m.term < self.current_term:
                self._emit("drop_stale_response", recv=m)
            else:
                self._handle_append_entries_response(m)
        else:
            raise TypeError(f"not a Raft message: {m!r}")

    def has_ready(self) -> bool:
        """Whether :meth:`ready` would return something to handle."""
        u = self._unready
        return bool(u.hard_state or u.log_from is not None or u.events or u.messages
                    or u.reads or u.snapshot is not None or self._append_due
                    or self.commit_index > self._handed_out)

    def ready(self) -> Ready:
        """Everything produced since the previous Ready, as an immutable value.

        Contract (etcd-io/raft's): at most one non-empty Ready is outstanding; the driver
        handles it in the documented order and then calls :meth:`advance` with it. Between
        ready() and advance() the driver may go on calling :meth:`tick`, :meth:`step` and
        :meth:`propose` (for example while the fsync runs): what they produce goes into the
        *next* Ready, so a message is never sent before the state it depends on is on disk.
        """
        if self._outstanding is not None:
            raise RuntimeError(f"node {self.id}: ready() called again before advance() of the "
                               f"previous Ready")
        self._flush_appends()
        u, self._unready = self._unready, _Unready()
        self._round_unsent = False  # a heartbeat round in u leaves with this Ready
        committed: tuple[tuple[int, Entry], ...] = ()
        if self.commit_index > self._handed_out:
            committed = tuple((k, self.log[k - self.snapshot_index - 1])
                              for k in range(self._handed_out + 1, self.commit_index + 1))
            self._handed_out = self.commit_index
        hard_state, log_from = u.hard_state, u.log_from
        if u.snapshot is not None:
            # The storage is rewritten whole: snapshot, hard state, every entry after it.
            hard_state, log_from = (self.current_term, self.voted_for), self.snapshot_index + 1
        entries = (tuple(self.log[log_from - self.snapshot_index - 1:])
                   if log_from is not None else ())
        rd = Ready(hard_state, log_from, entries, tuple(u.events), tuple(u.messages),
                   committed, tuple(u.reads), u.snapshot)
        if not rd.empty():
            self._outstanding = rd
        return rd

    def advance(self, rd: Ready) -> None:
        """The driver persisted, logged, sent and applied ``rd`` (in that order)."""
        if rd.empty():
            return
        if rd is not self._outstanding:
            raise RuntimeError(f"node {self.id}: advance() given a Ready that is not the "
                               f"outstanding one")
        self._outstanding = None
        if rd.snapshot is not None and rd.snapshot.installed:
            self.last_applied = max(self.last_applied, rd.snapshot.index)
        if rd.committed:
            self.last_applied = rd.committed[-1][0]

    # -- persistent-state bookkeeping ----------------------------------------------------------

    def _hard_state_changed(self) -> None:
        self._unready.hard_state = (self.current_term, self.voted_for)

    def _log_changed_from(self, index: int) -> None:
        """The log from ``index`` on must be (re)written to disk."""
        u = self._unready
        u.log_from = index if u.log_from is None else min(u.log_from, index)

    # -- elections (section 5.2) ---------------------------------------------------------------

    def _random_timeout(self) -> int:
        base = self.config.election_ticks
        return base + self.rng.randrange(base)

    def _reset_election_timer(self) -> None:
        self.election_elapsed = 0
        self.election_timeout = self._random_timeout()

    def _timeout(self) -> None:
        """timeout: start an election in the next term, voting for oneself (section 5.2)."""
        self.current_term += 1
        self.role = Role.CANDIDATE
        self.voted_for = self.id
        self.votes_granted = {self.id}
        self.leader_id = None
        self.heartbeat_elapsed = 0
        self._reset_election_timer()
        self._hard_state_changed()
        self._emit("timeout")
        for j in self.peers:
            self._request_vote(j)
        self._maybe_become_leader()  # a one-node cluster is its own majority

    def _request_vote(self, j: int) -> None:
        """request_vote: ask j for its vote, describing the last entry of this log."""
        last = self.last_index()
        m = RequestVoteRequest(self._next_id(), self.current_term, self.id, j, last,
                               self.term_at(last))
        self._emit("request_vote", sent=[m])

    def _log_ok(self, m: RequestVoteRequest) -> bool:
        """Whether the candidate's log is at least as up-to-date as ours (section 5.4.1)."""
        if self.bug == "vote_without_log_check":
            return True
        last = self.last_index()
        last_term = self.term_at(last)
        return m.last_log_term > last_term or (m.last_log_term == last_term
                                               and m.last_log_index >= last)

    def _handle_request_vote_request(self, m: RequestVoteRequest) -> None:
        """Grant the vote if the term is ours, we have not voted for another, and the
        candidate's log is up-to-date (Figure 2, RequestVote RPC receiver rules 1-2)."""
        grant = (m.term == self.current_term and self.voted_for in (None, m.src)
                 and self._log_ok(m))
        if grant:
            if self.voted_for != m.src:
                self.voted_for = m.src
                self._hard_state_changed()
            self._reset_election_timer()  # section 5.2: a granted vote defers our own election
        reply = RequestVoteResponse(self._next_id(), self.current_term, self.id, m.src, grant)
        self._emit("handle_request_vote_request", recv=m, sent=[reply])

    def _handle_request_vote_response(self, m: RequestVoteResponse) -> None:
        """Count a vote granted in our current term (if we are still a candidate)."""
        if m.vote_granted and self.role is Role.CANDIDATE:
            self.votes_granted.add(m.src)
        self._emit("handle_request_vote_response", recv=m)
        self._maybe_become_leader()

    def _maybe_become_leader(self) -> None:
        """become_leader: a candidate with votes from a majority leads (section 5.2)."""
        if self.role is not Role.CANDIDATE or len(self.votes_granted) < self.quorum:
            return
        self.role = Role.LEADER
        self.leader_id = self.id
        self.votes_granted = set()
        self.next_index = {n: self.last_index() + 1 for n in self.nodes}
        self.match_index = {n: 0 for n in self.nodes}
        self.heartbeat_elapsed = 0
        self._quiet_ok.clear()
        self._snapshot_sent.clear()
        self._emit("become_leader")
        # Section 8: a no-op entry of the new term lets the leader commit earlier entries.
        self._client_request(NOOP)

    def _update_term(self, m: Message) -> None:
        """update_term: a later term makes us a follower in it, with no vote (section 5.1)."""
        self._drop_reads()
        self._quiet_ok.clear()
        self._sent_commit.clear()
        self.current_term = m.term
        self.role = Role.FOLLOWER
        self.voted_for = None
        self.leader_id = None
        self.votes_granted = set()
        self.next_index = {n: 1 for n in self.nodes}
        self.match_index = {n: 0 for n in self.nodes}
        self._hard_state_changed()
        self._emit("update_term", msg=m)

    # -- log replication (section 5.3) ---------------------------------------------------------

    def _client_request(self, command: str) -> int:
        """client_request: the leader appends a command; followers that were up to date get
        it with the next Ready, together with every command proposed before then (one
        AppendEntries for all of them: see :meth:`_flush_appends`)."""
        self.log.append(Entry(self.current_term, command))
        self._quiet_ok.clear()
        index = self.last_index()
        self._log_changed_from(index)
        self._emit("client_request", entry=[self.current_term, command])
        for j in self.peers:
            if self.next_index[j] == index:
                self._append_due.add(j)
        self._advance_commit_index()  # a one-node cluster commits at once
        return index

    def _flush_appends(self) -> None:
        """Send the followers that were up to date when commands were proposed all of them,
        in one AppendEntries each (unless one was sent to them meanwhile)."""
        due, self._append_due = self._append_due, set()
        if self.role is not Role.LEADER:
            return
        for j in sorted(due):
            if self.next_index[j] <= self.last_index():
                self._append_entries(j)

    def _append_entries(self, j: int) -> None:
        """append_entries: send j the entries from next_index[j] on, at most
        ``max_batch_entries`` (none if j is up to date), with the index and term of the entry
        before them. If that entry is compacted away, send the snapshot instead."""
        self._append_due.discard(j)  # this request carries what was due
        nxt = self.next_index[j]
        prev = nxt - 1
        if prev < self.snapshot_index:
            self._install_snapshot(j)
            return
        start = prev - self.snapshot_index
        entries = tuple(self.log[start:start + max(1, self.config.max_batch_entries)])
        last = prev + len(entries)
        m = AppendEntriesRequest(self._next_id(), self.current_term, self.id, j, prev,
                                 self.term_at(prev), entries, min(self.commit_index, last))
        if self._reads:
            self._request_round[m.id] = self._read_round
        if self.config.quiet_heartbeats:
            if len(self._sent_commit) > 10_000:
                self._sent_commit.clear()  # answers lost long ago; costs only loud heartbeats
            self._sent_commit[m.id] = m.commit_index
        self._emit("append_entries", sent=[m])

    def _handle_append_entries_request(self, m: AppendEntriesRequest) -> None:
        """Figure 2, AppendEntries RPC receiver rules 1-5: reject an old term or a missing
        previous entry; else delete a conflicting suffix, append, advance commit_index."""
        term = self.current_term
        if m.term < term:
            self._reply_append(m, False, 0)
            return
        if self.role is Role.LEADER:
            # Two leaders in one term cannot happen (Election Safety); if it did, the spec
            # has no step for it either, so refuse loudly rather than guess.
            raise AssertionError(f"node {self.id}: leader of term {term} got AppendEntries "
                                 f"from node {m.src} in the same term")
        if self.role is Role.CANDIDATE:
            self.role = Role.FOLLOWER  # section 5.2: a candidate hearing the leader steps down
            self.votes_granted = set()
        self.leader_id = m.src
        self._reset_election_timer()
        prev = m.prev_log_index
        # An entry at or before our snapshot is committed, so it matches the leader's.
        if prev > self.snapshot_index and (prev > self.last_index()
                                           or self.term_at(prev) != m.prev_log_term):
            self._reply_append(m, False, 0)
            return
        for k, entry in enumerate(m.entries, start=prev + 1):
            # Rules 3-4, one entry at a time (as the spec's single-entry rule, repeated): an
            # entry already there with the same term is kept; a conflicting one goes, with
            # everything after it; a missing one is appended.
            if k <= self.snapshot_index:
                continue
            if k <= self.last_index():
                if self.term_at(k) == entry.term:
                    continue
                del self.log[k - self.snapshot_index - 1:]
            self.log.append(entry)
            self._log_changed_from(k)
        last = prev + len(m.entries)
        if m.commit_index > self.commit_index:
            self.commit_index = min(m.commit_index, last)  # rule 5
        self._reply_append(m, True, last)

    def _reply_append(self, m: AppendEntriesRequest, success: bool, match: int) -> None:
        reply = AppendEntriesResponse(self._next_id(), self.current_term, self.id, m.src,
                                      success, match, m.id)
        self._emit("handle_append_entries_request", recv=m, sent=[reply])

    def _install_snapshot(self, j: int) -> None:
        """install_snapshot: j needs an entry compacted away; send it the snapshot (Figure 13).
        Only once this leader's commit index has reached the snapshot (after a restart it
        starts at 0): until then nothing is sent to j, and a majority that holds the entries
        lets the leader commit without j."""
        if self.commit_index < self.snapshot_index:
            return
        m = InstallSnapshotRequest(self._next_id(), self.current_term, self.id, j,
                                   self.snapshot_index, self.snapshot_term,
                                   self._snapshot_digest, self.snapshot_data)
        self._snapshot_sent[j] = self._ticks
        self._emit("install_snapshot", sent=[m])

    def _handle_install_snapshot_request(self, m: InstallSnapshotRequest) -> None:
        """Figure 13, InstallSnapshot receiver rules 1 and 5-8: reject an old term; if the log
        holds the snapshot's last entry, keep the entries after it (rule 6); else discard the
        log and reset the state machine from the snapshot (rule 7). Answer with how far the
        log now matches the leader's (an AppendEntries response, as etcd-io/raft does)."""
        if m.term < self.current_term:
            self._reply_snapshot(m, False, 0)
            return
        if self.role is Role.LEADER:
            raise AssertionError(f"node {self.id}: leader of term {self.current_term} got "
                                 f"InstallSnapshot from node {m.src} in the same term")
        if self.role is Role.CANDIDATE:
            self.role = Role.FOLLOWER
            self.votes_granted = set()
        self.leader_id = m.src
        self._reset_election_timer()
        k = m.last_included_index
        if k <= self.snapshot_index or (k <= self.last_index()
                                        and self.term_at(k) == m.last_included_term):
            pass  # rule 6: our log already holds it (a compacted entry is committed)
        else:
            self.log = []  # rule 7
            self._set_snapshot(k, m.last_included_term, m.data, installed=True)
            self._handed_out = max(self._handed_out, k)
        if k > self.commit_index:
            self.commit_index = k
        self._reply_snapshot(m, True, k)

    def _reply_snapshot(self, m: InstallSnapshotRequest, success: bool, match: int) -> None:
        reply = AppendEntriesResponse(self._next_id(), self.current_term, self.id, m.src,
                                      success, match, m.id)
        self._emit("handle_install_snapshot_request", recv=m, sent=[reply])

    def _handle_append_entries_response(self, m: AppendEntriesResponse) -> None:
        """Record how far the follower matches, or step its next_index back by one; then
        commit what a majority stores and keep the follower's pipeline moving."""
        if self.role is not Role.LEADER:
            # Our leadership of this term ended with a restart: nothing to update.
            self._emit("handle_append_entries_response", recv=m)
            return
        j = m.src
        self._snapshot_sent.pop(j, None)  # answered: the next send is paced afresh
        self._ack_read_round(m)
        progressed = m.success and m.match_index > self.match_index[j]
        sent_commit = self._sent_commit.pop(m.request_id, None)
        if (m.success and m.match_index == self.last_index() and sent_commit is not None
                and sent_commit == self.commit_index):
            self._quiet_ok.add(j)
        else:
            self._quiet_ok.discard(j)
        if m.success:
            self.next_index[j] = m.match_index + 1
            self.match_index[j] = m.match_index
        else:
            self.next_index[j] = max(self.next_index[j] - 1, 1)
        self._emit("handle_append_entries_response", recv=m)
        self._advance_commit_index()
        # Keep the pipeline moving only on news: a duplicate or stale success (from a
        # heartbeat's retransmission) must not start a second chain of sends, or the chains
        # multiply with every heartbeat while a follower lags.
        if not m.success or (progressed and self.next_index[j] <= self.last_index()):
            self._append_entries(j)
        self._release_reads()

    def _advance_commit_index(self) -> None:
        """advance_commit_index: commit the highest entry a majority stores, if it is of the
        current term (section 5.4.2; an earlier term's entry is committed only indirectly)."""
        if self.role is not Role.LEADER:
            return
        last = self.last_index()
        match = sorted((last if n == self.id else self.match_index[n]
                        for n in self.nodes), reverse=True)
        new = min(match[self.quorum - 1], last)
        if new <= self.commit_index:
            return
        if self.term_at(new) != self.current_term and self.bug != "commit_old_term":
            return
        self.commit_index = new
        self._quiet_ok.clear()  # every follower must hear of the new commit index, logged
        self._emit("advance_commit_index")
        if self._reads:
            self._release_reads()  # reads waiting for a commit in this term may go now

    # -- events --------------------------------------------------------------------------------

    def _next_id(self) -> str:
        self._msg_counter += 1
        return f"{self.id}.{self.boot}.{self._msg_counter}"

    def _emit(self, action: str, *, recv: Message | None = None,
              sent: list[Message] | None = None, **extra: Any) -> None:
        """Record one protocol step (named after its spec action) with the state after it."""
        ev: dict[str, Any] = {"n": self.id, "action": action}
        if recv is not None:
            ev["recv"] = message_to_dict(recv, with_data=False)
        if sent:
            ev["sent"] = [message_to_dict(m, with_data=False) for m in sent]
            self._unready.messages.extend(sent)
        for key, value in extra.items():
            ev[key] = message_to_dict(value, with_data=False) if key == "msg" else value
        ev["state"] = self.snapshot()
        self._unready.events.append(ev)

    def snapshot(self) -> dict[str, Any]:
        """The node's state as the event log records it after each step."""
        st: dict[str, Any] = {
            "term": self.current_term,
            "role": self.role.name.lower(),
            "voted_for": self.voted_for,
            "log_len": self.last_index(),
            "last_term": self.term_at(self.last_index()),
            "commit": self.commit_index,
        }
        if self.role is Role.CANDIDATE:
            st["votes"] = sorted(self.votes_granted)
        elif self.role is Role.LEADER:
            st["next"] = {str(j): self.next_index[j] for j in self.peers}
            st["match"] = {str(j): self.match_index[j] for j in self.peers}
        return st


# -- the wire format (also the event log's) ----------------------------------------------------

_TYPES = {RequestVoteRequest: "request_vote_request", RequestVoteResponse: "request_vote_response",
          AppendEntriesRequest: "append_entries_request",
          AppendEntriesResponse: "append_entries_response",
          InstallSnapshotRequest: "install_snapshot_request"}
_CLASSES = {name: cls for cls, name in _TYPES.items()}


def message_to_dict(m: Message, *, with_data: bool = True) -> dict[str, Any]:
    """A message as a JSON-ready dict: ``type`` first, then its fields (entries as pairs).
    Without ``with_data`` (the event log's form) a snapshot's data is left out: its digest
    names it."""
    d: dict[str, Any] = {"type": _TYPES[type(m)]}
    for name in m.__slots__:
        if name == "data" and not with_data:
            continue
        value = getattr(m, name)
        d[name] = [[e.term, e.command] for e in value] if name == "entries" else value
    return d


def message_from_dict(d: dict[str, Any]) -> Message:
    """The inverse of :func:`message_to_dict`; raises ValueError on a malformed message."""
    try:
        cls = _CLASSES[d["type"]]
        fields = {name: d[name] for name in cls.__slots__ if name in d}
        if cls is AppendEntriesRequest:
            fields["entries"] = tuple(Entry(int(t), str(c)) for t, c in fields["entries"])
        return cls(**fields)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a Raft message: {d!r} ({exc})") from None
