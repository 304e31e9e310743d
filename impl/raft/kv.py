"""The replicated state machine: a key-value map with put, get, delete and compare-and-set.

Every write goes through the Raft log: a client's command is applied when its entry is
committed, in log order, on every node. A get may too (the simulator's clients, and the server
with ``--reads-through-log``): it then returns the value as of its position in the log, which
is between its invocation and its response. By default the server answers gets with ReadIndex
instead (:meth:`impl.raft.core.RaftCore.read_index`): linearizable, with no log entry.

Commands are compact JSON strings (``{"op": "put", "key": ..., "value": ..., "client": ...,
"seq": ...}``), so the log stores exactly what the client sent. Each client numbers its commands;
the state machine remembers each client's last sequence number and its result, so a command
retried after a timeout (and so perhaps in the log twice) takes effect once, and the retry gets
the first one's result (Raft dissertation, section 6.3).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["KVStore", "encode_command"]


def encode_command(op: str, key: str | None = None, value: str | None = None, *,
                   client: str = "", seq: int = 0, expect: str | None = None) -> str:
    """The log form of a client command (keys sorted, no spaces: equal commands, equal text).
    ``expect`` is a cas's expected current value (None: the key is absent)."""
    cmd: dict[str, Any] = {"op": op, "client": client, "seq": seq}
    if key is not None:
        cmd["key"] = key
    if value is not None:
        cmd["value"] = value
    if op == "cas":
        cmd["expect"] = expect
    return json.dumps(cmd, sort_keys=True, separators=(",", ":"))


class KVStore:
    """The map and the per-client session table; :meth:`apply` each committed command."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.sessions: dict[str, tuple[int, Any]] = {}  # client -> (last seq, its result)
        self.applied = 0  # index of the last entry applied

    def snapshot_data(self) -> dict[str, Any]:
        """The state as JSON-ready data, for a Raft snapshot (everything :meth:`restore`
        needs; the applied index is the snapshot's own)."""
        return {"data": dict(self.data),
                "sessions": {c: [seq, result] for c, (seq, result) in self.sessions.items()}}

    @classmethod
    def restore(cls, data: dict[str, Any], index: int) -> KVStore:
        """The store as :meth:`snapshot_data` described it, having applied 1..``index``."""
        kv = cls()
        kv.data = dict(data["data"])
        kv.sessions = {c: (int(seq), result) for c, (seq, result) in data["sessions"].items()}
        kv.applied = index
        return kv

    def apply(self, index: int, command: str) -> Any:
        """Apply the entry at ``index``; returns the operation's result.

        put -> the previous value (or None); get -> the value (or None); delete -> whether the
        key existed; cas -> whether the key held ``expect`` (and so now holds ``value``);
        noop -> None. A malformed command is skipped with result None: it is in
        the log, so every node skips it alike.
        """
        if index != self.applied + 1:
            raise ValueError(f"entry {index} applied after entry {self.applied}")
        self.applied = index
        try:
            cmd = json.loads(command)
            op = cmd["op"]
        except (ValueError, TypeError, KeyError):
            return None
        client, seq = cmd.get("client", ""), cmd.get("seq", 0)
        if client:
            last = self.sessions.get(client)
            if last is not None and seq <= last[0]:
                return last[1] if seq == last[0] else None  # a duplicate: applied already
        result: Any = None
        key = cmd.get("key")
        if op == "put":
            result = self.data.get(key)
            self.data[key] = cmd.get("value")
        elif op == "get":
            result = self.data.get(key)
        elif op == "delete":
            result = self.data.pop(key, None) is not None
        elif op == "cas":
            result = self.data.get(key) == cmd.get("expect")
            if result:
                self.data[key] = cmd.get("value")
        if client:
            self.sessions[client] = (seq, result)
        return result
