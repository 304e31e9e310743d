"""Who did what, and which messages went where: the model behind a message sequence chart.

:func:`infer_chart` turns any trace into lanes (one per process), events (one per step, on the
lane of the process that took it) and message flows (a send joined to its receipts, or marked
lost or still in flight). It needs no spec; hints the CLI computed from the spec
(``trace.chart``, see explorer.chart_hints) override what is inferred.

Inference, in order of precedence:

* **The lane of a step.** The spec's ``chart_lane`` hint; else an action named after a role
  (``tm_commit`` -> ``TM``, ``rm_prepare(rm=1)`` -> ``RM 1``); else the first argument whose name
  names a process (``rm``, ``a``/``acc``/``acceptor``, ``r``/``replica``, ``i``/``j``/``src``/
  ``server``/``node``... -> ``RM 1``, ``acceptor 2``, ``replica 0``, ``node 1``); else an action
  named only for the network's faults (``drop_message``, ``duplicate_msg``) goes on the
  ``network`` lane; else a handler of a message argument runs at the message's destination
  (``handle_request(m)`` with ``m.dest == 1`` -> ``node 1``); else a small number argument
  (not a ballot, value, term...) is taken for a process; anything else is the ``environment``.
* **Messages** live in message variables (explorer.chart_hints.message_vars). A message added
  at a step is sent by that step's process. A message removed at a step is received by that
  step's process, or lost if the network dropped it (a ``drop``/``lose`` action on the network
  lane). A message left in place is received by a step whose hint says it read it (the spec
  replayed without it), or, for a trace without hints, by a step whose argument is that message,
  or whose name says it receives that kind of message (``tm_rcv_prepared(rm=0)`` reads
  ``Prepared(rm=0)``).
* A message nobody received is **in flight** at the end: drawn towards the process named by the
  spec's ``chart_message_to`` hint, a destination field (``dst``, ``to``, ``dest``, ``mdest``...)
  or its mailbox, else into the network.
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..chart_hints import LOSS_WORDS, is_record, message_vars, messages_of
from ..result import Trace
from ..values import Atom, format_value, state_vars
from .changes import Change, describe_changes

__all__ = ["Chart", "Event", "Flow", "infer_chart", "lane_of_step", "message_label",
           "message_type"]

ENVIRONMENT = "environment"
SHORT_LABEL = 28  # characters: longer message labels go in the sender's box, not on the arrow
NETWORK = "network"

# Argument (or message field) names that name a process, and the kind of process they name.
PROCESS_ARGS: dict[str, str] = {
    "rm": "RM", "tm": "TM",
    "a": "acceptor", "acc": "acceptor", "acceptor": "acceptor",
    "proposer": "proposer", "learner": "learner",
    "r": "replica", "replica": "replica",
    "client": "client", "c": "client",
    "server": "server", "node": "node",
    "i": "node", "j": "node", "p": "node", "self": "node", "me": "node", "peer": "node",
    "src": "node", "dst": "node", "frm": "node", "from_": "node", "to": "node",
    "sender": "node", "receiver": "node", "source": "node", "dest": "node",
    "msource": "node", "mdest": "node", "proc": "node", "process": "node", "pid": "node",
    "leader": "node", "follower": "node", "candidate": "node", "primary": "node",
    "srv": "server",
}
GENERIC_KIND = "node"
# Message fields that name where a message goes.
DEST_FIELDS = frozenset({"dst", "to", "dest", "receiver", "mdest", "target"})
SOURCE_FIELDS = frozenset({"src", "frm", "from_", "sender", "source", "msource"})
# Argument names that are never processes (ballots, values, terms, views, indexes...), for the
# last-resort guess "the first small-int argument is a process".
NOT_PROCESS_ARGS = frozenset({
    "b", "bal", "ballot", "v", "val", "value", "t", "term", "k", "key", "n", "seq", "index",
    "idx", "view", "round", "rnd", "x", "y", "z", "m", "msg", "e", "entry", "d", "digest",
})
# First words of action names that say which role takes the step (tm_commit -> TM).
ROLE_WORDS: dict[str, str] = {
    "tm": "TM", "tc": "TC", "coordinator": "coordinator", "rm": "RM", "proposer": "proposer",
    "acceptor": "acceptor", "learner": "learner", "env": ENVIRONMENT,
    "environment": ENVIRONMENT,
}
NETWORK_WORDS = LOSS_WORDS | {"duplicate", "dup", "deliver", "reorder", "network", "net"}
MESSAGE_NOUNS = frozenset({"message", "messages", "msg", "msgs", "packet", "packets", "m",
                           "one", "copy", "any"})
RECEIVE_WORDS = frozenset({"rcv", "recv", "receive", "receives", "handle", "deliver", "on",
                           "process", "accept", "got", "get"})


@dataclass
class Event:
    """One step drawn on its process's lane."""

    step: int  # index into trace.steps (>= 1)
    lane: str
    label: str  # action(args)
    changes: list[Change]


@dataclass
class Flow:
    """One message: sent at a step (0: already in the initial state), then received or not."""

    message: Any
    label: str  # the message in full (or as the spec's hint labels it)
    short: str  # what the arrow says: the message's type, or the spec's label
    kind: str  # the message's type: arrows of one kind share a colour
    sent_step: int
    sent_lane: str
    receipts: list[tuple[int, str]] = field(default_factory=list)  # (step, lane) of each
    lost: tuple[int, str] | None = None  # (step, lane) of the step that dropped it
    dest: str | None = None  # the process it is addressed to, when the message says

    @property
    def in_flight(self) -> bool:
        return not self.receipts and self.lost is None


@dataclass
class Chart:
    lanes: list[str]
    events: list[Event]
    flows: list[Flow]
    headers: dict[str, list[str]]  # lane -> its part of the initial state, as short lines
    footers: dict[str, list[str]]  # lane -> its part of the last state
    message_vars: list[str]

    def event_at(self, step: int) -> Event | None:
        return next((e for e in self.events if e.step == step), None)


# ---------------------------------------------------------------------------------------------
# Lanes


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[_\W]+", name.lower()) if w]


def _is_id(value: Any) -> bool:
    return (isinstance(value, (int, str, enum.Enum)) and not isinstance(value, bool)) \
        or isinstance(value, Atom)


def process_name(kind: str, value: Any) -> str:
    """The lane name of process ``value`` of a kind: ``RM 1``, ``node 0``, or a named value."""
    if isinstance(value, int) and not isinstance(value, (bool, enum.Enum)):
        return f"{kind} {value}"
    return format_value(value)


def _process_arg(args: dict[str, Any]) -> tuple[str, str, Any] | None:
    """(argument name, kind, value) of the first argument naming a process."""
    for name, value in args.items():
        kind = PROCESS_ARGS.get(name.lower())
        if kind is not None and _is_id(value):
            return name, kind, value
    return None


def lane_of_step(action: str, args: dict[str, Any], unify: dict[str, str] | None = None) -> str:
    """The process that takes a step, guessed from its action's name and arguments.

    ``unify`` renames the generic kind ``node`` (of fields like ``dest``) to the one kind of
    process the trace's steps name, when there is one."""
    words = _words(action)
    proc = _process_arg(args)
    if words and words[0] in ROLE_WORDS:
        role = ROLE_WORDS[words[0]]
        if proc is not None and proc[1].lower() == role.lower():
            return process_name(proc[1], proc[2])
        if not (proc is not None and role == "RM"):
            return role
    if proc is not None:
        return process_name(proc[1], proc[2])
    if words and set(words) & NETWORK_WORDS and set(words) <= NETWORK_WORDS | MESSAGE_NOUNS:
        return NETWORK  # drop_message, duplicate_msg... (not drop_stale_response: a process)
    for value in args.values():  # a handler of message m runs where m was addressed
        dest = _field_process(value, DEST_FIELDS, unify or {})
        if dest is not None:
            return dest
    guess = _guessed_process_arg(args)
    if guess is not None:
        return process_name(guess[0], guess[1])
    return ENVIRONMENT


def _guessed_process_arg(args: dict[str, Any]) -> tuple[str, int] | None:
    """Last resort: the first small-number argument that is not a ballot, value, term..."""
    for name, value in args.items():
        if (isinstance(value, int) and not isinstance(value, (bool, enum.Enum))
                and 0 <= value < 16 and name.lower() not in NOT_PROCESS_ARGS):
            return name, value
    return None


# ---------------------------------------------------------------------------------------------
# Messages


def message_label(msg: Any) -> str:
    """A short label: the message's type and the fields that are not its addresses."""
    if is_record(msg):
        # Addresses and process names are left out: the arrow shows who sent it to whom.
        fields = [f for f in msg._fields if f not in DEST_FIELDS | SOURCE_FIELDS
                  and f not in PROCESS_ARGS]
        name = type(msg).__name__
        for tag in ("type", "mtype", "kind", "tag"):
            if tag in fields and not is_record(getattr(msg, tag)):
                name = format_value(getattr(msg, tag))
                fields.remove(tag)
                break
        inner = ", ".join(f"{f}={format_value(getattr(msg, f))}" for f in fields)
        return f"{name}({inner})" if inner else name
    return format_value(msg)


def message_type(msg: Any) -> str:
    """The kind of a message: its record type (or ``type`` field), or the enum member."""
    if is_record(msg):
        for tag in ("type", "mtype", "kind", "tag"):
            if tag in msg._fields and not is_record(getattr(msg, tag)):
                return format_value(getattr(msg, tag))
        return type(msg).__name__
    return format_value(msg)


def _type_words(msg: Any) -> set[str]:
    if is_record(msg):
        name = type(msg).__name__
        for tag in ("type", "mtype", "kind", "tag"):
            if tag in msg._fields and not is_record(getattr(msg, tag)):
                name = format_value(getattr(msg, tag))
        parts = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+[a-z]*", name)
        return {p.lower() for p in parts} | {name.lower()}
    if isinstance(msg, (enum.Enum, Atom)):
        text = msg.name if isinstance(msg, enum.Enum) else str(msg)
        return set(_words(text)) | {text.lower()}
    return set()


def _names_receipt(action: str, args: dict[str, Any], msg: Any) -> bool:
    """For traces without hints: does this action's name say it receives this message?"""
    words = set(_words(action))
    if not words & RECEIVE_WORDS or any(is_record(a) for a in args.values()):
        return False  # (an action with a message argument says which message it handles)
    kinds = _type_words(msg) - {"msg", "message", "m"}
    if not kinds & words:
        return False
    if is_record(msg):
        return all(getattr(msg, f) == args[f] for f in msg._fields if f in args)
    return True


def _field_process(msg: Any, names: frozenset[str], kinds: dict[str, str]) -> str | None:
    if not is_record(msg):
        return None
    for f in msg._fields:
        if f in names and _is_id(getattr(msg, f)):
            kind = PROCESS_ARGS.get(f, GENERIC_KIND)
            return process_name(kinds.get(kind, kind), getattr(msg, f))
    return None


# ---------------------------------------------------------------------------------------------
# The chart


def infer_chart(trace: Trace) -> Chart:
    """Lanes, events and message flows of ``trace`` (hints in ``trace.chart`` take precedence)."""
    hints = trace.chart or {}
    step_hints: list[dict[str, Any]] = list(hints.get("steps") or [])
    step_hints += [{}] * (len(trace.steps) - len(step_hints))
    labels = {m: text for m, text in hints.get("labels") or [] if text}
    meant_for = {m: lane for m, lane in hints.get("to") or []}
    states = trace.states
    mvars = message_vars(states)
    skip = set(mvars)

    # -- lanes of the steps --------------------------------------------------------------
    acting_kinds: set[str] = set()
    for st in trace.steps[1:]:
        if (p := _process_arg(st.args)) is not None:
            acting_kinds.add(p[1])
        elif (guess := _guessed_process_arg(st.args)) is not None:
            acting_kinds.add(guess[0])
    # Message fields like "dst" name a generic node; when every step's process is of one kind
    # (all "replica", say), a node is one of those.
    unify = {GENERIC_KIND: next(iter(acting_kinds))} if len(acting_kinds) == 1 else {}
    step_lane: list[str] = [""]
    for i, st in enumerate(trace.steps[1:], start=1):
        lane = step_hints[i].get("lane") or lane_of_step(st.action or "step", st.args, unify)
        step_lane.append(lane)

    # -- message flows ---------------------------------------------------------------------
    flows: list[Flow] = []
    open_flows: dict[tuple[Any, int | None], list[Flow]] = {}
    mailbox_kind = unify.get(GENERIC_KIND, next(iter(acting_kinds), GENERIC_KIND))

    def label_of(m: Any) -> tuple[str, str]:
        """(the message in full, what its arrow says): a spec's label if it is short enough
        for an arrow, else the message's kind."""
        if m in labels:
            text = labels[m]
            return text, text if len(text) <= SHORT_LABEL else message_type(m)
        return message_label(m), message_type(m)

    def dest_of(m: Any, box: int | None) -> str | None:
        if m in meant_for:
            return meant_for[m]
        if box is not None:
            return process_name(mailbox_kind, box)
        return _field_process(m, DEST_FIELDS, unify)

    def send(m: Any, box: int | None, step: int, lane: str) -> Flow:
        f = Flow(m, *label_of(m), message_type(m), step, lane, dest=dest_of(m, box))
        flows.append(f)
        open_flows.setdefault((m, box), []).append(f)
        return f

    def latest(m: Any) -> Flow:
        """The most recent send of ``m`` (any mailbox); one from before the trace if none."""
        best = None
        for (msg, _box), fs in open_flows.items():
            if msg == m and fs and (best is None or fs[-1].sent_step > best.sent_step):
                best = fs[-1]
        if best is None:
            src = _field_process(m, SOURCE_FIELDS, unify) or NETWORK
            best = send(m, None, 0, src)
        return best

    if trace.steps:  # messages already in flight in the initial state
        if "sent" in step_hints[0]:
            initial = Counter((m, None) for m in step_hints[0]["sent"])
        else:
            initial = Counter()
            for var in mvars:
                initial += messages_of(state_vars(trace.steps[0].state)[var])
        for (m, box), n in initial.items():
            src = _field_process(m, SOURCE_FIELDS, unify) or NETWORK
            for _ in range(n):
                send(m, box, 0, src)

    for i in range(1, len(trace.steps)):
        st, h, lane = trace.steps[i], step_hints[i], step_lane[i]
        # A message removed by the network's own drop action is lost; one a process drops
        # (say, a stale response it ignores) was received.
        lossy = lane == NETWORK and bool(set(_words(st.action or "")) & LOSS_WORDS)
        removed_here: list[Any] = []
        if "sent" in h:  # the spec said where its messages are: take its word for all of it
            for m in h.get("removed", []):
                fs = open_flows.get((m, None)) or []
                f = fs[0] if fs else latest(m)
                if lossy:
                    f.lost = (i, lane)
                else:
                    f.receipts.append((i, lane))
                _close(open_flows, f)
            for m in h.get("received", []):
                latest(m).receipts.append((i, lane))
            for m in h.get("sent", []):
                send(m, None, i, lane)
            continue
        before, after = state_vars(states[i - 1]), state_vars(st.state)
        for var in mvars:
            old, new = messages_of(before[var]), messages_of(after[var])
            for (m, box), n in (old - new).items():
                for _ in range(n):
                    fs = open_flows.get((m, box)) or []
                    f = fs[0] if fs else latest(m)
                    if lossy:
                        f.lost = (i, lane)
                    else:
                        f.receipts.append((i, lane))
                    removed_here.append(m)
                    _close(open_flows, f)
            for (m, box), n in (new - old).items():
                for _ in range(n):
                    send(m, box, i, lane)
        if "received" in h:
            reads = [m for m in h["received"] if m not in removed_here]
        else:
            present = {m for var in mvars for (m, _b) in messages_of(before[var])}
            reads = [m for m in sorted(present, key=repr) if m not in removed_here and (
                any(type(a) is type(m) and a == m for a in st.args.values())
                or _names_receipt(st.action or "", st.args, m))]
        for m in reads:
            f = latest(m)
            if f.sent_step < i:
                f.receipts.append((i, lane))

    # -- events and lanes ------------------------------------------------------------------
    events = [Event(i, step_lane[i], _step_label(trace.steps[i].action or "step",
                                                 trace.steps[i].args, labels),
                    describe_changes(states[i - 1], trace.steps[i].state, skip=skip))
              for i in range(1, len(trace.steps))]
    lanes = _order_lanes(hints.get("processes") or [], step_lane[1:], flows, states, skip)
    headers = _local_state(lanes, states[0] if states else None, skip)
    footers = _local_state(lanes, states[-1] if states else None, skip)
    return Chart(lanes, events, flows, headers, footers, mvars)


def _step_label(action: str, args: dict[str, Any], labels: dict[Any, str]) -> str:
    """``action(arg=value, ...)``, with a message argument shown by its label or kind only:
    the arrow into the step says where it came from, and the sender's box shows it in full."""
    parts = []
    for name, value in args.items():
        text = labels.get(value) or (message_type(value) if is_record(value)
                                     else format_value(value))
        parts.append(f"{name}={text}")
    return f"{action}({', '.join(parts)})"


def _close(open_flows: dict[tuple[Any, int | None], list[Flow]], f: Flow) -> None:
    for fs in open_flows.values():
        if f in fs:
            fs.remove(f)
            return


_LANE_RE = re.compile(r"^(.*\S) (\d+)$")


def _order_lanes(hinted: list[str], acting: list[str], flows: list[Flow], states: list[Any],
                 skip: set[str]) -> list[str]:
    """Hinted processes first, then roles (TM...), then numbered processes, network last."""
    seen: dict[str, None] = dict.fromkeys(hinted)
    found = dict.fromkeys(acting)
    for f in flows:
        found.setdefault(f.sent_lane, None)
        for _, lane in f.receipts:
            found.setdefault(lane, None)
        if f.lost:
            found.setdefault(f.lost[1], None)
        if f.in_flight:
            found.setdefault(f.dest or NETWORK, None)
    # Processes that never act still get a lane when a per-process variable says they exist.
    kinds: dict[str, int] = {}
    for lane in found:
        m = _LANE_RE.match(lane)
        if m:
            kinds[m.group(1)] = max(kinds.get(m.group(1), -1), int(m.group(2)))
    if states and not hinted:
        for kind, top in kinds.items():
            n = _per_process_length(states[0], kind, top, skip)
            for k in range(n):
                found.setdefault(f"{kind} {k}", None)

    def key(lane: str) -> tuple:
        m = _LANE_RE.match(lane)
        if lane == NETWORK:
            return (3, "", 0)
        if lane == ENVIRONMENT:
            return (0, "", 0)
        if m:
            return (2, m.group(1), int(m.group(2)))
        return (1, "", 0)

    for lane in sorted((x for x in found if x not in seen), key=key):
        seen[lane] = None
    return list(seen)


def _per_process_length(state: Any, kind: str, top: int, skip: set[str]) -> int:
    """How many processes of ``kind`` the state has room for: the length of a tuple variable
    named after the kind (``rm_state`` for RM), else the common length of the tuple variables
    (one entry per process) if at least two agree; 0 if unsure."""
    lengths: Counter = Counter()
    for name, value in state_vars(state).items():
        if name in skip or not isinstance(value, tuple) or is_record(value):
            continue
        if kind.lower() in _words(name) and len(value) > top:
            return len(value)
        lengths[len(value)] += 1
    if lengths:
        n, count = lengths.most_common(1)[0]
        if count >= 2 and n > top and n <= 16:
            return n
    return 0


def _local_state(lanes: list[str], state: Any, skip: set[str]) -> dict[str, list[str]]:
    """Each lane's part of a state: entry k of a per-process tuple for process ``kind k``
    (``rm_state: working`` for ``RM 0``), and for a role lane like ``TM`` the variables whose
    first word names it (``tm_state: init``).

    A tuple belongs to a kind of process when its name says so (``rm_state`` to RM), else when
    that kind is the only one with as many processes as the tuple has entries (Paxos's
    ``max_bal`` to the 3 acceptors, not the 2 leaders)."""
    out: dict[str, list[str]] = {lane: [] for lane in lanes}
    if state is None:
        return out
    counts: Counter = Counter()
    for lane in lanes:
        m = _LANE_RE.match(lane)
        if m:
            counts[m.group(1)] += 1
    owner: dict[str, str] = {}
    for name, value in state_vars(state).items():
        if name in skip or not isinstance(value, tuple) or is_record(value):
            continue
        named = [k for k in counts if k.lower() in _words(name)]
        sized = [k for k, n in counts.items() if n == len(value)]
        if len(named) == 1:
            owner[name] = named[0]
        elif len(sized) == 1:
            owner[name] = sized[0]
    variables = {k: v for k, v in state_vars(state).items() if k not in skip}
    for lane in lanes:
        m = _LANE_RE.match(lane)
        if m:
            kind, k = m.group(1), int(m.group(2))
            for name, value in variables.items():
                if owner.get(name) == kind and k < len(value):
                    out[lane].append(f"{name}: {format_value(value[k])}")
        else:
            word = lane.lower()
            for name, value in variables.items():
                if _words(name)[:1] == [word]:
                    out[lane].append(f"{name}: {format_value(value)}")
    return out
