"""Casper FFG: proof-of-stake finality, and accountable safety through two slashing conditions.

Source: Vitalik Buterin and Virgil Griffith, "Casper the Friendly Finality Gadget" (arXiv
1710.09437, 2017): section 2 (votes, supermajority links, justification, finalization, the two
slashing conditions, Figure 2) and section 3.1 (Theorem 1, accountable safety).

The idea: validators with deposits vote on the checkpoints of a block tree. A vote is a link
⟨v, s, t, h(s), h(t)⟩ from a source checkpoint s to a descendant target t. A *supermajority
link* s → t has votes from validators holding at least 2/3 of the deposits. The root is
justified; t is justified if some s → t is a supermajority link with s justified; a justified
s is *finalized* if s → c is a supermajority link to a direct child c of s. A validator must
never publish two votes that

* (I) have the same target height, h(t1) = h(t2) (a double vote), or
* (II) nest, one within the span of the other: h(s1) < h(s2) < h(t2) < h(t1) (a surround vote);

a validator that does loses its deposit (it is *slashable*: the two votes are the evidence).
Theorem 1, accountable safety: two conflicting checkpoints (neither an ancestor of the other)
cannot both be finalized unless validators holding at least 1/3 of the deposits are slashable.

Checked here over every way validators may vote, honest or not: any validator may cast any
vote whose source is justified and an ancestor of its target (the paper's validity rule), up to
``max_votes`` votes each, on a fixed checkpoint tree of two branches from the root, of lengths
``branch_a`` and ``branch_b``. Deposits are equal. The invariant is the theorem itself.

The variant drops slashing condition II: every double vote is still punished, yet validators
finalize two conflicting checkpoints with no one slashable, by one validator's vote from the
root over the other branch's finalizing link (the paper's reason for condition II).

Left out: the proposal mechanism and fork choice (which decide what honest validators vote
for: FFG is a gadget over any), dynamic validator sets, deposits changing, rewards, and the
inactivity leak of plausible liveness (Theorem 2).
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from itertools import combinations
from typing import NamedTuple

from protospec import Param, Spec, action, except_at, invariant, sometimes

ROOT = "r"


class Link(NamedTuple):
    """A vote's link: from checkpoint ``source`` to its descendant ``target``."""

    source: str
    target: str


class State(NamedTuple):
    """The votes every validator has published (a vote, once published, is evidence forever)."""

    votes: tuple[frozenset[Link], ...]  # votes[v]: the links validator v voted for


class CasperFFG(Spec):
    """Casper FFG (Buterin & Griffith 2017): conflicting finality implies 1/3 of stake slashable."""

    name = "casper_ffg"

    validators = Param(3, "number of validators (equal deposits)", min=1, max=5)
    branch_a = Param(2, "checkpoints on the first branch above the root (heights 1..)", min=1,
                     max=5)
    branch_b = Param(2, "checkpoints on the second branch above the root", min=1, max=5)
    max_votes = Param(4, "most votes a validator publishes", min=1, max=6)

    def setup(self) -> None:
        self.V = range(self.validators)
        # The checkpoint tree: root r at height 0, a1..aA and b1..bB above it.
        self.parent: dict[str, str] = {}
        self.height: dict[str, int] = {ROOT: 0}
        for branch, length in (("a", self.branch_a), ("b", self.branch_b)):
            below = ROOT
            for h in range(1, length + 1):
                c = f"{branch}{h}"
                self.parent[c], self.height[c], below = below, h, c
        self.checkpoints = [ROOT] + list(self.parent)
        self.ancestors = {c: self._ancestors(c) for c in self.checkpoints}
        self.Links = [Link(s, t) for t in self.checkpoints for s in self.checkpoints
                      if s in self.ancestors[t]]
        self.total = self.validators  # each deposit is 1
        # justified(s) is asked once per (validator, link) of every state: remember the last
        # few answers (a pure function of the state, so caching changes no result).
        self._justified: dict[State, frozenset[str]] = {}

    def _ancestors(self, c: str) -> frozenset[str]:
        out = set()
        while c in self.parent:
            c = self.parent[c]
            out.add(c)
        return frozenset(out)

    def init(self) -> Iterator[State]:
        yield State(votes=(frozenset(),) * self.validators)

    # -- the one action -----------------------------------------------------------------------

    @action(v="V", source="checkpoints", target="checkpoints")
    def vote(self, s: State, v: int, source: str, target: str) -> State | None:
        """Validator v publishes the vote <v, s, t, h(s), h(t)>; it is valid only if its source
        is justified and an ancestor of its target. Any validator may vote so, slashable or
        not: the theorem is about every behaviour."""
        if source not in self.ancestors[target]:
            return None
        mine, link = s.votes[v], Link(source, target)
        if link in mine or len(mine) >= self.max_votes or source not in self.justified(s):
            return None
        return State(except_at(s.votes, v, mine | {link}))

    # -- derived notions (section 2) ----------------------------------------------------------

    def supermajority(self, s: State, link: Link) -> bool:
        """At least 2/3 of the deposits voted for ``link``."""
        return 3 * sum(link in s.votes[v] for v in self.V) >= 2 * self.total

    def justified(self, s: State) -> frozenset[str]:
        """The root, and every target of a supermajority link from a justified checkpoint."""
        known = self._justified.get(s)
        if known is None:
            if len(self._justified) > 4096:
                self._justified.clear()
            known = self._justified[s] = self._justify(s)
        return known

    def _justify(self, s: State) -> frozenset[str]:
        done = {ROOT}
        links = [ln for ln in self.Links if self.supermajority(s, ln)]
        grew = True
        while grew:
            grew = False
            for ln in links:
                if ln.source in done and ln.target not in done:
                    done.add(ln.target)
                    grew = True
        return frozenset(done)

    def finalized(self, s: State) -> frozenset[str]:
        """Justified checkpoints with a supermajority link to a direct child."""
        just = self.justified(s)
        return frozenset(ln.source for ln in self.Links
                         if ln.source in just and self.parent.get(ln.target) == ln.source
                         and self.supermajority(s, ln))

    def conflicting(self, a: str, b: str) -> bool:
        """Neither checkpoint is an ancestor of (or equal to) the other."""
        return a != b and a not in self.ancestors[b] and b not in self.ancestors[a]

    def double_vote(self, x: Link, y: Link) -> bool:
        """Slashing condition I: two distinct votes with the same target height."""
        return x != y and self.height[x.target] == self.height[y.target]

    def surround_vote(self, x: Link, y: Link) -> bool:
        """Slashing condition II: x's span strictly contains y's: h(s1) < h(s2) < h(t2) < h(t1)."""
        h = self.height
        return h[x.source] < h[y.source] and h[y.target] < h[x.target]

    def slashable(self, votes: frozenset[Link]) -> bool:
        """Whether these votes of one validator violate a slashing condition."""
        return any(self.double_vote(x, y) or self.surround_vote(x, y) or self.surround_vote(y, x)
                   for x, y in combinations(votes, 2))

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def accountable_safety(self, s: State) -> bool:
        """Theorem 1: if two conflicting checkpoints are finalized, validators holding at
        least 1/3 of the deposits are slashable."""
        fin = sorted(self.finalized(s))
        if not any(self.conflicting(a, b) for a, b in combinations(fin, 2)):
            return True
        slashed = sum(self.slashable(s.votes[v]) for v in self.V)
        return Fraction(slashed, self.total) >= Fraction(1, 3)

    @sometimes
    def conflicting_finality(self, s: State) -> bool:
        """Some reachable state has two conflicting checkpoints finalized (the theorem's
        premise can happen within the bounds, so accountable_safety is not vacuous)."""
        fin = sorted(self.finalized(s))
        return any(self.conflicting(a, b) for a, b in combinations(fin, 2))

    # -- chart hooks (optional; see explorer/chart_hints.py) ---------------------------------

    def chart_processes(self) -> list[str]:
        """One lane per validator."""
        return [f"validator {v}" for v in self.V]

    def chart_lane(self, action: str, args: dict) -> str | None:
        """A vote is its validator's step."""
        return f"validator {args['v']}"


# -- bug variants -----------------------------------------------------------------------------


@CasperFFG.variant("no_surround_rule", breaks="accountable_safety")
class NoSurroundRule(CasperFFG):
    """Only double votes are slashable: a vote that surrounds another goes unpunished, and two
    conflicting checkpoints are finalized with less than 1/3 of the deposits slashable.

    The attack needs a branch four checkpoints high and four votes from each of the two
    validators that make every supermajority; this variant's defaults say so (a third
    validator only multiplies the search: 591,390 states instead of 16,809, the same trace).
    """

    validators = Param(2, "number of validators (equal deposits)", min=1, max=5)

    branch_b = Param(4, "checkpoints on the second branch above the root", min=1, max=5)
    max_votes = Param(4, "most votes a validator publishes", min=1, max=6)

    def surround_vote(self, x: Link, y: Link) -> bool:
        return False


# Measured (explorer.check, defaults): 49,135 distinct states, depth 12, no violation;
# no_surround_rule fails in 8 steps (16,809 states). Other sizes: docs/specs/casper_ffg.md.
