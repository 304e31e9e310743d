"""lamport_clock: the Clock Condition and IR1/IR2 (Lamport, CACM 1978, section 3)."""

from __future__ import annotations

from protospec.specs.lamport_clock import NO_EVENT, Event, Kind, LamportClock, Message, State


def two_processes() -> LamportClock:
    return LamportClock(processes=2, events=3)


def test_a_receipt_jumps_past_the_message_timestamp() -> None:
    # IR2(b): Cj becomes greater than its present value and greater than Tm.
    spec = two_processes()
    s = next(iter(spec.init()))
    s = spec.step(s, "local_event", i=0)
    s = spec.step(s, "send", i=0, j=1)  # Tm = 2
    (m,) = s.msgs
    assert m.timestamp == 2
    s = spec.step(s, "receive", m=m)
    assert s.clock == (2, 3)
    assert spec.check_state(s) == []


def test_a_process_stops_after_its_event_budget() -> None:
    spec = LamportClock(processes=1, events=1)
    s = spec.step(next(iter(spec.init())), "local_event", i=0)
    assert spec.step(s, "local_event", i=0) is None


def test_clock_condition_is_violated_by_a_receipt_stamped_below_its_send() -> None:
    spec = two_processes()
    s = State(clock=(2, 1),
              history=((Event(Kind.SEND, 2, NO_EVENT, NO_EVENT),),
                       (Event(Kind.RECEIVE, 1, 0, 0),)),
              msgs=frozenset())
    assert spec.check_state(s) == ["clock_condition"]


def test_clock_condition_holds_along_a_chain_through_three_processes_until_one_lags() -> None:
    spec = LamportClock(processes=3, events=2)
    s = State(clock=(5, 2, 3),
              history=((Event(Kind.LOCAL, 5, NO_EVENT, NO_EVENT), Event(Kind.SEND, 6, NO_EVENT,
                                                                        NO_EVENT)),
                       (Event(Kind.RECEIVE, 7, 0, 1), Event(Kind.SEND, 8, NO_EVENT, NO_EVENT)),
                       (Event(Kind.RECEIVE, 9, 1, 1),)),
              msgs=frozenset())
    assert spec.check_state(s) == []
    broken = s._replace(history=s.history[:2] + ((Event(Kind.RECEIVE, 6, 1, 1),),))
    assert spec.check_state(broken) == ["clock_condition"]


def test_ir1_is_violated_by_an_event_that_does_not_advance_the_clock() -> None:
    spec = two_processes()
    s = next(iter(spec.init()))
    m = Message(0, 0, 1, 0)
    t = State(clock=(0, 0), history=((Event(Kind.SEND, 0, NO_EVENT, NO_EVENT),), ()),
              msgs=frozenset({m}))
    assert spec.check_step(s, t) == ["ir1_clock_ticks"]
    assert spec.check_step(s, spec.step(s, "send", i=0, j=1)) == []
