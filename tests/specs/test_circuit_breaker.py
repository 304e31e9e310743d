"""circuit_breaker: closed, open and half-open (Nygard, Release It!, 2007, section 5.2)."""

from __future__ import annotations

from protospec.specs.circuit_breaker import Breaker, Call, CircuitBreaker, State


def tripped(spec: CircuitBreaker) -> State:
    s = next(iter(spec.init()))
    for _ in range(spec.threshold):
        s = spec.step(spec.step(s, "call", c=0), "call_fails", c=0)
    return s


def test_threshold_failures_trip_the_breaker_and_calls_then_fail_fast() -> None:
    spec = CircuitBreaker()
    s = tripped(spec)
    assert (s.breaker, s.timer) == (Breaker.OPEN, spec.reset_ticks)
    assert spec.step(s, "call", c=1) is None
    assert spec.step(s, "attempt_reset") is None  # the reset timeout has not elapsed


def test_a_success_in_between_resets_the_failure_count() -> None:
    spec = CircuitBreaker()
    s = next(iter(spec.init()))
    s = spec.step(spec.step(s, "call", c=0), "call_fails", c=0)
    s = spec.step(spec.step(s, "call", c=0), "call_succeeds", c=0)
    s = spec.step(spec.step(s, "call", c=0), "call_fails", c=0)
    assert (s.breaker, s.failures) == (Breaker.CLOSED, 1)


def test_half_open_admits_one_probe_whose_success_closes_the_breaker() -> None:
    spec = CircuitBreaker()
    s = tripped(spec)
    for _ in range(spec.reset_ticks):
        s = spec.step(s, "tick")
    s = spec.step(spec.step(s, "attempt_reset"), "call", c=0)
    assert (s.breaker, s.caller[0]) == (Breaker.HALF_OPEN, Call.PROBE)
    assert spec.step(s, "call", c=1) is None
    s = spec.step(s, "call_succeeds", c=0)
    assert s.breaker is Breaker.CLOSED


def test_a_failed_probe_trips_the_breaker_again() -> None:
    spec = CircuitBreaker(reset_ticks=0)
    s = spec.step(spec.step(tripped(spec), "attempt_reset"), "call", c=2)
    s = spec.step(s, "call_fails", c=2)
    assert (s.breaker, s.timer) == (Breaker.OPEN, 0)


def test_no_call_while_open_is_violated_by_letting_a_call_through_an_open_breaker() -> None:
    spec = CircuitBreaker()
    s = tripped(spec)
    t = s._replace(caller=(Call.CALL, Call.IDLE, Call.IDLE))
    assert spec.check_step(s, t) == ["no_call_while_open"]


def test_single_probe_is_violated_by_two_probes_in_flight() -> None:
    spec = CircuitBreaker()
    s = State(Breaker.HALF_OPEN, 0, 0, (Call.PROBE, Call.IDLE, Call.PROBE))
    assert spec.check_state(s) == ["single_probe"]
