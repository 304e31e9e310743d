"""explorer.refinement on a toy spec: what it accepts, where it stops, and what it reports."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from protospec.explorer import Param, Spec, action, from_state, invariant
from protospec.explorer.refinement import (
    Mapping,
    Mismatch,
    SpecStep,
    causal_merge,
    format_failure,
    refine,
)


class S(NamedTuple):
    sent: int  # the next number the sender sends
    received: tuple[int, ...]  # numbers the receiver got, in order
    net: tuple[int, ...]  # numbers in flight: a bag, as a sorted tuple


class Pipe(Spec):
    """A sender numbers messages 0, 1, 2...; the network may deliver them in any order."""

    name = "pipe"
    max_n = Param(5, "numbers sent at most")
    bound = Param(10, "an invariant's bound on numbers sent")

    def init(self):
        yield S(0, (), ())

    @action
    def send(self, s: S):
        if s.sent >= self.max_n:
            return None
        return S(s.sent + 1, s.received, tuple(sorted((*s.net, s.sent))))

    @action(m=from_state(lambda s: sorted(set(s.net))))
    def receive(self, s: S, m: int):
        net = list(s.net)
        net.remove(m)
        return S(s.sent, (*s.received, m), tuple(net))

    @invariant
    def within_bound(self, s: S) -> bool:
        """At most ``bound`` numbers are sent."""
        return s.sent <= self.bound


class PipeMapping(Mapping):
    """Events: {"a": "send", "n": k} (the sender sent k), {"a": "recv", "n": k},
    {"a": "tick"} (the sender may or may not have sent: its log is silent about which)."""

    def __init__(self, max_hidden: int = 0, **params) -> None:
        self.spec = Pipe(**params)
        self.max_hidden = max_hidden

    def explain(self, event, state):
        if event["a"] == "send":
            return [(SpecStep.of("send"),)]
        if event["a"] == "recv":
            return [(SpecStep.of("receive", m=event["n"]),)]
        return [(SpecStep.of("send"),), ()]  # tick: a send or nothing

    def mismatches(self, event, before, after):
        if event["a"] == "send" and after.sent != event["n"] + 1:
            return [Mismatch("sent", event["n"] + 1, after.sent)]
        return []

    def hidden(self, event, state):
        return [SpecStep.of("send")]


def send(n):
    return {"a": "send", "n": n}


def recv(n):
    return {"a": "recv", "n": n}


def test_a_log_of_spec_steps_is_accepted_with_its_counts():
    r = refine(PipeMapping(), [send(0), send(1), recv(1), recv(0)])
    assert r.ok and r.events == r.total_events == 4 and r.spec_steps == 4
    assert r.final_states == [S(2, (1, 0), ())]


def test_several_spec_states_are_kept_while_the_log_leaves_them_open():
    r = refine(PipeMapping(), [{"a": "tick"}, {"a": "tick"}])
    assert r.ok and r.max_states == 3  # 0, 1 or 2 sends may have happened
    r = refine(PipeMapping(), [{"a": "tick"}, {"a": "tick"}, recv(1)])
    assert r.ok and r.final_states == [S(2, (1,), (0,))]  # only two sends explain recv(1)


def test_the_check_stops_at_the_first_event_no_step_explains():
    r = refine(PipeMapping(), [send(0), recv(0), recv(0), send(1)])
    f = r.failure
    assert not r.ok and r.events == 2 and f.kind == "unexplained" and f.event_index == 2
    assert "not in its domain" in f.nearest.blocked_at  # 0 is no longer in flight


def test_the_nearest_mismatch_names_the_broken_constraint():
    r = refine(PipeMapping(), [send(0), send(5)])
    near = r.failure.nearest
    assert near.enabled and near.mismatches == [Mismatch("sent", 6, 2)]
    text = format_failure(r)
    assert text.startswith("Event 1 is not a step of the spec pipe:")
    assert "sent: the log says 6, the spec state has 2" in text


def test_unlogged_steps_are_inserted_up_to_the_mappings_bound():
    log = [recv(1)]  # needs two unlogged sends first
    assert not refine(PipeMapping(max_hidden=1), log).ok
    r = refine(PipeMapping(max_hidden=2), log)
    assert r.ok and r.hidden_steps == 2 and r.final_states == [S(2, (1,), (0,))]


def test_an_invariant_broken_on_a_reached_state_is_reported():
    r = refine(PipeMapping(bound=1), [send(0), send(1)])
    f = r.failure
    assert (f.kind, f.property_name, f.event_index) == ("invariant", "within_bound", 1)
    assert "Invariant within_bound violated" in format_failure(r)
    assert refine(PipeMapping(bound=1), [send(0), send(1)], check_properties=False).ok


def test_a_violation_is_reported_only_when_every_interpretation_of_the_log_has_it():
    # A tick may be a send (which breaks the bound) or nothing (which does not): no violation.
    assert refine(PipeMapping(bound=0), [{"a": "tick"}]).ok
    f = refine(PipeMapping(bound=0), [{"a": "tick"}, send(0)]).failure
    assert (f.kind, f.property_name, f.event_index) == ("invariant", "within_bound", 1)


def test_too_many_consistent_states_stop_the_check_as_inconclusive():
    m = PipeMapping()
    m.max_states = 2
    r = refine(m, [{"a": "tick"}, {"a": "tick"}])
    assert r.failure.kind == "too_many_states"


def test_the_failure_trace_leads_from_an_initial_state_to_the_compared_state():
    r = refine(PipeMapping(), [send(0), send(1), recv(7)])
    trace = r.failure.trace
    assert [st.action for st in trace.steps] == [None, "send", "send"]
    assert r.failure.step_events == [-1, 0, 1]


def test_causal_merge_puts_each_receive_after_its_send_and_keeps_each_log_in_order():
    a = [{"id": "a1", "send": ["m1"]}, {"id": "a2", "recv": ["m2"]}]
    b = [{"id": "b1", "recv": ["m1"]}, {"id": "b2", "send": ["m2"]}]
    merged = causal_merge([a, b], sends=lambda e: e.get("send", ()),
                          receives=lambda e: e.get("recv", ()))
    assert [e["id"] for e in merged] == ["a1", "b1", "b2", "a2"]


def test_causal_merge_refuses_logs_that_receive_before_sending():
    a = [{"recv": ["m2"]}, {"send": ["m1"]}]
    b = [{"recv": ["m1"]}, {"send": ["m2"]}]
    with pytest.raises(ValueError, match="cannot be ordered causally"):
        causal_merge([a, b], sends=lambda e: e.get("send", ()),
                     receives=lambda e: e.get("recv", ()))
