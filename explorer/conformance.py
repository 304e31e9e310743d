"""The conformance interface: what an implementation declares so that ``protospec conform`` and
``protospec cluster`` can test it against its spec without knowing the protocol.

An implementation of a spec supplies one object satisfying :class:`Conformance` (usually
written beside the spec as ``specs/<name>_refinement.py``, with the refinement
:class:`~explorer.refinement.Mapping`) and registers it with :func:`register`. The built-in ones
are listed, by module, in ``IMPLEMENTATIONS`` of the ``protospec.specs`` package: this module
imports exactly those modules, on first use, and each registers its object when imported. Nothing
is found by file name; a user's own implementation registers the same way (import its module,
which calls :func:`register`).

The contract, in the order a ``conform`` run uses it:

1. :meth:`Conformance.random_schedule` draws a schedule from a seed (or
   :meth:`Conformance.parse_schedule` reads one back from a replay command). A schedule is any
   immutable value with ``seed`` and a ``to_json()`` that ``parse_schedule`` inverts; the
   conformance object answers questions about it (:meth:`Conformance.nodes_of`,
   :meth:`Conformance.end_time`, :meth:`Conformance.describe_schedule`).
2. :meth:`Conformance.run` runs it in the implementation's deterministic simulator and returns a
   :class:`SimRun`: the event log in one global order, the problems the implementation's own
   checks found, counts worth reporting and, optionally, the clients' history (checked for
   linearizability by the caller with :mod:`explorer.history`).
3. :meth:`Conformance.refinements` splits the events into the independent instances of the
   spec they hold (one for a replicated log; one per transaction for two-phase commit), each
   with the refinement mapping to walk it with; :func:`check_events` runs
   :func:`explorer.refinement.refine` on each and merges the results.
4. On a failure, :meth:`Conformance.shrink` makes the schedule smaller while it still fails.

For a real deployment, :meth:`Conformance.load_logs` reads the per-process event logs under a
folder into one causal order, and :meth:`Conformance.node_argv` says how to start one process
(``protospec cluster`` starts :meth:`Conformance.cluster_size` of them).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .errors import SpecError, UsageError
from .refinement import Mapping, RefinementResult, refine

__all__ = ["Conformance", "LoadedLogs", "SimRun", "check_events", "history_problems", "lookup",
           "register", "registered"]

#: Seconds the linearizability check of one run's client history may take before it is
#: reported as undecided (no problem reported: the verdict is unknown, not "invalid").
HISTORY_TIMEOUT_S = 20.0

#: The package whose ``IMPLEMENTATIONS`` tuple names the modules of the built-in implementations.
BUILTIN_PACKAGE = "protospec.specs"


@dataclass
class SimRun:
    """What one simulated run produced, as :meth:`Conformance.run` returns it."""

    events: list[Any]  # the event log, in the one order the simulator executed it
    problems: list[str] = field(default_factory=list)  # failures of the impl's own checks
    facts: dict[str, int] = field(default_factory=dict)  # counts summed over runs and reported
    #: The clients' history as JSON-line dicts for :func:`explorer.history.parse_history`
    #: (invoke/ok/fail/info events in real-time order), or None if the run has no clients.
    history: list[dict[str, Any]] | None = None
    history_model: str = "kv"  # the :func:`explorer.history.get_model` name to check it with


@dataclass
class LoadedLogs:
    """The event logs of a real deployment, merged, as :meth:`Conformance.load_logs` returns."""

    events: list[Any]  # every process's events in one causal order
    notes: list[str]  # things worth saying (e.g. "skipped a torn last line in ...")
    nodes: int  # the ``nodes`` to build the mapping with (0: no events at all)


@runtime_checkable
class Conformance(Protocol):
    """An implementation of a spec, as ``protospec conform`` and ``protospec cluster`` use it.

    ``nodes`` means what ``--nodes`` means for this protocol (e.g. servers for Raft, resource
    managers for two-phase commit), and is the value :meth:`mapping` is built with.
    """

    name: str  # the target name on the command line (usually the spec's name)
    spec_cls: type  # the Spec subclass the mapping refines to
    summary: str  # one line for listings: what the implementation is

    def bugs(self) -> tuple[str, ...]:
        """The names of the deliberate bugs the implementation can be built with."""
        ...

    def fault_families(self) -> tuple[str, ...]:
        """The fault families ``random_schedule`` understands (``--faults`` chooses among them)."""
        ...

    def refinements(self, nodes: int, variant: str | None, events: Sequence[Any]
                    ) -> list[tuple[Mapping, Sequence[Any]]]:
        """The independent instances of the spec that ``events`` hold, in a fixed order: each
        a fresh refinement mapping onto the spec (or its bug variant ``variant``) and the
        events, in their order, that it must explain. Every event belongs to at least one."""
        ...

    def random_schedule(self, seed: int, *, nodes: int, faults: Sequence[str],
                        bug: str | None, duration_ms: int, ops: int) -> Any:
        """The schedule of run ``seed``: a pure function of the arguments."""
        ...

    def parse_schedule(self, text: str) -> Any:
        """The schedule whose ``to_json()`` is ``text``; ValueError saying what is wrong."""
        ...

    def run(self, schedule: Any) -> SimRun:
        """Simulate ``schedule`` deterministically (equal schedules give equal runs)."""
        ...

    def shrink(self, schedule: Any, fails: Callable[[Any], int | None]) -> Any:
        """A smaller schedule on which ``fails`` (schedule -> the failure's time, or None if
        the run passes) still fails; ``schedule`` itself if nothing smaller does."""
        ...

    def nodes_of(self, schedule: Any) -> int:
        """The ``nodes`` of a schedule (to build its mapping)."""
        ...

    def end_time(self, schedule: Any) -> int:
        """When the schedule's run ends (the failure time of a failure with no event)."""
        ...

    def event_time(self, event: Any) -> int | None:
        """When an event happened in a simulated run, or None if it does not say."""
        ...

    def describe_schedule(self, schedule: Any) -> str:
        """One line: the schedule's size, faults and network (for reports)."""
        ...

    def load_logs(self, path: Path) -> LoadedLogs:
        """The event logs under ``path`` (a folder or one file) in one causal order;
        ValueError for logs that cannot be read."""
        ...

    def cluster_size(self, nodes: int) -> int:
        """How many processes a real cluster with ``nodes`` nodes runs (ids 1..that)."""
        ...

    def node_argv(self, node_id: int, cluster: Sequence[str], data: Path, *,
                  bug: str | None = None) -> list[str]:
        """The command starting process ``node_id`` (1-based position in ``cluster``, the
        ``host:port`` of every process) with its data and event log under ``data``. Run it with
        the repository importable (``cwd`` the repository root, or ``PYTHONPATH``)."""
        ...

    def usage_hints(self, cluster: Sequence[str], data: Path) -> list[str]:
        """Commands a person can try against a running cluster (client calls)."""
        ...


_REGISTRY: dict[str, Conformance] = {}
_loaded = False

_METHODS = ("bugs", "fault_families", "refinements", "random_schedule", "parse_schedule", "run",
            "shrink", "nodes_of", "end_time", "event_time", "describe_schedule", "load_logs",
            "cluster_size", "node_argv", "usage_hints")


def register(target: Conformance) -> Conformance:
    """Make ``target`` known under ``target.name``; returns it (so a module can write
    ``CONFORMANCE = register(MyConformance())``). Raises SpecError if it lacks part of the
    interface or its name is taken by a different object."""
    missing = [m for m in ("name", "spec_cls", "summary", *_METHODS) if not hasattr(target, m)]
    if missing:
        raise SpecError(f"conformance object {target!r} lacks {', '.join(missing)} (see "
                        f"explorer/conformance.py for the interface)")
    old = _REGISTRY.get(target.name)
    if old is not None and type(old) is not type(target):
        raise SpecError(f"two implementations registered under the name {target.name!r}: "
                        f"{type(old).__qualname__} and {type(target).__qualname__}")
    _REGISTRY[target.name] = target
    return target


def _load_builtin() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    try:
        pkg = importlib.import_module(BUILTIN_PACKAGE)
    except ImportError:
        return
    for module_name in getattr(pkg, "IMPLEMENTATIONS", ()):
        full = f"{BUILTIN_PACKAGE}.{module_name}"
        try:
            importlib.import_module(full)
        except Exception as exc:
            raise SpecError(f"{full}: importing it failed with {type(exc).__name__}: {exc}",
                            cause=exc) from exc


def registered() -> list[Conformance]:
    """Every registered implementation (the built-in ones loaded first), sorted by name."""
    _load_builtin()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def lookup(name: str) -> Conformance:
    """The implementation registered as ``name``, or a UsageError listing the known ones."""
    _load_builtin()
    target = _REGISTRY.get(name)
    if target is None:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise UsageError(f"no implementation registered for {name!r} (known: {known}); see "
                         f"docs/conformance.md for how an implementation registers")
    return target


def check_events(target: Conformance, nodes: int, variant: str | None, events: Sequence[Any], *,
                 keep_trace: bool = True) -> RefinementResult:
    """Refine every instance of the spec in ``events`` (see :meth:`Conformance.refinements`).

    Returns the first failing instance's result, or one result summing all of them (events,
    spec and hidden steps, time; the largest set of consistent states). ``events`` of a failing
    result counts the events validated in earlier instances too.
    """
    total: RefinementResult | None = None
    for mapping, part in target.refinements(nodes, variant, events):
        r = refine(mapping, part, keep_trace=keep_trace)
        if total is None:
            total = r
            if not r.ok:
                return r
            continue
        if not r.ok:
            r.events += total.events
            r.elapsed_s += total.elapsed_s
            return r
        total.events += r.events
        total.total_events += r.total_events
        total.spec_steps += r.spec_steps
        total.hidden_steps += r.hidden_steps
        total.max_states = max(total.max_states, r.max_states)
        total.elapsed_s += r.elapsed_s
        total.final_states = r.final_states
    if total is None:  # no instance at all: nothing to check, nothing violated
        spec = target.spec_cls
        return RefinementResult(spec.name, {}, 0, 0, 0, 0, 0, 0.0,
                                [p.name for p in spec().invariants()])
    return total


def history_problems(sim: SimRun) -> list[str]:
    """The run's client history checked for linearizability: [] if it is (or the run has no
    history), else one line saying so. A check that runs out of time counts as no problem
    (the verdict is unknown, not "invalid")."""
    if not sim.history:
        return []
    from .history import Verdict, check_linearizable, get_model, parse_history

    lines = [json.dumps(e, separators=(",", ":")) for e in sim.history]
    result = check_linearizable(parse_history(lines, source="the simulated clients' history"),
                                get_model(sim.history_model), timeout=HISTORY_TIMEOUT_S)
    if result.verdict is not Verdict.INVALID:
        return []
    stuck = result.furthest.stuck if result.furthest is not None else None
    where = f" (key {result.part})" if result.part is not None else ""
    what = f"; no order of the operations explains {stuck}" if stuck is not None else ""
    return [f"the clients' history is not linearizable ({sim.history_model} model){where}"
            f"{what}"]
