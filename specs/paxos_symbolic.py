"""The z3 encoding of paxos, for `protospec bmc paxos` and `protospec prove paxos`.

Variables of specs/paxos.py as z3 terms: ``max_bal``, ``max_vbal``, ``max_val`` one Int per
acceptor; the set ``msgs`` as one Bool per possible message (1a per ballot, 1b per acceptor,
ballot, reported ballot and value, 2a per ballot and value, 2b per acceptor, ballot and
value). Actions are Paxos.tla's Phase1a/1b/2a/2b with the spec's guards; Phase2a's "some
quorum promised and v is safe by their reports" is spelled out over the spec's own quorum list,
so the non_intersecting_quorums variant needs no encoding of its own.

Invariants mirror the explicit spec's: ``consistency``, ``type_ok``, ``msg_inv``, ``acc_inv``.
``lamport_inv`` is Lamport's inductive invariant Inv == TypeOK /\\ MsgInv /\\ AccInv (Paxos.tla,
as proved with TLAPS), and ``inductive_consistency`` is Inv /\\ Consistency: proving it
inductive proves that at most one value is ever chosen, for the given acceptors, values and
ballots, with no enumeration of states.
"""

from __future__ import annotations

import itertools
from typing import Any

import z3

from protospec.explorer.symbolic.encoding import Frame, SymbolicEncoding, int_vector
from protospec.specs.paxos import NONE, Msg1a, Msg1b, Msg2a, Msg2b, State


class PaxosEncoding(SymbolicEncoding):
    """paxos as z3 formulas over frames."""

    variants: dict = {}

    def __init__(self, spec: Any) -> None:
        super().__init__(spec)
        self.A = range(spec.acceptors)
        self.B = range(spec.ballots)
        self.V = range(spec.values)
        self.MB = range(NONE, spec.ballots)  # a reported ballot: NONE or a ballot
        self.MV = range(NONE, spec.values)

    # -- frames ---------------------------------------------------------------------------------

    def declare(self, f: Frame) -> None:
        n = self.spec.acceptors
        f.max_bal = int_vector(f, "max_bal", n)
        f.max_vbal = int_vector(f, "max_vbal", n)
        f.max_val = int_vector(f, "max_val", n)
        f.m1a = {b: z3.Bool(f"{f.name('1a')}[{b}]") for b in self.B}
        f.m1b = {(a, b, mb, mv): z3.Bool(f"{f.name('1b')}[{a},{b},{mb},{mv}]")
                 for a in self.A for b in self.B for mb in self.MB for mv in self.MV}
        f.m2a = {(b, v): z3.Bool(f"{f.name('2a')}[{b},{v}]") for b in self.B for v in self.V}
        f.m2b = {(a, b, v): z3.Bool(f"{f.name('2b')}[{a},{b},{v}]")
                 for a in self.A for b in self.B for v in self.V}

    def _vars(self, f: Frame) -> list[Any]:
        return [*f.max_bal, *f.max_vbal, *f.max_val, *f.m1a.values(), *f.m1b.values(),
                *f.m2a.values(), *f.m2b.values()]

    def _unchanged_except(self, f: Frame, g: Frame, *changed: Any) -> list[z3.BoolRef]:
        skip = {id(x) for x in changed}
        return [a == b for a, b in zip(self._vars(f), self._vars(g)) if id(a) not in skip]

    def init(self, f: Frame) -> z3.BoolRef:
        return z3.And(*(x == NONE for x in [*f.max_bal, *f.max_vbal, *f.max_val]),
                      *(z3.Not(m) for m in [*f.m1a.values(), *f.m1b.values(),
                                             *f.m2a.values(), *f.m2b.values()]))

    def domain(self, f: Frame) -> z3.BoolRef:
        B, V = self.spec.ballots, self.spec.values
        return z3.And(*(z3.And(x >= NONE, x < B) for x in [*f.max_bal, *f.max_vbal]),
                      *(z3.And(x >= NONE, x < V) for x in f.max_val))

    def action_instances(self) -> list[tuple[str, tuple[tuple[str, Any], ...]]]:
        return [(label.action, label.args) for label in self.spec.static_labels]

    def action(self, name: str, args: dict[str, Any], f: Frame, g: Frame) -> z3.BoolRef:
        return getattr(self, name)(f, g, **args)

    # -- actions --------------------------------------------------------------------------------

    def phase1a(self, f: Frame, g: Frame, b: int) -> z3.BoolRef:
        return z3.And(z3.Not(f.m1a[b]), g.m1a[b], *self._unchanged_except(f, g, f.m1a[b]))

    def phase1b(self, f: Frame, g: Frame, a: int, b: int) -> z3.BoolRef:
        replies = [f.m1b[a, b, mb, mv] for mb in self.MB for mv in self.MV]
        sent = [g.m1b[a, b, mb, mv] == z3.Or(f.m1b[a, b, mb, mv],
                                             z3.And(f.max_vbal[a] == mb, f.max_val[a] == mv))
                for mb in self.MB for mv in self.MV]
        return z3.And(b > f.max_bal[a], f.m1a[b], g.max_bal[a] == b, *sent,
                      *self._unchanged_except(f, g, f.max_bal[a], *replies))

    def _promised(self, f: Frame, a: int, b: int) -> z3.BoolRef:
        return z3.Or(*(f.m1b[a, b, mb, mv] for mb in self.MB for mv in self.MV))

    def _safe_by_reports(self, f: Frame, q: frozenset[int], b: int, v: int) -> z3.BoolRef:
        """Paxos.tla's Q1bv condition: no vote reported, or v was voted at the highest one."""
        votes = [f.m1b[a, b, mb, mv] for a in q for mb in self.B for mv in self.V]
        highest_is_v = [
            z3.And(f.m1b[a, b, mb, v],
                   *(z3.Not(f.m1b[a2, b, mb2, mv2]) for a2 in q for mb2 in self.B
                     if mb2 > mb for mv2 in self.V))
            for a in q for mb in self.B]
        return z3.Or(z3.Not(z3.Or(*votes)) if votes else z3.BoolVal(True), *highest_is_v)

    def _may_propose(self, f: Frame, b: int, v: int) -> z3.BoolRef:
        return z3.Or(*(z3.And(*(self._promised(f, a, b) for a in q),
                              self._safe_by_reports(f, q, b, v)) for q in self.spec.Quorum))

    def phase2a(self, f: Frame, g: Frame, b: int, v: int) -> z3.BoolRef:
        return z3.And(z3.Not(z3.Or(*(f.m2a[b, w] for w in self.V))), self._may_propose(f, b, v),
                      g.m2a[b, v], *self._unchanged_except(f, g, f.m2a[b, v]))

    def phase2b(self, f: Frame, g: Frame, a: int, b: int, v: int) -> z3.BoolRef:
        return z3.And(b >= f.max_bal[a], f.m2a[b, v], g.max_bal[a] == b, g.max_vbal[a] == b,
                      g.max_val[a] == v, g.m2b[a, b, v],
                      *self._unchanged_except(f, g, f.max_bal[a], f.max_vbal[a], f.max_val[a],
                                              f.m2b[a, b, v]))

    # -- invariants -----------------------------------------------------------------------------

    def invariants(self) -> dict:
        return {"consistency": self.consistency, "type_ok": self.type_ok,
                "msg_inv": self.msg_inv, "acc_inv": self.acc_inv,
                "lamport_inv": self.lamport_inv,
                "inductive_consistency": self.inductive_consistency}

    def chosen(self, f: Frame, v: int) -> z3.BoolRef:
        return z3.Or(*(z3.And(*(f.m2b[a, b, v] for a in q))
                       for b in self.B for q in self.spec.Quorum))

    def consistency(self, f: Frame) -> z3.BoolRef:
        return z3.And(*(z3.Not(z3.And(self.chosen(f, v), self.chosen(f, w)))
                        for v, w in itertools.combinations(self.V, 2)))

    def type_ok(self, f: Frame) -> z3.BoolRef:
        return z3.And(self.domain(f), *(f.max_vbal[a] <= f.max_bal[a] for a in self.A))

    def _wont_vote_in(self, f: Frame, a: int, c: int) -> z3.BoolRef:
        return z3.And(f.max_bal[a] > c, *(z3.Not(f.m2b[a, c, w]) for w in self.V))

    def safe_at(self, f: Frame, v: int, b: int) -> z3.BoolRef:
        return z3.And(*(z3.Or(*(z3.And(*(z3.Or(f.m2b[a, c, v], self._wont_vote_in(f, a, c))
                                         for a in q)) for q in self.spec.Quorum))
                        for c in range(b)))

    def msg_inv(self, f: Frame) -> z3.BoolRef:
        parts = []
        for (a, b, mb, mv), m in f.m1b.items():
            claim = [b <= f.max_bal[a]]
            if mb == NONE:
                claim.append(z3.BoolVal(mv == NONE))
            else:
                claim.append(f.m2b[a, mb, mv] if mv != NONE else z3.BoolVal(False))
            claim += [z3.Not(f.m2b[a, c, w]) for c in range(mb + 1, b) for w in self.V]
            parts.append(z3.Implies(m, z3.And(*claim)))
        for (b, v), m in f.m2a.items():
            parts.append(z3.Implies(m, z3.And(self.safe_at(f, v, b),
                                              *(z3.Not(f.m2a[b, w]) for w in self.V if w != v))))
        for (a, b, v), m in f.m2b.items():
            parts.append(z3.Implies(m, z3.And(f.m2a[b, v], b <= f.max_vbal[a])))
        return z3.And(*parts)

    def acc_inv(self, f: Frame) -> z3.BoolRef:
        parts = []
        for a in self.A:
            vbal, val = f.max_vbal[a], f.max_val[a]
            parts.append((val == NONE) == (vbal == NONE))
            parts.append(vbal <= f.max_bal[a])
            parts.append(z3.Implies(vbal >= 0, z3.Or(*(z3.And(vbal == c, val == w, f.m2b[a, c, w])
                                                       for c in self.B for w in self.V))))
            parts += [z3.Implies(c > vbal, z3.Not(f.m2b[a, c, w]))
                      for c in self.B for w in self.V]
        return z3.And(*parts)

    def lamport_inv(self, f: Frame) -> z3.BoolRef:
        return z3.And(self.type_ok(f), self.msg_inv(f), self.acc_inv(f))

    def inductive_consistency(self, f: Frame) -> z3.BoolRef:
        return z3.And(self.lamport_inv(f), self.consistency(f))

    # -- between z3 and the explicit spec --------------------------------------------------------

    def decode(self, model: z3.ModelRef, f: Frame) -> State:
        def num(x: Any) -> int:
            return model.eval(x, model_completion=True).as_long()

        def true(x: Any) -> bool:
            return z3.is_true(model.eval(x, model_completion=True))

        msgs: set = {Msg1a(b) for b, m in f.m1a.items() if true(m)}
        msgs |= {Msg1b(*k) for k, m in f.m1b.items() if true(m)}
        msgs |= {Msg2a(*k) for k, m in f.m2a.items() if true(m)}
        msgs |= {Msg2b(*k) for k, m in f.m2b.items() if true(m)}
        return State(tuple(num(x) for x in f.max_bal), tuple(num(x) for x in f.max_vbal),
                     tuple(num(x) for x in f.max_val), frozenset(msgs))

    def encode(self, s: State, f: Frame) -> z3.BoolRef:
        return z3.And(
            *(x == v for x, v in zip(f.max_bal, s.max_bal)),
            *(x == v for x, v in zip(f.max_vbal, s.max_vbal)),
            *(x == v for x, v in zip(f.max_val, s.max_val)),
            *(m == (Msg1a(b) in s.msgs) for b, m in f.m1a.items()),
            *(m == (Msg1b(*k) in s.msgs) for k, m in f.m1b.items()),
            *(m == (Msg2a(*k) in s.msgs) for k, m in f.m2a.items()),
            *(m == (Msg2b(*k) in s.msgs) for k, m in f.m2b.items()),
        )


class ProposerIgnores1bEncoding(PaxosEncoding):
    """proposer_ignores_1b: a quorum of promises, but any value."""

    def _may_propose(self, f: Frame, b: int, v: int) -> z3.BoolRef:
        return z3.Or(*(z3.And(*(self._promised(f, a, b) for a in q)) for q in self.spec.Quorum))


class AcceptBelowPromiseEncoding(PaxosEncoding):
    """accept_below_promise: phase2b without the promise check; maxBal keeps the higher one."""

    def phase2b(self, f: Frame, g: Frame, a: int, b: int, v: int) -> z3.BoolRef:
        return z3.And(f.m2a[b, v], g.max_bal[a] == z3.If(f.max_bal[a] > b, f.max_bal[a], b),
                      g.max_vbal[a] == b, g.max_val[a] == v, g.m2b[a, b, v],
                      *self._unchanged_except(f, g, f.max_bal[a], f.max_vbal[a], f.max_val[a],
                                              f.m2b[a, b, v]))


PaxosEncoding.variants = {
    "non_intersecting_quorums": PaxosEncoding,  # the quorum list comes from the spec
    "proposer_ignores_1b": ProposerIgnores1bEncoding,
    "accept_below_promise": AcceptBelowPromiseEncoding,
}

ENCODING = PaxosEncoding
