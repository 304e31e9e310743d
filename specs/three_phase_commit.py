"""Three-phase commit: a commit protocol whose participants can decide without the coordinator.

Source: Dale Skeen, "Nonblocking Commit Protocols", Proc. ACM SIGMOD 1981: the canonical
three-phase commit protocol (section 4, Figure 4) and its central-site termination protocol
(section 5), under site failures detected reliably. The message and action names follow
two_phase_commit (TwoPhase.tla), which this extends.

The idea: in two-phase commit a resource manager (RM) that has voted "Prepared" is uncertain:
it may neither commit nor abort on its own, so if the transaction manager (TM) crashes it waits
(blocks) until the TM recovers. Skeen's theorem says a protocol is nonblocking if no local
state is adjacent to both commit and abort, and no noncommittable state is adjacent to commit.
Three-phase commit adds a state between "prepared" and "committed": once every RM has
prepared, the TM sends PreCommit; each RM moves to "precommitted" and acknowledges; only when
every RM has acknowledged does the TM send Commit. Then "uncertain" is adjacent only to abort
and precommit, and "precommitted" only to commit.

If the TM crashes, the surviving RMs run the termination protocol: a backup coordinator (one
of them) collects their states and decides (Skeen's rules, section 5):

* some RM committed: commit;  some RM aborted, or has not voted: abort;
* otherwise some RM is precommitted: commit (the TM may have committed);
* otherwise every RM is uncertain: abort (the TM cannot have committed: it commits only after
  every RM has acknowledged PreCommit).

The backup's decision is one step here: with reliable failure detection and no partitions it
reads every RM's state. Its decision is sent to the RMs as a message like the TM's.

Messages are never lost and stay in ``msgs`` once sent, as in TwoPhase.tla: a message the TM
sent before crashing may be received at any time after. The correct spec is safe even so.

The known failure (variant ``network_partition``): with the coordinator gone, the network
splits the RMs into two groups, each runs the termination protocol with the RMs it can reach,
and a group holding a precommitted RM commits while a group of uncertain RMs aborts. Three-phase
commit is nonblocking only under site failures, not under partitions; that is what later
protocols (Paxos Commit, E3PC) address.

Left out: the TM's and RMs' recovery from a crash (a recovering RM asks the others), failures
of the backup during termination (the protocol elects another), RM crashes, timeouts as such
(a crash is detected at once).

Liveness (docs/liveness.md): every RM eventually decides, even if the TM crashes, under weak
fairness of each step that makes progress (an RM eventually votes; the TM eventually reads
votes and acknowledgements and decides, its abort standing for its timeout; an RM eventually
reads a decision; a backup eventually runs the termination protocol). An RM's own abort, the
TM's crash and a partition are not fair: they may happen, nothing forces them. Without the
termination protocol (variant ``no_termination_protocol``) the RMs block, exactly as in
two_phase_commit's variant ``tm_may_crash``.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import IntEnum
from itertools import combinations
from typing import NamedTuple

from protospec import (
    Param,
    Spec,
    action,
    eventually,
    except_at,
    from_state,
    invariant,
    liveness,
    sometimes,
)

# -- state ------------------------------------------------------------------------------------


class RMState(IntEnum):
    """Skeen's local states of a participant: q, w, p, c, a."""

    WORKING = 0  # q: has not voted
    UNCERTAIN = 1  # w: voted Prepared, waiting for the TM
    PRECOMMITTED = 2  # p: committable, the TM told it everyone prepared
    COMMITTED = 3  # c
    ABORTED = 4  # a


class TMState(IntEnum):
    INIT = 0  # collecting votes
    PRECOMMITTED = 1  # sent PreCommit, collecting acknowledgements
    COMMITTED = 2
    ABORTED = 3
    CRASHED = 4  # failed for good (its recovery is left out)


class MType(IntEnum):
    """The message kinds: the first field of every message, so different kinds never compare
    equal."""

    PREPARED = 0  # RM -> TM: its vote
    ACK = 1  # RM -> TM: acknowledges PreCommit
    PRECOMMIT = 2  # TM -> every RM
    COMMIT = 3  # TM -> every RM
    ABORT = 4  # TM -> every RM
    TERM_COMMIT = 5  # the backup coordinator's decision -> the RMs of its group
    TERM_ABORT = 6


class Message(NamedTuple):
    """A message: its kind, the RM that sent it (PREPARED, ACK), or the group a termination
    decision is for; the TM's broadcasts carry neither."""

    mtype: MType
    rm: int = -1  # the sender of a PREPARED or ACK
    group: frozenset[int] = frozenset()  # the RMs a TERM_* decision is for


PRECOMMIT, COMMIT, ABORT = Message(MType.PRECOMMIT), Message(MType.COMMIT), Message(MType.ABORT)


class State(NamedTuple):
    """TwoPhase.tla's variables, with the acknowledgements of phase 2 and the network's groups."""

    rm_state: tuple[RMState, ...]  # each RM's local state
    tm_state: TMState  # the TM's state
    tm_prepared: frozenset[int]  # RMs whose Prepared the TM has received
    tm_acked: frozenset[int]  # RMs whose acknowledgement of PreCommit the TM has received
    groups: tuple[frozenset[int], ...]  # RMs that can reach one another (one group, unpartitioned)
    msgs: frozenset[Message]  # every message ever sent (none is lost)


class ThreePhaseCommit(Spec):
    """Three-phase commit (Skeen 1981) with its termination protocol: atomic despite a TM crash."""

    name = "three_phase_commit"

    rms = Param(3, "number of resource managers", min=1, max=8)

    def setup(self) -> None:
        self.RM = range(self.rms)
        self.all_rms = frozenset(self.RM)

    def init(self) -> Iterator[State]:
        yield State(rm_state=(RMState.WORKING,) * self.rms, tm_state=TMState.INIT,
                    tm_prepared=frozenset(), tm_acked=frozenset(), groups=(self.all_rms,),
                    msgs=frozenset())

    # -- phase 1: votes (as two-phase commit) -----------------------------------------------

    @action(rm="RM", fair="weak")
    def rm_prepare(self, s: State, rm: int) -> State | None:
        """RMPrepare(rm): a working RM votes Prepared and becomes uncertain."""
        if s.rm_state[rm] is not RMState.WORKING:
            return None
        return s._replace(rm_state=except_at(s.rm_state, rm, RMState.UNCERTAIN),
                          msgs=s.msgs | {Message(MType.PREPARED, rm)})

    @action(rm="RM")
    def rm_choose_to_abort(self, s: State, rm: int) -> State | None:
        """RMChooseToAbort(rm): a working RM aborts on its own (it has not voted)."""
        if s.rm_state[rm] is not RMState.WORKING:
            return None
        return s._replace(rm_state=except_at(s.rm_state, rm, RMState.ABORTED))

    @action(rm="RM", fair="weak")
    def tm_rcv_prepared(self, s: State, rm: int) -> State | None:
        """TMRcvPrepared(rm): the TM records rm's vote."""
        if s.tm_state is not TMState.INIT or Message(MType.PREPARED, rm) not in s.msgs:
            return None
        return s._replace(tm_prepared=s.tm_prepared | {rm})

    @action(fair="weak")
    def tm_abort(self, s: State) -> State | None:
        """TMAbort: the TM aborts before it has sent PreCommit (e.g. a vote is late)."""
        if s.tm_state is not TMState.INIT:
            return None
        return s._replace(tm_state=TMState.ABORTED, msgs=s.msgs | {ABORT})

    # -- phase 2: precommit ------------------------------------------------------------------

    @action(fair="weak")
    def tm_precommit(self, s: State) -> State | None:
        """Once every RM has voted Prepared, the TM sends PreCommit."""
        if s.tm_state is not TMState.INIT or s.tm_prepared != self.all_rms:
            return None
        return self.after_all_prepared(s)

    def after_all_prepared(self, s: State) -> State:
        """Three-phase commit's extra phase: PreCommit, not yet Commit (a variant skips it)."""
        return s._replace(tm_state=TMState.PRECOMMITTED, msgs=s.msgs | {PRECOMMIT})

    @action(rm="RM", fair="weak")
    def rm_rcv_precommit(self, s: State, rm: int) -> State | None:
        """An uncertain RM receives PreCommit, becomes precommitted and acknowledges."""
        if s.rm_state[rm] is not RMState.UNCERTAIN or PRECOMMIT not in s.msgs:
            return None
        return s._replace(rm_state=except_at(s.rm_state, rm, RMState.PRECOMMITTED),
                          msgs=s.msgs | {Message(MType.ACK, rm)})

    @action(rm="RM", fair="weak")
    def tm_rcv_ack(self, s: State, rm: int) -> State | None:
        """The TM records rm's acknowledgement of PreCommit."""
        if s.tm_state is not TMState.PRECOMMITTED or Message(MType.ACK, rm) not in s.msgs:
            return None
        return s._replace(tm_acked=s.tm_acked | {rm})

    # -- phase 3: commit ---------------------------------------------------------------------

    @action(fair="weak")
    def tm_commit(self, s: State) -> State | None:
        """Once every RM has acknowledged PreCommit, the TM commits and sends Commit."""
        if s.tm_state is not TMState.PRECOMMITTED or s.tm_acked != self.all_rms:
            return None
        return s._replace(tm_state=TMState.COMMITTED, msgs=s.msgs | {COMMIT})

    @action(rm="RM", fair="weak")
    def rm_rcv_commit_msg(self, s: State, rm: int) -> State | None:
        """An RM receives the TM's Commit."""
        if s.rm_state[rm] is RMState.COMMITTED or COMMIT not in s.msgs:
            return None
        return s._replace(rm_state=except_at(s.rm_state, rm, RMState.COMMITTED))

    @action(rm="RM", fair="weak")
    def rm_rcv_abort_msg(self, s: State, rm: int) -> State | None:
        """An RM receives the TM's Abort."""
        if s.rm_state[rm] is RMState.ABORTED or ABORT not in s.msgs:
            return None
        return s._replace(rm_state=except_at(s.rm_state, rm, RMState.ABORTED))

    # -- the coordinator's failure and the termination protocol ------------------------------

    @action
    def tm_crash(self, s: State) -> State | None:
        """The TM fails (at any point, before or after deciding) and never recovers; what it
        sent stays in the network."""
        if s.tm_state is TMState.CRASHED:
            return None
        return s._replace(tm_state=TMState.CRASHED, tm_prepared=frozenset(),
                          tm_acked=frozenset())

    @action(group=from_state(lambda s: s.groups), fair="weak")
    def terminate(self, s: State, group: frozenset[int]) -> State | None:
        """Once the TM has failed, a backup coordinator in ``group`` collects the states of the
        RMs of its group and decides by Skeen's rules; it decides once."""
        if s.tm_state is not TMState.CRASHED:
            return None
        if any(m.group == group for m in s.msgs if m.mtype >= MType.TERM_COMMIT):
            return None
        commit = self.termination_rule([s.rm_state[rm] for rm in sorted(group)])
        return s._replace(msgs=s.msgs | {
            Message(MType.TERM_COMMIT if commit else MType.TERM_ABORT, group=group)})

    def termination_rule(self, states: list[RMState]) -> bool:
        """Skeen's rules: commit if some RM committed; abort if some aborted or has not voted;
        else commit if some RM is precommitted; else (all uncertain) abort."""
        if RMState.COMMITTED in states:
            return True
        if RMState.ABORTED in states or RMState.WORKING in states:
            return False
        return RMState.PRECOMMITTED in states

    @action(rm="RM", m=from_state(lambda s: _decisions(s.msgs)), fair="weak")
    def rm_rcv_decision(self, s: State, rm: int, m: Message) -> State | None:
        """An RM of the group receives its backup's decision and adopts it (even if it became
        precommitted after the backup found everyone uncertain: the decision is final)."""
        if rm not in m.group:
            return None
        outcome = RMState.COMMITTED if m.mtype is MType.TERM_COMMIT else RMState.ABORTED
        if s.rm_state[rm] is outcome:
            return None
        return s._replace(rm_state=except_at(s.rm_state, rm, outcome))

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def atomicity(self, s: State) -> bool:
        """TCConsistent: no resource manager has committed while another has aborted."""
        return not (RMState.COMMITTED in s.rm_state and RMState.ABORTED in s.rm_state)

    @invariant
    def commit_needs_votes(self, s: State) -> bool:
        """Commit validity: an RM commits only if every RM voted Prepared (no RM that has not
        voted, or aborted on its own, coexists with a committed one)."""
        return (RMState.COMMITTED not in s.rm_state
                or RMState.WORKING not in s.rm_state)

    @liveness
    def every_rm_decides(self):
        """Every resource manager eventually commits or aborts, even if the TM crashes (under
        the fairness above)."""
        return eventually(self.all_decided)

    def all_decided(self, s: State) -> bool:
        return all(r is RMState.COMMITTED or r is RMState.ABORTED for r in s.rm_state)

    @sometimes
    def can_commit(self, s: State) -> bool:
        """Some reachable state has every resource manager committed (commit can happen)."""
        return all(r is RMState.COMMITTED for r in s.rm_state)

    # -- chart hooks (optional; see explorer/chart_hints.py) ---------------------------------

    def chart_processes(self) -> list[str]:
        """The TM, then every RM (a backup coordinator runs at an RM)."""
        return ["TM"] + [f"RM {rm}" for rm in self.RM]

    def chart_lane(self, action: str, args: dict) -> str | None:
        """The TM's steps; an RM's steps; termination at its group's lowest RM (the backup)."""
        if "rm" in args:
            return "TM" if action.startswith("tm_") else f"RM {args['rm']}"
        if "group" in args:
            return f"RM {min(args['group'])}"
        if "cut" in args:
            return "network"
        return "TM"

    def chart_message_label(self, msg: Message) -> str:
        """The kind, with its sender or group."""
        name = {MType.PREPARED: "Prepared", MType.ACK: "Ack", MType.PRECOMMIT: "PreCommit",
                MType.COMMIT: "Commit", MType.ABORT: "Abort", MType.TERM_COMMIT: "commit",
                MType.TERM_ABORT: "abort"}[msg.mtype]
        if msg.mtype >= MType.TERM_COMMIT:
            return f"backup: {name} {{{', '.join(map(str, sorted(msg.group)))}}}"
        return name

    def chart_message_to(self, msg: Message) -> str | None:
        """Votes and acknowledgements go to the TM; decisions to every RM (no one lane)."""
        return "TM" if msg.mtype <= MType.ACK else None


def _decisions(msgs: frozenset[Message]) -> list[Message]:
    """The termination decisions sent, in a fixed order."""
    return sorted((m for m in msgs if m.mtype >= MType.TERM_COMMIT),
                  key=lambda m: (m.mtype, sorted(m.group)))


# -- bug variants -----------------------------------------------------------------------------


@ThreePhaseCommit.variant("network_partition", breaks="atomicity")
class NetworkPartition(ThreePhaseCommit):
    """With the TM down, the network splits the RMs in two; each group terminates on its own.

    A group that holds a precommitted RM commits, a group of uncertain RMs aborts: three-phase
    commit survives site failures, not partitions (Skeen assumes a reliable network).
    """

    def setup(self) -> None:
        super().setup()
        # Each way of splitting the RMs in two, once: the group holding RM 0 names it.
        self.Cut = [frozenset(c) for k in range(1, self.rms)
                    for c in combinations(self.RM, k) if 0 in c]

    @action(cut="Cut")
    def partition(self, s: State, cut: frozenset[int]) -> State | None:
        """The network splits: the RMs in ``cut`` can no longer reach the others (nor the
        failed TM, to whom all look the same)."""
        if s.tm_state is not TMState.CRASHED or len(s.groups) > 1:
            return None
        return s._replace(groups=(cut, self.all_rms - cut))


@ThreePhaseCommit.variant("no_precommit_phase", breaks="atomicity")
class NoPrecommitPhase(ThreePhaseCommit):
    """Two-phase commit with the termination protocol grafted on: the TM commits as soon as
    every RM has prepared, so a backup finding every RM uncertain may abort a committed
    transaction."""

    def after_all_prepared(self, s: State) -> State:
        return s._replace(tm_state=TMState.COMMITTED, msgs=s.msgs | {COMMIT})


@ThreePhaseCommit.variant("uncertain_commits", breaks="atomicity")
class UncertainCommits(ThreePhaseCommit):
    """The backup commits when every RM it reaches is uncertain (it guesses the TM went on),
    although the TM may have aborted after collecting the votes."""

    def termination_rule(self, states: list[RMState]) -> bool:
        return RMState.ABORTED not in states and RMState.WORKING not in states


@ThreePhaseCommit.variant("no_termination_protocol", breaks="every_rm_decides")
class NoTerminationProtocol(ThreePhaseCommit):
    """No termination protocol: once the TM has crashed, RMs that voted wait for it forever,
    exactly as in two-phase commit (the blocking three-phase commit was designed to remove)."""

    @action(group=from_state(lambda s: s.groups))
    def terminate(self, s: State, group: frozenset[int]) -> State | None:
        return None


# Measured (explorer.check, 3 RMs): 678 distinct states, depth 19, no violation of safety or
# liveness; the variants fail in 14, 11 and 8 steps and with a 4-step lasso. No published count
# exists for this model. Other sizes: docs/specs/three_phase_commit.md.
