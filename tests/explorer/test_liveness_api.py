"""The liveness API of a spec: fairness on actions, @liveness formulas, @sometimes, and what a
check makes of them end to end (search, edge log, fair cycles, replayed lasso)."""

from __future__ import annotations

import pytest
from protospec.explorer.liveness.run import check

from protospec import (
    Param,
    Spec,
    SpecError,
    action,
    always_eventually,
    eventually,
    leads_to,
    liveness,
    sometimes,
)


class Ping(Spec):
    """States 0 and 1 flip back and forth; from 0 only, ``leave`` reaches the goal 2."""

    name = "ping"
    leave_fairness = Param("weak", "fairness of leave", type=str)

    def init(self):
        yield 0

    @action(fair="weak")
    def flip(self, s: int) -> int | None:
        return 1 - s if s in (0, 1) else None

    @action
    def leave(self, s: int) -> int | None:
        return 2 if s == 0 else None

    @liveness
    def reaches_two(self):
        """The behaviour eventually reaches state 2."""
        return eventually(lambda s: s == 2)


class PingWeak(Ping):
    @action(fair="weak")
    def leave(self, s: int) -> int | None:
        return 2 if s == 0 else None


class PingStrong(Ping):
    @action(fair="strong")
    def leave(self, s: int) -> int | None:
        return 2 if s == 0 else None


def test_fairness_is_declared_per_action_and_a_subclass_may_change_it():
    assert Ping.fairness() == {"flip": "weak"}
    assert PingWeak.fairness() == {"flip": "weak", "leave": "weak"}
    assert PingStrong.fairness()["leave"] == "strong"


def test_weak_fairness_is_not_enough_when_the_action_is_enabled_only_now_and_then():
    (v,) = check(PingWeak()).violations
    assert v.kind == "liveness" and v.property == "reaches_two"
    assert [s.state for s in v.trace.steps] == [0, 1, 0]
    assert v.trace.loop == 0


def test_strong_fairness_forces_the_action_that_is_enabled_infinitely_often():
    assert check(PingStrong()).ok


def test_without_fairness_a_behaviour_may_flip_forever():
    assert not check(Ping()).ok


class Stuck(Spec):
    """0 -> 1 and then nothing: a deadlock, which repeats its state forever."""

    name = "stuck"

    def init(self):
        yield 0

    @action(fair="strong")
    def go(self, s: int) -> int | None:
        return 1 if s == 0 else None

    @liveness
    def reaches_two(self):
        return eventually(lambda s: s == 2)

    @liveness
    def keeps_visiting_one(self):
        return always_eventually(lambda s: s == 1)

    @sometimes
    def one_is_reached(self, s: int) -> bool:
        return s == 1

    @sometimes
    def two_is_reached(self, s: int) -> bool:
        return s == 2


def test_a_deadlock_counts_as_stuttering_forever():
    result = check(Stuck())
    found = {v.property: v for v in result.violations}
    assert found["reaches_two"].trace.stutters
    assert [s.state for s in found["reaches_two"].trace.steps] == [0, 1]
    assert "keeps_visiting_one" not in found  # stuttering in state 1 visits it forever


def test_sometimes_fails_only_when_no_reachable_state_satisfies_it():
    found = {v.property: v for v in check(Stuck()).violations}
    assert found["two_is_reached"].kind == "sometimes"
    assert "one_is_reached" not in found


class TwoWays(Spec):
    """Two actions make the same moves between 0 and 1; only ``fair_move`` is fair, and a goal
    state 2 is reachable by an unfair action. The cycle of the lasso must take ``fair_move``."""

    name = "two_ways"

    def init(self):
        yield 0

    @action
    def unfair_move(self, s: int) -> int | None:
        return 1 - s if s in (0, 1) else None

    @action(fair="weak")
    def fair_move(self, s: int) -> int | None:
        return 1 - s if s in (0, 1) else None

    @action
    def escape(self, s: int) -> int | None:
        return 2 if s == 1 else None

    @liveness
    def escapes(self):
        return eventually(lambda s: s == 2)


def test_a_lasso_replays_the_very_actions_that_make_its_cycle_fair():
    (v,) = check(TwoWays()).violations
    cycle = v.trace.steps[v.trace.loop + 1:]
    assert "fair_move" in {st.action for st in cycle}


class Workers(Spec):
    """Worker i may finish; worker 1's finishing is not fair."""

    name = "workers"

    def init(self):
        yield (False, False)

    @action(i=lambda self: (0,), fair="weak")
    def finish(self, s: tuple, i: int):
        return None if s[i] else tuple(True if k == i else x for k, x in enumerate(s))

    @action(i=lambda self: (1,))
    def finish_slowly(self, s: tuple, i: int):
        return None if s[i] else tuple(True if k == i else x for k, x in enumerate(s))

    @action
    def idle(self, s: tuple):
        return s  # a step that changes nothing: stuttering

    @liveness
    def each_finishes(self):
        """Every worker eventually finishes."""
        return leads_to(lambda s, i: True, lambda s, i: s[i], over=(0, 1))


def test_a_formula_over_a_domain_names_the_instance_it_breaks():
    (v,) = check(Workers()).violations
    assert v.instance == 1
    assert v.to_dict()["instance"] == 1


def test_fairness_must_be_weak_strong_or_none():
    with pytest.raises(SpecError, match="weak"):
        action(fair="eventually")


def test_a_liveness_method_must_return_a_formula():
    class Bad(Spec):
        name = "bad"

        def init(self):
            yield 0

        @liveness
        def nonsense(self):
            return lambda s: True

    with pytest.raises(SpecError, match="must return eventually"):
        Bad()


def test_the_helpers_need_state_predicates():
    with pytest.raises(TypeError):
        eventually(True)  # type: ignore[arg-type]
