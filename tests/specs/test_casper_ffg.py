"""casper_ffg: accountable safety (Buterin & Griffith 2017, Theorem 1) over every way validators
may vote; without slashing condition II it fails.

Counts and lengths were measured with explorer.check (docs/specs/casper_ffg.md).
"""

from __future__ import annotations

from protospec.explorer import check
from protospec.specs.casper_ffg import CasperFFG, Link, State

from tests.specs.catalogue_checks import (
    assert_cli_names_broken_property,
    assert_default_exhausts,
    assert_documented,
    assert_variant_caught,
    run,
    start,
)


def votes(spec: CasperFFG, s: State, *cast: tuple[int, str, str]) -> State:
    return run(spec, s, *(("vote", {"v": v, "source": a, "target": b}) for v, a, b in cast))


def test_the_default_configuration_exhausts_with_no_violation() -> None:
    assert_default_exhausts(CasperFFG, 49135, 12)


def test_the_attack_configuration_is_safe_with_both_slashing_conditions() -> None:
    assert_default_exhausts(CasperFFG, 21198, 8, {"validators": 2, "branch_b": 4,
                                                  "max_votes": 4})


def test_without_the_surround_rule_conflicting_checkpoints_are_finalized() -> None:
    assert_variant_caught(CasperFFG, "no_surround_rule", 8)


def test_the_command_line_exits_1_naming_accountable_safety(capsys) -> None:
    assert_cli_names_broken_property(CasperFFG, "no_surround_rule", 8, capsys)


def test_conflicting_finality_is_reachable_only_with_enough_votes() -> None:
    # Four supermajority links of two votes each need more than two votes from someone (the
    # default, three votes each, reaches it: test_the_default_configuration_exhausts... passes).
    result = check(CasperFFG(max_votes=2))
    assert [v.property for v in result.violations] == ["conflicting_finality"]


def test_a_supermajority_link_justifies_and_a_link_to_a_child_finalizes() -> None:
    # Section 2: 2/3 of the deposits make a supermajority link.
    spec = CasperFFG()
    s = votes(spec, start(spec), (0, "r", "a1"))
    assert spec.justified(s) == {"r"}
    s = votes(spec, s, (1, "r", "a1"))
    assert spec.justified(s) == {"r", "a1"}
    s = votes(spec, s, (0, "a1", "a2"), (2, "a1", "a2"))
    assert spec.finalized(s) == {"r", "a1"}  # r -> a1 is itself a link to a direct child


def test_a_vote_from_an_unjustified_source_is_not_valid() -> None:
    spec = CasperFFG()
    assert spec.step(start(spec), "vote", v=0, source="a1", target="a2") is None
    assert spec.step(start(spec), "vote", v=0, source="a1", target="b2") is None  # not ancestor


def test_conflicting_finality_needs_a_double_vote_here_and_the_theorem_holds() -> None:
    # Validator 1 votes for both branches at height 1: slashable (condition I), 1/3 of stake.
    spec = CasperFFG()
    s = votes(spec, start(spec), (0, "r", "a1"), (1, "r", "a1"), (0, "a1", "a2"),
              (1, "a1", "a2"), (1, "r", "b1"), (2, "r", "b1"), (1, "b1", "b2"), (2, "b1", "b2"))
    assert spec.finalized(s) == {"r", "a1", "b1"}
    assert [spec.slashable(s.votes[v]) for v in range(3)] == [False, True, False]
    assert spec.check_state(s) == []


def test_the_two_slashing_conditions() -> None:
    spec = CasperFFG(branch_b=4)
    assert spec.double_vote(Link("r", "a1"), Link("r", "b1"))
    assert spec.surround_vote(Link("r", "b3"), Link("a1", "a2"))
    assert not spec.slashable(frozenset({Link("r", "a1"), Link("a1", "a2")}))
    assert spec.slashable(frozenset({Link("a1", "a2"), Link("r", "b3")}))


def test_accountable_safety_fails_on_conflicting_finality_with_no_one_slashable() -> None:
    # Validators 0 and 1 finalize a1, validators 1 and 2 finalize a conflicting checkpoint.
    spec = CasperFFG()
    a = frozenset({Link("r", "a1"), Link("a1", "a2")})
    b = frozenset({Link("r", "b1"), Link("b1", "b2")})
    bad = State(votes=(a, a | b, b))
    assert spec.check_state(bad) == []  # validator 1 double voted: 1/3 is slashable
    # Over b3 instead, validator 1's votes only surround: slashable under condition II alone.
    spec2 = CasperFFG.with_variant("no_surround_rule")(validators=3, branch_b=4)
    c = frozenset({Link("r", "b3"), Link("b3", "b4")})
    bad2 = State(votes=(a, a | c, c))
    assert spec2.check_state(bad2) == ["accountable_safety"]
    assert CasperFFG(branch_b=4).check_state(bad2) == []


def test_the_spec_is_documented() -> None:
    assert_documented(CasperFFG)
