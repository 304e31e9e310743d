"""The driver contract shared by the sans-IO protocol cores of ``impl/two_phase_commit`` and
``impl/paxos`` (in the manner of etcd-io/raft's Ready).

A core does the protocol and nothing else: no sockets, clocks, files or threads, and no
randomness but the seeded ``random.Random`` it is given. Its inputs are four verbs:

* ``tick()`` — one unit of logical time has passed;
* ``step(msg)`` — a peer's message (a dict, see below) arrived;
* ``request(handle, req)`` — a client's request (a dict) arrived; ``handle`` is the driver's
  opaque token for answering it;
* ``ready()`` — take everything the inputs so far produced, as one :class:`Ready`.

A driver handles each Ready **in this order**, which is what makes a crash at any moment safe
and the event log truthful: (1) append ``records`` to the node's durable record log
(:mod:`impl.runtime.storage`) and fsync; (2) write ``events`` to the event log; (3) send
``messages``; (4) answer the clients in ``replies``. Nothing a node promised (a vote, a
decision, a promise, an accepted value) leaves it before it is on disk, and every logged event
happened durably. A node restarts from its records: the core's constructor takes them.

Messages are JSON-ready dicts with ``type``, ``src``, ``dst`` (node ids from 1) and a unique
``id`` (``"node.boot.counter"``), so the same dict is the simulator's message, the TCP wire
format and what an event records, and per-node logs can be merged causally.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Core", "CoreFactory", "Outbox", "Ready", "decode_record", "encode_record"]


@dataclass
class Ready:
    """What a core's steps produced, to be handled in field order (see the module docstring)."""

    records: list[bytes] = field(default_factory=list)  # durable before anything else
    events: list[dict[str, Any]] = field(default_factory=list)  # then logged
    messages: list[dict[str, Any]] = field(default_factory=list)  # then sent
    replies: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)  # then answered

    def empty(self) -> bool:
        return not (self.records or self.events or self.messages or self.replies)


class Core(Protocol):
    """A sans-IO protocol node (see the module docstring for the contract)."""

    def tick(self) -> None: ...
    def step(self, msg: dict[str, Any]) -> None: ...
    def request(self, handle: Any, req: dict[str, Any]) -> None: ...
    def ready(self) -> Ready: ...


#: Builds a node from its durable records: (node_id, processes, records, boot, rng, bug).
CoreFactory = Callable[..., Core]


class Outbox:
    """The buffer behind a core's :meth:`Core.ready`, with message ids and event framing."""

    def __init__(self, node_id: int, boot: int) -> None:
        self.node_id = node_id
        self.boot = boot
        self.counter = 0
        self.rd = Ready()

    def send(self, dst: int, kind: str, **fields: Any) -> dict[str, Any]:
        self.counter += 1
        m = {"type": kind, "src": self.node_id, "dst": dst,
             "id": f"{self.node_id}.{self.boot}.{self.counter}", **fields}
        self.rd.messages.append(m)
        return m

    def persist(self, record: dict[str, Any]) -> None:
        self.rd.records.append(encode_record(record))

    def event(self, action: str, **fields: Any) -> dict[str, Any]:
        ev = {"n": self.node_id, "action": action, **fields}
        self.rd.events.append(ev)
        return ev

    def reply(self, handle: Any, reply: dict[str, Any]) -> None:
        self.rd.replies.append((handle, reply))

    def take(self) -> Ready:
        rd, self.rd = self.rd, Ready()
        return rd


def encode_record(record: dict[str, Any]) -> bytes:
    """A durable record's payload: compact JSON."""
    return json.dumps(record, separators=(",", ":"), sort_keys=True).encode()


def decode_record(payload: bytes) -> dict[str, Any]:
    """The inverse of :func:`encode_record` (the record log has checked its checksum)."""
    return json.loads(payload)
