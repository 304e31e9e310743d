"""Single-decree Paxos: acceptors agree on one value through numbered ballots.

Source: Leslie Lamport, "Paxos Made Simple" (ACM SIGACT News 32(4), 2001), section 2, and
his TLA+ specification Paxos.tla (tlaplus/Examples, specifications/Paxos). This spec has the
same variables, the same messages and the same four actions as Paxos.tla, and therefore the same
state space: with 3 acceptors, majority quorums, 2 values and ballots {0, 1}, TLC reports 3,921
distinct states and protospec finds the same 3,921 (see docs/specs/paxos.md). The invariants
are Consistency and the inductive invariant Inv == TypeOK /\\ MsgInv /\\ AccInv of the
TLAPS-checked version of Paxos.tla (Chand, Liu, Merz et al., tlaplus/tlapm examples/paxos),
whose actions are the same as Lamport's.

The idea: a value is *chosen* once a quorum of acceptors has voted for it in one ballot. A
leader of ballot b first asks acceptors to promise not to vote in lower ballots (phase 1); each
promise reports the acceptor's latest vote. From a quorum of promises the leader can tell which
value may already be chosen in a lower ballot (the one voted for in the highest reported
ballot) and proposes only that value (phase 2); if no vote was reported, any value is safe.
Because any two quorums intersect, a later ballot always hears about an earlier choice.

As in Paxos.tla, the network is the set ``msgs`` of every message ever sent: a message, once
sent, may be received any number of times or never, which covers loss, duplication and
reordering without extra actions. Leaders and learners have no state of their own: a leader's
knowledge is the messages it may read, and "chosen" is a predicate on the 2b messages.

Liveness (docs/liveness.md): ``value_eventually_chosen`` — with the four actions weakly fair,
some value is eventually chosen. Paxos needs a single distinguished proposer for that (FLP:
dueling proposers can preempt each other forever); in this model ballots are bounded, so the
highest ballot cannot be preempted and plays that proposer's part (with ``ballots=1`` there is
only one proposer). The variant ``accept_needs_higher_ballot`` (an acceptor votes only in a
ballot above its promise, > for >=) never chooses anything, and no safety property notices.

Left out, as in the original: a leader election with timeouts, ballot ownership by
proposers (any ballot may be started by "its" leader, whoever that is), and crash-recovery of
acceptors (their state is assumed stable).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from typing import NamedTuple

from protospec import Param, Spec, UsageError, action, eventually, except_at, invariant, liveness

# -- messages ---------------------------------------------------------------------------------
# Every message type has a different number of fields, so two messages of different types are
# never equal tuples; the class name tells them apart when printed.

NONE = -1  # "no ballot" and "no value" (Paxos.tla's -1 and None)


class Msg1a(NamedTuple):
    """[type |-> "1a", bal |-> b]: the leader of ballot b asks for promises."""

    bal: int


class Msg1b(NamedTuple):
    """[type |-> "1b", acc, bal, mbal, mval]: acc promises ballot bal, reporting its last vote."""

    acc: int
    bal: int
    mbal: int  # the highest ballot acc voted in, NONE if it never voted
    mval: int  # the value of that vote, NONE if it never voted


class Msg2a(NamedTuple):
    """[type |-> "2a", bal, val]: the leader of ballot bal asks acceptors to vote for val."""

    bal: int
    val: int


class Msg2b(NamedTuple):
    """[type |-> "2b", acc, bal, val]: acc voted for val in ballot bal."""

    acc: int
    bal: int
    val: int


Message = Msg1a | Msg1b | Msg2a | Msg2b


# -- state ------------------------------------------------------------------------------------


class State(NamedTuple):
    max_bal: tuple[int, ...]  # maxBal[a]: the highest ballot a has taken part in (NONE at first)
    max_vbal: tuple[int, ...]  # maxVBal[a]: the highest ballot a voted in (NONE if none)
    max_val: tuple[int, ...]  # maxVal[a]: the value a voted for in max_vbal[a] (NONE if none)
    msgs: frozenset[Message]  # msgs: every message ever sent (none is lost)


class Paxos(Spec):
    """Single-decree Paxos (Lamport's Paxos.tla): at most one value is ever chosen."""

    name = "paxos"

    acceptors = Param(3, "number of acceptors", min=1, max=7)
    values = Param(2, "number of values that may be proposed", min=1, max=5)
    ballots = Param(2, "number of ballots: 2 means ballots {0, 1}", min=1, max=6)
    quorum_size = Param(0, "acceptors per quorum; 0 means a majority", min=0)

    def setup(self) -> None:
        self.Acceptor = range(self.acceptors)
        self.Value = range(self.values)
        self.Ballot = range(self.ballots)
        size = self.quorum_size or self.acceptors // 2 + 1
        self.check_quorum_size(size)
        # Minimal quorums: every set of `size` acceptors. A larger set of acceptors contains one,
        # so "some quorum did X" is the same whether or not supersets are listed.
        self.Quorum = [frozenset(q) for q in combinations(self.Acceptor, size)]

    def check_quorum_size(self, size: int) -> None:
        """Paxos.tla's ASSUME QuorumAssumption: any two quorums intersect."""
        if not 0 < size <= self.acceptors or 2 * size <= self.acceptors:
            raise UsageError(
                f"spec 'paxos': quorums of {size} of {self.acceptors} acceptors need not "
                f"intersect (QuorumAssumption); use the non_intersecting_quorums variant to "
                f"see why that matters")

    def init(self) -> Iterator[State]:
        none = (NONE,) * self.acceptors
        yield State(max_bal=none, max_vbal=none, max_val=none, msgs=frozenset())

    # -- actions (named as in Paxos.tla) ------------------------------------------------------
    # The existential "\E m \in msgs" of Phase1b and Phase2b is made an argument (the ballot,
    # and the value), so a step's label says which message was received.

    @action(b="Ballot", fair="weak")
    def phase1a(self, s: State, b: int) -> State | None:
        """Phase1a(b): the leader of ballot b asks every acceptor for a promise."""
        m = Msg1a(b)
        if m in s.msgs:  # sending it again would not change the state
            return None
        return s._replace(msgs=s.msgs | {m})

    @action(a="Acceptor", b="Ballot", fair="weak")
    def phase1b(self, s: State, a: int, b: int) -> State | None:
        """Phase1b(a): acceptor a promises ballot b (above any it joined) and reports its vote."""
        if b <= s.max_bal[a] or Msg1a(b) not in s.msgs:
            return None
        reply = Msg1b(a, b, s.max_vbal[a], s.max_val[a])
        return s._replace(max_bal=except_at(s.max_bal, a, b), msgs=s.msgs | {reply})

    @action(b="Ballot", v="Value", fair="weak")
    def phase2a(self, s: State, b: int, v: int) -> State | None:
        """Phase2a(b, v): with promises from a quorum, the leader of b proposes a safe value v."""
        if any(type(m) is Msg2a and m.bal == b for m in s.msgs):
            return None  # one proposal per ballot
        reports = promises(s, b)
        if not any(shows_safe(reports, q, v) for q in self.Quorum):
            return None
        return s._replace(msgs=s.msgs | {Msg2a(b, v)})

    @action(a="Acceptor", b="Ballot", v="Value", fair="weak")
    def phase2b(self, s: State, a: int, b: int, v: int) -> State | None:
        """Phase2b(a): acceptor a votes for the proposal (b, v) unless it promised a higher one."""
        if b < s.max_bal[a] or Msg2a(b, v) not in s.msgs:
            return None
        return State(
            max_bal=except_at(s.max_bal, a, b),
            max_vbal=except_at(s.max_vbal, a, b),
            max_val=except_at(s.max_val, a, v),
            msgs=s.msgs | {Msg2b(a, b, v)},
        )

    # -- chart hooks (optional; see explorer/chart_hints.py) ---------------------------------

    def chart_processes(self) -> list[str]:
        """Lanes: the leader of each ballot, the acceptors, and the learners (who read 2b votes)."""
        return ([f"leader {b}" for b in self.Ballot] + [f"acceptor {a}" for a in self.Acceptor]
                + ["learners"])

    def chart_lane(self, action: str, args: dict) -> str | None:
        """Phase 1a and 2a are the ballot leader's steps; 1b and 2b the acceptor's (inferred)."""
        return f"leader {args['b']}" if action in ("phase1a", "phase2a") else None

    def chart_message_label(self, msg: Message) -> str:
        """Paxos.tla's message names, with the promise's reported vote spelled out."""
        if type(msg) is Msg1a:
            return f"1a(bal {msg.bal})"
        if type(msg) is Msg1b:
            vote = "no vote" if msg.mbal == NONE else f"voted {msg.mval} in bal {msg.mbal}"
            return f"1b(bal {msg.bal}, {vote})"
        if type(msg) is Msg2a:
            return f"2a(bal {msg.bal}, val {msg.val})"
        return f"2b(bal {msg.bal}, val {msg.val})"

    def chart_message_to(self, msg: Message) -> str | None:
        """A promise goes to its ballot's leader, a vote to the learners; 1a and 2a to everyone."""
        if type(msg) is Msg1b:
            return f"leader {msg.bal}"
        return "learners" if type(msg) is Msg2b else None

    # -- derived notions (Paxos.tla's VotedForIn, ChosenIn, SafeAt) ---------------------------

    @liveness
    def value_eventually_chosen(self):
        """Some value is eventually chosen (a quorum votes for it in one ballot)."""
        return eventually(lambda s: bool(self.chosen(s)))

    def voted_for_in(self, s: State, a: int, v: int, b: int) -> bool:
        """VotedForIn(a, v, b): acceptor a has voted for v in ballot b."""
        return Msg2b(a, b, v) in s.msgs

    def chosen(self, s: State) -> set[int]:
        """The values chosen in some ballot: a quorum voted for them in that ballot."""
        votes: dict[tuple[int, int], set[int]] = {}
        for m in s.msgs:
            if type(m) is Msg2b:
                votes.setdefault((m.bal, m.val), set()).add(m.acc)
        return {v for (_, v), accs in votes.items() if any(q <= accs for q in self.Quorum)}

    def wont_vote_in(self, s: State, a: int, b: int) -> bool:
        """WontVoteIn(a, b): a has not voted in ballot b and never will (it joined a higher one)."""
        return s.max_bal[a] > b and (a, b) not in ballots_voted(s)

    def safe_at(self, s: State, v: int, b: int, voted: set[tuple[int, int]] | None = None) -> bool:
        """SafeAt(v, b): no value other than v has been or ever will be chosen below ballot b.

        For every lower ballot c some quorum's members each voted for v in c or won't vote in
        c. ``voted`` is ``ballots_voted(s)``, passed in when the caller already has it.
        """
        voted = ballots_voted(s) if voted is None else voted
        msgs = s.msgs
        return all(
            any(all(Msg2b(a, c, v) in msgs or (s.max_bal[a] > c and (a, c) not in voted)
                    for a in q)
                for q in self.Quorum)
            for c in range(b)
        )

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def consistency(self, s: State) -> bool:
        """Consistency: at most one value is chosen."""
        return len(self.chosen(s)) <= 1

    @invariant
    def type_ok(self, s: State) -> bool:
        """TypeOK: every variable holds a value of its type, and maxVBal[a] <= maxBal[a]."""
        bal = range(NONE, self.ballots)
        val = range(NONE, self.values)
        for a in self.Acceptor:
            if not (s.max_bal[a] in bal and s.max_vbal[a] in bal and s.max_val[a] in val
                    and s.max_vbal[a] <= s.max_bal[a]):
                return False
        return all(self._message_ok(m) for m in s.msgs)

    def _message_ok(self, m: Message) -> bool:
        kind = type(m)
        if kind is Msg1a:
            return m.bal in self.Ballot
        if kind is Msg1b:
            return (m.acc in self.Acceptor and m.bal in self.Ballot
                    and NONE <= m.mbal < self.ballots and NONE <= m.mval < self.values)
        if kind is Msg2a:
            return m.bal in self.Ballot and m.val in self.Value
        if kind is Msg2b:
            return m.acc in self.Acceptor and m.bal in self.Ballot and m.val in self.Value
        return False

    @invariant
    def msg_inv(self, s: State) -> bool:
        """MsgInv: what every message claims is true of its sender (part of Lamport's Inv).

        A 1b promise is below its sender's maxBal, reports a real vote (or none) and the
        sender voted in no ballot between the reported one and the promised one; a 2a proposal
        is safe and the only one of its ballot; a 2b vote answers a 2a and is at most the
        voter's maxVBal.
        """
        voted = ballots_voted(s)
        proposals: dict[int, int] = {}
        for m in s.msgs:
            kind = type(m)
            if kind is Msg1b:
                if m.bal > s.max_bal[m.acc]:
                    return False
                if m.mbal == NONE:
                    if m.mval != NONE:
                        return False
                elif m.mval == NONE or not self.voted_for_in(s, m.acc, m.mval, m.mbal):
                    return False
                if any((m.acc, c) in voted for c in range(m.mbal + 1, m.bal)):
                    return False
            elif kind is Msg2a:
                if proposals.setdefault(m.bal, m.val) != m.val:
                    return False  # two proposals in one ballot
                if not self.safe_at(s, m.val, m.bal, voted):
                    return False
            elif kind is Msg2b and (Msg2a(m.bal, m.val) not in s.msgs
                                    or m.bal > s.max_vbal[m.acc]):
                return False
        return True

    @invariant
    def acc_inv(self, s: State) -> bool:
        """AccInv: each acceptor's variables describe its votes (part of Lamport's Inv).

        maxVal[a] is None exactly when maxVBal[a] is -1; maxVBal[a] <= maxBal[a]; the vote
        <<maxVBal[a], maxVal[a]>> was cast; and a has voted in no ballot above maxVBal[a].
        """
        voted = ballots_voted(s)
        for a in self.Acceptor:
            vbal, val = s.max_vbal[a], s.max_val[a]
            if (val == NONE) != (vbal == NONE) or vbal > s.max_bal[a]:
                return False
            if vbal >= 0 and not self.voted_for_in(s, a, val, vbal):
                return False
            if any((a, c) in voted for c in range(vbal + 1, self.ballots)):
                return False
        return True


def ballots_voted(s: State) -> set[tuple[int, int]]:
    """The (acceptor, ballot) pairs in which the acceptor has voted, for any value."""
    return {(m.acc, m.bal) for m in s.msgs if type(m) is Msg2b}


def promises(s: State, b: int) -> dict[int, Msg1b]:
    """The ballot-b promises in ``msgs``, by acceptor (an acceptor promises a ballot once)."""
    return {m.acc: m for m in s.msgs if type(m) is Msg1b and m.bal == b}


def shows_safe(reports: dict[int, Msg1b], q: frozenset[int], v: int) -> bool:
    """Phase2a's heart: every acceptor of q promised, and v is safe by their reports.

    Safe means no one in q reported a vote, or v is the value of the vote with the highest
    ballot among the reports (Paxos.tla's Q1bv condition).
    """
    if not all(a in reports for a in q):
        return False
    votes = [reports[a] for a in q if reports[a].mbal != NONE]
    if not votes:
        return True
    top = max(m.mbal for m in votes)
    return any(m.mbal == top and m.mval == v for m in votes)


# -- bug variants -----------------------------------------------------------------------------


@Paxos.variant("non_intersecting_quorums", breaks="consistency")
class NonIntersectingQuorums(Paxos):
    """Quorums need not intersect: any n//2 acceptors (any 1 of 3) make a quorum."""

    def check_quorum_size(self, size: int) -> None:
        pass  # the QuorumAssumption is exactly what this variant drops

    def setup(self) -> None:
        self.quorum_size = self.quorum_size or max(1, self.acceptors // 2)
        super().setup()


@Paxos.variant("proposer_ignores_1b", breaks="consistency")
class ProposerIgnores1b(Paxos):
    """The leader waits for a quorum of promises, then proposes a value of its own choosing."""

    def phase2a(self, s: State, b: int, v: int) -> State | None:
        if any(type(m) is Msg2a and m.bal == b for m in s.msgs):
            return None
        reports = promises(s, b)
        if not any(all(a in reports for a in q) for q in self.Quorum):
            return None
        return s._replace(msgs=s.msgs | {Msg2a(b, v)})


@Paxos.variant("accept_below_promise", breaks="consistency")
class AcceptBelowPromise(Paxos):
    """An acceptor votes for a proposal even when it has promised a higher ballot."""

    def phase2b(self, s: State, a: int, b: int, v: int) -> State | None:
        if Msg2a(b, v) not in s.msgs:
            return None
        return State(
            max_bal=except_at(s.max_bal, a, max(b, s.max_bal[a])),  # it keeps its promise on record
            max_vbal=except_at(s.max_vbal, a, b),
            max_val=except_at(s.max_val, a, v),
            msgs=s.msgs | {Msg2b(a, b, v)},
        )


@Paxos.variant("accept_needs_higher_ballot", breaks="value_eventually_chosen")
class AcceptNeedsHigherBallot(Paxos):
    """An acceptor votes only in a ballot strictly above the one it promised (> for >=): it
    has always promised the very ballot it is asked to vote in, so nothing is ever chosen."""

    @action(a="Acceptor", b="Ballot", v="Value", fair="weak")
    def phase2b(self, s: State, a: int, b: int, v: int) -> State | None:
        if b <= s.max_bal[a]:
            return None
        return super().phase2b(s, a, b, v)


# Measured state counts (3 acceptors, majority quorums, 2 values; no violation):
# ballots {0, 1}: 3,921 distinct states, depth 16 steps, equal to TLC's 3,921 (depth 17 in TLC's
# counting) on Paxos.tla as quoted in issue 4; ballots {0, 1, 2}: 185,369, depth 24.
# See docs/specs/paxos.md for times and the variants' counterexample lengths.
