"""vector_clock: vector order characterises happened-before (Mattern 1989, section 4)."""

from __future__ import annotations

from protospec.specs.vector_clock import NO_EVENT, Event, Kind, State, VectorClock


def test_a_receipt_merges_then_ticks_its_own_entry() -> None:
    spec = VectorClock(processes=2, events=2)
    s = next(iter(spec.init()))
    s = spec.step(s, "send", i=0, j=1)
    (m,) = s.msgs
    s = spec.step(s, "receive", m=m)
    assert s.vc == ((1, 0), (1, 1))
    assert spec.check_state(s) == []


def test_concurrent_events_have_incomparable_vectors() -> None:
    spec = VectorClock(processes=2, events=1)
    s = next(iter(spec.init()))
    s = spec.step(spec.step(s, "local_event", i=0), "local_event", i=1)
    assert s.vc == ((1, 0), (0, 1))
    assert spec.check_state(s) == []


def test_hb_iff_vc_less_is_violated_when_a_receipt_equals_its_send() -> None:
    spec = VectorClock(processes=2, events=1)
    s = State(vc=((1, 0), (1, 0)),
              history=((Event(Kind.SEND, (1, 0), NO_EVENT, NO_EVENT),),
                       (Event(Kind.RECEIVE, (1, 0), 0, 0),)),
              msgs=frozenset())
    assert spec.check_state(s) == ["hb_iff_vc_less"]


def test_hb_iff_vc_less_is_violated_when_unrelated_events_look_ordered() -> None:
    spec = VectorClock(processes=2, events=1)
    s = State(vc=((1, 0), (1, 1)),
              history=((Event(Kind.LOCAL, (1, 0), NO_EVENT, NO_EVENT),),
                       (Event(Kind.LOCAL, (1, 1), NO_EVENT, NO_EVENT),)),
              msgs=frozenset())
    assert "hb_iff_vc_less" in spec.check_state(s)


def test_concurrent_iff_incomparable_is_violated_by_equal_vectors_of_concurrent_events() -> None:
    # Equal vectors are neither < nor incomparable: only the second property sees it.
    spec = VectorClock(processes=2, events=1)
    s = State(vc=((1, 0), (1, 0)),
              history=((Event(Kind.LOCAL, (1, 0), NO_EVENT, NO_EVENT),),
                       (Event(Kind.LOCAL, (1, 0), NO_EVENT, NO_EVENT),)),
              msgs=frozenset())
    assert spec.check_state(s) == ["concurrent_iff_incomparable"]
