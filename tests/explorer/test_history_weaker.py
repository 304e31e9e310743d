"""Sequential consistency against a brute-force reference, and each session guarantee caught on
a history that breaks only it."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from protospec.explorer.errors import TraceFormatError, UsageError
from protospec.explorer.history import (
    Operation,
    Status,
    Verdict,
    check_linearizable,
    get_model,
    parse_history,
)
from protospec.explorer.history.weaker import GUARANTEES, check_sequential, check_sessions

from tests.explorer.test_linearizability import _legal, make_history


def brute_force_sequential(ops: list[Operation], model) -> bool:
    """Some order of the ok ops and some info ops that keeps each process's order is legal."""
    live = [o for o in ops if o.status is not Status.FAIL]
    required = [o for o in live if o.status is Status.OK]
    optional = [o for o in live if o.status is Status.INFO]
    for r in range(len(optional) + 1):
        for extra in itertools.combinations(optional, r):
            for order in itertools.permutations(required + list(extra)):
                in_program_order = all(
                    not (a.process == b.process and (b.call, b.id) < (a.call, a.id))
                    for a, b in itertools.combinations(order, 2))
                # Real time does not matter: check legality with every op concurrent.
                if in_program_order and _legal(
                        tuple(o._replace(call=0, ret=1) for o in order), model):
                    return True
    return False


@settings(max_examples=400, deadline=None)
@given(st.randoms(use_true_random=False),
       st.sampled_from(["cas-register", "queue", "set", "lock", "kv"]))
def test_sequential_consistency_agrees_with_brute_force(rnd: random.Random, name: str) -> None:
    ops = make_history(rnd, name, 5)
    model = get_model(name)
    result = check_sequential(ops, model)
    assert result.verdict is (Verdict.VALID if brute_force_sequential(ops, model)
                              else Verdict.INVALID)
    if result.verdict is Verdict.VALID:
        assert _legal(tuple(o._replace(call=0, ret=1) for o in result.order), model)


def _h(*lines: str):
    return parse_history([line.replace(" ", "\t", 3) for line in lines])


# p0 writes 1 then 2; p1 then reads 2 and later 1 (it went back in time).
STALE_SECOND_READ = _h("0 :invoke :write 1", "0 :ok :write 1",
                       "0 :invoke :write 2", "0 :ok :write 2",
                       "1 :invoke :read nil", "1 :ok :read 2",
                       "1 :invoke :read nil", "1 :ok :read 1")


def test_a_stale_read_by_another_process_is_sequential_but_not_linearizable() -> None:
    h = _h("0 :invoke :write 1", "0 :ok :write 1", "1 :invoke :read nil", "1 :ok :read nil")
    model = get_model("cas-register")
    assert check_linearizable(h, model).verdict is Verdict.INVALID
    assert check_sequential(h, model).verdict is Verdict.VALID


def test_reading_back_in_time_is_not_sequentially_consistent() -> None:
    result = check_sequential(STALE_SECOND_READ, get_model("cas-register"))
    assert result.verdict is Verdict.INVALID
    assert result.furthest is not None and result.furthest.stuck is not None


def _broken(h) -> set[str]:
    model = get_model("cas-register")
    return {g for g in GUARANTEES if check_sessions(h, model, [g]).verdict is Verdict.INVALID}


def test_read_your_writes_violation() -> None:
    # p0 writes 1 and then reads the initial value.
    h = _h("0 :invoke :write 1", "0 :ok :write 1", "0 :invoke :read nil", "0 :ok :read nil")
    assert _broken(h) == {"read-your-writes"}


def test_monotonic_reads_violation() -> None:
    # p1 reads 1, then the initial value again.
    h = _h("0 :invoke :write 1", "0 :ok :write 1", "1 :invoke :read nil", "1 :ok :read 1",
           "1 :invoke :read nil", "1 :ok :read nil")
    assert _broken(h) == {"monotonic-reads"}


def test_monotonic_writes_violation_shows_with_monotonic_reads() -> None:
    # p0 writes 1 then 2, so 1 comes before 2; p1 reads 2 then 1, which monotonic reads allows
    # only if 2 comes before 1. Either guarantee alone can be met.
    assert _broken(STALE_SECOND_READ) == set()
    result = check_sessions(STALE_SECOND_READ, get_model("cas-register"),
                            ["monotonic-writes", "monotonic-reads"])
    assert result.verdict is Verdict.INVALID
    assert set(result.violations[0].guarantees) == {"monotonic-writes", "monotonic-reads"}


def test_writes_follow_reads_violation_shows_with_monotonic_reads() -> None:
    # p1 reads 2 and then writes 3, so 2 comes before 3; p2 reads 3 and then 2, which monotonic
    # reads allows only if 3 comes before 2. Either guarantee alone can be met.
    h = _h("0 :invoke :write 2", "0 :ok :write 2",
           "1 :invoke :read nil", "1 :ok :read 2", "1 :invoke :write 3", "1 :ok :write 3",
           "2 :invoke :read nil", "2 :ok :read 3", "2 :invoke :read nil", "2 :ok :read 2")
    assert _broken(h) == set()
    result = check_sessions(h, get_model("cas-register"),
                            ["writes-follow-reads", "monotonic-reads"])
    assert result.verdict is Verdict.INVALID
    assert "writes-follow-reads" in result.violations[0].guarantees


def test_reading_ones_own_future_write_breaks_writes_follow_reads() -> None:
    h = _h("0 :invoke :read nil", "0 :ok :read 5", "0 :invoke :write 5", "0 :ok :write 5")
    assert _broken(h) == {"writes-follow-reads"}


def test_read_of_a_value_nobody_wrote_breaks_every_guarantee() -> None:
    h = _h("0 :invoke :write 1", "0 :ok :write 1", "1 :invoke :read nil", "1 :ok :read 7")
    assert _broken(h) == set(GUARANTEES)
    result = check_sessions(h, get_model("cas-register"), ["monotonic-reads"])
    assert "no operation wrote" in result.violations[0].message


def test_read_of_a_failed_write_is_reported() -> None:
    h = _h("0 :invoke :write 1", "0 :fail :write 1", "1 :invoke :read nil", "1 :ok :read 1")
    result = check_sessions(h, get_model("cas-register"))
    assert "whose write failed (line 1)" in result.violations[0].message


def test_kv_guarantees_are_per_key() -> None:
    h = _h("0 :invoke :write [a 1]", "0 :ok :write [a 1]",
           "0 :invoke :read [b nil]", "0 :ok :read [b nil]",
           "0 :invoke :read [a nil]", "0 :ok :read [a nil]")
    result = check_sessions(h, get_model("kv"), ["read-your-writes"])
    assert result.verdict is Verdict.INVALID
    assert result.violations[0].key == "a"


def test_consistent_session_history_passes_every_guarantee() -> None:
    from protospec.explorer.history.simulate import simulate_register

    h = simulate_register(400, 5, seed=3, keys=3)
    assert check_sessions(h, get_model("kv")).verdict is Verdict.VALID


def test_session_guarantees_need_unique_values() -> None:
    h = _h("0 :invoke :write 1", "0 :ok :write 1", "1 :invoke :write 1", "1 :ok :write 1")
    with pytest.raises(TraceFormatError, match=r"line 3: .*unique"):
        check_sessions(h, get_model("cas-register"))


def test_session_guarantees_refuse_models_without_registers() -> None:
    h = _h("0 :invoke :enqueue 1", "0 :ok :enqueue 1")
    with pytest.raises(UsageError, match="queue"):
        check_sessions(h, get_model("queue"))
