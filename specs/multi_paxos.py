"""Multi-Paxos: a replicated log, one Paxos instance per slot, one phase 1 for all of them.

Source: Leslie Lamport, "Paxos Made Simple" (ACM SIGACT News 32(4), 2001), section 3
("Implementing a State Machine"): a leader that has completed phase 1 for a ballot may run
phase 2 for every later command "with the same ballot", because a phase 1 reply can cover
infinitely many instances. Robbert van Renesse and Deniz Altinbuken, "Paxos Made Moderately
Complex" (ACM Computing Surveys 47(3), 2015), section 3, describe the same leader (scout and
commanders). The acceptor and message definitions follow Paxos.tla (see specs/paxos.py), with a
slot added to every phase 2 message and a whole log of votes in every phase 1 reply.

The idea: acceptors keep, for every slot of the log, their vote with the highest ballot. The
leader of ballot b runs phase 1 once: each promise (1b) carries the acceptor's votes for every
slot. From a quorum of promises the leader learns, slot by slot, which command may already be
chosen (the one voted for in the highest reported ballot); it must re-propose that command in
that slot, and is free to put a new client command in slots where nothing was reported. Then it
runs phase 2 for each slot independently, filling its log in slot order. A leader change is a
higher ballot starting phase 1. The leader of ballot 0 skips phase 1 altogether, as real
deployments do for the first leader: every command is safe in the lowest ballot (Paxos.tla's
SafeAt(v, 0) holds vacuously). Learners (replicas) learn a slot's command from a quorum of 2b
votes of one ballot, slot after slot, and execute their log in that order.

As in Paxos.tla the network is the set ``msgs`` of every message ever sent (loss, duplication
and reordering come for free). Left out: liveness (leader election, timeouts), log compaction,
reconfiguration, client replies and de-duplication of a command placed in two slots (a new
command goes in one slot per ballot, but a re-proposed one may also sit elsewhere; a replica
would skip its second execution, which does not matter for agreement).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from typing import Annotated, NamedTuple

from protospec import Param, Spec, Symmetric, action, except_at, invariant

# Acceptors (majority quorums: all sets of a size) and learners are interchangeable:
# `--symmetry` explores one state per orbit of both.
Acceptor = Symmetric("Acceptor", size="acceptors")
Learner = Symmetric("Learner", size="learners")

NONE = -1  # "no ballot" and "no command"
NO_VOTE = (NONE, NONE)  # (ballot, command) of a slot in which an acceptor has not voted

# -- messages ---------------------------------------------------------------------------------
# The four message types have different numbers of fields, so they are never equal as tuples.


class Msg1a(NamedTuple):
    """Phase 1a: the leader of ballot bal asks for promises (for every slot at once)."""

    bal: int


class Msg1b(NamedTuple):
    """Phase 1b: acc promises ballot bal and reports its vote (ballot, command) in every slot."""

    acc: Acceptor.Id
    bal: int
    votes: tuple[tuple[int, int], ...]


class Msg2a(NamedTuple):
    """Phase 2a: the leader of ballot bal proposes command cmd for slot slot."""

    bal: int
    slot: int
    cmd: int


class Msg2b(NamedTuple):
    """Phase 2b: acc voted for cmd in slot slot at ballot bal."""

    acc: Acceptor.Id
    bal: int
    slot: int
    cmd: int


Message = Msg1a | Msg1b | Msg2a | Msg2b

# -- state ----------------------------------------------------------------------------------


class Leader(NamedTuple):
    """What the leader of a ballot knows once its phase 1 is complete."""

    forced: tuple[int, ...]  # per slot: the command phase 1 forces it to propose, or NONE (free)
    proposed: tuple[int, ...]  # the commands it has proposed so far, slot by slot from slot 0


NOT_LEADER = ()  # leader[b] before ballot b's leader has finished phase 1


class State(NamedTuple):
    # max_bal[a]: the highest ballot acceptor a has joined (NONE at first)
    max_bal: Annotated[tuple[int, ...], Acceptor.index]
    # votes[a][s]: a's (ballot, cmd) vote in slot s
    votes: Annotated[tuple[tuple[tuple[int, int], ...], ...], Acceptor.index]
    leader: tuple[Leader | tuple[()], ...]  # leader[b]: ballot b's leader, or NOT_LEADER
    # learned[r]: the commands learner r has learned, in slot order (it executes them in order)
    learned: Annotated[tuple[tuple[int, ...], ...], Learner.index]
    msgs: frozenset[Message]  # every message ever sent


class MultiPaxos(Spec):
    """Multi-Paxos: a replicated log where a stable leader runs phase 1 once for all slots."""

    name = "multi_paxos"

    acceptors = Param(3, "number of acceptors (majority quorums)", min=1, max=5)
    commands = Param(2, "number of distinct client commands", min=1, max=4)
    slots = Param(2, "number of log slots", min=1, max=4)
    ballots = Param(2, "number of ballots (leaders, one after another): 2 means {0, 1}",
                    min=1, max=4)
    learners = Param(2, "number of learners (replicas executing the log)", min=1, max=3)
    symmetric = (Acceptor, Learner)

    def setup(self) -> None:
        self.Acceptor = range(self.acceptors)
        self.Command = range(self.commands)
        self.Slot = range(self.slots)
        self.Ballot = range(self.ballots)
        self.LaterBallot = range(1, self.ballots)  # ballots whose leader must run phase 1
        self.Learner = range(self.learners)
        # Majorities: any two share an acceptor (Paxos.tla's QuorumAssumption).
        size = self.acceptors // 2 + 1
        self.Quorum = [frozenset(q) for q in combinations(self.Acceptor, size)]

    def init(self) -> Iterator[State]:
        yield State(
            max_bal=(NONE,) * self.acceptors,
            votes=((NO_VOTE,) * self.slots,) * self.acceptors,
            # Ballot 0's leader needs no phase 1: every command is safe in the lowest ballot
            # (SafeAt(v, 0) holds vacuously), so it starts as leader with every slot free.
            leader=(Leader((NONE,) * self.slots, ()),) + (NOT_LEADER,) * (self.ballots - 1),
            learned=((),) * self.learners,
            msgs=frozenset(),
        )

    # -- actions ------------------------------------------------------------------------------

    @action(b="LaterBallot")
    def phase1a(self, s: State, b: int) -> State | None:
        """Phase1a(b): a new leader takes over with ballot b and asks for promises."""
        m = Msg1a(b)
        if m in s.msgs:
            return None
        return s._replace(msgs=s.msgs | {m})

    @action(a="Acceptor", b="LaterBallot")
    def phase1b(self, s: State, a: int, b: int) -> State | None:
        """Phase1b(a): acceptor a promises ballot b and reports its votes in every slot."""
        if b <= s.max_bal[a] or Msg1a(b) not in s.msgs:
            return None
        reply = Msg1b(a, b, s.votes[a])
        return s._replace(max_bal=except_at(s.max_bal, a, b), msgs=s.msgs | {reply})

    @action(b="LaterBallot", q="Quorum")
    def become_leader(self, s: State, b: int, q: frozenset[int]) -> State | None:
        """The leader of ballot b has promises from quorum q: phase 1 is over, for every slot.

        For every slot it keeps the command of the highest-ballot vote reported by q (which it
        must re-propose there), or NONE where no one in q voted (it may propose a new command).
        """
        if s.leader[b] != NOT_LEADER:
            return None
        reports = [m for m in s.msgs if type(m) is Msg1b and m.bal == b and m.acc in q]
        if len(reports) < len(q):
            return None
        leader = Leader(forced=self.forced_commands(reports), proposed=())
        return s._replace(leader=except_at(s.leader, b, leader))

    def forced_commands(self, reports: list[Msg1b]) -> tuple[int, ...]:
        """Per slot, the command voted for in the highest ballot among the reports, or NONE."""
        return tuple(max((m.votes[slot] for m in reports), default=NO_VOTE)[1]
                     for slot in self.Slot)

    @action(b="Ballot", slot="Slot", c="Command")
    def phase2a(self, s: State, b: int, slot: int, c: int) -> State | None:
        """Phase2a(b, slot, c): the leader of b proposes c for the next slot of its log.

        It fills its log in slot order, once per slot. Where phase 1 forced a command it must
        propose that one; elsewhere it proposes a new client command it has not yet placed.
        """
        leader = s.leader[b]
        if leader == NOT_LEADER or len(leader.proposed) != slot:
            return None
        forced = leader.forced[slot]
        if forced != NONE and c != forced:
            return None
        if forced == NONE and c in leader.proposed:
            return None
        leader = Leader(leader.forced, leader.proposed + (c,))
        return s._replace(leader=except_at(s.leader, b, leader), msgs=s.msgs | {Msg2a(b, slot, c)})

    @action(a="Acceptor", b="Ballot", slot="Slot", c="Command")
    def phase2b(self, s: State, a: int, b: int, slot: int, c: int) -> State | None:
        """Phase2b(a): acceptor a votes for the proposal (b, slot, c) unless it promised higher."""
        if b < s.max_bal[a] or Msg2a(b, slot, c) not in s.msgs:
            return None
        return s._replace(
            max_bal=except_at(s.max_bal, a, b),
            votes=except_at(s.votes, a, except_at(s.votes[a], slot, (b, c))),
            msgs=s.msgs | {Msg2b(a, b, slot, c)},
        )

    @action(r="Learner", b="Ballot", c="Command")
    def learn(self, s: State, r: int, b: int, c: int) -> State | None:
        """Learner r learns its next slot's command c: a quorum voted for it in ballot b."""
        slot = len(s.learned[r])
        if slot == self.slots:
            return None
        if not any(all(Msg2b(a, b, slot, c) in s.msgs for a in q) for q in self.Quorum):
            return None
        return s._replace(learned=except_at(s.learned, r, s.learned[r] + (c,)))

    # -- properties ---------------------------------------------------------------------------

    def chosen(self, s: State, slot: int) -> set[int]:
        """The commands chosen in ``slot``: a quorum voted for them in one ballot."""
        voters: dict[tuple[int, int], set[int]] = {}
        for m in s.msgs:
            if type(m) is Msg2b and m.slot == slot:
                voters.setdefault((m.bal, m.cmd), set()).add(m.acc)
        return {c for (_, c), accs in voters.items() if any(q <= accs for q in self.Quorum)}

    @invariant
    def slot_agreement(self, s: State) -> bool:
        """No two different commands are chosen for the same slot."""
        return all(len(self.chosen(s, slot)) <= 1 for slot in self.Slot)

    @invariant
    def learned_prefixes_agree(self, s: State) -> bool:
        """Of any two learners' logs (the prefixes they execute), one is a prefix of the other."""
        logs = s.learned
        return all(p[:len(q)] == q[:len(p)] for p in logs for q in logs)


# -- bug variants -----------------------------------------------------------------------------


@MultiPaxos.variant("leader_skips_reproposal", breaks="slot_agreement")
class LeaderSkipsReproposal(MultiPaxos):
    """A new leader ignores the votes reported in phase 1 and treats every open slot as free."""

    def forced_commands(self, reports: list[Msg1b]) -> tuple[int, ...]:
        return (NONE,) * self.slots


# Measured state counts (no violation): the default configuration (3 acceptors, 2 commands,
# 2 slots, ballots {0, 1}, 2 learners) has 339,557 distinct states, depth 25 steps; slots=1 has
# 2,883. No published figure exists for this model; see docs/specs/multi_paxos.md.
