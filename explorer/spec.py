"""The Spec API: how a protocol is written down for protospec.

A spec is a class. Reading it top to bottom should feel like reading a TLA+ module:

    class TwoPhaseCommit(Spec):
        '''Two-phase commit, after Lamport's TwoPhase.tla.'''

        rms = Param(3, "number of resource managers", min=1)     # parameters

        class State(NamedTuple): ...                             # state (immutable, hashable)

        def init(self):                                          # initial states
            yield self.State(...)

        @action(rm="RM")                                         # actions: guard, then update
        def rm_prepare(self, s, rm):
            if s.rm_state[rm] is not WORKING:
                return None                                      # disabled
            return s._replace(...)                               # the one successor

        @invariant
        def atomicity(self, s): ...                              # named state predicates

    @TwoPhaseCommit.variant("tm_commits_early", breaks="atomicity")
    class TMCommitsEarly(TwoPhaseCommit):                        # a known mistake put back
        '''The TM commits without waiting for every RM to prepare.'''
        def tm_commit(self, s): ...

Rules the engine relies on:

* An action is a method ``(self, s, *args) -> successor | None``. Its arguments are drawn from
  finite *domains* named in ``@action(arg=domain)``: a spec attribute name (``"RM"``), a callable
  of the spec (``lambda self: range(self.rms)``), or ``from_state(lambda s: s.msgs)`` for a domain
  read off the current state (e.g. "any message in the network"). The engine enumerates every
  argument tuple and records the action's name and arguments on every step.
* An action that can have several successors for the same arguments is declared
  ``@action(..., many=True)`` and returns an iterable of states (possibly empty).
* States are immutable and hashable (tuples, NamedTuples, frozensets, ints, enums, strings).
  This is the hot path: keep them small and cheap to hash.
* Actions do no IO, use no randomness and mutate nothing: the same state and arguments must
  always give the same successors, so that a trace can be rebuilt by replaying it.
* Compare state values with ``==``, not ``is`` (except enum members and None): waiting levels
  of the search are pickled, and a pickle round trip keeps values, not object identities.
* Enumeration order is deterministic: actions in definition order (base class first), argument
  tuples in the order of their domains.
"""

from __future__ import annotations

import ast
import inspect
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .errors import SpecError, UsageError

__all__ = [
    "Action",
    "ActionInstance",
    "Param",
    "Property",
    "Spec",
    "action",
    "action_property",
    "from_state",
    "invariant",
    "liveness",
    "sometimes",
]

_MISSING = object()


# ---------------------------------------------------------------------------------------------
# Parameters


class Param:
    """A named spec parameter with a default, documentation and validation.

    Declared as a class attribute; on an instance the attribute holds the chosen value::

        rms = Param(3, "number of resource managers", min=1)

    ``type`` defaults to the default's type. ``choices`` limits the value to a set; ``min`` and
    ``max`` bound numbers; ``check`` is a callable returning an error message (or None).
    """

    def __init__(self, default: Any, doc: str, *, type: type | None = None,  # noqa: A002
                 choices: Iterable[Any] | None = None, min: Any = None,  # noqa: A002
                 max: Any = None, check: Callable[[Any], str | None] | None = None) -> None:  # noqa: A002
        self.default = default
        self.doc = doc
        self.type = type if type is not None else builtin_type(default)
        self.choices = tuple(choices) if choices is not None else None
        self.min = min
        self.max = max
        self.check = check
        self.name = ""  # set by __set_name__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def parse(self, text: str) -> Any:
        """Turn a command-line string (``-p name=text``) into a value of this parameter's type."""
        t = self.type
        try:
            if t is bool:
                low = text.strip().lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
                raise ValueError(f"expected true or false, got {text!r}")
            if t is str:
                return text
            if t is int:
                return int(text, 0)
            if t is float:
                return float(text)
            # tuples, lists, frozensets of literals: parsed as Python literals, never evaluated.
            value = ast.literal_eval(text)
            if t in (tuple, frozenset) and isinstance(value, (list, tuple, set, frozenset)):
                return t(value)
            return value
        except (ValueError, SyntaxError) as exc:
            kind = {int: "an integer", float: "a number", bool: "true or false"}.get(
                t, f"a {t.__name__} literal")
            raise UsageError(
                f"parameter {self.name!r}: expected {kind}, got {text!r} ({exc})"
            ) from None

    def validate(self, value: Any, spec_name: str) -> Any:
        """Return the value if acceptable, else raise UsageError naming the spec and parameter."""
        where = f"spec {spec_name!r}, parameter {self.name!r}"
        if self.type is not None and not isinstance(value, self.type):
            if self.type is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            elif self.type is int and isinstance(value, bool):
                raise UsageError(f"{where}: expected an int, got {value!r}")
            else:
                raise UsageError(
                    f"{where}: expected a value of type {self.type.__name__}, got {value!r}"
                )
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(map(repr, self.choices))
            raise UsageError(f"{where}: {value!r} is not one of {allowed}")
        if self.min is not None and value < self.min:
            raise UsageError(f"{where}: {value!r} is below the minimum {self.min!r}")
        if self.max is not None and value > self.max:
            raise UsageError(f"{where}: {value!r} is above the maximum {self.max!r}")
        if self.check is not None:
            problem = self.check(value)
            if problem:
                raise UsageError(f"{where}: {problem}")
        return value

    def describe(self) -> str:
        bounds = []
        if self.choices is not None:
            bounds.append("one of " + ", ".join(map(repr, self.choices)))
        if self.min is not None:
            bounds.append(f">= {self.min!r}")
        if self.max is not None:
            bounds.append(f"<= {self.max!r}")
        extra = f" ({'; '.join(bounds)})" if bounds else ""
        return f"{self.doc}{extra}"


def builtin_type(value: Any) -> type | None:
    return None if value is None else type(value)


# ---------------------------------------------------------------------------------------------
# Actions and properties


class from_state:  # noqa: N801 - reads as a marker in decorators: @action(m=from_state(...))
    """Marks an action argument whose domain is read off the current state.

    ``@action(m=from_state(lambda s: s.msgs))`` enumerates ``m`` over the messages in flight.
    If the domain is a set, iteration order follows Python's set order; the shortest
    counterexample's *length* never depends on it, but sort the domain if you want the very same
    trace under every PYTHONHASHSEED.
    """

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Any], Iterable[Any]]) -> None:
        self.fn = fn


@dataclass(frozen=True)
class Action:
    """An action as declared: its name, argument domains, whether it may branch, and its
    fairness (None, ``"weak"`` or ``"strong"``: TLA+'s WF/SF for each argument instance)."""

    name: str
    domains: tuple[tuple[str, Any], ...]
    many: bool
    doc: str
    fair: str | None = None

    @property
    def state_dependent(self) -> bool:
        return any(isinstance(d, from_state) for _, d in self.domains)


@dataclass(frozen=True)
class ActionInstance:
    """One action with its arguments bound: a label on a step, e.g. ``rm_prepare(rm=1)``."""

    action: str
    args: tuple[tuple[str, Any], ...]

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={_short(v)}" for k, v in self.args)
        return f"{self.action}({inner})"

    @property
    def arg_dict(self) -> dict[str, Any]:
        return dict(self.args)


def _short(value: Any) -> str:
    from .values import format_value  # local: values imports nothing from here

    return format_value(value)


@dataclass(frozen=True)
class Property:
    """A named property: a predicate over a state (invariant, sometimes), over a step ``(s, t)``
    (action property), or a method returning a temporal formula (liveness)."""

    name: str
    kind: str  # "invariant", "action_property", "liveness" or "sometimes"
    doc: str
    fn: Callable[..., bool] = field(compare=False)


_ACTION_ATTR = "__protospec_action__"
_PROPERTY_ATTR = "__protospec_property__"


FAIRNESS = (None, "weak", "strong")


def action(fn: Callable | None = None, /, *, many: bool = False, fair: str | None = None,
           **domains: Any) -> Any:
    """Declare a method as an action. Use bare (``@action``) or with argument domains.

    Each keyword names one argument of the method (after ``s``) and gives its domain; the
    keywords must match the method's parameters, in order. ``fair="weak"`` or
    ``fair="strong"`` makes every argument instance of the action weakly or strongly fair
    (TLA+'s ``\\A i: WF_vars(A(i))`` / ``SF_vars``), which liveness properties rely on; see
    docs/liveness.md. A variant removes fairness by redeclaring the action without it.
    """
    if fair not in FAIRNESS:
        raise SpecError(f"@action(fair={fair!r}): fairness is \"weak\", \"strong\" or None")

    def wrap(f: Callable) -> Callable:
        params = list(inspect.signature(f).parameters)[2:]  # skip self, s
        if list(domains) != params:
            raise SpecError(
                f"action {f.__qualname__}: its arguments {params} must each get a domain in "
                f"@action(...), in the same order (got {list(domains)})"
            )
        doc = inspect.getdoc(f) or ""
        setattr(f, _ACTION_ATTR, Action(f.__name__, tuple(domains.items()), many, doc, fair))
        return f

    return wrap(fn) if fn is not None else wrap


def _property_decorator(kind: str) -> Callable:
    def decorator(fn: Callable | None = None, /, *, name: str | None = None) -> Any:
        def wrap(f: Callable) -> Callable:
            doc = (inspect.getdoc(f) or "").strip()
            setattr(f, _PROPERTY_ATTR, Property(name or f.__name__, kind, doc, f))
            return f

        return wrap(fn) if fn is not None else wrap

    return decorator


invariant = _property_decorator("invariant")
invariant.__doc__ = "Declare ``(self, s) -> bool`` as an invariant: true on every reachable state."
action_property = _property_decorator("action_property")
action_property.__doc__ = (
    """Declare ``(self, s, t) -> bool`` as an action property: true on every step s -> t."""
)
liveness = _property_decorator("liveness")
liveness.__doc__ = (
    """Declare ``(self) -> formula`` as a liveness property: the method returns
    ``eventually(p)``, ``always_eventually(p)`` or ``leads_to(p, q)`` over state predicates,
    checked on every fair behaviour (docs/liveness.md)."""
)
sometimes = _property_decorator("sometimes")
sometimes.__doc__ = (
    """Declare ``(self, s) -> bool`` as a reachability check: some reachable state satisfies
    it (the check fails if none does, which catches a spec that never gets anywhere)."""
)


# ---------------------------------------------------------------------------------------------
# The Spec base class


@dataclass(frozen=True)
class VariantInfo:
    name: str
    breaks: str
    description: str


class Spec:
    """Base class of every spec. Subclass it, declare parameters, state, actions, properties.

    Class attributes a spec may set:

    * ``name`` — the spec's name on the command line (defaults to the module name);
    * ``check_deadlock`` — whether a reachable state with no successor is an error (default
      False: many bounded protocol models legitimately terminate);
    * ``constraint(self, s) -> bool`` — a method bounding the explored space, as TLC's
      CONSTRAINT: successor states for which it is false are discarded (not counted, not checked
      against invariants, not expanded); action properties are still checked on the step that
      generated them, since that step did happen.
    """

    name: ClassVar[str] = ""
    check_deadlock: ClassVar[bool] = False
    variant_info: ClassVar[VariantInfo | None] = None
    _variants: ClassVar[dict[str, type[Spec]]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.variant_info = None  # each class says for itself whether it is a variant
        if "_variants" not in cls.__dict__:
            cls._variants = {}
        if not cls.__dict__.get("name"):
            cls.name = cls.__module__.rsplit(".", 1)[-1]

    # -- class-level introspection -------------------------------------------------------------

    @classmethod
    def summary(cls) -> str:
        """The first line of the spec's docstring."""
        base = cls.base_spec()
        doc = inspect.getdoc(base) or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""

    @classmethod
    def base_spec(cls) -> type[Spec]:
        """The spec a variant was derived from (the class itself if it is not a variant)."""
        c: type[Spec] = cls
        while c.variant_info is not None:
            c = next(b for b in c.__mro__[1:] if issubclass(b, Spec))
        return c

    @classmethod
    def params(cls) -> dict[str, Param]:
        found: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for key, value in vars(klass).items():
                if isinstance(value, Param):
                    found[key] = value
        return found

    @classmethod
    def actions(cls) -> list[Action]:
        """Actions in definition order (base class first); overrides keep the base's domains."""
        order: list[str] = []
        decl: dict[str, Action] = {}
        for klass in reversed(cls.__mro__):
            for key, value in vars(klass).items():
                info = getattr(value, _ACTION_ATTR, None)
                if info is not None:
                    if key not in decl:
                        order.append(key)
                    decl[key] = info
        return [decl[k] for k in order]

    @classmethod
    def _properties(cls, kind: str) -> list[Property]:
        order: list[str] = []
        decl: dict[str, Property] = {}
        for klass in reversed(cls.__mro__):
            for key, value in vars(klass).items():
                info = getattr(value, _PROPERTY_ATTR, None)
                if info is not None and info.kind == kind:
                    if key not in decl:
                        order.append(key)
                    decl[key] = info
        return [decl[k] for k in order]

    @classmethod
    def invariants(cls) -> list[Property]:
        return cls._properties("invariant")

    @classmethod
    def action_properties(cls) -> list[Property]:
        return cls._properties("action_property")

    @classmethod
    def liveness_properties(cls) -> list[Property]:
        return cls._properties("liveness")

    @classmethod
    def sometimes_properties(cls) -> list[Property]:
        return cls._properties("sometimes")

    @classmethod
    def fairness(cls) -> dict[str, str]:
        """Action name -> ``"weak"`` or ``"strong"`` for every fair action."""
        return {a.name: a.fair for a in cls.actions() if a.fair is not None}

    @classmethod
    def variants(cls) -> dict[str, type[Spec]]:
        return dict(cls.base_spec()._variants)

    @classmethod
    def variant(cls, name: str, *, breaks: str, description: str | None = None) -> Callable:
        """Class decorator registering a bug variant of this spec.

        ``breaks`` names the property the mistake violates; the description defaults to the
        first line of the variant class's docstring.
        """

        def register(variant_cls: type[Spec]) -> type[Spec]:
            if not issubclass(variant_cls, cls):
                raise SpecError(f"variant {name!r} must subclass {cls.__name__}")
            # The docstring's first paragraph, whole: a sentence wrapped over several lines
            # must not be cut at the first line break.
            paragraph = (inspect.getdoc(variant_cls) or "").strip().split("\n\n")[0]
            text = description or " ".join(line.strip() for line in paragraph.splitlines())
            variant_cls.variant_info = VariantInfo(name, breaks, text)
            variant_cls.name = cls.name
            cls.base_spec()._variants[name] = variant_cls
            return variant_cls

        return register

    @classmethod
    def with_variant(cls, variant: str | None) -> type[Spec]:
        """The spec class for ``variant`` (None: the correct spec), or a UsageError."""
        if variant is None:
            return cls.base_spec()
        variants = cls.variants()
        if variant not in variants:
            known = ", ".join(sorted(variants)) or "none"
            raise UsageError(
                f"spec {cls.name!r} has no variant {variant!r} (its variants: {known})"
            )
        return variants[variant]

    # -- instances -----------------------------------------------------------------------------

    def __init__(self, **params: Any) -> None:
        declared = self.params()
        unknown = sorted(set(params) - set(declared))
        if unknown:
            known = ", ".join(sorted(declared)) or "none"
            raise UsageError(
                f"spec {self.name!r} has no parameter {unknown[0]!r} (its parameters: {known})"
            )
        values: dict[str, Any] = {}
        for pname, p in declared.items():
            value = params.get(pname, p.default)
            values[pname] = p.validate(value, self.name)
            # Plain instance attributes: the hot path reads them without a descriptor call.
            setattr(self, pname, values[pname])
        self.param_values: dict[str, Any] = values
        self.extra_docs: dict[str, str] = {}
        self.setup()
        self._compile()

    def setup(self) -> None:
        """Hook: derive constants from parameters (e.g. ``self.RM = range(self.rms)``)."""

    def init(self) -> Iterable[Any]:
        """The initial states. Every spec must define this."""
        raise SpecError(f"spec {self.name!r} defines no init() method")

    constraint: Callable[[Any], bool] | None = None

    @property
    def variant_name(self) -> str | None:
        return self.variant_info.name if self.variant_info else None

    def _resolve_domain(self, act: Action, arg: str, domain: Any) -> Any:
        if isinstance(domain, from_state):
            return domain
        try:
            if isinstance(domain, str):
                values = getattr(self, domain)
            elif callable(domain):
                values = domain(self)
            else:
                values = domain
            return tuple(values)
        except Exception as exc:  # the spec's own code failed: say where
            raise SpecError(
                f"spec {self.name!r}, action {act.name!r}: cannot compute the domain of "
                f"argument {arg!r} ({type(exc).__name__}: {exc})",
                spec=self.name, action=act.name, cause=exc,
            ) from exc

    def _compile(self) -> None:
        """Bind every action to its argument tuples once, so the search loop does no lookups."""
        static: list[tuple[int, Callable, tuple, bool]] = []
        dynamic: list[tuple[Action, Callable, list]] = []
        labels: list[ActionInstance] = []
        for act in self.actions():
            fn = getattr(self, act.name)
            resolved = [(arg, self._resolve_domain(act, arg, d)) for arg, d in act.domains]
            if act.state_dependent:
                dynamic.append((act, fn, resolved))
                continue
            names = [arg for arg, _ in resolved]
            for combo in itertools.product(*(values for _, values in resolved)):
                labels.append(ActionInstance(act.name, tuple(zip(names, combo))))
                static.append((len(labels) - 1, fn, combo, act.many))
        self.static_instances = static
        self.dynamic_actions = dynamic
        self.static_labels = labels
        self.invariant_fns = [(p.name, getattr(self, _attr_name(type(self), p)))
                              for p in self.invariants()]
        self.action_property_fns = [(p.name, getattr(self, _attr_name(type(self), p)))
                                    for p in self.action_properties()]
        self.sometimes_fns = [(p.name, getattr(self, _attr_name(type(self), p)))
                              for p in self.sometimes_properties()]
        self.liveness_fns = [(p.name, self._formula(p)) for p in self.liveness_properties()]

    def _formula(self, p: Property) -> Any:
        """Call a ``@liveness`` method and check that it returned a temporal formula."""
        from .liveness.formulas import Temporal  # local: the liveness package imports nothing

        method = getattr(self, _attr_name(type(self), p))
        try:
            formula = method()
        except Exception as exc:
            raise SpecError(f"spec {self.name!r}: liveness property {p.name!r} raised "
                            f"{type(exc).__name__}: {exc}", spec=self.name, cause=exc) from exc
        if not isinstance(formula, Temporal):
            raise SpecError(f"spec {self.name!r}: liveness property {p.name!r} must return "
                            f"eventually(p), always_eventually(p) or leads_to(p, q), not "
                            f"{formula!r}", spec=self.name)
        return formula

    def restrict_properties(self, invariants: Iterable[str] | None = None,
                            action_properties: Iterable[str] | None = None,
                            temporal: Iterable[str] | None = None) -> None:
        """Check only the named properties (``--inv NAME``, ``--prop NAME``); unknown names
        are a UsageError. ``temporal`` selects among liveness and sometimes properties."""
        if invariants is not None:
            self.invariant_fns = _select(self, self.invariant_fns, list(invariants), "invariant")
        if action_properties is not None:
            self.action_property_fns = _select(
                self, self.action_property_fns, list(action_properties), "action property")
        if temporal is not None:
            wanted = list(temporal)
            known = [n for n, _ in self.liveness_fns + self.sometimes_fns]
            for name in wanted:
                if name not in known:
                    raise UsageError(f"spec {self.name!r} has no liveness or sometimes property "
                                     f"{name!r} (its temporal properties: "
                                     f"{', '.join(known) or 'none'})")
            self.liveness_fns = [(n, f) for n, f in self.liveness_fns if n in wanted]
            self.sometimes_fns = [(n, f) for n, f in self.sometimes_fns if n in wanted]

    def add_property(self, name: str, kind: str, fn: Callable[..., bool],
                     doc: str = "") -> None:
        """Add a property defined outside the spec (e.g. by the invariant language).

        ``doc`` (e.g. the expression it came from) is shown with its violations.
        """
        target = {"invariant": self.invariant_fns, "action_property": self.action_property_fns,
                  "liveness": self.liveness_fns, "sometimes": self.sometimes_fns}[kind]
        if any(n == name for n, _ in target):
            raise UsageError(f"spec {self.name!r} already has a {kind} named {name!r}")
        target.append((name, fn))
        self.extra_docs[name] = doc

    def property_docs(self) -> dict[str, str]:
        """Name -> one-line description of every property, declared or added."""
        docs = {p.name: p.doc for p in self.invariants() + self.action_properties()
                + self.liveness_properties() + self.sometimes_properties()}
        docs.update({k: v for k, v in self.extra_docs.items() if v})
        return docs

    # -- the slow, labelled successor relation (simulation, replay, tests) ---------------------

    def successors(self, s: Any) -> Iterator[tuple[ActionInstance, Any]]:
        """Every (label, successor) of ``s`` in the deterministic enumeration order."""
        for k, fn, args, many in self.static_instances:
            out = fn(s, *args)
            if out is None:
                continue
            label = self.static_labels[k]
            if many:
                for t in out:
                    yield label, t
            else:
                yield label, out
        for act, fn, resolved in self.dynamic_actions:
            yield from self._dynamic_successors(s, act, fn, resolved)

    def _dynamic_successors(self, s: Any, act: Action, fn: Callable,
                            resolved: list) -> Iterator[tuple[ActionInstance, Any]]:
        names = [arg for arg, _ in resolved]
        domains = [d.fn(s) if isinstance(d, from_state) else d for _, d in resolved]
        for combo in itertools.product(*domains):
            out = fn(s, *combo)
            if out is None:
                continue
            label = ActionInstance(act.name, tuple(zip(names, combo)))
            if act.many:
                for t in out:
                    yield label, t
            else:
                yield label, out

    def enabled(self, s: Any) -> list[ActionInstance]:
        """The labels of the actions enabled in ``s`` (each listed once)."""
        seen: dict[ActionInstance, None] = {}
        for label, _ in self.successors(s):
            seen.setdefault(label, None)
        return list(seen)

    def step(self, s: Any, action_name: str, **args: Any) -> Any:
        """Apply one named action with arguments to ``s``: the single successor, or None.

        For ``many`` actions returns the list of successors. Handy in tests and for replays.
        """
        try:
            fn = getattr(self, action_name)
        except AttributeError:
            raise UsageError(f"spec {self.name!r} has no action {action_name!r}") from None
        act = getattr(fn, _ACTION_ATTR, None)
        if act is None:
            decl = {a.name: a for a in self.actions()}
            act = decl.get(action_name)
        if act is None:
            raise UsageError(f"spec {self.name!r} has no action {action_name!r}")
        out = fn(s, **args)
        if act.many:
            return list(out) if out is not None else []
        return out

    def check_state(self, s: Any) -> list[str]:
        """Names of the invariants (as currently selected) that ``s`` violates."""
        return [name for name, fn in self.invariant_fns if not fn(s)]

    def check_step(self, s: Any, t: Any) -> list[str]:
        """Names of the action properties (as currently selected) that the step s -> t violates."""
        return [name for name, fn in self.action_property_fns if not fn(s, t)]

    # -- optional hooks for renderers ----------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """A plain description (for ``protospec list`` and the JSON output)."""
        return {
            "name": self.name,
            "summary": self.summary(),
            "parameters": {k: v for k, v in self.param_values.items()},
        }


def _attr_name(cls: type, prop: Property) -> str:
    for klass in cls.__mro__:
        for key, value in vars(klass).items():
            if getattr(value, _PROPERTY_ATTR, None) is not None and \
                    getattr(value, _PROPERTY_ATTR).name == prop.name:
                return key
    raise SpecError(f"property {prop.name!r} not found on {cls.__name__}")


def _select(spec: Spec, available: list[tuple[str, Callable]], wanted: list[str],
            kind: str) -> list[tuple[str, Callable]]:
    by_name = dict(available)
    out = []
    for name in wanted:
        if name not in by_name:
            known = ", ".join(by_name) or "none"
            raise UsageError(f"spec {spec.name!r} has no {kind} {name!r} (its {kind}s: {known})")
        out.append((name, by_name[name]))
    return out


def describe_spec_class(cls: type[Spec]) -> dict[str, Any]:
    """Everything ``protospec list`` shows about a spec class, as plain data."""
    base = cls.base_spec()
    return {
        "name": base.name,
        "summary": base.summary(),
        "parameters": {
            name: {"default": p.default, "doc": p.describe()} for name, p in base.params().items()
        },
        "invariants": {p.name: p.doc for p in base.invariants()},
        "action_properties": {p.name: p.doc for p in base.action_properties()},
        "liveness": {p.name: p.doc for p in base.liveness_properties()},
        "sometimes": {p.name: p.doc for p in base.sometimes_properties()},
        "fairness": base.fairness(),
        "actions": [a.name for a in base.actions()],
        "variants": {
            name: {"breaks": v.variant_info.breaks, "description": v.variant_info.description}
            for name, v in base.variants().items() if v.variant_info
        },
        "check_deadlock": base.check_deadlock,
    }
