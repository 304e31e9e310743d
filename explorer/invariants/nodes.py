"""The syntax tree of an invariant-language expression, as the parser builds it.

Every node records ``span``: the (start, end) character offsets of its source text, so that
errors found later (an unknown name, a type mismatch, a value that raises on some state) can put
a caret under the exact words. Nodes are plain frozen dataclasses; the compiler walks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Binder", "BoolOp", "Call", "Compare", "Cond", "Const", "Field", "Implies", "Index", "Let",
    "Name", "Node", "Op", "Prime", "Quant", "SetFilter", "SetLit", "SetMap", "Slice", "TupleLit",
    "Unary",
]

Span = tuple[int, int]


@dataclass(frozen=True)
class Node:
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Const(Node):
    """A literal: an integer, a string or a boolean."""

    value: Any


@dataclass(frozen=True)
class Name(Node):
    id: str


@dataclass(frozen=True)
class Binder(Node):
    """``name in domain``, as written after forall/exists or in count(...), {...}."""

    name: str
    domain: Node


@dataclass(frozen=True)
class Call(Node):
    """``f(a, b)``, or the binder form ``f(x in S: e)`` (then ``binders`` and ``body`` are set)."""

    func: str
    func_span: Span
    args: tuple[Node, ...]
    binders: tuple[Binder, ...] = ()
    body: Node | None = None


@dataclass(frozen=True)
class TupleLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class SetLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class SetFilter(Node):
    """``{x in S : p}``: the elements of S for which p holds."""

    binder: Binder
    pred: Node


@dataclass(frozen=True)
class SetMap(Node):
    """``{e : x in S, ...}``: the set of the values of e."""

    expr: Node
    binders: tuple[Binder, ...]


@dataclass(frozen=True)
class Index(Node):
    base: Node
    index: Node


@dataclass(frozen=True)
class Slice(Node):
    """``x[lo:hi]``: the elements from position lo up to, not including, hi (as in Python)."""

    base: Node
    lo: Node | None
    hi: Node | None


@dataclass(frozen=True)
class Field(Node):
    base: Node
    name: str


@dataclass(frozen=True)
class Prime(Node):
    """``e'``: e evaluated in the next state of a step (action properties only)."""

    base: Node


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "not" or "-"
    operand: Node


@dataclass(frozen=True)
class Op(Node):
    """A binary operator other than comparisons and the boolean ones: + - * // % / | & .."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Compare(Node):
    op: str  # == != < <= > >= in "not in"
    left: Node
    right: Node


@dataclass(frozen=True)
class BoolOp(Node):
    op: str  # "and" or "or"
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Implies(Node):
    left: Node
    right: Node


@dataclass(frozen=True)
class Quant(Node):
    kind: str  # "forall" or "exists"
    binders: tuple[Binder, ...]
    body: Node


@dataclass(frozen=True)
class Let(Node):
    bindings: tuple[tuple[str, Span, Node], ...]
    body: Node


@dataclass(frozen=True)
class Cond(Node):
    test: Node
    then: Node
    orelse: Node
