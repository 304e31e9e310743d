"""A deterministic simulator for the Raft core: one seed, one virtual clock, scheduled faults.

After TigerBeetle's VOPR and FoundationDB's simulation: the whole cluster runs in one thread
on a virtual clock (integer milliseconds) and a heap of timed events; every random choice comes
from generators seeded from the :class:`Schedule`'s seed, so a run is a pure function of its
schedule and any failure replays exactly.

What the simulator does to the cluster:

* **network** — each message is delivered after a random delay (so messages are reordered),
  lost with probability ``drop``, delivered twice with probability ``duplicate``; a message
  between two sides of a partition is lost, and so is a message to a node that is down when it
  arrives. Every loss and copy is written to the event log (node 0), so the trace refinement
  knows what the network did;
* **partitions** — ``partition`` faults split the nodes into groups; ``heal`` joins them;
* **crashes** — ``crash`` stops a node between two steps, and its disk keeps only what it
  fsynced; ``restart`` brings it back from that disk. ``crash_torn`` crashes a node in the
  middle of its next disk write, leaving part of a record on disk (recovery must cut it off);
  ``crash_unlogged`` crashes it after its next fsync but before the step reaches the event log
  (the trace refinement must infer the unlogged step);
* **compaction** — with ``snapshot_every`` set (the ``compact`` family), every node compacts
  its log into a snapshot of its key-value map each time it has applied that many entries
  more, so a follower that was partitioned or down catches up by InstallSnapshot;
* **clients** — each client runs its operations one after another through
  :class:`SimClient`-like logic: it sends to the node it believes leads, follows hints, and
  retries (with the same sequence number) after a timeout.

A run's result holds the event log in the one global order the simulator executed it, the
commands each node applied, the operations the clients saw acknowledged, with their results,
and the client history: each operation's invocation and completion as JSON-line events in the
format of :mod:`explorer.history` (``put k v`` is ``write [k v]``, ``delete k`` is
``write [k null]``, ``get k`` is ``read [k null]`` completing with ``[k value]``; an operation
still unanswered at the end completes ``info``), in execution order, so
``protospec linearizable FILE --model kv`` checks what the clients saw (:func:`history_lines`).
Recording it draws no random numbers: a seed gives the same run with or without it.
:func:`check_run` checks what the implementation itself promises (every node applies
the same sequence; every acknowledged result is the one the log order gives);
``specs/raft_refinement.py`` checks the event log against the spec.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from .core import BUGS, Config, Entry, Message, RaftCore, Role, message_to_dict, snapshot_digest
from .kv import KVStore, encode_command
from .storage import MemoryBackend, Snapshot, Storage

__all__ = ["FAULT_KINDS", "Fault", "Op", "Schedule", "SimResult", "Simulation", "check_run",
           "history_lines", "run_schedule", "shrink"]

#: Fault families a random schedule may draw from (``--faults``).
FAULT_KINDS = ("drop", "duplicate", "reorder", "partition", "crash", "torn", "compact")

TICK_MS = 10  # one core tick
CLIENT_TIMEOUT_MS = 400  # a client retries an operation unanswered for this long
CLIENT_BACKOFF_MS = 20  # and waits this long after a "not leader" answer


@dataclass(frozen=True)
class Fault:
    """A scheduled fault: at ``at_ms``, ``kind`` (partition, heal, crash, crash_torn,
    crash_unlogged, restart) with ``arg``: the groups of a partition, or one node."""

    at_ms: int
    kind: str
    arg: Any = None


@dataclass(frozen=True)
class Op:
    """A client operation: at (or after) ``at_ms``, ``client`` runs put/get/delete on ``key``."""

    at_ms: int
    client: int
    op: str
    key: str
    value: str | None = None


@dataclass(frozen=True)
class Schedule:
    """Everything a run depends on. Equal schedules give identical runs."""

    seed: int = 0
    nodes: int = 3
    duration_ms: int = 3000
    drop: float = 0.0  # probability that a message is lost
    duplicate: float = 0.0  # probability that a message is delivered twice
    delay_ms: tuple[int, int] = (1, 5)  # each delivery's delay, drawn uniformly
    faults: tuple[Fault, ...] = ()
    ops: tuple[Op, ...] = ()
    bug: str | None = None  # one of core.BUGS: a deliberately broken implementation
    snapshot_every: int = 0  # compact after this many more entries applied (0: never)
    batch: int = 64  # the most entries in one AppendEntries (Config.max_batch_entries)

    def to_json(self) -> str:
        """A compact JSON form, for replay commands (``protospec conform raft --schedule``)."""
        d = {"seed": self.seed, "nodes": self.nodes, "duration_ms": self.duration_ms,
             "drop": self.drop, "duplicate": self.duplicate, "delay_ms": list(self.delay_ms),
             "faults": [[f.at_ms, f.kind, _jsonable(f.arg)] for f in self.faults],
             "ops": [[o.at_ms, o.client, o.op, o.key, o.value] for o in self.ops]}
        if self.bug:
            d["bug"] = self.bug
        if self.snapshot_every:
            d["snapshot_every"] = self.snapshot_every
        d["batch"] = self.batch
        return json.dumps(d, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Schedule:
        """Parse :meth:`to_json`'s output; raises ValueError saying what is wrong."""
        try:
            d = json.loads(text)
            faults = tuple(Fault(int(a), str(k), _tupled(x)) for a, k, x in d.get("faults", []))
            ops = tuple(Op(int(a), int(c), str(o), str(k), v) for a, c, o, k, v in
                        d.get("ops", []))
            sched = cls(seed=int(d.get("seed", 0)), nodes=int(d.get("nodes", 3)),
                        duration_ms=int(d.get("duration_ms", 3000)),
                        drop=float(d.get("drop", 0.0)), duplicate=float(d.get("duplicate", 0.0)),
                        delay_ms=tuple(int(x) for x in d.get("delay_ms", (1, 5))),
                        faults=faults, ops=ops, bug=d.get("bug"),
                        snapshot_every=int(d.get("snapshot_every", 0)),
                        batch=int(d.get("batch", 64)))
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a schedule: {exc}") from None
        sched.validate()
        return sched

    def validate(self) -> None:
        """Raise ValueError if the schedule cannot be run."""
        if not 1 <= self.nodes <= 9:
            raise ValueError(f"nodes must be 1..9, got {self.nodes}")
        if self.batch < 1:
            raise ValueError(f"batch must be >= 1, got {self.batch}")
        if self.snapshot_every < 0:
            raise ValueError(f"snapshot_every must be >= 0, got {self.snapshot_every}")
        if self.bug is not None and self.bug not in BUGS:
            raise ValueError(f"unknown bug {self.bug!r} (known: {', '.join(BUGS)})")
        lo, hi = self.delay_ms
        if not 0 <= lo <= hi:
            raise ValueError(f"delay_ms must be [low, high] with 0 <= low <= high, got "
                             f"{list(self.delay_ms)}")
        for f in self.faults:
            if f.kind not in ("partition", "heal", "crash", "crash_torn", "crash_unlogged",
                              "restart"):
                raise ValueError(f"unknown fault kind {f.kind!r}")
            if f.kind in ("crash", "crash_torn", "crash_unlogged", "restart") and \
                    not (isinstance(f.arg, int) and 1 <= f.arg <= self.nodes):
                raise ValueError(f"fault {f.kind} at {f.at_ms} ms names no node: {f.arg!r}")

    @classmethod
    def random(cls, seed: int, *, nodes: int = 3, duration_ms: int = 3000,
               faults: Iterable[str] = FAULT_KINDS, ops: int = 20,
               bug: str | None = None) -> Schedule:
        """A schedule drawn from ``seed``: the fault families named in ``faults``, at random
        times, and ``ops`` client operations from three clients on four keys."""
        kinds = set(faults)
        unknown = kinds - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault families {sorted(unknown)} (known: "
                             f"{', '.join(FAULT_KINDS)})")
        rng = random.Random(f"schedule:{seed}")
        out: list[Fault] = []
        if "partition" in kinds:
            t = rng.randrange(300, 900)
            while t < duration_ms - 200:
                ids = list(range(1, nodes + 1))
                rng.shuffle(ids)
                cut = rng.randrange(1, nodes) if nodes > 1 else 1
                out.append(Fault(t, "partition", (tuple(sorted(ids[:cut])),
                                                  tuple(sorted(ids[cut:])))))
                t += rng.randrange(200, 700)
                out.append(Fault(t, "heal"))
                t += rng.randrange(300, 900)
        if "crash" in kinds or "torn" in kinds:
            crash_kinds = [k for k, fam in (("crash", "crash"), ("crash_torn", "torn"),
                                            ("crash_unlogged", "torn")) if fam in kinds]
            t = rng.randrange(200, 800)
            while t < duration_ms - 300:
                node = rng.randrange(1, nodes + 1)
                out.append(Fault(t, rng.choice(crash_kinds), node))
                t += rng.randrange(100, 600)
                out.append(Fault(t, "restart", node))
                t += rng.randrange(200, 900)
        out.sort(key=lambda f: f.at_ms)
        op_list = []
        for _ in range(ops):
            kind = rng.choices(("put", "get", "delete"), weights=(6, 3, 1))[0]
            key = f"k{rng.randrange(4)}"
            value = f"v{rng.randrange(1000)}" if kind == "put" else None
            op_list.append(Op(rng.randrange(100, max(101, duration_ms - 500)),
                              rng.randrange(1, 4), kind, key, value))
        op_list.sort(key=lambda o: (o.at_ms, o.client))
        # Drawn last, so the faults and operations of a seed do not depend on the families.
        snapshot_every = rng.randrange(2, 6) if "compact" in kinds else 0
        # One entry at a time (raft.tla's way) in half the runs, batches in the others: a
        # leader's catch-up batch often carries its no-op too, which hides some mistakes
        # (committing an old term's entry needs a majority holding it without the no-op).
        batch = rng.choice((1, 1, 1, 4, 16, 64))
        return cls(seed=seed, nodes=nodes, duration_ms=duration_ms,
                   drop=0.05 if "drop" in kinds else 0.0,
                   duplicate=0.03 if "duplicate" in kinds else 0.0,
                   delay_ms=(1, 30) if "reorder" in kinds else (1, 5),
                   faults=tuple(out), ops=tuple(op_list), bug=bug,
                   snapshot_every=snapshot_every, batch=batch)


def _jsonable(x: Any) -> Any:
    return [_jsonable(v) for v in x] if isinstance(x, tuple) else x


def _tupled(x: Any) -> Any:
    return tuple(_tupled(v) for v in x) if isinstance(x, list) else x


class _Crash(Exception):
    """The simulated power failure in the middle of a disk write."""


class _TearingBackend(MemoryBackend):
    """A memory disk that can be told to fail its next sync halfway through."""

    def __init__(self) -> None:
        super().__init__()
        self.tear_next = False

    def sync(self) -> None:
        if self.tear_next and self.pending:
            self.tear_next = False
            self.crash(keep=max(1, len(self.pending) // 2))
            raise _Crash()
        super().sync()


@dataclass
class _Node:
    id: int
    disk: _TearingBackend
    core: RaftCore | None = None
    storage: Storage | None = None
    kv: KVStore | None = None
    up: bool = False
    boot: int = 0
    crash_unlogged: bool = False


@dataclass
class _Pending:
    op: Op
    seq: int
    command: str
    invoked_ms: int
    target: int  # the node the client is trying
    node: int | None = None  # where it was proposed ...
    index: int = 0  # ... and at which index
    deadline_ms: int = 0


@dataclass
class SimResult:
    """What one simulated run produced."""

    schedule: Schedule
    events: list[dict[str, Any]]  # the global event log, in execution order
    #: node -> per boot (and after each snapshot installed), the commands applied in order
    applied: dict[int, list[list[str]]]
    acked: list[dict[str, Any]]  # operations acknowledged to clients, with results
    unacked: int  # operations still unanswered at the end
    recoveries: list[dict[str, Any]] = field(default_factory=list)  # torn tails cut on restart
    steps: int = 0  # simulator events processed
    #: The client history: JSON-line events (invoke, ok, info) in execution order.
    history: list[dict[str, Any]] = field(default_factory=list)
    #: node -> for each list in ``applied``, the index of the entry before its first command
    #: (0, or the snapshot the node started from or installed)
    applied_from: dict[int, list[int]] = field(default_factory=dict)
    #: snapshots installed from a leader: node, index, digest of the data (check_run checks it)
    installs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def elections(self) -> int:
        return sum(1 for e in self.events if e["action"] == "become_leader")


class Simulation:
    """One run of a schedule; :meth:`run` returns a :class:`SimResult`."""

    def __init__(self, schedule: Schedule, *, config: Config | None = None) -> None:
        schedule.validate()
        self.s = schedule
        self.config = replace(config or Config(), max_batch_entries=schedule.batch)
        self.rng = random.Random(f"network:{schedule.seed}")
        self.now = 0
        self.queue: list[tuple[int, int, str, Any]] = []
        self.counter = 0
        self.events: list[dict[str, Any]] = []
        self.nodes = {i: _Node(i, _TearingBackend()) for i in range(1, schedule.nodes + 1)}
        self.groups: dict[int, int] = {}  # node -> partition group (absent: no partition)
        self.applied: dict[int, list[list[str]]] = {i: [] for i in self.nodes}
        self.applied_from: dict[int, list[int]] = {i: [] for i in self.nodes}
        self.installs: list[dict[str, Any]] = []
        self.acked: list[dict[str, Any]] = []
        self.recoveries: list[dict[str, Any]] = []
        self.clients: dict[int, list[Op]] = {}
        self.pending: dict[int, _Pending] = {}
        self.seqs: dict[int, int] = {}
        self.steps = 0
        self.history: list[dict[str, Any]] = []

    # -- the event loop ------------------------------------------------------------------------

    def _at(self, t: int, kind: str, payload: Any = None) -> None:
        self.counter += 1
        heapq.heappush(self.queue, (t, self.counter, kind, payload))

    def run(self) -> SimResult:
        for i in self.nodes:
            self._start(i)
        for f in self.s.faults:
            self._at(f.at_ms, "fault", f)
        for op in self.s.ops:
            self.clients.setdefault(op.client, []).append(op)
        for c, ops in self.clients.items():
            self._at(ops[0].at_ms, "client", c)
        while self.queue and self.queue[0][0] <= self.s.duration_ms:
            t, _, kind, payload = heapq.heappop(self.queue)
            self.now = t
            self.steps += 1
            getattr(self, f"_on_{kind}")(payload)
        unacked = len(self.pending) + sum(len(ops) for ops in self.clients.values())
        for c, p in sorted(self.pending.items()):
            self._record(c, p.op, "info")  # unanswered: may or may not have taken effect
        return SimResult(self.s, self.events, self.applied, self.acked, unacked,
                         self.recoveries, self.steps, self.history, self.applied_from,
                         self.installs)

    # -- nodes ---------------------------------------------------------------------------------

    def _start(self, i: int) -> None:
        node = self.nodes[i]
        storage = Storage(node.disk)
        rec = storage.recover()
        if rec.repaired_bytes:
            self.recoveries.append({"node": i, "t": self.now, "records": rec.records,
                                    "repaired_bytes": rec.repaired_bytes, "note": rec.note})
        node.storage = storage
        snap = rec.snapshot
        node.core = RaftCore(i, list(self.nodes), rng=random.Random(f"node:{self.s.seed}:{i}:"
                                                                    f"{node.boot}"),
                             current_term=rec.current_term, voted_for=rec.voted_for,
                             log=rec.log, boot=node.boot, config=self.config, bug=self.s.bug,
                             snapshot=(snap.index, snap.term, snap.data) if snap else None)
        node.kv = KVStore.restore(snap.data, snap.index) if snap else KVStore()
        node.up = True
        self.applied[i].append([])
        self.applied_from[i].append(snap.index if snap else 0)
        self._drain(node)
        # Nodes' clocks tick out of phase, as real ones do.
        self._at(self.now + 1 + self.rng.randrange(TICK_MS), "tick", (i, node.boot))

    def _crash(self, node: _Node) -> None:
        node.up = False
        node.disk.crash()
        node.core = None
        node.boot += 1
        node.crash_unlogged = False
        node.disk.tear_next = False
        for p in self.pending.values():
            if p.node == node.id:
                p.node = None  # the client will time out and retry elsewhere

    def _on_tick(self, payload: tuple[int, int]) -> None:
        i, boot = payload
        node = self.nodes[i]
        if not node.up or node.boot != boot:
            return  # the node crashed since: this timer died with it
        node.core.tick()
        self._drain(node)
        self._at(self.now + TICK_MS, "tick", (i, boot))

    def _drain(self, node: _Node) -> None:
        """Handle the node's Ready in the documented order: persist, log, send, apply."""
        core = node.core
        if not core.has_ready():
            return
        rd = core.ready()
        durable = (rd.hard_state is not None or rd.log_from is not None
                   or rd.snapshot is not None)
        try:
            if rd.snapshot is not None:
                snap = rd.snapshot
                # A rewrite is atomic (temporary file and rename): it tears nothing.
                node.storage.compact(Snapshot(snap.index, snap.term, snap.data), rd.hard_state,
                                     list(rd.entries))
            else:
                node.storage.save(rd.hard_state, rd.log_from, rd.entries)
        except _Crash:
            self._crash(node)  # torn write: the step never happened, as far as anyone knows
            return
        if node.crash_unlogged and durable:
            self._crash(node)  # on disk, but neither logged nor sent
            return
        self.events.extend({**ev, "t": self.now} for ev in rd.events)
        for m in rd.messages:
            self._send(m)
        if rd.snapshot is not None and rd.snapshot.installed:
            snap = rd.snapshot
            node.kv = KVStore.restore(snap.data, snap.index)
            self.applied[node.id].append([])
            self.applied_from[node.id].append(snap.index)
            self.installs.append({"node": node.id, "t": self.now, "index": snap.index,
                                  "digest": snapshot_digest(snap.data)})
        for index, entry in rd.committed:
            result = node.kv.apply(index, entry.command)
            self.applied[node.id][-1].append(entry.command)
            self._applied(node, index, entry, result)
        core.advance(rd)
        every = self.s.snapshot_every
        if (every and node.kv.applied - core.snapshot_index >= every
                and core.compact(node.kv.applied, node.kv.snapshot_data())):
            self._drain(node)

    # -- the network ---------------------------------------------------------------------------

    def _net_event(self, action: str, m: Message) -> None:
        if getattr(m, "quiet", False):
            return  # quiet heartbeats are outside the spec: the network's doings with them too
        self.events.append({"n": 0, "action": action, "msg": message_to_dict(m, with_data=False),
                            "t": self.now})

    def _send(self, m: Message) -> None:
        g = self.groups
        if g and g.get(m.src) != g.get(m.dst):
            self._net_event("drop_message", m)
            return
        if self.rng.random() < self.s.drop:
            self._net_event("drop_message", m)
            return
        lo, hi = self.s.delay_ms
        self._at(self.now + self.rng.randint(lo, hi), "deliver", m)
        if self.rng.random() < self.s.duplicate:
            self._net_event("duplicate_message", m)
            self._at(self.now + self.rng.randint(lo, hi), "deliver", m)

    def _on_deliver(self, m: Message) -> None:
        node = self.nodes[m.dst]
        if not node.up:
            self._net_event("drop_message", m)
            return
        node.core.step(m)
        self._drain(node)

    # -- faults --------------------------------------------------------------------------------

    def _on_fault(self, f: Fault) -> None:
        if f.kind == "partition":
            self.groups = {n: k for k, group in enumerate(f.arg) for n in group}
        elif f.kind == "heal":
            self.groups = {}
        elif f.kind == "restart":
            if not self.nodes[f.arg].up:
                self._start(f.arg)
        else:
            node = self.nodes[f.arg]
            if not node.up:
                return
            if f.kind == "crash":
                self._crash(node)
            elif f.kind == "crash_torn":
                node.disk.tear_next = True
            elif f.kind == "crash_unlogged":
                node.crash_unlogged = True

    # -- clients -------------------------------------------------------------------------------

    def _on_client(self, c: int) -> None:
        """Client c starts its next operation (if it has one and is idle)."""
        if c in self.pending or not self.clients.get(c):
            return
        op = self.clients[c].pop(0)
        seq = self.seqs.get(c, 0) + 1
        self.seqs[c] = seq
        command = encode_command(op.op, op.key, op.value, client=f"c{c}", seq=seq)
        self.pending[c] = _Pending(op, seq, command, self.now,
                                   target=self.rng.randrange(1, self.s.nodes + 1))
        self._record(c, op, "invoke")
        self._on_try(c)

    def _record(self, c: int, op: Op, kind: str, result: Any = None) -> None:
        """Append one event of client c's history (kv model: values are ``[key value]``)."""
        f = "read" if op.op == "get" else "write"
        if kind == "ok" and f == "read":
            value = [op.key, result]
        else:
            value = [op.key, op.value if op.op == "put" else None]
        self.history.append({"process": c, "type": kind, "f": f, "value": value,
                             "time": self.now})

    def _on_try(self, c: int) -> None:
        """Client c (re)sends its pending operation to the node it believes leads."""
        p = self.pending.get(c)
        if p is None or p.node is not None:
            return
        node = self.nodes[p.target]
        core = node.core if node.up else None
        if (self.s.bug == "stale_leader_reads" and p.op.op == "get" and core is not None
                and core.role is Role.LEADER):
            # The bug: a node that believes it leads answers from its own state machine,
            # with no log entry, read index or lease (it may have been deposed long ago).
            self._ack(c, p, node.kv.data.get(p.op.key), local=True)
            return
        index = core.propose(p.command) if core is not None else None
        if index is None:
            hint = core.leader_id if core is not None else None
            p.target = hint if hint and hint != p.target else (p.target % self.s.nodes) + 1
            self._at(self.now + CLIENT_BACKOFF_MS, "try", c)
            return
        p.node, p.index = p.target, index
        p.deadline_ms = self.now + CLIENT_TIMEOUT_MS
        self._at(p.deadline_ms, "timeout", (c, p.seq, p.deadline_ms))
        self._drain(node)

    def _on_timeout(self, payload: tuple[int, int, int]) -> None:
        c, seq, deadline = payload
        p = self.pending.get(c)
        if p is None or p.seq != seq or p.deadline_ms != deadline:
            return
        p.node = None
        p.target = (p.target % self.s.nodes) + 1
        self._on_try(c)

    def _applied(self, node: _Node, index: int, entry: Entry, result: Any) -> None:
        for c, p in list(self.pending.items()):
            if p.node == node.id and p.index == index:
                if entry.command != p.command:
                    p.node = None  # another leader's entry took the slot: try again
                    self._at(self.now + CLIENT_BACKOFF_MS, "try", c)
                    continue
                self._ack(c, p, result)

    def _ack(self, c: int, p: _Pending, result: Any, *, local: bool = False) -> None:
        """Answer client c's pending operation with ``result``; it goes on to its next one."""
        ack = {"client": c, "seq": p.seq, "op": p.op.op, "key": p.op.key, "value": p.op.value,
               "result": result, "invoked_ms": p.invoked_ms, "acked_ms": self.now}
        if local:
            ack["local"] = True  # served outside the log (the stale_leader_reads bug)
        self.acked.append(ack)
        self._record(c, p.op, "ok", result)
        del self.pending[c]
        if self.clients.get(c):
            self._at(max(self.now, self.clients[c][0].at_ms), "client", c)


def history_lines(result: SimResult, *, times: bool = False) -> list[str]:
    """The run's client history as JSON lines, for :func:`explorer.history.parse_history` or
    ``protospec linearizable FILE --model kv``.

    Without ``times`` the lines carry no ``time`` field: real-time order is the order the
    simulator executed the events in (exact, since it runs one event at a time). With
    ``times`` each line has its virtual time in ms, and events in the same millisecond count
    as concurrent (a coarser order, which can only accept more histories).
    """
    out = []
    for e in result.history:
        if not times:
            e = {k: v for k, v in e.items() if k != "time"}
        out.append(json.dumps(e, separators=(",", ":")))
    return out


def run_schedule(schedule: Schedule) -> SimResult:
    """Run one schedule to its end."""
    return Simulation(schedule).run()


def check_run(result: SimResult) -> list[str]:
    """What the implementation promises its clients, checked on one run; problems found.

    * every node, in every boot, applies a part of one and the same command sequence
      (State Machine Safety, as the implementation sees it), and every snapshot installed
      holds the state machine after that sequence's entries up to its index;
    * every acknowledged operation's result is the one that sequence gives it, replayed from
      the start through a fresh state machine (so reads are linearizable and no acknowledged
      write is lost).
    """
    problems = []
    # One command per index, from every node's applied runs (a run after a snapshot starts
    # past 1); every index up to the largest is covered, since a snapshot is only ever made
    # by a node that applied its entries one by one, or installed from one that did.
    by_index: dict[int, tuple[str, int, int]] = {}
    for node, per_node in result.applied.items():
        starts = result.applied_from.get(node) or [0] * len(per_node)
        for boot, (seq, base) in enumerate(zip(per_node, starts)):
            for index, command in enumerate(seq, start=base + 1):
                seen = by_index.setdefault(index, (command, node, boot))
                if seen[0] != command:
                    problems.append(f"node {node} (run {boot}) applied {command} at index "
                                    f"{index}, node {seen[1]} applied {seen[0]}")
    longest = []
    while len(longest) + 1 in by_index:
        longest.append(by_index[len(longest) + 1][0])
    if len(longest) < len(by_index):
        problems.append(f"no node applied entry {len(longest) + 1}, yet entries up to "
                        f"{max(by_index)} were applied")
    kv = KVStore()
    first: dict[tuple[str, int], Any] = {}
    installs: dict[int, set[str]] = {}
    for a in result.installs:
        installs.setdefault(a["index"], set()).add(a["digest"])
    installs.pop(0, None)
    for index, command in enumerate(longest, start=1):
        result_ = kv.apply(index, command)
        for digest in installs.pop(index, ()):
            if digest != snapshot_digest(kv.snapshot_data()):
                problems.append(f"a snapshot of index {index} was installed whose data is not "
                                f"the state machine after entries 1..{index}")
        try:
            cmd = json.loads(command)
            key = (cmd.get("client", ""), cmd.get("seq", 0))
        except (ValueError, AttributeError):
            continue  # not a client command (the state machine skipped it too)
        first.setdefault(key, result_)
    for a in result.acked:
        if a.get("local"):
            continue  # a read served outside the log: the linearizability check judges it
        key = (f"c{a['client']}", a["seq"])
        if key not in first:
            problems.append(f"acknowledged {a['op']} {a['key']} (client {a['client']}, seq "
                            f"{a['seq']}) is not in the applied log")
        elif first[key] != a["result"]:
            problems.append(f"acknowledged {a['op']} {a['key']} returned {a['result']!r}, but "
                            f"the log order gives {first[key]!r}")
    return problems


def shrink(schedule: Schedule, fails: Callable[[Schedule], int | None], *,
           max_attempts: int = 150) -> Schedule:
    """A smaller schedule that still fails: greedy, deterministic delta debugging.

    ``fails(schedule)`` runs a schedule and returns the simulated time (ms) of the failure, or
    None if the run passes. Every change after which the run still fails is kept: removing
    halves, then quarters... of the client operations and of the faults; turning off drops,
    duplicates and long delays; and after each, ending the run just after its failure.
    """
    first = fails(schedule)
    if first is None:
        return schedule
    best = schedule
    attempts = 0

    def cut(s: Schedule, at: int) -> Schedule:
        return replace(s, duration_ms=min(s.duration_ms, at + 1))

    best = cut(best, first)

    def attempt(candidate: Schedule) -> bool:
        nonlocal best, attempts
        if attempts >= max_attempts or candidate == best:
            return False
        attempts += 1
        at = fails(candidate)
        if at is None:
            return False
        best = cut(candidate, at)
        return True

    changed = True
    while changed and attempts < max_attempts:
        changed = False
        for name in ("faults", "ops"):
            chunk = max(1, len(getattr(best, name)) // 2)
            while chunk >= 1:
                k = 0
                while k < len(getattr(best, name)):
                    items = getattr(best, name)
                    if attempt(replace(best, **{name: items[:k] + items[k + chunk:]})):
                        changed = True
                    else:
                        k += chunk
                chunk //= 2
        for fieldname, value in (("drop", 0.0), ("duplicate", 0.0), ("delay_ms", (1, 5))):
            if getattr(best, fieldname) != value and attempt(replace(best, **{fieldname: value})):
                changed = True
    # Faults scheduled after the end of the run do nothing: drop them from the printout.
    return replace(best, faults=tuple(f for f in best.faults if f.at_ms <= best.duration_ms),
                   ops=tuple(o for o in best.ops if o.at_ms <= best.duration_ms))
