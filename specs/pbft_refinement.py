"""The refinement mapping from the event logs of ``impl/pbft`` to the spec ``specs/pbft.py``,
and its registration for ``protospec conform pbft``.

**Whose events.** Only the correct replicas'. The spec keeps Byzantine replicas abstract (every
message they could send counts as sent), so whatever a liar does is already covered; a
Byzantine replica's log names its strategy in its ``restart`` event, and those replicas are the
spec's ``faulty`` set. Replica k is the spec's replica k-1.

**Events to steps.** ``send_pre_prepare(v, n, m)``, ``send_prepare(i, v, n, m)`` and
``send_commit(i, v, n, m)`` map to the actions of the same name, preceded by
``client_request(m)`` the first time a request appears (clients log nothing). A request (its
client, timestamp and operation) maps to a small integer in order of first appearance; the
null request to the spec's ``NULL``. ``execute`` is no step, but the spec state must then say
the request is committed-local at that replica (that is what executing claims). Checkpoints,
state transfer, dropped forgeries and restarts are no steps.

**View changes, with checkpoints.** The spec has no checkpoints: its view-change carries every
certificate a replica ever prepared and its O starts at sequence number 1. The implementation
discards its log up to its stable checkpoint h, as the paper does. The mapping therefore checks
against :class:`CheckpointedPBFT`, the spec with three actions restated to take the
view-change's content from the log (Castro & Liskov, section 4.4, with 4.3's checkpoints):

* ``start_view_change(i, v, h, P)`` — h must be *stable in the spec's sense*: every sequence
  number up to h is committed-local at some correct replica; P may hold only certificates i has
  prepared (in the spec) above h, and must hold, for every sequence number above h at which i
  sent a commit, a certificate of that view or a later one (a later view's certificate may
  name another request: then the first was never committed-local, which ``agreement``
  checks). The spec's own P, every certificate the spec counts as prepared, can be larger: it
  counts a faulty backup's prepare as received before the real replica has it.
* ``send_new_view(v, V, min_s)`` and ``accept_new_view(i, v, V, min_s)`` — V names 2f+1
  view-changes: a correct sender's must have been sent; a faulty sender's may carry any
  certificates that exist. min-s is the largest h in V and stable; O is the spec's
  ``new_view_log`` of the certificates above min-s (so the bug variant
  ``new_primary_ignores_certificates`` still applies), and only entries above min-s are
  pre-prepared and prepared. The new primary's logged O must equal the spec's O above min-s.

**Unlogged steps.** A replica can crash after its step is on disk but before the step's
events are written (the simulator's ``crash_unlogged``). Its ``restart`` event lists the own
messages it recovered (pre-prepares, prepares, commits, its last view-change, the new-view of
its view) and its view; each must be in the spec state. If one is missing, the check may insert
the replica's own steps that send them (up to ``max_hidden``) before the restart, and nowhere
else.

Everything else is the spec's own code, and its invariants ``agreement`` and ``validity`` are
checked on every state the run reaches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from protospec import UsageError, action
from protospec.explorer.conformance import LoadedLogs, SimRun, register
from protospec.explorer.refinement import Mapping, Mismatch, SpecStep, causal_merge
from protospec.impl.runtime.conformance import RuntimeConformance
from protospec.specs.pbft import (
    NULL,
    PBFT,
    Commit,
    MsgType,
    NewView,
    Prepare,
    PrePrepare,
    State,
    ViewChange,
)

__all__ = ["CheckpointedPBFT", "PbftConformance", "PbftMapping", "load_logs"]

_STEP = SpecStep.of
_UNBOUNDED = 1 << 40
_NO_STEP = ("restart", "stable_checkpoint", "state_transfer", "drop_unauthenticated")

Cert = tuple[int, int, int]
VSet = frozenset[tuple[int, int, frozenset[Cert]]]  # (sender, h, P) of each view-change in V


class _AnyValue(frozenset):
    """A domain holding every value: the guard checks the argument instead."""

    def __contains__(self, item: object) -> bool:
        return True


_ANY = _AnyValue()


class CheckpointedPBFT:
    """Mixin over :class:`specs.pbft.PBFT` (or a bug variant): the view-change actions with the
    content the log shows, and stable checkpoints (see the module docstring)."""

    def committed_seqs(self, s: State) -> set[int]:
        return {n for _, _, n, _ in self.committed(s)}

    def stable(self, s: State, h: int) -> bool:
        """Every sequence number up to h is committed-local at some correct replica."""
        if h <= 0:
            return h == 0
        done = self.committed_seqs(s)
        return all(n in done for n in range(1, h + 1))

    def valid_v(self, s: State, v: int, V: VSet, min_s: int) -> bool:
        senders = [j for j, _, _ in V]
        if len(set(senders)) != len(senders) or len(senders) != self.quorum:
            return False
        if min_s != max(h for _, h, _ in V) or not self.stable(s, min_s):
            return False
        for j, _, P in V:
            if j in self.Faulty:
                if not all(w < v and self.certificate_exists(s, w, n, m) for w, n, m in P):
                    return False
            elif ViewChange(MsgType.VIEW_CHANGE, v, P, j) not in s.msgs:
                return False
        return True

    def o_log(self, V: VSet, min_s: int) -> tuple[int, ...]:
        return self.new_view_log([frozenset(c for c in P if c[1] > min_s) for _, _, P in V])

    @action(i="Correct", v="LaterView", h=_ANY, P=_ANY)
    def start_view_change(self, s: State, i: int, v: int, h: int, P: frozenset[Cert]
                          ) -> State | None:
        """Replica i moves to view v with stable checkpoint h and its certificates P above h."""
        if s.view[i] >= v or not self.stable(s, h):
            return None
        if any(n <= h or not self.prepared(s, i, w, n, m) for w, n, m in P):
            return None
        for c in s.msgs:
            if c.type is MsgType.COMMIT and c.sender == i and c.seq > h and not any(
                    w >= c.view and n == c.seq for w, n, _ in P):
                return None
        return s._replace(view=_except(s.view, i, v), active=_except(s.active, i, False),
                          msgs=s.msgs | {ViewChange(MsgType.VIEW_CHANGE, v, P, i)})

    @action(v="LaterView", V=_ANY, min_s=_ANY)
    def send_new_view(self, s: State, v: int, V: VSet, min_s: int) -> State | None:
        """The correct primary of v sends NEW-VIEW with O computed from V above min-s."""
        p = self.primary(v)
        if p in self.Faulty or s.view[p] != v or s.active[p] or not self.valid_v(s, v, V, min_s):
            return None
        log = self.o_log(V, min_s)
        sent = {NewView(MsgType.NEW_VIEW, v, log)}
        sent.update(PrePrepare(MsgType.PRE_PREPARE, v, n, m)
                    for n, m in enumerate(log, start=1) if n > min_s)
        return s._replace(active=_except(s.active, p, True), msgs=s.msgs | sent)

    @action(i="Correct", v="LaterView", V=_ANY, min_s=_ANY)
    def accept_new_view(self, s: State, i: int, v: int, V: VSet, min_s: int) -> State | None:
        """Backup i accepts a NEW-VIEW for v whose O follows from V, and prepares O above
        min-s (from a correct primary: only the new-view it sent)."""
        if i == self.primary(v) or s.view[i] > v or (s.view[i] == v and s.active[i]):
            return None
        if not self.valid_v(s, v, V, min_s):
            return None
        log = self.o_log(V, min_s)
        if self.primary(v) not in self.Faulty and NewView(MsgType.NEW_VIEW, v, log) not in s.msgs:
            return None
        sent = {Prepare(MsgType.PREPARE, v, n, m, i) for n, m in enumerate(log, start=1)
                if n > min_s}
        return s._replace(view=_except(s.view, i, v), active=_except(s.active, i, True),
                          msgs=s.msgs | sent)


def _except(t: tuple, i: int, value: Any) -> tuple:
    return t[:i] + (value,) + t[i + 1:]


class PbftMapping(Mapping):
    """Events of ``impl/pbft``'s correct replicas to steps of ``specs/pbft.py``."""

    max_states = 16
    max_hidden = 64  # one crash_unlogged may hide many steps (see ``hidden``)

    def __init__(self, nodes: int, faulty: Iterable[int], variant: str | None = None) -> None:
        base = PBFT.with_variant(variant)
        cls = type(f"Checkpointed{base.__name__}", (CheckpointedPBFT, base), {"name": base.name})
        f = (nodes - 1) // 3
        spec = cls(f=1, faulty=())
        # Sized for the run: past the parameters' model-checking bounds (as the Multi-Paxos
        # mapping does): f from the replica count, every integer a request, view, sequence.
        spec.f, spec.faulty = f, tuple(sorted(k - 1 for k in faulty))
        spec.requests = spec.views = spec.seqs = _UNBOUNDED
        spec.param_values.update(f=f, faulty=spec.faulty, requests=_UNBOUNDED,
                                 views=_UNBOUNDED, seqs=_UNBOUNDED)
        spec.setup()
        spec.constraint = None
        self.spec = spec
        self.values: dict[str, int] = {}

    def value(self, rid: str | None) -> int:
        if rid is None:
            return NULL
        v = self.values.get(rid)
        if v is None:
            v = self.values[rid] = len(self.values)
        return v

    def certs(self, triples: Iterable[Sequence[Any]]) -> frozenset[Cert]:
        return frozenset((w, n, self.value(r)) for w, n, r in triples)

    def vset(self, v_logged: Sequence[Sequence[Any]]) -> VSet:
        return frozenset((j - 1, h, self.certs(P)) for j, h, P in v_logged)

    def _issue(self, m: int, state: State) -> list[SpecStep]:
        return [] if m == NULL or m in state.issued else [_STEP("client_request", m=m)]

    def explain(self, event: dict[str, Any], state: State) -> Iterable[Sequence[SpecStep]]:
        action, i = event["action"], event["n"] - 1
        if action in _NO_STEP or action == "execute":
            return ((),)
        if action == "send_pre_prepare":
            m = self.value(event["req"])
            return ((*self._issue(m, state), _STEP(action, v=event["v"], n=event["seq"], m=m)),)
        if action in ("send_prepare", "send_commit"):
            m = self.value(event["req"])
            return ((*self._issue(m, state),
                     _STEP(action, i=i, v=event["v"], n=event["seq"], m=m)),)
        if action == "start_view_change":
            return ((_STEP(action, i=i, v=event["v"], h=event["h"],
                           P=self.certs(event["P"])),),)
        if action == "send_new_view":
            return ((_STEP(action, v=event["v"], V=self.vset(event["V"]),
                           min_s=event["min_s"]),),)
        if action == "accept_new_view":
            return ((_STEP(action, i=i, v=event["v"], V=self.vset(event["V"]),
                           min_s=event["min_s"]),),)
        raise ValueError(f"event {action!r} has no spec counterpart")

    def mismatches(self, event: dict[str, Any], before: State, after: State) -> list[Mismatch]:
        action, node = event["action"], event["n"]
        i = node - 1
        out: list[Mismatch] = []
        if action == "restart":
            out += self._restart_mismatches(event, after)
        elif action == "execute":
            m = self.value(event["req"])
            if not self.spec.committed_local(after, i, event["v"], event["seq"], m):
                out.append(Mismatch(f"committed-local(m{m}, v{event['v']}, n{event['seq']}) "
                                    f"at replica {i} (node {node} executed it)", True, False))
        elif action == "send_new_view":
            logged = [self.value(r) for _, r in event["O"]]
            spec_o = next((x.log for x in after.msgs - before.msgs
                           if x.type is MsgType.NEW_VIEW), ())
            expect = list(spec_o[event["min_s"]:])
            if logged != expect:
                out.append(Mismatch(f"O above min-s={event['min_s']} of the new-view for view "
                                    f"{event['v']} (node {node})", logged, expect))
        elif action in ("send_prepare", "send_commit"):
            kind = Prepare if action == "send_prepare" else Commit
            mtype = MsgType.PREPARE if action == "send_prepare" else MsgType.COMMIT
            msg = kind(mtype, event["v"], event["seq"], self.value(event["req"]), i)
            if msg not in after.msgs:
                out.append(Mismatch(f"node {node} sent a message the spec step does not send",
                                    msg, None))
        return out

    def recovered(self, event: dict[str, Any]) -> list[tuple[Any, SpecStep]]:
        """The spec messages of a restart event's recovered own steps, each with the spec step
        that sends it."""
        i = event["n"] - 1
        own = event.get("own") or {}
        out: list[tuple[Any, SpecStep]] = []
        for v, n, r in own.get("pre_prepare", ()):
            m = self.value(r)
            out.append((PrePrepare(MsgType.PRE_PREPARE, v, n, m),
                        _STEP("send_pre_prepare", v=v, n=n, m=m)))
        for kind, cls, mtype in (("prepare", Prepare, MsgType.PREPARE),
                                 ("commit", Commit, MsgType.COMMIT)):
            for v, n, r in own.get(kind, ()):
                m = self.value(r)
                out.append((cls(mtype, v, n, m, i), _STEP(f"send_{kind}", i=i, v=v, n=n, m=m)))
        if "view_change" in own:
            v, h, P = own["view_change"]
            certs = self.certs(P)
            out.append((ViewChange(MsgType.VIEW_CHANGE, v, certs, i),
                        _STEP("start_view_change", i=i, v=v, h=h, P=certs)))
        return out

    def _restart_mismatches(self, event: dict[str, Any], after: State) -> list[Mismatch]:
        i = event["n"] - 1
        out = [Mismatch(f"replica {i} recovered its own message", msg, None)
               for msg, _ in self.recovered(event) if msg not in after.msgs]
        if "active" in event and (after.view[i], after.active[i]) != (event["view"],
                                                                     event["active"]):
            out.append(Mismatch(f"(view, active) of replica {i} after its restart",
                                (event["view"], event["active"]),
                                (after.view[i], after.active[i])))
        return out

    def hidden(self, event: dict[str, Any], state: State) -> Iterator[SpecStep]:
        """Before a restart only: the next of the replica's own steps that its records show and
        the spec state lacks (a crash after the fsync, before the event was written).

        One step at a time, the first enabled one in the order the replica takes them (per
        view: its view-change, the new-view, then pre-prepares, prepares and commits by
        sequence number), so the inferred steps form a chain rather than every interleaving:
        one lost step may hold many (accepting a new-view replays the messages it buffered)."""
        if event["action"] != "restart":
            return
        i = event["n"] - 1
        # Sort key: (view, phase: 0 view-change, 1 new-view, 2 normal case; n; kind).
        kind = {"send_pre_prepare": 0, "send_prepare": 1, "send_commit": 2}
        candidates: list[tuple[tuple, SpecStep]] = []
        for msg, step in self.recovered(event):
            if msg not in state.msgs:
                a = dict(step.args)
                key = (a["v"], 0, 0, 0) if step.action == "start_view_change" else \
                    (a["v"], 2, a["n"], kind[step.action])
                candidates.append((key, step))
        nv = (event.get("own") or {}).get("new_view")
        if nv is not None and (state.view[i], state.active[i]) != (nv[0], True):
            v, min_s, V = nv
            step = _STEP("send_new_view", v=v, V=self.vset(V), min_s=min_s) \
                if self.spec.primary(v) == i else \
                _STEP("accept_new_view", i=i, v=v, V=self.vset(V), min_s=min_s)
            candidates.append(((v, 1, 0, 0), step))
        for _, step in sorted(candidates, key=lambda c: c[0]):
            args = dict(step.args)
            m = args.get("m")
            if m is not None and m != NULL and m not in state.issued:
                yield _STEP("client_request", m=m)
                return
            if self.spec.step(state, step.action, **args) is not None:  # enabled
                yield step
                return

    def describe(self, event: dict[str, Any]) -> str:
        parts = [f"node {event['n']}: {event['action']}"]
        for key in ("v", "seq", "h", "min_s", "req", "result", "P", "O"):
            if key in event:
                parts.append(f"{key}={event[key]}")
        return "; ".join(parts)

    def position(self, event: dict[str, Any]) -> str:
        where = [f"node {event['n']}"]
        if "i" in event:
            where.append(f"line {event['i'] + 1} of its log")
        if "t" in event:
            where.append(f"t={event['t']}")
        return ", ".join(where)


def faulty_nodes(events: Iterable[dict[str, Any]]) -> set[int]:
    """The replicas whose logs say they are Byzantine (their restart events name a strategy)."""
    return {ev["n"] for ev in events if ev["action"] == "restart" and ev.get("byzantine")}


def _receives(ev: dict[str, Any]) -> list[str]:
    return [mid for mid in ev.get("recv", ()) if mid]


def load_logs(path: str | Path) -> LoadedLogs:
    """The events of a real cluster's logs (``events.jsonl`` per replica under ``path``),
    merged into one causal order."""
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
    merged = causal_merge(streams, sends=lambda ev: ev.get("sent", ()), receives=_receives,
                          order=lambda ev: ev.get("t", 0))
    return LoadedLogs(merged, notes, top)


class PbftConformance(RuntimeConformance):
    """``impl/pbft`` as :class:`explorer.conformance.Conformance` sees it."""

    package = "protospec.impl.pbft"
    name = "pbft"
    spec_cls = PBFT
    summary = "a key-value store replicated with PBFT, with Byzantine replicas (impl/pbft)"

    def bugs(self) -> tuple[str, ...]:
        from protospec.impl.pbft.core import BUGS

        return BUGS

    def fault_families(self) -> tuple[str, ...]:
        from protospec.impl.runtime.sim import FAULT_FAMILIES

        return FAULT_FAMILIES

    def refinements(self, nodes: int, variant: str | None, events: Sequence[Any]
                    ) -> list[tuple[Mapping, Sequence[Any]]]:
        liars = faulty_nodes(events)
        correct = [ev for ev in events if ev["n"] not in liars]
        return [(PbftMapping(nodes, liars, variant), correct)]

    def random_schedule(self, seed: int, *, nodes: int, faults: Sequence[str], bug: str | None,
                        duration_ms: int, ops: int) -> Any:
        """``nodes`` is the replica count n = 3f+1 (4, 7, ...); conform's default of 3 runs
        the smallest PBFT cluster, 4 replicas."""
        from protospec.impl.pbft.sim import random_schedule

        nodes = 4 if nodes == 3 else nodes
        if nodes < 4 or (nodes - 1) % 3:
            raise UsageError(f"--nodes: PBFT runs n = 3f+1 replicas (4, 7, 10, ...), got "
                             f"{nodes}")
        return random_schedule(seed, nodes=nodes, faults=faults, bug=bug,
                               duration_ms=duration_ms, ops=ops)

    def parse_schedule(self, text: str) -> Any:
        from protospec.impl.pbft.sim import PbftSchedule

        schedule = PbftSchedule.from_json(text)
        schedule.validate_pbft()
        return schedule

    def run(self, schedule: Any) -> SimRun:
        from protospec.impl.pbft.sim import check_run, run_schedule

        r = run_schedule(schedule)
        return SimRun(r.events, check_run(r), {**r.facts, "unanswered": r.unanswered},
                      r.history, "kv")

    def load_logs(self, path: Path) -> LoadedLogs:
        return load_logs(path)

    def usage_hints(self, cluster: Sequence[str], data: Path) -> list[str]:
        addrs = ",".join(cluster)
        return [f"python -m protospec.impl.pbft.client --cluster {addrs} put k v",
                f"python -m protospec.impl.pbft.client --cluster {addrs} get k"]


CONFORMANCE = register(PbftConformance())
