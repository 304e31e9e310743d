"""failure_detector: strong completeness and eventual strong accuracy as bounded responses
(Chandra and Toueg, JACM 1996, section 2.2; partial synchrony after Dwork, Lynch, Stockmeyer)."""

from __future__ import annotations

from protospec.explorer import check
from protospec.specs.failure_detector import FailureDetector, State


def stable_state(spec: FailureDetector, **changes) -> State:
    s = next(iter(spec.init()))._replace(stable=True)
    return s._replace(**changes)


def test_a_process_is_suspected_once_it_has_been_silent_longer_than_the_timeout() -> None:
    spec = FailureDetector()  # period 1, delay 2, timeout 3
    s = next(iter(spec.init()))
    s = spec.step(s, "crash", p=1)
    for _ in range(spec.timeout):
        s = spec.step(spec.step(s, "tick"), "send_heartbeat", p=0)
        assert 1 not in s.suspected[0]
    s = spec.step(s, "tick")
    assert 1 in s.suspected[0]


def test_a_heartbeat_lifts_a_false_suspicion() -> None:
    spec = FailureDetector()
    s = stable_state(spec, since=((0, 4), (0, 0)), suspected=(frozenset({1}), frozenset()),
                     channel=((), (), (0,), ()))
    t = spec.step(s, "deliver_heartbeat", m=(1, 0, 0))
    assert t.suspected[0] == frozenset()


def test_after_gst_time_cannot_pass_a_message_that_is_due() -> None:
    spec = FailureDetector()
    s = stable_state(spec, channel=((), (spec.delay,), (), ()))
    assert spec.step(s, "tick") is None
    assert spec.step(s._replace(stable=False), "tick") is not None


def test_strong_completeness_is_violated_by_an_unsuspected_long_crashed_process() -> None:
    spec = FailureDetector()
    s = stable_state(spec, crashed=(False, True),
                     since_crash=(0, spec.completeness_ticks))
    assert spec.check_state(s) == ["strong_completeness"]
    assert spec.check_state(s._replace(suspected=(frozenset({1}), frozenset()))) == []


def test_eventual_strong_accuracy_is_violated_by_suspecting_a_correct_process_late() -> None:
    spec = FailureDetector()
    s = stable_state(spec, since_gst=spec.accuracy_ticks,
                     suspected=(frozenset({1}), frozenset()))
    assert spec.check_state(s) == ["eventual_strong_accuracy"]
    # Before the bound (or before GST) a false suspicion is allowed.
    assert spec.check_state(s._replace(since_gst=spec.accuracy_ticks - 1)) == []


def test_the_response_bounds_are_tight() -> None:
    # One tick less than either bound is violated by the correct detector: the bounds in the
    # properties are the exact worst cases, not loose ones.
    class Tighter(FailureDetector):
        def setup(self) -> None:
            super().setup()
            self.completeness_ticks -= 1
            self.accuracy_ticks -= 1

    result = check(Tighter(), keep_going=True)
    assert sorted((v.property, len(v.trace)) for v in result.violations) == [
        ("eventual_strong_accuracy", 13), ("strong_completeness", 15)]
