"""Two-phase commit in the deterministic simulator (:mod:`impl.runtime.sim`), with clients.

Process 1 is the TM, processes 2..n+1 the participants (``Schedule.nodes`` counts
participants, as the spec's ``rms`` does). Each operation ``(at_ms, client, key, value)`` is a
transaction writing ``key = value`` at every participant; a client runs its transactions one
after another, and when the TM does not answer within ``CLIENT_TIMEOUT_MS`` it asks for the
outcome (``status``) until it gets one. :func:`check_run` checks what the protocol promises its
clients: an outcome, once told to a client, is never contradicted (the TM's durable decision
and every participant's durable state agree with it), and no transaction is committed at one
participant and aborted at another.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from protospec.impl.runtime.core import decode_record
from protospec.impl.runtime.sim import FAULT_FAMILIES, Schedule, Sim, random_faults

from .core import BUGS, COORDINATOR, make_node

__all__ = ["FAULT_FAMILIES", "SimResult", "check_run", "random_schedule", "run_schedule"]

CLIENT_TIMEOUT_MS = 300
CLIENTS = 3
KEYS = 3


def random_schedule(seed: int, *, nodes: int = 3, duration_ms: int = 3000,
                    faults: Iterable[str] = FAULT_FAMILIES, ops: int = 20,
                    bug: str | None = None) -> Schedule:
    """A schedule drawn from ``seed``: faults from ``faults`` and ``ops`` transactions of three
    clients on three keys (so concurrent transactions sometimes conflict and abort)."""
    rng = random.Random(f"schedule:{seed}")
    fault_list, net = random_faults(rng, faults, nodes + 1, duration_ms)
    op_list = sorted((rng.randrange(50, max(51, duration_ms - 600)), rng.randrange(1, CLIENTS + 1),
                      f"k{rng.randrange(KEYS)}", f"v{rng.randrange(1000)}") for _ in range(ops))
    return Schedule(seed=seed, nodes=nodes, duration_ms=duration_ms, faults=fault_list,
                    ops=tuple(op_list), bug=bug, **net)


@dataclass
class SimResult:
    schedule: Schedule
    events: list[dict[str, Any]]
    outcomes: dict[str, str]  # txn -> outcome told to its client
    unanswered: int
    decisions: dict[str, str]  # the TM's durable decisions at the end
    rm_states: dict[int, dict[str, str]]  # participant -> txn -> durable state at the end
    facts: dict[str, int] = field(default_factory=dict)


class _Clients:
    """Each client runs its transactions in order, asking for the outcome after a timeout."""

    def __init__(self, ops: tuple[tuple[Any, ...], ...]) -> None:
        self.queues: dict[int, list[tuple[Any, ...]]] = {}
        for op in ops:
            self.queues.setdefault(int(op[1]), []).append(op)
        self.current: dict[int, str] = {}
        self.seq: dict[int, int] = {}
        self.outcomes: dict[str, str] = {}
        self.sim: Sim | None = None

    def start(self, sim: Sim) -> None:
        self.sim = sim
        for c, ops in self.queues.items():
            sim.at(int(ops[0][0]), self._next, c)

    def _next(self, c: int) -> None:
        if c in self.current or not self.queues.get(c):
            return
        _, _, key, value = self.queues[c].pop(0)
        self.seq[c] = self.seq.get(c, 0) + 1
        txn = f"c{c}.{self.seq[c]}"
        self.current[c] = txn
        self.sim.request(COORDINATOR, (c, txn), {"op": "txn", "txn": txn, "key": key,
                                                 "value": value})
        self.sim.at(self.sim.now + CLIENT_TIMEOUT_MS, self._timeout, c, txn)

    def _timeout(self, c: int, txn: str) -> None:
        if self.current.get(c) != txn:
            return
        self.sim.request(COORDINATOR, (c, txn), {"op": "status", "txn": txn})
        self.sim.at(self.sim.now + CLIENT_TIMEOUT_MS, self._timeout, c, txn)

    def on_reply(self, handle: Any, reply: dict[str, Any]) -> None:
        c, txn = handle
        if not reply.get("ok") or self.current.get(c) != txn:
            return
        self.outcomes[txn] = reply["outcome"]
        del self.current[c]
        if self.queues.get(c):
            self.sim.at(max(self.sim.now, int(self.queues[c][0][0])), self._next, c)


def run_schedule(schedule: Schedule) -> SimResult:
    """Run one schedule to its end."""
    schedule.validate(schedule.nodes + 1, BUGS)
    clients = _Clients(schedule.ops)
    sim = Sim(schedule, schedule.nodes + 1, make_node, clients)
    events = sim.run()
    decisions: dict[str, str] = {}
    for payload in sim.disk_records(COORDINATOR):
        r = decode_record(payload)
        decisions[r["txn"]] = r["decision"]
    rm_states: dict[int, dict[str, str]] = {}
    for i in range(2, schedule.nodes + 2):
        states: dict[str, str] = {}
        for payload in sim.disk_records(i):
            r = decode_record(payload)
            states[r["txn"]] = r["state"]
        rm_states[i] = states
    st = sim.stats
    facts = {"transactions": len(clients.outcomes),
             "committed": sum(o == "committed" for o in clients.outcomes.values()),
             "crashes": st.crashes, "torn_tails_cut": st.torn_repaired,
             "messages_dropped": st.dropped, "sim_steps": st.steps}
    unanswered = len(clients.current) + sum(len(q) for q in clients.queues.values())
    return SimResult(schedule, events, clients.outcomes, unanswered, decisions, rm_states, facts)


def check_run(result: SimResult) -> list[str]:
    """What two-phase commit promises its clients, checked on one run's end state."""
    problems = []
    for txn, outcome in sorted(result.outcomes.items()):
        decision = result.decisions.get(txn)
        expected = "commit" if outcome == "committed" else "abort"
        if decision != expected:
            problems.append(f"transaction {txn}: its client was told {outcome}, but the TM's "
                            f"log says {decision or 'nothing'}")
    txns = {t for states in result.rm_states.values() for t in states}
    for txn in sorted(txns):
        seen = {i: s[txn] for i, s in result.rm_states.items() if txn in s}
        final = set(seen.values()) - {"prepared"}
        if final == {"committed", "aborted"}:
            problems.append(f"transaction {txn}: committed at some participants, aborted at "
                            f"others ({seen})")
        told = result.outcomes.get(txn)
        if told is not None and final and final != {told}:
            problems.append(f"transaction {txn}: its client was told {told}, but participants "
                            f"logged {seen}")
    return problems
