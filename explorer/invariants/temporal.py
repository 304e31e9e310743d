"""Temporal operators of the invariant language, for ``--prop`` and the config file.

A temporal property is one of these applied to invariant-language expressions (state
predicates), and nothing else around it::

    eventually(EXPR)            ◇: every fair behaviour reaches a state where EXPR holds
    always_eventually(EXPR)     □◇: EXPR holds again and again, forever
    leads_to(EXPR1, EXPR2)      ~>: every state where EXPR1 holds is followed by one where
                                EXPR2 holds (or satisfies it itself)
    eventually_always(EXPR)     ◇□: from some point on EXPR holds for good
    sometimes(EXPR)             some reachable state satisfies EXPR

Each argument is compiled exactly as an invariant is (compiler.compile_expression) and the
result is the object the Spec API's helpers build (explorer.liveness.formulas), so a
property from the command line is checked by the same code as one declared in a spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..liveness.formulas import (
    Temporal,
    always_eventually,
    eventually,
    eventually_always,
    leads_to,
)
from ..spec import Spec
from . import nodes as n
from .compiler import compile_expression
from .errors import ExpressionError
from .parser import parse

__all__ = ["OPERATORS", "TemporalProperty", "compile_temporal", "is_temporal"]

# operator -> number of arguments
OPERATORS = {"eventually": 1, "always_eventually": 1, "leads_to": 2, "eventually_always": 1,
             "sometimes": 1}


@dataclass
class TemporalProperty:
    """A compiled ``--prop``: kind ``"liveness"`` (``formula`` set) or ``"sometimes"``
    (``predicate`` set)."""

    name: str
    kind: str
    formula: Temporal | None = None
    predicate: Callable[[Any], bool] | None = None


def is_temporal(text: str) -> bool:
    """Whether ``text`` is written with one of the temporal operators at its top."""
    try:
        root = parse(text)
    except ExpressionError:
        return False
    return isinstance(root, n.Call) and root.func in OPERATORS


def compile_temporal(spec: Spec, text: str, name: str) -> TemporalProperty:
    """Compile ``OP(EXPR, ...)`` for ``spec``; ExpressionError if it is not one of the
    operators with the right number of arguments, or if an argument is not a valid
    state predicate."""
    where = f"property {name!r}"
    root = parse(text)
    if not isinstance(root, n.Call) or root.func not in OPERATORS or root.binders:
        ops = ", ".join(f"{op}(...)" for op in OPERATORS)
        raise ExpressionError(f"a temporal property is one of {ops} around invariant-language "
                              f"expressions", text, root.span, where)
    want = OPERATORS[root.func]
    if len(root.args) != want:
        raise ExpressionError(f"{root.func} takes {want} expression{'s' if want > 1 else ''}, "
                              f"got {len(root.args)}", text, root.span, where)
    preds = [_predicate(spec, text, arg, name) for arg in root.args]
    if root.func == "sometimes":
        return TemporalProperty(name, "sometimes", predicate=preds[0])
    builders = {"eventually": eventually, "always_eventually": always_eventually,
                "leads_to": leads_to, "eventually_always": eventually_always}
    return TemporalProperty(name, "liveness", formula=builders[root.func](*preds))


def _predicate(spec: Spec, text: str, arg: n.Node, name: str) -> Callable[[Any], bool]:
    start, end = arg.span
    try:
        return compile_expression(spec, text[start:end], kind="invariant", name=name).fn
    except ExpressionError as exc:
        # Point into the whole property's text, not the argument's.
        if exc.span is not None:
            exc.span = (exc.span[0] + start, exc.span[1] + start)
        exc.text = text
        exc.args = (exc._render(),)
        raise
