"""What a message sequence chart needs to know about a trace: its messages, and the spec's hints.

Two halves, kept in one module so that the engine and the renderers agree on what a message is:

* **Messages in a state, generically.** A state variable holds messages when its name says so
  (``msgs``, ``messages``, ``network``, ``mailbox``, ...) or when it is a set of records. Its
  value may be a set (TwoPhase.tla's and Paxos.tla's "every message ever sent"), a bag (a tuple
  of messages, a set of ``(message, count)`` pairs, or a ``message -> count`` map read from
  another tool's ITF file) or one mailbox per process (a tuple of such collections, indexed by
  the receiving process). :func:`messages_of` reads any of these as a multiset of
  ``(message, mailbox)`` pairs. Renderers use this half; it never touches a spec.

* **Hints from the spec** (:func:`chart_hints`), computed by the CLI while it still holds the
  spec, and carried in ``Trace.chart`` (and in a saved ITF file's ``#meta``), so renderers read
  results, never specs. The main hint is which messages each step *received*: in a spec where
  messages stay in a set forever, receiving one changes nothing in the set, so the trace alone
  cannot tell. The spec can: a step received message ``m`` if replaying the same action with the
  same arguments on the state without ``m`` gives a different outcome (the action is disabled,
  or does something else). This is exact for guards like ``Prepared(rm) in s.msgs`` and needs no
  per-spec code.

A spec may also define optional hooks, all of them small and all optional:

* ``chart_processes(self) -> list[str]``: the lanes, in order (e.g. ``["TM", "RM 0", ...]``);
* ``chart_lane(self, action, args) -> str | None``: the process that takes a step (None: let
  the renderer infer it from the arguments);
* ``chart_messages(self, state) -> iterable``: the messages in flight in ``state``, when they
  are not simply a message variable's elements (a multiset: repeat a message to count it);
* ``chart_message_label(self, msg) -> str``: a short label for a message arrow;
* ``chart_message_to(self, msg) -> str | None``: the process a message is meant for, where a
  message nobody received is drawn (e.g. Paxos's 2b votes go to the learners).

Hints are plain data, every key optional::

    {"processes": [str],                     # chart_processes()
     "steps": [{"lane": str,                 # chart_lane(), per step (steps[0]: initial state)
                "received": [msg],           # messages the step read but left in place
                "sent": [msg], "removed": [msg]}],  # only with chart_messages(): its view
     "labels": [[msg, str]],                 # chart_message_label()
     "to": [[msg, str]],                     # chart_message_to()
     "violation": {"property": str, "kind": str, "doc": str}}  # added by the CLI

Without ``sent`` the renderer finds sends and removals itself by comparing the message
variables. A removal is a receipt, or a loss when the network's drop action made it.
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from .result import Trace
from .spec import Spec
from .values import state_vars

__all__ = ["attach_chart_hints", "chart_hints", "is_record", "message_vars", "messages_of",
           "remove_message"]

# Words that, as a whole variable name or one of its underscore-separated words, mark a variable
# holding messages in flight.
MESSAGE_WORDS = frozenset({
    "msgs", "msg", "messages", "message", "network", "net", "inflight", "wire", "mailbox",
    "mailboxes", "inbox", "inboxes", "outbox", "outboxes", "channel", "channels", "bag",
})

# Action-name words that make the network's removal of a message a loss, not a receipt.
LOSS_WORDS = frozenset({"drop", "lose", "loss", "lost", "discard"})


def is_record(value: Any) -> bool:
    """A NamedTuple (or a record read back from ITF): a tuple with named fields."""
    return isinstance(value, tuple) and hasattr(value, "_fields")


def _words(name: str) -> set[str]:
    return {w for w in re.split(r"[_\W]+", name.lower()) if w}


def _is_collection(value: Any) -> bool:
    return isinstance(value, (frozenset, set, dict)) or (isinstance(value, tuple)
                                                       and not is_record(value))


def _is_message(value: Any) -> bool:
    """What can sit in a mailbox: a record, an enum member, a string or a tuple; not a number
    (a tuple of numbers per channel is more likely a clock or an age than a mailbox)."""
    return (is_record(value) or isinstance(value, (enum.Enum, str, tuple))) and \
        not isinstance(value, bool)


def _is_mailboxes(value: Any) -> bool:
    """A tuple of collections of messages, one per receiving process."""
    return (isinstance(value, tuple) and not is_record(value) and len(value) > 0
            and all(isinstance(box, (frozenset, set, dict))
                    or (isinstance(box, tuple) and not is_record(box)) for box in value)
            and all(_is_message(m) for box in value for m in box))


def _is_bag_tuple(value: Any) -> bool:
    """A tuple of messages with repeats (no empty tuples: those are empty mailboxes)."""
    return (isinstance(value, tuple) and not is_record(value)
            and not any(isinstance(e, tuple) and not is_record(e) and not e for e in value))


def _is_counted(value: Any) -> bool:
    """A set of (message, count) pairs: one way to write a bag."""
    return (isinstance(value, (frozenset, set)) and len(value) > 0
            and all(isinstance(e, tuple) and not is_record(e) and len(e) == 2
                    and isinstance(e[1], int) and not isinstance(e[1], bool) and e[1] >= 0
                    for e in value))


def _readable(value: Any) -> bool:
    """Whether a value has one of the shapes messages_of understands."""
    return isinstance(value, (frozenset, set, dict)) or _is_mailboxes(value) \
        or _is_bag_tuple(value)


def message_vars(states: Iterable[Any]) -> list[str]:
    """The variables of these states that hold messages, in declaration order.

    A variable qualifies if its name is (or contains the word) ``msgs``, ``messages``,
    ``network``, ``mailbox``... or if it is a set whose elements (in some state) are records;
    and if in every state its value is a set, a bag or one mailbox per process. Sets of plain
    numbers (like 2PC's ``tm_prepared``) and tuples of per-channel numbers (ages, clocks) never
    qualify.
    """
    states = list(states)
    found: dict[str, None] = {}
    for state in states:
        for name, value in state_vars(state).items():
            if name in found or not _is_collection(value):
                continue
            named = bool(_words(name) & MESSAGE_WORDS)
            records = isinstance(value, (frozenset, set)) and bool(value) and \
                all(is_record(e) for e in value)
            if named or records:
                found[name] = None
    return [name for name in found
            if all(_readable(state_vars(st).get(name, frozenset())) for st in states)]


def messages_of(value: Any) -> Counter:
    """The messages in one message variable's value, as a multiset of ``(message, mailbox)``.

    ``mailbox`` is the index of the receiving process for one-mailbox-per-process variables,
    None otherwise.
    """
    out: Counter = Counter()
    if _is_mailboxes(value):
        for i, box in enumerate(value):
            for m, n in messages_of(box).items():
                out[(m[0], i)] += n
        return out
    if isinstance(value, dict):
        for m, n in value.items():
            if isinstance(n, int) and n > 0:
                out[(m, None)] += n
        return out
    if _is_counted(value):
        for m, n in value:
            if n > 0:
                out[(m, None)] += n
        return out
    for m in value:
        out[(m, None)] += 1
    return out


def remove_message(value: Any, msg: Any, mailbox: int | None = None) -> Any:
    """The message variable's value with one copy of ``msg`` taken out (same representation)."""
    if _is_mailboxes(value) and mailbox is not None:
        boxes = list(value)
        boxes[mailbox] = remove_message(boxes[mailbox], msg)
        return tuple(boxes)
    if isinstance(value, dict):
        out = dict(value)
        if out.get(msg, 0) > 1:
            out[msg] -= 1
        else:
            out.pop(msg, None)
        return out
    if _is_counted(value):
        pairs = {m: n for m, n in value}
        if msg not in pairs:
            return value
        n = pairs.pop(msg)
        if n > 1:
            pairs[msg] = n - 1
        return type(value)(pairs.items())
    if isinstance(value, (frozenset, set)):
        return value - {msg}
    if isinstance(value, tuple):
        if msg not in value:
            return value
        i = value.index(msg)
        return value[:i] + value[i + 1:]
    return value


def _without(state: Any, var: str, msg: Any, mailbox: int | None) -> Any:
    return state._replace(**{var: remove_message(getattr(state, var), msg, mailbox)})


# ---------------------------------------------------------------------------------------------
# Hints from the spec


def _hook(spec: Spec, name: str) -> Any:
    fn = getattr(spec, name, None)
    return fn if callable(fn) else None


def _read(spec: Spec, before: Any, after: Any, action: str, args: dict[str, Any],
          variables: list[str]) -> list[Any]:
    """The messages the step before -> after read but left in place: those without which the
    same action with the same arguments would be disabled or do something else.

    Messages the step removed are not listed: the trace itself shows those.
    """
    if not is_record(before):
        return []
    out: list[Any] = []
    arg_values = list(args.values())
    for var in variables:
        old, new = messages_of(getattr(before, var)), messages_of(getattr(after, var))
        for (m, box) in old:
            if old[(m, box)] > new.get((m, box), 0) or m in out:
                continue  # removed by the step: a receipt (or loss) the trace shows
            if any(_same(m, a) for a in arg_values):
                out.append(m)  # the action names the message it handles
                continue
            try:
                res = spec.step(_without(before, var, m, box), action, **args)
            except Exception:  # the action relied on the message so much it failed without it
                out.append(m)
                continue
            outcomes = res if isinstance(res, list) else [res]
            target = _without(after, var, m, box)
            if not any(o is not None and (o == after or _without(o, var, m, box) == target)
                       for o in outcomes):
                out.append(m)
    return out


def _same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and a == b
    except Exception:
        return False


def chart_hints(spec: Spec, trace: Trace) -> dict[str, Any]:
    """The hints a chart of ``trace`` needs from ``spec`` (see the module docstring)."""
    hints: dict[str, Any] = {}
    processes = _hook(spec, "chart_processes")
    if processes is not None:
        hints["processes"] = [str(p) for p in processes()]
    lane_of = _hook(spec, "chart_lane")
    msgs_of = _hook(spec, "chart_messages")
    label_of = _hook(spec, "chart_message_label")
    to_of = _hook(spec, "chart_message_to")
    variables = message_vars(trace.states)
    steps: list[dict[str, Any]] = [{}]
    labels: dict[Any, str] = {}
    prev = trace.steps[0].state if trace.steps else None
    if msgs_of is not None and prev is not None:
        steps[0] = {"sent": list(msgs_of(prev))}
        for m in steps[0]["sent"]:
            labels.setdefault(m, "")
    for step in trace.steps[1:]:
        h: dict[str, Any] = {}
        if lane_of is not None:
            lane = lane_of(step.action, dict(step.args))
            if lane is not None:
                h["lane"] = str(lane)
        read = _read(spec, prev, step.state, step.action or "", dict(step.args), variables)
        if msgs_of is not None:
            # The spec says where its messages are: sends and removals come from its view.
            old, new = Counter(msgs_of(prev)), Counter(msgs_of(step.state))
            added, removed = list((new - old).elements()), list((old - new).elements())
            h["sent"] = added
            h["removed"] = removed
            h["received"] = [m for m in read if m not in removed]
            for m in added:
                labels.setdefault(m, "")
        else:
            h["received"] = read
        steps.append(h)
        prev = step.state
    hints["steps"] = steps
    if label_of is not None or to_of is not None:
        seen: dict[Any, None] = dict.fromkeys(labels)
        for var in variables:
            for st in trace.states:
                for (m, _box) in messages_of(getattr(st, var) if is_record(st) else ()):
                    seen.setdefault(m, None)
        if label_of is not None:
            hints["labels"] = [[m, str(label_of(m))] for m in seen]
        if to_of is not None:
            hints["to"] = [[m, str(dest)] for m in seen if (dest := to_of(m)) is not None]
    return hints


def attach_chart_hints(spec: Spec, traces: Iterable[Trace]) -> None:
    """Compute and store ``trace.chart`` for each trace (the CLI does this for counterexamples)."""
    for trace in traces:
        if trace.steps:
            trace.chart = chart_hints(spec, trace)
