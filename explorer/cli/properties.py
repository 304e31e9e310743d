"""Choosing and defining what a run checks: ``--inv``, ``--action-prop``, ``--prop``,
``--constraint``.

Without ``--inv`` and ``--action-prop`` every invariant and action property the spec declares is
checked. Each option value is one of:

* a declared property's name (``--inv atomicity``): check that one;
* ``NAME: EXPR`` (``--inv 'no_split: not ("committed" in rm_state and ...)'``): a new property
  named NAME, written in the invariant language (docs/invariants.md);
* a bare expression (``--inv 'len(msgs) <= 4'``): a new property named by its own text.

Given at least once, ``--inv`` selects: only the listed invariants are checked, and no action
property unless ``--action-prop`` lists some (the same holds the other way round for
``--action-prop`` alone, which keeps every declared invariant). ``--prop`` (check only) does the
same for temporal properties: a declared liveness or sometimes property by name, or
``NAME: eventually(EXPR)``, ``always_eventually(EXPR)``, ``leads_to(EXPR, EXPR)``,
``sometimes(EXPR)`` (invariants/temporal.py); given, only the listed temporal properties are
checked, and ``--inv``/``--action-prop`` without ``--prop`` check none (they focus a run on
safety). ``--constraint EXPR`` bounds the
explored space, conjoined with the spec's own constraint if it has one. ``--explain-inv EXPR``
prints how an expression is understood and checks nothing.
"""

from __future__ import annotations

import argparse
import re

from ..errors import UsageError
from ..invariants import ExpressionError, compile_expression, explain
from ..invariants.errors import did_you_mean
from ..invariants.temporal import compile_temporal
from ..spec import Spec
from .common import out_console

__all__ = ["PropertyRequest", "add_constraint", "add_property_arguments",
           "apply_property_arguments", "explain_arguments", "parse_property_value",
           "print_explanations"]

_NAMED = re.compile(r"\s*([A-Za-z_][A-Za-z_0-9]*)\s*:(?!=)")
_IDENT = re.compile(r"\s*([A-Za-z_][A-Za-z_0-9]*)\s*")
_RESERVED = {"deadlock"}  # the engine's own name for the deadlock check
_KINDS = {"invariant": "--inv", "action_property": "--action-prop"}


def add_temporal_arguments(p: argparse.ArgumentParser) -> None:
    """``--prop`` and ``--no-liveness`` (``check`` only: they need the whole state graph)."""
    p.add_argument("--prop", action="append", default=None, metavar="NAME|'NAME: OP(EXPR)'",
                   help="check only this liveness or sometimes property: a declared one by "
                        "name, or a new one: eventually(EXPR), always_eventually(EXPR), "
                        "leads_to(EXPR, EXPR) or sometimes(EXPR) over invariant-language "
                        "expressions (repeatable; default: all the spec declares; see "
                        "docs/liveness.md)")
    p.add_argument("--no-liveness", dest="liveness", action="store_false", default=None,
                   help="do not check liveness properties (no edge log is kept: faster, "
                        "less memory); sometimes properties are still checked")


def add_property_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--inv", action="append", default=None, metavar="NAME|'NAME: EXPR'",
                   help="check only this invariant: a declared one by name, or a new one "
                        "written in the invariant language (repeatable; default: all the spec "
                        "declares; see docs/invariants.md)")
    p.add_argument("--action-prop", action="append", default=None,
                   metavar="NAME|'NAME: EXPR'",
                   help="check only this action property (over a step: x' is x in the next "
                        "state); declared or new, as for --inv (repeatable; default: all)")
    p.add_argument("--constraint", metavar="EXPR",
                   help="explore only states where EXPR holds (and the spec's own constraint, "
                        "if any), as TLC's CONSTRAINT")
    p.add_argument("--explain-inv", action="append", default=None, metavar="EXPR",
                   help="print how an invariant-language expression is understood (names "
                        "resolved, fully parenthesized) and exit without checking")


class PropertyRequest:
    """One ``--inv``/``--action-prop`` value, classified."""

    __slots__ = ("name", "origin", "text")

    def __init__(self, name: str, text: str | None, origin: str) -> None:
        self.name = name
        self.text = text  # None: a declared property selected by name
        self.origin = origin

    @property
    def declared(self) -> bool:
        return self.text is None


def parse_property_value(value: str, origin: str = "") -> PropertyRequest:
    """Split ``NAME``, ``NAME: EXPR`` or ``EXPR`` (named after its own text)."""
    whole = _IDENT.fullmatch(value)
    if whole:
        return PropertyRequest(whole.group(1), None, origin)
    named = _NAMED.match(value)
    if named:
        name = named.group(1)
        if name in _RESERVED:
            raise UsageError(f"{origin or 'property'}: {name!r} is reserved (protospec names "
                             f"deadlocks so); pick another name")
        return PropertyRequest(name, value[named.end():].strip(), origin)
    return PropertyRequest(" ".join(value.split()), value.strip(), origin)


def _requests(args: argparse.Namespace, dest: str, option: str) -> list[PropertyRequest] | None:
    values = getattr(args, dest, None)
    if values is None:
        return None
    origins = getattr(args, "config_origins", {}) or {}
    return [parse_property_value(v, origins.get((dest, i), f"{option} {v!r}"))
            for i, v in enumerate(values)]


def apply_property_arguments(spec: Spec, args: argparse.Namespace) -> None:
    """Select, define and constrain ``spec``'s properties as the command line (or config) says.

    UsageError for an unknown declared name; ExpressionError (a UsageError) for an expression
    that does not parse, names something unknown or mixes types.
    """
    invs = _requests(args, "inv", "--inv")
    props = _requests(args, "action_prop", "--action-prop")
    temps = _requests(args, "prop", "--prop")
    if temps is None and (invs is not None or props is not None):
        spec.restrict_properties(temporal=[])  # --inv/--action-prop alone: a safety run
    if props is None and invs is not None:
        props = []
    if temps is not None:
        _apply_temporal(spec, temps)
    for kind, requests in (("invariant", invs), ("action_property", props)):
        if requests is None:
            continue
        declared = [r.name for r in requests if r.declared]
        _check_declared(spec, kind, [r for r in requests if r.declared])
        if kind == "invariant":
            spec.restrict_properties(invariants=declared)
        else:
            spec.restrict_properties(action_properties=declared)
        for r in requests:
            if not r.declared:
                assert r.text is not None
                compiled = _compile(spec, r.text, kind, r.name, r.origin)
                spec.add_property(r.name, kind, compiled.fn, doc=" ".join(r.text.split()))
        # Checked in the order given (it decides which is reported when two fail at once).
        order = {r.name: i for i, r in enumerate(requests)}
        fns = spec.invariant_fns if kind == "invariant" else spec.action_property_fns
        fns.sort(key=lambda item: order[item[0]])
    constraint = getattr(args, "constraint", None)
    if constraint:
        origin = (getattr(args, "config_origins", {}) or {}).get(("constraint", 0),
                                                                 "--constraint")
        add_constraint(spec, constraint, origin)


def _apply_temporal(spec: Spec, requests: list[PropertyRequest]) -> None:
    declared = [r.name for r in requests if r.declared]
    known = [p.name for p in spec.liveness_properties() + spec.sometimes_properties()]
    for r in requests:
        if r.declared and r.name not in known:
            raise UsageError(
                f"{r.origin}: spec {spec.name!r} has no liveness or sometimes property "
                f"{r.name!r}{did_you_mean(r.name, known)} (its temporal properties: "
                f"{', '.join(known) or 'none'}). To check a new one, write --prop "
                f"'NAME: eventually(EXPR)' (or always_eventually, leads_to, sometimes).")
    spec.restrict_properties(temporal=declared)
    for r in requests:
        if r.declared:
            continue
        assert r.text is not None
        try:
            compiled = compile_temporal(spec, r.text, r.name)
        except ExpressionError as exc:
            if r.origin and not r.origin.startswith("--"):
                exc.where = f"{r.origin}: {exc.where}"
                exc.args = (exc._render(),)
            raise
        fn = compiled.formula if compiled.kind == "liveness" else compiled.predicate
        spec.add_property(r.name, compiled.kind, fn, doc=" ".join(r.text.split()))
    order = {r.name: i for i, r in enumerate(requests)}
    spec.liveness_fns.sort(key=lambda item: order[item[0]])
    spec.sometimes_fns.sort(key=lambda item: order[item[0]])


def _check_declared(spec: Spec, kind: str, requests: list[PropertyRequest]) -> None:
    available = [p.name for p in (spec.invariants() if kind == "invariant"
                                  else spec.action_properties())]
    word = "invariant" if kind == "invariant" else "action property"
    for r in requests:
        if r.name not in available:
            known = ", ".join(available) or "none"
            raise UsageError(
                f"{r.origin}: spec {spec.name!r} has no {word} {r.name!r}"
                f"{did_you_mean(r.name, available)} (its {word}s: {known}). To check a new "
                f"property, write {_KINDS[kind]} 'NAME: EXPRESSION'.")


def _compile(spec: Spec, text: str, kind: str, name: str, origin: str):
    try:
        return compile_expression(spec, text, kind=kind, name=name)
    except ExpressionError as exc:
        if origin and not origin.startswith("--"):  # from a config file: say which
            exc.where = f"{origin}: {exc.where}"
            exc.args = (exc._render(),)
        raise


def add_constraint(spec: Spec, text: str, origin: str = "--constraint") -> None:
    """Bound the search by ``text``, conjoined with the spec's own ``constraint`` if it has one."""
    compiled = _compile(spec, text, "constraint", "", origin)
    own = spec.constraint
    extra = compiled.fn
    if own is None:
        spec.constraint = extra
    else:
        spec.constraint = lambda s: own(s) and extra(s)


def explain_arguments(spec: Spec, args: argparse.Namespace) -> str:
    """The ``--explain-inv`` report for every expression given, separated by blank lines."""
    parts = []
    for value in args.explain_inv or []:
        r = parse_property_value(value, f"--explain-inv {value!r}")
        if r.declared:
            props = {p.name: p for p in spec.invariants() + spec.action_properties()}
            if r.name in props:
                p = props[r.name]
                word = "an invariant" if p.kind == "invariant" else "an action property"
                parts.append(f"{r.name}: {word} declared in the spec, written in Python"
                             + (f"\n  {p.doc}" if p.doc else ""))
                continue
            r = PropertyRequest("", r.name, r.origin)  # not declared: maybe a boolean variable
        assert r.text is not None
        named = r.name != " ".join(r.text.split())  # a bare expression is named by its text
        parts.append(explain(spec, r.text, name=r.name if named else ""))
    return "\n\n".join(parts)


def print_explanations(spec: Spec, args: argparse.Namespace) -> int:
    """Print the ``--explain-inv`` report on stdout; the exit code (0)."""
    out_console().print(explain_arguments(spec, args), markup=False, highlight=False)
    return 0
