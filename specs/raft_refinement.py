"""The refinement mapping from the event log of ``impl/raft`` to the spec ``specs/raft.py``.

``protospec conform raft`` uses it to check that every logged run of the Raft key-value store
is a behaviour of the Raft spec (see docs/conformance.md for how trace refinement works).

**Events to steps.** Every node event is named after the spec action it performs, so the
mapping is mostly a renaming: node ids 1..n become spec servers 0..n-1, messages in the wire
format become the spec's message tuples, and ``timeout``, ``request_vote(i, j)``,
``become_leader``, ``client_request(i, v)``, ``advance_commit_index``, ``append_entries(i, j)``,
``update_term(m)``, ``handle_*(m)``, ``drop_stale_response(m)`` map to the action of the same
name. A ``restart`` event maps to ``restart(i)`` or, when the spec's restart would change
nothing (a follower that had committed nothing), to no step. The simulator's network events
map to ``drop_message(m)`` and ``duplicate_message(m)``.

**Constraints after each step.** The spec state reached must agree with the state the node
logged: its term, role, vote, log length and last entry's term, commit index, and on a
candidate its votes, on a leader its next and match indexes; after a restart, the whole log.
Every message the event sent must have been added to the spec's network by the step, so what
the node sent (contents included) is what the spec says it sends.

**Values.** A log entry's command (a JSON string) maps to a spec value: a small integer given
out in order of first appearance, so equal commands map to equal values and different commands
to different ones. The spec is built with one value and its ``Value`` domain then widened to all
integers, so its type invariant accepts any mapped value without ``client_request`` being
enumerated over them (refinement never enumerates it: the event names the value).

**Bounds.** The spec is built with bounds no run reaches (terms, log length, messages in flight)
and without its state constraint: an implementation's runs go far past what the model checker
explores, and every state they reach must still satisfy the spec's invariants, which the check
evaluates on each one.

**Unlogged steps.** A node can crash after its step is on disk but before the step's events
are written (the simulator's ``crash_unlogged`` fault does exactly that). Its restart then
reports a state the spec reaches only through the lost steps, so before a ``restart`` event
the check may insert up to three unlogged steps of that node: the ones that move its term, vote
or log towards what the restart reports (a timeout, a term update, a vote, an election won, an
entry appended by a client request or from the leader). Elsewhere no hidden step is allowed.

**Batches and snapshots: the spec's extension.** raft.tla sends one entry per AppendEntries
and has no log compaction; the implementation batches entries and installs snapshots. The
mapping therefore checks the logs against :func:`with_compaction` of the spec (or of its bug
variant): the same spec with three actions *added*. None of its actions is changed, and the
two methods the extension generalizes give the spec's own results on everything the spec can
produce (``accept_entries`` on requests of at most one entry, ``type_ok`` on states without a
snapshot message), so every behaviour of the spec is one of the extension; specs/raft.py is
not touched, and the model checker, which never uses the extension, counts the same states:

* ``append_entries_batch(i, j, k)`` — leader i sends j the k >= 2 entries from next_index on
  in one request. Its handling is the spec's own ``handle_append_entries_request``, whose
  entry rule (``accept_entries``) the extension applies to one entry after the other: so a
  batch of k entries has the effect of k of the spec's single-entry steps, with each entry
  kept, replaced or appended by the spec's (or the variant's) own rule, and one reply;
* ``install_snapshot(i, j, k)`` — leader i sends j its entries 1..k as a snapshot, only if
  k <= commit_index[i] (a snapshot holds committed entries only);
* ``handle_install_snapshot_request(m)`` — Figure 13, receiver rules 1 and 6-7: reject an old
  term; a candidate steps down; if the log holds entry k with the snapshot's last term, keep
  the entries after it, else replace the log by the snapshot's; commit_index becomes at least
  k; reply with an AppendEntries response matching k (etcd-io/raft's reply, so the spec's
  handle_append_entries_response records it).

The spec keeps whole logs; the implementation keeps a snapshot and the entries after it. A
logged log length is absolute, so it is compared with the spec log's length as before. A
snapshot is named in the log by its index, last term and **digest** (SHA-256 of the state
machine's data): wherever the log shows one (``compact``, a ``restart`` from a snapshot,
``install_snapshot``), the mapping replays the spec log's entries 1..index through the real
state machine (``impl.raft.kv.KVStore``) and requires the same digest, and requires the entry
at that index to have the snapshot's term; so a snapshot's contents are checked, not trusted.
``compact`` maps to no spec step (the spec's log does not change) and requires index <=
commit_index. A restart from a snapshot requires the spec log after the snapshot's index to
be the entries the node recovered.

What the log does not show is not compared directly: the middle of a node's log (only its
length and last term are logged, except on restart; but every entry a node sends is compared
in full), and the network's contents (only what goes in and out of it).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from protospec import action, from_state, invariant
from protospec.explorer.conformance import LoadedLogs, SimRun, register
from protospec.explorer.refinement import Mapping, Mismatch, SpecStep, causal_merge
from protospec.specs.raft import (
    AE_REQ,
    AE_RESP,
    CANDIDATE,
    FOLLOWER,
    LEADER,
    NIL,
    RV_REQ,
    RV_RESP,
    AppendEntriesRequest,
    AppendEntriesResponse,
    Entry,
    Raft,
    RequestVoteRequest,
    RequestVoteResponse,
    State,
    _distinct,
    _reply,
    _send,
    _with_messages,
)

__all__ = [
    "IS_REQ",
    "InstallSnapshotRequest",
    "RaftConformance",
    "RaftMapping",
    "load_logs",
    "with_compaction",
]

_UNBOUNDED = 1 << 40  # a bound no run reaches
LIVE_S = 10.0  # a log written to this recently belongs to a running cluster
_ROLES = {"follower": FOLLOWER, "candidate": CANDIDATE, "leader": LEADER}
_STEP = SpecStep.of


# -- the spec's extension: batches and snapshots ------------------------------------------------

IS_REQ = 4  # the InstallSnapshot request's message type, after the spec's four (0-3)


class _InstallSnapshotFields(NamedTuple):
    mtype: int
    term: int
    last_included_index: int
    last_included_term: int
    entries: tuple[Entry, ...]  # what the snapshot holds: the leader's entries up to it
    source: int
    dest: int


class InstallSnapshotRequest(_InstallSnapshotFields):
    """Leader ``source`` sends ``dest`` a snapshot of its entries 1..last_included_index.

    Its hash is computed once: a snapshot holds a whole log prefix, and a message stays in
    the spec's network (hashed with every state) until it is handled or lost."""

    def __hash__(self) -> int:
        h = self.__dict__.get("hash")
        if h is None:
            h = self.__dict__["hash"] = tuple.__hash__(self)
        return h


class CompactionSteps:
    """The actions :func:`with_compaction` adds to a Raft spec (see the module docstring)."""

    def setup(self) -> None:
        super().setup()
        # Batch sizes and snapshot indexes, as far as logs go (a mapping widens them, as it
        # widens Value: it never enumerates them, the events name them).
        longest = min(self.max_log_length, 8)
        self.BatchSize = range(2, longest + 1)
        self.SnapshotIndex = range(1, longest + 1)

    @action(i="Server", j="Server", k="BatchSize")
    def append_entries_batch(self, s: State, i: int, j: int, k: int) -> State | None:
        """Leader i sends j the k entries from next_index[i][j] on in one request."""
        if i == j or s.state[i] is not LEADER or len(s.messages) >= self.max_msgs:
            return None
        log = s.log[i]
        prev = s.next_index[i][j] - 1
        if prev + k > len(log):
            return None
        m = AppendEntriesRequest(AE_REQ, s.current_term[i], prev,
                                 log[prev - 1].term if prev else 0, log[prev:prev + k],
                                 min(s.commit_index[i], prev + k), i, j)
        return _with_messages(s, _send(s.messages, m))

    def accept_entries(self, log: tuple[Entry, ...], prev: int,
                       entries: tuple[Entry, ...]) -> tuple[Entry, ...]:
        """The spec's (or variant's) single-entry rule, applied to each entry in turn."""
        for k, entry in enumerate(entries):
            log = super().accept_entries(log, prev + k, (entry,))
        return log

    @action(i="Server", j="Server", k="SnapshotIndex")
    def install_snapshot(self, s: State, i: int, j: int, k: int) -> State | None:
        """Leader i sends j a snapshot of its committed entries 1..k (Figure 13)."""
        if (i == j or s.state[i] is not LEADER or k > s.commit_index[i]
                or len(s.messages) >= self.max_msgs):
            return None
        log = s.log[i]
        m = InstallSnapshotRequest(IS_REQ, s.current_term[i], k, log[k - 1].term, log[:k], i, j)
        return _with_messages(s, _send(s.messages, m))

    @action(m=from_state(lambda s: _distinct(s.messages)))
    def handle_install_snapshot_request(self, s: State, m: object) -> State | None:
        """Figure 13's receiver: rules 1 and 6-7, then an AppendEntries response matching k."""
        if m.mtype != IS_REQ:
            return None
        i, j = m.dest, m.source
        term = s.current_term[i]
        if m.term > term:
            return None  # update_term first
        if m.term < term:
            reply = AppendEntriesResponse(AE_RESP, term, False, 0, i, j)
            return _with_messages(s, _reply(s.messages, reply, m))
        if s.state[i] is LEADER:
            return None  # two leaders in one term
        if s.state[i] is CANDIDATE:
            s = s._replace(state=_at(s.state, i, FOLLOWER),
                           votes_granted=_at(s.votes_granted, i, frozenset()))
        log, k = s.log[i], m.last_included_index
        if len(log) >= k and log[k - 1].term == m.last_included_term:
            new_log = m.entries + log[k:]  # rule 6: keep the entries after the snapshot
        else:
            new_log = m.entries  # rule 7: discard the log
        commit = s.commit_index
        if k > commit[i]:
            commit = _at(commit, i, k)
        reply = AppendEntriesResponse(AE_RESP, term, True, k, i, j)
        return s._replace(log=_at(s.log, i, new_log) if new_log != log else s.log,
                          commit_index=commit, messages=_reply(s.messages, reply, m))

    @invariant
    def type_ok(self, s: State) -> bool:
        """The spec's type_ok on the state without snapshot messages; and each of those is
        well formed."""
        snaps = [m for m in s.messages if type(m) is InstallSnapshotRequest]
        if not snaps:
            return super().type_ok(s)
        rest = tuple(m for m in s.messages if type(m) is not InstallSnapshotRequest)
        return super().type_ok(s._replace(messages=rest)) and all(
            m.mtype == IS_REQ and m.source != m.dest and m.source in self.server_set
            and m.dest in self.server_set and 1 <= m.last_included_index == len(m.entries)
            and m.entries[-1].term == m.last_included_term for m in snaps)


def _at(t: tuple, i: int, v: object) -> tuple:
    return t[:i] + (v,) + t[i + 1:]


@functools.cache
def with_compaction(spec_cls: type[Raft]) -> type[Raft]:
    """``spec_cls`` (Raft or one of its variants) with :class:`CompactionSteps` added: the spec
    the implementation's logs are checked against. Its own actions are unchanged."""
    ext = type(f"{spec_cls.__name__}WithCompaction", (CompactionSteps, spec_cls),
               {"__doc__": spec_cls.__doc__, "__module__": spec_cls.__module__})
    ext.name = spec_cls.name
    ext.variant_info = spec_cls.variant_info
    return ext


class RaftMapping(Mapping):
    """Events of ``impl/raft`` (dicts, as logged) to steps of ``specs/raft.py``."""

    max_hidden = 3
    max_states = 64

    def __init__(self, nodes: int, spec_cls: type[Raft] = Raft) -> None:
        spec = with_compaction(spec_cls)(servers=nodes, max_term=_UNBOUNDED,
                                         max_log_length=_UNBOUNDED, max_msgs=_UNBOUNDED,
                                         values=1)
        spec.constraint = None  # see "Bounds" in the module docstring
        spec.Value = range(_UNBOUNDED)  # see "Values"
        spec.BatchSize = range(2, _UNBOUNDED)
        spec.SnapshotIndex = range(1, _UNBOUNDED)
        self.spec = spec
        self.nodes = nodes
        self.values: dict[str, int] = {}
        self.commands: list[str] = []  # value -> command
        self._messages: dict[str, Any] = {}
        self._digests: dict[tuple[Entry, ...], str] = {}

    # -- translation ---------------------------------------------------------------------------

    def value(self, command: str) -> int:
        """The spec value of a command: a new integer for each distinct command."""
        v = self.values.get(command)
        if v is None:
            v = self.values[command] = len(self.values)
            self.commands.append(command)
        return v

    def digest(self, entries: tuple[Entry, ...]) -> str:
        """The digest of the state machine after applying ``entries`` (spec entries, whose
        values stand for commands) through the implementation's own state machine."""
        d = self._digests.get(entries)
        if d is None:
            from protospec.impl.raft.core import snapshot_digest
            from protospec.impl.raft.kv import KVStore

            kv = KVStore()
            for index, e in enumerate(entries, start=1):
                kv.apply(index, self.commands[e.value])
            d = self._digests[entries] = snapshot_digest(kv.snapshot_data())
        return d

    def message(self, d: dict[str, Any]) -> Any:
        """A logged message as the spec's message tuple (servers numbered from 0)."""
        key = d.get("id")
        cached = self._messages.get(key) if key is not None else None
        if cached is not None:
            return cached
        kind, term, src, dst = d["type"], d["term"], d["src"] - 1, d["dst"] - 1
        # Keyword arguments: the spec's field order may change, its field names will not.
        if kind == "request_vote_request":
            m: Any = RequestVoteRequest(mtype=RV_REQ, term=term,
                                        last_log_term=d["last_log_term"],
                                        last_log_index=d["last_log_index"], source=src,
                                        dest=dst)
        elif kind == "request_vote_response":
            m = RequestVoteResponse(mtype=RV_RESP, term=term,
                                    vote_granted=bool(d["vote_granted"]), source=src, dest=dst)
        elif kind == "append_entries_request":
            entries = tuple(Entry(term=t, value=self.value(c)) for t, c in d["entries"])
            m = AppendEntriesRequest(mtype=AE_REQ, term=term, prev_log_index=d["prev_log_index"],
                                     prev_log_term=d["prev_log_term"], entries=entries,
                                     commit_index=d["commit_index"], source=src, dest=dst)
        elif kind == "append_entries_response":
            m = AppendEntriesResponse(mtype=AE_RESP, term=term, success=bool(d["success"]),
                                      match_index=d["match_index"], source=src, dest=dst)
        elif kind == "install_snapshot_request":
            # The entries a snapshot holds are not logged (its digest is): the message is the
            # one the spec step sent, recorded when the send was checked. Unseen, it is a
            # message with no entries, which no spec state has in flight.
            return InstallSnapshotRequest(IS_REQ, term, d["last_included_index"],
                                          d["last_included_term"], (), src, dst)
        else:
            raise ValueError(f"unknown message type {kind!r}")
        if key is not None:
            self._messages[key] = m
        return m

    # -- the Mapping interface -----------------------------------------------------------------

    def explain(self, event: dict[str, Any], state: State) -> Iterable[Sequence[SpecStep]]:
        action = event["action"]
        if event["n"] == 0:  # the simulated network
            return ((_STEP(action, m=self.message(event["msg"])),),)
        i = event["n"] - 1
        if action == "restart":
            return ((_STEP("restart", i=i),), ())
        if action in ("timeout", "become_leader", "advance_commit_index"):
            return ((_STEP(action, i=i),),)
        if action == "append_entries" and len(event["sent"][0]["entries"]) >= 2:
            m = event["sent"][0]
            return ((_STEP("append_entries_batch", i=i, j=m["dst"] - 1,
                           k=len(m["entries"])),),)
        if action in ("request_vote", "append_entries"):
            return ((_STEP(action, i=i, j=event["sent"][0]["dst"] - 1),),)
        if action == "install_snapshot":
            m = event["sent"][0]
            return ((_STEP(action, i=i, j=m["dst"] - 1, k=m["last_included_index"]),),)
        if action == "compact":
            return ((),)  # the spec's log is whole: nothing changes (checked in mismatches)
        if action == "client_request":
            return ((_STEP(action, i=i, v=self.value(event["entry"][1])),),)
        if action == "update_term":
            return ((_STEP(action, m=self.message(event["msg"])),),)
        if "recv" in event:
            return ((_STEP(action, m=self.message(event["recv"])),),)
        raise ValueError(f"event {action!r} has no spec counterpart")

    def mismatches(self, event: dict[str, Any], before: State, after: State) -> list[Mismatch]:
        n = event["n"]
        if n == 0:
            return []
        i = n - 1
        st = event["state"]
        out: list[Mismatch] = []

        def expect(what: str, logged: Any, spec: Any) -> None:
            if logged != spec:
                out.append(Mismatch(f"server {i} (node {n}) {what}", logged, spec))

        log = after.log[i]
        expect("current_term", st["term"], after.current_term[i])
        role = _ROLES.get(st["role"])
        expect("state", role, after.state[i])
        vote = st["voted_for"]
        expect("voted_for", NIL if vote is None else vote - 1, after.voted_for[i])
        expect("log length", st["log_len"], len(log))
        expect("last log term", st["last_term"], log[-1].term if log else 0)
        expect("commit_index", st["commit"], after.commit_index[i])
        if role is CANDIDATE:
            expect("votes_granted", frozenset(v - 1 for v in st.get("votes", ())),
                   after.votes_granted[i])
        elif role is LEADER:
            for key, value in st.get("next", {}).items():
                expect(f"next_index[{int(key) - 1}]", value, after.next_index[i][int(key) - 1])
            for key, value in st.get("match", {}).items():
                expect(f"match_index[{int(key) - 1}]", value,
                       after.match_index[i][int(key) - 1])
        snap = event.get("snapshot")
        if snap is not None:
            out += self._snapshot_mismatches(i, n, snap, log, after, event["action"])
        if event["action"] == "restart":
            logged = tuple(Entry(term=t, value=self.value(c)) for t, c in event.get("log", ()))
            expect("log" if snap is None else f"(after its snapshot of index {snap[0]}) log",
                   logged, log if snap is None else log[snap[0]:])
        if event["action"] == "install_snapshot" and not out:
            out += self._sent_snapshot_mismatches(i, n, event["sent"][0], before, after)
        for d in event.get("sent", ()):
            m = self.message(d)
            if after.messages.count(m) != before.messages.count(m) + 1:
                out.append(Mismatch(f"server {i} (node {n}) sent a message the spec step does "
                                    f"not send",
                                    m, _sent_by(before, after, i)))
        return out

    def _snapshot_mismatches(self, i: int, n: int, snap: list, log: tuple[Entry, ...],
                             after: State, action: str) -> list[Mismatch]:
        """A snapshot the node names (index, last term, digest) against the spec's log."""
        k, term, digest = snap
        who = f"server {i} (node {n}) snapshot of index {k}"
        if not 1 <= k <= len(log):
            return [Mismatch(f"{who}: the spec log's length", k, len(log))]
        out = []
        if log[k - 1].term != term:
            out.append(Mismatch(f"{who}: the term of the spec's entry {k}", term,
                                log[k - 1].term))
        if action == "compact" and k > after.commit_index[i]:
            out.append(Mismatch(f"{who}: compacted past commit_index", k,
                                after.commit_index[i]))
        if not out and self.digest(log[:k]) != digest:
            out.append(Mismatch(f"{who}: digest of the state machine after the spec's "
                                f"entries 1..{k}", digest, self.digest(log[:k])))
        return out

    def _sent_snapshot_mismatches(self, i: int, n: int, d: dict[str, Any], before: State,
                                  after: State) -> list[Mismatch]:
        """The InstallSnapshot request sent: the spec step's, with the logged index, term and
        digest; recorded so that its receipt and the network's doings map to it."""
        added = [m for m in _sent_by(before, after, i) if type(m) is InstallSnapshotRequest]
        if len(added) != 1:
            return [Mismatch(f"server {i} (node {n}) InstallSnapshot sent", d, tuple(added))]
        m = added[0]
        logged = (d["term"], d["last_included_index"], d["last_included_term"], d["digest"])
        spec = (m.term, m.last_included_index, m.last_included_term, self.digest(m.entries))
        if logged != spec:
            return [Mismatch(f"server {i} (node {n}) InstallSnapshot (term, index, last term, "
                             f"digest)", logged, spec)]
        self._messages[d["id"]] = m
        return []

    def hidden(self, event: dict[str, Any], state: State) -> Iterator[SpecStep]:
        """Before a restart only: the node's steps that move its term, vote or log towards
        what the restart reports (see "Unlogged steps" in the module docstring)."""
        if event["n"] == 0 or event["action"] != "restart":
            return
        i = event["n"] - 1
        st = event["state"]
        term = st["term"]
        vote = NIL if st["voted_for"] is None else st["voted_for"] - 1
        target = tuple(Entry(term=t, value=self.value(c)) for t, c in event.get("log", ()))
        snap = event.get("snapshot")
        if snap is not None:
            # The log before the snapshot is known by its digest only: take the spec's, and
            # let the restart's own check compare the digest.
            target = (state.log[i][:snap[0]] + target if len(state.log[i]) >= snap[0]
                      else None)  # the snapshot's own entries are missing: unknown
        mine = [m for m in dict.fromkeys(state.messages) if m.dest == i]
        now = state.current_term[i]
        if now < term:
            if now + 1 == term:
                yield _STEP("timeout", i=i)
            for m in mine:
                if m.term == term:
                    yield _STEP("update_term", m=m)
            return
        if now != term:
            return
        if state.voted_for[i] != vote:
            for m in mine:
                if m.mtype is RV_REQ and m.source == vote:
                    yield _STEP("handle_request_vote_request", m=m)
        log = state.log[i]
        if target is None or log != target:
            if state.state[i] is CANDIDATE:
                yield _STEP("become_leader", i=i)
                for m in mine:
                    if m.mtype is RV_RESP and m.term == term and m.vote_granted:
                        yield _STEP("handle_request_vote_response", m=m)
            if state.state[i] is LEADER and target is not None and \
                    len(target) == len(log) + 1 and \
                    target[:-1] == log and target[-1].term == term:
                yield _STEP("client_request", i=i, v=target[-1].value)
            for m in mine:
                if m.mtype is AE_REQ and m.term == term and m.entries:
                    yield _STEP("handle_append_entries_request", m=m)
                elif m.mtype == IS_REQ and m.term == term:
                    yield _STEP("handle_install_snapshot_request", m=m)

    def describe(self, event: dict[str, Any]) -> str:
        return describe_event(event)

    def position(self, event: dict[str, Any]) -> str:
        where = [f"node {event['n']}" if event.get("n") else "the network"]
        if "i" in event:
            where.append(f"line {event['i'] + 1} of its log")
        if "t" in event:
            where.append(f"t={event['t']}")
        return ", ".join(where)


def _sent_by(before: State, after: State, i: int) -> tuple:
    """What the step added to the network (for a report)."""
    added = list(after.messages)
    for m in before.messages:
        if m in added:
            added.remove(m)
    return tuple(added)


def describe_event(event: dict[str, Any]) -> str:
    """One line: who did what, the messages involved, and the state it logged."""
    parts = [f"node {event['n']}: {event['action']}" if event.get("n") else
             f"network: {event['action']}"]
    for key in ("recv", "msg"):
        if key in event:
            parts.append(f"{'received' if key == 'recv' else 'message'} {_msg_text(event[key])}")
    for m in event.get("sent", ()):
        parts.append(f"sent {_msg_text(m)}")
    if "entry" in event:
        parts.append(f"entry {event['entry']}")
    if "snapshot" in event:
        k, term, digest = event["snapshot"]
        parts.append(f"snapshot of index {k} (term {term}, digest {str(digest)[:12]}...)")
    if "state" in event:
        st = event["state"]
        extra = "".join(f", {k}={st[k]}" for k in ("votes", "next", "match") if k in st)
        parts.append(f"state term={st['term']} {st['role']} voted_for={st['voted_for']} "
                     f"log_len={st['log_len']} last_term={st['last_term']} "
                     f"commit={st['commit']}{extra}")
    return "; ".join(parts)


def _msg_text(d: dict[str, Any]) -> str:
    fields = {k: v for k, v in d.items() if k not in ("type", "id", "src", "dst")}
    if "entries" in fields:
        fields["entries"] = [[t, (c[:24] + "...") if len(c) > 27 else c]
                             for t, c in fields["entries"]]
    inner = " ".join(f"{k}={json.dumps(v)}" for k, v in fields.items())
    return f"{d['type']} {d['src']}->{d['dst']} ({inner})"


def load_logs(path: str | Path) -> tuple[list[dict[str, Any]], list[str], int]:
    """The events of a real cluster's logs, merged into one causal order.

    ``path`` is a folder searched recursively for ``events.jsonl`` files (one per node, as
    ``impl.raft.server`` writes them, with their rotated segments) or one such file. Returns the
    merged events, notes (e.g. an incomplete last line ignored) and the number of nodes (the
    largest node id seen in messages). Raises ValueError for unreadable logs.

    **Logs of a running cluster.** The files are read one after another while the nodes go on
    writing, so a later file may record receiving a message whose sending happened after an
    earlier file was read. When a log was written to in the last ``LIVE_S`` seconds, each
    node's log is cut before its first receive of a message no log sends (a consistent cut),
    and a note says so; the steps after the cut are checked next time. Logs of a stopped
    cluster are never cut: there, such a receive is a failure to report.
    """
    from protospec.impl.raft.events import read_events  # the implementation's own reader

    p = Path(path)
    files = sorted(p.rglob("events.jsonl")) if p.is_dir() else [p]
    if not files:
        raise ValueError(f"no events.jsonl file under {str(p)!r}")
    streams, notes = [], []
    for f in files:
        events, note = read_events(f)
        if note:
            notes.append(note)
        streams.append(events)
    if any(time.time() - f.stat().st_mtime < LIVE_S for f in files):
        notes += _consistent_cut(files, streams)
    nodes = 0
    for stream in streams:
        for ev in stream:
            for m in ev.get("sent", ()):
                nodes = max(nodes, m["src"], m["dst"])
            nodes = max(nodes, ev.get("n", 0))
    merged = causal_merge(
        streams,
        sends=lambda ev: [m["id"] for m in ev.get("sent", ())],
        receives=lambda ev: [ev[k]["id"] for k in ("msg", "recv") if k in ev],
        order=lambda ev: ev.get("t", 0))
    return merged, notes, nodes


def _consistent_cut(files: list[Path], streams: list[list[dict[str, Any]]]) -> list[str]:
    """Cut each stream before its first receive of a message no stream sends (repeatedly, as
    a cut can remove sends); the notes saying where."""
    notes = []
    while True:
        sent = {m["id"] for stream in streams for ev in stream for m in ev.get("sent", ())}
        changed = False
        for k, stream in enumerate(streams):
            for i, ev in enumerate(stream):
                if any(ev[key]["id"] not in sent for key in ("recv", "msg") if key in ev):
                    notes.append(f"{files[k]}: the cluster is running; checked the first {i} "
                                 f"events (event {i + 1} receives a message whose sending "
                                 f"no log shows yet)")
                    del stream[i:]
                    changed = True
                    break
        if not changed:
            return notes


class RaftConformance:
    """``impl/raft`` as :class:`explorer.conformance.Conformance` sees it: the mapping,
    simulated runs (with the clients' history) and the logs of a real cluster."""

    name = "raft"
    spec_cls = Raft
    summary = "a Raft-replicated key-value store (impl/raft)"

    def bugs(self) -> tuple[str, ...]:
        from protospec.impl.raft.core import BUGS

        return BUGS

    def fault_families(self) -> tuple[str, ...]:
        from protospec.impl.raft.sim import FAULT_KINDS

        return FAULT_KINDS

    def refinements(self, nodes: int, variant: str | None, events: Sequence[Any]
                    ) -> list[tuple[RaftMapping, Sequence[Any]]]:
        """One instance: the whole log, onto the spec or one of its bug variants."""
        return [(RaftMapping(nodes, Raft.with_variant(variant)), events)]

    def random_schedule(self, seed: int, *, nodes: int, faults: Sequence[str], bug: str | None,
                        duration_ms: int, ops: int) -> Any:
        from protospec.impl.raft.sim import Schedule

        return Schedule.random(seed, nodes=nodes, faults=faults, bug=bug,
                               duration_ms=duration_ms, ops=ops)

    def parse_schedule(self, text: str) -> Any:
        from protospec.impl.raft.sim import Schedule

        return Schedule.from_json(text)

    def run(self, schedule: Any) -> SimRun:
        """Simulate one schedule: events, the implementation's own problems, run facts, and
        the clients' history (so a stale read is caught even where every step is the spec's)."""
        from protospec.impl.raft.sim import check_run, run_schedule

        r = run_schedule(schedule)
        facts = {"elections": r.elections, "acked": len(r.acked), "unacked": r.unacked,
                 "torn_tails_cut": len(r.recoveries), "sim_steps": r.steps}
        history = [{k: v for k, v in e.items() if k != "time"} for e in r.history]
        return SimRun(r.events, check_run(r), facts, history, "kv")

    def shrink(self, schedule: Any, fails: Any) -> Any:
        """A smaller schedule on which ``fails`` (schedule -> failure time or None) fails."""
        from protospec.impl.raft.sim import shrink

        return shrink(schedule, fails)

    def nodes_of(self, schedule: Any) -> int:
        return schedule.nodes

    def end_time(self, schedule: Any) -> int:
        return schedule.duration_ms

    def event_time(self, event: dict[str, Any]) -> int | None:
        """When the event happened in a simulated run (to cut a failing run short)."""
        return event.get("t")

    def describe_schedule(self, schedule: Any) -> str:
        kinds: dict[str, int] = {}
        for f in schedule.faults:
            kinds[f.kind] = kinds.get(f.kind, 0) + 1
        net = []
        if schedule.drop:
            net.append(f"drop {schedule.drop:g}")
        if schedule.duplicate:
            net.append(f"duplicate {schedule.duplicate:g}")
        net.append(f"delay {schedule.delay_ms[0]}-{schedule.delay_ms[1]} ms")
        faults = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no faults"
        return (f"{schedule.nodes} nodes, {schedule.duration_ms} ms, {len(schedule.ops)} "
                f"client ops, {faults}; network: {', '.join(net)}")

    def load_logs(self, path: Path) -> LoadedLogs:
        return LoadedLogs(*load_logs(path))

    def cluster_size(self, nodes: int) -> int:
        return nodes

    def node_argv(self, node_id: int, cluster: Sequence[str], data: Path, *,
                  bug: str | None = None) -> list[str]:
        """The command that starts one node of a real cluster."""
        import sys

        argv = [sys.executable, "-m", "protospec.impl.raft.server", "--id", str(node_id),
                "--cluster", ",".join(cluster), "--data", str(data)]
        return argv + (["--bug", bug] if bug else [])

    def usage_hints(self, cluster: Sequence[str], data: Path) -> list[str]:
        addrs = ",".join(cluster)
        return [f"python -m protospec.impl.raft.client --cluster {addrs} put k v",
                f"python -m protospec.impl.raft.client --cluster {addrs} get k",
                f"python -m protospec.impl.raft.client --cluster {addrs} status"]


CONFORMANCE = register(RaftConformance())
