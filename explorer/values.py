"""Generic views of spec values: short text, state variables, and step-by-step changes.

These work on any state a spec may use (NamedTuples, tuples, frozensets, dicts, enums, ints,
strings), so renderers and the CLI can show a state without knowing the spec.
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = ["Atom", "changed_vars", "except_at", "format_value", "sort_key", "state_vars"]


class Atom(str):
    """An enum member read back from a saved trace: a string that prints like the enum did."""

    __slots__ = ()


def except_at(t: tuple, i: int, v: Any) -> tuple:
    """TLA+'s ``[t EXCEPT ![i] = v]`` for a tuple: a copy of ``t`` with position ``i`` set to ``v``.

    The update every spec with per-process tuples needs, on the hot path of its actions.
    """
    return t[:i] + (v,) + t[i + 1:]


def sort_key(value: Any) -> tuple:
    """A total order on mixed values, the same under every PYTHONHASHSEED.

    For printing sets the same way every time, and for specs that want a deterministic order
    over a set-valued domain: ``from_state(lambda s: sorted(s.msgs, key=sort_key))``.
    """
    if isinstance(value, enum.Enum):
        return (1, 0, str(value.name))
    if isinstance(value, bool):
        return (0, int(value), "")
    if isinstance(value, (int, float)):
        return (0, value, "")
    if isinstance(value, str):
        return (2, 0, value)
    if isinstance(value, tuple):
        return (3, len(value), tuple(sort_key(v) for v in value))
    if isinstance(value, (frozenset, set)):
        # By content, not repr: a set's repr follows its hash order, which PYTHONHASHSEED moves.
        return (4, len(value), tuple(sorted(sort_key(v) for v in value)))
    if value is None:
        return (5, 0, "")
    return (6, 0, repr(value))


def format_value(value: Any) -> str:
    """A short, stable, human-readable rendering of a spec value."""
    if isinstance(value, enum.Enum):
        return _atom_text(value.name)
    if isinstance(value, Atom):
        return _atom_text(str(value))
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (frozenset, set)):
        items = sorted(value, key=sort_key)
        return "{" + ", ".join(format_value(v) for v in items) + "}"
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        inner = ", ".join(f"{f}={format_value(getattr(value, f))}" for f in value._fields)
        return f"{type(value).__name__}({inner})"
    if isinstance(value, tuple):
        if len(value) == 1:
            return "(" + format_value(value[0]) + ",)"
        return "(" + ", ".join(format_value(v) for v in value) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: sort_key(kv[0]))
        return "{" + ", ".join(f"{format_value(k)}: {format_value(v)}" for k, v in items) + "}"
    return repr(value) if isinstance(value, str) else str(value)


def _atom_text(name: str) -> str:
    # Enum members are written UPPER_CASE in Python but read best as TLA+'s lower-case strings.
    return name.lower() if name.isupper() else name


def state_vars(state: Any) -> dict[str, Any]:
    """The named variables of a state: a NamedTuple's fields, a dict's keys, else ``state``."""
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return {f: getattr(state, f) for f in state._fields}
    if isinstance(state, dict):
        return dict(state)
    return {"state": state}


def changed_vars(before: Any, after: Any) -> dict[str, Any]:
    """The variables of ``after`` whose values differ from ``before`` (all of them if None)."""
    new = state_vars(after)
    if before is None:
        return new
    old = state_vars(before)
    return {k: v for k, v in new.items() if k not in old or old[k] != v}
