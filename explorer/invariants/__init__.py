"""The invariant language: ask one more question of a spec without editing it.

An expression over a spec's state variables and parameters, such as ::

    not ("committed" in rm_state and "aborted" in rm_state)
    forall i, j in Server: state[i] == "leader" and state[j] == "leader"
                           and current_term[i] == current_term[j] => i == j
    forall i in Server: current_term'[i] >= current_term[i]        # an action property

is parsed with lark (``grammar.lark``), checked against the spec (names, types) and compiled
into Python closures once per run; nothing is ever ``eval``-ed. See docs/invariants.md for the
language, and ``protospec check SPEC --inv 'name: expr'`` for its use.
"""

from .compiler import FUNCTIONS, Compiled, SpecNames, compile_expression
from .errors import EvaluationError, ExpressionError
from .explain import explain
from .parser import parse

__all__ = ["FUNCTIONS", "Compiled", "EvaluationError", "ExpressionError", "SpecNames",
           "compile_expression", "explain", "parse"]
