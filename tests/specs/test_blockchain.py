"""blockchain: the longest-chain rule, forks, and how deep a block must be to stay.

Reference: Nakamoto (2008), section 11 (the attacker's private chain must out-run the honest
one); Garay, Kiayias and Leonardos (EUROCRYPT 2015), the common-prefix property.
"""

from __future__ import annotations

import pytest

from protospec.explorer import check
from protospec.specs.blockchain import ADVERSARY, GENESIS, NOBODY, Block, Blockchain, State
from tests.specs.catalogue_checks import run, start

G = Block(GENESIS, 0, NOBODY)


# -- behaviour --------------------------------------------------------------------------------


def test_two_honest_blocks_in_one_round_fork_and_each_node_keeps_its_own():
    spec = Blockchain()
    s = run(spec, start(spec), ("mine", {"h": 0}), ("mine", {"h": 1}), ("end_round", {}))
    assert s.tips == (1, 2)  # equally long: nobody switches
    s = run(spec, s, ("mine", {"h": 1}), ("end_round", {}))
    assert s.tips == (3, 3)  # the longer branch wins at the end of the round


def test_a_released_chain_is_adopted_only_if_strictly_longer():
    spec = Blockchain(slack=4)
    s = run(spec, start(spec), ("mine", {"h": 0}), ("adversary_mine", {"parent": 0}))
    assert spec.step(s, "release", b=2, h=0) is None  # as long as node 0's own chain
    t = run(spec, s, ("release", {"b": 2, "h": 1}))
    assert t.tips == (1, 2)


def test_the_majority_constraint_cuts_off_an_adversary_that_mines_alone():
    spec = Blockchain()
    s = run(spec, start(spec), ("adversary_mine", {"parent": 0}))
    assert not spec.constraint(s)  # 2 * 1 - 0 > slack 1
    u = run(spec, start(spec), ("mine", {"h": 0}), ("adversary_mine", {"parent": 0}))
    assert spec.constraint(u)  # matched by a uniquely successful round: 2 - 1 <= 1


def test_with_the_same_majority_a_1_deep_block_can_be_reverted():
    # The constraint leaves the adversary real power: only depth protects a block.
    result = check(Blockchain(k=1))
    (v,) = result.violations
    assert v.property == "k_deep_never_reverted"
    assert len(v.trace) == 11
    assert any(b.finder == ADVERSARY for b in v.trace.steps[-1].state.blocks)


def test_the_adversary_can_make_an_honest_node_adopt_its_block_under_honest_majority():
    spec = Blockchain()
    spec.add_property("no_adversarial_tip", "invariant",
                      lambda s: all(s.blocks[t].finder != ADVERSARY for t in s.tips))
    (v,) = check(spec).violations
    assert v.property == "no_adversarial_tip"


# -- non-vacuity: the property fails on a hand-built step -------------------------------------


def test_k_deep_never_reverted_fails_when_a_node_drops_a_block_with_k_blocks_on_top():
    spec = Blockchain(k=2)
    blocks = (G, Block(0, 1, 0), Block(1, 2, 0), Block(2, 3, 0),  # node 0's chain: 0-1-2-3
              Block(0, 1, ADVERSARY), Block(4, 2, ADVERSARY), Block(5, 3, ADVERSARY),
              Block(6, 4, ADVERSARY))
    s = State(round=3, blocks=blocks, tips=(3, 3), mined=frozenset(), adversary_mined=True,
              excess=0)
    t = s._replace(tips=(7, 3))  # node 0 adopts the private chain: block 1 (2-deep) is gone
    assert spec.check_step(s, t) == ["k_deep_never_reverted"]
    # Dropping only the tip and its parent (1-deep and 0-deep) is allowed for k = 2.
    u = s._replace(blocks=blocks + (Block(1, 2, 1), Block(8, 3, 1), Block(9, 4, 1)),
                   tips=(10, 3))
    assert spec.check_step(s, u) == []


class PlainMajority(Blockchain):
    """Adversarial blocks and forks scored once: the adversary never out-mines the honest nodes."""

    def round_score(self, s: State) -> int:
        honest = len(s.mined)
        return int(s.adversary_mined) + (honest >= 2) - (honest == 1)


@pytest.mark.slow
def test_plain_majority_is_not_enough_a_balance_attack_reverts_a_2_deep_block():
    result = check(PlainMajority(slack=0))
    (v,) = result.violations
    assert v.property == "k_deep_never_reverted"
    assert len(v.trace) == 12
