"""A reusable distributed barrier: nobody leaves round k until everybody has arrived at it.

Sources: the centralised (counter) barrier of John M. Mellor-Crummey and Michael L. Scott,
"Algorithms for Scalable Synchronization on Shared-Memory Multiprocessors" (ACM TOCS 9(1),
1991), section 3 ("Barriers"), in its message-passing form with a coordinator, as in Gregory
R. Andrews, "Foundations of Multithreaded, Parallel, and Distributed Programming"
(Addison-Wesley, 2000), section 3.4 (the coordinator barrier). Mellor-Crummey and Scott
explain why a reused counter needs care: the counter must be reset for the next round before
any process can arrive at it, which is what sense reversal achieves in shared memory.

The idea: each process works, then *arrives* at the barrier by telling the coordinator; the
coordinator counts arrivals for the current round, and when all ``processes`` have arrived it
*releases* the round: it tells every process to go on, resets its counter and moves to the
next round — one atomic step of the coordinator. A released process leaves the round, works,
and arrives at the next one. Rounds are reused up to ``rounds`` times.

Property ``no_early_leave``: no process leaves round k before every process has arrived at
round k.

Liveness ``everyone_finishes`` (docs/liveness.md): every process eventually leaves the last
round, when arriving, counting, releasing and leaving are weakly fair. (The state graph has no
cycle, so here fairness only rules out stopping; a state with no successor short of the end is
the failure, as in the variant ``release_skips_last``.)

The network is a set of messages (no order, no loss). Left out: failures of processes or of the
coordinator, and tree or dissemination barriers (the same property with fewer messages at the
coordinator).
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from protospec import Param, Spec, action, eventually, except_at, from_state, invariant, liveness

# -- state ------------------------------------------------------------------------------------


class Kind(IntEnum):
    ARRIVE = 0  # process -> coordinator: I have arrived at round k
    RELEASE = 1  # coordinator -> process: round k is complete, go on


class Msg(NamedTuple):
    """ARRIVE from ``proc`` or RELEASE to ``proc``, for round ``round``."""

    kind: Kind
    proc: int
    round: int


class State(NamedTuple):
    """The processes, the coordinator and the network."""

    round: tuple[int, ...]  # round[p]: the round p is in (it has left every earlier round)
    arrived: tuple[bool, ...]  # arrived[p]: p has arrived at its round and waits for release
    coord_round: int  # the round the coordinator is counting arrivals for
    count: int  # arrivals the coordinator has counted
    msgs: frozenset[Msg]  # messages in flight


class Barrier(Spec):
    """Reusable coordinator barrier: no process leaves round k before all have arrived at k."""

    name = "barrier"

    processes = Param(4, "number of processes", min=1, max=6)
    rounds = Param(3, "rounds of the barrier in a run", min=1)

    def setup(self) -> None:
        self.P = range(self.processes)

    def init(self):
        n = self.processes
        yield State(round=(0,) * n, arrived=(False,) * n, coord_round=0, count=0,
                    msgs=frozenset())

    # -- actions ------------------------------------------------------------------------------

    @action(p="P", fair="weak")
    def arrive(self, s: State, p: int) -> State | None:
        """p has finished its work for the round and tells the coordinator."""
        if s.arrived[p] or s.round[p] >= self.rounds:
            return None
        return s._replace(arrived=except_at(s.arrived, p, True),
                          msgs=s.msgs | {Msg(Kind.ARRIVE, p, s.round[p])})

    @action(m=from_state(lambda s: sorted(m for m in s.msgs if m.kind is Kind.ARRIVE)),
            fair="weak")
    def count_arrival(self, s: State, m: Msg) -> State | None:
        """The coordinator counts an arrival for the round it is counting."""
        if m.round != s.coord_round:
            return None
        return s._replace(count=s.count + 1, msgs=s.msgs - {m})

    @action(fair="weak")
    def release(self, s: State) -> State | None:
        """Everyone has arrived: the coordinator releases the round, resets its counter and moves
        to the next round, in one step."""
        if s.count != self.processes or s.coord_round >= self.rounds:
            return None
        sent = frozenset(Msg(Kind.RELEASE, p, s.coord_round) for p in self.release_to())
        return State(s.round, s.arrived, s.coord_round + 1, self.count_after_release(s),
                     s.msgs | sent)

    def release_to(self) -> range:
        """The processes the release goes to: all of them."""
        return self.P

    def count_after_release(self, s: State) -> int:
        """The counter for the next round: reset to zero with the release."""
        return 0

    @action(m=from_state(lambda s: sorted(m for m in s.msgs if m.kind is Kind.RELEASE)),
            fair="weak")
    def leave(self, s: State, m: Msg) -> State | None:
        """p receives the release of its round while waiting: it leaves the round."""
        p = m.proc
        if not s.arrived[p] or s.round[p] != m.round:
            return None
        return s._replace(
            round=except_at(s.round, p, m.round + 1),
            arrived=except_at(s.arrived, p, False),
            msgs=s.msgs - {m},
        )

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def no_early_leave(self, s: State) -> bool:
        """No process has left round k while another has not yet arrived at round k."""
        latest = max(s.round)
        if latest == 0:
            return True
        k = latest - 1  # someone has left round k: everyone must have arrived at it
        return all(r > k or (r == k and a) for r, a in zip(s.round, s.arrived))


    @liveness
    def everyone_finishes(self):
        """Every process eventually leaves the last round."""
        return eventually(lambda s: all(r == self.rounds for r in s.round))


# -- bug variants -----------------------------------------------------------------------------


@Barrier.variant("late_counter_reset", breaks="no_early_leave")
class LateCounterReset(Barrier):
    """The coordinator resets its counter in a separate step after the release: in between, the
    stale count of the round just released already satisfies the next round's release test."""

    def count_after_release(self, s: State) -> int:
        return s.count

    @action
    def reset_counter(self, s: State) -> State | None:
        """The coordinator's delayed reset of its arrival counter."""
        if s.count != self.processes:
            return None
        return s._replace(count=0)


@Barrier.variant("release_skips_last", breaks="everyone_finishes")
class ReleaseSkipsLast(Barrier):
    """An off-by-one in the release broadcast: the highest-numbered process is never told to
    go on, and waits at the first round forever (nobody leaves early, so safety holds)."""

    def release_to(self) -> range:
        return range(self.processes - 1)


# Measured (explorer.check, default parameters): 609 distinct states, depth 39, no
# violation. Other configurations and every variant's counterexample length:
# docs/specs/barrier.md.
