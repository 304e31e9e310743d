"""raft_snapshot: log compaction with InstallSnapshot (Raft paper, section 7, Figure 13) keeps
committed entries; a receiver that discards its whole log loses them.

Counts and lengths were measured with explorer.check (docs/specs/raft_snapshot.md).
"""

from __future__ import annotations

from protospec.specs.raft_snapshot import RaftSnapshot, Role, State

from tests.specs.catalogue_checks import (
    assert_cli_names_broken_property,
    assert_default_exhausts,
    assert_documented,
    assert_variant_caught,
    run,
    start,
)

F, L = Role.FOLLOWER, Role.LEADER
MAJORITY = frozenset({0, 1})


def test_the_default_configuration_exhausts_with_no_violation() -> None:
    assert_default_exhausts(RaftSnapshot, 12547, 15)


def test_install_discards_log_loses_an_applied_entry() -> None:
    assert_variant_caught(RaftSnapshot, "install_discards_log", 10)


def test_the_command_line_exits_1_naming_state_machine_safety(capsys) -> None:
    assert_cli_names_broken_property(RaftSnapshot, "install_discards_log", 10, capsys)


def two_committed_entries(spec: RaftSnapshot) -> State:
    """s0 leads term 1 and commits two entries on s0 and s1; s1 has heard of the first."""
    return run(spec, start(spec), ("become_leader", {"i": 0, "voters": MAJORITY}),
               ("client_request", {"i": 0}), ("append_entries", {"i": 0, "j": 1}),
               ("commit_entry", {"i": 0}), ("client_request", {"i": 0}),
               ("append_entries", {"i": 0, "j": 1}), ("commit_entry", {"i": 0}))


def test_a_server_compacts_only_what_it_has_committed() -> None:
    spec = RaftSnapshot()
    s = two_committed_entries(spec)
    assert s.commit_index == (2, 1, 0)
    s = run(spec, s, ("take_snapshot", {"i": 1}))
    assert (s.snapshot[1], s.log[1]) == ((1,), (1,))
    assert spec.step(s, "take_snapshot", i=1) is None


def test_install_retains_entries_following_a_matching_last_included_entry() -> None:
    # Figure 13, receiver rule 6.
    spec = RaftSnapshot()
    s = run(spec, two_committed_entries(spec), ("become_leader", {"i": 1, "voters": MAJORITY}),
            ("take_snapshot", {"i": 1}), ("install_snapshot", {"i": 1, "j": 0}))
    assert (s.snapshot[0], s.log[0], s.commit_index[0]) == ((1,), (1,), 2)
    assert spec.check_state(s) == []


def test_install_discards_a_log_that_does_not_match_the_snapshot() -> None:
    # Figure 13, receiver rule 7: the log's entry at lastIncludedIndex has another term.
    spec = RaftSnapshot()
    assert spec.log_after_install((1, 2), (1, 3)) == ()
    assert spec.log_after_install((1,), (1, 1)) == ()
    assert spec.log_after_install((1, 1, 2), (1, 1)) == (2,)


def test_a_leader_sends_its_snapshot_when_the_entry_a_follower_needs_is_compacted() -> None:
    spec = RaftSnapshot()
    s = run(spec, two_committed_entries(spec), ("take_snapshot", {"i": 0}))
    assert spec.step(s, "append_entries", i=0, j=2) is None
    s = run(spec, s, ("install_snapshot", {"i": 0, "j": 2}))
    assert spec.entries(s, 2) == (1, 1) and s.commit_index[2] == 2


def test_state_machine_safety_fails_on_a_server_that_lost_an_applied_entry() -> None:
    bad = State((1, 1, 0), (L, F, F), ((1,), (), ()), ((), (1, 1), ()), (2, 2, 0),
                frozenset({(1, 1, 1), (2, 1, 1)}))
    assert RaftSnapshot().check_state(bad) == ["state_machine_safety"]


def test_leader_completeness_fails_on_a_later_leader_without_a_committed_entry() -> None:
    bad = State((1, 2, 2), (F, L, F), ((), (), ()), ((1,), (), ()), (1, 0, 0),
                frozenset({(1, 1, 1)}))
    assert RaftSnapshot().check_state(bad) == ["leader_completeness"]


def test_election_safety_and_log_matching_fail_on_hand_built_states() -> None:
    spec = RaftSnapshot()
    two_leaders = State((2, 2, 1), (L, L, F), ((),) * 3, ((),) * 3, (0, 0, 0), frozenset())
    assert spec.check_state(two_leaders) == ["election_safety"]
    forked = State((2, 2, 2), (F, F, F), ((1,), (), ()), ((2,), (2, 2), ()), (1, 0, 0),
                   frozenset({(1, 1, 1)}))
    assert spec.check_state(forked) == ["log_matching"]


def test_the_spec_is_documented() -> None:
    assert_documented(RaftSnapshot)
