"""What changed in one step, as short sentences: ``rm_state[0]: working → aborted``.

A whole-variable "old → new" is unreadable when the variable is a tuple with one entry per
process or a set of fifty messages, so changes are described at the smallest part that changed:
the entries of a tuple, the fields of a record, the keys of a map, the elements added to or
removed from a set. Used by the sequence chart (truncated) and the HTML report (in full).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..chart_hints import messages_of
from ..values import format_value, sort_key, state_vars

__all__ = ["Change", "describe_changes", "shorten"]

# Past this many changed parts a variable is described whole: "v: old → new".
MAX_PARTS = 3


@dataclass(frozen=True)
class Change:
    """One changed part of a state: ``path`` (e.g. ``rm_state[0]``), and how it changed."""

    variable: str
    path: str
    before: str | None  # None for elements added to a set
    after: str | None  # None for elements removed from a set
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def text(self, width: int | None = None) -> str:
        """``path: before → after`` or ``path: +{a, b} −{c}``, each value cut to ``width``."""
        if self.added or self.removed:
            parts = []
            if self.added:
                parts.append("+{" + shorten(", ".join(self.added), width) + "}")
            if self.removed:
                parts.append("−{" + shorten(", ".join(self.removed), width) + "}")
            return f"{self.path}: {' '.join(parts)}"
        before, after = shorten(self.before or "", width), shorten(self.after or "", width)
        return f"{self.path}: {before} → {after}"


def shorten(text: str, width: int | None) -> str:
    """``text`` cut to ``width`` characters with an ellipsis (unchanged if width is None)."""
    if width is None or len(text) <= width:
        return text
    return text[: max(1, width - 1)] + "…"


def describe_changes(before: Any, after: Any, *, skip: frozenset[str] | set[str] = frozenset(),
                     bags: frozenset[str] | set[str] = frozenset()) -> list[Change]:
    """The changes from state ``before`` to state ``after``, variable by variable.

    Variables named in ``skip`` (message variables, drawn as arrows instead) are left out.
    Those named in ``bags`` hold messages however they are stored (a sorted tuple, counts...):
    they are described by the messages that came and went, not position by position.
    """
    old_vars, new_vars = state_vars(before), state_vars(after)
    out: list[Change] = []
    for name, new in new_vars.items():
        if name in skip:
            continue
        old = old_vars.get(name)
        if name in old_vars and old == new:
            continue
        if name in bags and name in old_vars:
            gone, came = messages_of(old), messages_of(new)
            added = tuple(format_value(m) for m in _elements(came - gone))
            removed = tuple(format_value(m) for m in _elements(gone - came))
            out.append(Change(name, name, None, None, added, removed))
            continue
        out.extend(_diff(name, name, old, new))
    return out


def _elements(bag: Counter) -> list[Any]:
    return sorted((m for (m, _box), n in bag.items() for _ in range(n)), key=sort_key)


def _diff(var: str, path: str, old: Any, new: Any) -> list[Change]:
    whole = [Change(var, path, format_value(old), format_value(new))]
    if isinstance(old, (frozenset, set)) and isinstance(new, (frozenset, set)):
        added = tuple(format_value(v) for v in sorted(new - old, key=sort_key))
        removed = tuple(format_value(v) for v in sorted(old - new, key=sort_key))
        return [Change(var, path, None, None, added, removed)]
    if _is_record(old) and _is_record(new) and old._fields == new._fields:
        parts = [(f"{path}.{f}", getattr(old, f), getattr(new, f)) for f in old._fields
                 if getattr(old, f) != getattr(new, f)]
    elif (isinstance(old, tuple) and isinstance(new, tuple) and not _is_record(old)
          and not _is_record(new) and len(old) == len(new)):
        parts = [(f"{path}[{i}]", a, b) for i, (a, b) in enumerate(zip(old, new)) if a != b]
    elif isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(set(old) | set(new), key=sort_key)
        parts = [(f"{path}[{format_value(k)}]", old.get(k), new.get(k)) for k in keys
                 if old.get(k) != new.get(k)]
    else:
        return whole
    if not parts or len(parts) > MAX_PARTS:
        return whole
    out: list[Change] = []
    for p, a, b in parts:
        out.extend(_diff(var, p, a, b))
    return out


def _is_record(value: Any) -> bool:
    return isinstance(value, tuple) and hasattr(value, "_fields")
