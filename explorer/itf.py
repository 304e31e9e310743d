"""Traces in the Informal Trace Format (ITF), the JSON trace format of Apalache and Quint.

Format reference: Apalache ADR-015 "Informal Trace Format". A file is one JSON object with
``#meta``, ``vars`` and ``states``; each state is an object of variable values plus its own
``#meta``. Values are encoded as ITF prescribes:

* int -> ``{"#bigint": "42"}``; bool and str as JSON; list -> JSON array (a sequence);
* tuple -> ``{"#tup": [...]}``; frozenset/set -> ``{"#set": [...]}`` (sorted, for stable files);
  dict -> ``{"#map": [[k, v], ...]}``;
* a NamedTuple nested in a state (a message, say) -> a variant ``{"tag": "Prepared",
  "value": {record}}``; an enum member -> a unit variant ``{"tag": "COMMITTED", "value":
  {"#tup": []}}``; None -> the unit variant ``None``.

A liveness counterexample (a lasso) carries ``"loop"`` in the file's ``#meta``: the number of
the state where its cycle starts (see result.Trace). protospec also writes, in each state's
``#meta``, the action taken and its arguments, so a
saved counterexample keeps its labels, and in the file's ``#meta`` under ``chart`` any hints
for message sequence charts (explorer.chart_hints), so a chart drawn from the file is as clear
as one drawn from the spec. Reading gives back plain values: NamedTuples of the
same type names and fields, ``Atom`` strings for enum members. ``show`` needs no spec.
"""

from __future__ import annotations

import collections
import enum
import json
from functools import cache
from pathlib import Path
from typing import Any

from .errors import TraceFormatError
from .result import Step, Trace
from .values import Atom, sort_key, state_vars

__all__ = ["Atom", "decode_value", "encode_value", "read_trace", "trace_from_itf",
           "trace_to_itf", "write_trace"]

FORMAT_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"


def encode_value(value: Any) -> Any:
    """Encode one Python spec value as an ITF JSON value."""
    if value is None:
        return {"tag": "None", "value": {"#tup": []}}
    if isinstance(value, bool):
        return value
    if isinstance(value, enum.Enum):  # before int: IntEnum members are ints too
        return {"tag": value.name, "value": {"#tup": []}}
    if isinstance(value, int):
        return {"#bigint": str(value)}
    if isinstance(value, float):
        return value
    if isinstance(value, Atom):
        return {"tag": str(value), "value": {"#tup": []}}
    if isinstance(value, str):
        return value
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        record = {f: encode_value(getattr(value, f)) for f in value._fields}
        return {"tag": type(value).__name__, "value": record}
    if isinstance(value, tuple):
        return {"#tup": [encode_value(v) for v in value]}
    if isinstance(value, (frozenset, set)):
        return {"#set": [encode_value(v) for v in sorted(value, key=sort_key)]}
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: sort_key(kv[0]))
        return {"#map": [[encode_value(k), encode_value(v)] for k, v in items]}
    if isinstance(value, list):
        return [encode_value(v) for v in value]
    return {"#unserializable": repr(value)}


@cache
def _record_type(name: str, fields: tuple[str, ...]) -> type:
    return collections.namedtuple(name, fields)  # type: ignore[misc]


def decode_value(raw: Any, where: str = "value") -> Any:
    """Decode an ITF JSON value into a plain, hashable Python value."""
    if isinstance(raw, (bool, str)):
        return raw
    if isinstance(raw, (int, float)):
        return raw
    if isinstance(raw, list):
        return tuple(decode_value(v, f"{where}[{i}]") for i, v in enumerate(raw))
    if not isinstance(raw, dict):
        raise TraceFormatError(f"{where}: cannot decode {raw!r}")
    if "#bigint" in raw:
        try:
            return int(raw["#bigint"])
        except (TypeError, ValueError):
            raise TraceFormatError(f"{where}: bad #bigint {raw['#bigint']!r}") from None
    for tag in ("#tup", "#set", "#map"):
        if tag in raw and not isinstance(raw[tag], list):
            raise TraceFormatError(f"{where}: {tag} must be a JSON array, not "
                                   f"{json.dumps(raw[tag])[:40]}")
    if "#tup" in raw:
        return tuple(decode_value(v, f"{where}.#tup[{i}]") for i, v in enumerate(raw["#tup"]))
    if "#set" in raw:
        try:
            return frozenset(decode_value(v, f"{where}.#set") for v in raw["#set"])
        except TypeError:
            raise TraceFormatError(f"{where}: a #set cannot hold a #map") from None
    if "#map" in raw:
        try:
            return {decode_value(k, f"{where}.#map"): decode_value(v, f"{where}.#map")
                    for k, v in raw["#map"]}
        except (TypeError, ValueError):
            raise TraceFormatError(f"{where}: #map must be a list of [key, value] pairs") from None
    if "#unserializable" in raw:
        return Atom(str(raw["#unserializable"]))
    if set(raw) == {"tag", "value"} and isinstance(raw["tag"], str):
        tag, inner = raw["tag"], raw["value"]
        if inner == {"#tup": []} or inner == {}:
            return None if tag == "None" else Atom(tag)
        if isinstance(inner, dict) and not any(k.startswith("#") for k in inner):
            if not tag.isidentifier():
                raise TraceFormatError(f"{where}: variant tag {tag!r} is not a name")
            try:
                cls = _record_type(tag, tuple(inner))
            except ValueError as exc:  # a keyword, a repeated or an underscore field name
                raise TraceFormatError(f"{where}: record {tag!r}: {exc}") from None
            return cls(*(decode_value(v, f"{where}.{k}") for k, v in inner.items()))
        return (Atom(tag), decode_value(inner, f"{where}.value"))
    # A plain record.
    try:
        cls = _record_type("Record", tuple(raw))
    except ValueError:
        raise TraceFormatError(f"{where}: record field names must be identifiers") from None
    return cls(*(decode_value(v, f"{where}.{k}") for k, v in raw.items()))


def trace_to_itf(trace: Trace, *, description: str = "",
                 violation: str | None = None) -> dict[str, Any]:
    """The ITF JSON object for ``trace``."""
    names = trace.var_names()
    meta: dict[str, Any] = {
        "format": "ITF",
        "format-description": FORMAT_DESCRIPTION,
        "source": trace.spec,
        "description": description or f"protospec trace of {trace.spec}",
        "params": {k: encode_value(v) for k, v in trace.params.items()},
        "variant": trace.variant,
        "state-kind": "record" if _is_record(trace) else "single",
    }
    if violation:
        meta["violation"] = violation
    if trace.loop is not None:
        # A lasso: the behaviour repeats from state "loop" forever (its last state equals
        # state "loop", or is state "loop" itself when it stutters there).
        meta["loop"] = trace.loop
    if trace.chart:
        meta["chart"] = _encode_chart(trace.chart)
    states = []
    for i, st in enumerate(trace.steps):
        smeta: dict[str, Any] = {"index": i}
        if st.action is not None:
            smeta["action"] = st.action
            smeta["args"] = {k: encode_value(v) for k, v in st.args.items()}
        values = state_vars(st.state)
        states.append({"#meta": smeta, **{k: encode_value(v) for k, v in values.items()}})
    out = {"#meta": meta, "vars": names, "states": states}
    if _is_record(trace) and trace.steps:
        out["#meta"]["state-type"] = type(trace.steps[0].state).__name__
    return out


def _is_record(trace: Trace) -> bool:
    return bool(trace.steps) and hasattr(trace.steps[0].state, "_fields")


def trace_from_itf(data: Any, source: str = "trace") -> Trace:
    """Rebuild a Trace (with plain values) from an ITF JSON object."""
    if not isinstance(data, dict) or "states" not in data or "vars" not in data:
        raise TraceFormatError(
            f"{source}: not an ITF trace (expected a JSON object with 'vars' and 'states')"
        )
    meta = data.get("#meta") or {}
    if not isinstance(meta, dict):
        raise TraceFormatError(f"{source}: '#meta' must be a JSON object")
    names = data["vars"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise TraceFormatError(f"{source}: 'vars' must be a list of variable names")
    if not isinstance(data["states"], list):
        raise TraceFormatError(f"{source}: 'states' must be a list")
    kind = meta.get("state-kind", "record")
    state_cls = None
    if kind != "single":
        try:
            state_cls = _record_type(str(meta.get("state-type", "State")), tuple(names))
        except ValueError:
            raise TraceFormatError(f"{source}: variable names must be identifiers") from None
    steps: list[Step] = []
    for i, raw in enumerate(data["states"]):
        where = f"{source}: state {i}"
        if not isinstance(raw, dict):
            raise TraceFormatError(f"{where} is not a JSON object")
        missing = [n for n in names if n not in raw]
        if missing:
            raise TraceFormatError(f"{where} lacks variable {missing[0]!r}")
        values = [decode_value(raw[n], f"{where}, variable {n!r}") for n in names]
        state = state_cls(*values) if state_cls is not None else values[0]
        smeta = raw.get("#meta") or {}
        if not isinstance(smeta, dict):
            raise TraceFormatError(f"{where}: '#meta' must be a JSON object")
        action = smeta.get("action") if i > 0 else None
        if action is not None and not isinstance(action, str):
            raise TraceFormatError(f"{where}: '#meta.action' must be a string")
        args_raw = smeta.get("args") or {}
        if not isinstance(args_raw, dict):
            raise TraceFormatError(f"{where}: '#meta.args' must be an object")
        args = {k: decode_value(v, f"{where}, argument {k!r}") for k, v in args_raw.items()}
        if i > 0 and action is None:
            action = "step"  # a trace from another tool: no label recorded
        steps.append(Step(action, args, state))
    params_raw = meta.get("params") or {}
    if not isinstance(params_raw, dict):
        raise TraceFormatError(f"{source}: '#meta.params' must be a JSON object")
    params = {k: decode_value(v, f"{source}: parameter {k!r}") for k, v in params_raw.items()}
    chart = _decode_chart(meta["chart"], source) if meta.get("chart") else None
    loop = meta.get("loop", data.get("loop"))
    if loop is not None and (not isinstance(loop, int) or isinstance(loop, bool)
                             or not 0 <= loop < len(steps)):
        raise TraceFormatError(f"{source}: '#meta.loop' must be the number of a state "
                               f"(0..{len(steps) - 1}), not {loop!r}")
    return Trace(steps, spec=str(meta.get("source", "")), params=params,
                 variant=meta.get("variant"), chart=chart, loop=loop)


def _encode_chart(chart: dict[str, Any]) -> dict[str, Any]:
    """Chart hints (explorer.chart_hints) as JSON: messages encoded as ITF values."""
    out: dict[str, Any] = {}
    if "processes" in chart:
        out["processes"] = [str(p) for p in chart["processes"]]
    if "steps" in chart:
        out["steps"] = [{k: (v if isinstance(v, str) else [encode_value(m) for m in v])
                         for k, v in step.items()} for step in chart["steps"]]
    for key in ("labels", "to"):
        if key in chart:
            out[key] = [[encode_value(m), str(text)] for m, text in chart[key]]
    if "violation" in chart:
        out["violation"] = {str(k): str(v) for k, v in chart["violation"].items()}
    return out


def _decode_chart(raw: Any, source: str) -> dict[str, Any]:
    where = f"{source}: #meta.chart"
    if not isinstance(raw, dict):
        raise TraceFormatError(f"{where} must be an object")
    try:
        out: dict[str, Any] = {}
        if "processes" in raw:
            out["processes"] = [str(p) for p in raw["processes"]]
        if "steps" in raw:
            out["steps"] = [{k: (v if isinstance(v, str) else
                                 [decode_value(m, f"{where}.steps[{i}].{k}") for m in v])
                             for k, v in step.items()} for i, step in enumerate(raw["steps"])]
        for key in ("labels", "to"):
            if key in raw:
                out[key] = [[decode_value(m, f"{where}.{key}"), str(text)]
                            for m, text in raw[key]]
        if "violation" in raw:
            out["violation"] = {str(k): str(v) for k, v in raw["violation"].items()}
    except (TypeError, ValueError, AttributeError):
        raise TraceFormatError(f"{where} is not in the expected form") from None
    return out


def write_trace(trace: Trace, path: str | Path, *, violation: str | None = None) -> None:
    """Write ``trace`` as an ITF JSON file."""
    data = trace_to_itf(trace, violation=violation)
    Path(path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def read_trace(path: str | Path) -> tuple[Trace, dict[str, Any]]:
    """Read an ITF file: the trace and the file's ``#meta`` (which names any violation)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise TraceFormatError(f"cannot read trace file {str(p)!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise TraceFormatError(f"trace file {str(p)!r} is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceFormatError(
            f"trace file {str(p)!r} is not valid JSON: {exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}"
        ) from None
    except (ValueError, RecursionError) as exc:  # a 5,000-digit number; arrays 1,000 deep
        why = "values nest too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise TraceFormatError(f"trace file {str(p)!r} is not JSON that protospec can read: "
                               f"{why}") from None
    try:
        trace = trace_from_itf(data, source=f"trace file {str(p)!r}")
    except RecursionError:
        raise TraceFormatError(f"trace file {str(p)!r}: values nest too deeply") from None
    return trace, (data.get("#meta") or {})
