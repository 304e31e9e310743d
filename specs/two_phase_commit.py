"""Two-phase commit: the transaction manager commits only if every resource manager prepared.

Source: Jim Gray and Leslie Lamport, "Consensus on Transaction Commit" (ACM TODS 31(1), 2006),
section 3, and its TLA+ specification TwoPhase.tla (the tlaplus/Examples repository). This spec
has the same variables, actions and therefore the same state space as TwoPhase.tla:
TLC reports 288 distinct states for 3 resource managers.

The idea: resource managers (RMs) each decide whether they can commit; one transaction manager
(TM) collects their "Prepared" messages and, only when all have prepared, broadcasts "Commit";
it may instead broadcast "Abort" at any time before that. An RM that has not prepared may abort
on its own. Messages are never lost and stay in the set ``msgs`` forever (a message, once sent,
can be received any number of times), exactly as in TwoPhase.tla.

Left out, as in the original: timeouts, failures and recovery of the TM (two-phase commit
blocks when the TM fails, which is why Paxos Commit exists). The variant ``tm_may_crash`` puts
a TM crash back in and shows the blocking as a liveness counterexample.

Liveness (docs/liveness.md): TwoPhase.tla states none; here every RM eventually decides, under
weak fairness of the steps that make progress: an RM eventually votes, the TM eventually reads
each vote, the TM eventually decides (it commits once it may, or aborts: the abort stands for
the TM's timeout, without which a TM whose RM aborted on its own would wait forever), and each
RM eventually reads the decision. An RM's own abort is not fair: it may happen, nothing forces
it.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated, NamedTuple

from protospec import (
    Param,
    Spec,
    Symmetric,
    action,
    eventually,
    except_at,
    invariant,
    liveness,
    sometimes,
)

# The resource managers are interchangeable: no action or property names a particular one,
# so `--symmetry` may explore one state per permutation orbit of RM ids (TLC: SYMMETRY
# Permutations(RM) gives 80 distinct states for 3 RMs).
RM = Symmetric("RM", size="rms")

# -- state ------------------------------------------------------------------------------------


class RMState(IntEnum):
    WORKING = 0
    PREPARED = 1
    COMMITTED = 2
    ABORTED = 3


class TMState(IntEnum):
    INIT = 0
    DONE = 1
    CRASHED = 2  # only in the variant tm_may_crash: the TM has failed and never recovers


class Decision(IntEnum):
    """The TM's broadcast messages ([type |-> "Commit"] and [type |-> "Abort"])."""

    COMMIT = 0
    ABORT = 1


class Prepared(NamedTuple):
    """[type |-> "Prepared", rm |-> rm]: resource manager ``rm`` is prepared to commit."""

    rm: RM.Id


class State(NamedTuple):
    """The variables of TwoPhase.tla."""

    rm_state: Annotated[tuple[RMState, ...], RM.index]  # rmState[rm]: where each RM is
    tm_state: TMState  # tmState: "init" until the TM has decided, then "done"
    tm_prepared: frozenset[RM.Id]  # tmPrepared: the RMs from which the TM has received Prepared
    msgs: frozenset[Prepared | Decision]  # msgs: every message ever sent (none is lost)


class TwoPhaseCommit(Spec):
    """Two-phase commit (TwoPhase.tla): atomic commit through a transaction manager."""

    name = "two_phase_commit"

    rms = Param(3, "number of resource managers", min=1, max=64)
    symmetric = (RM,)

    def setup(self) -> None:
        self.RM = range(self.rms)
        self.all_rms = frozenset(self.RM)

    def init(self):
        yield State(
            rm_state=(RMState.WORKING,) * self.rms,
            tm_state=TMState.INIT,
            tm_prepared=frozenset(),
            msgs=frozenset(),
        )

    # -- actions (named as in TwoPhase.tla) ---------------------------------------------------

    @action(rm="RM", fair="weak")
    def tm_rcv_prepared(self, s: State, rm: int) -> State | None:
        """TMRcvPrepared(rm): the TM receives a Prepared message from resource manager rm."""
        if s.tm_state is not TMState.INIT or Prepared(rm) not in s.msgs:
            return None
        return s._replace(tm_prepared=s.tm_prepared | {rm})

    @action(fair="weak")
    def tm_commit(self, s: State) -> State | None:
        """TMCommit: the TM commits once every resource manager has prepared."""
        if s.tm_state is not TMState.INIT or s.tm_prepared != self.all_rms:
            return None
        return s._replace(tm_state=TMState.DONE, msgs=s.msgs | {Decision.COMMIT})

    @action(fair="weak")
    def tm_abort(self, s: State) -> State | None:
        """TMAbort: the TM spontaneously aborts the transaction."""
        if s.tm_state is not TMState.INIT:
            return None
        return s._replace(tm_state=TMState.DONE, msgs=s.msgs | {Decision.ABORT})

    @action(rm="RM", fair="weak")
    def rm_prepare(self, s: State, rm: int) -> State | None:
        """RMPrepare(rm): a working resource manager prepares and tells the TM."""
        if s.rm_state[rm] is not RMState.WORKING:
            return None
        return s._replace(rm_state=except_at(s.rm_state, rm, RMState.PREPARED),
                          msgs=s.msgs | {Prepared(rm)})

    @action(rm="RM")
    def rm_choose_to_abort(self, s: State, rm: int) -> State | None:
        """RMChooseToAbort(rm): a working resource manager spontaneously aborts."""
        if s.rm_state[rm] is not RMState.WORKING:
            return None
        return s._replace(rm_state=except_at(s.rm_state, rm, RMState.ABORTED))

    @action(rm="RM", fair="weak")
    def rm_rcv_commit_msg(self, s: State, rm: int) -> State | None:
        """RMRcvCommitMsg(rm): resource manager rm receives the TM's Commit."""
        if Decision.COMMIT not in s.msgs:
            return None
        return s._replace(rm_state=except_at(s.rm_state, rm, RMState.COMMITTED))

    @action(rm="RM", fair="weak")
    def rm_rcv_abort_msg(self, s: State, rm: int) -> State | None:
        """RMRcvAbortMsg(rm): resource manager rm receives the TM's Abort."""
        if Decision.ABORT not in s.msgs:
            return None
        return s._replace(rm_state=except_at(s.rm_state, rm, RMState.ABORTED))

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def type_ok(self, s: State) -> bool:
        """TPTypeOK: every variable holds a value of its type."""
        return (
            len(s.rm_state) == self.rms
            and all(isinstance(x, RMState) for x in s.rm_state)
            and isinstance(s.tm_state, TMState)
            and s.tm_prepared <= self.all_rms
            and all(isinstance(m, Decision) or (isinstance(m, Prepared) and m.rm in self.RM)
                    for m in s.msgs)
        )

    @invariant
    def atomicity(self, s: State) -> bool:
        """TCConsistent: no resource manager has committed while another has aborted."""
        return not (RMState.COMMITTED in s.rm_state and RMState.ABORTED in s.rm_state)

    @liveness
    def every_rm_decides(self):
        """Every resource manager eventually commits or aborts (under the fairness above)."""
        return eventually(self.all_decided)

    def all_decided(self, s: State) -> bool:
        return all(r is RMState.COMMITTED or r is RMState.ABORTED for r in s.rm_state)

    @sometimes
    def can_commit(self, s: State) -> bool:
        """Some reachable state has every resource manager committed (the spec is not
        vacuous: commit can happen)."""
        return all(r is RMState.COMMITTED for r in s.rm_state)

    # -- chart hooks (optional; see explorer/chart_hints.py) ---------------------------------

    def chart_processes(self) -> list[str]:
        """The lanes of a message sequence chart: the TM, then every RM, idle or not."""
        return ["TM"] + [f"RM {rm}" for rm in self.RM]

    def chart_message_to(self, msg: Prepared | Decision) -> str | None:
        """Prepared goes to the TM; a decision is broadcast to every RM (no single lane)."""
        return "TM" if isinstance(msg, Prepared) else None


# -- bug variants -----------------------------------------------------------------------------


@TwoPhaseCommit.variant("tm_commits_early", breaks="atomicity")
class TMCommitsEarly(TwoPhaseCommit):
    """The TM commits without waiting for every resource manager to prepare."""

    def tm_commit(self, s: State) -> State | None:
        if s.tm_state is not TMState.INIT:
            return None
        return s._replace(tm_state=TMState.DONE, msgs=s.msgs | {Decision.COMMIT})


@TwoPhaseCommit.variant("rm_aborts_after_prepare", breaks="atomicity")
class RMAbortsAfterPrepare(TwoPhaseCommit):
    """A resource manager aborts on its own after it has voted Prepared."""

    def rm_choose_to_abort(self, s: State, rm: int) -> State | None:
        if s.rm_state[rm] not in (RMState.WORKING, RMState.PREPARED):
            return None
        return s._replace(rm_state=except_at(s.rm_state, rm, RMState.ABORTED))


@TwoPhaseCommit.variant("tm_aborts_after_commit", breaks="atomicity")
class TMAbortsAfterCommit(TwoPhaseCommit):
    """The TM may still abort after it has decided to commit (it forgets its decision)."""

    def tm_abort(self, s: State) -> State | None:
        return s._replace(tm_state=TMState.DONE, msgs=s.msgs | {Decision.ABORT})


@TwoPhaseCommit.variant("rm_may_never_hear", breaks="every_rm_decides")
class RMMayNeverHear(TwoPhaseCommit):
    """Receiving the TM's Commit is not fair: a resource manager may never act on it."""

    @action(rm="RM")
    def rm_rcv_commit_msg(self, s: State, rm: int) -> State | None:
        return super().rm_rcv_commit_msg(s, rm)


@TwoPhaseCommit.variant("tm_may_crash", breaks="every_rm_decides")
class TMMayCrash(TwoPhaseCommit):
    """The TM may crash before deciding and never recover: prepared RMs block forever (they
    may not abort on their own once they voted), the classic weakness of 2PC."""

    @action
    def tm_crash(self, s: State) -> State | None:
        """The TM fails before it has decided; it never recovers."""
        if s.tm_state is not TMState.INIT:
            return None
        return s._replace(tm_state=TMState.CRASHED)


# Measured state counts (protospec check two_phase_commit -p rms=N), equal to TLC's on
# TwoPhase.tla: see docs/specs/two_phase_commit.md for the table and how it was produced.
