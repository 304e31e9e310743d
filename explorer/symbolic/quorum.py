"""Quorum lemmas for every size n, proved by z3 over set cardinalities.

Two quorums Q1, Q2 (and a faulty set F) drawn from n replicas split the replicas into Venn
regions (in Q1 only, in both, in neither, ...). A statement about the sizes of unions and
intersections of these sets holds for all sets iff it holds for all non-negative integer
region sizes summing to n — any sizes can be realised by actual sets — so each lemma is a
formula of linear integer arithmetic, with n and f unbounded, which z3 decides. A lemma that
should hold is *valid* when its negation is unsatisfiable; a lemma that should fail comes with
the sizes z3 found (n, f and how the quorums overlap).

These are the arguments at the heart of Paxos and Raft (majorities intersect) and PBFT
(2f+1 of 3f+1 intersect in f+1, so in a correct replica).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import z3

__all__ = ["LEMMAS", "Lemma", "LemmaResult", "prove_lemma"]


@dataclass(frozen=True)
class Lemma:
    name: str
    statement: str
    sets: tuple[str, ...]  # the sets, e.g. ("Q1", "Q2") or ("Q1", "Q2", "F")
    expect_valid: bool
    build: Callable[[Venn], tuple[z3.BoolRef, z3.BoolRef]]  # (assumptions, claim)


@dataclass
class LemmaResult:
    lemma: Lemma
    valid: bool
    counterexample: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def as_expected(self) -> bool:
        return self.valid == self.lemma.expect_valid


class Venn:
    """Region sizes for k sets over n elements, with size() of any boolean combination."""

    def __init__(self, sets: tuple[str, ...]) -> None:
        self.sets = sets
        self.n = z3.Int("n")
        self.f = z3.Int("f")
        # Region r[bits]: elements in exactly the sets whose bit is 1.
        self.regions = {bits: z3.Int("r_" + "".join(map(str, bits)))
                        for bits in itertools.product((0, 1), repeat=len(sets))}

    def well_formed(self) -> z3.BoolRef:
        return z3.And(*(r >= 0 for r in self.regions.values()),
                      self.n == z3.Sum(*self.regions.values()), self.f >= 0)

    def size(self, member: Callable[[dict[str, int]], bool]) -> z3.ArithRef:
        """|{x : member(which sets x is in)}|, e.g. size(lambda m: m["Q1"] and m["Q2"])."""
        terms = [r for bits, r in self.regions.items() if member(dict(zip(self.sets, bits)))]
        return z3.Sum(*terms) if terms else z3.IntVal(0)

    def card(self, name: str) -> z3.ArithRef:
        return self.size(lambda m: m[name])


def _majority(v: Venn) -> tuple[z3.BoolRef, z3.BoolRef]:
    assume = z3.And(v.n >= 1, 2 * v.card("Q1") > v.n, 2 * v.card("Q2") > v.n)
    return assume, v.size(lambda m: m["Q1"] and m["Q2"]) >= 1


def _bft(quorum: Callable[[Venn], z3.ArithRef], n_rule: Callable[[Venn], z3.BoolRef],
         claim: str) -> Callable[[Venn], tuple[z3.BoolRef, z3.BoolRef]]:
    def build(v: Venn) -> tuple[z3.BoolRef, z3.BoolRef]:
        assume = z3.And(v.f >= 1, n_rule(v), v.card("Q1") >= quorum(v),
                        v.card("Q2") >= quorum(v), v.card("Q1") <= v.n, v.card("F") <= v.f)
        both = v.size(lambda m: m["Q1"] and m["Q2"])
        correct_in_both = v.size(lambda m: m["Q1"] and m["Q2"] and not m["F"])
        return assume, (both >= v.f + 1) if claim == "f+1" else (correct_in_both >= 1)

    return build


LEMMAS: list[Lemma] = [
    Lemma("majority_quorums_intersect",
          "for every n >= 1, any two sets of more than n/2 of n replicas share a replica "
          "(Paxos, Raft)", ("Q1", "Q2"), True, _majority),
    Lemma("bft_quorums_intersect_in_f_plus_1",
          "for every f >= 1 and n = 3f+1, any two quorums of 2f+1 share at least f+1 "
          "replicas (PBFT)", ("Q1", "Q2", "F"), True,
          _bft(lambda v: 2 * v.f + 1, lambda v: v.n == 3 * v.f + 1, "f+1")),
    Lemma("bft_quorums_share_a_correct_replica",
          "for every f >= 1 and n = 3f+1, any two quorums of 2f+1 share a correct replica, "
          "whichever f replicas are faulty (PBFT)", ("Q1", "Q2", "F"), True,
          _bft(lambda v: 2 * v.f + 1, lambda v: v.n == 3 * v.f + 1, "correct")),
    Lemma("bft_quorums_of_n_minus_f_share_a_correct_replica",
          "for every f >= 1 and n >= 3f+1, any two quorums of n-f share a correct replica",
          ("Q1", "Q2", "F"), True,
          _bft(lambda v: v.n - v.f, lambda v: v.n >= 3 * v.f + 1, "correct")),
    Lemma("bft_fails_with_n_equal_3f",
          "with n = 3f, two quorums of 2f (all a replica can wait for) may share only faulty "
          "replicas", ("Q1", "Q2", "F"), False,
          _bft(lambda v: 2 * v.f, lambda v: v.n == 3 * v.f, "correct")),
    Lemma("bft_fails_with_quorums_of_2f",
          "with n = 3f+1, two quorums of 2f may share only faulty replicas",
          ("Q1", "Q2", "F"), False,
          _bft(lambda v: 2 * v.f, lambda v: v.n == 3 * v.f + 1, "correct")),
    Lemma("bft_2f_plus_1_is_not_enough_beyond_3f_plus_1",
          "with n > 3f+1, quorums of 2f+1 no longer intersect in f+1 replicas (PBFT's 2f+1 "
          "is for n = 3f+1; in general quorums need n-f)", ("Q1", "Q2", "F"), False,
          _bft(lambda v: 2 * v.f + 1, lambda v: v.n > 3 * v.f + 1, "f+1")),
]


def prove_lemma(lemma: Lemma, timeout_ms: int = 60_000) -> LemmaResult:
    """Decide a lemma for all sizes: valid, or a counterexample (n, f, region sizes)."""
    started = time.perf_counter()
    venn = Venn(lemma.sets)
    assume, claim = lemma.build(venn)
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    solver.add(venn.well_formed(), assume, z3.Not(claim))
    verdict = solver.check()
    if verdict == z3.unknown:
        from ..errors import SpecError

        raise SpecError(f"z3 could not decide lemma {lemma.name}: {solver.reason_unknown()}")
    result = LemmaResult(lemma, verdict == z3.unsat, elapsed_s=time.perf_counter() - started)
    if verdict == z3.sat:
        model = solver.model()

        def val(x: z3.ArithRef) -> int:
            return model.eval(x, model_completion=True).as_long()

        result.counterexample = {"n": val(venn.n), "f": val(venn.f)}
        for name in lemma.sets:
            result.counterexample[f"|{name}|"] = val(venn.card(name))
        result.counterexample["|Q1 & Q2|"] = val(venn.size(lambda m: m["Q1"] and m["Q2"]))
        if "F" in lemma.sets:
            result.counterexample["|Q1 & Q2 - F|"] = val(
                venn.size(lambda m: m["Q1"] and m["Q2"] and not m["F"]))
    return result
