"""A deterministic simulator for sans-IO cores (:mod:`impl.runtime.core`): one seed, one
virtual clock, scheduled faults, after TigerBeetle's VOPR and FoundationDB's simulation.

The whole cluster runs in one thread on a virtual clock (integer milliseconds) and a heap of
timed events; every random choice comes from generators seeded from the :class:`Schedule`'s
seed, so a run is a pure function of its schedule and a failure replays exactly.

What it does to the cluster:

* **network** — each message arrives after a random delay (so messages are reordered), is lost
  with probability ``drop``, delivered twice with probability ``duplicate``; a message across a
  partition is lost, and so is one to a node that is down when it arrives;
* **partitions** — ``partition`` splits the processes into groups, ``heal`` joins them;
* **crashes** — ``crash`` stops a process between two steps; its disk keeps what it fsynced.
  ``crash_unlogged`` crashes it at its next fsync that made something durable, *after* the
  fsync and before the step's events are logged or its messages sent (for a two-phase commit
  coordinator: between logging its decision and sending it). ``crash_torn`` crashes it in the
  middle of its next disk write, leaving part of a record (recovery cuts it off). ``restart``
  brings the process back from its disk (:mod:`impl.runtime.storage`).

Clients are a protocol's :class:`Workload`: it schedules its operations with :meth:`Sim.at`,
sends requests with :meth:`Sim.request` and gets the answers in ``on_reply``.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from .core import Core, Ready
from .storage import MemoryBackend, RecordLog

__all__ = ["CRASH_KINDS", "FAULT_FAMILIES", "Fault", "Schedule", "Sim", "Workload",
           "random_faults", "shrink"]

#: Fault families a random schedule may draw from (``--faults``): crash includes the crash
#: between an fsync and the sends it guards; torn is a crash in the middle of a disk write.
FAULT_FAMILIES = ("drop", "duplicate", "reorder", "partition", "crash", "torn")
CRASH_KINDS = ("crash", "crash_unlogged", "crash_torn")
TICK_MS = 10  # one core tick


@dataclass(frozen=True)
class Fault:
    """At ``at_ms``, ``kind`` (partition, heal, crash, crash_unlogged, crash_torn, restart) with
    ``arg``: the groups of a partition, or one process id."""

    at_ms: int
    kind: str
    arg: Any = None


@dataclass(frozen=True)
class Schedule:
    """Everything a run depends on; equal schedules give identical runs. ``ops`` are the
    workload's operations as JSON-ready tuples, ``(at_ms, client, ...)``."""

    seed: int = 0
    nodes: int = 3
    duration_ms: int = 3000
    drop: float = 0.0
    duplicate: float = 0.0
    delay_ms: tuple[int, int] = (1, 5)
    faults: tuple[Fault, ...] = ()
    ops: tuple[tuple[Any, ...], ...] = ()
    bug: str | None = None

    def to_json(self) -> str:
        """Compact JSON, for replay commands (``protospec conform TARGET --schedule``)."""
        d: dict[str, Any] = {"seed": self.seed, "nodes": self.nodes,
                             "duration_ms": self.duration_ms, "drop": self.drop,
                             "duplicate": self.duplicate, "delay_ms": list(self.delay_ms),
                             "faults": [[f.at_ms, f.kind, _jsonable(f.arg)] for f in self.faults],
                             "ops": [list(o) for o in self.ops]}
        if self.bug:
            d["bug"] = self.bug
        return json.dumps(d, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Schedule:
        """Parse :meth:`to_json`'s output; ValueError saying what is wrong."""
        try:
            d = json.loads(text)
            return cls(seed=int(d.get("seed", 0)), nodes=int(d.get("nodes", 3)),
                       duration_ms=int(d.get("duration_ms", 3000)),
                       drop=float(d.get("drop", 0.0)), duplicate=float(d.get("duplicate", 0.0)),
                       delay_ms=tuple(int(x) for x in d.get("delay_ms", (1, 5))),
                       faults=tuple(Fault(int(a), str(k), _tupled(x))
                                    for a, k, x in d.get("faults", [])),
                       ops=tuple(tuple(o) for o in d.get("ops", [])), bug=d.get("bug"))
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a schedule: {exc}") from None

    def validate(self, processes: int, bugs: Sequence[str]) -> None:
        """Raise ValueError if the schedule cannot be run on ``processes`` processes."""
        if self.bug is not None and self.bug not in bugs:
            raise ValueError(f"unknown bug {self.bug!r} (known: {', '.join(bugs)})")
        lo, hi = self.delay_ms
        if not 0 <= lo <= hi:
            raise ValueError(f"delay_ms must be [low, high] with 0 <= low <= high, got "
                             f"{list(self.delay_ms)}")
        for f in self.faults:
            if f.kind not in ("partition", "heal", "restart", *CRASH_KINDS):
                raise ValueError(f"unknown fault kind {f.kind!r}")
            if f.kind in ("restart", *CRASH_KINDS) and \
                    not (isinstance(f.arg, int) and 1 <= f.arg <= processes):
                raise ValueError(f"fault {f.kind} at {f.at_ms} ms names no process: {f.arg!r}")

    def describe(self) -> str:
        """One line: size, faults and network."""
        kinds: dict[str, int] = {}
        for f in self.faults:
            kinds[f.kind] = kinds.get(f.kind, 0) + 1
        net = [f"drop {self.drop:g}"] if self.drop else []
        if self.duplicate:
            net.append(f"duplicate {self.duplicate:g}")
        net.append(f"delay {self.delay_ms[0]}-{self.delay_ms[1]} ms")
        faults = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no faults"
        return (f"{self.nodes} nodes, {self.duration_ms} ms, {len(self.ops)} client ops, "
                f"{faults}; network: {', '.join(net)}")


def random_faults(rng: random.Random, families: Iterable[str], processes: int,
                  duration_ms: int) -> tuple[tuple[Fault, ...], dict[str, Any]]:
    """Faults drawn from ``families`` for a run, and the network settings they imply."""
    kinds = set(families)
    unknown = kinds - set(FAULT_FAMILIES)
    if unknown:
        raise ValueError(f"unknown fault families {sorted(unknown)} (known: "
                         f"{', '.join(FAULT_FAMILIES)})")
    out: list[Fault] = []
    if "partition" in kinds and processes > 1:
        t = rng.randrange(300, 900)
        while t < duration_ms - 400:
            ids = list(range(1, processes + 1))
            rng.shuffle(ids)
            cut = rng.randrange(1, processes)
            out.append(Fault(t, "partition", (tuple(sorted(ids[:cut])), tuple(sorted(ids[cut:])))))
            t += rng.randrange(200, 600)
            out.append(Fault(t, "heal"))
            t += rng.randrange(300, 900)
    crash_kinds = [k for k, fam in (("crash", "crash"), ("crash_unlogged", "crash"),
                                    ("crash_torn", "torn")) if fam in kinds]
    if crash_kinds:
        t = rng.randrange(100, 600)
        while t < duration_ms - 400:
            node = rng.randrange(1, processes + 1)
            out.append(Fault(t, rng.choice(crash_kinds), node))
            t += rng.randrange(50, 400)
            out.append(Fault(t, "restart", node))
            t += rng.randrange(100, 600)
    out.sort(key=lambda f: f.at_ms)
    net = {"drop": 0.05 if "drop" in kinds else 0.0,
           "duplicate": 0.05 if "duplicate" in kinds else 0.0,
           "delay_ms": (1, 30) if "reorder" in kinds else (1, 5)}
    return tuple(out), net


def _jsonable(x: Any) -> Any:
    return [_jsonable(v) for v in x] if isinstance(x, tuple) else x


def _tupled(x: Any) -> Any:
    return tuple(_tupled(v) for v in x) if isinstance(x, list) else x


class Workload(Protocol):
    """The clients of a run: they start in ``start`` and hear answers in ``on_reply``."""

    def start(self, sim: Sim) -> None: ...
    def on_reply(self, handle: Any, reply: dict[str, Any]) -> None: ...


class _Crash(Exception):
    """The simulated power failure in the middle of a disk write."""


class _Disk(MemoryBackend):
    """A memory disk that can be told to tear its next sync halfway through."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.tear_next = False

    def sync(self) -> None:
        if self.tear_next and self.pending:
            self.tear_next = False
            self.crash(keep=max(1, len(self.pending) // 2))
            raise _Crash()
        super().sync()


@dataclass
class _Process:
    id: int
    disk: _Disk
    core: Core | None = None
    log: RecordLog | None = None
    boot: int = 0
    crash_unlogged: bool = False

    @property
    def up(self) -> bool:
        return self.core is not None


@dataclass
class SimStats:
    steps: int = 0
    crashes: int = 0
    torn_repaired: int = 0
    messages: int = 0
    dropped: int = 0
    notes: list[str] = field(default_factory=list)


class Sim:
    """One run: ``processes`` cores built by ``factory``, driven through ``schedule``.

    ``factory(node_id, processes, records, boot, rng, bug)`` builds a core from its durable
    records. :meth:`run` returns the event log, in the one order it was executed.
    """

    def __init__(self, schedule: Schedule, processes: int,
                 factory: Callable[..., Core], workload: Workload) -> None:
        self.s = schedule
        self.n = processes
        self.factory = factory
        self.workload = workload
        self.rng = random.Random(f"network:{schedule.seed}")
        self.now = 0
        self.queue: list[tuple[int, int, Callable[..., None], tuple]] = []
        self.counter = 0
        self.events: list[dict[str, Any]] = []
        self.procs = {i: _Process(i, _Disk(f"node{i}/state.log")) for i in range(1, processes + 1)}
        self.groups: dict[int, int] = {}
        self.stats = SimStats()

    # -- the event loop --------------------------------------------------------------------

    def at(self, t: int, fn: Callable[..., None], *args: Any) -> None:
        """Call ``fn(*args)`` at virtual time ``t`` (ms)."""
        self.counter += 1
        heapq.heappush(self.queue, (t, self.counter, fn, args))

    def run(self) -> list[dict[str, Any]]:
        for i in self.procs:
            self._start(i)
        for f in self.s.faults:
            self.at(f.at_ms, self._fault, f)
        self.workload.start(self)
        while self.queue and self.queue[0][0] <= self.s.duration_ms:
            t, _, fn, args = heapq.heappop(self.queue)
            self.now = t
            self.stats.steps += 1
            fn(*args)
        return self.events

    def core(self, i: int) -> Core | None:
        """Process ``i``'s core, or None while it is down."""
        return self.procs[i].core

    def disk_records(self, i: int) -> list[bytes]:
        """What process ``i`` would recover from its disk now (for end-of-run checks)."""
        disk = _Disk("check")
        disk.durable = bytearray(self.procs[i].disk.durable)
        return RecordLog(disk).recover().records

    # -- processes -------------------------------------------------------------------------

    def _start(self, i: int) -> None:
        p = self.procs[i]
        p.log = RecordLog(p.disk)
        rec = p.log.recover()
        if rec.repaired_bytes:
            self.stats.torn_repaired += 1
        rng = random.Random(f"node:{self.s.seed}:{i}:{p.boot}")
        p.core = self.factory(i, self.n, rec.records, p.boot, rng, self.s.bug)
        self._drain(p)
        self.at(self.now + 1 + self.rng.randrange(TICK_MS), self._tick, i, p.boot)

    def _crash(self, p: _Process) -> None:
        p.core = None
        p.disk.crash()
        p.disk.tear_next = False
        p.crash_unlogged = False
        p.boot += 1
        self.stats.crashes += 1

    def _tick(self, i: int, boot: int) -> None:
        p = self.procs[i]
        if p.core is None or p.boot != boot:
            return  # the timer died with the process
        p.core.tick()
        self._drain(p)
        self.at(self.now + TICK_MS, self._tick, i, boot)

    def _drain(self, p: _Process) -> None:
        """Handle the core's Ready in the contract's order: fsync, log, send, reply."""
        rd: Ready = p.core.ready()
        if rd.empty():
            return
        if rd.records:
            for r in rd.records:
                p.log.append(r)
            try:
                p.log.sync()
            except _Crash:
                self._crash(p)  # torn: the step never happened, as far as anyone knows
                return
            if p.crash_unlogged:
                self._crash(p)  # durable, but neither logged nor sent
                return
        for ev in rd.events:
            ev["t"] = self.now
            self.events.append(ev)
        for m in rd.messages:
            self._send(m)
        for handle, reply in rd.replies:
            self.workload.on_reply(handle, reply)

    def request(self, i: int, handle: Any, req: dict[str, Any]) -> bool:
        """A client's request reaches process ``i`` now; False if it is down."""
        p = self.procs[i]
        if p.core is None:
            return False
        p.core.request(handle, req)
        self._drain(p)
        return True

    # -- the network -----------------------------------------------------------------------

    def _send(self, m: dict[str, Any]) -> None:
        self.stats.messages += 1
        g = self.groups
        if (g and g.get(m["src"]) != g.get(m["dst"])) or self.rng.random() < self.s.drop:
            self.stats.dropped += 1
            return
        lo, hi = self.s.delay_ms
        self.at(self.now + self.rng.randint(lo, hi), self._deliver, m)
        if self.rng.random() < self.s.duplicate:
            self.at(self.now + self.rng.randint(lo, hi), self._deliver, m)

    def _deliver(self, m: dict[str, Any]) -> None:
        p = self.procs[m["dst"]]
        if p.core is None:
            self.stats.dropped += 1
            return
        p.core.step(m)
        self._drain(p)

    # -- faults ----------------------------------------------------------------------------

    def _fault(self, f: Fault) -> None:
        if f.kind == "partition":
            self.groups = {n: k for k, group in enumerate(f.arg) for n in group}
        elif f.kind == "heal":
            self.groups = {}
        elif f.kind == "restart":
            if self.procs[f.arg].core is None:
                self._start(f.arg)
        else:
            p = self.procs[f.arg]
            if p.core is None:
                return
            if f.kind == "crash":
                self._crash(p)
            elif f.kind == "crash_torn":
                p.disk.tear_next = True
            elif f.kind == "crash_unlogged":
                p.crash_unlogged = True


def shrink(schedule: Schedule, fails: Callable[[Schedule], int | None], *,
           max_attempts: int = 120) -> Schedule:
    """A smaller schedule that still fails: greedy, deterministic delta debugging.

    ``fails(schedule)`` returns the virtual time of the failure, or None if the run passes.
    Every change after which the run still fails is kept: removing halves, then quarters, ...
    of the faults and of the operations; turning off drops, duplicates and long delays; and
    after each, ending the run just after its failure.
    """
    first = fails(schedule)
    if first is None:
        return schedule
    attempts = 0

    def cut(s: Schedule, at: int) -> Schedule:
        return replace(s, duration_ms=min(s.duration_ms, at + 1))

    best = cut(schedule, first)

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
    return replace(best, faults=tuple(f for f in best.faults if f.at_ms <= best.duration_ms),
                   ops=tuple(o for o in best.ops if o[0] <= best.duration_ms))
