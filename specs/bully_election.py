"""The bully algorithm: the highest-numbered live process bullies its way to leadership.

Sources: Hector Garcia-Molina, "Elections in a Distributed Computing System" (IEEE Transactions
on Computers C-31(1), 1982), section IV ("The Bully Algorithm"), in the message form of the
textbooks: George Coulouris, Jean Dollimore, Tim Kindberg and Gordon Blair, "Distributed
Systems: Concepts and Design" (5th ed., 2012), section 15.3.1, whose messages are *election*,
*answer* and *coordinator*.

The idea: processes have distinct ids and the live process with the highest id should lead.
A process that notices the leader has failed holds an election: it sends *election* to every
process with a higher id. A live higher process replies *answer* (and holds its own election);
if no answer comes before the timeout, the starter is the highest live process and announces
itself with *coordinator* to every lower process. A process that got an answer waits for the
coordinator message and starts again if none comes before a second timeout.

The system is synchronous, which is what makes the timeouts safe: a timeout fires exactly when
the awaited message can no longer come. Here ``answer_timeout(p)`` is enabled once none of p's
election messages is still undelivered and no answer to p is in flight, and
``coordinator_timeout(p)`` once no coordinator message is on its way to p and no live process
above p is still electing. Messages to a crashed process are lost; messages from it still land.

Crashes may happen at any time. A process recovers only when no election is under way (no
message in flight and every live process settled): "a crashed process stays down for longer
than an election takes". Without that assumption the algorithm is not safe — a process whose
timeout is already running can declare itself while a higher process that has just recovered
does too, and the lower processes may end up following either (Coulouris et al. note this);
the variant ``recover_mid_election`` shows it. A recovered process starts an election at once.

Rounds: an *election round* is the time between two membership changes (crash or recovery).
The properties, for the live processes:

* ``one_leader_per_round``: no two processes declare themselves leader in the same round;
* ``leader_is_highest_live``: a process that declared itself leader in this round is the
  highest live id;
* ``agreement``: when the election is over (nothing in flight, every live process settled),
  every live process that follows a live leader follows the same one, the highest live id.

Liveness (docs/liveness.md): ``stable_leader`` — from some point on the election is over and
every live process follows the highest live id (◇□), on every behaviour in which detecting a
failure, receiving each message and both timeouts are weakly fair. Crashes and recoveries are
not fair and are bounded, so they stop; the variant ``no_coordinator_timeout`` drops the second
timeout, and a process whose answerer crashed then waits forever.

Left out: Garcia-Molina's halt/ready phases (which let a coordinator also hand out work) and
message loss between live processes. Bounded by ``max_crashes`` and ``max_recoveries``.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from protospec import (
    Param,
    Spec,
    action,
    eventually_always,
    except_at,
    from_state,
    invariant,
    liveness,
)

# -- state ------------------------------------------------------------------------------------

NONE = -1  # "no leader" / "never declared itself leader"


class Status(IntEnum):
    NORMAL = 0  # follows `leader` (crashed processes are reset to NORMAL with no leader)
    ELECTION = 1  # has sent election messages and waits for answers
    WAITING = 2  # got an answer and waits for a coordinator message


class Kind(IntEnum):
    ELECTION = 0
    ANSWER = 1
    COORDINATOR = 2


class Msg(NamedTuple):
    """A message in flight from ``src`` to ``dst``."""

    kind: Kind
    src: int
    dst: int


class State(NamedTuple):
    """The processes, the network and two ghost fields for the properties."""

    up: tuple[bool, ...]  # up[p]: p is live
    status: tuple[Status, ...]  # status[p]: where p is in an election
    leader: tuple[int, ...]  # leader[p]: who p follows (NONE if nobody)
    msgs: frozenset[Msg]  # messages in flight
    crashes: int  # crashes so far; the election round is crashes + recoveries
    recoveries: int  # recoveries so far
    elected_round: tuple[int, ...]  # ghost: the round in which p last declared itself leader


class BullyElection(Spec):
    """Bully election (Garcia-Molina 1982), crashes and recoveries: the highest live id leads."""

    name = "bully_election"

    processes = Param(3, "number of processes (ids 0..processes-1; the highest id should lead)",
                      min=2, max=6)
    max_crashes = Param(2, "how many crashes may happen in a run", min=0)
    max_recoveries = Param(2, "how many recoveries may happen in a run", min=0)

    def setup(self) -> None:
        self.P = range(self.processes)

    def init(self):
        n = self.processes
        top = n - 1  # the run starts after an election: everyone follows the highest id
        yield State(
            up=(True,) * n,
            status=(Status.NORMAL,) * n,
            leader=(top,) * n,
            msgs=frozenset(),
            crashes=0,
            recoveries=0,
            elected_round=tuple(0 if p == top else NONE for p in self.P),
        )

    def _hold_election(self, s: State, p: int, msgs: frozenset[Msg]) -> State:
        """p holds an election: it sends *election* to every higher live process and waits."""
        sent = frozenset(Msg(Kind.ELECTION, p, q) for q in self.P if q > p and s.up[q])
        return s._replace(status=except_at(s.status, p, Status.ELECTION),
                          leader=except_at(s.leader, p, NONE), msgs=msgs | sent)

    # -- actions ------------------------------------------------------------------------------

    @action(p="P", fair="weak")
    def detect_leader_failure(self, s: State, p: int) -> State | None:
        """A settled live process notices that its leader is down (or that it has none)."""
        if not s.up[p] or s.status[p] is not Status.NORMAL:
            return None
        if s.leader[p] != NONE and s.up[s.leader[p]]:
            return None
        return self._hold_election(s, p, s.msgs)

    @action(m=from_state(lambda s: sorted(m for m in s.msgs if m.kind is Kind.ELECTION)),
            fair="weak")
    def receive_election(self, s: State, m: Msg) -> State | None:
        """q gets *election* from a lower process: it answers, and holds its own election unless
        it is already holding one."""
        q = m.dst
        msgs = (s.msgs - {m}) | {Msg(Kind.ANSWER, q, m.src)}
        if s.status[q] is Status.NORMAL:
            return self._hold_election(s, q, msgs)
        return s._replace(msgs=msgs)

    @action(m=from_state(lambda s: sorted(m for m in s.msgs if m.kind is Kind.ANSWER)),
            fair="weak")
    def receive_answer(self, s: State, m: Msg) -> State | None:
        """p gets *answer*: a higher process is live, so p waits for its coordinator message."""
        p = m.dst
        status = s.status
        if status[p] is Status.ELECTION:
            status = except_at(status, p, Status.WAITING)
        return s._replace(status=status, msgs=s.msgs - {m})

    @action(p="P", fair="weak")
    def answer_timeout(self, s: State, p: int) -> State | None:
        """No answer came in time: p is the highest live process; it announces *coordinator* to
        every lower live process."""
        if not s.up[p] or s.status[p] is not Status.ELECTION:
            return None
        if any((m.kind is Kind.ELECTION and m.src == p) or (m.kind is Kind.ANSWER and m.dst == p)
               for m in s.msgs):
            return None
        return self._declare(s, p)

    def _declare(self, s: State, p: int) -> State:
        """p becomes leader in the current round and tells every lower live process."""
        sent = frozenset(Msg(Kind.COORDINATOR, p, q) for q in self.P if q < p and s.up[q])
        return s._replace(
            status=except_at(s.status, p, Status.NORMAL),
            leader=except_at(s.leader, p, p),
            msgs=s.msgs | sent,
            elected_round=except_at(s.elected_round, p, s.crashes + s.recoveries),
        )

    @action(m=from_state(lambda s: sorted(m for m in s.msgs if m.kind is Kind.COORDINATOR)),
            fair="weak")
    def receive_coordinator(self, s: State, m: Msg) -> State | None:
        """q gets *coordinator* from c: it follows c, ending its part in the election."""
        q = m.dst
        return s._replace(status=except_at(s.status, q, Status.NORMAL),
                          leader=except_at(s.leader, q, m.src), msgs=s.msgs - {m})

    @action(p="P", fair="weak")
    def coordinator_timeout(self, s: State, p: int) -> State | None:
        """p was answered but no coordinator message came (its answerer crashed): p starts over."""
        if not s.up[p] or s.status[p] is not Status.WAITING:
            return None
        if any(m.kind is Kind.COORDINATOR and m.dst == p for m in s.msgs):
            return None
        if any(s.up[q] and s.status[q] is not Status.NORMAL for q in self.P if q > p):
            return None
        return self._hold_election(s, p, s.msgs)

    @action(p="P")
    def crash(self, s: State, p: int) -> State | None:
        """p crashes, forgetting everything; messages on their way to it are lost."""
        if not s.up[p] or s.crashes >= self.max_crashes:
            return None
        return State(except_at(s.up, p, False), except_at(s.status, p, Status.NORMAL),
                     except_at(s.leader, p, NONE), frozenset(m for m in s.msgs if m.dst != p),
                     s.crashes + 1, s.recoveries, except_at(s.elected_round, p, NONE))

    @action(p="P")
    def recover(self, s: State, p: int) -> State | None:
        """p comes back while no election is under way, and holds an election at once."""
        if s.up[p] or s.recoveries >= self.max_recoveries or not self.quiet(s):
            return None
        back = s._replace(up=except_at(s.up, p, True), recoveries=s.recoveries + 1)
        return self._hold_election(back, p, s.msgs)

    def quiet(self, s: State) -> bool:
        """No election is under way: nothing in flight and every live process settled."""
        return not s.msgs and all(st is Status.NORMAL for st in s.status)

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def one_leader_per_round(self, s: State) -> bool:
        """No two live processes declared themselves leader in the same election round."""
        rounds = [s.elected_round[p] for p in self.P if s.up[p] and s.elected_round[p] != NONE]
        return len(rounds) == len(set(rounds))

    @invariant
    def leader_is_highest_live(self, s: State) -> bool:
        """A live process that declared itself leader in the current round has the highest
        live id."""
        now = s.crashes + s.recoveries
        top = max((p for p in self.P if s.up[p]), default=NONE)
        return all(p == top for p in self.P if s.up[p] and s.elected_round[p] == now)

    @invariant
    def agreement(self, s: State) -> bool:
        """When the election is over, every live process that follows a live leader follows the
        highest live id."""
        if not self.quiet(s):
            return True
        top = max((p for p in self.P if s.up[p]), default=NONE)
        return all(s.leader[p] == top for p in self.P
                   if s.up[p] and s.leader[p] != NONE and s.up[s.leader[p]])


    @liveness
    def stable_leader(self):
        """Eventually the election is over for good and every live process follows the
        highest live id."""
        return eventually_always(self.settled)

    def settled(self, s: State) -> bool:
        top = max((p for p in self.P if s.up[p]), default=NONE)
        return self.quiet(s) and all(s.leader[p] == top for p in self.P if s.up[p])


# -- bug variants -----------------------------------------------------------------------------


@BullyElection.variant("no_answer_wait", breaks="leader_is_highest_live")
class NoAnswerWait(BullyElection):
    """The answer timeout step is skipped: a process declares itself leader without waiting for
    the answers of the higher processes it has just asked."""

    def answer_timeout(self, s: State, p: int) -> State | None:
        if not s.up[p] or s.status[p] is not Status.ELECTION:
            return None
        return self._declare(s, p)


@BullyElection.variant("recover_mid_election", breaks="leader_is_highest_live")
class RecoverMidElection(BullyElection):
    """A process may recover while an election is under way: a lower process whose answer
    timeout is already running declares itself although a higher one is live again."""

    def recover(self, s: State, p: int) -> State | None:
        if s.up[p] or s.recoveries >= self.max_recoveries:
            return None
        back = s._replace(up=except_at(s.up, p, True), recoveries=s.recoveries + 1)
        return self._hold_election(back, p, s.msgs)


@BullyElection.variant("no_coordinator_timeout", breaks="stable_leader")
class NoCoordinatorTimeout(BullyElection):
    """A process that was answered waits for the coordinator message forever: if its
    answerer crashes, it never starts over (the second timeout of the bully algorithm)."""

    @action(p="P", fair="weak")
    def coordinator_timeout(self, s: State, p: int) -> State | None:
        return None


# Measured (explorer.check, default parameters): 1,984 distinct states, depth 19, no
# violation. Other configurations and every variant's counterexample length:
# docs/specs/bully_election.md.
