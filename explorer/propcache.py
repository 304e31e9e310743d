"""Invariants that read a few state fields, evaluated once per distinct field value (issue 23).

A type invariant such as TwoPhase's ``type_ok`` is a conjunction of checks that each read one
field: ``all(isinstance(x, RMState) for x in s.rm_state) and ... and all(... for m in
s.msgs)``. The search checks it on every new state, yet most new states share each field's
value with thousands of others (296,448 TwoPhase states with 7 RMs hold 16,384 distinct
``rm_state`` values). This module rewrites such an invariant so that each conjunct with a loop
in it that reads exactly one state field is looked up in a table keyed by that field's
structural fingerprint (type-exact: ``0`` and ``RMState.WORKING``, ``Prepared(1)`` and
``Ack(1)`` have different fingerprints, so an ``isinstance`` test can never be answered for
the wrong value), and computed only on a miss. The other conjuncts run as written, in order,
with the same short-circuit: a conjunct runs only when every conjunct before it held.

An invariant of several statements with a loop, that reads at most two state fields and
only as ``s.field`` (Raft's ``log_matching``: ``s.log``), is remembered whole, per distinct
value of those fields. Otherwise only an invariant whose body is one ``return A and B and
...`` (after its docstring) is rewritten, with the same safety checks as inlined actions
(explorer/inline.py: its source must compile to the code that runs, no closure, no walrus,
...); the engine uses only the truth of an invariant's value, which is what the table keeps.
Each table holds at most ``MAX_ENTRIES`` values (a miss after that is computed, not stored).
``PROTOSPEC_PLAIN_EXPANDER=1`` turns this off with the inlining.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from .inline import (
    _COMPREHENSIONS,
    _FORBIDDEN_NAMES,
    _FORBIDDEN_NODES,
    NotInlinable,
    _Rewrite,
    _source_function,
    inlining_enabled,
)

__all__ = ["MAX_ENTRIES", "memoized_invariant"]

MAX_ENTRIES = 1 << 16


def memoized_invariant(spec: Any, fn: Callable[[Any], Any],
                       layout: tuple[type, tuple[str, ...]] | None,
                       fp: Callable[[Any], int]) -> Callable[[Any], Any]:
    """``fn`` itself, or a function with the same truth value on every state of the layout's
    NamedTuple type (other states are handed to ``fn``) that remembers per-field conjuncts."""
    if layout is None or not inlining_enabled():
        return fn
    try:
        return _compile(spec, fn, layout, fp)
    except NotInlinable:
        return fn
    except Exception:  # an engine gap: the invariant as written is always right
        return fn


def _compile(spec: Any, fn: Callable, layout: tuple[type, tuple[str, ...]],
             fp: Callable[[Any], int]) -> Callable[[Any], Any]:
    fdef = _source_function(fn)
    a = fdef.args
    if (a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs or a.defaults
            or len(a.args) != 2):
        raise NotInlinable("not (self, s)")
    body = list(fdef.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if len(body) != 1 or not isinstance(body[0], ast.Return) or body[0].value is None:
        return _whole(spec, fn, fdef, body, layout, fp)
    expr = body[0].value
    for node in ast.walk(expr):
        if isinstance(node, _FORBIDDEN_NODES) or (isinstance(node, ast.Name)
                                                  and node.id in _FORBIDDEN_NAMES):
            raise NotInlinable("unusual construct")
    conjuncts = (expr.values if isinstance(expr, ast.BoolOp) and isinstance(expr.op, ast.And)
                 else [expr])
    self_name, state_name = a.args[0].arg, a.args[1].arg
    env: dict[str, Any] = {}
    rw = _Rewrite(0, fn, self_name, state_name, [], set(), layout, env)
    cls, fields = layout
    lines = ["    if type(s) is not STATE:", "        return ORIG(s)",
             f"    {', '.join(f'S{j}' for j in range(len(fields)))}, = s"]
    n_memo = 0
    for c in conjuncts:
        used = _fields_read(c, state_name, fields)
        code = ast.unparse(rw.visit(c))
        loops = any(isinstance(n, _COMPREHENSIONS) for n in ast.walk(c))
        if used is not None and len(used) == 1 and loops:
            i = fields.index(next(iter(used)))
            m = f"MEMO{n_memo}"
            n_memo += 1
            env[m] = {}
            lines += [f"    k = FP(S{i})",
                      f"    r = {m}.get(k)",
                      "    if r is None:",
                      f"        r = bool({code})",
                      f"        if len({m}) < MAX: {m}[k] = r",
                      "    if not r:",
                      "        return False"]
        else:
            lines += [f"    if not ({code}):", "        return False"]
    if n_memo == 0:
        raise NotInlinable("no conjunct worth remembering")
    lines.append("    return True")
    env.update({"STATE": cls, "ORIG": fn, "FP": fp, "MAX": MAX_ENTRIES, "SELF": spec})
    return _define(fn, lines, env)


def _whole(spec: Any, fn: Callable, fdef: ast.FunctionDef, body: list[ast.stmt],
           layout: tuple[type, tuple[str, ...]], fp: Callable[[Any], int]) -> Callable[[Any], Any]:
    """An invariant of several statements with a loop that reads at most two state fields (as
    ``s.field``, never ``s`` itself): its truth value remembered per distinct value of those
    fields (Raft's ``log_matching`` reads only ``s.log``)."""
    tree = ast.Module(body=body, type_ignores=[])
    for node in ast.walk(tree):
        if isinstance(node, _FORBIDDEN_NODES) or (isinstance(node, ast.Name)
                                                  and node.id in _FORBIDDEN_NAMES):
            raise NotInlinable("unusual construct")
    if not any(isinstance(n, (*_COMPREHENSIONS, ast.For, ast.While)) for n in ast.walk(tree)):
        raise NotInlinable("no loop worth remembering")
    cls, fields = layout
    used = _fields_read(tree, fdef.args.args[1].arg, fields)
    if not used or len(used) > 2:
        raise NotInlinable("reads the state otherwise or more than two fields")
    idx = sorted(fields.index(f) for f in used)
    key = ", ".join(f"FP(s[{i}])" for i in idx)
    key = key if len(idx) == 1 else f"({key})"
    lines = ["    if type(s) is not STATE:", "        return ORIG(s)",
             f"    k = {key}",
             "    r = MEMO.get(k)",
             "    if r is None:",
             "        r = bool(ORIG(s))",
             "        if len(MEMO) < MAX: MEMO[k] = r",
             "    return r"]
    return _define(fn, lines, {"STATE": cls, "ORIG": fn, "FP": fp, "MAX": MAX_ENTRIES,
                               "MEMO": {}})


def _define(fn: Callable, lines: list[str], env: dict[str, Any]) -> Callable[[Any], Any]:
    """``def invariant(s, <env as defaults>)`` with body ``lines``, compiled."""
    params = ", ".join(f"{k}={k}" for k in env)
    src = f"def invariant(s, {params}):\n" + "\n".join(lines) + "\n"
    namespace: dict[str, Any] = dict(env)
    exec(compile(src, f"<protospec invariant {fn.__name__}>", "exec"), namespace)
    out = namespace["invariant"]
    out.source = src  # type: ignore[attr-defined]
    return out


def _fields_read(node: ast.AST, state_name: str, fields: tuple[str, ...]) -> set[str] | None:
    """The state fields ``node`` reads as ``s.field``; None if it uses ``s`` any other way
    (passes it to a function, reads another attribute, or a comprehension rebinds the name)."""
    used: set[str] = set()
    parents: dict[int, ast.AST] = {}
    for parent in ast.walk(node):
        for child in ast.iter_child_nodes(parent):
            parents[id(child)] = parent
        if isinstance(parent, _COMPREHENSIONS):
            for gen in parent.generators:
                for n in ast.walk(gen.target):
                    if isinstance(n, ast.Name) and n.id == state_name:
                        return None
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and n.id == state_name:
            p = parents.get(id(n))
            if not (isinstance(p, ast.Attribute) and p.value is n and p.attr in fields):
                return None
            used.add(p.attr)
    return used
