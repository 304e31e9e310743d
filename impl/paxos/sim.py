"""The Multi-Paxos key-value store in the deterministic simulator (:mod:`impl.runtime.sim`).

Each operation ``(at_ms, client, op, key, value)`` is a put, get or delete; a client runs its
operations one after another, sends each to the node it believes leads, follows hints, and
retries with the same sequence number after ``CLIENT_TIMEOUT_MS`` (so the store executes it
once). The run records the clients' history (invocations and completions, in execution order)
in the format of :mod:`explorer.history` (kv model), which ``protospec conform`` checks for
linearizability. :func:`check_run` checks what the replicas promise: every node, in every boot,
executes a prefix of one command sequence, and every acknowledged result is the one that
sequence gives.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from protospec.impl.runtime.sim import FAULT_FAMILIES, Schedule, Sim, random_faults

from .core import BUGS, apply_command, make_node

__all__ = ["FAULT_FAMILIES", "SimResult", "check_run", "random_schedule", "run_schedule"]

CLIENT_TIMEOUT_MS = 300
CLIENT_BACKOFF_MS = 30
CLIENTS = 3


def random_schedule(seed: int, *, nodes: int = 3, duration_ms: int = 3000,
                    faults: Iterable[str] = FAULT_FAMILIES, ops: int = 20,
                    bug: str | None = None) -> Schedule:
    """Faults from ``faults`` and ``ops`` operations of three clients on four keys."""
    rng = random.Random(f"schedule:{seed}")
    fault_list, net = random_faults(rng, faults, nodes, duration_ms)
    op_list = []
    for _ in range(ops):
        kind = rng.choices(("put", "get", "delete"), weights=(6, 3, 1))[0]
        value = f"v{rng.randrange(1000)}" if kind == "put" else None
        op_list.append((rng.randrange(50, max(51, duration_ms - 600)),
                        rng.randrange(1, CLIENTS + 1), kind, f"k{rng.randrange(4)}", value))
    op_list.sort(key=lambda o: (o[0], o[1]))
    return Schedule(seed=seed, nodes=nodes, duration_ms=duration_ms, faults=fault_list,
                    ops=tuple(op_list), bug=bug, **net)


@dataclass
class SimResult:
    schedule: Schedule
    events: list[dict[str, Any]]
    executed: dict[int, list[list[str]]]  # node -> per boot, the commands learned in order
    acked: list[dict[str, Any]]
    history: list[dict[str, Any]]
    unanswered: int
    facts: dict[str, int] = field(default_factory=dict)


class _Clients:
    def __init__(self, ops: tuple[tuple[Any, ...], ...], nodes: int) -> None:
        self.nodes = nodes
        self.queues: dict[int, list[tuple[Any, ...]]] = {}
        for op in ops:
            self.queues.setdefault(int(op[1]), []).append(op)
        self.pending: dict[int, dict[str, Any]] = {}
        self.seq: dict[int, int] = {}
        self.acked: list[dict[str, Any]] = []
        self.history: list[dict[str, Any]] = []
        self.sim: Sim | None = None
        self.rng = random.Random(0)

    def start(self, sim: Sim) -> None:
        self.sim = sim
        self.rng = random.Random(f"clients:{sim.s.seed}")
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
        self.seq[c] = self.seq.get(c, 0) + 1
        self.pending[c] = {"op": op, "seq": self.seq[c], "target": self.rng.randrange(
            1, self.nodes + 1), "attempt": 0, "invoked": self.sim.now}
        self._record(c, op, "invoke")
        self._try(c)

    def _try(self, c: int) -> None:
        p = self.pending.get(c)
        if p is None:
            return
        p["attempt"] += 1
        _, _, name, key, value = p["op"]
        req = {"op": name, "key": key, "value": value, "client": f"c{c}", "seq": p["seq"]}
        attempt = p["attempt"]
        if not self.sim.request(p["target"], (c, attempt), req):
            p["target"] = p["target"] % self.nodes + 1
            self.sim.at(self.sim.now + CLIENT_BACKOFF_MS, self._try, c)
            return
        self.sim.at(self.sim.now + CLIENT_TIMEOUT_MS, self._timeout, c, attempt)

    def _timeout(self, c: int, attempt: int) -> None:
        p = self.pending.get(c)
        if p is None or p["attempt"] != attempt:
            return
        p["target"] = p["target"] % self.nodes + 1
        self._try(c)

    def on_reply(self, handle: Any, reply: dict[str, Any]) -> None:
        c, attempt = handle
        p = self.pending.get(c)
        if p is None or p["attempt"] != attempt:
            return  # an answer to an attempt the client has given up on
        if not reply.get("ok"):
            if reply.get("error") == "log_full":
                self._record(c, p["op"], "fail")
                self._done(c)
                return
            hint = reply.get("leader")
            p["target"] = hint if hint and hint != p["target"] else p["target"] % self.nodes + 1
            self.sim.at(self.sim.now + CLIENT_BACKOFF_MS, self._retry, c, attempt)
            return
        _, _, name, key, value = p["op"]
        self.acked.append({"client": c, "seq": p["seq"], "op": name, "key": key,
                           "value": value, "result": reply["result"]})
        self._record(c, p["op"], "ok", reply["result"])
        self._done(c)

    def _retry(self, c: int, attempt: int) -> None:
        p = self.pending.get(c)
        if p is not None and p["attempt"] == attempt:
            self._try(c)

    def _done(self, c: int) -> None:
        del self.pending[c]
        if self.queues.get(c):
            self.sim.at(max(self.sim.now, int(self.queues[c][0][0])), self._next, c)


def run_schedule(schedule: Schedule) -> SimResult:
    """Run one schedule to its end."""
    schedule.validate(schedule.nodes, BUGS)
    clients = _Clients(schedule.ops, schedule.nodes)
    sim = Sim(schedule, schedule.nodes, make_node, clients)
    events = sim.run()
    executed: dict[int, list[list[str]]] = {i: [] for i in range(1, schedule.nodes + 1)}
    for ev in events:
        if ev["action"] == "restart":
            executed[ev["n"]].append([c for _, c in ev["state"]["learned"]])
        elif ev["action"] == "learn":
            executed[ev["n"]][-1].append(ev["cmd"])
    for c, p in sorted(clients.pending.items()):
        clients._record(c, p["op"], "info")  # unanswered: it may or may not have happened
    st = sim.stats
    facts = {"ballots": sum(ev["action"] in ("phase1a",) for ev in events),
             "acked": len(clients.acked), "crashes": st.crashes,
             "torn_tails_cut": st.torn_repaired, "messages_dropped": st.dropped,
             "sim_steps": st.steps}
    unanswered = len(clients.pending) + sum(len(q) for q in clients.queues.values())
    return SimResult(schedule, events, executed, clients.acked, clients.history, unanswered,
                     facts)


def check_run(result: SimResult) -> list[str]:
    """What the replicas promise, on one run (see the module docstring)."""
    problems = []
    runs = [seq for per_node in result.executed.values() for seq in per_node]
    longest = max(runs, key=len, default=[])
    for node, per_node in result.executed.items():
        for boot, seq in enumerate(per_node):
            if seq != longest[:len(seq)]:
                k = next(k for k, (a, b) in enumerate(zip(seq, longest, strict=False))
                         if a != b)
                problems.append(f"node {node} (boot {boot}) executed {seq[k]} in slot {k}, "
                                f"another node executed {longest[k]}")
    data: dict[str, Any] = {}
    results: dict[tuple[str, int], Any] = {}
    for command in longest:
        apply_command(data, results, command)
    for a in result.acked:
        key = (f"c{a['client']}", a["seq"])
        if key not in results:
            problems.append(f"acknowledged {a['op']} {a['key']} (client {a['client']}, seq "
                            f"{a['seq']}) is not in the executed log")
        elif results[key] != a["result"]:
            problems.append(f"acknowledged {a['op']} {a['key']} returned {a['result']!r}, but "
                            f"the log order gives {results[key]!r}")
    return problems

