"""multi_paxos: a replicated log agrees slot by slot, and a new leader must re-propose.

The default configuration (3 acceptors, 2 commands, 2 slots, ballots {0, 1}, 2 learners) has
339,557 states and takes 20-40 s (one slow test); the others use smaller ones.
"""

from __future__ import annotations

import pytest

from protospec.explorer import check
from protospec.specs.multi_paxos import (
    NO_VOTE,
    NONE,
    NOT_LEADER,
    Leader,
    Msg1a,
    Msg1b,
    Msg2a,
    Msg2b,
    MultiPaxos,
    State,
)
from tests.specs.catalogue_checks import assert_replays


@pytest.mark.parametrize(("params", "distinct", "depth"), [
    ({"slots": 1}, 2883, 15),
    ({"acceptors": 2}, 3486, 20),
    ({"commands": 1}, 1248, 15),
])
def test_small_configurations_exhaust_without_violation(params, distinct, depth):
    result = check(MultiPaxos(**params))
    assert result.ok
    assert (result.stats.distinct_states, result.stats.depth) == (distinct, depth)


@pytest.mark.parametrize(("prop", "length"), [
    ("slot_agreement", 10),
    ("learned_prefixes_agree", 12),
])
def test_a_leader_that_skips_reproposal_breaks_agreement(prop, length):
    spec = MultiPaxos.with_variant("leader_skips_reproposal")(slots=1)
    spec.restrict_properties(invariants=[prop])
    (v,) = check(spec).violations
    assert (v.property, len(v.trace)) == (prop, length)
    assert_replays(spec, v.trace)


def test_the_variant_is_caught_in_the_default_configuration_naming_slot_agreement():
    cls = MultiPaxos.with_variant("leader_skips_reproposal")
    (v,) = check(cls()).violations
    assert v.property == cls.variant_info.breaks == "slot_agreement"
    assert len(v.trace) == 10
    assert "become_leader" in [st.action for st in v.trace.steps]


def test_a_new_leader_must_re_propose_the_command_reported_in_phase_1():
    # Paxos Made Simple, section 3: the new leader runs phase 1 for all instances and must
    # finish the ones whose value is already determined. Acceptor 1 voted command 0 in slot 0.
    spec = MultiPaxos(slots=1)
    s = State(max_bal=(1, 1, NONE), votes=((NO_VOTE,), ((0, 0),), (NO_VOTE,)),
              leader=(Leader((NONE,), (0,)), NOT_LEADER), learned=((), ()),
              msgs=frozenset({Msg2a(0, 0, 0), Msg2b(1, 0, 0, 0), Msg1a(1),
                              Msg1b(0, 1, (NO_VOTE,)), Msg1b(1, 1, ((0, 0),))}))
    led = spec.step(s, "become_leader", b=1, q=frozenset({0, 1}))
    assert led.leader[1] == Leader(forced=(0,), proposed=())
    assert spec.step(led, "phase2a", b=1, slot=0, c=1) is None
    assert Msg2a(1, 0, 0) in spec.step(led, "phase2a", b=1, slot=0, c=0).msgs


def test_a_learner_learns_slots_in_order():
    spec = MultiPaxos()
    votes = {Msg2b(a, 0, 1, 0) for a in (0, 1)}
    s = State(max_bal=(0, 0, NONE), votes=(((NONE, NONE), (0, 0)),) * 2 + ((NO_VOTE,) * 2,),
              leader=(Leader((NONE, NONE), (1, 0)), NOT_LEADER), learned=((), ()),
              msgs=frozenset({Msg2a(0, 0, 1), Msg2a(0, 1, 0), *votes}))
    assert spec.step(s, "learn", r=0, b=0, c=0) is None  # slot 1 is chosen, slot 0 is not


# -- each invariant fails on a hand-built state ------------------------------------------------


def test_slot_agreement_fails_when_two_commands_are_chosen_for_one_slot():
    spec = MultiPaxos(slots=1)
    votes = {Msg2b(0, 0, 0, 0), Msg2b(1, 0, 0, 0), Msg2b(1, 1, 0, 1), Msg2b(2, 1, 0, 1)}
    s = State(max_bal=(0, 1, 1), votes=(((0, 0),), ((1, 1),), ((1, 1),)),
              leader=(Leader((NONE,), (0,)), Leader((NONE,), (1,))), learned=((), ()),
              msgs=frozenset(votes))
    assert spec.check_state(s) == ["slot_agreement"]


def test_learned_prefixes_agree_fails_when_two_learners_execute_different_logs():
    spec = MultiPaxos()
    s = State(max_bal=(NONE,) * 3, votes=((NO_VOTE,) * 2,) * 3,
              leader=(Leader((NONE, NONE), ()), NOT_LEADER), learned=((0, 1), (1,)),
              msgs=frozenset())
    assert spec.check_state(s) == ["learned_prefixes_agree"]


@pytest.mark.slow
def test_the_default_configuration_exhausts_without_violation():
    result = check(MultiPaxos())
    assert result.ok
    assert (result.stats.distinct_states, result.stats.depth) == (339557, 25)
