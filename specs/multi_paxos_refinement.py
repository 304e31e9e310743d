"""The refinement mapping from the event logs of ``impl/paxos`` to the spec
``specs/multi_paxos.py``, and its registration for ``protospec conform multi_paxos``.

**Events to steps.** Node k is the spec's acceptor k-1 and learner k-1; the leader of ballot b
is whichever node owns b. Every event is named after the spec action it performs and maps to
the action of the same name: ``phase1a(b)``, ``phase1b(a, b)``, ``become_leader(b, q)`` (the
quorum whose promises the leader used), ``phase2a(b, slot, c)``, ``phase2b(a, b, slot, c)``,
``learn(r, b, c)``. ``restart`` is no step (the spec has no crashes): the state the node
recovered must be the spec's. The spec's network is the set of every message ever sent, so
losses, copies and the implementation's re-sends are no steps either.

**Values.** A command (a JSON string: a client operation, or a no-op distinct per ballot and
slot) maps to a small integer given out in order of first appearance. The spec is built for the
run at hand: as many slots and ballots as the events mention, acceptors and learners as many
as nodes, and every integer a command (its ``Command`` domain widened, as the Raft mapping
does with values), without the model checker's parameter bounds: every state the run reaches
must satisfy the spec's invariants, ``slot_agreement`` and ``learned_prefixes_agree``.

**Constraints after each step.** An acceptor's ``max_bal`` and its vote in the slot; a new
leader's forced commands (what phase 1 obliges it to propose, slot by slot); a learner's log
length; after a restart, the acceptor's ``max_bal`` and every vote and the learner's whole log.
Every spec message an event sent (1a, 1b with its votes, 2a, 2b) must be in ``msgs`` after it.

**Unlogged steps.** A node can crash after its step is on disk but before the step's events
are written (the simulator's ``crash_unlogged``). Before a ``restart`` the check may insert
the node's own steps that move it towards what it recovered: a promise, a vote, the next
learned slot (up to ``max_hidden`` of them); elsewhere no hidden step is allowed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from protospec.explorer.conformance import LoadedLogs, SimRun, register
from protospec.explorer.refinement import Mapping, Mismatch, SpecStep, causal_merge
from protospec.impl.runtime.conformance import RuntimeConformance
from protospec.specs.multi_paxos import NO_VOTE, NONE, Msg1a, Msg1b, Msg2a, Msg2b, MultiPaxos, State

__all__ = ["MultiPaxosConformance", "MultiPaxosMapping", "load_logs"]

_STEP = SpecStep.of
_UNBOUNDED = 1 << 40


class MultiPaxosMapping(Mapping):
    """Events of ``impl/paxos`` (dicts, as logged) to steps of ``specs/multi_paxos.py``."""

    max_states = 64
    max_hidden = 40

    def __init__(self, nodes: int, slots: int, ballots: int,
                 spec_cls: type[MultiPaxos] = MultiPaxos) -> None:
        spec = spec_cls(acceptors=min(nodes, 5), learners=min(nodes, 3), slots=1, ballots=2,
                        commands=1)
        # Sized for the run (see "Values"): past the parameters' model-checking bounds.
        spec.acceptors, spec.learners, spec.slots, spec.ballots = nodes, nodes, slots, ballots
        spec.commands = _UNBOUNDED
        spec.param_values.update(acceptors=nodes, learners=nodes, slots=slots, ballots=ballots,
                                 commands=_UNBOUNDED)
        spec.setup()
        spec.constraint = None
        self.spec = spec
        self.nodes = nodes
        self.values: dict[str, int] = {}

    def value(self, command: str | None) -> int:
        if command is None:
            return NONE
        v = self.values.get(command)
        if v is None:
            v = self.values[command] = len(self.values)
        return v

    def votes(self, logged: dict[str, list]) -> tuple[tuple[int, int], ...]:
        """A logged {slot: [ballot, command]} as the spec's per-slot vote tuple."""
        out = [NO_VOTE] * self.spec.slots
        for s, (b, c) in logged.items():
            out[int(s)] = (b, self.value(c))
        return tuple(out)

    def message(self, m: dict[str, Any]) -> Any:
        """A logged message as the spec's, or None for one the spec does not model."""
        kind = m["type"]
        if kind == "1a":
            return Msg1a(m["b"])
        if kind == "1b":
            return Msg1b(m["src"] - 1, m["b"], self.votes(m["votes"]))
        if kind == "2a":
            return Msg2a(m["b"], m["slot"], self.value(m["cmd"]))
        if kind == "2b":
            return Msg2b(m["src"] - 1, m["b"], m["slot"], self.value(m["cmd"]))
        return None

    # -- the Mapping interface -------------------------------------------------------------

    def explain(self, event: dict[str, Any], state: State) -> Iterable[Sequence[SpecStep]]:
        action, k = event["action"], event["n"] - 1
        if action == "restart":
            return ((),)
        if action == "phase1a":
            return ((_STEP(action, b=event["b"]),),)
        if action == "phase1b":
            return ((_STEP(action, a=k, b=event["b"]),),)
        if action == "become_leader":
            return ((_STEP(action, b=event["b"], q=frozenset(x - 1 for x in event["q"])),),)
        if action == "phase2a":
            return ((_STEP(action, b=event["b"], slot=event["slot"],
                           c=self.value(event["cmd"])),),)
        if action == "phase2b":
            return ((_STEP(action, a=k, b=event["b"], slot=event["slot"],
                           c=self.value(event["cmd"])),),)
        if action == "learn":
            return ((_STEP(action, r=k, b=event["b"], c=self.value(event["cmd"])),),)
        raise ValueError(f"event {action!r} has no spec counterpart")

    def mismatches(self, event: dict[str, Any], before: State, after: State) -> list[Mismatch]:
        action, n = event["action"], event["n"]
        k = n - 1
        out: list[Mismatch] = []

        def expect(what: str, logged: Any, spec: Any) -> None:
            if logged != spec:
                out.append(Mismatch(f"{what} (node {n})", logged, spec))

        if action == "restart":
            st = event["state"]
            expect(f"max_bal[{k}]", st["max_bal"], after.max_bal[k])
            expect(f"votes[{k}]", self.votes(st["votes"]), after.votes[k])
            expect(f"learned[{k}]", tuple(self.value(c) for _, c in st["learned"]),
                   after.learned[k])
        elif action in ("phase1b", "phase2b"):
            expect(f"max_bal[{k}]", event["state"]["max_bal"], after.max_bal[k])
        elif action == "become_leader":
            forced = tuple(self.value(event["forced"].get(str(s))) for s in self.spec.Slot)
            leader = after.leader[event["b"]]
            expect(f"leader[{event['b']}].forced", forced, getattr(leader, "forced", None))
        elif action == "learn":
            expect(f"len(learned[{k}])", event["slot"] + 1, len(after.learned[k]))
        for m in event.get("sent", ()):
            spec_msg = self.message(m)
            if spec_msg is not None and spec_msg not in after.msgs:
                out.append(Mismatch(f"node {n} sent a message the spec step does not send",
                                    spec_msg, None))
        return out

    def hidden(self, event: dict[str, Any], state: State) -> Iterator[SpecStep]:
        """Before a restart only: the node's steps towards what it recovered."""
        if event["action"] != "restart":
            return
        k = event["n"] - 1
        st = event["state"]
        if st["max_bal"] > state.max_bal[k]:
            yield _STEP("phase1b", a=k, b=st["max_bal"])
        for s, (b, c) in st["votes"].items():
            vote = (b, self.value(c))
            if state.votes[k][int(s)] != vote:
                yield _STEP("phase2b", a=k, b=b, slot=int(s), c=vote[1])
        have = len(state.learned[k])
        if have < len(st["learned"]):
            b, c = st["learned"][have]
            yield _STEP("learn", r=k, b=b, c=self.value(c))

    def describe(self, event: dict[str, Any]) -> str:
        parts = [f"node {event['n']}: {event['action']}"]
        for key in ("b", "slot", "q"):
            if key in event:
                parts.append(f"{key}={json.dumps(event[key])}")
        if "cmd" in event:
            parts.append(f"command {event['cmd']}")
        if "forced" in event:
            parts.append(f"forced {json.dumps(event['forced'], separators=(',', ':'))}")
        if "state" in event:
            parts.append(f"state {json.dumps(event['state'], separators=(',', ':'))}")
        return "; ".join(parts)

    def position(self, event: dict[str, Any]) -> str:
        where = [f"node {event['n']}"]
        if "i" in event:
            where.append(f"line {event['i'] + 1} of its log")
        if "t" in event:
            where.append(f"t={event['t']}")
        return ", ".join(where)


def _dimensions(events: Sequence[dict[str, Any]]) -> tuple[int, int]:
    """The slots and ballots a run's events mention (each at least what the spec needs)."""
    slots, ballots = 1, 2
    for ev in events:
        if "b" in ev:
            ballots = max(ballots, ev["b"] + 1)
        if "slot" in ev:
            slots = max(slots, ev["slot"] + 1)
        if "forced" in ev:
            slots = max(slots, *(int(s) + 1 for s in ev["forced"]), 1)
        st = ev.get("state")
        if ev["action"] == "restart" and st:
            slots = max(slots, len(st["learned"]), *(int(s) + 1 for s in st["votes"]), 1)
            ballots = max(ballots, st["max_bal"] + 1,
                          *(b + 1 for b, _ in st["votes"].values()), 1)
    return slots, ballots


def _receives(ev: dict[str, Any]) -> list[str]:
    recv = ev.get("recv")
    if recv is None:
        return []
    return [m["id"] for m in (recv if isinstance(recv, list) else [recv])]


def load_logs(path: str | Path) -> LoadedLogs:
    """The events of a real cluster's logs (``events.jsonl`` per node under ``path``), merged
    into one causal order."""
    from protospec.impl.runtime.events import read_events

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
    top = 0
    for s in streams:
        for ev in s:
            top = max(top, ev["n"], *(max(m["src"], m["dst"]) for m in ev.get("sent", ())))
    merged = causal_merge(streams, sends=lambda ev: [m["id"] for m in ev.get("sent", ())],
                          receives=_receives, order=lambda ev: ev.get("t", 0))
    return LoadedLogs(merged, notes, top)


class MultiPaxosConformance(RuntimeConformance):
    """``impl/paxos`` as :class:`explorer.conformance.Conformance` sees it."""

    package = "protospec.impl.paxos"
    name = "multi_paxos"
    spec_cls = MultiPaxos
    summary = "a key-value store replicated with Multi-Paxos (impl/paxos)"

    def bugs(self) -> tuple[str, ...]:
        from protospec.impl.paxos.core import BUGS

        return BUGS

    def fault_families(self) -> tuple[str, ...]:
        from protospec.impl.runtime.sim import FAULT_FAMILIES

        return FAULT_FAMILIES

    def refinements(self, nodes: int, variant: str | None, events: Sequence[Any]
                    ) -> list[tuple[Mapping, Sequence[Any]]]:
        slots, ballots = _dimensions(events)
        return [(MultiPaxosMapping(nodes, slots, ballots, MultiPaxos.with_variant(variant)),
                 events)]

    def random_schedule(self, seed: int, *, nodes: int, faults: Sequence[str], bug: str | None,
                        duration_ms: int, ops: int) -> Any:
        from protospec.impl.paxos.sim import random_schedule

        return random_schedule(seed, nodes=nodes, faults=faults, bug=bug,
                               duration_ms=duration_ms, ops=ops)

    def parse_schedule(self, text: str) -> Any:
        from protospec.impl.paxos.core import BUGS
        from protospec.impl.runtime.sim import Schedule

        schedule = Schedule.from_json(text)
        schedule.validate(schedule.nodes, BUGS)
        return schedule

    def run(self, schedule: Any) -> SimRun:
        from protospec.impl.paxos.sim import check_run, run_schedule

        r = run_schedule(schedule)
        return SimRun(r.events, check_run(r), {**r.facts, "unanswered": r.unanswered},
                      r.history, "kv")

    def load_logs(self, path: Path) -> LoadedLogs:
        return load_logs(path)

    def usage_hints(self, cluster: Sequence[str], data: Path) -> list[str]:
        addrs = ",".join(cluster)
        return [f"python -m protospec.impl.paxos.client --cluster {addrs} put k v",
                f"python -m protospec.impl.paxos.client --cluster {addrs} get k"]


CONFORMANCE = register(MultiPaxosConformance())
