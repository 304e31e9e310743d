"""The sans-IO Raft core, one behaviour per test (Reference: the Raft paper, sections cited)."""

from __future__ import annotations

import random

import pytest
from protospec.impl.raft.core import (
    NOOP,
    AppendEntriesRequest,
    AppendEntriesResponse,
    Config,
    Entry,
    RaftCore,
    RequestVoteRequest,
    RequestVoteResponse,
    Role,
    message_from_dict,
    message_to_dict,
)


def core(node: int = 1, n: int = 3, **kw) -> RaftCore:
    c = RaftCore(node, list(range(1, n + 1)), rng=random.Random(0), config=Config(10, 3), **kw)
    drain(c)  # the restart event
    return c


def drain(c: RaftCore):
    rd = c.ready()
    c.advance(rd)
    return rd


def elect(c: RaftCore) -> None:
    """Make c leader of its next term with votes from every peer."""
    while c.role is not Role.CANDIDATE:
        c.tick()
    drain(c)
    for j in c.peers:
        c.step(RequestVoteResponse(f"{j}.0.1", c.current_term, j, c.id, True))
    drain(c)
    assert c.role is Role.LEADER


def test_follower_times_out_into_candidate_of_next_term_voting_for_itself():
    # Reference: section 5.2.
    c = core()
    for _ in range(c.election_timeout):
        c.tick()
    rd = drain(c)
    assert (c.role, c.current_term, c.voted_for, c.votes_granted) == (Role.CANDIDATE, 2, 1, {1})
    assert rd.hard_state == (2, 1)
    assert sorted(m.dst for m in rd.messages if isinstance(m, RequestVoteRequest)) == [2, 3]
    assert [e["action"] for e in rd.events] == ["timeout", "request_vote", "request_vote"]


def test_candidate_with_majority_becomes_leader_and_appends_a_noop():
    # Reference: section 5.2 (majority), section 8 (no-op entry at the start of a term).
    c = core()
    while c.role is not Role.CANDIDATE:
        c.tick()
    drain(c)
    c.step(RequestVoteResponse("2.0.1", 2, 2, 1, True))
    rd = drain(c)
    assert c.role is Role.LEADER
    assert c.log == [Entry(2, NOOP)]
    assert [e["action"] for e in rd.events][:3] == [
        "handle_request_vote_response", "become_leader", "client_request"]


def test_vote_is_refused_to_a_candidate_whose_log_is_behind():
    # Reference: section 5.4.1, the election restriction.
    c = core(log=[Entry(1, "a"), Entry(1, "b")])
    c.step(RequestVoteRequest("2.0.1", 2, 2, 1, last_log_index=1, last_log_term=1))
    rd = drain(c)
    (reply,) = rd.messages
    assert reply.vote_granted is False and c.voted_for is None and c.current_term == 2


def test_vote_is_granted_at_most_once_per_term():
    # Reference: section 5.2 ("each server will vote for at most one candidate in a term").
    c = core()
    c.step(RequestVoteRequest("2.0.1", 2, 2, 1, 0, 0))
    c.step(RequestVoteRequest("3.0.1", 2, 3, 1, 0, 0))
    rd = drain(c)
    assert [m.vote_granted for m in rd.messages] == [True, False]
    assert c.voted_for == 2


def test_vote_is_persisted_in_the_same_ready_as_its_reply():
    # Figure 2: persistent state is updated on stable storage before responding to RPCs; the
    # driver persists a Ready's hard state before it sends the Ready's messages.
    c = core()
    c.step(RequestVoteRequest("2.0.1", 2, 2, 1, 0, 0))
    rd = drain(c)
    assert rd.hard_state == (2, 2) and rd.messages[0].vote_granted


def test_a_message_from_a_later_term_makes_a_leader_step_down():
    # Reference: section 5.1.
    c = core()
    elect(c)
    c.step(AppendEntriesResponse("2.0.9", c.current_term + 1, 2, 1, False, 0))
    rd = drain(c)
    assert c.role is Role.FOLLOWER and c.voted_for is None
    assert rd.events[0]["action"] == "update_term"


def test_follower_rejects_entries_whose_previous_entry_it_lacks():
    # Reference: section 5.3, the AppendEntries consistency check.
    c = core()
    c.step(AppendEntriesRequest("2.0.1", 1, 2, 1, 1, 1, (Entry(1, "x"),), 0))
    (reply,) = drain(c).messages
    assert reply.success is False and c.log == []


def test_follower_deletes_a_conflicting_entry_and_all_that_follow_it():
    # Reference: section 5.3, Figure 2 AppendEntries receiver rule 3.
    c = core(log=[Entry(1, "a"), Entry(1, "b"), Entry(1, "c")])
    c.step(AppendEntriesRequest("2.0.1", 2, 2, 1, 1, 1, (Entry(2, "B"),), 0))
    rd = drain(c)
    assert c.log == [Entry(1, "a"), Entry(2, "B")]
    assert rd.log_from == 2 and rd.entries == (Entry(2, "B"),)
    assert rd.messages[0].match_index == 2


def test_follower_keeps_its_log_on_a_duplicate_of_an_earlier_request():
    # A reordered or duplicated request must not erase entries that follow it (rule 3 deletes
    # only on a conflict).
    c = core(log=[Entry(1, "a"), Entry(1, "b")])
    c.step(AppendEntriesRequest("2.0.1", 1, 2, 1, 0, 0, (Entry(1, "a"),), 0))
    rd = drain(c)
    assert c.log == [Entry(1, "a"), Entry(1, "b")] and rd.log_from is None


def test_follower_commit_index_follows_the_leader_up_to_the_last_new_entry():
    # Figure 2, AppendEntries receiver rule 5.
    c = core()
    c.step(AppendEntriesRequest("2.0.1", 1, 2, 1, 0, 0, (Entry(1, "a"),), 1))
    rd = drain(c)
    assert c.commit_index == 1 and rd.committed == ((1, Entry(1, "a")),)


def _leader_with_old_entry(bug: str | None = None) -> RaftCore:
    """A leader of term 3 whose log holds an uncommitted entry of term 1 before its no-op."""
    c = core(log=[Entry(1, "old")], current_term=2, bug=bug)
    elect(c)
    assert c.current_term == 3 and c.log[-1] == Entry(3, NOOP)
    return c


def test_leader_does_not_commit_an_earlier_terms_entry_by_counting_replicas():
    # Reference: section 5.4.2 and Figure 8.
    c = _leader_with_old_entry()
    c.step(AppendEntriesResponse("2.0.5", 3, 2, 1, True, 1))
    drain(c)
    assert c.match_index[2] == 1 and c.commit_index == 0
    c.step(AppendEntriesResponse("2.0.6", 3, 2, 1, True, 2))
    drain(c)
    assert c.commit_index == 2  # committing the no-op commits the old entry with it


def test_the_commit_old_term_bug_commits_an_earlier_terms_entry():
    c = _leader_with_old_entry(bug="commit_old_term")
    c.step(AppendEntriesResponse("2.0.5", 3, 2, 1, True, 1))
    drain(c)
    assert c.commit_index == 1


def test_the_vote_without_log_check_bug_votes_for_a_candidate_that_is_behind():
    c = core(log=[Entry(1, "a")], bug="vote_without_log_check")
    c.step(RequestVoteRequest("2.0.1", 2, 2, 1, 0, 0))
    assert drain(c).messages[0].vote_granted is True


def test_a_one_node_cluster_elects_itself_and_commits_at_once():
    c = core(n=1)
    while c.role is not Role.LEADER:
        c.tick()
    assert c.propose("x") == 2
    assert c.commit_index == 2 and [e.command for _, e in drain(c).committed] == [NOOP, "x"]


def test_only_a_leader_accepts_proposals():
    assert core().propose("x") is None


def test_unknown_bug_is_refused():
    with pytest.raises(ValueError, match="unknown bug"):
        core(bug="no_such_bug")


def test_messages_round_trip_through_the_wire_format():
    ms = [RequestVoteRequest("1.0.1", 2, 1, 2, 3, 1), RequestVoteResponse("2.0.1", 2, 2, 1, True),
          AppendEntriesRequest("1.0.2", 2, 1, 3, 1, 1, (Entry(2, '{"op":"get"}'),), 1),
          AppendEntriesResponse("3.0.1", 2, 3, 1, True, 2)]
    assert [message_from_dict(message_to_dict(m)) for m in ms] == ms
    with pytest.raises(ValueError, match="not a Raft message"):
        message_from_dict({"type": "gossip"})


def test_a_step_between_ready_and_advance_goes_into_the_next_ready():
    # The driver may keep stepping while it fsyncs a Ready: the reply to a vote granted after
    # ready() must wait for the next Ready, whose hard state is persisted before it is sent.
    c = core()
    c.step(RequestVoteRequest("2.0.1", 2, 2, 1, 0, 0))
    first = c.ready()
    c.step(RequestVoteRequest("3.0.1", 3, 3, 1, 0, 0))
    assert [m.dst for m in first.messages] == [2] and first.hard_state == (2, 2)
    c.advance(first)
    second = c.ready()
    assert second.hard_state == (3, 3) and [m.dst for m in second.messages] == [3]


def test_entries_appended_after_ready_are_not_in_the_outstanding_ready():
    c = core()
    elect(c)
    c.propose("a")
    rd = c.ready()
    c.propose("b")
    assert [e.command for e in rd.entries] == ["a"]
    c.advance(rd)
    assert [e.command for e in c.ready().entries] == ["b"]


def test_a_ready_is_an_immutable_value():
    c = core()
    c.step(RequestVoteRequest("2.0.1", 2, 2, 1, 0, 0))
    rd = c.ready()
    with pytest.raises(AttributeError):
        rd.messages = ()
    assert isinstance(rd.messages, tuple) and isinstance(rd.entries, tuple)


def test_a_second_ready_before_advance_is_refused():
    c = core()
    c.step(RequestVoteRequest("2.0.1", 2, 2, 1, 0, 0))
    c.ready()
    with pytest.raises(RuntimeError, match="before advance"):
        c.ready()


def test_advancing_a_ready_that_was_not_handed_out_is_refused():
    c = core()
    c.step(RequestVoteRequest("2.0.1", 2, 2, 1, 0, 0))
    rd = c.ready()
    c.advance(rd)
    c.tick()
    c.step(RequestVoteRequest("3.0.1", 3, 3, 1, 0, 0))
    c.ready()
    with pytest.raises(RuntimeError, match="not the outstanding"):
        c.advance(rd)


def leader_with_committed_noop() -> RaftCore:
    c = core()
    elect(c)
    c.step(AppendEntriesResponse("2.0.5", c.current_term, 2, 1, True, 1))
    drain(c)
    assert c.commit_index == 1
    return c


def heartbeats(rd) -> dict[int, AppendEntriesRequest]:
    return {m.dst: m for m in rd.messages if isinstance(m, AppendEntriesRequest)}


def test_a_read_index_is_handed_out_once_a_majority_answers_a_heartbeat_sent_after_it():
    # Raft dissertation, section 6.4: confirm leadership with a heartbeat round, then read
    # at the commit index, with no log entry.
    c = leader_with_committed_noop()
    log_len = len(c.log)
    assert c.read_index("r1")
    rd = drain(c)
    assert rd.reads == () and set(heartbeats(rd)) == {2, 3} and len(c.log) == log_len
    hb = heartbeats(rd)[3]
    c.step(AppendEntriesResponse("3.0.9", c.current_term, 3, 1, True, 1, hb.id))
    assert drain(c).reads == (("r1", 1),)


def test_an_answer_to_a_heartbeat_sent_before_the_read_does_not_confirm_it():
    c = leader_with_committed_noop()
    c.tick()
    while not heartbeats(rd := drain(c)):
        c.tick()
    old = heartbeats(rd)[3]
    c.read_index("r1")
    drain(c)
    c.step(AppendEntriesResponse("3.0.9", c.current_term, 3, 1, True, 1, old.id))
    assert drain(c).reads == ()


def test_a_new_leader_reads_only_after_committing_an_entry_of_its_term():
    # Section 8 / dissertation 6.4: until its no-op commits, a new leader does not know
    # the commit index.
    c = core()
    elect(c)
    c.read_index("r1")
    rd = drain(c)
    hb = heartbeats(rd)[2]
    c.step(AppendEntriesResponse("2.0.9", c.current_term, 2, 1, True, 0, hb.id))
    assert drain(c).reads == ()  # confirmed, but no entry of this term is committed yet
    c.step(AppendEntriesResponse("2.0.10", c.current_term, 2, 1, True, 1))
    assert drain(c).reads == (("r1", 1),)


def test_reads_waiting_when_the_leader_steps_down_are_dropped_and_followers_refuse_them():
    c = leader_with_committed_noop()
    c.read_index("r1")
    drain(c)
    c.step(AppendEntriesResponse("2.0.9", c.current_term + 1, 2, 1, False, 0))
    drain(c)
    assert c.role is Role.FOLLOWER and not c.read_index("r2") and not c.has_ready()


def quiet_core(node: int = 1, **kw) -> RaftCore:
    c = RaftCore(node, [1, 2, 3], rng=random.Random(0), config=Config(10, 3, True), **kw)
    drain(c)
    return c


def heartbeat_round(c: RaftCore):
    for _ in range(c.config.heartbeat_ticks):
        c.tick()
    return drain(c)


def answer(c: RaftCore, rd, j: int) -> None:
    m = heartbeats(rd)[j]
    c.step(AppendEntriesResponse(f"{j}.0.{m.id}", c.current_term, j, c.id, True,
                                 m.prev_log_index + len(m.entries), m.id))


def test_a_follower_known_to_be_up_to_date_gets_quiet_heartbeats_that_log_nothing():
    c = quiet_core()
    elect(c)
    rd = heartbeat_round(c)
    answer(c, rd, 2)  # the no-op reaches node 2 and commits
    drain(c)
    answer(c, heartbeat_round(c), 2)  # node 2 acknowledges the new commit index
    drain(c)
    rd = heartbeat_round(c)
    quiet = heartbeats(rd)[2]
    assert quiet.quiet and not heartbeats(rd)[3].quiet  # node 3 never answered
    assert [e["sent"][0]["dst"] for e in rd.events] == [3]  # only the loud one is logged


def test_a_quiet_heartbeat_that_changes_nothing_resets_the_timer_and_logs_nothing():
    c = quiet_core(node=2, log=[Entry(2, "a")], current_term=2)
    c.step(AppendEntriesRequest("1.0.1", 2, 1, 2, 1, 2, (), 0))  # loud: learn the leader
    drain(c)
    c.election_elapsed = 5
    c.step(AppendEntriesRequest("1.0.2", 2, 1, 2, 1, 2, (), 0, True))
    rd = drain(c)
    assert rd.events == () and c.election_elapsed == 0
    assert rd.messages[0].quiet and rd.messages[0].success


def test_a_quiet_heartbeat_that_would_change_state_is_not_acted_on():
    # Its step would move the commit index, which the spec must see: ask for a logged one.
    c = quiet_core(node=2, log=[Entry(2, "a")], current_term=2)
    c.step(AppendEntriesRequest("1.0.2", 2, 1, 2, 1, 2, (), 1, True))
    rd = drain(c)
    assert rd.events == () and c.commit_index == 0
    assert rd.messages[0].quiet and not rd.messages[0].success


def test_a_leader_asked_for_a_logged_heartbeat_sends_one_next_round():
    c = quiet_core()
    elect(c)
    answer(c, heartbeat_round(c), 2)
    drain(c)
    answer(c, heartbeat_round(c), 2)
    drain(c)
    quiet = heartbeats(heartbeat_round(c))[2]
    c.step(AppendEntriesResponse("2.0.99", c.current_term, 2, 1, False, 0, quiet.id, True))
    drain(c)
    assert not heartbeats(heartbeat_round(c))[2].quiet


def test_reads_share_a_heartbeat_round_and_quiet_answers_confirm_them():
    c = quiet_core()
    elect(c)
    answer(c, heartbeat_round(c), 2)
    drain(c)
    answer(c, heartbeat_round(c), 2)
    drain(c)
    c.read_index("r1")
    c.read_index("r2")  # before the round has left: it shares it
    rd = drain(c)
    assert len(heartbeats(rd)) == 2 and heartbeats(rd)[2].quiet
    hb = heartbeats(rd)[2]
    c.step(AppendEntriesResponse("2.0.50", c.current_term, 2, 1, True, len(c.log), hb.id, True))
    rd = drain(c)
    assert rd.reads == (("r1", 1), ("r2", 1)) and rd.events == ()
