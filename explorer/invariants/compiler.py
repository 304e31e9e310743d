"""Compiling an invariant-language expression into a Python closure, once per run.

``compile_expression(spec, text)`` parses the text, resolves every name against the spec (state
variables, parameters, constants the spec set up, enum values, record types, bound variables),
checks types where they are known, folds everything that does not depend on the state into
constants, and builds a tree of small closures. No user text is ever passed to ``eval``.

How the closures are shaped, for speed (this is the hot path of a check):

* every node compiles to ``fn(s) -> value`` where ``s`` is the state being checked; reading a
  state variable is ``operator.attrgetter(name)``, a C function, and ``rm_state.x.y`` one
  dotted attrgetter;
* a step's next state (for ``x'``) sits in a one-slot cell set by the action property's entry
  point, and quantified or ``let``-bound variables in slots of one list, so no frame or dict is
  built per evaluation (hence a compiled property is not re-entrant: do not share one between
  threads);
* operators with a constant operand get their own closure (``c in s.x`` rather than
  ``c(s) in x(s)``); ``and``/``or`` chains are flattened; quantifiers are plain ``for`` loops.

When a compiled expression raises on some state, it is compiled a second time with every node
wrapped to report where, and run again on that state, so the error names the sub-expression,
the values of the bound variables, and the state (``EvaluationError``).
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import SpecError, UsageError
from ..spec import Spec
from ..values import format_value
from . import nodes as n
from .errors import EvaluationError, ExpressionError, did_you_mean
from .parser import parse
from .vtypes import (
    ANY,
    BOOL,
    INT,
    STR,
    ClassT,
    EnumT,
    MapT,
    RecordT,
    SeqT,
    SetT,
    TupT,
    UnionT,
    VType,
    element,
    enum_member,
    enums_in,
    is_record,
    join,
    kind,
    member_text,
    of_value,
    record_fields,
)

__all__ = ["FUNCTIONS", "Compiled", "SpecNames", "compile_expression"]

_NO = object()  # "not a compile-time constant"

# Attributes the engine sets on a spec instance: not constants a user means.
_ENGINE_ATTRS = frozenset({"param_values", "static_instances", "dynamic_actions",
                           "static_labels", "invariant_fns", "action_property_fns",
                           "liveness_fns", "sometimes_fns",
                           "constraint"})

# The temporal operators (temporal.py): whole properties, never parts of an expression.
_TEMPORAL = frozenset({"eventually", "always_eventually", "leads_to", "eventually_always",
                       "sometimes"})

FUNCTIONS = {
    "len": "len(x): the number of elements of a tuple, set or string",
    "count": "count(x in S: p): how many x in S satisfy p",
    "sum": "sum(S) or sum(x in S: e): the sum",
    "min": "min(S), min(a, b, ...) or min(x in S: e): the least (an error if empty)",
    "max": "max(S), max(a, b, ...) or max(x in S: e): the greatest (an error if empty)",
    "abs": "abs(x): the absolute value",
    "type": "type(x): the class of x, to compare with a record or enum name",
    "set": "set(x): the elements of a tuple as a set",
    "sorted": "sorted(x): the elements of a tuple or set in increasing order, as a tuple",
    "unchanged": "unchanged(e, ...): e' == e for each e (action properties only)",
}

# Rendering precedence (higher binds tighter), used to parenthesize the "read as" form.
_P_OPEN, _P_IMPLIES, _P_OR, _P_AND, _P_NOT, _P_CMP = 0, 1, 2, 3, 4, 5
_P_OPS = {"|": 6, "&": 7, "..": 8, "+": 9, "-": 9, "*": 10, "//": 10, "%": 10}
_P_UNARY, _P_POSTFIX, _P_ATOM = 11, 12, 13


@dataclass
class Code:
    """One compiled node: its closure, static type, and what is known about it."""

    fn: Callable[[Any], Any]
    type: VType
    text: str
    prec: int = _P_ATOM
    const: Any = _NO
    attr: str | None = None  # the node reads this (dotted) attribute of the current state
    slot: int | None = None  # the node reads this bound-variable slot
    shape: tuple | None = None  # a simple read a parent may inline (see _read)
    implies: tuple[Callable, Callable] | None = None  # (a, b) if this is a => b

    @property
    def is_const(self) -> bool:
        return self.const is not _NO


def _constant(value: Any, text: str, vtype: VType | None = None) -> Code:
    return Code(lambda s, v=value: v, vtype or of_value(value), text, const=value)


def _as_data(value: Any) -> Any:
    """A spec attribute as an expression value, or _NO if it is not plain data."""
    if isinstance(value, (bool, int, str, float, enum.Enum, range)) or is_record(type(value)):
        return value
    if isinstance(value, (list, tuple)):
        items = [_as_data(v) for v in value]
        return _NO if any(v is _NO for v in items) else tuple(items)
    if isinstance(value, (set, frozenset)):
        items = [_as_data(v) for v in value]
        return _NO if any(v is _NO for v in items) else frozenset(items)
    if isinstance(value, dict):
        return value if all(_as_data(v) is not _NO for v in value.values()) else _NO
    return _NO


@dataclass
class SpecNames:
    """What names mean in one spec instance: its state variables, constants and types."""

    spec: Spec
    state_cls: type
    fields: dict[str, VType]
    params: dict[str, Any]
    constants: dict[str, Any]  # parameters and the data the spec set up in setup()
    classes: dict[str, type]  # record and enum classes reachable from the state's types
    members: dict[str, list[enum.Enum]] = field(default_factory=dict)  # "leader" -> [LEADER]

    @classmethod
    def of(cls, spec: Spec) -> SpecNames:
        cached = spec.__dict__.get("_invariant_names")
        if cached is not None:
            return cached
        try:
            first = next(iter(spec.init()))
        except StopIteration:
            raise SpecError(f"spec {spec.name!r}: init() yielded no initial state",
                            spec=spec.name) from None
        except Exception as exc:
            raise SpecError(f"spec {spec.name!r}: init() raised {type(exc).__name__}: {exc}",
                            spec=spec.name, cause=exc) from exc
        state_cls = type(first)
        if not is_record(state_cls):
            raise UsageError(f"spec {spec.name!r}: the invariant language reads a state's "
                             f"variables as the fields of a NamedTuple, but this spec's states "
                             f"are {state_cls.__name__} values")
        fields: dict[str, VType] = {}
        for fname, hinted in record_fields(state_cls).items():
            # An annotation the compiler cannot resolve is replaced by the initial value's type.
            fields[fname] = hinted if hinted != ANY else of_value(getattr(first, fname))
        constants: dict[str, Any] = {}
        for key, value in vars(spec).items():
            if key.startswith("_") or key in _ENGINE_ATTRS:
                continue
            data = _as_data(value)
            if data is not _NO:
                constants[key] = data
        names = cls(spec, state_cls, fields, dict(spec.param_values), constants, {})
        seen: set[VType] = set()
        for t in [RecordT(state_cls), *fields.values(), *map(of_value, constants.values())]:
            names._collect(t, seen)
        for v in first:
            names._collect(of_value(v), seen)
        for c in names.classes.values():
            if issubclass(c, enum.Enum):
                for m in c:
                    names.members.setdefault(member_text(m), []).append(m)
                    if m.name != member_text(m):
                        names.members.setdefault(m.name, []).append(m)
        spec.__dict__["_invariant_names"] = names
        return names

    def _collect(self, t: VType, seen: set[VType]) -> None:
        if t in seen:
            return
        seen.add(t)
        if isinstance(t, EnumT):
            self.classes.setdefault(t.cls.__name__, t.cls)
        elif isinstance(t, RecordT):
            self.classes.setdefault(t.cls.__name__, t.cls)
            for ft in record_fields(t.cls).values():
                self._collect(ft, seen)
        elif isinstance(t, (SeqT, SetT)):
            self._collect(t.elem, seen)
        elif isinstance(t, TupT):
            for e in t.elems:
                self._collect(e, seen)
        elif isinstance(t, UnionT):
            for e in t.members:
                self._collect(e, seen)
        elif isinstance(t, MapT):
            self._collect(t.key, seen)
            self._collect(t.value, seen)

    def constant_kind(self, name: str) -> str:
        return "parameter" if name in self.params else "spec constant"


@dataclass
class _Bound:
    """A name bound by forall/exists/let/count...: a slot, or a constant value."""

    slot: int | None
    type: VType
    const: Any = _NO
    how: str = ""


@dataclass
class Compiled:
    """A compiled expression, ready to be added to a spec as a property or constraint."""

    name: str
    text: str
    kind: str  # "invariant", "action_property" or "constraint"
    fn: Callable[..., bool]  # (s) -> bool, or (s, t) -> bool for an action property
    rendered: str  # the expression as understood, fully parenthesized, names resolved
    type: VType
    names: list[tuple[str, str]]  # (as written, what it resolved to)
    uses_prime: bool


class _Located(Exception):
    """Raised by a debug-compiled node: which node failed, with which bound values."""

    def __init__(self, node: n.Node, cause: BaseException, bound: list[tuple[str, Any]]):
        super().__init__(str(cause))
        self.node = node
        self.cause = cause
        self.bound = bound


# -- operator templates ------------------------------------------------------------------------
# One closure per (operator, which operand is constant): the body is a single Python operator
# on locals, the cheapest thing the interpreter can run.

def _t(op: str) -> tuple[Callable, Callable, Callable]:
    table = {
        "==": (lambda a, b: lambda s: a(s) == b(s), lambda a, c: lambda s: a(s) == c,
               lambda c, b: lambda s: c == b(s)),
        "!=": (lambda a, b: lambda s: a(s) != b(s), lambda a, c: lambda s: a(s) != c,
               lambda c, b: lambda s: c != b(s)),
        "<": (lambda a, b: lambda s: a(s) < b(s), lambda a, c: lambda s: a(s) < c,
              lambda c, b: lambda s: c < b(s)),
        "<=": (lambda a, b: lambda s: a(s) <= b(s), lambda a, c: lambda s: a(s) <= c,
               lambda c, b: lambda s: c <= b(s)),
        ">": (lambda a, b: lambda s: a(s) > b(s), lambda a, c: lambda s: a(s) > c,
              lambda c, b: lambda s: c > b(s)),
        ">=": (lambda a, b: lambda s: a(s) >= b(s), lambda a, c: lambda s: a(s) >= c,
               lambda c, b: lambda s: c >= b(s)),
        "in": (lambda a, b: lambda s: a(s) in b(s), lambda a, c: lambda s: a(s) in c,
               lambda c, b: lambda s: c in b(s)),
        "not in": (lambda a, b: lambda s: a(s) not in b(s), lambda a, c: lambda s: a(s) not in c,
                   lambda c, b: lambda s: c not in b(s)),
        "+": (lambda a, b: lambda s: a(s) + b(s), lambda a, c: lambda s: a(s) + c,
              lambda c, b: lambda s: c + b(s)),
        "-": (lambda a, b: lambda s: a(s) - b(s), lambda a, c: lambda s: a(s) - c,
              lambda c, b: lambda s: c - b(s)),
        "*": (lambda a, b: lambda s: a(s) * b(s), lambda a, c: lambda s: a(s) * c,
              lambda c, b: lambda s: c * b(s)),
        "//": (lambda a, b: lambda s: a(s) // b(s), lambda a, c: lambda s: a(s) // c,
               lambda c, b: lambda s: c // b(s)),
        "%": (lambda a, b: lambda s: a(s) % b(s), lambda a, c: lambda s: a(s) % c,
              lambda c, b: lambda s: c % b(s)),
        "|": (lambda a, b: lambda s: a(s) | b(s), lambda a, c: lambda s: a(s) | c,
              lambda c, b: lambda s: c | b(s)),
        "&": (lambda a, b: lambda s: a(s) & b(s), lambda a, c: lambda s: a(s) & c,
              lambda c, b: lambda s: c & b(s)),
    }
    return table[op]


_TEMPLATES = {op: _t(op) for op in ("==", "!=", "<", "<=", ">", ">=", "in", "not in", "+", "-",
                                     "*", "//", "%", "|", "&")}
_PY_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
           ">": operator.gt, ">=": operator.ge, "in": lambda a, b: a in b,
           "not in": lambda a, b: a not in b, "+": operator.add, "-": operator.sub,
           "*": operator.mul, "//": operator.floordiv, "%": operator.mod, "|": operator.or_,
           "&": operator.and_}


def _text_eq(v: Any, text: str) -> bool:
    """``v == "text"`` where v's type is unknown: an enum member equals its lower-case name."""
    return v == text or (isinstance(v, enum.Enum) and member_text(v) == text)


def _text_in(text: str, coll: Any) -> bool:
    return any(_text_eq(v, text) for v in coll)


# For ``c op x`` with c constant: the operator f such that f(x, c) gives the same answer.
_REFLECTED = {"==": operator.eq, "!=": operator.ne, "<": operator.gt, "<=": operator.ge,
              ">": operator.lt, ">=": operator.le, "in": operator.contains}


def _read(shape: tuple, env: list, nxt: list) -> Callable[[Any], Any]:
    """The closure for a simple read: ``get`` is g(s), ``nget`` g(s'), ``slot`` a bound
    variable, ``get_slot`` g(s)[env[k]], ``get_const`` g(s)[c], ``slot_get`` g(env[k]), ..."""
    kind, a = shape[0], shape[1]
    b = shape[2] if len(shape) > 2 else None
    if kind == "get":
        return a
    if kind == "nget":
        return lambda s: a(nxt[0])
    if kind == "slot":
        return lambda s: env[a]
    if kind == "slot_get":
        return lambda s: a(env[b])
    if kind == "get_slot":
        return lambda s: a(s)[env[b]]
    if kind == "get_const":
        return lambda s: a(s)[b]
    if kind == "nget_slot":
        return lambda s: a(nxt[0])[env[b]]
    if kind == "nget_const":
        return lambda s: a(nxt[0])[b]
    if kind == "slot_slot":
        return lambda s: env[a][env[b]]
    if kind == "slot_const":
        return lambda s: env[a][b]
    raise AssertionError(kind)


def _read_op_const(shape: tuple, f: Callable, c: Any, env: list,
                   nxt: list) -> Callable[[Any], Any]:
    """f(read, c) in one closure."""
    kind, a = shape[0], shape[1]
    b = shape[2] if len(shape) > 2 else None
    if kind == "get":
        return lambda s: f(a(s), c)
    if kind == "nget":
        return lambda s: f(a(nxt[0]), c)
    if kind == "slot":
        return lambda s: f(env[a], c)
    if kind == "slot_get":
        return lambda s: f(a(env[b]), c)
    if kind == "get_slot":
        return lambda s: f(a(s)[env[b]], c)
    if kind == "get_const":
        return lambda s: f(a(s)[b], c)
    if kind == "nget_slot":
        return lambda s: f(a(nxt[0])[env[b]], c)
    if kind == "nget_const":
        return lambda s: f(a(nxt[0])[b], c)
    if kind == "slot_slot":
        return lambda s: f(env[a][env[b]], c)
    if kind == "slot_const":
        return lambda s: f(env[a][b], c)
    raise AssertionError(kind)


def _read_op_read(x: tuple, y: tuple, f: Callable, env: list,
                  nxt: list) -> Callable[[Any], Any] | None:
    """f(read_x, read_y) in one closure, for the pairs that are common in invariants."""
    kinds = (x[0], y[0])
    if kinds == ("slot", "slot"):
        i, j = x[1], y[1]
        return lambda s: f(env[i], env[j])
    if kinds == ("get_slot", "get_slot"):
        g, i, h, j = x[1], x[2], y[1], y[2]
        return lambda s: f(g(s)[env[i]], h(s)[env[j]])
    if kinds == ("nget_slot", "get_slot"):
        g, i, h, j = x[1], x[2], y[1], y[2]
        return lambda s: f(g(nxt[0])[env[i]], h(s)[env[j]])
    if kinds == ("get_slot", "nget_slot"):
        g, i, h, j = x[1], x[2], y[1], y[2]
        return lambda s: f(g(s)[env[i]], h(nxt[0])[env[j]])
    if kinds == ("slot_get", "slot_get"):
        g, i, h, j = x[1], x[2], y[1], y[2]
        return lambda s: f(g(env[i]), h(env[j]))
    if kinds == ("slot_get", "get_slot"):
        g, i, h, j = x[1], x[2], y[1], y[2]
        return lambda s: f(g(env[i]), h(s)[env[j]])
    if kinds == ("get_slot", "slot_get"):
        g, i, h, j = x[1], x[2], y[1], y[2]
        return lambda s: f(g(s)[env[i]], h(env[j]))
    return None


def _describe_type(t: VType) -> str:
    if t == INT:
        return "an int"
    if t == BOOL:
        return "a boolean"
    if t == STR:
        return "a string"
    if isinstance(t, EnumT):
        return f"a value of the enum {t.cls.__name__}"
    if isinstance(t, RecordT):
        return f"a {t.cls.__name__} record"
    if isinstance(t, (SeqT, TupT)):
        return f"a tuple ({t})"
    if isinstance(t, SetT):
        return f"a set ({t})"
    if isinstance(t, MapT):
        return f"a dict ({t})"
    if isinstance(t, ClassT):
        return "a type"
    return f"a value of type {t}"


def _show(value: Any) -> str:
    """A constant as the language would write it (a range as lo..hi)."""
    if isinstance(value, range) and value.step == 1:
        return f"{value.start}..{value.stop - 1}"
    if isinstance(value, tuple) and not is_record(type(value)):
        return "(" + ", ".join(map(_show, value)) + ("," if len(value) == 1 else "") + ")"
    return format_value(value)


def _is_bool(t: VType) -> bool:
    return t in (BOOL, ANY) or (isinstance(t, UnionT) and BOOL in t.members)


def _is_num(t: VType) -> bool:
    return (t in (INT, BOOL, ANY) or (isinstance(t, EnumT) and issubclass(t.cls, int))
            or isinstance(t, UnionT))


def _paren(code: Code, prec: int) -> str:
    """Child text for a parent of precedence ``prec``: compound children are parenthesized."""
    return code.text if code.prec >= max(prec + 1, _P_UNARY) else f"({code.text})"


class _Compiler:
    def __init__(self, names: SpecNames, text: str, kind: str, debug: bool = False) -> None:
        self.names = names
        self.text = text
        self.kind = kind  # "invariant", "action_property", "constraint", or "auto"
        self.debug = debug
        self.env: list[Any] = []  # slots of bound variables
        self.nxt: list[Any] = [None]  # the next state, for primed variables
        self.scopes: list[dict[str, _Bound]] = []
        self.primed = False
        self.uses_prime = False
        self.resolved: dict[str, str] = {}  # for --explain-inv: name as written -> meaning

    # -- helpers ------------------------------------------------------------------------------

    def error(self, message: str, node: n.Node | tuple[int, int]) -> ExpressionError:
        span = node if isinstance(node, tuple) else node.span
        return ExpressionError(message, self.text, span)

    def src(self, node: n.Node) -> str:
        return self.text[node.span[0]:node.span[1]]

    def new_slot(self) -> int:
        self.env.append(None)
        return len(self.env) - 1

    def fold(self, code: Code, node: n.Node, *kids: Code) -> Code:
        """Evaluate ``code`` now if every child is a constant (errors become compile errors)."""
        if kids and all(k.is_const for k in kids):
            try:
                value = code.fn(None)
            except Exception as exc:
                raise self.error(f"evaluating this fails: {type(exc).__name__}: {exc}",
                                 node) from None
            return Code(lambda s, v=value: v, code.type, code.text, code.prec, const=value)
        return code

    def visible(self) -> list[tuple[str, int]]:
        out: dict[str, int] = {}
        for scope in self.scopes:
            for name, b in scope.items():
                if b.slot is not None:
                    out[name] = b.slot
        return list(out.items())

    def compile(self, node: n.Node) -> Code:
        code = getattr(self, "c_" + type(node).__name__.lower())(node)
        if self.debug and not code.is_const:
            code.fn = self._locating(code.fn, node)
            code.attr = code.slot = code.shape = None  # parents must not fuse past the wrapper
        return code

    def _locating(self, fn: Callable[[Any], Any], node: n.Node) -> Callable[[Any], Any]:
        env, visible = self.env, self.visible()

        def located(s: Any) -> Any:
            try:
                return fn(s)
            except _Located:
                raise
            except Exception as exc:
                raise _Located(node, exc, [(name, env[k]) for name, k in visible]) from exc

        return located

    def need_bool(self, code: Code, node: n.Node, what: str) -> None:
        if not _is_bool(code.type):
            raise self.error(f"{what} needs true or false, but {code.text!r} is "
                             f"{_describe_type(code.type)}", node)

    def need_num(self, code: Code, node: n.Node, what: str) -> None:
        if not _is_num(code.type):
            raise self.error(f"{what} needs numbers, but {code.text!r} is "
                             f"{_describe_type(code.type)}", node)

    def need_iterable(self, code: Code, node: n.Node, what: str) -> VType:
        elem = element(code.type)
        if elem is None:
            raise self.error(f"{what} needs a collection (a tuple, set or range), but "
                             f"{code.text!r} is {_describe_type(code.type)}", node)
        return elem

    # -- names --------------------------------------------------------------------------------

    def lookup_bound(self, name: str) -> _Bound | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def c_name(self, node: n.Name, enum_hint: list[type] | None = None) -> Code:
        name = node.id
        bound = self.lookup_bound(name)
        if bound is not None:
            self.resolved.setdefault(name, bound.how)
            if bound.const is not _NO:
                return _constant(bound.const, name, bound.type)
            k, env = bound.slot, self.env
            return Code(lambda s: env[k], bound.type, name, slot=k, shape=("slot", k))
        names = self.names
        in_state = name in names.fields
        in_consts = name in names.constants
        if in_state and in_consts:
            raise self.error(
                f"{name!r} is both a state variable and a {names.constant_kind(name)} of spec "
                f"{names.spec.name!r}; write state.{name} or params.{name}", node)
        if in_state:
            return self.state_var(name, node)
        if in_consts:
            value = names.constants[name]
            self.resolved.setdefault(name, f"{names.constant_kind(name)} = {_show(value)}")
            return _constant(value, name)
        if name == "state":
            return self.whole_state()
        if name in names.classes:
            cls = names.classes[name]
            what = "enum" if issubclass(cls, enum.Enum) else "record type"
            self.resolved.setdefault(name, f"the {what} {cls.__name__}")
            return _constant(cls, name, ClassT())
        member = self.enum_by_name(name, node, enum_hint)
        if member is not None:
            return member
        raise self.error(f"unknown name {name!r}{did_you_mean(name, self.all_names())}"
                         + self.name_hint(name), node)

    def name_hint(self, name: str) -> str:
        if name in FUNCTIONS:
            return f" ({name} is a function: {FUNCTIONS[name]})"
        if name in ("True", "False", "TRUE", "FALSE"):
            return f" (write {name.lower()})"
        return ""

    def all_names(self) -> list[str]:
        out = [name for scope in self.scopes for name in scope]
        out += list(self.names.fields) + list(self.names.constants) + list(self.names.classes)
        out += list(self.names.members) + ["state"]
        return out

    def state_var(self, name: str, node: n.Node) -> Code:
        vtype = self.names.fields[name]
        self.resolved.setdefault(name, f"state variable, {vtype}")
        get = operator.attrgetter(name)
        if self.primed:
            nxt = self.nxt
            return Code(lambda s: get(nxt[0]), vtype, name + "'", _P_POSTFIX,
                        shape=("nget", get))
        return Code(get, vtype, name, attr=name, shape=("get", get))

    def whole_state(self) -> Code:
        vtype = RecordT(self.names.state_cls)
        self.resolved.setdefault("state", f"the whole state, {vtype}")
        if self.primed:
            nxt = self.nxt
            return Code(lambda s: nxt[0], vtype, "state'", _P_POSTFIX)
        return Code(lambda s: s, vtype, "state", attr="")  # attr "": the state itself

    def enum_by_name(self, name: str, node: n.Node, hint: list[type] | None) -> Code | None:
        """A bare identifier naming an enum value: ``leader`` for Role.LEADER."""
        found = self.names.members.get(name, [])
        if hint:
            preferred = [m for m in found if type(m) in hint]
            found = preferred or found
        found = list(dict.fromkeys(found))
        if not found:
            return None
        if len(found) > 1:
            options = " or ".join(f"{type(m).__name__}.{m.name}" for m in found)
            raise self.error(f"{name!r} could be {options}; write the one you mean", node)
        member = found[0]
        self.resolved.setdefault(name, f"enum value {type(member).__name__}.{member.name}")
        return _constant(member, f"{type(member).__name__}.{member.name}")

    # -- literals -----------------------------------------------------------------------------

    def c_const(self, node: n.Const) -> Code:
        v = node.value
        text = ("true" if v else "false") if isinstance(v, bool) else (
            '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' if isinstance(v, str)
            else str(v))
        return _constant(v, text)

    def c_tuplelit(self, node: n.TupleLit) -> Code:
        items = [self.compile(x) for x in node.items]
        fns = tuple(c.fn for c in items)
        text = "(" + ", ".join(c.text for c in items) + ("," if len(items) == 1 else "") + ")"
        code = Code(lambda s: tuple(f(s) for f in fns), TupT(tuple(c.type for c in items)), text)
        return self.fold(code, node, *items) if items else _constant((), "()", TupT(()))

    def c_setlit(self, node: n.SetLit) -> Code:
        items = [self.compile(x) for x in node.items]
        fns = tuple(c.fn for c in items)
        elem: VType | None = None
        for c in items:
            elem = c.type if elem is None else join(elem, c.type)
        text = "{" + ", ".join(c.text for c in items) + "}"
        code = Code(lambda s: frozenset([f(s) for f in fns]), SetT(elem or ANY), text)
        return self.fold(code, node, *items) if items else _constant(frozenset(), "{}", SetT(ANY))

    # -- coercion of string literals to enum values -------------------------------------------

    def coerce(self, code: Code, target: VType, node: n.Node) -> Code:
        """A constant string (or tuple or set of them) next to an enum becomes the enum value."""
        if not code.is_const:
            return code
        value = self.coerce_value(code.const, target, node)
        if value is code.const:
            return code
        text = self.value_text(value)
        if isinstance(code.const, str):
            self.resolved.setdefault(code.text, f"{text} (a string names an enum value by "
                                                f"its lower-case name)")
        return Code(lambda s, v=value: v, of_value(value), text, const=value)

    def value_text(self, value: Any) -> str:
        if isinstance(value, enum.Enum):
            return f"{type(value).__name__}.{value.name}"
        if isinstance(value, type):
            return value.__name__
        if isinstance(value, tuple) and not is_record(type(value)):
            inner = ", ".join(self.value_text(v) for v in value)
            return f"({inner}{',' if len(value) == 1 else ''})"
        if isinstance(value, frozenset):
            return "{" + ", ".join(sorted(self.value_text(v) for v in value)) + "}"
        return format_value(value) if not isinstance(value, str) else repr(value)

    def coerce_value(self, value: Any, target: VType, node: n.Node) -> Any:
        if isinstance(value, str):
            if isinstance(target, ClassT):
                cls = self.names.classes.get(value)
                if cls is None:
                    raise self.error(f"no record or enum type named {value!r}"
                                     f"{did_you_mean(value, self.names.classes)}", node)
                return cls
            enums = enums_in(target)
            if not enums:
                return value
            found = [m for m in (enum_member(c, value) for c in enums) if m is not None]
            if found:
                return found[0]
            if isinstance(target, UnionT) and STR in target.members:
                return value
            pool = [member_text(m) for c in enums for m in c]
            names = " or ".join(c.__name__ for c in enums)
            raise self.error(f"{names} has no value {value!r}{did_you_mean(value, pool)} "
                             f"(its values: {', '.join(pool)})", node)
        if isinstance(value, tuple) and not is_record(type(value)):
            if isinstance(target, (SeqT, SetT)):  # a tuple may be a membership domain
                out = tuple(self.coerce_value(v, target.elem, node) for v in value)
            elif isinstance(target, TupT) and len(target.elems) == len(value):
                out = tuple(self.coerce_value(v, t, node) for v, t in zip(value, target.elems))
            else:
                return value
            return value if all(a is b for a, b in zip(out, value)) else out
        if isinstance(value, frozenset) and isinstance(target, SetT):
            items = [(v, self.coerce_value(v, target.elem, node)) for v in value]
            if all(a is b for a, b in items):
                return value
            return frozenset(b for _, b in items)
        return value

    # -- comparisons --------------------------------------------------------------------------

    def is_bare_member(self, node: n.Node) -> bool:
        """A name that can only mean an enum value (so the other operand may pick the enum)."""
        return (isinstance(node, n.Name) and self.lookup_bound(node.id) is None
                and node.id not in self.names.fields and node.id not in self.names.constants
                and node.id not in self.names.classes and node.id != "state"
                and node.id in self.names.members)

    def operand(self, node: n.Node) -> Code:
        if isinstance(node, n.Op) and node.op == "..":
            return self.c_range(node, as_range=True)
        return self.compile(node)

    def operands(self, node: n.Compare) -> tuple[Code, Code]:
        """Compile both sides; a bare enum-value name takes its enum from the other side."""
        if self.is_bare_member(node.left) and not self.is_bare_member(node.right):
            right = self.operand(node.right)
            hint = enums_in(right.type) or enums_in(element(right.type) or ANY)
            assert isinstance(node.left, n.Name)
            return self.c_name(node.left, hint), right
        left = self.operand(node.left)
        if self.is_bare_member(node.right):
            hint = enums_in(left.type)
            assert isinstance(node.right, n.Name)
            return left, self.c_name(node.right, hint)
        return left, self.operand(node.right)

    def c_compare(self, node: n.Compare) -> Code:
        op = node.op
        left, right = self.operands(node)
        if op in ("in", "not in"):
            self.need_iterable(right, node.right, f"'{op}'")
            if not left.is_const:
                right = self.coerce(right, SetT(left.type), node.right)
            left = self.coerce(left, element(right.type) or ANY, node.left)
            self.check_comparable(left.type, element(right.type) or ANY, node, op)
        else:
            left = self.coerce(left, right.type, node.left)
            right = self.coerce(right, left.type, node.right)
            self.check_comparable(left.type, right.type, node, op)
            left, right = self.set_operand(left), self.set_operand(right)
        text = f"{_paren(left, _P_CMP)} {op} {_paren(right, _P_CMP)}"
        fn = self.text_compare(op, left, right)
        if fn is None:
            fn = self.binary(op, left, right)
        return self.fold(Code(fn, BOOL, text, _P_CMP), node, left, right)

    def text_compare(self, op: str, left: Code, right: Code) -> Callable | None:
        """Comparisons of a string constant with a value of unknown type (checked at run time)."""
        if op in ("==", "!=") and (left.is_const and isinstance(left.const, str)) != (
                right.is_const and isinstance(right.const, str)):
            lit, other = (left, right) if left.is_const else (right, left)
            if other.type == ANY:
                text, g = lit.const, other.fn
                if op == "==":
                    return lambda s: _text_eq(g(s), text)
                return lambda s: not _text_eq(g(s), text)
        if op in ("in", "not in") and left.is_const and isinstance(left.const, str) \
                and not right.is_const and element(right.type) == ANY:
            text, g = left.const, right.fn
            if op == "in":
                return lambda s: _text_in(text, g(s))
            return lambda s: not _text_in(text, g(s))
        return None

    @staticmethod
    def set_operand(code: Code) -> Code:
        """A constant range compared with a set is compared as the set of its numbers."""
        if code.is_const and isinstance(code.const, range):
            value = frozenset(code.const)
            return Code(lambda s, v=value: v, SetT(INT), code.text, code.prec, const=value)
        return code

    def check_comparable(self, a: VType, b: VType, node: n.Compare, op: str) -> None:
        if isinstance(a, EnumT) and isinstance(b, EnumT) and a.cls is not b.cls:
            raise self.error(f"comparing a value of {a.cls.__name__} with a value of "
                             f"{b.cls.__name__}: values of two different enums never mean the "
                             f"same thing (they would compare as their numbers)", node)
        ka, kb = kind(a), kind(b)
        if ka and kb and ka != kb:
            always = {"==": "always false", "!=": "always true", "in": "always false",
                      "not in": "always true"}.get(op, "an error")
            what = "finding" if op in ("in", "not in") else "comparing"
            raise self.error(f"{what} {_describe_type(a)} {'in' if what == 'finding' else 'with'}"
                             f" {_describe_type(b)} is {always}", node)
        if op in ("<", "<=", ">", ">=") and ka == kb == "type":
            raise self.error("types cannot be ordered", node)

    def binary(self, op: str, left: Code, right: Code) -> Callable[[Any], Any]:
        both, right_const, left_const = _TEMPLATES[op]
        env, nxt = self.env, self.nxt
        # A simple read (state[i], m.bal, x') against a constant or another simple read is
        # done inline in one closure rather than one closure per operand.
        if right.is_const and left.shape is not None:
            return _read_op_const(left.shape, _PY_OPS[op], right.const, env, nxt)
        if left.is_const and right.shape is not None and op in _REFLECTED:
            return _read_op_const(right.shape, _REFLECTED[op], left.const, env, nxt)
        if left.shape is not None and right.shape is not None:
            fused = _read_op_read(left.shape, right.shape, _PY_OPS[op], env, nxt)
            if fused is not None:
                return fused
        if right.is_const:
            return right_const(left.fn, right.const)
        if left.is_const:
            return left_const(left.const, right.fn)
        return both(left.fn, right.fn)

    # -- boolean connectives ------------------------------------------------------------------

    def c_unary(self, node: n.Unary) -> Code:
        operand = self.compile(node.operand)
        if node.op == "not":
            self.need_bool(operand, node.operand, "'not'")
            g = operand.fn
            return self.fold(Code(lambda s: not g(s), BOOL,
                                  f"not {_paren(operand, _P_NOT - 1)}", _P_NOT), node, operand)
        self.need_num(operand, node.operand, "'-'")
        g = operand.fn
        return self.fold(Code(lambda s: -g(s), INT, f"-{_paren(operand, _P_UNARY)}", _P_UNARY),
                         node, operand)

    def c_boolop(self, node: n.BoolOp) -> Code:
        items = []
        for x in node.items:
            c = self.compile(x)
            self.need_bool(c, x, f"'{node.op}'")
            items.append(c)
        prec = _P_AND if node.op == "and" else _P_OR
        text = f" {node.op} ".join(_paren(c, prec) for c in items)
        absorbing = node.op == "or"  # the value that decides an and (False) or an or (True)
        if any(c.is_const and bool(c.const) is absorbing for c in items):
            return _constant(absorbing, text, BOOL)
        live = [c for c in items if not c.is_const]
        if not live:
            return _constant(not absorbing, text, BOOL)
        fns = [c.fn for c in live]
        exact = all(c.type == BOOL for c in live)  # then a and b is already a bool
        if len(fns) == 1:
            g = fns[0]
            fn = g if exact else (lambda s: bool(g(s)))
        elif node.op == "and":
            fn = _and(fns, exact)
        else:
            fn = _or(fns, exact)
        return Code(fn, BOOL, text, prec)

    def c_implies(self, node: n.Implies) -> Code:
        left = self.compile(node.left)
        self.need_bool(left, node.left, "'=>'")
        right = self.compile(node.right)
        self.need_bool(right, node.right, "'=>'")
        text = f"{_paren(left, _P_IMPLIES)} => {_paren(right, _P_IMPLIES - 1)}"
        if left.is_const:
            if not left.const:
                return _constant(True, text, BOOL)
            return Code(right.fn, BOOL, text, _P_IMPLIES, const=right.const)
        a, b = left.fn, right.fn
        code = self.fold(Code(lambda s: not a(s) or b(s), BOOL, text, _P_IMPLIES), node,
                         left, right)
        if not code.is_const and not self.debug:
            code.implies = (a, b)
        return code

    def c_cond(self, node: n.Cond) -> Code:
        test = self.compile(node.test)
        self.need_bool(test, node.test, "'if'")
        then, orelse = self.compile(node.then), self.compile(node.orelse)
        text = f"if {test.text} then {then.text} else {orelse.text}"
        vtype = join(then.type, orelse.type)
        if test.is_const:
            chosen = then if test.const else orelse
            return Code(chosen.fn, chosen.type, text, _P_OPEN, const=chosen.const)
        c, a, b = test.fn, then.fn, orelse.fn
        return Code(lambda s: a(s) if c(s) else b(s), vtype, text, _P_OPEN)

    # -- arithmetic and sets ------------------------------------------------------------------

    def c_op(self, node: n.Op) -> Code:
        if node.op == "..":
            return self.c_range(node, as_range=False)
        if node.op == "/":
            raise self.error("'/' is not defined: numbers here are integers; use // for "
                             "integer division", node)
        left, right = self.compile(node.left), self.compile(node.right)
        op = node.op
        prec = _P_OPS[op]
        text = f"{_paren(left, prec)} {op} {_paren(right, prec)}"
        lt, rt = left.type, right.type
        setish = isinstance(lt, SetT) or isinstance(rt, SetT) or op in ("|", "&")
        if setish and op in ("|", "&", "-"):
            left, right = self.set_operand(left), self.set_operand(right)
            for c, x in ((left, node.left), (right, node.right)):
                if c.type != ANY and not isinstance(c.type, SetT):
                    raise self.error(f"'{op}' on sets needs sets, but {c.text!r} is "
                                     f"{_describe_type(c.type)}", x)
            elem = join(left.type.elem if isinstance(left.type, SetT) else ANY,
                        right.type.elem if isinstance(right.type, SetT) else ANY)
            vtype: VType = SetT(elem)
        elif op == "+" and kind(lt) == "tuple" and kind(rt) == "tuple":
            vtype = SeqT(join(element(lt) or ANY, element(rt) or ANY))
        else:
            self.need_num(left, node.left, f"'{op}'")
            self.need_num(right, node.right, f"'{op}'")
            vtype = INT if ANY not in (lt, rt) else ANY
        code = Code(self.binary(op, left, right), vtype, text, prec)
        return self.fold(code, node, left, right)

    def c_range(self, node: n.Op, as_range: bool) -> Code:
        """``a..b``: the integers from a to b, both included (empty if b < a).

        Where it is only iterated over or tested for membership it stays a ``range`` (cheap);
        elsewhere it is a frozenset, so that it compares equal to the same set of numbers.
        """
        lo, hi = self.compile(node.left), self.compile(node.right)
        self.need_num(lo, node.left, "'..'")
        self.need_num(hi, node.right, "'..'")
        text = f"{_paren(lo, _P_OPS['..'])}..{_paren(hi, _P_OPS['..'])}"
        a, b = lo.fn, hi.fn
        if as_range:
            fn = lambda s: _bounded_range(a(s), b(s))  # noqa: E731
        else:
            fn = lambda s: frozenset(_bounded_range(a(s), b(s)))  # noqa: E731
        return self.fold(Code(fn, SetT(INT), text, _P_OPS[".."]), node, lo, hi)

    # -- postfix ------------------------------------------------------------------------------

    def c_field(self, node: n.Field) -> Code:
        base_node = node.base
        if isinstance(base_node, n.Name) and base_node.id == "params" \
                and self.lookup_bound("params") is None and "params" not in self.names.fields \
                and "params" not in self.names.constants:
            if node.name not in self.names.constants:
                raise self.error(f"spec {self.names.spec.name!r} has no parameter or constant "
                                 f"{node.name!r}{did_you_mean(node.name, self.names.constants)}",
                                 node)
            value = self.names.constants[node.name]
            self.resolved.setdefault(f"params.{node.name}",
                                     f"{self.names.constant_kind(node.name)} = "
                                     f"{_show(value)}")
            return _constant(value, f"params.{node.name}")
        base = self.compile(base_node)
        text = f"{_paren(base, _P_POSTFIX - 1)}.{node.name}"
        if base.is_const and isinstance(base.const, type) and issubclass(base.const, enum.Enum):
            member = enum_member(base.const, node.name)
            if member is None:
                pool = [member_text(m) for m in base.const]
                raise self.error(f"{base.const.__name__} has no value {node.name!r}"
                                 f"{did_you_mean(node.name, pool)} (its values: "
                                 f"{', '.join(pool)})", node)
            return _constant(member, f"{base.const.__name__}.{member.name}")
        if node.name.startswith("_"):
            raise self.error(f"no field {node.name!r}: the language reads only the declared "
                             f"fields of the spec's records, never a name starting with '_'",
                             node)
        vtype = self.field_type(base, node)
        if not _all_declare(base.type, node.name):
            # The base's type is not known to be one record: check at each evaluation that
            # the value is a record declaring this field, so that nothing but a spec's own
            # data (never a method, a class or a module) can be reached through a dot.
            g, get = base.fn, _declared_field(node.name)
            return self.fold(Code(lambda s: get(g(s)), vtype, text, _P_POSTFIX), node, base)
        if base.attr is not None:
            dotted = f"{base.attr}.{node.name}" if base.attr else node.name
            get = operator.attrgetter(dotted)
            return Code(get, vtype, text, _P_POSTFIX, attr=dotted, shape=("get", get))
        g, get = base.fn, operator.attrgetter(node.name)
        if base.slot is not None:
            env, k = self.env, base.slot
            return Code(lambda s: get(env[k]), vtype, text, _P_POSTFIX,
                        shape=("slot_get", get, k))
        return self.fold(Code(lambda s: get(g(s)), vtype, text, _P_POSTFIX), node, base)

    def field_type(self, base: Code, node: n.Field) -> VType:
        t = base.type
        if isinstance(t, RecordT):
            fields = record_fields(t.cls)
            if node.name not in fields:
                raise self.error(f"{t.cls.__name__} has no field {node.name!r}"
                                 f"{did_you_mean(node.name, fields)} (its fields: "
                                 f"{', '.join(fields)})", node)
            return fields[node.name]
        if isinstance(t, UnionT):
            found: VType | None = None
            pool: list[str] = []
            for m in t.members:
                if isinstance(m, RecordT):
                    fields = record_fields(m.cls)
                    pool += list(fields)
                    if node.name in fields:
                        ft = fields[node.name]
                        found = ft if found is None else join(found, ft)
            if found is None:
                raise self.error(f"none of {t} has a field {node.name!r}"
                                 f"{did_you_mean(node.name, pool)}", node)
            return found
        if t == ANY:
            return ANY
        if isinstance(t, ClassT):
            raise self.error(f"{base.text!r} is a type: write {base.text}(...) to build one",
                             node)
        raise self.error(f"{base.text!r} is {_describe_type(t)}: it has no fields", node)

    def c_index(self, node: n.Index) -> Code:
        base, index = self.compile(node.base), self.compile(node.index)
        t = base.type
        text = f"{_paren(base, _P_POSTFIX - 1)}[{index.text}]"
        if isinstance(t, SeqT):
            self.need_num(index, node.index, "an index")
            vtype = t.elem
        elif isinstance(t, TupT):
            self.need_num(index, node.index, "an index")
            if index.is_const and isinstance(index.const, int) \
                    and -len(t.elems) <= index.const < len(t.elems):
                vtype = t.elems[index.const]
            else:
                vtype = element(t) or ANY
        elif isinstance(t, MapT):
            index = self.coerce(index, t.key, node.index)
            vtype = t.value
        elif isinstance(t, RecordT):
            self.need_num(index, node.index, "an index")
            vtype = element(t) or ANY
        elif t in (ANY, STR) or isinstance(t, UnionT):
            vtype = STR if t == STR else ANY
        elif isinstance(t, SetT):
            raise self.error(f"{base.text!r} is a set: its elements have no positions "
                             f"(use forall/exists, or min/max)", node)
        else:
            raise self.error(f"{base.text!r} is {_describe_type(t)}: it cannot be indexed", node)
        g, env = base.fn, self.env
        if index.is_const:
            c = index.const
            if base.slot is not None:
                k = base.slot
                fn = lambda s: env[k][c]  # noqa: E731
            else:
                fn = lambda s: g(s)[c]  # noqa: E731
        elif index.slot is not None:
            k = index.slot
            fn = lambda s: g(s)[env[k]]  # noqa: E731
        else:
            h = index.fn
            fn = lambda s: g(s)[h(s)]  # noqa: E731
        shape = None
        if base.shape is not None and base.shape[0] in ("get", "nget", "slot") \
                and (index.is_const or index.slot is not None):
            where = ("const", index.const) if index.is_const else ("slot", index.slot)
            shape = (f"{base.shape[0]}_{where[0]}", base.shape[1], where[1])
            fn = _read(shape, self.env, self.nxt)
        return self.fold(Code(fn, vtype, text, _P_POSTFIX, shape=shape), node, base, index)

    def c_slice(self, node: n.Slice) -> Code:
        base = self.compile(node.base)
        t = base.type
        if not (isinstance(t, (SeqT, TupT, RecordT, UnionT)) or t in (ANY, STR)):
            raise self.error(f"{base.text!r} is {_describe_type(t)}: only tuples and strings "
                             f"can be sliced", node)
        bounds = []
        for part in (node.lo, node.hi):
            if part is None:
                bounds.append(None)
                continue
            c = self.compile(part)
            self.need_num(c, part, "a slice bound")
            bounds.append(c)
        lo, hi = bounds
        text = (f"{_paren(base, _P_POSTFIX - 1)}[{lo.text if lo else ''}:"
                f"{hi.text if hi else ''}]")
        vtype = t if isinstance(t, SeqT) or t in (ANY, STR) else SeqT(element(t) or ANY)
        g = base.fn
        if lo is None and hi is not None:
            h = hi.fn
            if hi.slot is not None:
                env, k = self.env, hi.slot
                fn = lambda s: g(s)[:env[k]]  # noqa: E731
            elif hi.is_const:
                c = hi.const
                fn = lambda s: g(s)[:c]  # noqa: E731
            else:
                fn = lambda s: g(s)[:h(s)]  # noqa: E731
        else:
            a = lo.fn if lo is not None else (lambda s: None)
            b = hi.fn if hi is not None else (lambda s: None)
            fn = lambda s: g(s)[a(s):b(s)]  # noqa: E731
        kids = [base] + [c for c in bounds if c is not None]
        return self.fold(Code(fn, vtype, text, _P_POSTFIX), node, *kids)

    def c_prime(self, node: n.Prime) -> Code:
        if self.kind in ("invariant", "constraint"):
            what = "an invariant" if self.kind == "invariant" else "a state constraint"
            raise self.error(f"a primed expression ({self.src(node)}) is about the next state of "
                             f"a step, but {what} looks at one state; define it as an action "
                             f"property (--action-prop)", node)
        if self.primed:
            raise self.error("this is already inside a primed expression", node)
        self.uses_prime = True
        self.primed = True
        try:
            inner = self.compile(node.base)
        finally:
            self.primed = False
        text = inner.text if inner.text.endswith("'") else f"{_paren(inner, _P_POSTFIX - 1)}'"
        return Code(inner.fn, inner.type, text, _P_POSTFIX, const=inner.const)

    # -- binders: forall, exists, let, count, comprehensions ----------------------------------

    def domain(self, binder: n.Binder, what: str) -> tuple[Code, VType]:
        dom = self.operand(binder.domain)
        elem = self.need_iterable(dom, binder.domain, what)
        if dom.is_const and isinstance(dom.const, (frozenset, set)):
            # Iterate a constant set in a fixed order, so runs are the same under any hash seed.
            from ..values import sort_key
            ordered = tuple(sorted(dom.const, key=sort_key))
            dom = Code(lambda s, v=ordered: v, dom.type, dom.text, dom.prec, const=ordered)
        return dom, elem

    def bind(self, binder: n.Binder, elem: VType, how: str) -> int:
        if binder.name in self.names.fields or binder.name in self.names.constants:
            kind_ = "state variable" if binder.name in self.names.fields else \
                self.names.constant_kind(binder.name)
            raise self.error(f"{binder.name!r} is already a {kind_}; pick another name for the "
                             f"bound variable", binder)
        slot = self.new_slot()
        self.scopes[-1][binder.name] = _Bound(slot, elem, how=how)
        return slot

    def c_quant(self, node: n.Quant) -> Code:
        self.scopes.append({})
        try:
            levels = []
            for b in node.binders:
                dom, elem = self.domain(b, f"'{node.kind}'")
                slot = self.bind(b, elem, f"bound by {node.kind}, {elem}")
                levels.append((b, dom, slot))
            body = self.compile(node.body)
            self.need_bool(body, node.body, f"the body of '{node.kind}'")
        finally:
            self.scopes.pop()
        binders = ", ".join(f"{b.name} in {d.text}" for b, d, _ in levels)
        text = f"{node.kind} {binders}: {body.text}"
        fn = body.fn
        make = _forall if node.kind == "forall" else _exists
        for n_level, (_b, dom, slot) in enumerate(reversed(levels)):
            if n_level == 0 and body.implies is not None and node.kind == "forall":
                fn = _forall_implies(self.env, slot, dom, *body.implies)
            else:
                fn = make(self.env, slot, dom, fn)
        return Code(fn, BOOL, text, _P_OPEN)

    def c_let(self, node: n.Let) -> Code:
        self.scopes.append({})
        try:
            slots: list[tuple[int, Callable]] = []
            texts: list[str] = []
            for name, span, value_node in node.bindings:
                value = self.compile(value_node)
                if name in self.names.fields or name in self.names.constants:
                    raise self.error(f"{name!r} is already a state variable or parameter; pick "
                                     f"another name", span)
                how = f"bound by let to {value.text}"
                if value.is_const:
                    self.scopes[-1][name] = _Bound(None, value.type, value.const, how)
                else:
                    slot = self.new_slot()
                    self.scopes[-1][name] = _Bound(slot, value.type, how=how)
                    slots.append((slot, value.fn))
                texts.append(f"{name} = {value.text}")
            body = self.compile(node.body)
        finally:
            self.scopes.pop()
        fn = body.fn
        for slot, value_fn in reversed(slots):
            fn = _let(self.env, slot, value_fn, fn)
        text = f"let {', '.join(texts)} in {body.text}"
        return Code(fn, body.type, text, _P_OPEN, const=body.const)

    def assignments(self, binders: tuple[n.Binder, ...], how: str
                    ) -> tuple[Callable[[Any], Iterator[None]], str]:
        """A generator function that sets the binders' slots to each combination in turn."""
        levels = []
        for b in binders:
            dom, elem = self.domain(b, how)
            slot = self.bind(b, elem, f"bound by {how}, {elem}")
            levels.append((slot, dom.fn))
        env = self.env

        def one(slot: int, dom: Callable, inner: Callable | None) -> Callable:
            if inner is None:
                def gen(s: Any) -> Iterator[None]:
                    for x in dom(s):
                        env[slot] = x
                        yield None
            else:
                def gen(s: Any) -> Iterator[None]:
                    for x in dom(s):
                        env[slot] = x
                        yield from inner(s)
            return gen

        gen: Callable | None = None
        for slot, dom in reversed(levels):
            gen = one(slot, dom, gen)
        text = ", ".join(f"{b.name} in {self.src(b.domain)}" for b in binders)
        assert gen is not None
        return gen, text

    def c_setfilter(self, node: n.SetFilter) -> Code:
        self.scopes.append({})
        try:
            dom, elem = self.domain(node.binder, "a set filter")
            slot = self.bind(node.binder, elem, f"bound by a set filter, {elem}")
            pred = self.compile(node.pred)
            self.need_bool(pred, node.pred, "a set filter")
        finally:
            self.scopes.pop()
        env, d, p = self.env, dom.fn, pred.fn

        def filtered(s: Any) -> frozenset:
            out = []
            for x in d(s):
                env[slot] = x
                if p(s):
                    out.append(x)
            return frozenset(out)

        text = f"{{{node.binder.name} in {dom.text} : {pred.text}}}"
        return Code(filtered, SetT(elem), text)

    def c_setmap(self, node: n.SetMap) -> Code:
        self.scopes.append({})
        try:
            gen, btext = self.assignments(node.binders, "a set comprehension")
            expr = self.compile(node.expr)
        finally:
            self.scopes.pop()
        e = expr.fn
        return Code(lambda s: frozenset([e(s) for _ in gen(s)]), SetT(expr.type),
                    f"{{{expr.text} : {btext}}}")

    # -- calls --------------------------------------------------------------------------------

    def c_call(self, node: n.Call) -> Code:
        name = node.func
        if self.lookup_bound(name) is None and name in self.names.classes:
            return self.construct(node, self.names.classes[name])
        if name in _TEMPORAL:
            raise self.error(f"{name}(...) is a temporal operator: it may only be the whole of a "
                             f"property given with --prop (or under 'properties' in a config "
                             f"file), e.g. --prop 'p: {name}(...)', never inside an expression",
                             node.func_span)
        if name not in FUNCTIONS:
            pool = list(FUNCTIONS) + [c for c, k in self.names.classes.items() if is_record(k)]
            raise self.error(f"unknown function {name!r}{did_you_mean(name, pool)} (functions: "
                             f"{', '.join(FUNCTIONS)}, and record types to build a value)",
                             node.func_span)
        if node.body is not None:
            if name not in ("count", "sum", "min", "max"):
                raise self.error(f"{name}(x in S: e) is not a form of {name}: "
                                 f"{FUNCTIONS[name]}", node)
            return self.aggregate(node)
        if name == "count":
            raise self.error("count needs a condition: count(x in S: p); for the size of a "
                             "collection use len(S)", node)
        args = [self.compile(a) for a in node.args]
        return getattr(self, "f_" + name)(node, args)

    def arity(self, node: n.Call, args: list[Code], k: int) -> None:
        if len(args) != k:
            raise self.error(f"{node.func} takes {k} argument{'s' if k != 1 else ''}, "
                             f"got {len(args)}: {FUNCTIONS[node.func]}", node)

    def f_len(self, node: n.Call, args: list[Code]) -> Code:
        self.arity(node, args, 1)
        (a,) = args
        if a.type in (INT, BOOL) or isinstance(a.type, (EnumT, ClassT)):
            raise self.error(f"len needs a tuple, set or string, but {a.text!r} is "
                             f"{_describe_type(a.type)}", node.args[0])
        g = a.fn
        return self.fold(Code(lambda s: len(g(s)), INT, f"len({a.text})"), node, a)

    def f_abs(self, node: n.Call, args: list[Code]) -> Code:
        self.arity(node, args, 1)
        self.need_num(args[0], node.args[0], "abs")
        g = args[0].fn
        return self.fold(Code(lambda s: abs(g(s)), INT, f"abs({args[0].text})"), node, args[0])

    def f_type(self, node: n.Call, args: list[Code]) -> Code:
        self.arity(node, args, 1)
        g, k, env = args[0].fn, args[0].slot, self.env
        fn = (lambda s: type(env[k])) if k is not None else (lambda s: type(g(s)))
        return self.fold(Code(fn, ClassT(), f"type({args[0].text})"), node, args[0])

    def f_set(self, node: n.Call, args: list[Code]) -> Code:
        self.arity(node, args, 1)
        elem = self.need_iterable(args[0], node.args[0], "set")
        g = args[0].fn
        return self.fold(Code(lambda s: frozenset(g(s)), SetT(elem), f"set({args[0].text})"),
                         node, args[0])

    def f_sorted(self, node: n.Call, args: list[Code]) -> Code:
        self.arity(node, args, 1)
        elem = self.need_iterable(args[0], node.args[0], "sorted")
        g = args[0].fn
        return self.fold(Code(lambda s: tuple(sorted(g(s))), SeqT(elem),
                              f"sorted({args[0].text})"), node, args[0])

    def f_unchanged(self, node: n.Call, args: list[Code]) -> Code:
        if self.kind in ("invariant", "constraint"):
            raise self.error("unchanged(...) compares a state with the next one: it belongs in "
                             "an action property (--action-prop)", node)
        if not args:
            raise self.error("unchanged needs at least one expression", node)
        if self.primed:
            raise self.error("unchanged(...) inside a primed expression means nothing", node)
        self.uses_prime = True
        self.primed = True
        try:
            after = [self.compile(a) for a in node.args]
        finally:
            self.primed = False
        pairs = [(b.fn, a.fn) for b, a in zip(args, after)]
        if len(pairs) == 1:
            (b, a), = pairs
            fn = lambda s: a(s) == b(s)  # noqa: E731
        else:
            fn = lambda s: all(a(s) == b(s) for b, a in pairs)  # noqa: E731
        return Code(fn, BOOL, f"unchanged({', '.join(a.text for a in args)})")

    def f_sum(self, node: n.Call, args: list[Code]) -> Code:
        self.arity(node, args, 1)
        elem = self.need_iterable(args[0], node.args[0], "sum")
        if not _is_num(elem):
            raise self.error(f"sum needs numbers, but the elements of {args[0].text!r} are "
                             f"{_describe_type(elem)}", node.args[0])
        g = args[0].fn
        return self.fold(Code(lambda s: sum(g(s)), INT, f"sum({args[0].text})"), node, args[0])

    def f_min(self, node: n.Call, args: list[Code]) -> Code:
        return self.extremum(node, args, min)

    def f_max(self, node: n.Call, args: list[Code]) -> Code:
        return self.extremum(node, args, max)

    def extremum(self, node: n.Call, args: list[Code], pick: Callable) -> Code:
        if not args:
            raise self.error(f"{node.func} needs arguments: {FUNCTIONS[node.func]}", node)
        text = f"{node.func}({', '.join(a.text for a in args)})"
        if len(args) == 1:
            elem = self.need_iterable(args[0], node.args[0], node.func)
            g = args[0].fn
            return self.fold(Code(lambda s: pick(g(s)), elem, text), node, args[0])
        vtype: VType = args[0].type
        for a in args[1:]:
            vtype = join(vtype, a.type)
        fns = tuple(a.fn for a in args)
        return self.fold(Code(lambda s: pick([f(s) for f in fns]), vtype, text), node, *args)

    def aggregate(self, node: n.Call) -> Code:
        name = node.func
        assert node.body is not None
        self.scopes.append({})
        try:
            gen, btext = self.assignments(node.binders, f"{name}(...)")
            body = self.compile(node.body)
        finally:
            self.scopes.pop()
        e = body.fn
        text = f"{name}({btext}: {body.text})"
        if name == "count":
            self.need_bool(body, node.body, "count's condition")
            return Code(lambda s: sum(1 for _ in gen(s) if e(s)), INT, text)
        if name == "sum":
            self.need_num(body, node.body, "sum")
            return Code(lambda s: sum([e(s) for _ in gen(s)]), INT, text)
        pick = min if name == "min" else max
        return Code(lambda s: pick([e(s) for _ in gen(s)]), body.type, text)

    def construct(self, node: n.Call, cls: type) -> Code:
        if issubclass(cls, enum.Enum):
            raise self.error(f"{cls.__name__} is an enum: name its values as "
                             f"{cls.__name__}.{next(iter(cls)).name} or as the string "
                             f"{member_text(next(iter(cls)))!r}", node)
        if node.body is not None:
            raise self.error(f"{cls.__name__}(...) takes values, not a binder", node)
        fields = record_fields(cls)
        required = [f for f in cls._fields if f not in getattr(cls, "_field_defaults", {})]
        if not len(required) <= len(node.args) <= len(cls._fields):
            raise self.error(f"{cls.__name__} has {len(cls._fields)} field"
                             f"{'s' if len(cls._fields) != 1 else ''} ({', '.join(cls._fields)}),"
                             f" got {len(node.args)} value{'s' if len(node.args) != 1 else ''}",
                             node)
        args = []
        for a_node, fname in zip(node.args, cls._fields):
            a = self.coerce(self.compile(a_node), fields[fname], a_node)
            args.append(a)
        self.resolved.setdefault(cls.__name__, f"the record type {cls.__name__}"
                                               f"({', '.join(cls._fields)})")
        fns = tuple(a.fn for a in args)
        text = f"{cls.__name__}({', '.join(a.text for a in args)})"
        if len(fns) == 1:
            (a,) = fns
            fn = lambda s: cls(a(s))  # noqa: E731
        elif len(fns) == 2:
            a, b = fns
            fn = lambda s: cls(a(s), b(s))  # noqa: E731
        elif len(fns) == 3:
            a, b, c = fns
            fn = lambda s: cls(a(s), b(s), c(s))  # noqa: E731
        else:
            fn = lambda s: cls(*[f(s) for f in fns])  # noqa: E731
        return self.fold(Code(fn, RecordT(cls), text), node, *args) if args else \
            _constant(cls(), text, RecordT(cls))


MAX_RANGE = 10_000_000
"""The most numbers a range ``a..b`` may hold: a range is iterated lazily, but a quantifier
over more numbers than this would run for hours, and a set of them would not fit in memory."""


def _bounded_range(lo: int, hi: int) -> range:
    r = range(lo, hi + 1)
    if len(r) > MAX_RANGE:
        raise ValueError(f"the range {lo}..{hi} holds {len(r):,} numbers; the language "
                         f"evaluates ranges of at most {MAX_RANGE:,}")
    return r


def _all_declare(t: VType, name: str) -> bool:
    """Whether every value of type ``t`` is a record declaring the field ``name``."""
    if isinstance(t, RecordT):
        return name in t.cls._fields
    if isinstance(t, UnionT):
        return all(isinstance(m, RecordT) and name in m.cls._fields for m in t.members)
    return False


def _declared_field(name: str) -> Callable[[Any], Any]:
    """``value.name`` for a record (NamedTuple) declaring the field ``name``; else an error."""

    def get(value: Any) -> Any:
        cls = type(value)
        if isinstance(value, tuple) and name in getattr(cls, "_fields", ()):
            return getattr(value, name)
        raise AttributeError(f"{format_value(value)} has no field {name!r} (only the declared "
                        f"fields of the spec's records can be read)")

    return get


# -- closure factories (each in its own function so loop variables are captured by value) ----

def _and(fns: list[Callable], exact: bool) -> Callable[[Any], bool]:
    if len(fns) == 2:
        a, b = fns
        return (lambda s: a(s) and b(s)) if exact else (lambda s: bool(a(s) and b(s)))
    if len(fns) == 3:
        a, b, c = fns
        return (lambda s: a(s) and b(s) and c(s)) if exact else \
            (lambda s: bool(a(s) and b(s) and c(s)))
    seq = tuple(fns)

    def all_of(s: Any) -> bool:
        for f in seq:  # noqa: SIM110 - a loop is faster than all() over a generator
            if not f(s):
                return False
        return True

    return all_of


def _or(fns: list[Callable], exact: bool) -> Callable[[Any], bool]:
    if len(fns) == 2:
        a, b = fns
        return (lambda s: a(s) or b(s)) if exact else (lambda s: bool(a(s) or b(s)))
    if len(fns) == 3:
        a, b, c = fns
        return (lambda s: a(s) or b(s) or c(s)) if exact else \
            (lambda s: bool(a(s) or b(s) or c(s)))
    seq = tuple(fns)

    def any_of(s: Any) -> bool:
        for f in seq:  # noqa: SIM110 - a loop is faster than any() over a generator
            if f(s):
                return True
        return False

    return any_of


def _forall(env: list, slot: int, dom: Code, body: Callable) -> Callable[[Any], bool]:
    if dom.is_const:
        values = dom.const if isinstance(dom.const, range) else tuple(dom.const)

        def forall_const(s: Any) -> bool:
            for x in values:
                env[slot] = x
                if not body(s):
                    return False
            return True

        return forall_const
    d = dom.fn

    def forall(s: Any) -> bool:
        for x in d(s):
            env[slot] = x
            if not body(s):
                return False
        return True

    return forall


def _forall_implies(env: list, slot: int, dom: Code, guard: Callable,
                    then: Callable) -> Callable[[Any], bool]:
    """forall x in S: a => b, with the implication inlined in the loop (one call less)."""
    if dom.is_const:
        values = dom.const if isinstance(dom.const, range) else tuple(dom.const)

        def forall_implies_const(s: Any) -> bool:
            for x in values:
                env[slot] = x
                if guard(s) and not then(s):
                    return False
            return True

        return forall_implies_const
    d = dom.fn

    def forall_implies(s: Any) -> bool:
        for x in d(s):
            env[slot] = x
            if guard(s) and not then(s):
                return False
        return True

    return forall_implies


def _exists(env: list, slot: int, dom: Code, body: Callable) -> Callable[[Any], bool]:
    if dom.is_const:
        values = dom.const if isinstance(dom.const, range) else tuple(dom.const)

        def exists_const(s: Any) -> bool:
            for x in values:
                env[slot] = x
                if body(s):
                    return True
            return False

        return exists_const
    d = dom.fn

    def exists(s: Any) -> bool:
        for x in d(s):
            env[slot] = x
            if body(s):
                return True
        return False

    return exists


def _let(env: list, slot: int, value: Callable, body: Callable) -> Callable[[Any], Any]:
    def let(s: Any) -> Any:
        env[slot] = value(s)
        return body(s)

    return let


# -- the entry point ---------------------------------------------------------------------------

_KIND_WORDS = {"invariant": "invariant", "action_property": "action property",
               "constraint": "constraint"}


def compile_expression(spec: Spec, text: str, *, kind: str = "invariant",
                       name: str = "") -> Compiled:
    """Compile ``text`` for ``spec`` as an invariant, an action property or a constraint.

    ``kind="auto"`` makes it an action property if it uses primes, else an invariant. Raises
    ExpressionError (a UsageError) for syntax, name and type errors; the returned function
    raises EvaluationError (a SpecError) if the expression fails on some state.
    """
    label = f"{_KIND_WORDS.get(kind, 'expression')} {name!r}" if name else \
        _KIND_WORDS.get(kind, "expression")
    try:
        tree = parse(text)
        names = SpecNames.of(spec)
        comp = _Compiler(names, text, kind)
        root = comp.compile(tree)
        if kind == "auto":
            kind = "action_property" if comp.uses_prime else "invariant"
            label = f"{_KIND_WORDS[kind]} {name!r}" if name else _KIND_WORDS[kind]
        comp.need_bool(root, tree, f"{'an' if kind != 'constraint' else 'a'} {_KIND_WORDS[kind]}")
    except ExpressionError as exc:
        raise exc.located(label) from None
    fn = _entry(spec, names, tree, text, kind, label, root, comp)
    return Compiled(name=name, text=text, kind=kind, fn=fn, rendered=root.text, type=root.type,
                    names=list(comp.resolved.items()), uses_prime=comp.uses_prime)


def _entry(spec: Spec, names: SpecNames, tree: n.Node, text: str, kind: str, label: str,
           root: Code, comp: _Compiler) -> Callable[..., bool]:
    """The function the engine calls, with the error report for an expression that raises."""
    body = root.fn

    def fail(exc: BaseException, s: Any, t: Any = None) -> EvaluationError:
        return _evaluation_error(spec, names, tree, text, kind, label, exc, s, t)

    if kind == "action_property":
        nxt = comp.nxt

        def action_property(s: Any, t: Any) -> bool:
            nxt[0] = t
            try:
                return body(s)
            except Exception as exc:
                raise fail(exc, s, t) from exc

        return action_property

    def predicate(s: Any) -> bool:
        try:
            return body(s)
        except Exception as exc:
            raise fail(exc, s) from exc

    return predicate


def _evaluation_error(spec: Spec, names: SpecNames, tree: n.Node, text: str, kind: str,
                      label: str, exc: BaseException, s: Any, t: Any) -> EvaluationError:
    """Re-run the expression with every node reporting failures, to say which one raised."""
    from .errors import snippet

    node: n.Node = tree
    cause: BaseException = exc
    bound: list[tuple[str, Any]] = []
    try:
        debug = _Compiler(names, text, kind, debug=True)
        fn = debug.compile(tree).fn
        debug.nxt[0] = t
        fn(s)
    except _Located as located:
        node, cause, bound = located.node, located.cause, located.bound
    except Exception:  # the located run failed differently: report the original failure
        pass
    line = text.count("\n", 0, node.span[0]) + 1
    col = node.span[0] - (text.rfind("\n", 0, node.span[0]) + 1) + 1
    part = text[node.span[0]:node.span[1]]
    lines = [f"{label}: evaluating {part!r} (line {line}, column {col}) raised "
             f"{type(cause).__name__}: {cause}", snippet(text, *node.span)]
    if bound:
        lines.append("  with " + ", ".join(f"{k} = {format_value(v)}" for k, v in bound))
    if t is None:
        lines.append(f"  in the state {format_value(s)}")
    else:
        lines.append(f"  on the step from {format_value(s)}\n  to {format_value(t)}")
    return EvaluationError("\n".join(lines), spec=spec.name, cause=cause)
