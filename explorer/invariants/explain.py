"""``--explain-inv``: how an expression was understood, before any state is explored.

Shows the expression fully parenthesized with every name resolved (``"committed"`` as
``RMState.COMMITTED``), what each name turned out to be (state variable, parameter, spec
constant, bound variable, enum value), its kind (invariant, or action property if it uses
primes) and its value on the initial states.
"""

from __future__ import annotations

from ..spec import Spec
from .compiler import compile_expression

__all__ = ["explain"]


def explain(spec: Spec, text: str, *, name: str = "", kind: str = "auto") -> str:
    """A few lines of plain text describing how ``text`` compiles for ``spec``."""
    compiled = compile_expression(spec, text, kind=kind, name=name)
    what = {"invariant": "invariant (a predicate on each reachable state)",
            "action_property": "action property (a predicate on each step s -> s'; it uses "
                               "primes)",
            "constraint": "state constraint (states where it is false are not explored)"}
    lines = []
    if name:
        lines.append(f"Name:       {name}")
    lines.append(f"Expression: {_one_line(text)}")
    lines.append(f"Read as:    {compiled.rendered}")
    lines.append(f"Kind:       {what[compiled.kind]}")
    if compiled.names:
        lines.append("Names:")
        pad = max(len(written) for written, _ in compiled.names)
        for written, meaning in compiled.names:
            lines.append(f"  {written:<{pad}}  {meaning}")
    if compiled.kind != "action_property":
        inits = list(spec.init())
        values = [bool(compiled.fn(s)) for s in inits]
        n = len(values)
        if all(values):
            verdict = "true" if n == 1 else f"true on all {n}"
        elif not any(values):
            verdict = "false" if n == 1 else f"false on all {n}"
        else:
            verdict = f"false on {values.count(False)} of {n}"
        lines.append(f"Initial state{'s' if n != 1 else ''}: {verdict}")
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return " ".join(text.split())
