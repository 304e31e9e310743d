"""rate_limiter: a token bucket shared through leases holds its global limit (RFC 2697 section
3); per-node counters over-admit, and the checker measures by how much.

Counts and lengths were measured with explorer.check (docs/specs/rate_limiter.md).
"""

from __future__ import annotations

import pytest
from protospec.explorer import check
from protospec.specs.rate_limiter import RateLimiter, State

from tests.specs.catalogue_checks import (
    assert_cli_names_broken_property,
    assert_default_exhausts,
    assert_documented,
    assert_variant_caught,
    run,
    start,
)


def test_the_default_configuration_exhausts_with_no_violation() -> None:
    assert_default_exhausts(RateLimiter, 183, 11)


def test_three_nodes_leasing_two_tokens_at_a_time_exhaust_with_no_violation() -> None:
    assert_default_exhausts(RateLimiter, 10153, 15,
                            {"nodes": 3, "capacity": 3, "ticks": 3, "batch": 2})


def test_local_counters_over_admit() -> None:
    assert_variant_caught(RateLimiter, "local_counters", 5)


def test_the_command_line_exits_1_naming_global_limit(capsys) -> None:
    assert_cli_names_broken_property(RateLimiter, "local_counters", 5, capsys)


@pytest.mark.parametrize(("nodes", "worst"), [(2, 4), pytest.param(3, 8, marks=pytest.mark.slow)])
def test_local_counters_over_admit_by_nodes_minus_one_full_buckets_and_refills(nodes: int,
                                                                               worst: int) -> None:
    # (nodes - 1) * (capacity + refill * w) for the widest window, w = 2: the smallest
    # tolerance that passes is the worst over-admission the checker can reach.
    variant = RateLimiter.with_variant("local_counters")
    assert not check(variant(nodes=nodes, tolerance=worst - 1)).ok
    assert check(variant(nodes=nodes, tolerance=worst)).ok


def test_a_leased_token_is_no_longer_in_the_central_bucket() -> None:
    spec = RateLimiter()
    s = run(spec, start(spec), ("sync", {"n": 0}), ("sync", {"n": 1}))
    assert (s.tokens, s.local) == (0, (1, 1))
    s = run(spec, s, ("admit", {"n": 0}), ("admit", {"n": 1}))
    assert s.admitted == (2,)
    s = run(spec, s, ("sync", {"n": 0}))  # reports its admission; nothing left to lease
    assert (s.tokens, s.local, s.spent) == (0, (0, 0), (0, 1))
    assert spec.step(s, "admit", n=0) is None  # refused until the next tick's refill


def test_leased_tokens_count_against_the_depth_at_a_refill() -> None:
    spec = RateLimiter()
    s = run(spec, start(spec), ("sync", {"n": 0}), ("tick", {}))
    assert (s.tokens, s.local) == (1, (1, 0))  # 1 + 1 leased = the depth, 2


def test_global_limit_fails_on_a_window_over_capacity_plus_refills() -> None:
    spec = RateLimiter()
    ok = State(now=2, tokens=0, local=(0, 0), spent=(0, 0), admitted=(2, 1, 1))
    assert spec.check_state(ok) == []
    assert spec.check_state(ok._replace(admitted=(1, 2, 1))) == []  # every window at its limit
    bad = ok._replace(admitted=(0, 2, 2))  # ticks 1-2: 4 > 2 + 1
    assert spec.check_state(bad) == ["global_limit"]


def test_the_spec_is_documented() -> None:
    assert_documented(RateLimiter)
