"""saga: backward recovery undoes exactly the steps that ran, even with retried messages.

Reference: Garcia-Molina & Salem, "Sagas" (SIGMOD 1987), sections 1-3.
"""

from __future__ import annotations

from protospec.explorer import check
from protospec.specs.saga import Msg, MsgType, Phase, Saga, StepStatus


def initial(sp: Saga):
    (s,) = sp.init()
    return s


def test_compensation_only_after_action_fails_for_a_step_that_never_ran():
    sp = Saga()
    bad = initial(sp)._replace(undone=(1, 0, 0))
    assert sp.check_state(bad) == ["compensation_only_after_action"]


def test_compensation_only_after_action_fails_for_a_step_undone_twice():
    sp = Saga()
    bad = initial(sp)._replace(ran=(1, 0, 0), undone=(2, 0, 0))
    assert sp.check_state(bad) == ["compensation_only_after_action"]


def test_saga_atomic_fails_on_an_aborted_saga_with_a_step_left_done():
    sp = Saga()
    bad = initial(sp)._replace(phase=Phase.ABORTED, ran=(1, 1, 0), undone=(1, 0, 0))
    assert sp.check_state(bad) == ["saga_atomic"]


def test_saga_atomic_fails_on_a_committed_saga_with_a_step_run_twice():
    sp = Saga()
    bad = initial(sp)._replace(phase=Phase.COMMITTED, ran=(1, 2, 1))
    assert sp.check_state(bad) == ["saga_atomic"]


def test_a_failed_step_makes_the_orchestrator_compensate_the_earlier_steps_last_first():
    sp = Saga()
    s = sp.step(initial(sp), "execute_step", i=0)
    s = sp.step(s, "orchestrator_receive", m=Msg(MsgType.DONE, 0))
    s = sp.step(s, "execute_step", i=1)
    s = sp.step(s, "orchestrator_receive", m=Msg(MsgType.DONE, 1))
    s = sp.step(s, "fail_step", i=2)
    s = sp.step(s, "orchestrator_receive", m=Msg(MsgType.FAILED, 2))
    assert (s.phase, s.current) == (Phase.COMPENSATING, 1)
    s = sp.step(s, "compensate_step", i=1)
    s = sp.step(s, "orchestrator_receive", m=Msg(MsgType.COMPENSATED, 1))
    s = sp.step(s, "compensate_step", i=0)
    s = sp.step(s, "orchestrator_receive", m=Msg(MsgType.COMPENSATED, 0))
    assert s.phase is Phase.ABORTED
    assert s.ran == s.undone == (1, 1, 0)


def test_a_retried_request_is_answered_from_the_participants_record():
    sp = Saga()
    s = sp.step(initial(sp), "execute_step", i=0)
    s = sp.step(s, "orchestrator_retry")
    s = sp.step(s, "execute_step", i=0)
    assert s.ran == (1, 0, 0)
    assert s.status[0] is StepStatus.DONE
    assert s.msgs == frozenset({Msg(MsgType.DONE, 0)})


def test_a_duplicate_reply_is_ignored_by_the_orchestrator():
    sp = Saga()
    s = sp.step(initial(sp), "execute_step", i=0)
    s = sp.step(s, "orchestrator_receive", m=Msg(MsgType.DONE, 0))
    again = s._replace(msgs=s.msgs | {Msg(MsgType.DONE, 0)})
    after = sp.step(again, "orchestrator_receive", m=Msg(MsgType.DONE, 0))
    assert after == s


def test_longer_sagas_stay_atomic():
    result = check(Saga(steps=4))
    assert result.ok
    assert (result.stats.distinct_states, result.stats.depth) == (6251, 28)
