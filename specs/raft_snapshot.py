"""Raft log compaction: snapshots, and InstallSnapshot for followers that fall behind.

Source: Diego Ongaro and John Ousterhout, "In Search of an Understandable Consensus Algorithm
(Extended Version)" (2014), section 7 and Figure 13 (the InstallSnapshot RPC and its receiver
rules); Ongaro's dissertation, chapter 5, describes the same in more detail.

The idea: a server replaces the committed prefix of its log by a snapshot of its state machine,
recording the index and term of the last entry it includes. A leader that must send a follower
an entry it has already discarded sends its snapshot instead. The receiver (Figure 13):

* if its log has an entry with the same index and term as the snapshot's last included entry,
  it retains the entries following it (rule 6) — they may be entries the leader has already
  counted towards a commitment;
* otherwise it discards its entire log (rule 7) and resets its state machine from the snapshot.

The variant gets rule 6 wrong: the receiver discards its whole log on every install, so a stale
or repeated InstallSnapshot erases entries that are committed, and a server that had applied
them (or a later leader elected without them) no longer holds them.

Modelling: elections, replication and commitment are atomic steps, as in raft_membership (after
the abstract Raft specifications of Schultz et al., OPODIS 2021): ``become_leader(i, voters)``
is a whole election, ``append_entries(i, j)`` brings j's log one entry closer to the leader's
(or only tells it the commit index), ``commit_entry(i)`` commits the leader's log once a
majority holds it in its term. A snapshot is the committed prefix itself: the state machine's
state after applying entries that carry one client value each is the sequence of those entries,
so a snapshot is stored as the tuple of entry terms it covers (its last is the last included
term). A leader may send its snapshot to any follower at any time (its next_index for the
follower may be stale, and an InstallSnapshot may arrive late), which is when rule 6 matters. A
state constraint bounds terms and log lengths.

Left out: message loss and reordering beyond that, restarts (a restarted server keeps its
snapshot and log: nothing here is volatile except commit_index, whose loss only delays),
chunked snapshot transfer (offset, done), membership in snapshots, client values.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import IntEnum
from itertools import combinations
from typing import NamedTuple

from protospec import Param, Spec, action, except_at, invariant, sometimes


class Role(IntEnum):
    FOLLOWER = 0
    LEADER = 1


FOLLOWER, LEADER = Role.FOLLOWER, Role.LEADER


class State(NamedTuple):
    """Each server's term, role, snapshot, log and commit index; and what was ever committed.

    An entry is its term (every entry carries the one client value). Server i's whole log is
    ``snapshot[i] + log[i]``: index 1 is the first entry of its snapshot."""

    current_term: tuple[int, ...]  # currentTerm[i]
    state: tuple[Role, ...]  # follower or leader (an election is one step)
    snapshot: tuple[tuple[int, ...], ...]  # the compacted prefix: lastIncludedIndex = its length
    log: tuple[tuple[int, ...], ...]  # the entries after the snapshot
    commit_index: tuple[int, ...]  # commitIndex[i]
    committed: frozenset[tuple[int, int, int]]  # (index, entry's term, term first committed in)


class RaftSnapshot(Spec):
    """Raft log compaction (paper section 7): snapshots and InstallSnapshot keep logs safe."""

    name = "raft_snapshot"

    servers = Param(3, "number of servers", min=2, max=5)
    max_term = Param(2, "largest term explored (the first leader's is 1)", min=1, max=4)
    max_log_length = Param(2, "longest log explored (snapshot and entries together)", min=1,
                           max=4)

    def setup(self) -> None:
        n = self.servers
        self.Server = range(n)
        self.Subsets = [frozenset(c) for k in range(1, n + 1) for c in combinations(self.Server, k)]

    def init(self) -> Iterator[State]:
        n = self.servers
        yield State(current_term=(0,) * n, state=(FOLLOWER,) * n, snapshot=((),) * n,
                    log=((),) * n, commit_index=(0,) * n, committed=frozenset())

    def constraint(self, s: State) -> bool:
        """Bound terms and logs (the actions test the same bounds before building a state)."""
        return (max(s.current_term) <= self.max_term
                and max(len(a) + len(b) for a, b in zip(s.snapshot, s.log)) <= self.max_log_length)

    def entries(self, s: State, i: int) -> tuple[int, ...]:
        """Server i's whole log: its snapshot's entries, then the rest."""
        return s.snapshot[i] + s.log[i]

    # -- elections and the leader's log (as raft_membership, with a fixed configuration) ------

    @action(i="Server", voters="Subsets")
    def become_leader(self, s: State, i: int, voters: frozenset[int]) -> State | None:
        """A whole election: i gets the votes of a majority (itself included), each voter at a
        lower term and with a log no more up-to-date than i's (section 5.4.1; a snapshot's last
        included entry counts as the last entry when the log after it is empty)."""
        if i not in voters or 2 * len(voters) <= self.servers:
            return None
        term = 1 + max(s.current_term[j] for j in voters)
        if term > self.max_term:
            return None
        mine = self.entries(s, i)
        if not all(_up_to_date(mine, self.entries(s, j)) for j in voters):
            return None
        terms, roles = list(s.current_term), list(s.state)
        for j in voters:
            terms[j], roles[j] = term, FOLLOWER
        roles[i] = LEADER
        return State(tuple(terms), tuple(roles), s.snapshot, s.log, s.commit_index, s.committed)

    @action(i="Server")
    def client_request(self, s: State, i: int) -> State | None:
        """Leader i appends an entry of its term."""
        if s.state[i] is not LEADER or len(self.entries(s, i)) >= self.max_log_length:
            return None
        return State(s.current_term, s.state, s.snapshot,
                     except_at(s.log, i, s.log[i] + (s.current_term[i],)), s.commit_index,
                     s.committed)

    @action(i="Server", j="Server")
    def append_entries(self, s: State, i: int, j: int) -> State | None:
        """Leader i brings j's log one entry closer to its own (deleting a conflicting suffix)
        and tells it its commit index; it cannot send an entry it has compacted away (then it
        must install its snapshot)."""
        if i == j or s.state[i] is not LEADER or s.current_term[i] < s.current_term[j]:
            return None
        if s.state[j] is LEADER and s.current_term[j] == s.current_term[i]:
            return None  # two leaders in one term: election_safety reports it
        src, dst = self.entries(s, i), self.entries(s, j)
        k = _common_prefix(src, dst)
        if k < len(src):
            if k < len(s.snapshot[i]):
                return None  # the entry j needs is in i's snapshot: install_snapshot
            if k < len(s.snapshot[j]):
                return None  # j's snapshot conflicts with i's log: state_machine_safety's case
            new = src[:k + 1]
        elif k < len(dst):
            return None  # j's log extends i's without conflict: nothing to send
        else:
            new = dst
        commit = max(s.commit_index[j], min(s.commit_index[i], len(new)))
        if (new == dst and commit == s.commit_index[j] and s.state[j] is FOLLOWER
                and s.current_term[j] == s.current_term[i]):
            return None
        snap = s.snapshot[j]
        return State(except_at(s.current_term, j, s.current_term[i]),
                     except_at(s.state, j, FOLLOWER), s.snapshot,
                     except_at(s.log, j, new[len(snap):]), except_at(s.commit_index, j, commit),
                     s.committed)

    @action(i="Server")
    def commit_entry(self, s: State, i: int) -> State | None:
        """Leader i commits its whole log once a majority stores it in i's term, if its last
        entry is of that term (section 5.4.2)."""
        if s.state[i] is not LEADER:
            return None
        mine, term = self.entries(s, i), s.current_term[i]
        k = len(mine)
        if k == 0 or mine[-1] != term or s.commit_index[i] >= k:
            return None
        holders = sum(1 for j in self.Server
                      if s.current_term[j] == term and self.entries(s, j)[:k] == mine)
        if 2 * holders <= self.servers:
            return None
        known = {(x, e) for x, e, _ in s.committed}
        new = s.committed | {(x + 1, mine[x], term) for x in range(k)
                             if (x + 1, mine[x]) not in known}
        return State(s.current_term, s.state, s.snapshot, s.log,
                     except_at(s.commit_index, i, k), new)

    # -- log compaction (section 7) ------------------------------------------------------------

    @action(i="Server")
    def take_snapshot(self, s: State, i: int) -> State | None:
        """Server i replaces its committed entries by a snapshot of its state machine (here:
        of everything up to commit_index)."""
        c = s.commit_index[i]
        if c <= len(s.snapshot[i]):
            return None
        whole = self.entries(s, i)
        return State(s.current_term, s.state, except_at(s.snapshot, i, whole[:c]),
                     except_at(s.log, i, whole[c:]), s.commit_index, s.committed)

    @action(i="Server", j="Server")
    def install_snapshot(self, s: State, i: int, j: int) -> State | None:
        """InstallSnapshot: leader i sends j its snapshot (lastIncludedIndex and
        lastIncludedTerm with it). j adopts i's term and applies Figure 13's receiver rules."""
        if i == j or s.state[i] is not LEADER or s.current_term[i] < s.current_term[j]:
            return None
        if s.state[j] is LEADER and s.current_term[j] == s.current_term[i]:
            return None
        snap = s.snapshot[i]
        if not snap or len(s.snapshot[j]) >= len(snap):
            return None  # nothing newer than what j has compacted
        log = self.log_after_install(self.entries(s, j), snap)
        commit = max(s.commit_index[j], len(snap))
        return State(except_at(s.current_term, j, s.current_term[i]),
                     except_at(s.state, j, FOLLOWER), except_at(s.snapshot, j, snap),
                     except_at(s.log, j, log), except_at(s.commit_index, j, commit), s.committed)

    def log_after_install(self, entries: tuple[int, ...], snap: tuple[int, ...]) -> tuple[int, ...]:
        """Figure 13, receiver rules 6 and 7: if the log has an entry with the same index and
        term as the snapshot's last included entry, retain the entries following it; otherwise
        discard the entire log."""
        last = len(snap)
        if len(entries) >= last and entries[last - 1] == snap[-1]:
            return entries[last:]
        return ()

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def election_safety(self, s: State) -> bool:
        """Election Safety: at most one leader in a term."""
        terms = [s.current_term[i] for i in self.Server if s.state[i] is LEADER]
        return len(terms) == len(set(terms))

    @invariant
    def log_matching(self, s: State) -> bool:
        """Log Matching: two logs (snapshots included) with an entry of the same index and
        term are identical up through that index."""
        logs = [self.entries(s, i) for i in self.Server]
        for a, b in combinations(logs, 2):
            for k in range(min(len(a), len(b)) - 1, -1, -1):
                if a[k] == b[k]:
                    if a[:k + 1] != b[:k + 1]:
                        return False
                    break
        return True

    @invariant
    def state_machine_safety(self, s: State) -> bool:
        """State Machine Safety: no two entries are committed at one index, and every server
        holds (in its snapshot or log) the committed entries up to its commit_index, so what
        it has applied is what was committed."""
        if len({k for k, _, _ in s.committed}) != len(s.committed):
            return False
        committed = {k: e for k, e, _ in s.committed}
        for i in self.Server:
            mine = self.entries(s, i)
            c = s.commit_index[i]
            if c > len(mine) or any(committed.get(k + 1) != mine[k] for k in range(c)):
                return False
        return True

    @invariant
    def leader_completeness(self, s: State) -> bool:
        """Leader Completeness: a leader holds every entry committed in a term before its own."""
        for i in self.Server:
            if s.state[i] is LEADER:
                mine = self.entries(s, i)
                for k, term, when in s.committed:
                    if when < s.current_term[i] and (k > len(mine) or mine[k - 1] != term):
                        return False
        return True

    @sometimes
    def follower_snapshot_with_suffix(self, s: State) -> bool:
        """Some reachable state has a follower holding a snapshot and entries after it (what
        rule 6 must keep on an install can exist)."""
        return any(s.state[i] is FOLLOWER and s.snapshot[i] and s.log[i] for i in self.Server)

    # -- chart hooks (optional; see explorer/chart_hints.py) ---------------------------------

    def chart_processes(self) -> list[str]:
        """One lane per server."""
        return [f"server {i}" for i in self.Server]

    def chart_lane(self, action: str, args: dict) -> str | None:
        """Every step is taken by (or on behalf of) server i."""
        return f"server {args['i']}"


def _up_to_date(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Log a is at least as up-to-date as log b (section 5.4.1)."""
    ta, tb = (a[-1] if a else 0), (b[-1] if b else 0)
    return ta > tb or (ta == tb and len(a) >= len(b))


def _common_prefix(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """How many leading entries the two logs share."""
    k = 0
    for x, y in zip(a, b):
        if x != y:
            break
        k += 1
    return k


# -- bug variants -----------------------------------------------------------------------------


@RaftSnapshot.variant("install_discards_log", breaks="state_machine_safety")
class InstallDiscardsLog(RaftSnapshot):
    """On InstallSnapshot the receiver discards its entire log, even the entries after the
    snapshot's last included entry that agree with it (Figure 13's rule 6 left out), and so
    loses committed entries."""

    def log_after_install(self, entries: tuple[int, ...], snap: tuple[int, ...]) -> tuple[int, ...]:
        return ()


# Measured (explorer.check, defaults: 3 servers, max_term 2, logs of 2): 12,547 distinct states,
# depth 15, no violation; install_discards_log fails in 10 steps. Other sizes:
# docs/specs/raft_snapshot.md.
