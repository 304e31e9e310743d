"""Chang and Roberts' ring election: the largest id goes all the way round and wins.

Source: Ernest Chang and Rosemary Roberts, "An Improved Algorithm for Decentralized
Extrema-Finding in Circular Configurations of Processes" (CACM 22(5), 1979), and the textbook
form with *participant* flags and an *elected* message in George Coulouris, Jean Dollimore,
Tim Kindberg and Gordon Blair, "Distributed Systems: Concepts and Design" (5th ed., 2012),
section 15.3.1.

The idea: processes sit on a unidirectional ring, in an order unrelated to their ids. Any
process may start an election by marking itself a participant and sending *election(own id)*
clockwise. A process receiving *election(j)*:

* j > own id: forwards it (and becomes a participant);
* j < own id and not yet a participant: sends *election(own id)* instead (and participates);
* j < own id and already a participant: swallows it (its own, larger, id is already out);
* j = own id: its id went all the way round, so it is the largest: it is elected, and sends
  *elected(own id)* round the ring, which every process records before passing it on.

Only the largest id survives the trip, so exactly one process is elected, however many start.

Crashes and recoveries: Chang and Roberts assume no failures during an election; here a
process may crash or recover only between elections (nothing in flight), and the ring is
repaired at once: every message goes to the next *live* process clockwise. A process that
finds its leader crashed starts an election; a recovered process starts one at once (it may
have the largest id). An *election round* is the time between two membership changes.
Properties, for the live processes:

* ``one_leader_per_round``: no two processes are elected in the same round;
* ``leader_is_highest_live``: a process elected in this round has the highest live id;
* ``agreement``: when no message is in flight, every live process that follows a live leader
  follows the same one, the highest live id.

Liveness (docs/liveness.md): ``stable_leader`` — from some point on nothing is in flight and
every live process follows the highest live id (◇□), when starting an election and receiving
each message are weakly fair; crashes and recoveries are bounded and not fair.

Left out: failures during an election (they need timeouts and restarts, as in the bully
algorithm) and message loss. The network is a set of messages: channels need not be FIFO.
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

NONE = -1  # "no leader" / "never elected"


class Kind(IntEnum):
    ELECTION = 0
    ELECTED = 1


class Msg(NamedTuple):
    """*election(id)* or *elected(id)* on its way to process ``dst``."""

    kind: Kind
    id: int  # the candidate's id (ELECTION) or the leader's id (ELECTED)
    dst: int


class State(NamedTuple):
    """The processes (indexed by id), the network and two ghost fields for the properties."""

    up: tuple[bool, ...]  # up[p]: process p is live
    participant: tuple[bool, ...]  # participant[p]: p has taken part in the current election
    leader: tuple[int, ...]  # leader[p]: the leader p follows (NONE if none yet)
    msgs: frozenset[Msg]  # messages in flight
    crashes: int  # crashes so far; the election round is crashes + recoveries
    recoveries: int  # recoveries so far
    elected_round: tuple[int, ...]  # ghost: the round in which p was last elected


def _ring_ok(ring: tuple) -> str | None:
    if sorted(ring) != list(range(len(ring))):
        return "must list the ids 0..n-1, each once, in clockwise order"
    return None


class RingElection(Spec):
    """Chang–Roberts ring election (CACM 1979) with crashes and recoveries between elections."""

    name = "ring_election"

    ring = Param((1, 3, 0, 2), "the process ids in clockwise ring order (a permutation of "
                 "0..n-1)", check=_ring_ok)
    max_crashes = Param(2, "how many crashes may happen in a run", min=0)
    max_recoveries = Param(2, "how many recoveries may happen in a run", min=0)

    def setup(self) -> None:
        self.n = len(self.ring)
        self.P = range(self.n)
        # position[p]: where id p sits on the ring
        self.position = {p: k for k, p in enumerate(self.ring)}

    def init(self):
        n = self.n
        yield State(up=(True,) * n, participant=(False,) * n, leader=(NONE,) * n,
                    msgs=frozenset(), crashes=0, recoveries=0, elected_round=(NONE,) * n)

    def succ(self, s: State, p: int) -> int:
        """The next live process clockwise after p (p itself if it is the only one)."""
        k = self.position[p]
        for step in range(1, self.n + 1):
            q = self.ring[(k + step) % self.n]
            if s.up[q]:
                return q
        return p

    # -- actions ------------------------------------------------------------------------------

    @action(p="P", fair="weak")
    def start_election(self, s: State, p: int) -> State | None:
        """A live non-participant with no live leader starts an election with its own id."""
        if not s.up[p] or s.participant[p]:
            return None
        if s.leader[p] != NONE and s.up[s.leader[p]]:
            return None
        return s._replace(participant=except_at(s.participant, p, True),
                          msgs=s.msgs | {Msg(Kind.ELECTION, p, self.succ(s, p))})

    @action(m=from_state(lambda s: sorted(m for m in s.msgs if m.kind is Kind.ELECTION)),
            fair="weak")
    def receive_election(self, s: State, m: Msg) -> State | None:
        """q gets *election(j)*: forward a larger id, replace a smaller one (or swallow it if q
        already participates), and on its own id q is elected and sends *elected*."""
        q, j = m.dst, m.id
        msgs = s.msgs - {m}
        participant = except_at(s.participant, q, True)
        if j == q:
            return State(s.up, except_at(s.participant, q, False), except_at(s.leader, q, q),
                         msgs | {Msg(Kind.ELECTED, q, self.succ(s, q))}, s.crashes,
                         s.recoveries, except_at(s.elected_round, q, s.crashes + s.recoveries))
        if j > q:
            return self.larger_id(s, q, j, msgs, participant)
        return self.smaller_id(s, q, j, msgs)

    def larger_id(self, s: State, q: int, j: int, msgs: frozenset[Msg],
                  participant: tuple[bool, ...]) -> State:
        """q gets *election(j)* with j > q: it passes it on and participates."""
        return s._replace(participant=participant,
                          msgs=msgs | {Msg(Kind.ELECTION, j, self.succ(s, q))})

    def smaller_id(self, s: State, q: int, j: int, msgs: frozenset[Msg]) -> State:
        """q gets *election(j)* with j < q: it substitutes its own id unless it already did."""
        if s.participant[q]:
            return s._replace(msgs=msgs)
        return s._replace(participant=except_at(s.participant, q, True),
                          msgs=msgs | {Msg(Kind.ELECTION, q, self.succ(s, q))})

    @action(m=from_state(lambda s: sorted(m for m in s.msgs if m.kind is Kind.ELECTED)),
            fair="weak")
    def receive_elected(self, s: State, m: Msg) -> State | None:
        """q gets *elected(j)*: it records j as leader, stops participating, and passes the
        message on unless it is j's own, back home."""
        q, j = m.dst, m.id
        msgs = s.msgs - {m}
        if j != q:
            msgs = msgs | {Msg(Kind.ELECTED, j, self.succ(s, q))}
        return s._replace(participant=except_at(s.participant, q, False),
                          leader=except_at(s.leader, q, j), msgs=msgs)

    @action(p="P")
    def crash(self, s: State, p: int) -> State | None:
        """p crashes between elections; the ring closes over it."""
        if not s.up[p] or s.crashes >= self.max_crashes or s.msgs:
            return None
        return State(
            except_at(s.up, p, False),
            except_at(s.participant, p, False),
            except_at(s.leader, p, NONE),
            s.msgs,
            s.crashes + 1,
            s.recoveries,
            except_at(s.elected_round, p, NONE),
        )

    @action(p="P")
    def recover(self, s: State, p: int) -> State | None:
        """p rejoins the ring between elections and starts an election with its own id."""
        if s.up[p] or s.recoveries >= self.max_recoveries or s.msgs:
            return None
        back = s._replace(up=except_at(s.up, p, True), recoveries=s.recoveries + 1,
                          participant=except_at(s.participant, p, True))
        return back._replace(msgs=frozenset({Msg(Kind.ELECTION, p, self.succ(back, p))}))

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def one_leader_per_round(self, s: State) -> bool:
        """No two live processes were elected in the same election round."""
        rounds = [s.elected_round[p] for p in self.P if s.up[p] and s.elected_round[p] != NONE]
        return len(rounds) == len(set(rounds))

    @invariant
    def leader_is_highest_live(self, s: State) -> bool:
        """A live process elected in the current round has the highest live id."""
        now = s.crashes + s.recoveries
        top = max((p for p in self.P if s.up[p]), default=NONE)
        return all(p == top for p in self.P if s.up[p] and s.elected_round[p] == now)

    @invariant
    def agreement(self, s: State) -> bool:
        """When no message is in flight, every live process that follows a live leader follows
        the highest live id."""
        if s.msgs:
            return True
        top = max((p for p in self.P if s.up[p]), default=NONE)
        return all(s.leader[p] == top for p in self.P
                   if s.up[p] and s.leader[p] != NONE and s.up[s.leader[p]])


    @liveness
    def stable_leader(self):
        """Eventually nothing is in flight for good and every live process follows the highest
        live id."""
        return eventually_always(self.settled)

    def settled(self, s: State) -> bool:
        top = max((p for p in self.P if s.up[p]), default=NONE)
        return not s.msgs and all(s.leader[p] == top for p in self.P if s.up[p])


# -- bug variants -----------------------------------------------------------------------------


@RingElection.variant("forwards_smaller_ids", breaks="leader_is_highest_live")
class ForwardsSmallerIds(RingElection):
    """A process passes on *election(j)* with a smaller id instead of replacing or swallowing it,
    so a small id can make it all the way round and be elected."""

    def smaller_id(self, s: State, q: int, j: int, msgs: frozenset[Msg]) -> State:
        return s._replace(participant=except_at(s.participant, q, True),
                          msgs=msgs | {Msg(Kind.ELECTION, j, self.succ(s, q))})


@RingElection.variant("participant_swallows_all", breaks="stable_leader")
class ParticipantSwallowsAll(RingElection):
    """A participant swallows every election message, larger ids too: when two processes start
    at once, the largest id can be swallowed on its way round and nobody is ever elected."""

    def larger_id(self, s: State, q: int, j: int, msgs: frozenset[Msg],
                  participant: tuple[bool, ...]) -> State:
        if s.participant[q]:
            return s._replace(msgs=msgs)
        return super().larger_id(s, q, j, msgs, participant)


# Measured (explorer.check, default parameters): 8,762 distinct states, depth 35, no
# violation. Other configurations and every variant's counterexample length:
# docs/specs/ring_election.md.
