"""The linearizability checker against a brute-force reference, and its verdicts on scenarios.

The reference enumerates every subset of the operations that may not have happened and every
order of the rest, keeps the orders that respect real time, and runs the model over them. It
shares no code with the checker but the models' step functions.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protospec.explorer.history import (
    INFINITY,
    UNKNOWN,
    CasRegister,
    KeyValue,
    Model,
    Operation,
    Status,
    Verdict,
    check_linearizable,
    check_naive,
    get_model,
)
from protospec.explorer.history.linearizability import _search_part

# ---------------------------------------------------------------------------------------------
# Brute force


def brute_force(ops: list[Operation], model: Model) -> bool:
    """True iff some order of some of the operations is a linearization (by enumeration)."""
    live = [o for o in ops if o.status is not Status.FAIL]
    required = [o for o in live if o.status is Status.OK]
    optional = [o for o in live if o.status is Status.INFO]
    for r in range(len(optional) + 1):
        for extra in itertools.combinations(optional, r):
            chosen = required + list(extra)
            for order in itertools.permutations(chosen):
                if _legal(order, model):
                    return True
    return False


def _legal(order: tuple[Operation, ...], model: Model) -> bool:
    for a, b in itertools.combinations(order, 2):  # a is placed before b
        if b.ret < a.call:
            return False
    state = model.init()
    for op in order:
        inp, expected = model.prepare(op)
        ok, out, state = model.step(state, inp)
        if not ok:
            return False
        if op.status is Status.OK and expected is not UNKNOWN and out != expected:
            return False
    return True


def respects_real_time_and_model(order: list[Operation], ops: list[Operation],
                                 model: Model) -> bool:
    """A witness is a legal order of all ok operations (and some info ones)."""
    ok_ids = {o.id for o in ops if o.status is Status.OK}
    return ok_ids <= {o.id for o in order} and _legal(tuple(order), model)


# ---------------------------------------------------------------------------------------------
# Random small histories: a simulated run, with some results corrupted


INPUTS: dict[str, list[tuple[str, Any]]] = {
    "cas-register": [("read", None)] + [("write", v) for v in range(3)]
    + [("cas", (a, b)) for a in range(2) for b in range(3)],
    "queue": [("dequeue", None)] * 3 + [("enqueue", v) for v in range(3)],
    "set": [("read", None), ("contains", 1), ("contains", 2)]
    + [("add", v) for v in (1, 2)] + [("remove", v) for v in (1, 2)],
    "lock": [("acquire", None), ("release", None)],
    "kv": [("read", (k, None)) for k in "ab"] + [("write", (k, v)) for k in "ab" for v in (1, 2)]
    + [("cas", (k, (1, 2))) for k in "ab"],
}
OUTPUTS: dict[str, list[Any]] = {
    "cas-register": [None, 0, 1, 2],
    "queue": [None, 0, 1, 2],
    "set": [frozenset(), frozenset({1}), frozenset({1, 2})],
    "set-contains": [True, False],
    "lock": [None],
    "kv": [None, 1, 2],
}


def make_history(rnd: random.Random, model_name: str, n: int) -> list[Operation]:
    """Operations with random intervals whose results come from a random linearization, then
    maybe corrupted; some end in fail (did not happen) or info (open, result unknown)."""
    model = get_model(model_name)
    ranks = list(range(2 * n))
    rnd.shuffle(ranks)
    ops = []
    for i in range(n):
        f, value = rnd.choice(INPUTS[model_name])
        a, b = sorted(ranks[2 * i:2 * i + 2])
        ops.append(Operation(i, rnd.randrange(3), f, value, UNKNOWN, Status.OK, a, b))
    # Linearize at random points inside each interval and record what the model returns.
    points = sorted(range(n), key=lambda i: rnd.uniform(ops[i].call, ops[i].ret))
    state = model.init()
    for i in points:
        op = ops[i]
        if model_name == "lock" and rnd.random() < 0.5:
            op = op._replace(value=rnd.randrange(2))
        inp, _ = model.prepare(op)
        ok, out, new_state = model.step(state, inp)
        if ok:
            state = new_state
        output = (op.value[0], out) if model_name == "kv" else out
        # A cas that found another value fails; a lock op that cannot happen stays "ok" so
        # that some lock histories are not linearizable.
        status = Status.OK if ok or model_name == "lock" else Status.FAIL
        ops[i] = op._replace(output=output, status=status)
    # Corrupt: change a result, or turn an operation into fail or info.
    for i in range(n):
        roll = rnd.random()
        if roll < 0.15:
            kind = "set-contains" if ops[i].f == "contains" else model_name
            out = rnd.choice(OUTPUTS[kind])
            ops[i] = ops[i]._replace(output=(ops[i].value[0], out) if model_name == "kv" else out,
                                     status=Status.OK)
        elif roll < 0.25:
            ops[i] = ops[i]._replace(status=Status.FAIL)
        elif roll < 0.4:
            ops[i] = ops[i]._replace(status=Status.INFO, output=UNKNOWN, ret=INFINITY)
    return ops


def histories(model_name: str, max_ops: int = 6) -> st.SearchStrategy[list[Operation]]:
    return st.builds(make_history, st.randoms(use_true_random=False), st.just(model_name),
                     st.integers(1, max_ops))


FAST = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _agree(ops: list[Operation], model_name: str) -> None:
    model = get_model(model_name)
    expected = brute_force(ops, model)
    result = check_linearizable(ops, model)
    assert result.verdict is (Verdict.VALID if expected else Verdict.INVALID), ops
    if expected:
        # The witness itself is checked: one legal order per part, covering every ok op.
        part_model = model.register if isinstance(model, KeyValue) else model
        for order in result.linearizations.values():
            assert _legal(tuple(order), part_model)
        taken = {o.id for order in result.linearizations.values() for o in order}
        assert {o.id for o in ops if o.status is Status.OK} <= taken
    assert check_naive(ops, model) is result.verdict
    # The search without the read reduction (the shrinker's) agrees too.
    live = [o for o in ops if o.status is not Status.FAIL]
    assert _search_part(live, model, reduce=False)[0] is result.verdict


@pytest.mark.slow
@FAST
@given(histories("cas-register"))
def test_register_agrees_with_brute_force(ops: list[Operation]) -> None:
    _agree(ops, "cas-register")


@pytest.mark.slow
@FAST
@given(histories("queue"))
def test_queue_agrees_with_brute_force(ops: list[Operation]) -> None:
    _agree(ops, "queue")


@pytest.mark.slow
@FAST
@given(histories("set"))
def test_set_agrees_with_brute_force(ops: list[Operation]) -> None:
    _agree(ops, "set")


@pytest.mark.slow
@FAST
@given(histories("lock"))
def test_lock_agrees_with_brute_force(ops: list[Operation]) -> None:
    _agree(ops, "lock")


@pytest.mark.slow
@FAST
@given(histories("kv"))
def test_kv_agrees_with_brute_force(ops: list[Operation]) -> None:
    _agree(ops, "kv")


def test_a_write_of_the_current_value_is_not_taken_as_a_read() -> None:
    """Found by the brute-force comparison: "w 0" while the register holds 0 changes nothing
    there, but it cannot be taken early without branching, since later it may not be a no-op."""
    ops = [Operation(0, 0, "write", 1, None, Status.OK, 2, 3),
           Operation(1, 0, "write", 0, 2, Status.OK, 1, 7),
           Operation(2, 0, "write", 2, None, Status.OK, 4, 5),
           Operation(3, 0, "write", 1, None, Status.OK, 0, 9),
           Operation(4, 0, "write", 0, None, Status.OK, 6, 11),
           Operation(5, 0, "cas", (1, 0), 2, Status.OK, 8, 10)]
    assert brute_force(ops, CasRegister())
    assert check_linearizable(ops, CasRegister()).verdict is Verdict.VALID


def test_random_histories_cover_both_verdicts_and_all_statuses() -> None:
    """The generator is not vacuous: it yields valid and invalid histories, fail and info ops."""
    for name in INPUTS:
        model = get_model(name)
        verdicts, statuses = set(), set()
        for seed in range(200):
            ops = make_history(random.Random(seed), name, 5)
            statuses |= {o.status for o in ops}
            verdicts.add(brute_force(ops, model))
        assert verdicts == {True, False}, name
        assert statuses == {Status.OK, Status.INFO, Status.FAIL}, name
