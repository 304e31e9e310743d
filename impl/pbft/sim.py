"""PBFT in the deterministic simulator (:mod:`impl.runtime.sim`), with Byzantine replicas and
clients that wait for f+1 matching replies.

A :class:`PbftSchedule` is the runtime's schedule plus ``byzantine``: which replicas lie and
how (:mod:`impl.pbft.byzantine`). The network faults (drops, duplicates, reordering,
partitions) and crash-restarts (including the crash between an fsync and the step's events and
sends, ``crash_unlogged``, and torn writes) come from the runtime.

Each operation ``(at_ms, client, op, key, value)`` is a put or a get. A client multicasts its
request to every replica (section 4.1 lets it send to the primary first; sending to all at once
starts every backup's timer), accepts a result once f+1 replicas sent the same one with valid
MACs (f+1 includes a correct replica), and re-sends the request with the same timestamp after
``CLIENT_TIMEOUT_MS``. With the ``client_accepts_first_reply`` bug it takes the first reply.
The run records the clients' history in the format of :mod:`explorer.history` (kv model).
:func:`check_run` checks what correct replicas promise: they execute one sequence of requests
(each a prefix of the longest).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from protospec.impl.runtime.sim import FAULT_FAMILIES, Schedule, Sim, random_faults

from .auth import body, client_keyring, replica_keyring
from .byzantine import STRATEGIES, make_byzantine
from .core import BUGS, Replica

__all__ = ["FAULT_FAMILIES", "SECRET", "PbftSchedule", "SimResult", "check_run",
           "random_schedule", "run_schedule"]

SECRET = b"protospec-pbft-simulation"
CLIENT_TIMEOUT_MS = 400
CLIENTS = 3


@dataclass(frozen=True)
class PbftSchedule(Schedule):
    """A runtime schedule plus the Byzantine replicas: ``((replica, strategy), ...)``."""

    byzantine: tuple[tuple[int, str], ...] = ()

    def to_json(self) -> str:
        d = json.loads(super().to_json())
        d["byzantine"] = [list(b) for b in self.byzantine]
        return json.dumps(d, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> PbftSchedule:
        base = Schedule.from_json(text)
        try:
            byz = tuple((int(r), str(s)) for r, s in json.loads(text).get("byzantine", []))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not a schedule: byzantine: {exc}") from None
        return cls(**{k: getattr(base, k) for k in base.__dataclass_fields__}, byzantine=byz)

    def validate_pbft(self) -> None:
        """Raise ValueError unless the schedule can run (n = 3f+1 >= 4, at most f liars)."""
        self.validate(self.nodes, BUGS)
        if self.nodes < 4 or (self.nodes - 1) % 3:
            raise ValueError(f"PBFT runs n = 3f+1 replicas (4, 7, ...), got {self.nodes}")
        f = (self.nodes - 1) // 3
        ids = [r for r, _ in self.byzantine]
        if len(set(ids)) != len(ids) or len(ids) > f or \
                any(not 1 <= r <= self.nodes for r in ids):
            raise ValueError(f"byzantine must name at most f={f} distinct replicas among "
                             f"1..{self.nodes}, got {ids}")
        for _, strategy in self.byzantine:
            if strategy not in STRATEGIES:
                raise ValueError(f"unknown Byzantine strategy {strategy!r} (known: "
                                 f"{', '.join(STRATEGIES)})")

    def describe(self) -> str:
        byz = ", ".join(f"replica {r} {s}" for r, s in self.byzantine) or "no Byzantine replica"
        return f"{super().describe()}; {byz}"


def random_schedule(seed: int, *, nodes: int = 4, duration_ms: int = 3000,
                    faults: Iterable[str] = FAULT_FAMILIES, ops: int = 20,
                    bug: str | None = None,
                    strategies: Iterable[str] = tuple(STRATEGIES)) -> PbftSchedule:
    """Faults from ``faults``, f Byzantine replicas (strategies in turn by seed; the
    equivocating primary is replica 1, the primary of view 0) and ``ops`` operations of three
    clients on four keys. Crashes hit correct replicas only (a crashed liar is just silent)."""
    rng = random.Random(f"schedule:{seed}")
    f = max(1, (nodes - 1) // 3)
    strategies = tuple(strategies)
    byz: list[tuple[int, str]] = []
    for k in range(f if strategies else 0):
        strategy = strategies[(seed + k) % len(strategies)]
        free = [r for r in range(1, nodes + 1) if r not in dict(byz)]
        r = 1 if strategy == "equivocating_primary" and 1 in free else rng.choice(free)
        byz.append((r, strategy))
    fault_list, net = random_faults(rng, faults, nodes, duration_ms)
    liars = dict(byz)
    fixed = []
    for fault in fault_list:
        if fault.kind in ("crash", "crash_torn", "restart") and fault.arg in liars:
            continue
        fixed.append(fault)
    op_list = []
    for _ in range(ops):
        kind = rng.choices(("put", "get"), weights=(6, 4))[0]
        value = f"v{rng.randrange(1000)}" if kind == "put" else None
        op_list.append((rng.randrange(50, max(51, duration_ms - 800)),
                        rng.randrange(1, CLIENTS + 1), kind, f"k{rng.randrange(4)}", value))
    op_list.sort(key=lambda o: (o[0], o[1]))
    return PbftSchedule(seed=seed, nodes=nodes, duration_ms=duration_ms, faults=tuple(fixed),
                        ops=tuple(op_list), bug=bug, byzantine=tuple(byz), **net)


@dataclass
class SimResult:
    schedule: PbftSchedule
    events: list[dict[str, Any]]
    executed: dict[int, list[list[str | None]]]  # correct replica -> per boot, requests run
    history: list[dict[str, Any]]
    acked: int
    unanswered: int
    facts: dict[str, int] = field(default_factory=dict)


class _Clients:
    """The clients of a run: each runs its operations one after another (closed loop)."""

    def __init__(self, ops: tuple[tuple[Any, ...], ...], nodes: int, bug: str | None) -> None:
        self.nodes = nodes
        self.f = (nodes - 1) // 3
        self.first_reply = bug == "client_accepts_first_reply"
        self.queues: dict[int, list[tuple[Any, ...]]] = {}
        for op in ops:
            self.queues.setdefault(int(op[1]), []).append(op)
        self.keys = {c: client_keyring(SECRET, f"c:{c}", nodes) for c in self.queues}
        self.pending: dict[int, dict[str, Any]] = {}
        self.ts: dict[int, int] = {}
        self.history: list[dict[str, Any]] = []
        self.acked = 0
        self.forged_replies = 0
        self.sim: Sim | None = None

    def start(self, sim: Sim) -> None:
        self.sim = sim
        for c, ops in self.queues.items():
            sim.at(int(ops[0][0]), self._next, c)

    def _record(self, c: int, op: tuple[Any, ...], kind: str, result: Any = None) -> None:
        _, _, name, key, value = op
        f = "read" if name == "get" else "write"
        v = [key, result] if kind == "ok" and f == "read" else [key, value]
        self.history.append({"process": c, "type": kind, "f": f, "value": v})

    def _next(self, c: int) -> None:
        if c in self.pending or not self.queues.get(c):
            return
        op = self.queues[c].pop(0)
        self.ts[c] = self.ts.get(c, 0) + 1
        _, _, name, key, value = op
        req = {"op": name, "key": key, "value": value, "client": f"c:{c}", "ts": self.ts[c]}
        req["auth"] = self.keys[c].authenticator([f"r{j}" for j in range(1, self.nodes + 1)],
                                                 body(req))
        self.pending[c] = {"op": op, "req": req, "replies": {}, "attempt": 0}
        self._record(c, op, "invoke")
        self._send(c)

    def _send(self, c: int) -> None:
        p = self.pending.get(c)
        if p is None:
            return
        p["attempt"] += 1
        for j in range(1, self.nodes + 1):
            self.sim.request(j, (c, p["req"]["ts"], j), p["req"])
        self.sim.at(self.sim.now + CLIENT_TIMEOUT_MS, self._timeout, c, p["attempt"])

    def _timeout(self, c: int, attempt: int) -> None:
        p = self.pending.get(c)
        if p is not None and p["attempt"] == attempt:
            self._send(c)

    def on_reply(self, handle: Any, reply: dict[str, Any]) -> None:
        c, ts, j = handle
        p = self.pending.get(c)
        if p is None or p["req"]["ts"] != ts or not reply.get("ok"):
            return
        signed = {k: v for k, v in reply.items() if k != "mac"}
        if reply.get("replica") != j or reply.get("ts") != ts or \
                reply.get("mac") != self.keys[c].mac(f"r{j}", body(signed)):
            self.forged_replies += 1
            return
        p["replies"].setdefault(j, json.dumps(reply.get("result")))
        votes = list(p["replies"].values())
        result = reply.get("result")
        if not self.first_reply and votes.count(json.dumps(result)) < self.f + 1:
            return
        self.acked += 1
        self._record(c, p["op"], "ok", result)
        del self.pending[c]
        if self.queues.get(c):
            self.sim.at(max(self.sim.now + 1, int(self.queues[c][0][0])), self._next, c)


def make_factory(schedule: PbftSchedule) -> Any:
    """The simulator's core factory: correct replicas and the schedule's Byzantine ones."""
    liars = dict(schedule.byzantine)

    def factory(i: int, n: int, records: list[bytes], boot: int, rng: random.Random,
                bug: str | None) -> Replica:
        keys = replica_keyring(SECRET, i, n)
        core_bug = None if bug == "client_accepts_first_reply" else bug
        if i in liars:
            return make_byzantine(liars[i], i, n, records, boot, rng, None, keys)
        return Replica(i, n, records, boot, rng, core_bug, keys)

    return factory


def run_schedule(schedule: PbftSchedule) -> SimResult:
    """Run one schedule to its end."""
    schedule.validate_pbft()
    clients = _Clients(schedule.ops, schedule.nodes, schedule.bug)
    sim = Sim(schedule, schedule.nodes, make_factory(schedule), clients)
    events = sim.run()
    liars = dict(schedule.byzantine)
    executed: dict[int, list[list[str | None]]] = {
        i: [] for i in range(1, schedule.nodes + 1) if i not in liars}
    for ev in events:
        if ev["n"] in liars:
            continue
        if ev["action"] == "restart":
            executed[ev["n"]].append([])
        elif ev["action"] == "execute":
            executed[ev["n"]][-1].append(ev["req"])
        elif ev["action"] == "state_transfer":
            executed[ev["n"]][-1].append(("state", ev["h"]))
    for c, p in sorted(clients.pending.items()):
        clients._record(c, p["op"], "info")  # unanswered: it may or may not have happened
    st = sim.stats
    count = {a: sum(ev["action"] == a for ev in events if ev["n"] not in liars)
             for a in ("start_view_change", "send_new_view", "execute", "stable_checkpoint",
                       "drop_unauthenticated", "state_transfer")}
    facts = {"view_changes": count["start_view_change"], "new_views": count["send_new_view"],
             "executions": count["execute"], "stable_checkpoints": count["stable_checkpoint"],
             "forged_dropped": count["drop_unauthenticated"],
             "state_transfers": count["state_transfer"], "acked": clients.acked,
             "crashes": st.crashes, "messages_dropped": st.dropped, "sim_steps": st.steps}
    unanswered = len(clients.pending) + sum(len(q) for q in clients.queues.values())
    return SimResult(schedule, events, executed, clients.history, clients.acked, unanswered,
                     facts)


def check_run(result: SimResult) -> list[str]:
    """Correct replicas executed one sequence of requests: for every sequence number, every
    correct replica that executed it (in any boot) executed the same request."""
    at: dict[int, tuple[int, Any]] = {}
    problems = []
    for ev in result.events:
        if ev["action"] != "execute" or ev["n"] in dict(result.schedule.byzantine):
            continue
        seen = at.setdefault(ev["seq"], (ev["n"], ev["req"]))
        if seen[1] != ev["req"]:
            problems.append(f"replicas {seen[0]} and {ev['n']} executed different requests at "
                            f"sequence number {ev['seq']}: {seen[1]} and {ev['req']}")
    return problems[:5]
