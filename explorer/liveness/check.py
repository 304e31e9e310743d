"""Checking a spec's liveness properties on the graph its search recorded.

During the search, ``PredicateTable.record(state)`` is called once per new state, in state-
number order, and evaluates every state predicate the properties mention (each once, into a
byte per state). After a complete search, ``check_formula`` turns those bytes into masks and
asks explorer.liveness.lasso for a counterexample, per instance of the formula.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .fair_cycles import FairComponents, fair_components
from .formulas import Temporal
from .graph import StateGraph
from .lasso import Lasso, find_lasso

__all__ = ["Counterexample", "PredicateTable", "check_formula"]


class PredicateTable:
    """The value of every predicate of some formulas (and sometimes-checks) on every state."""

    def __init__(self, formulas: list[tuple[str, Temporal]],
                 sometimes: list[tuple[str, Callable[[Any], bool]]]) -> None:
        self.instances: dict[str, list[tuple[Any, Temporal]]] = {
            name: f.instances() for name, f in formulas}
        preds: list[Callable[[Any], bool]] = []
        index: dict[int, int] = {}
        for insts in self.instances.values():
            for _, f in insts:
                for p in (f.goal, f.trigger):
                    if p is not None and id(p) not in index:
                        index[id(p)] = len(preds)
                        preds.append(p)
        self._index = index
        self._preds = preds
        self._names = {id(p): name for name, insts in self.instances.items()
                       for _, f in insts for p in (f.goal, f.trigger) if p is not None}
        self.columns = [bytearray() for _ in preds]
        self.sometimes = list(sometimes)
        self.witness: dict[str, int] = {}  # sometimes name -> first state satisfying it
        self.count = 0

    def record(self, state: Any) -> None:
        """Evaluate every predicate on the next state (states come in number order).

        A predicate that raises becomes a SpecError naming the property and the state."""
        k = self.count
        for p, col in zip(self._preds, self.columns):
            try:
                col.append(1 if p(state) else 0)
            except Exception as exc:
                raise _failed(self._names[id(p)], "liveness property", state, exc) from exc
        for name, fn in self.sometimes:
            if name not in self.witness:
                try:
                    ok = fn(state)
                except Exception as exc:
                    raise _failed(name, "sometimes property", state, exc) from exc
                if ok:
                    self.witness[name] = k
        self.count = k + 1

    def snapshot(self) -> dict[str, Any]:
        """What was recorded, for a search checkpoint (predicates are not saved: the spec
        rebuilds them)."""
        return {"columns": [bytes(c) for c in self.columns], "witness": dict(self.witness),
                "count": self.count}

    def restore(self, data: dict[str, Any]) -> None:
        self.columns = [bytearray(c) for c in data["columns"]]
        self.witness = dict(data["witness"])
        self.count = data["count"]

    def mask(self, p: Callable[[Any], bool]) -> np.ndarray:
        col = self.columns[self._index[id(p)]]
        return np.frombuffer(bytes(col), dtype=np.uint8).astype(bool)

    @property
    def bytes_used(self) -> int:
        return sum(len(c) for c in self.columns)


def _failed(name: str, kind: str, state: Any, exc: Exception) -> Exception:
    from ..errors import SpecError
    from ..values import format_value

    if isinstance(exc, SpecError):
        return exc
    return SpecError(f"{kind} {name!r} raised {type(exc).__name__}: {exc} on the reachable "
                     f"state {format_value(state)}", cause=exc)


@dataclass
class Counterexample:
    """A liveness violation: the instance it breaks (None without ``over``) and the lasso."""

    instance: Any
    lasso: Lasso


def check_formula(g: StateGraph, instances: list[tuple[Any, Temporal]],
                  mask_of: Callable[[Callable[[Any], bool]], np.ndarray],
                  cache: dict[tuple, FairComponents] | None = None) -> Counterexample | None:
    """The first of a formula's ``instances`` (``Temporal.instances()``, in ``over`` order)
    that some fair behaviour violates, with its lasso; None if every one holds. ``cache``
    shares fair components between formulas with the same goal predicate object (the
    instances must stay alive while the cache is used)."""
    for instance, f in instances:
        goal = mask_of(f.goal)
        trigger = mask_of(f.trigger) if f.trigger is not None else None
        key = ("recurring",) if f.recurring else ("avoid", id(f.goal))
        fair = None if cache is None else cache.get(key)
        if fair is None:
            allowed = np.ones(g.n, dtype=bool) if f.recurring else ~goal
            fair = fair_components(g, allowed)
            if cache is not None:
                cache[key] = fair
        lasso = find_lasso(g, goal, trigger, f.initial_only, fair, recurring=f.recurring)
        if lasso is not None:
            return Counterexample(instance, lasso)
    return None
