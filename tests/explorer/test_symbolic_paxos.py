"""Paxos through z3: the encoding agrees with the explicit spec, BMC finds the variants at the
explorer's depths, and Lamport's invariant proves Consistency beyond explicit reach."""

from __future__ import annotations

import pytest
from protospec.explorer import check
from protospec.explorer.symbolic import bmc, load_encoding, prove_inductive
from protospec.specs.paxos import Paxos

from tests.explorer.test_symbolic import reachable

SMALL = {"acceptors": 2, "values": 2, "ballots": 2}


def test_the_encoding_allows_exactly_the_specs_successors_in_every_reachable_state():
    spec = Paxos(**SMALL)
    enc = load_encoding(spec)
    states = reachable(spec)
    assert len(states) == 145
    for s in states:
        assert enc.successors(s) == {t for _, t in spec.successors(s)}, s


@pytest.mark.parametrize("variant", ["proposer_ignores_1b", "accept_below_promise"])
def test_the_variant_encodings_agree_with_the_variant_specs(variant):
    spec = Paxos.with_variant(variant)(**SMALL)
    enc = load_encoding(spec)
    for s in reachable(spec):
        assert enc.successors(s) == {t for _, t in spec.successors(s)}, s


def test_lamports_invariant_holds_on_every_reachable_state():
    spec = Paxos(**SMALL)
    enc = load_encoding(spec)
    assert all(enc.holds_on("lamport_inv", s) for s in reachable(spec))


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["accept_below_promise", "non_intersecting_quorums"])
def test_bmc_finds_the_consistency_violation_at_the_explorers_depth(variant):
    spec = Paxos.with_variant(variant)()
    spec.restrict_properties(invariants=["consistency"])
    explicit = check(spec).violations[0]
    result = bmc(load_encoding(spec), len(explicit.trace), invariants=["consistency"])
    assert len(result.violations[0].trace) == len(explicit.trace)


def test_consistency_alone_is_not_inductive():
    result = prove_inductive(load_encoding(Paxos()), "consistency")
    assert not result.proved


def test_consistency_is_proved_for_5_acceptors_and_3_ballots_via_lamports_invariant():
    spec = Paxos(acceptors=5, ballots=3, values=2)
    result = prove_inductive(load_encoding(spec), "inductive_consistency")
    assert result.proved


def test_lamports_invariant_is_not_inductive_when_acceptors_accept_below_their_promise():
    spec = Paxos.with_variant("accept_below_promise")()
    result = prove_inductive(load_encoding(spec), "inductive_consistency")
    assert not result.proved
    s, t = (st.state for st in result.counterexample.steps)
    assert t in {u for _, u in spec.successors(s)}
