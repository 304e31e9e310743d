"""mutual_exclusion: Ricart and Agrawala (CACM 1981), section 2."""

from __future__ import annotations

from protospec.specs.mutual_exclusion import Kind, Msg, MutualExclusion, Phase, State


def initial(spec: MutualExclusion) -> State:
    return next(iter(spec.init()))


def test_on_equal_numbers_the_smaller_id_goes_first() -> None:
    spec = MutualExclusion(processes=2)
    s = spec.step(spec.step(initial(spec), "request_cs", i=0), "request_cs", i=1)
    assert s.our_seq == (1, 1)
    s = spec.step(s, "receive_request", m=Msg(Kind.REQUEST, 0, 1, 1))  # 1 yields to (1, 0)
    s = spec.step(s, "receive_request", m=Msg(Kind.REQUEST, 1, 0, 1))  # 0 defers (1, 1)
    assert s.deferred == (frozenset({1}), frozenset())
    assert s.msgs == {Msg(Kind.REPLY, 1, 0, 0)}
    s = spec.step(spec.step(s, "receive_reply", m=Msg(Kind.REPLY, 1, 0, 0)), "enter_cs", i=0)
    assert spec.step(s, "enter_cs", i=1) is None
    s = spec.step(s, "exit_cs", i=0)  # the deferred reply goes out
    s = spec.step(spec.step(s, "receive_reply", m=Msg(Kind.REPLY, 0, 1, 0)), "enter_cs", i=1)
    assert s.phase == (Phase.IDLE, Phase.CRITICAL)


def test_a_new_request_is_numbered_above_every_request_seen() -> None:
    spec = MutualExclusion(processes=2)
    s = spec.step(initial(spec), "request_cs", i=0)
    s = spec.step(s, "receive_request", m=Msg(Kind.REQUEST, 0, 1, 1))
    s = spec.step(s, "request_cs", i=1)
    assert s.our_seq == (1, 2)


def test_mutual_exclusion_is_violated_by_two_processes_in_the_critical_section() -> None:
    spec = MutualExclusion()
    s = initial(spec)._replace(phase=(Phase.CRITICAL, Phase.CRITICAL, Phase.IDLE),
                               our_seq=(1, 2, 0))
    assert spec.check_state(s) == ["mutual_exclusion"]


def test_timestamp_order_is_violated_by_serving_a_later_request_first() -> None:
    spec = MutualExclusion()
    s = initial(spec)._replace(phase=(Phase.REQUESTING, Phase.CRITICAL, Phase.IDLE),
                               our_seq=(1, 1, 0))
    assert spec.check_state(s) == ["timestamp_order"]
