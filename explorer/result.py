"""What a search produces: traces, violations, coverage and statistics.

Everything downstream of the engine (text and graph renderers, ITF files, the CLI's ``--json``)
reads these objects and never the spec, so a saved trace can be shown without its spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .values import changed_vars, format_value, state_vars

__all__ = ["ActionCoverage", "CheckResult", "Stats", "Step", "Trace", "Violation"]


@dataclass(frozen=True)
class Step:
    """One step of a behaviour: the action taken (None for an initial state) and the state after.

    ``args`` maps argument names to values, as the spec's action declared them.
    """

    action: str | None
    args: dict[str, Any]
    state: Any

    @property
    def label(self) -> str:
        if self.action is None:
            return "Initial state"
        inner = ", ".join(f"{k}={format_value(v)}" for k, v in self.args.items())
        return f"{self.action}({inner})"


@dataclass
class Trace:
    """A behaviour: an initial state followed by steps. ``steps[0].action`` is None.

    A liveness counterexample is a *lasso*: ``loop`` is the number of the state where its
    cycle starts. The behaviour repeats steps ``loop+1 .. len`` forever: the last step returns
    to state ``loop`` (its state equals ``steps[loop].state``), unless ``loop`` is the last
    state, which then stays unchanged forever (a deadlock, or a step that changes nothing).
    ``loop`` is None for a finite trace.
    """

    steps: list[Step]
    spec: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    variant: str | None = None
    # Optional hints for message sequence charts, computed from the spec by
    # explorer.chart_hints (which process takes each step, which messages it received...).
    chart: dict[str, Any] | None = None
    loop: int | None = None

    @property
    def stutters(self) -> bool:
        """A lasso whose last state repeats itself forever (no cycle of steps)."""
        return self.loop is not None and self.loop == len(self.steps) - 1

    def __len__(self) -> int:
        """The number of transitions (an initial state alone has length 0)."""
        return max(0, len(self.steps) - 1)

    @property
    def states(self) -> list[Any]:
        return [st.state for st in self.steps]

    def changes(self) -> list[dict[str, Any]]:
        """Per step, the variables that changed (all variables for the initial state)."""
        out: list[dict[str, Any]] = []
        prev = None
        for st in self.steps:
            out.append(changed_vars(prev, st.state))
            prev = st.state
        return out

    def var_names(self) -> list[str]:
        return list(state_vars(self.steps[0].state)) if self.steps else []


@dataclass
class Violation:
    """A property that failed, with the shortest trace that shows it.

    ``kind`` is ``invariant``, ``action_property``, ``deadlock``, ``liveness`` or
    ``sometimes``. For an invariant the last state violates it; for an action property the last
    step does; for a deadlock the last state has no successor; for a liveness property the
    trace is a lasso (``trace.loop``), a fair behaviour that never reaches what was promised;
    for ``sometimes`` no reachable state satisfies it and the trace is empty.
    """

    property: str
    kind: str
    doc: str
    trace: Trace
    instance: Any = None  # for a liveness property stated ``over`` a domain: the broken one

    def to_dict(self) -> dict[str, Any]:
        return {
            "property": self.property,
            "kind": self.kind,
            "doc": self.doc,
            "length": len(self.trace),
            **({"loop": self.trace.loop} if self.trace.loop is not None else {}),
            **({"instance": _jsonable(self.instance)} if self.instance is not None else {}),
        }


@dataclass
class ActionCoverage:
    """How often an action was enabled, how many successors it produced, how many were new."""

    enabled: int = 0
    fired: int = 0
    new: int = 0


INCOMPLETE_REASONS = {
    "violation": "stopped at a violation",
    "max_states": "stopped by --max-states",
    "max_depth": "stopped by --max-depth",
    "interrupted": "interrupted",
    "time_limit": "stopped by the time limit",
}


@dataclass
class Stats:
    distinct_states: int = 0
    states_generated: int = 0
    depth: int = 0
    elapsed_s: float = 0.0
    peak_rss_bytes: int = 0
    bytes_per_state: float = 0.0
    outside_constraint: int = 0
    collision_probability: float = 0.0
    complete: bool = True  # False when the search stopped before exhausting the space
    # Why: "violation", "max_states", "max_depth", "interrupted" or "time_limit".
    stopped_by: str | None = None
    store_bytes_per_state: float = 0.0  # the state store's arrays (0 if spilled to disk)
    edges: int = 0  # steps in the edge log (when the search recorded one)
    spilled: bool = False  # the store and waiting states moved to disk (--memory)
    queued: int = 0  # states waiting to be expanded when the search stopped
    liveness_s: float = 0.0  # time spent checking liveness after the search
    liveness_bytes: int = 0  # memory the liveness check's graph arrays took at their peak
    # Temporal properties that could not be checked (the search was incomplete), with why.
    liveness_unchecked: str | None = None

    @property
    def incomplete_reason(self) -> str | None:
        """Why the search did not explore every reachable state (None if it did)."""
        if self.complete:
            return None
        return INCOMPLETE_REASONS.get(self.stopped_by or "", self.stopped_by or "unknown")

    @property
    def states_per_s(self) -> float:
        return self.distinct_states / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "distinct_states": self.distinct_states,
            "states_generated": self.states_generated,
            "depth": self.depth,
            "elapsed_s": round(self.elapsed_s, 4),
            "states_per_s": round(self.states_per_s, 1),
            "peak_rss_bytes": self.peak_rss_bytes,
            "bytes_per_state": round(self.bytes_per_state, 1),
            "outside_constraint": self.outside_constraint,
            "collision_probability": self.collision_probability,
            "complete": self.complete,
            "stopped_by": self.stopped_by,
            "incomplete_reason": self.incomplete_reason,
            "store_bytes_per_state": round(self.store_bytes_per_state, 1),
            "edges": self.edges,
            "spilled": self.spilled,
            "queued": self.queued,
            "liveness_s": round(self.liveness_s, 4),
            "liveness_bytes": self.liveness_bytes,
            "liveness_unchecked": self.liveness_unchecked,
        }


@dataclass
class CheckResult:
    """The outcome of ``check`` or ``simulate`` on one spec configuration."""

    spec: str
    params: dict[str, Any]
    variant: str | None
    mode: str  # "check" or "simulate"
    violations: list[Violation] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    coverage: dict[str, ActionCoverage] = field(default_factory=dict)
    properties_checked: list[str] = field(default_factory=list)
    runs: int = 0  # simulation only

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        from .itf import trace_to_itf  # the JSON result embeds traces in ITF

        return {
            "spec": self.spec,
            "params": {k: _jsonable(v) for k, v in self.params.items()},
            "variant": self.variant,
            "mode": self.mode,
            "ok": self.ok,
            "properties_checked": self.properties_checked,
            "violations": [
                {**v.to_dict(), "trace": trace_to_itf(v.trace)} for v in self.violations
            ],
            "stats": self.stats.to_dict(),
            "coverage": {
                name: {"enabled": c.enabled, "fired": c.fired, "new": c.new}
                for name, c in self.coverage.items()
            },
            **({"runs": self.runs} if self.mode == "simulate" else {}),
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_jsonable(v) for v in value), key=repr)
    return format_value(value)
