"""barrier: a reusable coordinator barrier (Mellor-Crummey and Scott, TOCS 1991, section 3;
Andrews 2000, section 3.4)."""

from __future__ import annotations

from protospec.specs.barrier import Barrier, Kind, Msg, State


def initial(spec: Barrier) -> State:
    return next(iter(spec.init()))


def test_the_round_is_released_only_after_every_arrival_is_counted() -> None:
    spec = Barrier(processes=2, rounds=1)
    s = initial(spec)
    for p in spec.P:
        s = spec.step(s, "arrive", p=p)
    s = spec.step(s, "count_arrival", m=Msg(Kind.ARRIVE, 0, 0))
    assert spec.step(s, "release") is None
    s = spec.step(s, "count_arrival", m=Msg(Kind.ARRIVE, 1, 0))
    s = spec.step(s, "release")
    assert (s.coord_round, s.count) == (1, 0)  # released, reset and moved on in one step
    s = spec.step(s, "leave", m=Msg(Kind.RELEASE, 0, 0))
    assert s.round == (1, 0)
    assert spec.check_state(s) == []


def test_an_arrival_for_a_later_round_waits_for_the_coordinator() -> None:
    spec = Barrier(processes=2)
    s = initial(spec)._replace(msgs=frozenset({Msg(Kind.ARRIVE, 0, 1)}))
    assert spec.step(s, "count_arrival", m=Msg(Kind.ARRIVE, 0, 1)) is None


def test_no_early_leave_is_violated_by_leaving_before_another_has_arrived() -> None:
    spec = Barrier()
    s = initial(spec)._replace(round=(1, 0, 0, 0), arrived=(False, True, False, True))
    assert spec.check_state(s) == ["no_early_leave"]
    assert spec.check_state(s._replace(arrived=(False, True, True, True))) == []


def test_no_early_leave_is_violated_by_running_two_rounds_ahead() -> None:
    spec = Barrier()
    s = initial(spec)._replace(round=(2, 1, 1, 0), arrived=(False, True, True, True))
    assert spec.check_state(s) == ["no_early_leave"]
