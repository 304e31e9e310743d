"""Parsing invariant-language text into a syntax tree (``nodes``), with lark.

The grammar is ``grammar.lark`` next to this file, parsed LALR(1) with lark's contextual lexer
(which is what lets ``x'`` be a prime while ``'abc'`` is a string). User text is only ever
parsed: nothing here, or anywhere in the language, hands it to ``eval``.

Syntax errors become ``ExpressionError`` with the line, the column and a caret under the
offending token, plus a hint for the usual slips (``=`` for ``==``, an unparenthesized
``forall`` inside ``and``).
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import nodes as n
from .errors import ExpressionError

__all__ = ["KEYWORDS", "MAX_NESTING", "parse"]

# How deeply an expression may nest (parentheses, operators inside operands, quantifiers inside
# quantifiers). Building, compiling and evaluating follow the nesting with Python calls, so a
# bound keeps them far from Python's recursion limit; a long flat chain (a and b and ... ) does
# not nest and has no limit. Real invariants nest a handful of levels.
MAX_NESTING = 100

KEYWORDS = frozenset({"forall", "exists", "let", "in", "if", "then", "else", "and", "or", "not",
                      "true", "false"})

_OPEN_FORMS = {"forall", "exists", "let", "if"}

_READABLE = {
    "NAME": "a name", "INT": "a number", "STRING": "a string", "LPAR": "'('", "RPAR": "')'",
    "LSQB": "'['", "RSQB": "']'", "LBRACE": "'{'", "RBRACE": "'}'", "COMMA": "','",
    "COLON": "':'", "SLICE": "':'", "DOT": "'.'", "COMP_OP": "a comparison", "IN": "'in'",
    "NOT_IN": "'not in'",
    "ADD_OP": "'+' or '-'", "MUL_OP": "'*', '//' or '%'", "PRIME": "a prime (')",
    "AND": "'and'", "OR": "'or'", "NOT": "'not'", "THEN": "'then'", "ELSE": "'else'",
    "EQUAL": "'='", "$END": "the end of the expression", "VBAR": "'|'", "AMPERSAND": "'&'",
}
_STARTS_EXPR = {"NAME", "INT", "STRING", "LPAR", "LBRACE", "NOT", "MINUS", "TRUE", "FALSE",
                "FORALL", "EXISTS", "LET", "IF"}


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = (Path(__file__).with_name("grammar.lark")).read_text()
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def parse(text: str) -> n.Node:
    """Parse one expression; ExpressionError (a UsageError) on a syntax error."""
    if not text.strip():
        raise ExpressionError("the expression is empty")
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    except RecursionError:
        raise ExpressionError(f"the expression nests too deeply (protospec reads at most "
                              f"{MAX_NESTING} levels)") from None
    _check_nesting(text, tree)
    return _Builder(text).build(tree)


_FLAT = ("and_", "or_")


def _check_nesting(text: str, tree: Tree) -> None:
    """ExpressionError at the first place nested deeper than MAX_NESTING (iteratively, so any
    depth is measured without recursion). A chain of one operator (a and b and c) arrives
    nested to the left but is flattened by the builder, so it counts as one level."""
    stack: list[tuple[Tree, int]] = [(tree, 1)]
    while stack:
        t, depth = stack.pop()
        if depth > MAX_NESTING:
            start = t.meta.start_pos if not t.meta.empty else 0
            end = t.meta.end_pos if not t.meta.empty else len(text)
            raise ExpressionError(
                f"the expression nests more than {MAX_NESTING} levels deep here (parentheses "
                f"or operators inside operands); split it into several named invariants, or "
                f"write a long list of conditions as one flat chain (a and b and c ...)",
                text, (start, min(end, start + 1)))
        for child in t.children:
            if isinstance(child, Tree):
                same_chain = child.data in _FLAT and child.data == t.data
                stack.append((child, depth if same_chain else depth + 1))


def _syntax_error(text: str, exc: UnexpectedInput) -> ExpressionError:
    pos = getattr(exc, "pos_in_stream", None)
    if isinstance(exc, UnexpectedEOF) or pos is None:
        pos = len(text.rstrip())
        return ExpressionError("syntax error: the expression ends too early", text,
                               (max(0, pos - 1), pos))
    if isinstance(exc, UnexpectedCharacters):
        ch = text[pos]
        hint = ""
        if ch == "=":
            hint = " (use == to compare; = only appears in let x = ...)"
        elif ch == "!":
            hint = " (use not for negation, != for inequality)"
        elif ch == "&" or ch == "|":
            hint = " (use and / or for booleans)"
        return ExpressionError(f"syntax error: unexpected character {ch!r}{hint}", text,
                               (pos, pos + 1))
    assert isinstance(exc, UnexpectedToken)
    tok = exc.token
    if tok.type == "$END":
        end = len(text.rstrip())
        return ExpressionError("syntax error: the expression ends too early"
                               + _expected(exc.expected), text, (max(0, end - 1), end))
    end = tok.end_pos if tok.end_pos is not None else pos + 1
    hint = ""
    prev = _previous_token(exc)
    if tok.type == "EQUAL":
        hint = " (use == to compare; = only appears in let x = ...)"
    elif prev is not None and prev.type == "NAME" and str(prev) in _OPEN_FORMS:
        hint = (f" ({prev} ... extends to the end of the expression, so as an operand it needs "
                f"parentheses: a and ({prev} ...))")
        pos, end = prev.start_pos, prev.end_pos
    elif tok.type in ("COMP_OP", "IN", "NOT_IN") and not (exc.expected & _STARTS_EXPR):
        hint = " (comparisons do not chain: write a < b and b < c)"
    return ExpressionError(f"syntax error: unexpected {_describe(tok)}{hint}"
                           + ("" if hint else _expected(exc.expected)), text, (pos, end))


def _previous_token(exc: UnexpectedToken) -> Token | None:
    state = getattr(exc, "state", None)
    stack = getattr(state, "value_stack", None) if state is not None else None
    if stack:
        last = stack[-1]
        if isinstance(last, Token):
            return last
    return None


def _describe(tok: Token) -> str:
    if tok.type in ("NAME", "INT", "STRING"):
        kind = {"NAME": "name", "INT": "number", "STRING": "string"}[tok.type]
        return f"{kind} {tok}" if tok.type == "STRING" else f"{kind} {str(tok)!r}"
    return repr(str(tok))


def _expected(expected: set[str]) -> str:
    if not expected:
        return ""
    if expected & _STARTS_EXPR:
        return " (expected an expression)"
    names = sorted({_READABLE.get(e, e.lower()) for e in expected})
    if len(names) > 6:
        return ""
    return " (expected " + ", ".join(names) + ")"


class _Builder:
    """Turns lark's parse tree into ``nodes`` with character spans."""

    def __init__(self, text: str) -> None:
        self.text = text

    def error(self, message: str, span: tuple[int, int]) -> ExpressionError:
        return ExpressionError(message, self.text, span)

    @staticmethod
    def span(t: Tree | Token) -> tuple[int, int]:
        if isinstance(t, Token):
            return (t.start_pos, t.end_pos)
        return (t.meta.start_pos, t.meta.end_pos)

    def build(self, t: Tree | Token) -> n.Node:
        method = getattr(self, "b_" + str(t.data))
        return method(t, self.span(t))

    def kids(self, t: Tree) -> list[n.Node]:
        return [self.build(c) for c in t.children if c is not None and not isinstance(c, Token)]

    # -- atoms --------------------------------------------------------------------------------

    def b_int_(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        return n.Const(sp, int(t.children[0]))

    def b_string(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        raw = str(t.children[0])
        try:
            value = ast.literal_eval(raw)  # a string literal's escapes, never code
        except (ValueError, SyntaxError) as exc:
            raise self.error(f"bad string literal ({exc})", sp) from None
        return n.Const(sp, value)

    def b_true(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        return n.Const(sp, True)

    def b_false(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        return n.Const(sp, False)

    def b_name(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        return n.Name(sp, str(t.children[0]))

    def b_paren(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        return self.build(t.children[0])

    def b_tuple_(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        return n.TupleLit(sp, tuple(self.kids(t)))

    def b_call(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        fname, args, body = t.children
        items = self.kids(args) if args is not None else []
        if body is None:
            return n.Call(sp, str(fname), self.span(fname), tuple(items))
        binders = self.binders(items, f"{fname}(...)")
        return n.Call(sp, str(fname), self.span(fname), (), binders, self.build(body))

    def b_braces(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        left, right = t.children
        items = self.kids(left) if left is not None else []
        if right is None:
            return n.SetLit(sp, tuple(items))
        rights = self.kids(right)
        if not items:
            raise self.error("syntax error: nothing before ':' in a set", sp)
        if len(items) == 1 and self.is_binder(items[0]) and len(rights) == 1:
            # {x in S : p} is a filter, as in TLA+ (even when p itself looks like y in T).
            return n.SetFilter(sp, self.binders(items, "{x in S : p}")[0], rights[0])
        if len(items) != 1:
            raise self.error("a set built from ': x in S' has one expression before ':'", sp)
        return n.SetMap(sp, items[0], self.binders(rights, "{e : x in S}"))

    # -- postfix ------------------------------------------------------------------------------

    def b_index(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        base, index = self.kids(t)
        return n.Index(sp, base, index)

    def b_slice(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        base, lo, _colon, hi = t.children
        return n.Slice(sp, self.build(base), self.build(lo) if lo is not None else None,
                       self.build(hi) if hi is not None else None)

    def b_field(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        base = self.build(t.children[0])
        return n.Field(sp, base, str(t.children[1]))

    def b_prime(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        base = self.build(t.children[0])
        if isinstance(base, n.Prime):
            raise self.error("a double prime (x'') means nothing: a step has one next state",
                             sp)
        return n.Prime(sp, base)

    # -- operators ----------------------------------------------------------------------------

    def b_neg_(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        (operand,) = self.kids(t)
        if isinstance(operand, n.Const) and type(operand.value) is int:
            return n.Const(sp, -operand.value)
        return n.Unary(sp, "-", operand)

    def b_not_(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        (operand,) = self.kids(t)
        return n.Unary(sp, "not", operand)

    def b_arith(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        left, op, right = t.children
        return n.Op(sp, str(op), self.build(left), self.build(right))

    def b_union(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        left, right = self.kids(t)
        return n.Op(sp, "|", left, right)

    def b_intersect(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        left, right = self.kids(t)
        return n.Op(sp, "&", left, right)

    def b_range(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        left, right = self.kids(t)
        return n.Op(sp, "..", left, right)

    def b_compare(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        left, op, right = t.children
        name = "not in" if op.type == "NOT_IN" else str(op)
        return n.Compare(sp, name, self.build(left), self.build(right))

    def b_and_(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        return self.boolop("and", t, sp)

    def b_or_(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        return self.boolop("or", t, sp)

    def boolop(self, op: str, t: Tree, sp: tuple[int, int]) -> n.Node:
        # a and b and c arrives nested to the left; walk down that spine in a loop (a chain
        # of thousands of terms must not recurse) and make it one n-ary node.
        rights: list[Tree | Token] = []
        node = t
        while isinstance(node, Tree) and node.data == t.data:
            left, right = (c for c in node.children if c is not None
                           and not isinstance(c, Token))
            rights.append(right)
            node = left
        items: list[n.Node] = []
        for child in [node, *reversed(rights)]:
            built = self.build(child)
            if isinstance(built, n.BoolOp) and built.op == op:  # (a and b) and c
                items.extend(built.items)
            else:
                items.append(built)
        return n.BoolOp(sp, op, tuple(items))

    def b_implies(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        left, right = self.kids(t)
        return n.Implies(sp, left, right)

    # -- open forms ---------------------------------------------------------------------------

    def b_quantifier(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        kind, items, body = t.children
        binders = self.binders(self.kids(items), f"{kind} x in S: ...")
        return n.Quant(sp, str(kind), binders, self.build(body))

    def b_let(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        *bindings, body = t.children
        out = []
        for b in bindings:
            name, value = b.children
            if str(name) in KEYWORDS:
                raise self.error(f"{str(name)!r} is a keyword, not a name", self.span(name))
            out.append((str(name), self.span(name), self.build(value)))
        return n.Let(sp, tuple(out), self.build(body))

    def b_cond(self, t: Tree, sp: tuple[int, int]) -> n.Node:
        test, then, orelse = self.kids(t)
        return n.Cond(sp, test, then, orelse)

    # -- binders ------------------------------------------------------------------------------

    @staticmethod
    def is_binder(node: n.Node) -> bool:
        return isinstance(node, n.Compare) and node.op == "in" and isinstance(node.left, n.Name)

    def binders(self, items: list[n.Node], form: str) -> tuple[n.Binder, ...]:
        """``i, j in S, m in T`` arrives as [i, (j in S), (m in T)]: i and j both range over S."""
        out: list[n.Binder] = []
        pending: list[n.Name] = []
        for item in items:
            if isinstance(item, n.Name):
                pending.append(item)
                continue
            if not self.is_binder(item):
                raise self.error(f"expected a variable and its domain here, as in {form}",
                                 item.span)
            assert isinstance(item, n.Compare) and isinstance(item.left, n.Name)
            for name in [*pending, item.left]:
                if name.id in KEYWORDS:
                    raise self.error(f"{name.id!r} is a keyword, not a name", name.span)
                out.append(n.Binder(name.span, name.id, item.right))
            pending = []
        if pending:
            raise self.error(f"{pending[-1].id!r} needs a domain: write {pending[-1].id} in S",
                             pending[-1].span)
        return tuple(out)
