"""raft_membership: single-server changes keep one leader per term (Ongaro's dissertation,
chapter 4) once a leader commits an entry of its term before changing the configuration (the
raft-dev fix of July 2015).

Counts and lengths were measured with explorer.check (docs/specs/raft_membership.md).
"""

from __future__ import annotations

import pytest
from protospec.specs.raft_membership import Entry, RaftMembership, Role, State

from tests.specs.catalogue_checks import (
    assert_cli_names_broken_property,
    assert_default_exhausts,
    assert_documented,
    assert_variant_caught,
    run,
    start,
)

F, L = Role.FOLLOWER, Role.LEADER
VARIANTS = [("reconfig_before_term_commit", 6), ("two_servers_at_once", 7)]


def test_three_servers_exhaust_with_no_violation() -> None:
    assert_default_exhausts(RaftMembership, 6886, 11, {"servers": 3})


@pytest.mark.slow
def test_the_default_four_servers_exhaust_with_no_violation() -> None:
    assert_default_exhausts(RaftMembership, 40729, 13)


@pytest.mark.parametrize(("variant", "length"), VARIANTS)
def test_each_variant_elects_two_leaders_in_one_term(variant: str, length: int) -> None:
    assert_variant_caught(RaftMembership, variant, length)


@pytest.mark.parametrize(("variant", "length"), VARIANTS)
def test_the_command_line_exits_1_naming_election_safety(variant: str, length: int,
                                                         capsys) -> None:
    assert_cli_names_broken_property(RaftMembership, variant, length, capsys)


def after_the_2015_prefix(spec: RaftMembership) -> State:
    """s0 leads term 1 and is cut off; s1 leads term 2 with s2 and s3."""
    return run(spec, start(spec), ("become_leader", {"i": 0, "voters": frozenset({0, 1, 2})}),
               ("become_leader", {"i": 1, "voters": frozenset({1, 2, 3})}))


def test_a_new_leader_may_not_reconfigure_before_committing_in_its_term() -> None:
    # The raft-dev fix: the leader's no-op of its term must be committed first.
    spec = RaftMembership()
    s = after_the_2015_prefix(spec)
    remove_s2 = frozenset({0, 1, 3})
    assert spec.step(s, "reconfig", i=1, new=remove_s2) is None
    s = run(spec, s, ("client_request", {"i": 1}), ("append_entries", {"i": 1, "j": 2}),
            ("append_entries", {"i": 1, "j": 3}), ("commit_entry", {"i": 1}),
            ("reconfig", {"i": 1, "new": remove_s2}))
    assert s.log[1] == (Entry(2), Entry(2, remove_s2))


def test_a_server_uses_a_configuration_before_it_is_committed() -> None:
    # Section 4.1: the latest configuration in the log is in effect, committed or not.
    spec = RaftMembership.with_variant("reconfig_before_term_commit")()
    s = run(spec, start(spec), ("become_leader", {"i": 0, "voters": frozenset({0, 1, 2})}),
            ("reconfig", {"i": 0, "new": frozenset({0, 1, 2})}))
    assert spec.config(s.log[0]) == {0, 1, 2}
    s = run(spec, s, ("become_leader", {"i": 0, "voters": frozenset({0, 2})}))
    assert s.state[0] is L and s.current_term[0] == 2


def test_only_one_server_changes_at_a_time() -> None:
    spec = RaftMembership()
    s = run(spec, start(spec), ("become_leader", {"i": 0, "voters": frozenset({0, 1, 2})}),
            ("client_request", {"i": 0}), ("append_entries", {"i": 0, "j": 1}),
            ("append_entries", {"i": 0, "j": 2}), ("commit_entry", {"i": 0}))
    assert spec.step(s, "reconfig", i=0, new=frozenset({0, 1})) is None
    assert spec.step(s, "reconfig", i=0, new=frozenset({0, 1, 2})) is not None


def test_a_commit_needs_a_majority_of_the_leaders_configuration() -> None:
    spec = RaftMembership()
    s = run(spec, start(spec), ("become_leader", {"i": 0, "voters": frozenset({0, 1, 2})}),
            ("client_request", {"i": 0}), ("append_entries", {"i": 0, "j": 1}))
    assert spec.step(s, "commit_entry", i=0) is None  # 2 of 4
    s = run(spec, s, ("append_entries", {"i": 0, "j": 3}), ("commit_entry", {"i": 0}))
    assert s.committed == {(1, Entry(1))}


def test_election_safety_fails_on_two_leaders_in_one_term() -> None:
    bad = State((3, 3, 3, 3), (L, L, F, F), ((), (), (), ()), frozenset())
    assert RaftMembership().check_state(bad) == ["election_safety"]


def test_log_matching_fails_on_equal_entries_over_different_prefixes() -> None:
    c = frozenset({0, 1, 2})
    bad = State((2, 2, 2, 2), (F,) * 4, ((Entry(1), Entry(2)), (Entry(1, c), Entry(2)), (), ()),
                frozenset())
    assert RaftMembership().check_state(bad) == ["log_matching"]


def test_state_machine_safety_fails_on_two_entries_committed_at_one_index() -> None:
    bad = State((2, 2, 2, 2), (F,) * 4, ((), (), (), ()),
                frozenset({(1, Entry(1)), (1, Entry(2))}))
    assert RaftMembership().check_state(bad) == ["state_machine_safety"]


def test_the_spec_is_documented() -> None:
    assert_documented(RaftMembership)
