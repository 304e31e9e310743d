"""The static types the compiler tracks, read off a spec's annotations and its initial state.

Types serve two ends: catching mistakes before a run (``len`` of an enum, a field a record does
not have, comparing a number with a string) and deciding once, at compile time, what a string
literal means (``"committed"`` next to an ``RMState`` is ``RMState.COMMITTED``), so the check
itself pays nothing for it. Where nothing is known the type is ``ANY`` and the compiler falls
back to checks at run time; a type is never a reason to reject an expression it cannot judge.
"""

from __future__ import annotations

import enum
import typing
from dataclasses import dataclass
from functools import cache
from types import UnionType
from typing import Any

__all__ = [
    "ANY", "BOOL", "INT", "STR", "AnyT", "ClassT", "EnumT", "MapT", "RecordT", "SeqT", "SetT",
    "TupT", "UnionT", "VType", "element", "enum_member", "enums_in", "from_hint", "is_record",
    "join", "kind", "member_text", "of_value", "record_fields",
]


class VType:
    """Base of the static types."""

    def describe(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.describe()


@dataclass(frozen=True)
class AnyT(VType):
    def describe(self) -> str:
        return "any"


@dataclass(frozen=True)
class Scalar(VType):
    name: str

    def describe(self) -> str:
        return self.name


ANY = AnyT()
INT = Scalar("int")
BOOL = Scalar("bool")
STR = Scalar("str")


@dataclass(frozen=True)
class EnumT(VType):
    cls: type

    def describe(self) -> str:
        return self.cls.__name__


@dataclass(frozen=True)
class RecordT(VType):
    """A NamedTuple class (a state, a message)."""

    cls: type

    def describe(self) -> str:
        return self.cls.__name__


@dataclass(frozen=True)
class SeqT(VType):
    """A tuple used as a sequence: every element of one type."""

    elem: VType

    def describe(self) -> str:
        return f"tuple[{self.elem}, ...]"


@dataclass(frozen=True)
class TupT(VType):
    """A tuple of fixed length whose positions have their own types."""

    elems: tuple[VType, ...]

    def describe(self) -> str:
        return "tuple[" + ", ".join(map(str, self.elems)) + "]"


@dataclass(frozen=True)
class SetT(VType):
    elem: VType

    def describe(self) -> str:
        return f"frozenset[{self.elem}]"


@dataclass(frozen=True)
class MapT(VType):
    key: VType
    value: VType

    def describe(self) -> str:
        return f"dict[{self.key}, {self.value}]"


@dataclass(frozen=True)
class UnionT(VType):
    members: tuple[VType, ...]

    def describe(self) -> str:
        return " | ".join(map(str, self.members))


@dataclass(frozen=True)
class ClassT(VType):
    """A class as a value: what ``type(x)`` gives, and what a record or enum name means."""

    def describe(self) -> str:
        return "type"


def is_record(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")


def _is_enum(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, enum.Enum)


def from_hint(hint: Any) -> VType:
    """The type of an annotation (``tuple[RMState, ...]``, ``frozenset[Msg]``, ``int``)."""
    if hint is Any or hint is None:
        return ANY
    if _is_enum(hint):
        return EnumT(hint)
    if hint is bool:
        return BOOL
    if hint is int:
        return INT
    if hint is str:
        return STR
    if is_record(hint):
        return RecordT(hint)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return SeqT(from_hint(args[0]))
        if args == ((),):
            return TupT(())
        return TupT(tuple(from_hint(a) for a in args)) if args else SeqT(ANY)
    if origin in (frozenset, set):
        return SetT(from_hint(args[0]) if args else ANY)
    if origin is dict:
        return MapT(*(from_hint(a) for a in args)) if len(args) == 2 else MapT(ANY, ANY)
    if origin is typing.Union or origin is UnionType or isinstance(hint, UnionType):
        return _union([from_hint(a) for a in args])
    if hint in (tuple,):
        return SeqT(ANY)
    if hint in (frozenset, set):
        return SetT(ANY)
    return ANY


def _union(members: list[VType]) -> VType:
    flat: list[VType] = []
    for m in members:
        for x in (m.members if isinstance(m, UnionT) else (m,)):
            if x not in flat:
                flat.append(x)
    if any(x == ANY for x in flat):
        return ANY
    return flat[0] if len(flat) == 1 else UnionT(tuple(flat))


def join(a: VType, b: VType) -> VType:
    """The least type holding both (a union of records and enums, else ANY)."""
    if a == b:
        return a
    if {a, b} <= {INT, BOOL}:
        return INT
    parts = _union([a, b])
    if isinstance(parts, UnionT) and all(isinstance(m, (RecordT, EnumT, ClassT, Scalar))
                                         for m in parts.members):
        return parts
    return parts if not isinstance(parts, UnionT) else ANY


def of_value(v: Any) -> VType:
    """The type of a value (a parameter, a spec constant, a field of the initial state)."""
    if isinstance(v, bool):
        return BOOL
    if isinstance(v, enum.Enum):
        return EnumT(type(v))
    if isinstance(v, int):
        return INT
    if isinstance(v, str):
        return STR
    if isinstance(v, type):
        return ClassT()
    if is_record(type(v)):
        return RecordT(type(v))
    if isinstance(v, range):
        return SetT(INT)
    if isinstance(v, tuple):
        types = [of_value(x) for x in v]
        if not types:
            return SeqT(ANY)
        if all(t == types[0] for t in types):
            return SeqT(types[0])
        return TupT(tuple(types))
    if isinstance(v, (frozenset, set)):
        t: VType | None = None
        for x in v:
            t = of_value(x) if t is None else join(t, of_value(x))
        return SetT(t if t is not None else ANY)
    if isinstance(v, dict):
        kt: VType | None = None
        vt: VType | None = None
        for k, x in v.items():
            kt = of_value(k) if kt is None else join(kt, of_value(k))
            vt = of_value(x) if vt is None else join(vt, of_value(x))
        return MapT(kt or ANY, vt or ANY)
    return ANY


@cache
def record_fields(cls: type) -> dict[str, VType]:
    """A NamedTuple's fields and their types (ANY where the annotation cannot be resolved)."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # an annotation naming something out of reach: fall back to ANY
        hints = {}
    return {f: from_hint(hints.get(f, Any)) for f in cls._fields}


def element(t: VType) -> VType | None:
    """The type of the elements met when iterating over a ``t`` (None: not iterable)."""
    if isinstance(t, (SeqT, SetT)):
        return t.elem
    if isinstance(t, TupT):
        out: VType | None = None
        for e in t.elems:
            out = e if out is None else join(out, e)
        return out or ANY
    if isinstance(t, MapT):
        return t.key
    if t == STR:
        return STR
    if isinstance(t, RecordT):
        out = None
        for e in record_fields(t.cls).values():
            out = e if out is None else join(out, e)
        return out or ANY
    if t == ANY or isinstance(t, UnionT):
        return ANY
    return None


def kind(t: VType) -> str | None:
    """A coarse family for 'these can never be equal' checks (None: unknown or mixed)."""
    if t in (INT, BOOL) or isinstance(t, EnumT):
        return "number"
    if t == STR:
        return "string"
    if isinstance(t, (SeqT, TupT, RecordT)):
        return "tuple"
    if isinstance(t, SetT):
        return "set"
    if isinstance(t, MapT):
        return "dict"
    if isinstance(t, ClassT):
        return "type"
    return None


def enums_in(t: VType) -> list[type]:
    """The enum classes a value of type ``t`` may belong to (at the top level)."""
    if isinstance(t, EnumT):
        return [t.cls]
    if isinstance(t, UnionT):
        return [m.cls for m in t.members if isinstance(m, EnumT)]
    return []


def member_text(member: enum.Enum) -> str:
    """How an enum member is written as a string: its lower-cased name, as traces print it."""
    return member.name.lower() if member.name.isupper() else member.name


def enum_member(cls: type, text: str) -> enum.Enum | None:
    """The member of ``cls`` named ``text`` (its lower-cased name, or its exact Python name)."""
    for m in cls:  # type: ignore[attr-defined]
        if text == member_text(m) or text == m.name:
            return m
    return None
