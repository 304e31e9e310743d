"""Action bodies inlined into the generated expander: the spec form at the cost of a hand-written
successor function (issue 23).

A readable action is a method called once per argument tuple per state: ``rm_prepare(s, rm)``
for every RM re-reads ``s.rm_state`` through an attribute, re-tests guards that do not mention
``rm``, and builds its successor through ``State.__new__`` and ``except_at`` -- Python calls
that cost more than the work they do. This module rewrites each action's own source (its AST)
into a piece of the one generated ``expand`` function, with the same meaning:

* the state's fields are unpacked once per state into locals (``s.msgs`` becomes a local);
* the argument domains become ``for`` loops inside ``expand``; ``return None`` (or falling off
  the end) goes on to the next argument tuple, ``return X`` emits ``X`` as a successor;
* a leading guard ``if C: return None`` (``A or B`` counts as two guards) and a leading
  ``name = expr`` move out of the loops over arguments they do not mention, so they run once
  per state (or per outer argument) instead of once per argument tuple;
* ``State(a, b, ...)`` of a NamedTuple class, ``s._replace(f=x)`` and ``except_at(t, i, v)``
  are built directly (``tuple.__new__``, slicing) instead of through Python-level calls;
  enum members (``RMState.WORKING``) and the names an action reads from its module are bound
  once when the expander is made.

Only what is certainly equivalent is rewritten; an action that is not is called as before,
by itself (the others are still inlined). An action is called, not inlined, when its source
cannot be read or does not compile to the very code the method runs, when it is a closure or
uses ``super()``, when it has ``yield``, ``try``, ``with``, ``match``, ``global``,
``nonlocal``, ``del``, ``import``, nested functions, lambdas, walrus or ``return`` inside a
loop, or when one of its local names is bound anywhere but once, at the top level of its body,
before any use (the inlined body runs once per argument tuple in one frame, so a local must
never carry a value over from the previous tuple). A state that is not of the initial states'
NamedTuple type is expanded the plain way. Moving a guard out of a loop is sound because
actions are pure (explorer/spec.py's rules) and a static domain is never empty once the
loop is generated; no guard moves out of a loop over a ``from_state`` domain.

``PROTOSPEC_PLAIN_EXPANDER=1`` turns all of this off (every action called as a method): the
differential tests compare the two on every built-in spec.
"""

from __future__ import annotations

import ast
import builtins
import enum
import inspect
import os
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .fingerprint import _core as _fpcore
from .spec import Action, Spec, from_state
from .values import except_at

__all__ = ["PLAIN_ENV", "InlinedAction", "inline_action", "inlining_enabled", "state_layout"]

PLAIN_ENV = "PROTOSPEC_PLAIN_EXPANDER"

_FORBIDDEN_NODES = (ast.Yield, ast.YieldFrom, ast.Await, ast.Global, ast.Nonlocal, ast.Try,
                    ast.With, ast.AsyncWith, ast.AsyncFor, ast.FunctionDef,
                    ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.Delete, ast.Import,
                    ast.ImportFrom, ast.NamedExpr, ast.Match)
_FORBIDDEN_NAMES = frozenset({"locals", "vars", "eval", "exec", "super", "__class__", "dir",
                              "globals", "__import__", "compile", "breakpoint"})
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
if hasattr(ast, "TryStar"):
    _FORBIDDEN_NODES += (ast.TryStar,)


# C versions of the two builders where the fingerprint extension is compiled (same results).
_C_NEW_TUPLE = getattr(_fpcore, "new_tuple", None)
_C_EXCEPT_AT = getattr(_fpcore, "except_at", None)
_REFERENCE_TUPLE = namedtuple("_REFERENCE_TUPLE", "x")  # whose _replace every namedtuple shares


class NotInlinable(Exception):
    """This action is called as a method (the reason says why; shown by ``explain``)."""


def inlining_enabled() -> bool:
    return os.environ.get(PLAIN_ENV, "") in ("", "0")


def state_layout(spec: Spec) -> tuple[type, tuple[str, ...]] | None:
    """The NamedTuple class of the spec's initial states and its fields, if there is one class
    whose fields are plain tuple positions (so ``a, b, c = s`` reads ``s.a, s.b, s.c``)."""
    try:
        inits = list(spec.init())
    except Exception:
        return None
    if not inits:
        return None
    cls = type(inits[0])
    if any(type(s) is not cls for s in inits) or not issubclass(cls, tuple):
        return None
    fields = getattr(cls, "_fields", None)
    if not isinstance(fields, tuple) or not all(isinstance(f, str) for f in fields):
        return None
    probe = tuple.__new__(cls, range(len(fields)))
    try:
        if any(getattr(probe, f) != i for i, f in enumerate(fields)):
            return None
    except Exception:
        return None
    return cls, fields


def _plain_namedtuple(cls: Any) -> bool:
    """A class made by namedtuple()/NamedTuple whose constructor and _replace are its own."""
    if not (isinstance(cls, type) and type(cls) is type and issubclass(cls, tuple)
            and cls.__init__ is object.__init__):  # no metaclass call, no __init__ to run
        return False
    fields = getattr(cls, "_fields", None)
    new = cls.__new__
    code = getattr(new, "__code__", None)
    return (isinstance(fields, tuple) and code is not None
            and getattr(new, "__globals__", {}).get("__name__", "").startswith("namedtuple_")
            and code.co_argcount == len(fields) + 1
            and getattr(cls._replace, "__code__", None) is _REFERENCE_TUPLE._replace.__code__)


@dataclass
class InlinedAction:
    """One action rewritten: ``body`` (statements for ``expand``, the argument loops included)
    and ``env`` (the values its generated names stand for, bound once)."""

    act: Action
    body: list[ast.stmt]
    env: dict[str, Any] = field(default_factory=dict)


def _source_function(fn: Callable) -> ast.FunctionDef:
    func = getattr(fn, "__func__", fn)
    code = func.__code__
    if code.co_freevars:
        raise NotInlinable("it is a closure or uses super()")
    try:
        src = inspect.getsource(func)
    except (OSError, TypeError) as exc:
        raise NotInlinable(f"its source cannot be read ({exc})") from None
    # Not textwrap.dedent: it would change multi-line string constants. An indented method
    # parses as the body of an ``if``.
    indented = src[:1].isspace()
    try:
        tree = ast.parse("if 1:\n" + src if indented else src)
    except SyntaxError as exc:
        raise NotInlinable(f"its source does not parse alone ({exc.msg})") from None
    body = tree.body[0].body if indented else tree.body  # type: ignore[attr-defined]
    if len(tree.body) != 1 or len(body) != 1 or not isinstance(body[0], ast.FunctionDef):
        raise NotInlinable("its source is not one function definition")
    fdef = body[0]
    # The source read must be the code that runs (a file edited since import, name mangling
    # inside a class body, a decorator that swapped the function would all differ).
    bare = ast.FunctionDef(name=fdef.name, args=fdef.args, body=fdef.body, decorator_list=[],
                           returns=None, type_comment=None, lineno=1, col_offset=0)
    module = ast.fix_missing_locations(ast.Module(body=[bare], type_ignores=[]))
    ns_code = compile(module, "<protospec inline check>", "exec", dont_inherit=True,
                      flags=_future_flags(func))
    twin = next(c for c in ns_code.co_consts if isinstance(c, type(code)))
    if not _same_code(twin, code):
        raise NotInlinable("its source does not match the code that runs")
    return fdef


def _same_code(a: Any, b: Any) -> bool:
    """Same bytecode, names and constants (nested code objects compared the same way)."""
    if (a.co_code != b.co_code or a.co_names != b.co_names or a.co_varnames != b.co_varnames
            or len(a.co_consts) != len(b.co_consts)):
        return False
    for x, y in zip(a.co_consts, b.co_consts):
        if isinstance(x, type(a)) or isinstance(y, type(a)):
            if not (isinstance(x, type(a)) and isinstance(y, type(a)) and _same_code(x, y)):
                return False
        elif type(x) is not type(y) or x != y:
            return False
    return True


def _future_flags(func: Callable) -> int:
    import __future__

    flags = 0
    module_globals = getattr(func, "__globals__", {})
    for name in __future__.all_feature_names:
        feature = getattr(__future__, name)
        if module_globals.get(name) is feature:
            flags |= feature.compiler_flag
    return flags


def _names_in_target(target: ast.AST) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        out: list[str] = []
        for elt in target.elts:
            out += _names_in_target(elt)
        return out
    raise NotInlinable("it assigns to something other than a name")


def _validate(fdef: ast.FunctionDef) -> tuple[str, str, list[str], set[str]]:
    """Check the body is in the inlinable subset; return (self, state, args, locals)."""
    a = fdef.args
    if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs or a.defaults:
        raise NotInlinable("its signature has defaults, *args or keyword-only arguments")
    params = [p.arg for p in a.args]
    if len(params) < 2:
        raise NotInlinable("it does not take (self, s, ...)")
    self_name, state_name, args = params[0], params[1], params[2:]
    body = fdef.body

    def walk(node: ast.AST, in_loop: bool) -> None:
        if isinstance(node, _FORBIDDEN_NODES):
            raise NotInlinable(f"it uses {type(node).__name__}")
        if isinstance(node, ast.Starred) and not isinstance(node.ctx, ast.Load):
            raise NotInlinable("it unpacks into a starred target")
        if isinstance(node, ast.Name) and node.id in _FORBIDDEN_NAMES:
            raise NotInlinable(f"it uses {node.id}")
        if isinstance(node, ast.Return) and in_loop:
            raise NotInlinable("it returns from inside a loop")
        if isinstance(node, _COMPREHENSIONS):
            for gen in node.generators:
                _names_in_target(gen.target)
                if gen.is_async:
                    raise NotInlinable("it uses an async comprehension")
        loop = in_loop or isinstance(node, (ast.For, ast.While))
        for child in ast.iter_child_nodes(node):
            walk(child, loop)

    for st in body:
        walk(st, False)
    # Locals: bound once, by a top-level assignment, and only read after it.
    local_names: set[str] = set()
    fixed = {self_name, state_name, *args}
    for st in body:
        reads = _function_scope_names(st, ast.Load)
        early = (reads & _bound_anywhere_in(body)) - local_names - fixed
        if early:
            raise NotInlinable(f"it may read {sorted(early)[0]!r} before assigning it")
        if isinstance(st, ast.Assign):
            bound = [n for t in st.targets for n in _names_in_target(t)]
        elif isinstance(st, ast.AnnAssign) and st.value is not None:
            bound = _names_in_target(st.target)
        else:
            bound = []
            if _function_scope_names(st, ast.Store):
                raise NotInlinable("it binds a name inside a compound statement, a loop or an "
                                   "augmented assignment")
        for n in bound:
            if n in fixed or n in local_names:
                raise NotInlinable(f"it assigns {n!r} more than once or rebinds a parameter")
            local_names.add(n)
    return self_name, state_name, args, local_names


def _function_scope_names(node: ast.AST, ctx: type) -> set[str]:
    """Names with this context in the function's own scope (not inside comprehensions, except
    their first iterable, which is evaluated in the enclosing scope)."""
    out: set[str] = set()

    def visit(n: ast.AST) -> None:
        if isinstance(n, ast.Name) and isinstance(n.ctx, ctx):
            out.add(n.id)
        if isinstance(n, _COMPREHENSIONS):
            visit(n.generators[0].iter)
            inner = _comprehension_free_names(n)
            if ctx is ast.Load:
                out.update(inner)
            return
        for child in ast.iter_child_nodes(n):
            visit(child)

    visit(node)
    return out


def _comprehension_free_names(node: ast.AST) -> set[str]:
    """Names a comprehension reads from outside itself (besides its first iterable)."""
    bound: set[str] = set()
    for gen in node.generators:  # type: ignore[attr-defined]
        bound.update(_names_in_target(gen.target))
    reads: set[str] = set()
    parts: list[ast.AST] = []
    for i, gen in enumerate(node.generators):  # type: ignore[attr-defined]
        if i:
            parts.append(gen.iter)
        parts += gen.ifs
    parts += [getattr(node, k) for k in ("elt", "key", "value") if hasattr(node, k)]
    for p in parts:
        reads |= _function_scope_names(p, ast.Load)
    return reads - bound


def _bound_anywhere_in(body: list[ast.stmt]) -> set[str]:
    out: set[str] = set()
    for st in body:
        out |= _function_scope_names(st, ast.Store)
    return out


class _Rewrite(ast.NodeTransformer):
    """Renames every name of one action into the expander's namespace and rewrites the calls
    that have a cheaper exact equivalent."""

    def __init__(self, k: int, fn: Callable, self_name: str, state_name: str,
                 args: list[str], local_names: set[str],
                 layout: tuple[type, tuple[str, ...]] | None, env: dict[str, Any]) -> None:
        self.k = k
        self.globals = getattr(fn, "__func__", fn).__globals__
        self.self_name, self.state_name = self_name, state_name
        self.args = {a: f"i{k}_{j}" for j, a in enumerate(args)}
        self.locals = local_names
        self.layout = layout
        self.fields = {f: i for i, f in enumerate(layout[1])} if layout else {}
        self.env = env
        self.scopes: list[dict[str, str]] = []  # comprehension-bound names, innermost last
        self.n_const = 0

    # -- names -------------------------------------------------------------------------------
    def resolve(self, name: str) -> str:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        if name == self.self_name:
            return "SELF"
        if name == self.state_name:
            return "s"
        if name in self.args:
            return self.args[name]
        if name in self.locals:
            return f"a{self.k}_{name}"
        return self.global_name(name)

    def global_value(self, name: str) -> Any:
        if name in self.globals:
            return self.globals[name]
        b = self.globals.get("__builtins__", builtins)
        b = b if isinstance(b, dict) else vars(b)
        if name in b:
            return b[name]
        raise NotInlinable(f"it reads {name!r}, which its module does not define")

    def global_name(self, name: str) -> str:
        gen = f"g{self.k}_{name}"
        if gen not in self.env:
            self.env[gen] = self.global_value(name)
        return gen

    def is_global(self, node: ast.AST) -> bool:
        return (isinstance(node, ast.Name) and self.resolve(node.id).startswith(f"g{self.k}_"))

    def constant(self, value: Any) -> ast.Name:
        name = f"c{self.k}_{self.n_const}"
        self.n_const += 1
        self.env[name] = value
        return ast.Name(name, ast.Load())

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return ast.copy_location(ast.Name(self.resolve(node.id), node.ctx), node)

    def _comprehension(self, node: Any) -> Any:
        gens = node.generators
        gens[0].iter = self.visit(gens[0].iter)
        scope: dict[str, str] = {}
        for gen in gens:
            for n in _names_in_target(gen.target):
                scope[n] = f"q{self.k}_{len(self.scopes)}_{n}"
        self.scopes.append(scope)
        for i, gen in enumerate(gens):
            gen.target = self.visit(gen.target)
            if i:
                gen.iter = self.visit(gen.iter)
            gen.ifs = [self.visit(x) for x in gen.ifs]
        for key in ("elt", "key", "value"):
            if hasattr(node, key):
                setattr(node, key, self.visit(getattr(node, key)))
        self.scopes.pop()
        return node

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension  # noqa: N815

    # -- attributes: state fields and enum members -------------------------------------------
    def state_ref(self, node: ast.AST) -> bool:
        return isinstance(node, ast.Name) and self.resolve(node.id) == "s" and not any(
            node.id in scope for scope in self.scopes)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.ctx, ast.Load):
            if self.fields and node.attr in self.fields and self.state_ref(node.value):
                return ast.copy_location(ast.Name(f"S{self.fields[node.attr]}", ast.Load()),
                                         node)
            if self.is_global(node.value):
                owner = self.global_value(node.value.id)  # type: ignore[attr-defined]
                if (isinstance(owner, enum.EnumMeta)
                        and node.attr in owner.__members__
                        and type(owner.__dict__.get(node.attr)) is owner):
                    return ast.copy_location(self.constant(owner[node.attr]), node)
        self.generic_visit(node)
        return node

    # -- calls with a cheaper exact equivalent -----------------------------------------------
    def visit_Call(self, node: ast.Call) -> ast.AST:
        func = node.func
        # s._replace(f=x, ...) on the unpacked state: a new tuple of the same class.
        if (self.layout and isinstance(func, ast.Attribute) and func.attr == "_replace"
                and self.state_ref(func.value) and not node.args
                and _plain_namedtuple(self.layout[0])):
            kws = [kw.arg for kw in node.keywords]
            order = [self.fields.get(k, -1) for k in kws]  # type: ignore[arg-type]
            if -1 not in order and order == sorted(set(order)):
                given = {kw.arg: self.visit(kw.value) for kw in node.keywords}
                elts = [given.get(f, ast.Name(f"S{i}", ast.Load()))
                        for i, f in enumerate(self.layout[1])]
                return self.new_tuple(self.layout[0], elts, node)
        self.generic_visit(node)
        if isinstance(func, ast.Name) and self.is_global(func):
            value = self.global_value(func.id)
            if value is except_at and len(node.args) == 3 and not node.keywords:
                t, i, v = node.args
                if _C_EXCEPT_AT is not None:  # the same function, in C
                    self.env["EXCEPT_AT"] = _C_EXCEPT_AT
                    return ast.copy_location(
                        ast.Call(ast.Name("EXCEPT_AT", ast.Load()), [t, i, v], []), node)
                if isinstance(t, ast.Name) and isinstance(i, (ast.Name, ast.Constant)):
                    # t[:i] + (v,) + t[i + 1:], what except_at returns
                    head = ast.Subscript(t, ast.Slice(None, i, None), ast.Load())
                    tail = ast.Subscript(ast.Name(t.id, ast.Load()),
                                         ast.Slice(ast.BinOp(i, ast.Add(), ast.Constant(1)),
                                                   None, None), ast.Load())
                    mid = ast.Tuple([v], ast.Load())
                    return ast.copy_location(
                        ast.BinOp(ast.BinOp(head, ast.Add(), mid), ast.Add(), tail), node)
            if _plain_namedtuple(value):
                n_fields = len(value._fields)
                if len(node.args) == n_fields and not node.keywords:
                    return self.new_tuple(value, list(node.args), node)
                names = [kw.arg for kw in node.keywords]
                if not node.args and names == list(value._fields):
                    return self.new_tuple(value, [kw.value for kw in node.keywords], node)
        return node

    def new_tuple(self, cls: type, elts: list[ast.expr], node: ast.AST) -> ast.AST:
        if _C_NEW_TUPLE is not None:  # new_tuple(cls, *items), one C call
            self.env["NEWT"] = _C_NEW_TUPLE
            call = ast.Call(ast.Name("NEWT", ast.Load()), [self.constant(cls), *elts], [])
        else:
            self.env["TNEW"] = tuple.__new__
            call = ast.Call(ast.Name("TNEW", ast.Load()),
                            [self.constant(cls), ast.Tuple(elts, ast.Load())], [])
        return ast.copy_location(call, node)


def _split_guards(body: list[ast.stmt]) -> list[ast.stmt]:
    """``if A or B: return None`` becomes two guards (the same short-circuit order)."""
    out: list[ast.stmt] = []
    for st in body:
        if _is_guard(st) and isinstance(st.test, ast.BoolOp) and isinstance(st.test.op, ast.Or):
            out += [ast.If(test=v, body=st.body, orelse=[]) for v in st.test.values]
        else:
            out.append(st)
    return out


def _is_guard(st: ast.stmt) -> bool:
    return (isinstance(st, ast.If) and not st.orelse and len(st.body) == 1
            and isinstance(st.body[0], ast.Return)
            and (st.body[0].value is None
                 or (isinstance(st.body[0].value, ast.Constant)
                     and st.body[0].value.value is None)))


def inline_action(k: int, act: Action, fn: Callable, domains: list[tuple[str, Any]],
                  layout: tuple[type, tuple[str, ...]] | None, emit: Callable[..., list[str]],
                  shared: dict[int, str] | None = None) -> InlinedAction:
    """Rewrite action number ``k`` (its bound method ``fn``, its resolved ``domains``) into
    statements of ``expand``. ``emit(value_name, loop_vars)`` gives the source lines that add
    the successor(s) in ``value_name``. ``shared`` names the ``from_state`` domains that several
    actions use (by ``id`` of the function): ``expand`` computes each once per state, into
    that name, the first time an action needs it. Raises NotInlinable (the action is then
    called)."""
    fdef = _source_function(fn)
    self_name, state_name, args, local_names = _validate(fdef)
    if len(args) != len(domains):
        raise NotInlinable("its parameters do not match its domains")
    env: dict[str, Any] = {}
    rw = _Rewrite(k, fn, self_name, state_name, args, local_names, layout, env)
    body = list(fdef.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]  # the docstring
    body = [rw.visit(st) for st in _split_guards(body)]
    loop_vars = [f"i{k}_{j}" for j in range(len(args))]
    dynamic = [isinstance(d, from_state) for _, d in domains]
    for j, (_, d) in enumerate(domains):
        env[f"IDOM{k}_{j}"] = d.fn if isinstance(d, from_state) else tuple(d)

    def needed(st: ast.stmt) -> int:
        level = 0
        for n in ast.walk(st):
            if isinstance(n, ast.Name) and n.id in loop_vars:
                level = max(level, loop_vars.index(n.id) + 1)
        return level

    def emit_stmts(value: ast.expr) -> list[ast.stmt]:
        built = (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                 and value.func.id in ("NEWT", "TNEW"))  # never None
        lines = [f"t = {ast.unparse(value)}", *emit("t", loop_vars, built)]
        return ast.parse("\n".join(lines)).body

    def rewrite_returns(stmts: list[ast.stmt], top: bool) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for i, st in enumerate(stmts):
            tail = top and i == len(stmts) - 1
            if isinstance(st, ast.Return):
                none = st.value is None or (isinstance(st.value, ast.Constant)
                                            and st.value.value is None)
                if not none:
                    out += emit_stmts(st.value)  # type: ignore[arg-type]
                if not tail:
                    out.append(ast.Continue())
                break  # anything after a return is dead code
            if isinstance(st, ast.If):
                st.body = rewrite_returns(st.body, False) or [ast.Pass()]
                st.orelse = rewrite_returns(st.orelse, False)
            elif isinstance(st, (ast.For, ast.While)):
                pass  # no return inside loops (validated)
            out.append(st)
        return out

    def place(stmts: list[ast.stmt], level: int) -> list[ast.stmt]:
        if not stmts:
            return []  # the rest of every argument tuple returns None: nothing to emit
        st = stmts[0]
        hoistable = (_is_guard(st) or isinstance(st, ast.Assign)) and needed(st) <= level
        # Nothing moves out of a loop over a from_state domain (it may be empty).
        if level < len(args) and (any(dynamic[level:]) or not hoistable):
            inner = place(stmts, level + 1)
            if not inner:
                return []
            d = domains[level][1]
            name = (shared or {}).get(id(d.fn)) if dynamic[level] else None
            it = (_shared_domain_expr(name) if name is not None
                  else _domain_expr(k, level, dynamic[level]))
            loop = ast.For(target=ast.Name(loop_vars[level], ast.Store()),
                           iter=it, body=inner, orelse=[])
            return [loop]
        if hoistable and _is_guard(st):
            rest = place(stmts[1:], level)
            if not rest:
                return []
            return [ast.If(test=ast.UnaryOp(ast.Not(), st.test), body=rest, orelse=[])]
        if hoistable and level < len(args):
            return [st, *place(stmts[1:], level)]
        full = rewrite_returns(stmts, True)
        if not args and any(isinstance(n, ast.Continue) for st in full for n in ast.walk(st)
                            if not _inside_user_loop(st, n)):
            env["ONCE"] = (None,)
            return [ast.For(target=ast.Name("_", ast.Store()), iter=ast.Name("ONCE", ast.Load()),
                            body=full, orelse=[])]
        return full

    if any(not isinstance(d, from_state) and not tuple(d) for _, d in domains):
        return InlinedAction(act, [], env)  # an empty domain: no instance at all
    out = place(body, 0)
    return InlinedAction(act, [ast.fix_missing_locations(st) for st in out], env)


def _inside_user_loop(root: ast.stmt, target: ast.AST) -> bool:
    """Is ``target`` (a continue) inside a for/while of the action's own body under ``root``?"""
    def search(node: ast.AST, in_loop: bool) -> bool | None:
        if node is target:
            return in_loop
        loop = in_loop or isinstance(node, (ast.For, ast.While))
        for child in ast.iter_child_nodes(node):
            found = search(child, loop)
            if found is not None:
                return found
        return None

    return bool(search(root, False))


def _shared_domain_expr(name: str) -> ast.expr:
    """``name`` if this state's domain is computed already, else compute it (once: a tuple,
    since several loops iterate it)."""
    return ast.parse(f"({name} if {name} is not None else ({name} := tuple({name}_FN(s))))",
                     mode="eval").body


def _domain_expr(k: int, j: int, dynamic: bool) -> ast.expr:
    name = ast.Name(f"IDOM{k}_{j}", ast.Load())
    return ast.Call(name, [ast.Name("s", ast.Load())], []) if dynamic else name
