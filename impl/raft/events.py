"""The structured event log: one JSON object per line, one line per protocol step.

Each event is named after the action of ``specs/raft.py`` it performs, so the log reads like a
trace of the spec and ``protospec conform raft`` can check it step by step:

=============================  ===============================================================
``restart``                    the node (re)started from disk; ``log`` is its whole recovered
                               log (after ``snapshot``: [index, term, digest], if it started
                               from one), ``boot`` how many times it had started before
``timeout``                    became candidate in the next term, voting for itself
``request_vote``               sent a RequestVote request (``sent``)
``handle_request_vote_request``  answered a RequestVote request (``recv``); voted if granted
``handle_request_vote_response`` counted (or ignored) a vote
``become_leader``              won the election
``client_request``             the leader appended ``entry`` ([term, command])
``append_entries``             the leader sent an AppendEntries request (``sent``)
``handle_append_entries_request``  a follower handled one: entries appended or truncated,
                               commit index advanced, reply sent
``handle_append_entries_response`` the leader updated next/match index
``advance_commit_index``       the leader's commit index advanced
``compact``                    the node replaced entries 1..index by a snapshot of its state
                               machine (``snapshot``: [index, term, digest]); no spec step
``install_snapshot``           the leader sent a follower its snapshot (``sent``; the data
                               is named by its ``digest``, not logged)
``handle_install_snapshot_request``  a follower kept its log or installed the snapshot, and
                               answered (Figure 13)
``update_term``                a message (``msg``) from a later term made the node a follower
``drop_stale_response``        a response from an earlier term was ignored
``drop_message``, ``duplicate_message``  the simulated network lost or copied ``msg``
                               (node 0: written by the simulator, never by a node)
=============================  ===============================================================

Every node event has ``n`` (node id), ``action``, the messages it consumed (``recv``) and sent
(``sent``) in the wire format of :func:`impl.raft.core.message_to_dict` (each with a unique
``id``), and ``state``: the node's term, role, vote, log length and last term, commit index,
and, on a candidate, the votes it holds, on a leader its next and match indexes. Drivers add
``t`` (simulated milliseconds, or wall-clock seconds) and ``i`` (the line's number in its file).

A driver writes a step's events after the step's state is on disk and before its messages are
sent, each file write one whole line: so a process killed at any moment leaves a log whose
every line happened, and at worst one torn last line, which :func:`read_events` skips and reports.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["EventLog", "read_events", "segments"]


class EventLog:
    """Appends events to a JSON-lines file, one ``write`` per batch of whole lines.

    When the file passes ``max_bytes`` it is renamed to ``events.jsonl.N`` (N = 1, 2, ...: the
    oldest segment has the smallest N) and a new one started; :func:`read_events` reads the
    segments in order, so rotation loses nothing a conformance check needs. :meth:`sync`
    fsyncs the current segment (drivers call it periodically and at shutdown).
    """

    def __init__(self, path: str | Path, *, max_bytes: int = 64 << 20) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.size = os.fstat(self.fd).st_size
        self.count = 0

    def write(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        lines = []
        for ev in events:
            lines.append(json.dumps({**ev, "i": self.count}, separators=(",", ":")))
            self.count += 1
        data = ("\n".join(lines) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        self.size += len(data)
        if self.size >= self.max_bytes:
            self._rotate()

    def _rotate(self) -> None:
        os.fsync(self.fd)
        os.close(self.fd)
        n = len(segments(self.path)) + 1
        os.replace(self.path, self.path.with_name(f"{self.path.name}.{n}"))
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.size = 0

    def sync(self) -> None:
        if self.fd >= 0:
            os.fsync(self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def segments(path: str | Path) -> list[Path]:
    """The rotated segments of the event log at ``path``, oldest first (not ``path`` itself)."""
    p = Path(path)
    found = []
    for q in p.parent.glob(p.name + ".*"):
        suffix = q.name[len(p.name) + 1:]
        if suffix.isdigit():
            found.append((int(suffix), q))
    return [q for _, q in sorted(found)]


def read_events(path: str | Path) -> tuple[list[dict[str, Any]], str]:
    """The events of one node's log — its rotated segments, then ``path`` — and a note if an
    incomplete last line was skipped.

    Only the live file's last line may be incomplete (a node still running, or killed in the
    middle of a write): it is skipped and the note says so. Raises ValueError naming the file
    and line if any complete line is not a JSON object, or a rotated segment is incomplete.
    """
    out: list[dict[str, Any]] = []
    note = ""
    files = [*segments(path), Path(path)]
    for k, f in enumerate(files):
        text = f.read_bytes().decode("utf-8", errors="replace")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        elif lines:
            if k < len(files) - 1:
                raise ValueError(f"{f}: a rotated segment ends in an incomplete line")
            note = (f"{f}: ignored an incomplete last line ({len(lines[-1])} bytes without a "
                    f"newline: the node was still writing it, or died mid-write)")
            lines.pop()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                ev = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{f}, line {number}: not JSON ({exc})") from None
            if not isinstance(ev, dict):
                raise ValueError(f"{f}, line {number}: expected a JSON object")
            problem = event_shape_problem(ev)
            if problem:
                raise ValueError(f"{f}, line {number}: {problem}")
            # The line in the file, which reports cite: the writer's own count restarts at 0
            # each time the node restarts and reopens its log.
            ev["i"] = number - 1
            out.append(ev)
    return out, note


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def event_shape_problem(ev: dict[str, Any]) -> str:
    """What is wrong with the shape of one event, or "": the fields every reader relies on to
    merge the logs (node, action, time, messages). What a refinement mapping reads beyond
    these it reports itself, naming the event."""
    if not _is_int(ev.get("n")) or ev["n"] < 0:
        return 'expected "n", the node id (0 for the network), as a number'
    if not isinstance(ev.get("action"), str):
        return 'expected "action", the name of the step, as a string'
    if "t" in ev and not isinstance(ev["t"], (int, float)):
        return '"t" must be a number'
    if "i" in ev and not _is_int(ev["i"]):
        return '"i" must be a whole number'
    messages = [ev[k] for k in ("msg", "recv") if k in ev]
    sent = ev.get("sent", [])
    if not isinstance(sent, list):
        return '"sent" must be a list of messages'
    for m in [*messages, *sent]:
        if not isinstance(m, dict) or not all(_is_int(m.get(k)) for k in ("src", "dst")) \
                or not isinstance(m.get("id"), (int, str)) or not isinstance(m.get("type"), str):
            return 'each message ("msg", "recv", "sent") must be an object with "type", ' \
                   '"id", and numeric "src" and "dst"'
    if ev["n"] == 0 and "msg" not in ev:
        return 'a network event (n = 0) needs "msg"'
    return ""
