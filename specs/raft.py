"""Raft: a replicated log kept consistent by one leader per term and majority votes.

Source: Diego Ongaro and John Ousterhout, "In Search of an Understandable Consensus Algorithm
(Extended Version)" (2014), section 5 and Figure 2; and Ongaro's TLA+ specification raft.tla
(github.com/ongardie/raft.tla, the version in his PhD dissertation, "Consensus: Bridging Theory
and Practice", Stanford 2014, appendix B). Variables and actions are raft.tla's, in snake_case.

The idea: time is divided into terms. In each term at most one server is leader, elected by a
majority of votes; a server votes at most once per term, and only for a candidate whose log is
at least as up-to-date as its own (section 5.4.1). The leader accepts client values, appends
them to its log and copies its log to the others with AppendEntries, one entry at a time; a
follower accepts an entry only if its log agrees with the leader's at the entry before it, and
deletes any conflicting suffix. Once an entry of the leader's own term is stored on a majority,
it is committed, and with it every entry before it (section 5.4.2 explains why the leader must
not commit an earlier term's entry by counting replicas: Figure 8). Servers may restart at any
time, keeping only current_term, voted_for and log (their persistent state, Figure 2). The
network may reorder, duplicate and lose messages.

The network is a bag (multiset) of messages, as in raft.tla: a request is removed when it is
handled and its response added in the same step; duplicate_message adds one more copy of a
message in flight, drop_message removes one. The bag is stored as a sorted tuple that repeats
a message once per copy, so two states with the same messages in flight are equal whatever the
order they were sent in. A state constraint bounds terms, log lengths and the number of
messages in flight.

Departures from raft.tla, each made to keep the state space small without losing a behaviour
that matters for safety:

* Timeout makes the server vote for itself at once (paper, section 5.2), instead of sending
  itself a RequestVote; so votesResponded is not needed and is left out (a candidate may ask a
  server again, which the network could do anyway by duplicating the request).
* A follower handles an AppendEntries request in one step as in Figure 2 (delete a conflicting
  entry and what follows it, append the new entry, advance commit_index, reply); raft.tla takes
  up to three steps (remove one entry, append, reply). A candidate that hears from the leader
  of its term steps down and handles the request in the same step.
* Variables that no one reads are kept in one canonical value, so that states differing only
  in them are not counted twice: votes_granted is empty except on candidates, next_index and
  match_index are initial except on leaders (raft.tla keeps the stale values, unread).
* commit_index never decreases: a follower takes the larger of its own and the leader's (paper),
  and a leader advances it only forward (raft.tla may lower it on an old duplicated message,
  which its comments note "doesn't really affect anything").

Liveness (docs/liveness.md), bounded as it must be: ``electable_candidate_wins`` — a candidate
that can still win its term (nobody in a later term, no rival candidate or leader, no vote cast
for another in its term, its log at least as up-to-date as everyone's) does not stay so
forever without becoming leader. Raft guarantees no more than that: two candidates can split
the vote in every term, forever, unless randomized timeouts make it unlikely, and an
exhaustive check explores the unlucky schedules too (with terms bounded by ``max_term``, a
split in the last term is never retried, so "eventually a leader" fails in the model for a
reason that is not a bug). Fairness: timeouts and becoming leader are weakly fair; sending a
vote request is *strongly* fair (the network holds at most ``max_msgs`` messages, and other
traffic, such as a deposed leader's AppendEntries, may fill it again and again, so the request
is enabled only now and then); handling a message is strongly fair too (a message sent again
and again after losses is eventually handled); restarts, losses and duplicates are not fair,
so they may stop, or not. The variant ``strict_log_comparison`` grants no vote to a candidate
whose log is only as up-to-date as the voter's: with empty logs nobody is ever elected, and no
safety property notices.

Left out, as in raft.tla: membership changes, log compaction and snapshots, client sessions,
and the state machine itself (an entry is applied once committed). Election Safety, Leader
Completeness and State Machine Safety are checked as state predicates without history
variables; see each property's docstring for the exact form and why it is sound.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import IntEnum
from typing import Annotated, NamedTuple

from protospec import (
    Bag,
    Param,
    Spec,
    Symmetric,
    action,
    action_property,
    except_at,
    from_state,
    invariant,
    leads_to,
    liveness,
)

# Servers are interchangeable: no action or property names a particular server, so
# `--symmetry` explores one state per permutation orbit of server ids.
Server = Symmetric("Server", size="servers")

NIL = -1  # voted_for when the server has not voted in its current term (raft.tla's Nil)


class Role(IntEnum):
    """A server's state (raft.tla's Follower, Candidate, Leader)."""

    FOLLOWER = 0
    CANDIDATE = 1
    LEADER = 2


class MType(IntEnum):
    """The four message types; the first field of every message, so messages of different
    types never compare equal and the bag sorts them by type first."""

    REQUEST_VOTE_REQUEST = 0
    REQUEST_VOTE_RESPONSE = 1
    APPEND_ENTRIES_REQUEST = 2
    APPEND_ENTRIES_RESPONSE = 3


class Entry(NamedTuple):
    """A log entry: the term in which a leader created it, and the client's value."""

    term: int
    value: int


class RequestVoteRequest(NamedTuple):
    """Candidate ``source`` asks ``dest`` for its vote in ``term``."""

    mtype: MType
    term: int
    last_log_term: int  # the term of the candidate's last entry (0 if its log is empty)
    last_log_index: int  # the length of the candidate's log
    source: Server.Id
    dest: Server.Id


class RequestVoteResponse(NamedTuple):
    """``source`` answers candidate ``dest``: whether it granted its vote in ``term``."""

    mtype: MType
    term: int
    vote_granted: bool
    source: Server.Id
    dest: Server.Id


class AppendEntriesRequest(NamedTuple):
    """Leader ``source`` sends ``dest`` at most one entry, placed after prev_log_index."""

    mtype: MType
    term: int
    prev_log_index: int  # the index of the entry just before the new one (0: none)
    prev_log_term: int  # its term (0 if prev_log_index is 0)
    entries: tuple[Entry, ...]  # zero entries (a heartbeat / probe) or one
    commit_index: int  # the leader's commit_index, capped at the last entry sent
    source: Server.Id
    dest: Server.Id


class AppendEntriesResponse(NamedTuple):
    """``source`` answers leader ``dest``; on success, how far its log now matches."""

    mtype: MType
    term: int
    success: bool
    match_index: int  # prev_log_index + len(entries) on success, 0 otherwise
    source: Server.Id
    dest: Server.Id


Message = RequestVoteRequest | RequestVoteResponse | AppendEntriesRequest | AppendEntriesResponse
PerServer = Annotated[tuple[int, ...], Server.index]  # a leader's view of each server


class State(NamedTuple):
    """The whole system; every per-server field is a tuple indexed by server number."""

    # currentTerm[i]: the latest term server i has seen
    current_term: Annotated[tuple[int, ...], Server.index]
    # state[i]: follower, candidate or leader
    state: Annotated[tuple[Role, ...], Server.index]
    # votedFor[i]: whom i voted for in current_term[i], or NIL
    voted_for: Annotated[tuple[Server.Id, ...], Server.index]
    # log[i]: entries, index 1 is log[i][0]
    log: Annotated[tuple[tuple[Entry, ...], ...], Server.index]
    # commitIndex[i]: entries 1..commit_index[i] are committed
    commit_index: Annotated[tuple[int, ...], Server.index]
    # votesGranted[i]: voters for candidate i
    votes_granted: Annotated[tuple[frozenset[Server.Id], ...], Server.index]
    # nextIndex[i][j]: leader i's next entry for j
    next_index: Annotated[tuple[PerServer, ...], Server.index]
    # matchIndex[i][j]: how far j agrees with leader i
    match_index: Annotated[tuple[PerServer, ...], Server.index]
    # the network: a bag, as a sorted tuple with repeats
    messages: Annotated[tuple[Message, ...], Bag]


FOLLOWER, CANDIDATE, LEADER = Role.FOLLOWER, Role.CANDIDATE, Role.LEADER
_ROLES = frozenset(Role)
_MESSAGE_TYPES = frozenset(Message.__args__)
RV_REQ, RV_RESP = MType.REQUEST_VOTE_REQUEST, MType.REQUEST_VOTE_RESPONSE
AE_REQ, AE_RESP = MType.APPEND_ENTRIES_REQUEST, MType.APPEND_ENTRIES_RESPONSE

# The message every handler may receive: each distinct message in the network (one domain
# shared by the handlers, so the engine reads it off a state once for all of them).
in_flight = from_state(lambda s: _distinct(s.messages))


class Raft(Spec):
    """Raft consensus (raft.tla): leader election, log replication, restarts, a lossy network."""

    name = "raft"

    servers = Param(3, "number of servers", min=1, max=7)
    max_term = Param(3, "largest term explored (terms start at 1)", min=1)
    max_log_length = Param(2, "longest log explored", min=0)
    values = Param(1, "number of distinct client values", min=1)
    max_msgs = Param(1, "most messages in flight (copies counted)", min=0)
    symmetric = (Server,)

    def setup(self) -> None:
        n = self.servers
        self.Server = range(n)
        self.Value = range(self.values)
        self.quorum = n // 2 + 1  # any two majorities intersect
        self.initial_next = (1,) * n
        self.initial_match = (0,) * n
        self.server_set = frozenset(self.Server)
        self.voted_for_values = self.server_set | {NIL}

    def init(self) -> Iterator[State]:
        n = self.servers
        yield State(
            current_term=(1,) * n,
            state=(FOLLOWER,) * n,
            voted_for=(NIL,) * n,
            log=((),) * n,
            commit_index=(0,) * n,
            votes_granted=(frozenset(),) * n,
            next_index=(self.initial_next,) * n,
            match_index=(self.initial_match,) * n,
            messages=(),
        )

    def constraint(self, s: State) -> bool:
        """Bound terms, log lengths and messages in flight (raft.tla is checked the same way).

        The actions that could cross a bound (timeout, client_request and the three that send)
        also test it in their guard: the reachable states are the same, but the states beyond
        the bound are never built, hashed and thrown away, which saves a third of the time."""
        return (max(s.current_term) <= self.max_term
                and max(map(len, s.log)) <= self.max_log_length
                and len(s.messages) <= self.max_msgs)

    # -- server actions (raft.tla's Restart, Timeout, RequestVote, ...) -----------------------

    @action(i="Server")
    def restart(self, s: State, i: int) -> State | None:
        """Restart(i): i loses its volatile state and keeps current_term, voted_for and log."""
        if (s.state[i] is FOLLOWER and s.commit_index[i] == 0
                and s.voted_for[i] == self.restart_voted_for(s, i)):
            return None  # nothing volatile to lose: the step would change nothing
        return s._replace(
            state=except_at(s.state, i, FOLLOWER),
            voted_for=except_at(s.voted_for, i, self.restart_voted_for(s, i)),
            commit_index=except_at(s.commit_index, i, 0),
            votes_granted=except_at(s.votes_granted, i, frozenset()),
            next_index=except_at(s.next_index, i, self.initial_next),
            match_index=except_at(s.match_index, i, self.initial_match),
        )

    def restart_voted_for(self, s: State, i: int) -> int:
        """voted_for after a restart: kept, since it is persistent (a variant forgets it)."""
        return s.voted_for[i]

    @action(i="Server", fair="weak")
    def timeout(self, s: State, i: int) -> State | None:
        """Timeout(i): a follower or candidate starts an election in the next term, voting for
        itself (section 5.2)."""
        if s.state[i] is LEADER or s.current_term[i] >= self.max_term:
            return None  # (the second test is the constraint's, made early: see constraint)
        return s._replace(
            current_term=except_at(s.current_term, i, s.current_term[i] + 1),
            state=except_at(s.state, i, CANDIDATE),
            voted_for=except_at(s.voted_for, i, i),
            votes_granted=except_at(s.votes_granted, i, frozenset((i,))),
        )

    @action(i="Server", j="Server", fair="strong")
    def request_vote(self, s: State, i: int, j: int) -> State | None:
        """RequestVote(i, j): candidate i asks j, which has not yet granted it, for its vote."""
        if (i == j or s.state[i] is not CANDIDATE or j in s.votes_granted[i]
                or len(s.messages) >= self.max_msgs):
            return None
        log = s.log[i]
        m = RequestVoteRequest(RV_REQ, s.current_term[i], log[-1].term if log else 0, len(log),
                               i, j)
        return _with_messages(s, _send(s.messages, m))

    @action(i="Server", fair="weak")
    def become_leader(self, s: State, i: int) -> State | None:
        """BecomeLeader(i): a candidate with votes from a majority becomes leader."""
        if s.state[i] is not CANDIDATE or len(s.votes_granted[i]) < self.quorum:
            return None
        return s._replace(
            state=except_at(s.state, i, LEADER),
            votes_granted=except_at(s.votes_granted, i, frozenset()),
            next_index=except_at(s.next_index, i, (len(s.log[i]) + 1,) * self.servers),
            match_index=except_at(s.match_index, i, self.initial_match),
        )

    @action(i="Server", v="Value")
    def client_request(self, s: State, i: int, v: int) -> State | None:
        """ClientRequest(i, v): leader i appends the client's value v to its log."""
        if s.state[i] is not LEADER or len(s.log[i]) >= self.max_log_length:
            return None
        return s._replace(log=except_at(s.log, i, s.log[i] + (Entry(s.current_term[i], v),)))

    @action(i="Server")
    def advance_commit_index(self, s: State, i: int) -> State | None:
        """AdvanceCommitIndex(i): leader i commits the highest entry a majority stores, if that
        entry is from its current term (section 5.4.2)."""
        if s.state[i] is not LEADER:
            return None
        log = s.log[i]
        new = self.agreed_index(s, i)
        if new <= s.commit_index[i] or not self.may_commit(log[new - 1], s.current_term[i]):
            return None
        return s._replace(commit_index=except_at(s.commit_index, i, new))

    def agreed_index(self, s: State, i: int) -> int:
        """The largest index that leader i and a majority of servers store (0 if none)."""
        # The quorum-th largest of the match indexes, counting i's own log in full.
        match = sorted((len(s.log[i]) if k == i else s.match_index[i][k]
                        for k in self.Server), reverse=True)
        return min(match[self.quorum - 1], len(s.log[i]))

    def may_commit(self, entry: Entry, term: int) -> bool:
        """Whether a leader in ``term`` may commit ``entry`` by counting replicas: only if the
        entry is from its own term (Figure 8 shows why; a variant drops this check)."""
        return entry.term == term

    @action(i="Server", j="Server")
    def append_entries(self, s: State, i: int, j: int) -> State | None:
        """AppendEntries(i, j): leader i sends j the entry at next_index[i][j] (or none, if j is
        up to date), with the index and term of the entry before it."""
        if i == j or s.state[i] is not LEADER or len(s.messages) >= self.max_msgs:
            return None
        log = s.log[i]
        nxt = s.next_index[i][j]
        prev = nxt - 1
        entries = log[prev:nxt]  # at most one entry (raft.tla sends one at a time)
        last = prev + len(entries)
        m = AppendEntriesRequest(AE_REQ, s.current_term[i], prev, log[prev - 1].term if prev else 0,
                                 entries, min(s.commit_index[i], last), i, j)
        return _with_messages(s, _send(s.messages, m))

    # -- message handlers (raft.tla's Receive, split into its cases) ---------------------------

    @action(m=in_flight, fair="strong")
    def update_term(self, s: State, m: Message) -> State | None:
        """UpdateTerm: a message from a later term makes its receiver adopt the term and become
        a follower; the message stays in the network to be handled next."""
        i = m.dest
        if m.term <= s.current_term[i]:
            return None
        return s._replace(
            current_term=except_at(s.current_term, i, m.term),
            state=except_at(s.state, i, FOLLOWER),
            voted_for=except_at(s.voted_for, i, NIL),
            votes_granted=except_at(s.votes_granted, i, frozenset()),
            next_index=except_at(s.next_index, i, self.initial_next),
            match_index=except_at(s.match_index, i, self.initial_match),
        )

    @action(m=in_flight, fair="strong")
    def handle_request_vote_request(self, s: State, m: Message) -> State | None:
        """HandleRequestVoteRequest: i grants its vote if the term is its own, it has not voted
        for another, and the candidate's log is at least as up-to-date as its own (5.4.1)."""
        if m.mtype is not RV_REQ:
            return None
        i, j = m.dest, m.source
        term = s.current_term[i]
        if m.term > term:
            return None  # update_term first
        grant = (m.term == term and s.voted_for[i] in (NIL, j) and self.log_ok(s, i, m))
        reply = RequestVoteResponse(RV_RESP, term, grant, i, j)
        return s._replace(voted_for=except_at(s.voted_for, i, j) if grant else s.voted_for,
                          messages=_reply(s.messages, reply, m))

    def log_ok(self, s: State, i: int, m: RequestVoteRequest) -> bool:
        """Whether candidate's log (as described in m) is at least as up-to-date as i's."""
        log = s.log[i]
        last_term = log[-1].term if log else 0
        return m.last_log_term > last_term or (m.last_log_term == last_term
                                               and m.last_log_index >= len(log))

    @action(m=in_flight, fair="strong")
    def handle_request_vote_response(self, s: State, m: Message) -> State | None:
        """HandleRequestVoteResponse: a candidate counts a vote granted in its current term."""
        if m.mtype is not RV_RESP:
            return None
        i = m.dest
        if m.term != s.current_term[i]:
            return None  # update_term or drop_stale_response
        votes = s.votes_granted
        if m.vote_granted and s.state[i] is CANDIDATE:
            votes = except_at(votes, i, votes[i] | {m.source})
        return s._replace(votes_granted=votes, messages=_discard(s.messages, m))

    @action(m=in_flight)
    def handle_append_entries_request(self, s: State, m: Message) -> State | None:
        """HandleAppendEntriesRequest: i rejects a request from an old term or one whose
        previous entry it lacks; otherwise it deletes a conflicting entry and what follows,
        appends the new entry, advances its commit_index and replies with how far it matches
        (Figure 2, AppendEntries receiver rules 1-5)."""
        if m.mtype is not AE_REQ:
            return None
        i, j = m.dest, m.source
        term = s.current_term[i]
        if m.term > term:
            return None  # update_term first
        if m.term < term:
            reply = AppendEntriesResponse(AE_RESP, term, False, 0, i, j)
            return _with_messages(s, _reply(s.messages, reply, m))
        if s.state[i] is LEADER:
            return None  # two leaders in one term: raft.tla has no case for it either
        if s.state[i] is CANDIDATE:
            # A candidate hearing from the leader of its term steps down (section 5.2).
            s = s._replace(state=except_at(s.state, i, FOLLOWER),
                           votes_granted=except_at(s.votes_granted, i, frozenset()))
        log = s.log[i]
        prev = m.prev_log_index
        if prev and (prev > len(log) or log[prev - 1].term != m.prev_log_term):
            reply = AppendEntriesResponse(AE_RESP, term, False, 0, i, j)
            return _with_messages(s, _reply(s.messages, reply, m))
        new_log = self.accept_entries(log, prev, m.entries)
        last = prev + len(m.entries)
        commit = s.commit_index
        if m.commit_index > commit[i]:
            commit = except_at(commit, i, min(m.commit_index, last))
        reply = AppendEntriesResponse(AE_RESP, term, True, last, i, j)
        return s._replace(log=except_at(s.log, i, new_log) if new_log is not log else s.log,
                          commit_index=commit, messages=_reply(s.messages, reply, m))

    def accept_entries(self, log: tuple[Entry, ...], prev: int,
                       entries: tuple[Entry, ...]) -> tuple[Entry, ...]:
        """The follower's log after accepting ``entries`` just after index ``prev`` (its log
        agrees with the leader's up to prev): an entry already there with the same term is
        kept, with everything after it; a conflicting one is deleted with everything after it."""
        if not entries:
            return log
        if len(log) > prev:
            if log[prev].term == entries[0].term:
                return log  # already there: a duplicate or reordered request
            return log[:prev] + entries
        return log + entries

    @action(m=in_flight)
    def handle_append_entries_response(self, s: State, m: Message) -> State | None:
        """HandleAppendEntriesResponse: leader i records how far j matches, or on a rejection
        steps next_index[i][j] back by one."""
        if m.mtype is not AE_RESP:
            return None
        i, j = m.dest, m.source
        if m.term != s.current_term[i]:
            return None  # update_term or drop_stale_response
        if s.state[i] is not LEADER:
            # Its leadership ended by a restart in the same term: nothing to update.
            return _with_messages(s, _discard(s.messages, m))
        if m.success:
            nxt, match = m.match_index + 1, except_at(s.match_index[i], j, m.match_index)
        else:
            nxt, match = max(s.next_index[i][j] - 1, 1), s.match_index[i]
        return s._replace(
            next_index=except_at(s.next_index, i, except_at(s.next_index[i], j, nxt)),
            match_index=except_at(s.match_index, i, match),
            messages=_discard(s.messages, m),
        )

    @action(m=in_flight)
    def drop_stale_response(self, s: State, m: Message) -> State | None:
        """DropStaleResponse: a response from an earlier term than the receiver's is ignored."""
        if m.mtype is not RV_RESP and m.mtype is not AE_RESP:
            return None
        if m.term >= s.current_term[m.dest]:
            return None
        return _with_messages(s, _discard(s.messages, m))

    # -- the network's faults ------------------------------------------------------------------

    @action(m=in_flight)
    def duplicate_message(self, s: State, m: Message) -> State | None:
        """DuplicateMessage(m): the network delivers one more copy of m."""
        if len(s.messages) >= self.max_msgs:
            return None
        return _with_messages(s, _send(s.messages, m))

    @action(m=in_flight)
    def drop_message(self, s: State, m: Message) -> State:
        """DropMessage(m): the network loses one copy of m."""
        return _with_messages(s, _discard(s.messages, m))

    # -- chart hooks (optional; see explorer/chart_hints.py) ---------------------------------

    def chart_processes(self) -> list[str]:
        """One lane per server (the network gets its own lane when it drops or duplicates)."""
        return [f"server {i}" for i in self.Server]

    def chart_lane(self, action: str, args: dict) -> str | None:
        """Server i's own steps; a message's handler runs at its dest; faults are the network's."""
        if "i" in args:
            return f"server {args['i']}"
        if action in ("duplicate_message", "drop_message"):
            return "network"
        return f"server {args['m'].dest}"

    def chart_message_label(self, msg: Message) -> str:
        """Figure 2's RPC names with the fields that decide the outcome."""
        if msg.mtype is RV_REQ:
            return f"RequestVote(t{msg.term}, last {msg.last_log_term}/{msg.last_log_index})"
        if msg.mtype is RV_RESP:
            return f"Vote(t{msg.term}, {'granted' if msg.vote_granted else 'denied'})"
        if msg.mtype is AE_REQ:
            entries = ",".join(f"{e.term}:{e.value}" for e in msg.entries)
            return (f"AppendEntries(t{msg.term}, prev {msg.prev_log_index}/{msg.prev_log_term}, "
                    f"[{entries}], commit {msg.commit_index})")
        return (f"AppendReply(t{msg.term}, "
                f"{'match ' + str(msg.match_index) if msg.success else 'rejected'})")

    def chart_message_to(self, msg: Message) -> str | None:
        """Every Raft message names its receiver."""
        return f"server {msg.dest}"

    # -- properties ---------------------------------------------------------------------------

    @liveness
    def electable_candidate_wins(self):
        """An electable candidate (see ``electable``) does not stay electable forever without
        becoming leader."""
        return leads_to(self.electable,
                        lambda s, i: s.state[i] is LEADER or not self.electable(s, i),
                        over=self.Server)

    def electable(self, s: State, i: int) -> bool:
        """Candidate i can win its term: no server is in a later term, no other server is a
        candidate or leader in its term or has voted for another there, and its log is at
        least as up-to-date as every other server's (section 5.4.1)."""
        if s.state[i] is not CANDIDATE:
            return False
        term, log = s.current_term[i], s.log[i]
        last = (log[-1].term if log else 0, len(log))
        for j in self.Server:
            if j == i:
                continue
            if s.current_term[j] > term:
                return False
            if s.current_term[j] == term and (s.state[j] is not FOLLOWER
                                              or s.voted_for[j] not in (NIL, i)):
                return False
            other = s.log[j]
            if (other[-1].term if other else 0, len(other)) > last:
                return False
        return True

    @invariant
    def type_ok(self, s: State) -> bool:
        """Every variable holds a value of its type and range (raft.tla has no TypeOK; this is
        the usual one). One conjunct per variable: the engine remembers the verdict of a
        conjunct that loops over one variable per distinct value of it (docs/writing-specs.md)."""
        return (all(len(per_server) == self.servers for per_server in s[:8])
                and min(s.current_term) >= 1
                and set(s.state) <= _ROLES
                and set(s.voted_for) <= self.voted_for_values
                and all(type(e) is Entry and e.term >= 1 and e.value in self.Value
                        for log in s.log for e in log)
                and all(e.term <= term for log, term in zip(s.log, s.current_term) for e in log)
                and min(s.commit_index) >= 0
                and frozenset().union(*s.votes_granted) <= self.server_set
                and all(len(nxt) == self.servers and min(nxt) >= 1 for nxt in s.next_index)
                and all(len(match) == self.servers and min(match) >= 0
                        for match in s.match_index)
                and all(type(m) in _MESSAGE_TYPES and m.source in self.server_set
                        and m.dest in self.server_set and m.source != m.dest
                        for m in s.messages)
                and list(s.messages) == sorted(s.messages))  # a bag: a sorted tuple

    @invariant
    def election_safety(self, s: State) -> bool:
        """Election Safety (Figure 3): at most one leader in a term. Checked on each state: no
        two leaders share a term (raft.tla's LessOrEqualOneLeader)."""
        terms = [s.current_term[i] for i in self.Server if s.state[i] is LEADER]
        return len(terms) == len(set(terms))

    @invariant
    def log_matching(self, s: State) -> bool:
        """Log Matching (Figure 3): if two logs contain an entry with the same index and term,
        the logs are identical in all entries up through that index."""
        logs = s.log
        for i in self.Server:
            for j in range(i + 1, self.servers):
                a, b = logs[i], logs[j]
                # Scan down from the last common index: the first entry with equal terms must
                # have equal prefixes (then all lower ones do too).
                for k in range(min(len(a), len(b)) - 1, -1, -1):
                    if a[k].term == b[k].term:
                        if a[:k + 1] != b[:k + 1]:
                            return False
                        break
        return True

    @invariant
    def leader_completeness(self, s: State) -> bool:
        """Leader Completeness (Figure 3): an entry committed in a term is in the log of every
        leader of a later term. Checked as: if server i has committed entries 1..c, every
        leader whose term is later than current_term[i] has those same entries. This is sound
        without history: i learned of the commitment in a term no later than its own."""
        for j in self.Server:
            if s.state[j] is not LEADER:
                continue
            term, log = s.current_term[j], s.log[j]
            for i in self.Server:
                c = s.commit_index[i]
                if c and s.current_term[i] < term and log[:c] != s.log[i][:c]:
                    return False
        return True

    @invariant
    def state_machine_safety(self, s: State) -> bool:
        """State Machine Safety (Figure 3): no two servers apply different entries at the same
        index. Checked as: every server stores the entries it has committed, and the committed
        prefixes of any two servers agree where both have committed."""
        logs, commit = s.log, s.commit_index
        for i in self.Server:
            if commit[i] > len(logs[i]):
                return False
            for j in range(i + 1, self.servers):
                c = min(commit[i], commit[j])
                if c and logs[i][:c] != logs[j][:c]:
                    return False
        return True

    @action_property
    def leader_append_only(self, s: State, t: State) -> bool:
        """Leader Append-Only (Figure 3): a leader never overwrites or deletes entries in its
        log during its term; it only appends."""
        if t.log is s.log:
            return True  # the step left every log as it was (the common case: be quick)
        for i in self.Server:
            if (s.state[i] is LEADER and t.state[i] is LEADER
                    and s.current_term[i] == t.current_term[i]):
                old = s.log[i]
                if t.log[i][:len(old)] != old:
                    return False
        return True


# -- helpers ----------------------------------------------------------------------------------


_new = tuple.__new__


def _with_messages(s: State, bag: tuple) -> State:
    """s with only the network changed (the commonest step; faster than s._replace)."""
    return _new(State, (*s[:8], bag))


def _distinct(bag: tuple) -> list:
    """The messages in a bag, each once, in order (the bag is sorted, so this is too)."""
    return list(dict.fromkeys(bag))


def _send(bag: tuple, m: Message) -> tuple:
    """WithMessage: the bag with one more copy of m."""
    return tuple(sorted(bag + (m,)))


def _discard(bag: tuple, m: Message) -> tuple:
    """WithoutMessage: the bag with one copy of m less (m is in the bag)."""
    k = bag.index(m)
    return bag[:k] + bag[k + 1:]


def _reply(bag: tuple, response: Message, request: Message) -> tuple:
    """Reply: remove one copy of the request and add the response, in one step."""
    return _send(_discard(bag, request), response)


# -- bug variants -----------------------------------------------------------------------------


@Raft.variant("commit_old_term_by_counting", breaks="leader_completeness")
class CommitOldTermByCounting(Raft):
    """A leader commits an entry from an earlier term once a majority stores it (Figure 8).

    Figure 8 needs four elections (terms 2 to 5), so this variant's default bounds are
    max_term=5 with one-entry logs and one message in flight. The new leader of term 5 lacks
    the entry committed in term 4, which breaks Leader Completeness at once; State Machine
    Safety would break only several steps later, when that leader overwrites the entry.
    """

    max_term = Param(5, "largest term explored (terms start at 1)", min=1)
    max_log_length = Param(1, "longest log explored", min=0)

    def may_commit(self, entry: Entry, term: int) -> bool:
        return True


@Raft.variant("vote_without_log_check", breaks="leader_completeness")
class VoteWithoutLogCheck(Raft):
    """A server grants its vote without checking that the candidate's log is up-to-date."""

    max_log_length = Param(1, "longest log explored", min=0)

    def log_ok(self, s: State, i: int, m: RequestVoteRequest) -> bool:
        return True


@Raft.variant("forget_vote_on_restart", breaks="election_safety")
class ForgetVoteOnRestart(Raft):
    """voted_for is not persisted: a restarted server can vote a second time in one term."""

    max_term = Param(2, "largest term explored (terms start at 1)", min=1)
    max_log_length = Param(0, "longest log explored", min=0)

    def restart_voted_for(self, s: State, i: int) -> int:
        return NIL


@Raft.variant("truncate_on_nonconflicting_append", breaks="state_machine_safety")
class TruncateOnNonconflictingAppend(Raft):
    """A follower deletes its entries after prev_log_index even when they agree with the
    leader's, so an old or duplicated AppendEntries request erases newer entries.

    The stale request must still be in flight while newer ones are handled, so this variant's
    default bounds allow two messages in flight (and a single term, which is enough).
    """

    max_term = Param(2, "largest term explored (terms start at 1)", min=1)
    max_msgs = Param(2, "most messages in flight (copies counted)", min=0)

    def accept_entries(self, log: tuple[Entry, ...], prev: int,
                       entries: tuple[Entry, ...]) -> tuple[Entry, ...]:
        return log[:prev] + entries if entries else log



@Raft.variant("strict_log_comparison", breaks="electable_candidate_wins")
class StrictLogComparison(Raft):
    """A voter grants its vote only to a candidate whose log is strictly more up-to-date than
    its own (> instead of >= in section 5.4.1): with equal logs nobody is ever elected."""

    def log_ok(self, s: State, i: int, m: RequestVoteRequest) -> bool:
        log = s.log[i]
        last_term = log[-1].term if log else 0
        return m.last_log_term > last_term or (m.last_log_term == last_term
                                               and m.last_log_index > len(log))


# Measured with explorer.check, 3 servers, 1 value (docs/specs/raft.md has the full table):
# the default bounds (max_term=3, max_log_length=2, max_msgs=1) give 666,588 distinct states,
# depth 47, about 35 s of CPU; max_term=2, max_log_length=1 gives 4,953 states, depth 23.
# There is no published count for this exact model: raft.tla differs as listed above.
