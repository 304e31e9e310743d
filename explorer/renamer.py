"""Generated renaming code: the symmetry plans of a state type compiled to straight-line Python.

``symmetry.py`` renames a state (applies a permutation of member ids) by walking closure
*plans* built from the state type's hints: one call per field, per indexed tuple, per element.
Figure 8 of Raft canonicalises about a million states that way, and the calls were most of the
reduction's cost. This module writes, once per state type, one Python function that does the
same renaming in a few statements:

* an indexed tuple of a set of ``n`` members (``n`` known when the spec is built) becomes a
  tuple display ``(v[q0_0], v[q0_1], ...)`` over the unpacked inverse renaming, nested for
  tuples indexed twice (Raft's ``next_index[i][j]``);
* a member id becomes ``p0[x] if type(x) is int and 0 <= x < n else x`` (ids outside the set,
  such as NIL, and values of other types stay, exactly as the plans leave them);
* records, unions, sets and variable-length tuples become constructor calls, type tests and
  comprehensions; empty containers are returned as they are.

Contract: ``compile_renamer(planner, cls, sizes)(state, r)`` equals ``planner.record(cls)(state,
r)`` for every state of type ``cls`` and every list ``r`` of renamings followed by their inverses
(the plans' argument), including raising where the plan raises. Whatever this generator does not
handle (values typed ``Any``, recursive record types, fixed-length tuples, very large sets) is
left to the plan itself, called from the generated code. The differential tests in
``tests/explorer/test_symmetry.py`` compare the two on every spec that declares symmetry and on
random values of a type that uses every kind of hint.

The generated text is made by the engine alone: generated local names, int constants, and
names bound in the function's environment (the record classes, the plans); nothing a spec wrote
is pasted into it.
"""

from __future__ import annotations

from collections.abc import Callable
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

__all__ = ["UNROLL", "compile_renamer"]

UNROLL = 8  # indexed tuples of sets up to this size are written out position by position


class _Function:
    """The text of one generated function: its body's names and its temporaries."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.uses: set[str] = set()  # the renaming names the body reads (p0, q0_1, ...)
        self.counter = 0

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"


class _Generator:
    def __init__(self, planner: Any, sizes: list[int]) -> None:
        from .symmetry import _Index, _Member, _Sorted

        self.planner = planner
        self.sizes = sizes
        self.n_sets = len(sizes)
        self.member_mark, self.index_mark, self.sorted_mark = _Member, _Index, _Sorted
        self.env: dict[str, Any] = {"_new": tuple.__new__}
        self.helpers: list[str] = []  # source of the generated functions
        self._building: set[type] = set()

    def bind(self, name: str, value: Any) -> str:
        """A name in the generated code's environment for ``value`` (a class, a plan)."""
        for key, existing in self.env.items():
            if existing is value and key.startswith(name):
                return key
        key = f"{name}{len(self.env)}"
        self.env[key] = value
        return key

    def fallback(self, hint: Any, e: str, fn: _Function) -> str | None:
        """Call the plan itself for a hint the generator does not write out."""
        plan = self.planner.plan(hint)
        if plan is None:
            return None
        fn.uses.add("r")
        return f"{self.bind('_plan', plan)}({e}, r)"

    # -- expressions: the renamed value of input expression e (None: e needs no renaming) -----
    def expr(self, hint: Any, e: str, fn: _Function) -> str | None:
        origin = get_origin(hint)
        if origin is Annotated:
            base, *marks = get_args(hint)
            for m in marks:
                if isinstance(m, self.member_mark) and id(m.sym) in self.planner.slot:
                    return self.member(self.planner.slot[id(m.sym)], e, fn)
                if isinstance(m, self.index_mark) and id(m.sym) in self.planner.slot:
                    k = self.planner.slot[id(m.sym)]
                    if self.sizes[k] > UNROLL:
                        return self.fallback(hint, e, fn)
                    return self.indexed(k, get_args(base)[0] if get_args(base) else None, e, fn)
                if isinstance(m, self.sorted_mark):
                    inner = self.expr(base, e, fn)
                    if inner is None:
                        return None
                    if get_origin(base) is not tuple:
                        return f"_resort({inner})"
                    t = fn.fresh("_b")  # sorting fewer than two messages changes nothing
                    return f"({t} if len({t} := {inner}) < 2 else _resort({t}))"
            return self.expr(base, e, fn)
        if origin in (Union, UnionType):
            return self.union(hint, [a for a in get_args(hint) if a is not NoneType], e, fn)
        if origin is frozenset:
            if not get_args(hint):
                return self.fallback(hint, e, fn)
            return self.container("frozenset", get_args(hint)[0], e, fn)
        if origin is tuple:
            args = get_args(hint)
            if len(args) == 2 and args[1] is Ellipsis:
                return self.container("tuple", args[0], e, fn)
            return self.fallback(hint, e, fn)
        if isinstance(hint, type) and hasattr(hint, "_fields") and issubclass(hint, tuple):
            return self.record(hint, e, fn)
        return self.fallback(hint, e, fn)

    @staticmethod
    def once(e: str, fn: _Function) -> tuple[str, str]:
        """(first use, later uses) of e: a temporary bound on first use unless e is a name."""
        if e.isidentifier():
            return e, e
        t = fn.fresh("_t")
        return f"({t} := {e})", t

    def member(self, k: int, e: str, fn: _Function) -> str:
        first, t = self.once(e, fn)
        fn.uses.add(f"p{k}")
        return f"(p{k}[{t}] if type({first}) is int and 0 <= {t} < {self.sizes[k]} else {t})"

    def indexed(self, k: int, elem: Any, e: str, fn: _Function) -> str:
        first, t = self.once(e, fn)
        n = self.sizes[k]
        if n == 0:
            return f"({first}, ())[1]"
        items = []
        for j in range(n):
            fn.uses.add(f"q{k}_{j}")
            src = f"{first if j == 0 else t}[q{k}_{j}]"
            renamed = None if elem is None else self.expr(elem, src, fn)
            items.append(src if renamed is None else renamed)
        return "(" + ", ".join(items) + ",)"

    def container(self, kind: str, elem: Any, e: str, fn: _Function) -> str | None:
        x = fn.fresh("_x")
        renamed = self.expr(elem, x, fn)
        if renamed is None:
            return None
        first, t = self.once(e, fn)
        # an empty container renames to itself: no comprehension to run
        return f"({first} and {kind}([{renamed} for {x} in {t}]))"

    def union(self, hint: Any, members: list[Any], e: str, fn: _Function) -> str | None:
        # The plan's semantics (symmetry._Planner._union): the one member's plan with None
        # kept, or a dispatch on the value's exact type among the members that need renaming.
        planned = [a for a in members if self.planner.plan(a) is not None]
        if not planned:
            return None
        if len(planned) == 1 and len(members) == 1:
            first, t = self.once(e, fn)
            inner = self.expr(planned[0], t, fn)
            return f"(None if {first} is None else {inner})"
        by_type: dict[type, Any] = {}
        for a in planned:
            cls = get_origin(a) or a
            if get_origin(a) is Annotated:
                cls = get_origin(get_args(a)[0]) or get_args(a)[0]
            if isinstance(cls, type):
                by_type[cls] = a
        if not by_type:
            return f"({e})"
        # an inline chain of exact type tests: no helper call per value
        first, t = self.once(e, fn)
        c = fn.fresh("_c")
        test = f"(({c} := type({first})) is"
        out = []
        for cls, a in by_type.items():
            renamed = self.expr(a, t, fn)
            out.append(f"{t if renamed is None else renamed} if {test} {self.bind('_C', cls)})")
            test = f"({c} is"
        return "(" + " else ".join(out) + f" else {t})"

    def record(self, cls: type, e: str, fn: _Function) -> str | None:
        """A record of type cls rebuilt with its fields renamed (None: nothing to rename)."""
        if cls in self._building:  # a recursive type: its plan handles the inner levels
            fn.uses.add("r")
            return f"{self.bind('_plan', self.planner.record(cls))}({e}, r)"
        if self.planner.record(cls) is None:
            return None
        from .symmetry import _hints

        self._building.add(cls)
        try:
            first, t = self.once(e, fn)
            hints = _hints(cls)
            fields = []
            for i, f in enumerate(cls._fields):
                src = f"{first if i == 0 else t}[{i}]"
                renamed = self.expr(hints.get(f, Any), src, fn)
                fields.append(src if renamed is None else renamed)
        finally:
            self._building.discard(cls)
        return f"_new({self.bind('_C', cls)}, ({', '.join(fields)},))"

    def preamble(self, fn: _Function) -> list[str]:
        """Unpack the renamings the body reads from ``r`` into locals."""
        out = []
        for k in range(self.n_sets):
            if f"p{k}" in fn.uses:
                out.append(f"    p{k} = r[{k}]")
            qs = [f"q{k}_{j}" for j in range(self.sizes[k])]
            if any(q in fn.uses for q in qs):
                out.append(f"    {', '.join(qs)}, = r[{k + self.n_sets}]")
        return out

    def add_helper(self, fn: _Function, body: list[str]) -> None:
        self.helpers.append("\n".join([f"def {fn.name}(v, r):", *self.preamble(fn), *body]))


def compile_renamer(planner: Any, cls: type, sizes: list[int],
                    name: str = "state") -> Callable[[Any, list[list[int]]], Any]:
    """A function ``rename(state, r)`` equal to ``planner.record(cls)`` (see the module's
    contract); ``r`` holds one renaming per symmetric set, then their inverses."""
    from .symmetry import _resort

    gen = _Generator(planner, sizes)
    gen.env["_resort"] = _resort
    fn = _Function("rename")
    body = gen.record(cls, "v", fn)
    if body is None:
        raise ValueError(f"{cls.__name__} mentions no member: nothing to rename")
    gen.add_helper(fn, [f"    return {body}"])
    src = "\n\n".join(gen.helpers) + "\n"
    namespace: dict[str, Any] = dict(gen.env)
    exec(compile(src, f"<protospec renamer for {name}>", "exec"), namespace)
    rename = namespace["rename"]
    rename.source = src  # for the curious and for error reports
    return rename
