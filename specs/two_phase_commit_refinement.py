"""The refinement mapping from the event logs of ``impl/two_phase_commit`` to the spec
``specs/two_phase_commit.py`` (TwoPhase.tla), and its registration for ``protospec conform``.

**Instances.** The spec is one transaction; the implementation runs many, each an independent
instance of the spec with every participant as an RM. The log is split by transaction: each
transaction's events, plus every ``restart`` event from the first that concerns it (a restart
reports the node's durable state of every transaction), are checked against a fresh spec.

**Events to steps.** Node 1 is the TM; node k >= 2 is the spec's RM k-2. Events are named after
the spec's actions and map to the action of the same name: ``tm_rcv_prepared`` (the RM is the
Prepared message's sender), ``tm_commit``, ``tm_abort``, ``rm_prepare``, ``rm_choose_to_abort``,
``rm_rcv_commit_msg``, ``rm_rcv_abort_msg``. ``restart`` is no step of the spec (which has no
crashes): the state it reports must be the spec's. The network is the spec's set ``msgs`` of
every message ever sent, so losses, copies and re-sends are no steps either.

**Constraints after each step.** The TM's ``tm_state`` (done once its decision is logged) must
be the spec's, and what it knows of the prepared RMs must be part of the spec's
``tm_prepared`` (a restarted TM has forgotten the votes it had not acted on: the spec's
variable only grows). An RM's state for the transaction must be the spec's ``rm_state``. Every
spec message the event sent (Prepared, Commit, Abort) must be in ``msgs`` after the step.

**Unlogged steps.** A node can crash after its step is on disk but before the step's events
are written (the simulator's ``crash_unlogged``: for the TM, between logging its decision and
sending it). Before a ``restart`` the check may therefore insert up to ``rms + 1`` unlogged steps
of that node (the TM receiving the last votes and deciding; an RM voting or learning the
outcome); elsewhere no hidden step is allowed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from protospec.explorer.conformance import LoadedLogs, SimRun, register
from protospec.explorer.refinement import Mapping, Mismatch, SpecStep, causal_merge
from protospec.impl.runtime.conformance import RuntimeConformance
from protospec.specs.two_phase_commit import (
    Decision,
    Prepared,
    RMState,
    State,
    TMState,
    TwoPhaseCommit,
)

__all__ = ["TwoPhaseCommitConformance", "TwoPhaseCommitMapping", "load_logs", "split"]

_STEP = SpecStep.of
_RM_STATES = {"working": RMState.WORKING, "prepared": RMState.PREPARED,
              "committed": RMState.COMMITTED, "aborted": RMState.ABORTED}
_TM_ACTIONS = ("tm_rcv_prepared", "tm_commit", "tm_abort")
_RM_ACTIONS = ("rm_prepare", "rm_choose_to_abort", "rm_rcv_commit_msg", "rm_rcv_abort_msg")
_DECISIONS = {"commit": Decision.COMMIT, "abort": Decision.ABORT}


class TwoPhaseCommitMapping(Mapping):
    """The events of one transaction (dicts, as logged) to steps of one spec instance."""

    max_states = 64

    def __init__(self, rms: int, txn: str, spec_cls: type[TwoPhaseCommit] = TwoPhaseCommit
                 ) -> None:
        self.spec = spec_cls(rms=rms)
        self.txn = txn
        self.max_hidden = rms + 1

    def explain(self, event: dict[str, Any], state: State) -> Iterable[Sequence[SpecStep]]:
        action = event["action"]
        if action == "restart":
            return ((),)
        if action == "tm_rcv_prepared":
            return ((_STEP(action, rm=event["recv"]["src"] - 2),),)
        if action in ("tm_commit", "tm_abort"):
            return ((_STEP(action),),)
        if action in _RM_ACTIONS:
            return ((_STEP(action, rm=event["n"] - 2),),)
        raise ValueError(f"event {action!r} has no spec counterpart")

    def mismatches(self, event: dict[str, Any], before: State, after: State) -> list[Mismatch]:
        n = event["n"]
        out: list[Mismatch] = []

        def expect(what: str, logged: Any, spec: Any) -> None:
            if logged != spec:
                out.append(Mismatch(what, logged, spec))

        restart = event["action"] == "restart"
        if n == 1:
            if restart:
                decision = event["state"]["decisions"].get(self.txn)
                expect("tm_state (TM, node 1)", TMState.DONE if decision else TMState.INIT,
                       after.tm_state)
            else:
                st = event["state"]
                expect("tm_state (TM, node 1)", TMState.DONE if st["tm"] == "done"
                       else TMState.INIT, after.tm_state)
                known = frozenset(k - 2 for k in st["prepared"])
                if not known <= after.tm_prepared:
                    out.append(Mismatch("tm_prepared (TM, node 1) includes what the TM knows",
                                        known, after.tm_prepared))
        else:
            rm = n - 2
            logged = (event["state"]["txns"].get(self.txn, "working") if restart
                      else event["state"]["rm"])
            expect(f"rm_state[{rm}] (node {n})", _RM_STATES[logged], after.rm_state[rm])
        for m in event.get("sent", ()):
            if m.get("txn") != self.txn:
                continue  # a restarted TM re-sends the decisions of every transaction
            spec_msg = _spec_message(m)
            if spec_msg is not None and spec_msg not in after.msgs:
                out.append(Mismatch(f"node {n} sent a message the spec has not sent", spec_msg,
                                    after.msgs))
        return out

    def hidden(self, event: dict[str, Any], state: State) -> Iterator[SpecStep]:
        """Before a restart only: the node's own steps (see "Unlogged steps")."""
        if event["action"] != "restart":
            return
        n = event["n"]
        if n == 1:
            for rm in self.spec.RM:
                if rm not in state.tm_prepared and Prepared(rm) in state.msgs:
                    yield _STEP("tm_rcv_prepared", rm=rm)
            yield _STEP("tm_commit")
            yield _STEP("tm_abort")
        else:
            for action in _RM_ACTIONS:
                yield _STEP(action, rm=n - 2)

    def describe(self, event: dict[str, Any]) -> str:
        return describe_event(event)

    def position(self, event: dict[str, Any]) -> str:
        where = [f"transaction {self.txn}", f"node {event['n']}"]
        if "i" in event:
            where.append(f"line {event['i'] + 1} of its log")
        if "t" in event:
            where.append(f"t={event['t']}")
        return ", ".join(where)


def _spec_message(m: dict[str, Any]) -> Any:
    """A logged message as the spec's message, or None if the spec does not model it."""
    kind = m["type"]
    if kind == "prepared":
        return Prepared(m["src"] - 2)
    return _DECISIONS.get(kind)


def describe_event(event: dict[str, Any]) -> str:
    """One line: who did what, the messages involved, and the state it logged."""
    who = "TM (node 1)" if event["n"] == 1 else f"RM {event['n'] - 2} (node {event['n']})"
    parts = [f"{who}: {event['action']}"]
    if "txn" in event:
        parts.append(f"transaction {event['txn']}")
    if "recv" in event:
        r = event["recv"]
        parts.append(f"received {r['type']} from node {r['src']}")
    sent = sorted({m["type"] for m in event.get("sent", ())})
    if sent:
        parts.append(f"sent {', '.join(sent)}")
    if "state" in event:
        parts.append(f"state {json.dumps(event['state'], separators=(',', ':'))}")
    return "; ".join(parts)


def split(events: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each transaction's events, with every restart from the first that concerns it on."""
    out: dict[str, list[dict[str, Any]]] = {}
    for ev in events:
        if ev["action"] == "restart":
            st = ev["state"]
            mentioned = st.get("decisions") or st.get("txns") or {}
            for txn in mentioned:
                out.setdefault(txn, [])
            for part in out.values():
                part.append(ev)
        else:
            out.setdefault(ev["txn"], []).append(ev)
    return out


def load_logs(path: str | Path) -> LoadedLogs:
    """The events of a real deployment's logs (``events.jsonl`` per process under ``path``),
    merged into one causal order; ``nodes`` is the number of participants."""
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
    top = max((ev["n"] for s in streams for ev in s), default=0)
    for s in streams:
        for ev in s:
            for m in ev.get("sent", ()):
                top = max(top, m["src"], m["dst"])
    merged = causal_merge(
        streams, sends=lambda ev: [m["id"] for m in ev.get("sent", ())],
        receives=lambda ev: [ev["recv"]["id"]] if "recv" in ev else [],
        order=lambda ev: ev.get("t", 0))
    return LoadedLogs(merged, notes, max(0, top - 1))


class TwoPhaseCommitConformance(RuntimeConformance):
    """``impl/two_phase_commit`` as :class:`explorer.conformance.Conformance` sees it."""

    package = "protospec.impl.two_phase_commit"
    name = "two_phase_commit"
    spec_cls = TwoPhaseCommit
    summary = "a coordinator and participants running transactions (impl/two_phase_commit)"

    def bugs(self) -> tuple[str, ...]:
        from protospec.impl.two_phase_commit.core import BUGS

        return BUGS

    def fault_families(self) -> tuple[str, ...]:
        from protospec.impl.runtime.sim import FAULT_FAMILIES

        return FAULT_FAMILIES

    def refinements(self, nodes: int, variant: str | None, events: Sequence[Any]
                    ) -> list[tuple[Mapping, Sequence[Any]]]:
        spec_cls = TwoPhaseCommit.with_variant(variant)
        return [(TwoPhaseCommitMapping(nodes, txn, spec_cls), part)
                for txn, part in split(events).items()]

    def random_schedule(self, seed: int, *, nodes: int, faults: Sequence[str], bug: str | None,
                        duration_ms: int, ops: int) -> Any:
        from protospec.impl.two_phase_commit.sim import random_schedule

        return random_schedule(seed, nodes=nodes, faults=faults, bug=bug,
                               duration_ms=duration_ms, ops=ops)

    def parse_schedule(self, text: str) -> Any:
        from protospec.impl.runtime.sim import Schedule
        from protospec.impl.two_phase_commit.core import BUGS

        schedule = Schedule.from_json(text)
        schedule.validate(schedule.nodes + 1, BUGS)
        return schedule

    def run(self, schedule: Any) -> SimRun:
        from protospec.impl.two_phase_commit.sim import check_run, run_schedule

        r = run_schedule(schedule)
        return SimRun(r.events, check_run(r), {**r.facts, "unanswered": r.unanswered})

    def describe_schedule(self, schedule: Any) -> str:
        return schedule.describe().replace(" nodes,", " participants + TM,", 1)

    def load_logs(self, path: Path) -> LoadedLogs:
        return load_logs(path)

    def cluster_size(self, nodes: int) -> int:
        return nodes + 1

    def usage_hints(self, cluster: Sequence[str], data: Path) -> list[str]:
        addrs = ",".join(cluster)
        return [f"python -m protospec.impl.two_phase_commit.client --cluster {addrs} "
                f"txn t1 k v",
                f"python -m protospec.impl.two_phase_commit.client --cluster {addrs} status t1"]


CONFORMANCE = register(TwoPhaseCommitConformance())
