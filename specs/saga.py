"""An orchestrated saga: k steps, each undone by its compensation if a later step fails.

Source: Hector Garcia-Molina and Kenneth Salem, "Sagas" (SIGMOD 1987), sections 1-3: a saga
is a sequence of transactions T1 ... Tn, each with a compensating transaction Ci that semantically
undoes Ti; the system guarantees that either T1 ... Tn all execute, or T1 ... Tj followed by
Cj ... C1 does (backward recovery). The paper's *saga execution component* is here an
orchestrator talking to one participant per step over an unreliable network, in the manner of
today's microservice sagas (Chris Richardson, "Microservices Patterns", 2018, chapter 4).

The orchestrator sends ``do(i)`` to participant i and waits. The participant runs Ti and replies
``done(i)``, or Ti fails (with no effect) and it replies ``failed(i)``. On ``done(i)`` the
orchestrator moves on to step i+1, or commits the saga after the last step. On ``failed(i)`` it
compensates the steps that ran, last first: ``compensate(i-1)``, wait for ``compensated(i-1)``,
and so on down to step 0; then the saga is aborted. Compensations are retried until they succeed
(the paper requires that they cannot fail).

The network delivers at least once: a message, once sent, stays in flight and may be delivered
any number of times, at any later point. That models loss followed by retries from the sender as
well as duplicates. Participants are therefore idempotent: each remembers what it did for its step
and acts on a repeated ``do`` or ``compensate`` only once. The orchestrator never gives up on a
step: it keeps retrying until it gets a definite answer (see the variant ``timeout_as_failure``
for why).

Properties: a step's compensation never runs more often than the step itself
(``compensation_only_after_action``: no compensation for a step that never ran, none twice); and
when the saga ends, every step is either committed throughout or compensated (``saga_atomic``).
Liveness ``saga_ends`` (docs/liveness.md): every saga eventually ends, committed or aborted
(with saga_atomic: committed throughout or compensated), when participants answer and the
orchestrator reads each reply (weakly fair); a step's failure and the orchestrator's retries
need no fairness. The variant ``compensates_failed_step`` hangs forever.

How often each Ti and Ci took effect is kept in two ghost counters, which stop at 2 (enough to
see "more than once", and it keeps the state space finite for the variants).

Left out: isolation between concurrent sagas (sagas give none: other transactions see the
intermediate states), forward recovery with save-points, and orchestrator crashes (a durable
saga log would make them equivalent to delays).
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from protospec import Param, Spec, action, eventually, except_at, from_state, invariant, liveness

# -- messages and state -----------------------------------------------------------------------


class Phase(IntEnum):
    RUNNING = 0  # running the steps forward
    COMPENSATING = 1  # a step failed: running compensations backward
    COMMITTED = 2  # every step ran
    ABORTED = 3  # every step that ran was compensated


class StepStatus(IntEnum):
    """What participant i has done for its step (its idempotency record)."""

    NOT_RUN = 0
    DONE = 1  # Ti ran
    FAILED = 2  # Ti failed and had no effect
    COMPENSATED = 3  # Ti ran, then Ci undid it


class MsgType(IntEnum):
    DO = 0  # orchestrator -> participant: run Ti
    DONE = 1  # participant -> orchestrator: Ti ran
    FAILED = 2  # participant -> orchestrator: Ti failed
    COMPENSATE = 3  # orchestrator -> participant: run Ci
    COMPENSATED = 4  # participant -> orchestrator: Ci ran


class Msg(NamedTuple):
    type: MsgType
    step: int


REPLIES = (MsgType.DONE, MsgType.FAILED, MsgType.COMPENSATED)


class State(NamedTuple):
    phase: Phase  # the orchestrator's phase
    current: int  # the step whose reply the orchestrator is waiting for
    status: tuple[StepStatus, ...]  # status[i]: participant i's record of step i
    ran: tuple[int, ...]  # ran[i] (ghost): how often Ti took effect (stops at 2)
    undone: tuple[int, ...]  # undone[i] (ghost): how often Ci took effect (stops at 2)
    msgs: frozenset[Msg]  # messages in flight


def _bump(t: tuple[int, ...], i: int) -> tuple[int, ...]:
    """Count one more at i, saturating at 2."""
    return except_at(t, i, min(t[i] + 1, 2))


class Saga(Spec):
    """Orchestrated saga (Garcia-Molina & Salem 1987): every step ends committed or compensated."""

    name = "saga"

    steps = Param(3, "number of steps T0 ... Tk-1 (each with a compensation)", min=1, max=6)

    def setup(self) -> None:
        self.STEP = range(self.steps)

    def init(self):
        yield State(
            phase=Phase.RUNNING,
            current=0,
            status=(StepStatus.NOT_RUN,) * self.steps,
            ran=(0,) * self.steps,
            undone=(0,) * self.steps,
            msgs=frozenset({Msg(MsgType.DO, 0)}),
        )

    # -- participants -------------------------------------------------------------------------

    @action(i="STEP", fair="weak")
    def execute_step(self, s: State, i: int) -> State | None:
        """Participant i receives do(i) and runs Ti, which succeeds; it replies done(i).

        A repeated do(i) (the orchestrator retried) is answered from the participant's record
        and does not run Ti again.
        """
        do = Msg(MsgType.DO, i)
        if do not in s.msgs:
            return None
        st = s.status[i]
        if st is StepStatus.NOT_RUN:
            return s._replace(status=except_at(s.status, i, StepStatus.DONE), ran=_bump(s.ran, i),
                              msgs=(s.msgs - {do}) | {Msg(MsgType.DONE, i)})
        return self.answer_again(s, do)

    @action(i="STEP")
    def fail_step(self, s: State, i: int) -> State | None:
        """Participant i receives do(i) and Ti fails without effect; it replies failed(i)."""
        do = Msg(MsgType.DO, i)
        if do not in s.msgs or s.status[i] is not StepStatus.NOT_RUN:
            return None
        return s._replace(status=except_at(s.status, i, StepStatus.FAILED),
                          msgs=(s.msgs - {do}) | {Msg(MsgType.FAILED, i)})

    @action(i="STEP", fair="weak")
    def compensate_step(self, s: State, i: int) -> State | None:
        """Participant i receives compensate(i) and runs Ci; a repeat is answered, not rerun."""
        comp = Msg(MsgType.COMPENSATE, i)
        if comp not in s.msgs:
            return None
        if s.status[i] is StepStatus.DONE:
            return s._replace(status=except_at(s.status, i, StepStatus.COMPENSATED),
                              undone=_bump(s.undone, i),
                              msgs=(s.msgs - {comp}) | {Msg(MsgType.COMPENSATED, i)})
        return self.answer_again(s, comp)

    def answer_again(self, s: State, m: Msg) -> State:
        """A duplicate request: reply with what the participant's record says was done."""
        reply = {
            StepStatus.DONE: MsgType.DONE,
            StepStatus.FAILED: MsgType.FAILED,
            StepStatus.COMPENSATED: MsgType.COMPENSATED,
        }.get(s.status[m.step])
        if m.type is MsgType.COMPENSATE and reply is not MsgType.COMPENSATED:
            reply = None  # the orchestrator never compensates a step that did not run
        if m.type is MsgType.DO and reply is MsgType.COMPENSATED:
            reply = None  # a stale do(i) after the step was undone: nothing to say
        out = {Msg(reply, m.step)} if reply is not None else set()
        return s._replace(msgs=(s.msgs - {m}) | out)

    # -- the orchestrator -----------------------------------------------------------------------

    @action(m=from_state(lambda s: sorted(m for m in s.msgs if m.type in REPLIES)), fair="weak")
    def orchestrator_receive(self, s: State, m: Msg) -> State | None:
        """The orchestrator takes a reply; one it is not waiting for (a duplicate) is ignored.

        done(i): send do(i+1), or commit after the last step. failed(i): compensate step i-1,
        the last that ran. compensated(i): compensate step i-1; after step 0, abort.
        """
        rest = s._replace(msgs=s.msgs - {m})
        if m.step != s.current:
            return rest
        if s.phase is Phase.RUNNING and m.type is MsgType.DONE:
            if m.step == self.steps - 1:
                return rest._replace(phase=Phase.COMMITTED)
            return rest._replace(current=m.step + 1, msgs=rest.msgs | {Msg(MsgType.DO, m.step + 1)})
        if s.phase is Phase.RUNNING and m.type is MsgType.FAILED:
            return self.compensate_from(rest, self.first_to_compensate(m.step))
        if s.phase is Phase.COMPENSATING and m.type is MsgType.COMPENSATED:
            return self.compensate_from(rest, m.step - 1)
        return rest

    @action
    def orchestrator_retry(self, s: State) -> State | None:
        """No answer yet (the request or its reply may be lost): send the request again."""
        if s.phase is Phase.RUNNING:
            request = Msg(MsgType.DO, s.current)
        elif s.phase is Phase.COMPENSATING:
            request = Msg(MsgType.COMPENSATE, s.current)
        else:
            return None
        if request in s.msgs:
            return None  # still in flight: a second copy would be the same message
        return s._replace(msgs=s.msgs | {request})

    def first_to_compensate(self, failed: int) -> int:
        """After step ``failed`` failed (without effect), the last step that ran."""
        return failed - 1

    def compensate_from(self, s: State, j: int) -> State:
        """Send compensate(j) and wait for it; with j = -1 every step is undone: abort."""
        if j < 0:
            return s._replace(phase=Phase.ABORTED)
        return s._replace(phase=Phase.COMPENSATING, current=j,
                          msgs=s.msgs | {Msg(MsgType.COMPENSATE, j)})

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def compensation_only_after_action(self, s: State) -> bool:
        """No step's compensation has run more often than the step: none for a step that never
        ran, none twice for a step that ran once."""
        return all(u <= r for r, u in zip(s.ran, s.undone))

    @invariant
    def saga_atomic(self, s: State) -> bool:
        """When the saga has ended, every step is committed throughout (ran once, never undone)
        or compensated (as often undone as run)."""
        if s.phase is Phase.COMMITTED:
            return all(r == 1 for r in s.ran) and not any(s.undone)
        if s.phase is Phase.ABORTED:
            return s.ran == s.undone
        return True


    @liveness
    def saga_ends(self):
        """Every saga eventually ends: committed or aborted."""
        return eventually(lambda s: s.phase is Phase.COMMITTED or s.phase is Phase.ABORTED)


# -- bug variants -----------------------------------------------------------------------------


@Saga.variant("non_idempotent_compensation", breaks="compensation_only_after_action")
class NonIdempotentCompensation(Saga):
    """A participant runs Ci on every compensate(i) it receives: a retried one undoes it twice."""

    def compensate_step(self, s: State, i: int) -> State | None:
        comp = Msg(MsgType.COMPENSATE, i)
        if comp not in s.msgs or s.status[i] not in (StepStatus.DONE, StepStatus.COMPENSATED):
            return super().compensate_step(s, i)
        return s._replace(status=except_at(s.status, i, StepStatus.COMPENSATED),
                          undone=_bump(s.undone, i),
                          msgs=(s.msgs - {comp}) | {Msg(MsgType.COMPENSATED, i)})


@Saga.variant("non_idempotent_step", breaks="saga_atomic")
class NonIdempotentStep(Saga):
    """A participant runs Ti on every do(i) it receives: a retried request runs the step twice."""

    def execute_step(self, s: State, i: int) -> State | None:
        do = Msg(MsgType.DO, i)
        if do not in s.msgs or s.status[i] is not StepStatus.DONE:
            return super().execute_step(s, i)
        return s._replace(ran=_bump(s.ran, i), msgs=(s.msgs - {do}) | {Msg(MsgType.DONE, i)})


@Saga.variant("timeout_as_failure", breaks="saga_atomic")
class TimeoutAsFailure(Saga):
    """The orchestrator, tired of waiting for step i, treats it as failed: but Ti may have run."""

    @action
    def orchestrator_timeout(self, s: State) -> State | None:
        """No reply to do(i) has arrived: give up on step i as if it had failed."""
        if s.phase is not Phase.RUNNING:
            return None
        return self.compensate_from(s, s.current - 1)


@Saga.variant("compensates_failed_step", breaks="saga_ends")
class CompensatesFailedStep(Saga):
    """After failed(i) the orchestrator asks to compensate step i itself, which never ran: the
    participant has nothing to undo and no answer to give, and the saga waits forever (no
    safety property notices)."""

    def first_to_compensate(self, failed: int) -> int:
        return failed


# Measured state counts: see docs/specs/saga.md.
