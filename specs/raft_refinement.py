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

What the log does not show is not compared directly: the middle of a node's log (only its
length and last term are logged, except on restart; but every entry a node sends is compared
in full), and the network's contents (only what goes in and out of it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

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
)

__all__ = ["RaftConformance", "RaftMapping", "load_logs"]

_UNBOUNDED = 1 << 40  # a bound no run reaches
LIVE_S = 10.0  # a log written to this recently belongs to a running cluster
_ROLES = {"follower": FOLLOWER, "candidate": CANDIDATE, "leader": LEADER}
_STEP = SpecStep.of


class RaftMapping(Mapping):
    """Events of ``impl/raft`` (dicts, as logged) to steps of ``specs/raft.py``."""

    max_hidden = 3
    max_states = 64

    def __init__(self, nodes: int, spec_cls: type[Raft] = Raft) -> None:
        spec = spec_cls(servers=nodes, max_term=_UNBOUNDED, max_log_length=_UNBOUNDED,
                        max_msgs=_UNBOUNDED, values=1)
        spec.constraint = None  # see "Bounds" in the module docstring
        spec.Value = range(_UNBOUNDED)  # see "Values"
        self.spec = spec
        self.nodes = nodes
        self.values: dict[str, int] = {}
        self._messages: dict[str, Any] = {}

    # -- translation ---------------------------------------------------------------------------

    def value(self, command: str) -> int:
        """The spec value of a command: a new integer for each distinct command."""
        v = self.values.get(command)
        if v is None:
            v = self.values[command] = len(self.values)
        return v

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
        if action in ("request_vote", "append_entries"):
            return ((_STEP(action, i=i, j=event["sent"][0]["dst"] - 1),),)
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
        if event["action"] == "restart":
            logged = tuple(Entry(term=t, value=self.value(c)) for t, c in event.get("log", ()))
            expect("log", logged, log)
        for d in event.get("sent", ()):
            m = self.message(d)
            if after.messages.count(m) != before.messages.count(m) + 1:
                out.append(Mismatch(f"server {i} (node {n}) sent a message the spec step does "
                                    f"not send",
                                    m, _sent_by(before, after, i)))
        return out

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
        if log != target:
            if state.state[i] is CANDIDATE:
                yield _STEP("become_leader", i=i)
                for m in mine:
                    if m.mtype is RV_RESP and m.term == term and m.vote_granted:
                        yield _STEP("handle_request_vote_response", m=m)
            if state.state[i] is LEADER and len(target) == len(log) + 1 and \
                    target[:-1] == log and target[-1].term == term:
                yield _STEP("client_request", i=i, v=target[-1].value)
            for m in mine:
                if m.mtype is AE_REQ and m.term == term and m.entries:
                    yield _STEP("handle_append_entries_request", m=m)

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
