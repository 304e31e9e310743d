"""Symbolic checking: the z3 encoding agrees with the explicit spec, BMC finds the explorer's
shortest counterexamples, inductive invariants are proved, quorum lemmas hold for every n."""

from __future__ import annotations

from collections import deque

import pytest
from protospec.explorer import check
from protospec.explorer.cli.main import main
from protospec.explorer.symbolic import bmc, load_encoding, prove_inductive
from protospec.explorer.symbolic.quorum import LEMMAS, prove_lemma
from protospec.specs.two_phase_commit import TwoPhaseCommit

VARIANTS = list(TwoPhaseCommit.variants())


def reachable(spec):
    seen = set(spec.init())
    queue = deque(seen)
    while queue:
        s = queue.popleft()
        for _, t in spec.successors(s):
            if t not in seen:
                seen.add(t)
                queue.append(t)
    return seen


@pytest.mark.parametrize("variant", [None, *VARIANTS])
def test_the_encoding_allows_exactly_the_specs_successors_in_every_reachable_state(variant):
    spec = TwoPhaseCommit.with_variant(variant)(rms=2)
    enc = load_encoding(spec)
    for s in reachable(spec):
        assert enc.successors(s) == {t for _, t in spec.successors(s)}, s


@pytest.mark.parametrize("variant", VARIANTS)
def test_bmc_finds_each_variant_at_the_depth_of_the_explorers_shortest_counterexample(variant):
    spec = TwoPhaseCommit.with_variant(variant)(rms=3)
    explicit = check(spec).violations[0]
    symbolic = bmc(load_encoding(spec), len(explicit.trace)).violations[0]
    assert symbolic.property == explicit.property == "atomicity"
    assert len(symbolic.trace) == len(explicit.trace)


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_bmc_trace_replays_through_the_explicit_spec(variant):
    spec = TwoPhaseCommit.with_variant(variant)(rms=3)
    trace = bmc(load_encoding(spec), 10).violations[0].trace
    for before, after in zip(trace.steps, trace.steps[1:]):
        assert (after.action, after.args, after.state) in [
            (lab.action, lab.arg_dict, t) for lab, t in spec.successors(before.state)]
    assert not spec.check_state(trace.steps[-2].state)
    assert "atomicity" in spec.check_state(trace.steps[-1].state)


def test_bmc_finds_no_violation_within_the_diameter_of_the_correct_spec():
    spec = TwoPhaseCommit(rms=3)
    diameter = check(spec).stats.depth
    result = bmc(load_encoding(spec), diameter)
    assert result.ok and result.stats.depth == diameter


def test_the_strengthened_invariant_holds_on_every_reachable_state():
    spec = TwoPhaseCommit(rms=3)
    enc = load_encoding(spec)
    assert all(enc.holds_on("inductive_atomicity", s) for s in reachable(spec))


def test_atomicity_with_its_strengthening_is_inductive_for_20_rms():
    result = prove_inductive(load_encoding(TwoPhaseCommit(rms=20)), "inductive_atomicity")
    assert result.proved


def test_atomicity_alone_is_not_inductive_and_the_counterexample_is_a_real_step():
    spec = TwoPhaseCommit(rms=3)
    result = prove_inductive(load_encoding(spec), "atomicity")
    assert result.initiation and not result.consecution
    s, t = (st.state for st in result.counterexample.steps)
    assert "type_ok" not in spec.check_state(s)
    assert "atomicity" not in spec.check_state(s) and "atomicity" in spec.check_state(t)
    step = result.counterexample.steps[1]
    assert (step.action, step.args, t) in [
        (lab.action, lab.arg_dict, u) for lab, u in spec.successors(s)]


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_strengthening_is_not_inductive_for_a_bug_variant(variant):
    spec = TwoPhaseCommit.with_variant(variant)(rms=3)
    result = prove_inductive(load_encoding(spec), "inductive_atomicity")
    assert not result.proved
    s, t = (st.state for st in result.counterexample.steps)
    assert t in {u for _, u in spec.successors(s)}


@pytest.mark.parametrize("lemma", LEMMAS, ids=lambda lemma: lemma.name)
def test_each_quorum_lemma_comes_out_as_expected_for_every_size(lemma):
    result = prove_lemma(lemma)
    assert result.valid == lemma.expect_valid
    if not lemma.expect_valid:
        ce = result.counterexample
        assert ce["|Q1|"] <= ce["n"] and ce["|Q2|"] <= ce["n"]


def test_with_n_equal_3f_two_quorums_can_overlap_only_in_faulty_replicas():
    lemma = next(lemma for lemma in LEMMAS if lemma.name == "bft_fails_with_n_equal_3f")
    ce = prove_lemma(lemma).counterexample
    assert ce["n"] == 3 * ce["f"]
    assert ce["|Q1 & Q2 - F|"] == 0 and ce["|F|"] <= ce["f"]


def test_the_cli_proves_quorum_lemmas_and_reports_bmc_and_induction(capsys):
    assert main(["prove", "quorum"]) == 0
    assert main(["prove", "two_phase_commit", "-p", "rms=5", "--inductive",
                 "inductive_atomicity"]) == 0
    assert main(["prove", "two_phase_commit", "--inductive", "atomicity"]) == 1
    assert main(["bmc", "two_phase_commit", "--variant", "tm_commits_early", "--depth", "4"]) == 1
    out = capsys.readouterr().out
    assert "Shortest counterexample: 3 steps" in out
    assert main(["prove", "two_phase_commit", "--inductive", "nope"]) == 2
