"""Symbolic checking with z3: bounded model checking, inductive invariants, quorum lemmas.

A spec is understood by z3 through a *symbolic encoding declared beside it*
(``specs/<name>_symbolic.py``): the same variables as z3 terms, the same actions as formulas
over a frame and its successor frame. The encoding is cross-checked against the explicit spec
(tests enumerate, for every reachable state of a small configuration, the successors z3 allows
and compare them with the spec's own), and every trace z3 finds is replayed through the
explicit spec before it is shown. See docs/symbolic.md for why this design.
"""

from .bmc import bmc
from .encoding import Frame, SymbolicEncoding
from .induction import InductionResult, prove_inductive
from .loader import load_encoding

__all__ = ["Frame", "InductionResult", "SymbolicEncoding", "bmc", "load_encoding",
           "prove_inductive"]
