"""A check with liveness: the breadth-first search, then the temporal properties on its graph.

``check(spec)`` is :func:`explorer.bfs.check` plus the spec's ``@liveness`` and ``@sometimes``
properties. While the search runs, every stored state's predicate values are recorded
(check.PredicateTable) and, if there are liveness properties, the store logs every step (the
edge log of explorer.store, 12 bytes per edge). After a *complete* search the log becomes a
StateGraph and each property is decided on it (fair_cycles, lasso); a violation's lasso is
replayed through the spec into a Trace with ``loop`` set. A search that stopped early (a
safety violation, ``--max-depth``...) leaves the temporal properties unchecked, and says so
(``Stats.liveness_unchecked``): a partial graph has false deadlocks and missing cycles.

Without temporal properties, or with ``liveness=False`` (``--no-liveness``) and only liveness
ones, nothing is recorded and the search costs what a safety-only search costs.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..bfs import Search, explore
from ..errors import SpecError, UsageError
from ..fingerprint import fingerprint
from ..result import CheckResult, Step, Trace, Violation
from ..spec import ActionInstance, Spec
from .check import PredicateTable, check_formula
from .graph import FAIR_NONE, FAIR_STRONG, FAIR_WEAK, StateGraph
from .lasso import Lasso

__all__ = ["check", "graph_of", "lasso_trace", "temporal_names"]

_FAIR = {None: FAIR_NONE, "weak": FAIR_WEAK, "strong": FAIR_STRONG}


def temporal_names(spec: Spec, liveness: bool = True) -> list[str]:
    """The temporal properties a run of ``spec`` checks (liveness ones only if ``liveness``)."""
    return ([n for n, _ in spec.liveness_fns] if liveness else []) + \
        [n for n, _ in spec.sometimes_fns]


def check(spec: Spec, *, liveness: bool = True, **kwargs: Any) -> CheckResult:
    """Explore ``spec`` (keyword arguments as :func:`explorer.bfs.check`), then check its
    liveness (unless ``liveness=False``) and sometimes properties on the reachable graph."""
    formulas = list(spec.liveness_fns) if liveness else []
    sometimes = list(spec.sometimes_fns)
    if formulas and kwargs.get("canon") is not None:
        _check_symmetry(spec, formulas)
    if not formulas and not sometimes:
        search = explore(spec, **kwargs)
        assert search.result is not None
        return search.result
    table = PredicateTable(formulas, sometimes)
    search = explore(spec, record_edges=bool(formulas), observe=table.record, **kwargs)
    result = search.result
    assert result is not None
    result.properties_checked += [n for n, _ in formulas] + [n for n, _ in sometimes]
    stats = result.stats
    if not stats.complete:
        stats.liveness_unchecked = (f"not checked: the search was incomplete "
                                    f"({stats.incomplete_reason}), and liveness needs every "
                                    f"reachable state and step")
        return result
    started = time.perf_counter()
    docs = spec.property_docs()
    for name, _ in sometimes:
        if name not in table.witness:
            result.violations.append(Violation(name, "sometimes", docs.get(name, ""),
                                               _empty_trace(spec)))
    if formulas:
        g = graph_of(search)
        stats.liveness_bytes = _graph_bytes(g)
        cache: dict[tuple, Any] = {}
        for name, _ in formulas:
            found = check_formula(g, table.instances[name], table.mask, cache)
            if found is not None:
                trace = lasso_trace(search, found.lasso)
                result.violations.append(Violation(name, "liveness", docs.get(name, ""), trace,
                                                   found.instance))
    stats.liveness_s = time.perf_counter() - started
    return result


def _check_symmetry(spec: Spec, formulas: list) -> None:
    """Liveness on a symmetry-reduced graph is exact only without fairness and with formulas
    that do not single out one process (docs/liveness.md, "Symmetry"); refuse the rest."""
    per_instance = [name for name, f in formulas if f.over is not None]
    if spec.fairness() or per_instance:
        why = (f"its actions {', '.join(sorted(spec.fairness()))} are fair"
               if spec.fairness() else
               f"{', '.join(per_instance)} single out one process (over=...)")
        raise UsageError(
            f"spec {spec.name!r}: liveness cannot be checked under symmetry reduction because "
            f"{why}: the reduced graph forgets which process took a step. Check without "
            f"symmetry, or with --no-liveness (docs/liveness.md, 'Symmetry').")


def graph_of(search: Search) -> StateGraph:
    """The state graph of a search that recorded edges, with the spec's fairness per label."""
    store = search.store
    src, dst, lab = store.edge_arrays()
    fair_of = search.spec.fairness()
    fairness = np.array([_FAIR[fair_of.get(action)] for action, _ in store.labels],
                        dtype=np.int8)
    parents = store.parents.view()
    init = np.flatnonzero(parents < 0)
    return StateGraph(len(store), init, src, dst, lab, fairness)


def _graph_bytes(g: StateGraph) -> int:
    """The bytes of the arrays the check holds besides the store's edge log (an estimate of
    its peak: the graph's derived arrays and one SCC decomposition's sparse matrix)."""
    n, m = g.n, len(g.src)
    return int(m * (1 + 8 + 4 + 4) + n * (8 + 8 + 1 + 1))


def lasso_trace(search: Search, lasso: Lasso) -> Trace:
    """Replay ``lasso`` through the spec: each step is the successor with the logged label
    whose fingerprint is the target state's, so the trace shows the very actions of the
    fair cycle (fairness depends on which action instance takes a step)."""
    spec, store, fp = search.spec, search.store, search.fp
    fps = store.fps
    first = int(fps[lasso.states[0]])
    state = next((s for s in search.inits if fp(s) == first), None)
    if state is None:
        raise SpecError(f"spec {spec.name!r}: cannot replay the liveness counterexample: its "
                        f"initial state is not among init()", spec=spec.name)
    steps = [Step(None, {}, state)]
    for depth, (sid, lab) in enumerate(zip(lasso.states[1:], lasso.labels), start=1):
        action, args = store.label(lab)
        want = ActionInstance(action, args)
        target = int(fps[sid])
        succ = list(spec.successors(state))
        # Under symmetry reduction the replayed state may be a permutation of the stored one,
        # whose step carried a permuted label: then the fingerprint alone decides.
        match = next(((label, t) for label, t in succ if label == want and fp(t) == target),
                     None) or next(((label, t) for label, t in succ if fp(t) == target
                                    and fp is not fingerprint), None)
        if match is not None:
            label, t = match
            steps.append(Step(label.action, label.arg_dict, t))
            state = t
        else:
            raise SpecError(
                f"spec {spec.name!r}: cannot replay step {depth} of a liveness counterexample "
                f"({want}): do the actions use randomness or mutate state?",
                spec=spec.name, depth=depth)
    return Trace(steps, spec=spec.name, params=dict(spec.param_values),
                 variant=spec.variant_name, loop=lasso.loop)


def _empty_trace(spec: Spec) -> Trace:
    return Trace([], spec=spec.name, params=dict(spec.param_values), variant=spec.variant_name)
