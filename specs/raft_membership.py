"""Raft membership changes, one server at a time, and the bug found in them in 2015.

Source: Diego Ongaro, "Consensus: Bridging Theory and Practice" (PhD dissertation, Stanford,
2014), chapter 4, section 4.1 and 4.2 (single-server changes: a configuration is a log entry,
used by a server as soon as it is in its log; a leader starts a change only when the previous
one is committed; Figure 4.3 shows why majorities of C and C +/- one server always overlap); and
Ongaro's post "bug in single-server membership changes" to the raft-dev mailing list (July
2015), which showed that a leader of a new term may still start a change whose majorities miss
those of a change begun in an earlier term by another leader, so that two leaders are elected
in one term. His fix, adopted here: a leader may not append a configuration entry until it has
committed an entry of its own term (in practice the no-op every new leader appends, section
6.4).

The idea: a configuration is the set of voting servers. It changes by appending a
configuration entry to the leader's log; every server uses the latest configuration in its
log, committed or not, for elections and for counting commits. If each change adds or removes
one server, any majority of the old configuration and any majority of the new one share a
server, so no two leaders can be elected in one term. The 2015 bug: leader s0 of term 1
appends C - {s3} and crashes before replicating it; s3 is elected in term 2 and appends
C - {s0}. Each change is one server away from C, but the two new configurations are two
servers apart: {s0, s1} is a majority of the first and {s2, s3} a majority of the second,
and in term 3 both s0 and s2 are elected. Committing an entry of term 2 first puts it on a
majority of C, which s0's vote requests then cannot get around.

Modelling: elections, replication and commitment are atomic steps, as in the abstract Raft
specifications of Schultz, Zhou, Dardik and Tripakis ("Design and Analysis of a Logless Dynamic
Reconfiguration Protocol", OPODIS 2021, and its TLA+ MongoRaftReconfig): ``become_leader(i,
voters)`` is a whole election in which every voter in the quorum grants its vote;
``append_entries(i, j)`` makes j's log agree with the leader's one entry further;
``commit_entry(i)`` commits the leader's log once a majority of its configuration holds it in
its term. A candidate takes the smallest term above its voters' (it could have reached it by
timing out repeatedly). There are no messages, restarts or message loss: the bug needs none. A
state constraint bounds terms and log lengths.

Left out: joint consensus (section 4.3), catching up new servers (4.2.1), removing the leader
itself (4.2.2), disruptive servers (4.2.3), and the state machine (entries carry no value).
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


class Entry(NamedTuple):
    """A log entry: its term, and the new configuration if it is a configuration entry."""

    term: int
    config: frozenset[int] | None = None  # None: an ordinary entry (a client command, a no-op)


class State(NamedTuple):
    """Each server's term, role and log, and the entries ever committed (a history variable)."""

    current_term: tuple[int, ...]  # currentTerm[i]
    state: tuple[Role, ...]  # follower or leader (an election is one step: no candidates)
    log: tuple[tuple[Entry, ...], ...]  # log[i]; index 1 is log[i][0]
    committed: frozenset[tuple[int, Entry]]  # (index, entry) a leader has committed


class RaftMembership(Spec):
    """Raft single-server membership changes (Ongaro's thesis ch. 4) with the 2015 fix."""

    name = "raft_membership"

    servers = Param(4, "number of servers, all in the initial configuration", min=2, max=5)
    max_term = Param(3, "largest term explored (terms start at 0, the first leader's is 1)",
                     min=1, max=5)
    max_log_length = Param(2, "longest log explored", min=1, max=4)

    def setup(self) -> None:
        n = self.servers
        self.Server = range(n)
        self.initial_config = frozenset(self.Server)
        # Every set of servers (a quorum of voters, or a configuration), smallest first.
        self.Subsets = [frozenset(c) for k in range(1, n + 1) for c in combinations(self.Server, k)]

    def init(self) -> Iterator[State]:
        n = self.servers
        yield State(current_term=(0,) * n, state=(FOLLOWER,) * n, log=((),) * n,
                    committed=frozenset())

    def constraint(self, s: State) -> bool:
        """Bound terms and logs (the actions test the same bounds before building a state)."""
        return max(s.current_term) <= self.max_term and max(map(len, s.log)) <= self.max_log_length

    # -- configurations (section 4.1) ---------------------------------------------------------

    def config(self, log: tuple[Entry, ...]) -> frozenset[int]:
        """The configuration a server uses: the latest in its log, committed or not."""
        for e in reversed(log):
            if e.config is not None:
                return e.config
        return self.initial_config

    def is_quorum(self, voters: frozenset[int], config: frozenset[int]) -> bool:
        """A majority of ``config``, all of them members."""
        return voters <= config and 2 * len(voters) > len(config)

    # -- actions ------------------------------------------------------------------------------

    @action(i="Server", voters="Subsets")
    def become_leader(self, s: State, i: int, voters: frozenset[int]) -> State | None:
        """A whole election: i, a member of its configuration, gets the votes of a majority of
        it (itself included), each voter at a lower term and with a log no more up-to-date than
        i's (section 5.4.1 of the paper); they all move to the new term. A leader of an earlier
        term may stand again: it may have crashed and restarted, and its election is this step."""
        if i not in voters:
            return None
        log = s.log[i]
        if not self.is_quorum(voters, self.config(log)):
            return None
        term = 1 + max(s.current_term[j] for j in voters)
        if term > self.max_term:
            return None
        if not all(_up_to_date(log, s.log[j]) for j in voters):
            return None
        terms, roles = list(s.current_term), list(s.state)
        for j in voters:
            terms[j], roles[j] = term, FOLLOWER
        roles[i] = LEADER
        return State(tuple(terms), tuple(roles), s.log, s.committed)

    @action(i="Server")
    def client_request(self, s: State, i: int) -> State | None:
        """Leader i appends an ordinary entry (a client command, or its no-op of section 6.4)."""
        if s.state[i] is not LEADER or len(s.log[i]) >= self.max_log_length:
            return None
        return self._append(s, i, Entry(s.current_term[i]))

    @action(i="Server", new="Subsets")
    def reconfig(self, s: State, i: int, new: frozenset[int]) -> State | None:
        """Leader i starts a change to ``new``, one server away from its configuration (adding
        or removing one, but not itself), once its previous change is committed and, with the
        2015 fix, once it has committed an entry of its own term."""
        if s.state[i] is not LEADER or len(s.log[i]) >= self.max_log_length:
            return None
        log = s.log[i]
        old = self.config(log)
        if i not in new or not self.change_allowed(old, new):
            return None
        if not self.config_committed(s, log) or not self.may_reconfigure(s, i):
            return None
        return self._append(s, i, Entry(s.current_term[i], new))

    def change_allowed(self, old: frozenset[int], new: frozenset[int]) -> bool:
        """Single-server changes: the configurations differ in exactly one server."""
        return len(old ^ new) == 1

    def config_committed(self, s: State, log: tuple[Entry, ...]) -> bool:
        """The latest configuration entry in ``log`` is committed (or there is none)."""
        for k in range(len(log), 0, -1):
            if log[k - 1].config is not None:
                return (k, log[k - 1]) in s.committed
        return True

    def may_reconfigure(self, s: State, i: int) -> bool:
        """The 2015 fix: leader i has committed an entry of its current term."""
        term, log = s.current_term[i], s.log[i]
        return any(log[k - 1].term == term and (k, log[k - 1]) in s.committed
                   for k in range(1, len(log) + 1))

    @action(i="Server", j="Server")
    def append_entries(self, s: State, i: int, j: int) -> State | None:
        """Leader i brings j's log one entry closer to its own: j adopts i's term, deletes a
        conflicting suffix and appends i's next entry (Figure 2's receiver rules, in one step).
        The leader sends to every server of its configuration, and to a server it is adding."""
        if i == j or s.state[i] is not LEADER or s.current_term[i] < s.current_term[j]:
            return None
        if s.state[j] is LEADER and s.current_term[j] == s.current_term[i]:
            return None  # two leaders in one term: election_safety reports it
        if j not in self.config(s.log[i]):
            return None
        src, dst = s.log[i], s.log[j]
        k = _common_prefix(src, dst)
        if k < len(dst) and k == len(src):
            return None  # j's log extends i's without conflict: nothing to send
        new = src[:k + 1]  # keep the common prefix, then i's next entry (if any)
        if new == dst and s.current_term[j] == s.current_term[i] and s.state[j] is FOLLOWER:
            return None
        return State(except_at(s.current_term, j, s.current_term[i]),
                     except_at(s.state, j, FOLLOWER), except_at(s.log, j, new), s.committed)

    @action(i="Server")
    def commit_entry(self, s: State, i: int) -> State | None:
        """Leader i commits its whole log once a majority of its configuration stores it in
        i's term, if its last entry is of that term (section 5.4.2)."""
        if s.state[i] is not LEADER:
            return None
        log, term = s.log[i], s.current_term[i]
        k = len(log)
        if k == 0 or log[-1].term != term or (k, log[-1]) in s.committed:
            return None
        holders = frozenset(j for j in self.Server
                            if s.current_term[j] == term and s.log[j][:k] == log)
        config = self.config(log)
        if not self.is_quorum(holders & config, config):
            return None
        new = s.committed | {(x + 1, log[x]) for x in range(k)}
        return State(s.current_term, s.state, s.log, new)

    def _append(self, s: State, i: int, e: Entry) -> State:
        return State(s.current_term, s.state, except_at(s.log, i, s.log[i] + (e,)), s.committed)

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def election_safety(self, s: State) -> bool:
        """Election Safety: at most one leader in a term (no two leaders share a term)."""
        terms = [s.current_term[i] for i in self.Server if s.state[i] is LEADER]
        return len(terms) == len(set(terms))

    @invariant
    def log_matching(self, s: State) -> bool:
        """Log Matching: if two logs contain an entry with the same index and term, the logs
        are identical in all entries up through that index."""
        logs = s.log
        for i in self.Server:
            for j in range(i + 1, self.servers):
                a, b = logs[i], logs[j]
                for k in range(min(len(a), len(b)) - 1, -1, -1):
                    if a[k].term == b[k].term:
                        if a[:k + 1] != b[:k + 1]:
                            return False
                        break
        return True

    @invariant
    def state_machine_safety(self, s: State) -> bool:
        """State Machine Safety: no two different entries are ever committed at one index."""
        indexes = [k for k, _ in s.committed]
        return len(indexes) == len(set(indexes))

    @sometimes
    def config_change_committed(self, s: State) -> bool:
        """Some reachable state has a configuration entry committed (a change completes)."""
        return any(e.config is not None for _, e in s.committed)

    # -- chart hooks (optional; see explorer/chart_hints.py) ---------------------------------

    def chart_processes(self) -> list[str]:
        """One lane per server."""
        return [f"server {i}" for i in self.Server]

    def chart_lane(self, action: str, args: dict) -> str | None:
        """Every step is taken by (or on behalf of) leader or candidate i."""
        return f"server {args['i']}"


def _up_to_date(a: tuple[Entry, ...], b: tuple[Entry, ...]) -> bool:
    """Log a is at least as up-to-date as log b (section 5.4.1)."""
    ta, tb = (a[-1].term if a else 0), (b[-1].term if b else 0)
    return ta > tb or (ta == tb and len(a) >= len(b))


def _common_prefix(a: tuple[Entry, ...], b: tuple[Entry, ...]) -> int:
    """How many leading entries the two logs share."""
    k = 0
    for x, y in zip(a, b):
        if x != y:
            break
        k += 1
    return k


# -- bug variants -----------------------------------------------------------------------------


@RaftMembership.variant("reconfig_before_term_commit", breaks="election_safety")
class ReconfigBeforeTermCommit(RaftMembership):
    """The dissertation's rule as first published (the raft-dev bug of 2015): a new leader may
    start a change before it has committed an entry of its own term."""

    def may_reconfigure(self, s: State, i: int) -> bool:
        return True


@RaftMembership.variant("two_servers_at_once", breaks="election_safety")
class TwoServersAtOnce(RaftMembership):
    """A change may add or remove two servers in one step (section 4.1, Figure 4.2: the
    majorities of the old and new configurations need not overlap).

    Three servers suffice (a leader shrinks {s0, s1, s2} to {s0} and elects itself alone), so
    this variant's default says so.
    """

    servers = Param(3, "number of servers, all in the initial configuration", min=2, max=5)

    def change_allowed(self, old: frozenset[int], new: frozenset[int]) -> bool:
        return 1 <= len(old ^ new) <= 2


# Measured (explorer.check, defaults: 4 servers, max_term 3, logs of 2): 40,729 distinct
# states, depth 13, no violation; the 2015 bug fails in 6 steps, two-server changes in 7.
# Other sizes: docs/specs/raft_membership.md.
