"""Client histories: operations with a process, an invocation, a completion and real-time order.

A *history* is what clients saw: each operation was invoked by one process (client) and then
completed in one of three ways, as Jepsen models it:

* ``ok``   — it happened, and the completion carries its result;
* ``fail`` — it certainly did not happen (it is dropped before checking);
* ``info`` — it may or may not have happened (a timeout, a crash): the operation stays open
  forever, so it may take effect at any point after its invocation, or never.

An invocation with no completion by the end of the log counts as ``info``.

Real-time order comes from the order of the records in the log, or from their ``time`` fields
when every record has one (records with equal times count as concurrent). Either way each
invocation and completion gets an integer *rank*; operation ``a`` precedes ``b`` in real time
iff ``a.ret < b.call``. Open operations complete at rank :data:`INFINITY`.

Three input formats are read (see docs/linearizability.md for the exact schemas):

* JSON lines: one object per line, either an event (``{"process": 0, "type": "invoke",
  "f": "write", "value": 3}``) or a whole operation (``{"process": 0, "f": "read",
  "output": 3, "call": 10, "return": 12}``);
* Jepsen's logger lines, with or without the logger's prefix:
  ``INFO  jepsen.util - 3	:invoke	:cas	[1 2]``;
* Jepsen ``history.edn`` lines: one EDN map per line (``{:type :ok, :f :read, :value 3,
  :process 0}``).

Values are decoded to hashable Python values: ``nil``/``null`` to None, vectors and lists to
tuples, sets to frozensets, keywords to plain strings without the colon, maps to tuples of
key-value pairs. Parsing raises :class:`~explorer.errors.TraceFormatError` naming the file and
line of the first malformed record.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import TraceFormatError

__all__ = [
    "INFINITY",
    "UNKNOWN",
    "History",
    "HistoryTimeout",
    "Operation",
    "Status",
    "format_value",
    "json_lines",
    "load_history",
    "parse_edn",
    "parse_history",
]

#: The completion rank of an operation that never completed (``info``, or no completion).
INFINITY = 1 << 62


class _Unknown:
    """The output of an operation whose result was not observed."""

    __slots__ = ()
    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "?"

    def __reduce__(self) -> str:
        return "UNKNOWN"


#: Sentinel for "no observed output": the check accepts any result for such an operation.
UNKNOWN: Any = _Unknown()


class Status(IntEnum):
    """How an operation completed."""

    OK = 0  # happened, with an observed result
    INFO = 1  # may or may not have happened; its result is unknown
    FAIL = 2  # did not happen


class Operation(NamedTuple):
    """One client operation: invocation and completion merged.

    ``call`` and ``ret`` are real-time ranks (see the module docstring); ``line`` and
    ``ret_line`` are the 1-based source lines of the two records, 0 when there is none.
    """

    id: int  # position in the history, in order of invocation; stable across sub-histories
    process: Any  # the client that invoked it (an int or a string)
    f: str  # the function: "read", "write", "cas", "enqueue", ...
    value: Any  # the invocation's argument
    output: Any  # the completion's value; UNKNOWN unless status is OK
    status: Status  # OK, INFO or FAIL
    call: int  # rank of the invocation
    ret: int  # rank of the completion; INFINITY if it never completed
    line: int = 0  # source line of the invocation
    ret_line: int = 0  # source line of the completion (0: none)

    @property
    def is_open(self) -> bool:
        """True for an operation that never completed (it stays concurrent with all later ones)."""
        return self.ret >= INFINITY


@dataclass(frozen=True)
class History:
    """A parsed history: the operations to check, plus the failed ones kept for reporting."""

    ops: tuple[Operation, ...]  # OK and INFO operations, by invocation order; ids are 0..n-1
    failed: tuple[Operation, ...] = ()  # FAIL operations (did not happen), ids from n upwards
    source: str = "<history>"  # file name, for messages

    @property
    def processes(self) -> list[Any]:
        """The processes that appear, in order of first invocation."""
        return list(dict.fromkeys(op.process for op in self.ops))

    def counts(self) -> dict[str, int]:
        """Numbers of operations by status, and of processes."""
        ok = sum(1 for op in self.ops if op.status is Status.OK)
        return {"operations": len(self.ops) + len(self.failed), "ok": ok,
                "indeterminate": len(self.ops) - ok, "failed": len(self.failed),
                "processes": len(self.processes)}


# ---------------------------------------------------------------------------------------------
# Values


def format_value(value: Any) -> str:
    """A value in EDN-like notation, the way Jepsen prints it: ``nil``, ``[1 2]``, ``#{1 2}``."""
    if value is None:
        return "nil"
    if value is UNKNOWN:
        return "?"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + " ".join(format_value(v) for v in value) + "]"
    if isinstance(value, frozenset):
        return "#{" + " ".join(sorted(format_value(v) for v in value)) + "}"
    if isinstance(value, str):
        return value if re.fullmatch(r"[A-Za-z_][\w\-.?!*]*", value) else json.dumps(value)
    return str(value)


def _freeze_json(value: Any) -> Any:
    """JSON value -> hashable value: lists to tuples, objects to sorted key-value tuples."""
    if isinstance(value, list):
        return tuple(_freeze_json(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze_json(v)) for k, v in value.items()))
    return value


_EDN_TOKEN = re.compile(r"""
    (?P<ws>[\s,]+)
  | (?P<open>\#\{|[\[({])
  | (?P<close>[\])}])
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<num>[-+]?\d++(?:\.\d++)?+(?:[eE][-+]?\d++)?+[NM]?+(?![\w.]))
  | (?P<kw>:[^\s,\[\](){}"]++)
  | (?P<sym>[^\s,\[\](){}"\#:][^\s,\[\](){}"]*+)
""", re.VERBOSE)


#: How deeply EDN and JSON values in a history may nest (collections inside collections).
MAX_VALUE_DEPTH = 100


def parse_edn(text: str) -> Any:
    """Parse one EDN value (the subset Jepsen histories use) into a hashable Python value.

    Raises ValueError with a short description on malformed input.
    """
    value, end = read_edn(text, 0)
    rest = _EDN_TOKEN.match(text, end)
    if rest is not None and rest.lastgroup == "ws":
        end = rest.end()
    if end != len(text):
        raise ValueError(f"unexpected {text[end:end + 20]!r} after the value")
    return value


_CLOSERS = {"[": "]", "(": ")", "{": "}", "#{": "}"}
_SYMBOLS = {"nil": None, "true": True, "false": False}


def read_edn(text: str, pos: int) -> tuple[Any, int]:
    """Read the one EDN value that starts at (or after whitespace from) ``pos``; return it and
    the position just after it. Iterative, in time linear in what it reads; ValueError on
    malformed input or nesting deeper than MAX_VALUE_DEPTH."""
    stack: list[tuple[str, list[Any]]] = []
    n = len(text)
    while True:
        if pos >= n:
            if stack:
                raise ValueError(f"{stack[-1][0]!r} is never closed")
            raise ValueError("the value ends early" if text.strip() else "no value")
        m = _EDN_TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"cannot read {text[pos:pos + 20]!r}")
        kind, tok = m.lastgroup, m.group()
        pos = m.end()
        if kind == "ws":
            continue
        if kind == "open":
            if len(stack) >= MAX_VALUE_DEPTH:
                raise ValueError(f"values nest more than {MAX_VALUE_DEPTH} levels deep")
            stack.append((tok, []))
            continue
        if kind == "close":
            if not stack:
                raise ValueError(f"unexpected {tok!r}")
            if _CLOSERS[stack[-1][0]] != tok:
                raise ValueError(f"unexpected {tok!r}: the open {stack[-1][0]!r} needs "
                                 f"{_CLOSERS[stack[-1][0]]!r} first")
            opener, items = stack.pop()
            value = _edn_collection(opener, items)
        elif kind == "num":
            tok = tok.rstrip("NM")
            try:
                value = float(tok) if any(c in tok for c in ".eE") else int(tok)
            except ValueError:  # an integer of more than 4,300 digits
                raise ValueError(f"the number {tok[:20]}... is too long") from None
        elif kind == "str":
            try:
                value = json.loads(tok)
            except ValueError:
                raise ValueError(f"bad string {tok[:20]!r}") from None
        elif kind == "kw":
            value = tok[1:]
        else:
            value = _SYMBOLS.get(tok, tok)
        if not stack:
            return value, pos
        stack[-1][1].append(value)


def _edn_collection(opener: str, items: list[Any]) -> Any:
    if opener == "#{":
        try:
            return frozenset(items)
        except TypeError:
            raise ValueError("a set's elements must be plain values") from None
    if opener == "{":
        if len(items) % 2:
            raise ValueError("a map needs an even number of forms")
        return tuple(zip(items[::2], items[1::2]))
    return tuple(items)


def _json_depth_ok(text: str) -> bool:
    """Whether the brackets in a JSON text nest at most MAX_VALUE_DEPTH deep (strings are
    skipped), checked before json.loads, whose recursion would otherwise fail."""
    depth = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            if depth > MAX_VALUE_DEPTH:
                return False
        elif c in "]}":
            depth -= 1
    return True


# ---------------------------------------------------------------------------------------------
# Records


class _Event(NamedTuple):
    """One invocation or completion record, before pairing."""

    process: Any
    type: str  # "invoke", "ok", "fail" or "info"
    f: str
    value: Any
    line: int
    time: Any = None  # a number, or None when the record has no time
    key: Any = None  # the key of a key-value operation (a `key` field), or NO_KEY


class _NoKey:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_KEY"


#: A record without a ``key`` field (a key may be any value, None included).
NO_KEY: Any = _NoKey()


class _Whole(NamedTuple):
    """A JSON record that describes a whole operation at once."""

    process: Any
    f: str
    value: Any
    output: Any
    status: Status
    call: Any
    ret: Any
    line: int
    key: Any = NO_KEY


_TYPES = ("invoke", "ok", "fail", "info")
# Possessive quantifiers (*+, ++): none of these may backtrack, so that a long line without
# whitespace costs linear time, not quadratic.
_LOG_PREFIX = re.compile(r"^.*?\bjepsen\.util\s*+[-:]\s*+")
_LOG_NOISE = re.compile(r"^(?:\S++\s++){0,2}(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL)\b")
# PROCESS :TYPE :F ...: Jepsen writes tabs between the fields; any whitespace is accepted.
_JEPSEN_RECORD = re.compile(r"^(:?[\w\-]++)[ \t]++:(\w++)[ \t]++")


def _fail(source: str, line: int, message: str) -> TraceFormatError:
    return TraceFormatError(f"{source}, line {line}: {message}")


def _detect_format(lines: list[str]) -> str:
    for raw in lines:
        text = raw.strip()
        if not text or text.startswith(("#", ";")):
            continue
        if text.startswith("{:"):
            return "edn"
        if text.startswith("{"):
            return "json"
        return "jepsen"
    return "json"


def _json_records(lines: list[str], source: str) -> Iterator[_Event | _Whole]:
    for number, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        if not _json_depth_ok(text):
            raise _fail(source, number, f"values nest more than {MAX_VALUE_DEPTH} levels deep")
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise _fail(source, number, f"not valid JSON ({e.msg} at column {e.colno})") from None
        except ValueError as e:  # e.g. an integer of more than 4,300 digits
            raise _fail(source, number, f"not valid JSON ({e})") from None
        if not isinstance(obj, dict):
            raise _fail(source, number, "expected a JSON object per line")
        yield _json_record(obj, source, number)


def _json_record(obj: dict, source: str, number: int) -> _Event | _Whole:
    if "process" not in obj or "f" not in obj:
        missing = "process" if "process" not in obj else "f"
        raise _fail(source, number, f'the record has no "{missing}" field')
    process, f = _freeze_json(obj["process"]), obj["f"]
    if not isinstance(f, str):
        raise _fail(source, number, f'"f" must be a string, not {json.dumps(f)}')
    unknown = set(obj) - {"process", "type", "f", "value", "output", "time", "call", "return",
                          "status", "index", "error", "key"}
    if unknown:
        raise _fail(source, number, f"unknown field(s) {', '.join(sorted(unknown))}")
    if "type" in obj:
        kind = obj["type"]
        if kind not in _TYPES:
            raise _fail(source, number,
                        f'"type" must be one of {", ".join(_TYPES)}, not {json.dumps(kind)}')
        time = obj.get("time")
        if time is not None and not isinstance(time, (int, float)):
            raise _fail(source, number, '"time" must be a number')
        return _Event(process, kind, f, _freeze_json(obj.get("value")), number, time,
                      _freeze_json(obj["key"]) if "key" in obj else NO_KEY)
    if "call" not in obj:
        raise _fail(source, number,
                    'a record needs "type" (an event) or "call" (a whole operation)')
    status_name = obj.get("status", "ok")
    if status_name not in ("ok", "fail", "info"):
        raise _fail(source, number,
                    f'"status" must be ok, fail or info, not {json.dumps(status_name)}')
    status = Status[status_name.upper()]
    call, ret = obj["call"], obj.get("return")
    if not isinstance(call, (int, float)) or not (ret is None or isinstance(ret, (int, float))):
        raise _fail(source, number, '"call" and "return" must be numbers')
    if ret is None and status is not Status.INFO:
        raise _fail(source, number, 'only an "info" operation may omit "return"')
    if ret is not None and ret < call:
        raise _fail(source, number, f'"return" ({ret}) is before "call" ({call})')
    output = _freeze_json(obj["output"]) if "output" in obj else UNKNOWN
    return _Whole(process, f, _freeze_json(obj.get("value")), output, status, call, ret, number,
                  _freeze_json(obj["key"]) if "key" in obj else NO_KEY)


def _edn_records(lines: list[str], source: str) -> Iterator[_Event]:
    for number, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text or text.startswith(";"):
            continue
        try:
            value = parse_edn(text)
        except ValueError as e:
            raise _fail(source, number, f"cannot read the EDN map: {e}") from None
        if not (isinstance(value, tuple) and all(isinstance(p, tuple) and len(p) == 2
                                                  for p in value) and text.startswith("{")):
            raise _fail(source, number, "expected one EDN map per line")
        fields = dict(value)
        for name in ("process", "type", "f"):
            if name not in fields:
                raise _fail(source, number, f"the map has no :{name}")
        if fields["process"] == "nemesis":
            continue
        if fields["type"] not in _TYPES:
            raise _fail(source, number, f":type must be one of :invoke :ok :fail :info, not "
                                        f"{format_value(fields['type'])}")
        yield _Event(fields["process"], fields["type"], str(fields["f"]), fields.get("value"),
                     number, None, fields.get("key", NO_KEY))


def _jepsen_records(lines: list[str], source: str) -> Iterator[_Event]:
    for number, raw in enumerate(lines, 1):
        text = raw.rstrip("\r\n")
        if not text.strip() or text.lstrip().startswith(("#", ";")):
            continue
        prefixed = _LOG_PREFIX.match(text)
        if prefixed:
            text = text[prefixed.end():]
        record = _JEPSEN_RECORD.match(text)
        if record is None:
            if prefixed or _LOG_NOISE.match(text):
                continue  # another log message, not a history record
            raise _fail(source, number, "expected a history record "
                        "'PROCESS :TYPE :F VALUE' (tabs or spaces between the fields), e.g. "
                        "'3\\t:invoke\\t:read\\tnil'")
        process_text, kind = record.group(1), record.group(2)
        if process_text == ":nemesis":
            continue
        try:
            process: Any = int(process_text)
        except ValueError:
            process = process_text.lstrip(":")
        if kind not in _TYPES:
            raise _fail(source, number,
                        f"the type must be :invoke, :ok, :fail or :info, not :{kind}")
        rest = text[record.end():]
        try:
            if "\t" in rest:  # Jepsen's own layout: F, VALUE and maybe an error, tab-separated
                fields = rest.split("\t")
                f = parse_edn(fields[0])
                value = parse_edn(fields[1]) if len(fields) > 1 and fields[1].strip() else None
            else:  # fields separated by spaces: read F, then one value if there is one
                f, end = read_edn(rest, 0)
                value = read_edn(rest, end)[0] if rest[end:].strip() else None
        except ValueError as e:
            raise _fail(source, number, f"cannot read the value (expected ':F VALUE' after "
                                        f":{kind}, in EDN): {e}") from None
        if not isinstance(f, str):
            raise _fail(source, number, f"the function must be a keyword such as :read, not "
                                        f"{format_value(f)}")
        # Fields after the value (an error such as ":timeout") are ignored.
        yield _Event(process, kind, f, value, number, None, NO_KEY)


class HistoryTimeout(Exception):  # a verdict (unknown), not an input error
    """Reading the history took longer than the deadline allowed."""


def parse_history(lines: Iterable[str], *, source: str = "<history>",
                  fmt: str = "auto", deadline: float | None = None) -> History:
    """Parse a history from its lines; ``fmt`` is "auto", "json", "jepsen" or "edn".

    Raises TraceFormatError naming ``source`` and the line of the first malformed record, and
    HistoryTimeout once ``time.monotonic()`` passes ``deadline``. Time is linear in the input.
    """
    lines = list(lines)
    if fmt == "auto":
        fmt = _detect_format(lines)
    readers = {"json": _json_records, "jepsen": _jepsen_records, "edn": _edn_records}
    if fmt not in readers:
        raise TraceFormatError(f"unknown history format {fmt!r}; "
                               f"expected one of auto, {', '.join(readers)}")
    records = []
    for record in readers[fmt](lines, source):
        records.append(record)
        if deadline is not None and len(records) % 1024 == 0 and time.monotonic() > deadline:
            raise HistoryTimeout(f"{source}: reading the history took longer than allowed "
                                 f"({len(records):,} records read)")
    if not records:
        raise TraceFormatError(f"{source}: no operations in the history")
    return _build(records, source)


def load_history(path: str | Path, *, fmt: str = "auto",
                 deadline: float | None = None) -> History:
    """Read and parse a history file (see :func:`parse_history`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TraceFormatError(f"{path}: no such history file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise TraceFormatError(f"{path}: cannot read the history ({e})") from None
    return parse_history(text.splitlines(), source=str(path), fmt=fmt, deadline=deadline)


def _to_json(value: Any) -> Any:
    if value is UNKNOWN:
        return None
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    if isinstance(value, frozenset):
        return sorted((_to_json(v) for v in value), key=repr)
    return value


def json_lines(history: History) -> list[str]:
    """The history as JSON-lines events (invocations and completions in real-time order).

    Reading the lines back with :func:`parse_history` gives the same operations. An open
    operation gets no completion record, so it reads back as ``info``.
    """
    events = []
    for o in history.ops + history.failed:
        # A read's invocation carries no value; every other invocation carries its argument.
        events.append((o.call, 0, {"process": _to_json(o.process), "type": "invoke", "f": o.f,
                                   "value": _to_json(o.value)}))
        if o.ret < INFINITY:
            kind = o.status.name.lower()
            value = o.output if o.status is Status.OK else o.value
            events.append((o.ret, 1, {"process": _to_json(o.process), "type": kind, "f": o.f,
                                      "value": _to_json(value)}))
    events.sort(key=lambda e: (e[0], e[1]))
    return [json.dumps(e[2]) for e in events]


class _Open:
    """An invocation waiting for its completion, while pairing records."""

    __slots__ = ("call_key", "event", "slot")

    def __init__(self, event: _Event, slot: int, call_key: tuple) -> None:
        self.event, self.slot, self.call_key = event, slot, call_key


def _keyed(key: Any, value: Any) -> Any:
    """A key-value record's value as the kv model reads it: ``[key value]``."""
    return value if key is NO_KEY else (key, value)


def _build(records: list[_Event | _Whole], source: str) -> History:
    """Pair invocations with completions per process, then rank all events in real time."""
    timed = [r.time is not None for r in records if isinstance(r, _Event)]
    if any(timed) and not all(timed):
        first = next(r for r in records if isinstance(r, _Event) and r.time is None)
        raise _fail(source, first.line, 'some records have a "time" and this one has not; '
                    "give every record a time or none")
    wholes = [r for r in records if isinstance(r, _Whole)]
    if wholes and len(wholes) != len(records):
        first = records[0] if isinstance(records[0], _Event) else next(
            r for r in records if isinstance(r, _Event))
        raise _fail(source, first.line, "events (with \"type\") and whole operations (with "
                    "\"call\") cannot be mixed in one history")
    # An op is (process, f, value, output, status, call_key, ret_key, line, ret_line), where
    # the keys sort events in real time: (time, 0 for a call / 1 for a return, line).
    pending: list[list] = []
    if wholes:
        for w in wholes:
            ret_key = (w.ret, 1, w.line) if w.ret is not None else None
            output = w.output if w.output is UNKNOWN else _keyed(w.key, w.output)
            pending.append([w.process, w.f, _keyed(w.key, w.value), output, w.status,
                            (w.call, 0, w.line), ret_key, w.line, w.line if w.ret is not None
                            else 0])
    else:
        open_by_process: dict[Any, _Open] = {}
        for r in records:
            key = (r.time if r.time is not None else r.line, 0 if r.type == "invoke" else 1,
                   r.line)
            if r.type == "invoke":
                if r.process in open_by_process:
                    other = open_by_process[r.process].event
                    raise _fail(source, r.line, f"process {format_value(r.process)} invokes "
                                f":{r.f} while its :{other.f} from line {other.line} "
                                "has not completed")
                pending.append([r.process, r.f, _keyed(r.key, r.value), UNKNOWN, Status.INFO,
                                key, None, r.line, 0])
                open_by_process[r.process] = _Open(r, len(pending) - 1, key)
                continue
            waiting = open_by_process.pop(r.process, None)
            if waiting is None:
                raise _fail(source, r.line, f"process {format_value(r.process)} completes "
                            f":{r.f} (:{r.type}) but has no invocation in progress")
            if waiting.event.f != r.f:
                raise _fail(source, r.line, f"the completion's function :{r.f} does not match "
                            f"the invocation's :{waiting.event.f} (line {waiting.event.line})")
            if r.key is not NO_KEY and r.key != waiting.event.key:
                raise _fail(source, r.line, f"the completion's key {format_value(r.key)} is not "
                            f"the invocation's (line {waiting.event.line})")
            if key < waiting.call_key:
                raise _fail(source, r.line, f"the completion (time {r.time}) comes before its "
                            f"invocation (line {waiting.event.line}, time "
                            f"{waiting.event.time})")
            op = pending[waiting.slot]
            if r.type == "info":
                op[8] = r.line  # still open: it may take effect at any later time
                continue
            op[3] = _keyed(waiting.event.key, r.value) if r.type == "ok" else UNKNOWN
            op[4] = Status.OK if r.type == "ok" else Status.FAIL
            op[6] = key
            op[8] = r.line
    # Rank every call and return; equal times sort calls first, so they count as concurrent.
    keys = sorted({p[5] for p in pending} | {p[6] for p in pending if p[6] is not None})
    rank = {k: i for i, k in enumerate(keys)}
    pending.sort(key=lambda p: p[5])
    ops: list[Operation] = []
    failed: list[Operation] = []
    for p in pending:
        status = p[4]
        call = rank[p[5]]
        ret = rank[p[6]] if p[6] is not None and status is not Status.INFO else INFINITY
        target = failed if status is Status.FAIL else ops
        target.append(Operation(0, p[0], p[1], p[2], p[3] if status is Status.OK else UNKNOWN,
                                status, call, ret, p[7], p[8]))
    ops = [op._replace(id=i) for i, op in enumerate(ops)]
    failed = [op._replace(id=len(ops) + i) for i, op in enumerate(failed)]
    return History(tuple(ops), tuple(failed), source)
