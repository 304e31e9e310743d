"""Nakamoto consensus: the longest-chain rule keeps k-deep blocks while honest miners lead.

Source: Satoshi Nakamoto, "Bitcoin: A Peer-to-Peer Electronic Cash System" (2008), sections 4-5
(proof-of-work; nodes extend and adopt the longest chain) and 11 (the attacker's race against
the honest chain); Juan Garay, Aggelos Kiayias and Nikos Leonardos, "The Bitcoin Backbone
Protocol: Analysis and Applications" (EUROCRYPT 2015): its synchronous round model (parties
diffuse new chains, every honest message arrives by the end of the round, a *rushing*
adversary reorders and injects messages) and its *common prefix* property (honest chains agree
once their last k blocks are cut off), whose proof counts *uniquely successful rounds*, rounds
in which exactly one honest party finds a block.

The idea: proof-of-work is abstracted to an action: in each round every honest node may find
one block on its current tip (``mine``), and the adversary may find one block on any block it
likes (``adversary_mine``), keeping it private. The adversary delivers any block to any honest
node at any time (``release``: withholding, rushing, splitting the honest nodes). At the end of
the round (``end_round``) every honest node's chain reaches every other honest node, and each
adopts the longest chain it has seen (strictly longer than its own: ties keep the first seen).
Propagation delay is the round: blocks found in the same round by two honest nodes fork.

Honest majority, made deterministic. Mining is random; GKL prove common prefix for *typical*
executions, in which every long enough window of rounds has more uniquely successful rounds
than adversarial blocks. An exhaustive checker explores every schedule, lucky or not, so the
typicality assumption becomes a constraint on schedules. Each round scores

    2 * (adversarial blocks) + (1 if two or more honest blocks, an honest fork)
                             - (1 if exactly one honest block, a uniquely successful round)

and every window of consecutive rounds must score at most ``slack``: the adversary has less
than half the luck of the uniquely successful rounds (up to the slack), and an honest fork,
which the adversary can exploit to split the honest nodes, counts half as much as an
adversarial block (counted as much, slack 1 would exclude every fork). The current round is
scored as if it ended now, so a schedule is cut off as soon as it leaves the honest-majority
region. Plain majority is not enough even in this deterministic model: scoring adversarial
blocks and forks once, with slack 0, the checker reverts a 2-deep block in 12 steps. The
adversary answers every uniquely successful round with a block of its own, splits the honest
nodes on two equally long chains, and the next honest block breaks the tie (a "balance attack").

Property: a block with at least k blocks on top of it in an honest node's chain is never
removed from that node's chain (no k-deep reorganisation), within the explored rounds.
Variant: the adversary's blocks are not counted: it mines as often as it likes (one block a
round, as fast as the honest nodes together) and reverts a k-deep block with a private chain.

Left out: difficulty adjustment, transactions, block contents and signatures (a block is its
parent, height and finder), honest nodes' relaying of every block (only whole chains, at the
end of the round, as in GKL), and probabilities: "within the bound" means for every schedule of
at most ``rounds`` rounds that satisfies the honest-majority constraint.
"""

from __future__ import annotations

from typing import NamedTuple

from protospec import Param, Spec, action, action_property, except_at

ADVERSARY = -1  # the finder of an adversarial block
GENESIS = 0  # index of the genesis block
NOBODY = -2  # the finder of the genesis block


class Block(NamedTuple):
    parent: int  # index of the parent block (the genesis block is its own parent)
    height: int  # blocks from genesis (genesis: 0); a chain's length is its tip's height
    finder: int  # the honest node that found it, ADVERSARY, or NOBODY for genesis


class State(NamedTuple):
    round: int  # the current round (0-based); nothing happens once it reaches ``rounds``
    blocks: tuple[Block, ...]  # every block found so far, in the order found; [0] is genesis
    tips: tuple[int, ...]  # tips[h]: the tip of honest node h's chain (an index into blocks)
    mined: frozenset[int]  # the honest nodes that have found a block this round
    adversary_mined: bool  # whether the adversary has found a block this round
    excess: int  # max(0, the largest score of a window of rounds ending with the last round)


class Blockchain(Spec):
    """Longest-chain (Nakamoto) consensus: with an honest majority no k-deep block is reverted."""

    name = "blockchain"

    honest_nodes = Param(2, "number of honest nodes", min=1, max=4)
    rounds = Param(4, "number of rounds explored", min=1, max=10)
    k = Param(2, "a block with k blocks on top of it is final (never reverted)", min=1)
    slack = Param(1, "the largest score a window of rounds may have (honest-majority slack)",
                  min=0, max=4)

    def setup(self) -> None:
        self.H = range(self.honest_nodes)
        # Block indices: genesis plus at most one block per honest node and one adversarial
        # block per round. A fixed domain (checked against len(blocks) in the guards) is
        # cheaper to enumerate than one read off the state.
        self.B = range(1 + self.rounds * (self.honest_nodes + 1))

    def init(self):
        yield State(round=0, blocks=(Block(GENESIS, 0, NOBODY),),
                    tips=(GENESIS,) * self.honest_nodes, mined=frozenset(),
                    adversary_mined=False, excess=0)

    # -- the honest-majority accounting (a constraint on schedules) ---------------------------

    def round_score(self, s: State) -> int:
        """The current round's score: 2 per adversarial block, +1 for an honest fork, -1 for a
        uniquely successful round."""
        honest = len(s.mined)
        return 2 * s.adversary_mined + (honest >= 2) - (honest == 1)

    def window_excess(self, s: State) -> int:
        """The largest score of a window of rounds ending with the current round."""
        return s.excess + self.round_score(s)

    def constraint(self, s: State) -> bool:
        """Explore only schedules that keep the honest majority (see the module docstring)."""
        return self.window_excess(s) <= self.slack

    # -- chains -------------------------------------------------------------------------------

    def ancestor_at(self, blocks: tuple[Block, ...], b: int, height: int) -> int:
        """The block at ``height`` on the chain ending in block b."""
        while blocks[b].height > height:
            b = blocks[b].parent
        return b

    # -- actions ------------------------------------------------------------------------------

    @action(h="H")
    def mine(self, s: State, h: int) -> State | None:
        """Honest node h finds a block on its tip (at most one per node and round)."""
        if s.round >= self.rounds or h in s.mined:
            return None
        tip = s.tips[h]
        block = Block(tip, s.blocks[tip].height + 1, h)
        return s._replace(blocks=s.blocks + (block,),
                          tips=except_at(s.tips, h, len(s.blocks)), mined=s.mined | {h})

    @action(parent="B")
    def adversary_mine(self, s: State, parent: int) -> State | None:
        """The adversary finds a block on any block it likes and keeps it private (at most one
        per round)."""
        if s.round >= self.rounds or s.adversary_mined or parent >= len(s.blocks):
            return None
        block = Block(parent, s.blocks[parent].height + 1, ADVERSARY)
        return s._replace(blocks=s.blocks + (block,), adversary_mined=True)

    @action(b="B", h="H")
    def release(self, s: State, b: int, h: int) -> State | None:
        """The adversary delivers the chain ending in block b (any block: its own, or an honest
        one early) to honest node h, which adopts it if it is strictly longer than its own."""
        if s.round >= self.rounds or b >= len(s.blocks) or \
                s.blocks[b].height <= s.blocks[s.tips[h]].height:
            return None
        return s._replace(tips=except_at(s.tips, h, b))

    @action
    def end_round(self, s: State) -> State | None:
        """The round ends: every honest node's chain reaches every honest node, and each adopts
        the longest one if strictly longer than its own (among equals, the one found first)."""
        if s.round >= self.rounds:
            return None
        best = min(s.tips, key=lambda b: (-s.blocks[b].height, b))
        top = s.blocks[best].height
        tips = tuple(best if s.blocks[t].height < top else t for t in s.tips)
        return State(round=s.round + 1, blocks=s.blocks, tips=tips, mined=frozenset(),
                     adversary_mined=False, excess=max(0, self.window_excess(s)))

    # -- properties ---------------------------------------------------------------------------

    @action_property
    def k_deep_never_reverted(self, s: State, t: State) -> bool:
        """Common prefix: a block with k blocks on top of it in an honest node's chain stays in
        that node's chain."""
        for h in self.H:
            tip = s.tips[h]
            height = s.blocks[tip].height
            if height < self.k:
                continue
            deep = self.ancestor_at(s.blocks, tip, height - self.k)
            new_tip = t.tips[h]
            if t.blocks[new_tip].height < height - self.k or \
                    self.ancestor_at(t.blocks, new_tip, height - self.k) != deep:
                return False
        return True


# -- bug variants -----------------------------------------------------------------------------


@Blockchain.variant("adversary_majority", breaks="k_deep_never_reverted")
class AdversaryMajority(Blockchain):
    """The adversary's blocks are not limited: it mines a block every round and out-runs k."""

    def round_score(self, s: State) -> int:
        # Adversarial blocks no longer count against the honest majority.
        honest = len(s.mined)
        return (honest >= 2) - (honest == 1)


# Measured with explorer.check: 14,849 distinct states, depth 12 with the defaults (no violation);
# 134,892 with rounds=5 (no violation); with k=1 a block is reverted in 11 steps under the same
# constraint. adversary_majority: 10 steps, after about 237,000 states.
# See docs/specs/blockchain.md.
