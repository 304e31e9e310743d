"""Shrinking a violation: the window still fails, every operation in it is needed, and a stale
read in a long history shrinks to the few operations around it."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from protospec.explorer.history import (
    UNKNOWN,
    Status,
    Verdict,
    Window,
    check_from,
    check_linearizable,
    get_model,
    minimal_window,
    parse_history,
)
from protospec.explorer.history.simulate import simulate_register, stale_read

from tests.explorer.test_linearizability import brute_force, make_history


def assert_minimal(window: Window, model_name: str, part_model=None) -> None:
    model = part_model or get_model(model_name)
    assert window.complete
    assert check_from(window.ops, model, starts=window.starts,
                      optional=window.optional) is Verdict.INVALID
    for i, op in enumerate(window.ops):
        relaxed = op._replace(status=Status.INFO, output=UNKNOWN)
        trial = window.ops[:i] + (relaxed,) + window.ops[i + 1:]
        assert check_from(trial, model, starts=window.starts,
                          optional=window.optional) is Verdict.VALID, op


@settings(max_examples=400, deadline=None)
@given(st.randoms(use_true_random=False), st.sampled_from(["cas-register", "queue", "set",
                                                           "lock", "kv"]))
def test_windows_of_small_histories_fail_and_need_every_operation(rnd: random.Random,
                                                                  name: str) -> None:
    ops = make_history(rnd, name, 6)
    model = get_model(name)
    if brute_force(ops, model):
        return
    result = check_linearizable(ops, model)
    window = minimal_window(result)
    assert {o.id for o in window.ops} <= {o.id for o in ops}
    assert_minimal(window, name, result.part_model)


def test_stale_read_shrinks_to_the_read_and_the_states_before_it() -> None:
    clean = simulate_register(3000, 10, seed=5)
    h = stale_read(clean, at=0.5)
    model = get_model("cas-register")
    result = check_linearizable(h, model)
    assert result.verdict is Verdict.INVALID
    window = minimal_window(result)
    assert_minimal(window, "cas-register")
    broken = [o for o in h.ops if o.output != clean.ops[o.id].output]
    assert [o.id for o in window.ops] == [broken[0].id]
    assert window.cut > 0 and len(window.starts) >= 1
    assert window.before > 1000  # the left cut dropped the first half


def test_without_a_left_cut_the_window_starts_from_the_initial_state() -> None:
    # Read 1 before anything was written: nothing earlier can explain it.
    h = parse_history(["0\t:invoke\t:read\tnil", "0\t:ok\t:read\t1",
                       "1\t:invoke\t:write\t1", "1\t:ok\t:write\t1"])
    window = minimal_window(check_linearizable(h, get_model("cas-register")))
    assert window.cut == 0 and window.starts == (None,)
    assert [o.f for o in window.ops] == ["read"]


def test_second_acquire_of_a_held_lock_shrinks_to_it_from_the_holders_state() -> None:
    # p0 acquires, p1 acquires while p0 still holds it (p2's release failed: it never happened).
    h = parse_history(["0\t:invoke\t:acquire\tnil", "0\t:ok\t:acquire\tnil",
                       "2\t:invoke\t:release\t9", "2\t:fail\t:release\t9",
                       "1\t:invoke\t:acquire\tnil", "1\t:ok\t:acquire\tnil"])
    result = check_linearizable(h, get_model("lock"))
    assert result.verdict is Verdict.INVALID
    window = minimal_window(result)
    assert_minimal(window, "lock")
    assert [o.process for o in window.ops] == [1]
    assert window.starts == (0,)  # before p1's acquire the lock can only be held by p0


def test_shrinking_a_valid_result_is_refused() -> None:
    h = simulate_register(20, 2, seed=1)
    with pytest.raises(ValueError):
        minimal_window(check_linearizable(h, get_model("cas-register")))
