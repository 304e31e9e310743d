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

* a leader sends at most one entry per AppendEntries request, the entry at next_index;
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
    "Message",
    "RaftCore",
    "Ready",
    "RequestVoteRequest",
    "RequestVoteResponse",
    "Role",
    "message_from_dict",
    "message_to_dict",
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


Message = RequestVoteRequest | RequestVoteResponse | AppendEntriesRequest | AppendEntriesResponse


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


@dataclass(frozen=True)
class Ready:
    """What the steps since the previous Ready produced, in handling order: an immutable value.

    ``hard_state`` is ``(current_term, voted_for)`` if it changed; ``log_from``, if not None,
    says the log from that index on (1-based) was replaced by ``entries`` (a truncation and
    an append in one); both go to disk in one fsynced record before anything else happens.
    ``committed`` are the (index, entry) pairs to apply, in order, after that.
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

    def empty(self) -> bool:
        return not (self.hard_state or self.log_from is not None or self.events
                    or self.messages or self.committed or self.reads)


@dataclass
class _Unready:
    """What the steps since the last :meth:`RaftCore.ready` produced (the next Ready's parts)."""

    hard_state: tuple[int, int | None] | None = None
    log_from: int | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    reads: list[tuple[Any, int]] = field(default_factory=list)


@dataclass
class _Read:
    """A ReadIndex read waiting for a majority to confirm this leader (dissertation 6.4)."""

    ctx: Any
    index: int | None  # the read index; None until the leader has committed in its term
    round: int  # heartbeats of this round or later confirm it
    acks: set[int]


class RaftCore:
    """One Raft server's protocol state and its handlers; see the module docstring.

    Node ids are 1..n. The persistent state (``current_term``, ``voted_for``, ``log``) is given
    at construction, as recovered from disk; everything else starts afresh, as after a restart.
    """

    def __init__(self, node_id: int, node_ids: list[int], *, rng: random.Random,
                 current_term: int = 1, voted_for: int | None = None,
                 log: list[Entry] | None = None, boot: int = 0, config: Config | None = None,
                 bug: str | None = None) -> None:
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
        self.log: list[Entry] = list(log or [])  # index 1 is log[0]
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
        self._handed_out = 0  # the last index handed out to apply (>= last_applied)
        self._reads: list[_Read] = []  # leaders only: ReadIndex reads not yet confirmed
        self._read_round = 0  # leaders only: bumped by each read_index() round
        self._round_unsent = False  # a read round's heartbeats are queued, not yet handed out
        self._request_round: dict[str, int] = {}  # AppendEntries id -> round, while reads wait
        self._quiet_ok: set[int] = set()  # leaders only: peers a quiet heartbeat suffices for
        self._sent_commit: dict[str, int] = {}  # leaders only: logged AppendEntries id -> commit
        self._emit("restart", log=[[e.term, e.command] for e in self.log], boot=boot)

    # -- the driver's verbs --------------------------------------------------------------------

    def tick(self) -> None:
        """One tick of logical time: maybe start an election, or send a heartbeat round."""
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
        return c if c and self.log[c - 1].term == self.current_term else None

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
        if (not self.config.quiet_heartbeats or j not in self._quiet_ok
                or self.next_index[j] <= len(self.log)):
            self._append_entries(j)
            return
        prev = len(self.log)
        m = AppendEntriesRequest(self._next_id(), self.current_term, self.id, j, prev,
                                 self.log[prev - 1].term if prev else 0, (), self.commit_index,
                                 True)
        if self._reads:
            self._request_round[m.id] = self._read_round
        self._unready.messages.append(m)  # no event: see above

    def _handle_quiet_heartbeat(self, m: AppendEntriesRequest) -> None:
        last_term = self.log[-1].term if self.log else 0
        same_term_follower = m.term == self.current_term and self.role is Role.FOLLOWER
        changes_nothing = (same_term_follower and m.prev_log_index == len(self.log)
                           and m.prev_log_term == last_term
                           and m.commit_index == self.commit_index)
        if same_term_follower:
            self.leader_id = m.src
            self._reset_election_timer()
        reply = AppendEntriesResponse(self._next_id(), self.current_term, self.id, m.src,
                                      changes_nothing, len(self.log) if changes_nothing else 0,
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
                    or u.reads or self.commit_index > self._handed_out)

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
        u, self._unready = self._unready, _Unready()
        self._round_unsent = False  # a heartbeat round in u leaves with this Ready
        committed: tuple[tuple[int, Entry], ...] = ()
        if self.commit_index > self._handed_out:
            committed = tuple((k, self.log[k - 1])
                              for k in range(self._handed_out + 1, self.commit_index + 1))
            self._handed_out = self.commit_index
        entries = tuple(self.log[u.log_from - 1:]) if u.log_from is not None else ()
        rd = Ready(u.hard_state, u.log_from, entries, tuple(u.events), tuple(u.messages),
                   committed, tuple(u.reads))
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
        m = RequestVoteRequest(self._next_id(), self.current_term, self.id, j, len(self.log),
                               self.log[-1].term if self.log else 0)
        self._emit("request_vote", sent=[m])

    def _log_ok(self, m: RequestVoteRequest) -> bool:
        """Whether the candidate's log is at least as up-to-date as ours (section 5.4.1)."""
        if self.bug == "vote_without_log_check":
            return True
        last_term = self.log[-1].term if self.log else 0
        return m.last_log_term > last_term or (m.last_log_term == last_term
                                               and m.last_log_index >= len(self.log))

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
        self.next_index = {n: len(self.log) + 1 for n in self.nodes}
        self.match_index = {n: 0 for n in self.nodes}
        self.heartbeat_elapsed = 0
        self._quiet_ok.clear()
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
        it at once."""
        self.log.append(Entry(self.current_term, command))
        self._quiet_ok.clear()
        index = len(self.log)
        self._log_changed_from(index)
        self._emit("client_request", entry=[self.current_term, command])
        for j in self.peers:
            if self.next_index[j] == index:
                self._append_entries(j)
        self._advance_commit_index()  # a one-node cluster commits at once
        return index

    def _append_entries(self, j: int) -> None:
        """append_entries: send j the entry at next_index[j] (none if j is up to date), with
        the index and term of the entry before it."""
        nxt = self.next_index[j]
        prev = nxt - 1
        entries = tuple(self.log[prev:nxt])  # at most one entry, as raft.tla sends
        last = prev + len(entries)
        m = AppendEntriesRequest(self._next_id(), self.current_term, self.id, j, prev,
                                 self.log[prev - 1].term if prev else 0, entries,
                                 min(self.commit_index, last))
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
        if prev and (prev > len(self.log) or self.log[prev - 1].term != m.prev_log_term):
            self._reply_append(m, False, 0)
            return
        if m.entries:
            if len(self.log) > prev:
                if self.log[prev].term != m.entries[0].term:
                    # Rule 3: a conflicting entry goes, with everything after it.
                    del self.log[prev:]
                    self.log.extend(m.entries)
                    self._log_changed_from(prev + 1)
                # else: already there (a duplicate or reordered request): keep the log.
            else:
                self.log.extend(m.entries)
                self._log_changed_from(prev + 1)
        last = prev + len(m.entries)
        if m.commit_index > self.commit_index:
            self.commit_index = min(m.commit_index, last)  # rule 5
        self._reply_append(m, True, last)

    def _reply_append(self, m: AppendEntriesRequest, success: bool, match: int) -> None:
        reply = AppendEntriesResponse(self._next_id(), self.current_term, self.id, m.src,
                                      success, match, m.id)
        self._emit("handle_append_entries_request", recv=m, sent=[reply])

    def _handle_append_entries_response(self, m: AppendEntriesResponse) -> None:
        """Record how far the follower matches, or step its next_index back by one; then
        commit what a majority stores and keep the follower's pipeline moving."""
        if self.role is not Role.LEADER:
            # Our leadership of this term ended with a restart: nothing to update.
            self._emit("handle_append_entries_response", recv=m)
            return
        j = m.src
        self._ack_read_round(m)
        progressed = m.success and m.match_index > self.match_index[j]
        sent_commit = self._sent_commit.pop(m.request_id, None)
        if (m.success and m.match_index == len(self.log) and sent_commit is not None
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
        if not m.success or (progressed and self.next_index[j] <= len(self.log)):
            self._append_entries(j)
        self._release_reads()

    def _advance_commit_index(self) -> None:
        """advance_commit_index: commit the highest entry a majority stores, if it is of the
        current term (section 5.4.2; an earlier term's entry is committed only indirectly)."""
        if self.role is not Role.LEADER:
            return
        match = sorted((len(self.log) if n == self.id else self.match_index[n]
                        for n in self.nodes), reverse=True)
        new = min(match[self.quorum - 1], len(self.log))
        if new <= self.commit_index:
            return
        if self.log[new - 1].term != self.current_term and self.bug != "commit_old_term":
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
            ev["recv"] = message_to_dict(recv)
        if sent:
            ev["sent"] = [message_to_dict(m) for m in sent]
            self._unready.messages.extend(sent)
        for key, value in extra.items():
            ev[key] = message_to_dict(value) if key == "msg" else value
        ev["state"] = self.snapshot()
        self._unready.events.append(ev)

    def snapshot(self) -> dict[str, Any]:
        """The node's state as the event log records it after each step."""
        st: dict[str, Any] = {
            "term": self.current_term,
            "role": self.role.name.lower(),
            "voted_for": self.voted_for,
            "log_len": len(self.log),
            "last_term": self.log[-1].term if self.log else 0,
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
          AppendEntriesResponse: "append_entries_response"}
_CLASSES = {name: cls for cls, name in _TYPES.items()}


def message_to_dict(m: Message) -> dict[str, Any]:
    """A message as a JSON-ready dict: ``type`` first, then its fields (entries as pairs)."""
    d: dict[str, Any] = {"type": _TYPES[type(m)]}
    for name in m.__slots__:
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
