"""Ricart and Agrawala's mutual exclusion: ask everyone, enter when all have said yes.

Source: Glenn Ricart and Ashok K. Agrawala, "An Optimal Algorithm for Mutual Exclusion in
Computer Networks" (CACM 24(1), 1981), section 2 and the algorithm of its figure; the sequence
numbers are Lamport's logical clocks (CACM 1978).

The idea: a process that wants the critical section picks a sequence number one above the
highest it has seen, and sends REQUEST(number, its id) to every other process. It enters when
every other process has sent REPLY. A process receiving a REQUEST replies at once unless it is
in the critical section, or is itself requesting with a *higher priority* request — a smaller
sequence number, or the same number and a smaller id. Then it defers the reply until it
leaves the critical section. Requests are thus served in the order of (number, id), a total
order on which every process agrees; the id breaks ties, and that tie-break must be the same
everywhere.

Properties: ``mutual_exclusion`` (at most one process in the critical section) and
``timestamp_order`` (while a process is in the critical section, every pending request has a
larger (number, id): requests are served in timestamp order).

Liveness: ``no_starvation`` (every requesting process eventually enters the critical section),
under weak fairness of receiving each message, entering and leaving: the paper's "the
algorithm is free of deadlock and starvation" (section 3). Asking is not fair: a process may
stay idle forever.

As in the paper, the network is reliable and need not be FIFO; processes do not fail. The
sequence numbers are bounded by ``max_seq``: a process whose next number would exceed it makes
no further request.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from protospec import (
    Param,
    Spec,
    action,
    except_at,
    from_state,
    invariant,
    leads_to,
    liveness,
)

# -- state ------------------------------------------------------------------------------------


class Phase(IntEnum):
    IDLE = 0  # not interested in the critical section
    REQUESTING = 1  # Requesting_Critical_Section, waiting for replies
    CRITICAL = 2  # in the critical section


class Kind(IntEnum):
    REQUEST = 0
    REPLY = 1


class Msg(NamedTuple):
    """REQUEST(seq, src) or REPLY from ``src`` to ``dst`` (a reply's ``seq`` is 0)."""

    kind: Kind
    src: int
    dst: int
    seq: int


class State(NamedTuple):
    """The variables of the paper's algorithm, per process, and the network."""

    phase: tuple[Phase, ...]  # phase[i]: idle, requesting or in the critical section
    our_seq: tuple[int, ...]  # Our_Sequence_Number: the number of i's current request (0: none)
    highest_seq: tuple[int, ...]  # Highest_Sequence_Number: the largest number i has seen
    replied: tuple[frozenset[int], ...]  # who has replied to i's current request
    deferred: tuple[frozenset[int], ...]  # Reply_Deferred: requests i will answer on exit
    msgs: frozenset[Msg]  # messages in flight


class MutualExclusion(Spec):
    """Ricart–Agrawala mutual exclusion (CACM 1981): one process in the CS, in timestamp order."""

    name = "mutual_exclusion"

    processes = Param(3, "number of processes", min=1, max=5)
    max_seq = Param(3, "the largest sequence number a request may carry", min=1)

    def setup(self) -> None:
        self.P = range(self.processes)
        self.others = tuple(frozenset(j for j in self.P if j != i) for i in self.P)

    def init(self):
        n = self.processes
        yield State(phase=(Phase.IDLE,) * n, our_seq=(0,) * n, highest_seq=(0,) * n,
                    replied=(frozenset(),) * n, deferred=(frozenset(),) * n, msgs=frozenset())

    # -- actions ------------------------------------------------------------------------------

    @action(i="P")
    def request_cs(self, s: State, i: int) -> State | None:
        """i wants the critical section: Our_Sequence_Number := Highest_Sequence_Number + 1, and
        REQUEST goes to every other process."""
        seq = s.highest_seq[i] + 1
        if s.phase[i] is not Phase.IDLE or seq > self.max_seq:
            return None
        sent = frozenset(Msg(Kind.REQUEST, i, j, seq) for j in self.others[i])
        return s._replace(
            phase=except_at(s.phase, i, Phase.REQUESTING),
            our_seq=except_at(s.our_seq, i, seq),
            replied=except_at(s.replied, i, frozenset()),
            msgs=s.msgs | sent,
        )

    @action(m=from_state(lambda s: sorted(m for m in s.msgs if m.kind is Kind.REQUEST)),
            fair="weak")
    def receive_request(self, s: State, m: Msg) -> State | None:
        """j receives REQUEST(k, i): it notes k, and replies unless its own request (or its stay
        in the critical section) has priority, in which case it defers the reply."""
        j, i, k = m.dst, m.src, m.seq
        highest = except_at(s.highest_seq, j, max(s.highest_seq[j], k))
        msgs = s.msgs - {m}
        busy = s.phase[j] is not Phase.IDLE  # Requesting_Critical_Section (true in the CS too)
        if busy and self.has_priority((s.our_seq[j], j), (k, i)):
            return s._replace(highest_seq=highest,
                              deferred=except_at(s.deferred, j, s.deferred[j] | {i}), msgs=msgs)
        return s._replace(highest_seq=highest, msgs=msgs | {Msg(Kind.REPLY, j, i, 0)})

    def has_priority(self, mine: tuple[int, int], theirs: tuple[int, int]) -> bool:
        """Defer_it: my request (number, id) comes first: a smaller number, or the same number
        and a smaller id."""
        return mine < theirs

    @action(m=from_state(lambda s: sorted(m for m in s.msgs if m.kind is Kind.REPLY)),
            fair="weak")
    def receive_reply(self, s: State, m: Msg) -> State | None:
        """i receives a REPLY to its request."""
        i = m.dst
        return s._replace(
            replied=except_at(s.replied, i, s.replied[i] | {m.src}), msgs=s.msgs - {m}
        )

    @action(i="P", fair="weak")
    def enter_cs(self, s: State, i: int) -> State | None:
        """i has a reply from every other process: it enters the critical section."""
        if s.phase[i] is not Phase.REQUESTING or s.replied[i] != self.others[i]:
            return None
        return s._replace(phase=except_at(s.phase, i, Phase.CRITICAL))

    @action(i="P", fair="weak")
    def exit_cs(self, s: State, i: int) -> State | None:
        """i leaves the critical section and sends the replies it deferred."""
        if s.phase[i] is not Phase.CRITICAL:
            return None
        sent = frozenset(Msg(Kind.REPLY, i, j, 0) for j in s.deferred[i])
        return State(except_at(s.phase, i, Phase.IDLE), except_at(s.our_seq, i, 0), s.highest_seq,
                     except_at(s.replied, i, frozenset()), except_at(s.deferred, i, frozenset()),
                     s.msgs | sent)

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def mutual_exclusion(self, s: State) -> bool:
        """At most one process is in the critical section."""
        return sum(ph is Phase.CRITICAL for ph in s.phase) <= 1

    @invariant
    def timestamp_order(self, s: State) -> bool:
        """While a process is in the critical section, every other pending request has a larger
        (number, id): requests are served in timestamp order."""
        return all((s.our_seq[j], j) > (s.our_seq[i], i)
                   for i in self.P if s.phase[i] is Phase.CRITICAL
                   for j in self.P if j != i and s.phase[j] is Phase.REQUESTING)


    @liveness
    def no_starvation(self):
        """Every process that requests the critical section eventually enters it."""
        return leads_to(lambda s, i: s.phase[i] is Phase.REQUESTING,
                        lambda s, i: s.phase[i] is Phase.CRITICAL, over=self.P)


# -- bug variants -----------------------------------------------------------------------------


@MutualExclusion.variant("inconsistent_tie_break", breaks="timestamp_order")
class InconsistentTieBreak(MutualExclusion):
    """Equal sequence numbers are not ordered by id: each process lets the other go first, so
    two requests with the same number both collect every reply."""

    def has_priority(self, mine: tuple[int, int], theirs: tuple[int, int]) -> bool:
        return mine[0] < theirs[0]


@MutualExclusion.variant("forgets_deferred_replies", breaks="no_starvation")
class ForgetsDeferredReplies(MutualExclusion):
    """On leaving the critical section a process forgets the replies it deferred: whoever
    waited for it waits forever (mutual exclusion still holds)."""

    @action(i="P", fair="weak")
    def exit_cs(self, s: State, i: int) -> State | None:
        if s.phase[i] is not Phase.CRITICAL:
            return None
        return State(except_at(s.phase, i, Phase.IDLE), except_at(s.our_seq, i, 0),
                     s.highest_seq, except_at(s.replied, i, frozenset()),
                     except_at(s.deferred, i, frozenset()), s.msgs)


# Measured (explorer.check, default parameters): 7,541 distinct states, depth 37, no
# violation. Other configurations and every variant's counterexample length:
# docs/specs/mutual_exclusion.md.
