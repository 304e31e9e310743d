"""Sequential models: what a correct single-copy object would answer, one operation at a time.

A model is a small class with two methods that matter::

    class Counter(Model):
        name = "counter"

        def init(self):                      # the initial state (hashable)
            return 0

        def step(self, state, inp):          # -> (ok, output, new state)
            f, value = inp
            if f == "add":
                return True, None, state + value
            if f == "read":
                return True, state, state
            return False, None, state

``step`` applies one operation's input ``inp`` to a state. ``ok`` is False when the operation
cannot take effect in that state at all (acquiring a lock that is held, a compare-and-set whose
expected value is not there); ``output`` is what the operation returns, which the checker
compares with what the client saw. States must be hashable and cheap to hash: the checker
remembers every (operations linearized, state) pair it has visited.

:meth:`Model.prepare` turns a history operation into that input and the *expected* output; the
default is ``(Input(op.f, op.value), op.output)``. Return :data:`~.history.UNKNOWN` as the
expected output when the completion says nothing to check (a write's echo). It raises
ValueError for an operation the model does not understand; the checker reports it with the
operation's line number.

:meth:`Model.partition` may split a history into independent sub-histories, each checked with
its own model (P-compositionality: a map is linearizable iff each key is, Herlihy & Wing 1990,
section 3.3, "locality").

The built-in models follow Jepsen's conventions for operation names and values.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from ..errors import UsageError
from .history import UNKNOWN, Operation, format_value

__all__ = [
    "MODELS",
    "CasRegister",
    "Input",
    "KeyRegister",
    "KeyValue",
    "Lock",
    "Model",
    "Queue",
    "SetModel",
    "get_model",
]


class Input(NamedTuple):
    """What an operation asks of the model: its function and argument."""

    f: str
    value: Any


class Model:
    """Base class for sequential models; subclasses set ``name`` and define init and step."""

    name: ClassVar[str] = "model"
    #: One line for ``--help`` and the docs.
    summary: ClassVar[str] = ""
    #: Whether the session-guarantee checks apply (reads and writes of registers by key).
    registers: ClassVar[bool] = False

    def init(self) -> Hashable:
        """The initial state."""
        raise NotImplementedError

    def step(self, state: Any, inp: Any) -> tuple[bool, Any, Hashable]:
        """Apply ``inp`` to ``state``: (can it take effect, its output, the new state)."""
        raise NotImplementedError

    def is_read(self, inp: Any) -> bool:
        """True if the operation leaves every state unchanged (a read); default False.

        The checker linearizes such an operation as soon as it is legal, without trying the
        alternatives: any linearization that places it later can place it there. Saying True
        for an operation that can change some state makes the checker wrong.
        """
        return False

    def prepare(self, op: Operation) -> tuple[Any, Any]:
        """The model input and expected output of a history operation (ValueError if invalid)."""
        return Input(op.f, op.value), op.output

    def prune(self, ops: Sequence[Operation], optional: Callable[[Operation], bool]
              ) -> list[Operation]:
        """The operations left after removing optional ones that cannot change the verdict.

        ``optional(op)`` says whether ``op`` may be left out (an ``info`` operation). The
        default removes optional reads: taking one changes nothing, and it can always be left
        out. An operation that may not have happened stays concurrent with everything after
        it, so each one removed here saves the search a factor of up to two.
        """
        return [o for o in ops if not (optional(o) and self.is_read(self.prepare(o)[0]))]

    def partition(self, ops: Sequence[Operation]
                  ) -> list[tuple[Any, Model, list[Operation]]] | None:
        """Independent sub-histories as (label, model, ops), or None to check ``ops`` whole."""
        return None

    def describe(self, op: Operation) -> str:
        """A short label for an operation in timelines, e.g. ``w 3`` or ``r → 3``."""
        out = "" if op.output is UNKNOWN else f" → {format_value(op.output)}"
        arg = "" if op.value is None else f" {format_value(op.value)}"
        return f"{op.f}{arg}{out}"

    def format_state(self, state: Any) -> str:
        """A short rendering of a model state."""
        return format_value(state)


class CasRegister(Model):
    """A single register: ``read`` → value, ``write v``, ``cas [old new]`` (as in Knossos).

    A ``cas`` can take effect only when the register holds ``old``; a cas that found another
    value is expected to complete with ``fail`` (it did not happen) and is dropped.
    """

    name = "cas-register"
    summary = "one register: read, write v, cas [old new]"
    registers = True

    def __init__(self, initial: Any = None) -> None:
        self.initial = initial

    def init(self) -> Hashable:
        return self.initial

    def step(self, state: Any, inp: Any) -> tuple[bool, Any, Hashable]:
        f = inp[0]
        if f == "read":
            return True, state, state
        if f == "write":
            return True, None, inp[1]
        old, new = inp[1]  # cas
        if state == old:
            return True, None, new
        return False, None, state

    def is_read(self, inp: Any) -> bool:
        return inp[0] == "read"

    def prune(self, ops: Sequence[Operation], optional: Callable[[Operation], bool]
              ) -> list[Operation]:
        """Also remove optional writes and cas whose value no read returns and no cas expects.

        After such a write only another write can take effect (no read or cas accepts the
        register holding its value), so leaving it out gives the same states from then on.
        """
        observed = {o.output for o in ops if o.f == "read" and o.output is not UNKNOWN
                    and not optional(o)}
        observed |= {o.value[0] for o in ops if o.f == "cas"}
        kept = []
        for o in ops:
            if optional(o):
                if o.f == "read":
                    continue
                written = o.value if o.f == "write" else o.value[1]
                if written not in observed:
                    continue
            kept.append(o)
        return kept

    def prepare(self, op: Operation) -> tuple[Any, Any]:
        if op.f == "read":
            return ("read", None), op.output
        if op.f == "write":
            return ("write", op.value), UNKNOWN
        if op.f == "cas":
            if not (isinstance(op.value, tuple) and len(op.value) == 2):
                raise ValueError(f"cas needs a value [old new], not {format_value(op.value)}")
            return ("cas", op.value), UNKNOWN
        raise ValueError(f"the {self.name} model has read, write and cas, not {op.f!r}")

    def describe(self, op: Operation) -> str:
        if op.f == "read":
            return "r → " + format_value(op.output)
        if op.f == "write":
            return "w " + format_value(op.value)
        if op.f == "cas" and isinstance(op.value, tuple) and len(op.value) == 2:
            return f"cas {format_value(op.value[0])}→{format_value(op.value[1])}"
        return super().describe(op)


class KeyRegister(CasRegister):
    """One key of the kv model: a register with read/get, write/put, cas and append.

    ``get`` and ``put`` are the names Jepsen's and Porcupine's key-value tests use for read
    and write; ``append v`` concatenates the string ``v`` to the value (a missing value reads
    as the empty string), as in Porcupine's kv model.
    """

    name = "kv"
    _READS = ("read", "get")
    _WRITES = ("write", "put")

    def step(self, state: Any, inp: Any) -> tuple[bool, Any, Hashable]:
        if inp[0] == "append":
            return True, None, ("" if state is None else state) + inp[1]
        return super().step(state, inp)

    def is_read(self, inp: Any) -> bool:
        return inp[0] == "read"

    def prepare(self, op: Operation) -> tuple[Any, Any]:
        if op.f in self._READS:
            return ("read", None), op.output
        if op.f in self._WRITES:
            return ("write", op.value), UNKNOWN
        if op.f == "append":
            if not isinstance(op.value, str):
                raise ValueError(f"append needs a string value, not {format_value(op.value)}")
            return ("append", op.value), UNKNOWN
        if op.f == "cas":
            return super().prepare(op)
        raise ValueError(f"the kv model has get, put and append (or read, write and cas) for "
                         f"each key, not {op.f!r}")

    def prune(self, ops: Sequence[Operation], optional: Callable[[Operation], bool]
              ) -> list[Operation]:
        if any(o.f not in ("read", "write", "cas") for o in ops):
            # get/put/append: only optional reads can go (an append changes later reads).
            return [o for o in ops if not (optional(o) and o.f in self._READS)]
        return super().prune(ops, optional)

    def describe(self, op: Operation) -> str:
        if op.f == "get":
            return "get → " + format_value(op.output)
        if op.f in ("put", "append"):
            return f"{op.f} {format_value(op.value)}"
        return super().describe(op)


class KeyValue(Model):
    """A map of independent registers, checked key by key.

    Two notations: Jepsen's ``independent`` values ``[key v]`` (``read [k nil]`` → ``[k v]``,
    ``write [k v]``, ``cas [k [old new]]``), and records with a ``key`` field (``:key`` in
    EDN) as Jepsen's and Porcupine's key-value tests write them, with ``get``, ``put`` and
    ``append`` of string values (the history reader turns the ``key`` field into the same
    ``[key v]`` shape). The check is split by key (P-compositionality), each key a
    :class:`KeyRegister`.
    """

    name = "kv"
    summary = ("a map of registers: read [k _] -> [k v], write [k v], cas [k [old new]]; or "
               "records with a key field: get, put, append (strings)")
    registers = True

    def __init__(self, initial: Any = None) -> None:
        self.initial = initial
        self.register = KeyRegister(initial)

    def init(self) -> Hashable:
        return ()

    def step(self, state: Any, inp: Any) -> tuple[bool, Any, Hashable]:
        # Used only when a history is checked whole (e.g. sequential consistency, which is not
        # compositional): the state is a sorted tuple of (key, value) pairs.
        f, key, arg = inp
        values = dict(state)
        ok, out, new = self.register.step(values.get(key, self.initial), (f, arg))
        if not ok:
            return False, None, state
        values[key] = new
        return True, out, tuple(sorted(values.items(), key=lambda kv: repr(kv[0])))

    @staticmethod
    def split(op: Operation) -> tuple[Any, Any, Any]:
        """(key, argument, output) of a kv operation; ValueError unless shaped ``[k v]``."""
        if not (isinstance(op.value, tuple) and len(op.value) == 2):
            raise ValueError(f"the kv model needs a key: a value [key value], or a key field "
                             f"(:key in EDN), not the value {format_value(op.value)}")
        key, arg = op.value
        output = op.output
        if output is not UNKNOWN:
            if not (isinstance(output, tuple) and len(output) == 2):
                raise ValueError(f"the kv model's results are [key value], not "
                                 f"{format_value(output)}")
            if output[0] != key:
                raise ValueError(f"the result's key {format_value(output[0])} is not the "
                                 f"invocation's key {format_value(key)}")
            output = output[1]
        return key, arg, output

    def unwrap(self, op: Operation) -> Operation:
        """The operation as its key's register sees it."""
        _, arg, output = self.split(op)
        return op._replace(value=arg, output=output)

    def is_read(self, inp: Any) -> bool:
        return inp[0] == "read"

    def prepare(self, op: Operation) -> tuple[Any, Any]:
        key, _, _ = self.split(op)
        (f, arg), expected = self.register.prepare(self.unwrap(op))
        return (f, key, arg), expected

    def partition(self, ops: Sequence[Operation]) -> list[tuple[Any, Model, list[Operation]]]:
        by_key: dict[Any, list[Operation]] = {}
        for op in ops:
            by_key.setdefault(op.value[0], []).append(self.unwrap(op))
        return [(key, self.register, group) for key, group in by_key.items()]

    def describe(self, op: Operation) -> str:
        try:
            key = op.value[0]
            return f"{format_value(key)}: " + self.register.describe(self.unwrap(op))
        except (TypeError, IndexError, ValueError):
            return super().describe(op)

    def format_state(self, state: Any) -> str:
        return "{" + ", ".join(f"{format_value(k)} {format_value(v)}" for k, v in state) + "}"


class Queue(Model):
    """A FIFO queue: ``enqueue v``, ``dequeue`` → the oldest value, or nil when empty."""

    name = "queue"
    summary = "FIFO queue: enqueue v, dequeue -> v (nil when empty)"

    def init(self) -> Hashable:
        return ()

    def step(self, state: Any, inp: Any) -> tuple[bool, Any, Hashable]:
        if inp[0] == "enqueue":
            return True, None, (*state, inp[1])
        if state:
            return True, state[0], state[1:]
        return True, None, state

    def prepare(self, op: Operation) -> tuple[Any, Any]:
        if op.f == "enqueue":
            return ("enqueue", op.value), UNKNOWN
        if op.f == "dequeue":
            return ("dequeue", None), op.output
        raise ValueError(f"the queue model has enqueue and dequeue, not {op.f!r}")

    def describe(self, op: Operation) -> str:
        if op.f == "enqueue":
            return "enq " + format_value(op.value)
        return "deq → " + format_value(op.output)


class SetModel(Model):
    """A set: ``add v``, ``remove v``, ``contains v`` → true/false, ``read`` → all elements."""

    name = "set"
    summary = "a set: add v, remove v, contains v -> bool, read -> #{...}"

    def init(self) -> Hashable:
        return frozenset()

    def step(self, state: Any, inp: Any) -> tuple[bool, Any, Hashable]:
        f, v = inp
        if f == "add":
            return True, None, state | {v}
        if f == "remove":
            return True, None, state - {v}
        if f == "contains":
            return True, v in state, state
        return True, state, state  # read

    def is_read(self, inp: Any) -> bool:
        return inp[0] in ("read", "contains")

    def prepare(self, op: Operation) -> tuple[Any, Any]:
        if op.f in ("add", "remove"):
            return (op.f, op.value), UNKNOWN
        if op.f == "contains":
            return ("contains", op.value), op.output
        if op.f == "read":
            out = op.output
            if out is not UNKNOWN:
                if not isinstance(out, (tuple, frozenset)):
                    raise ValueError(f"a set read returns a collection, not {format_value(out)}")
                out = frozenset(out)
            return ("read", None), out
        raise ValueError(f"the set model has add, remove, contains and read, not {op.f!r}")


class Lock(Model):
    """A lock with an owner: ``acquire`` and ``release``, by the value's owner or the process.

    An acquire can take effect only when the lock is free; a release only by its owner. The
    owner is the operation's value when it has one, else its process.
    """

    name = "lock"
    summary = "a lock with owner: acquire, release (owner = value, else the process)"

    def init(self) -> Hashable:
        return None

    def step(self, state: Any, inp: Any) -> tuple[bool, Any, Hashable]:
        f, owner = inp
        if f == "acquire":
            return (True, None, owner) if state is None else (False, None, state)
        return (True, None, None) if state == owner else (False, None, state)

    def prepare(self, op: Operation) -> tuple[Any, Any]:
        if op.f not in ("acquire", "release"):
            raise ValueError(f"the lock model has acquire and release, not {op.f!r}")
        owner = op.value if op.value is not None else op.process
        return (op.f, owner), UNKNOWN

    def describe(self, op: Operation) -> str:
        return op.f + ("" if op.value is None else " " + format_value(op.value))

    def format_state(self, state: Any) -> str:
        return "free" if state is None else f"held by {format_value(state)}"


MODELS: dict[str, type[Model]] = {m.name: m for m in (CasRegister, KeyValue, Queue, SetModel,
                                                       Lock)}


def get_model(name: str, initial: Any = None) -> Model:
    """A model by name, or a user's model as ``path/to/file.py:Class`` or ``package.module:Class``.

    ``initial`` is passed to the register models (initial value of every register).
    Raises UsageError for an unknown name or a class that cannot be loaded.
    """
    if name in ("register", "cas"):
        name = "cas-register"
    if name in MODELS:
        cls = MODELS[name]
        return cls(initial) if cls in (CasRegister, KeyValue) else cls()
    if ":" not in name:
        raise UsageError(f"unknown model {name!r}; choose one of {', '.join(MODELS)} or give "
                         "your own as FILE.py:CLASS or MODULE:CLASS")
    where, _, class_name = name.rpartition(":")
    try:
        if where.endswith(".py"):
            path = Path(where)
            if not path.is_file():
                raise UsageError(f"model file {where} does not exist")
            spec = importlib.util.spec_from_file_location(f"_protospec_model_{path.stem}", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except UsageError:
        raise
    except Exception as e:
        raise UsageError(f"cannot load the model module {where}: {type(e).__name__}: {e}") from e
    cls = getattr(module, class_name, None)
    if cls is None or not inspect.isclass(cls):
        raise UsageError(f"{where} has no class {class_name}")
    for method in ("init", "step"):
        if not callable(getattr(cls, method, None)):
            raise UsageError(f"model {class_name} has no {method}() method")
    model = cls()
    if not isinstance(model, Model):
        # A plain class with init and step is enough; borrow the defaults for the rest.
        for method in ("prepare", "is_read", "prune", "partition", "describe", "format_state"):
            if not hasattr(model, method):
                setattr(model, method, getattr(Model, method).__get__(model))
        for attr in ("name", "registers"):
            if not hasattr(model, attr):
                setattr(model, attr, class_name if attr == "name" else False)
    return model
