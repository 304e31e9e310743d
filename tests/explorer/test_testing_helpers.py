"""``protospec.testing``: specs checked from a user's own pytest suite.

The helpers are what a user's tests call, so the main scenario runs pytest itself on a test
file such as a user would write, and reads what pytest prints when the spec is broken.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from protospec.explorer.errors import UsageError
from protospec.testing import assert_holds, assert_violates

REPO = Path(__file__).resolve().parents[2]

USER_SPEC = '''
from typing import NamedTuple
from protospec import Spec, action, invariant


class Counter(NamedTuple):
    x: int


class Bounded(Spec):
    """A counter that must stay below 3; the variant lets it reach 3."""

    limit = 2

    def init(self):
        yield Counter(0)

    @action
    def inc(self, s):
        if s.x < self.limit:
            return Counter(s.x + 1)

    @invariant
    def below_three(self, s):
        """The counter never reaches 3."""
        return s.x < 3


@Bounded.variant("lets_it_reach_three", breaks="below_three")
class LetsItReachThree(Bounded):
    """Raises the limit by one."""

    limit = 3
'''

USER_TESTS = '''
from pathlib import Path

from protospec.testing import assert_holds, assert_violates

SPEC = str(Path(__file__).with_name("counter_spec.py"))


def test_the_counter_stays_below_three():
    assert_holds(SPEC)


def test_the_variant_is_caught():
    assert_violates(SPEC, "below_three", variant="lets_it_reach_three")


def test_the_variant_holds():  # wrong on purpose: the report must show why
    assert_holds(SPEC, variant="lets_it_reach_three")


def test_two_phase_commit_early_commit_holds():  # wrong on purpose
    assert_holds("two_phase_commit", variant="tm_commits_early")
'''


def test_a_users_pytest_file_fails_with_the_counterexample_in_its_message(tmp_path) -> None:
    (tmp_path / "counter_spec.py").write_text(USER_SPEC)
    (tmp_path / "test_user_specs.py").write_text(USER_TESTS)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "test_user_specs.py"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "2 failed, 2 passed" in out
    # The user's own spec, named after its file: the three steps to x = 3, as `protospec
    # check` prints them.
    assert "Check of counter_spec, variant lets_it_reach_three" in out
    assert "Invariant below_three violated" in out
    assert "Shortest counterexample: 3 steps" in out
    assert "^ state 3 violates below_three" in out
    # A built-in spec: the counterexample of the README.
    assert "rm_rcv_commit_msg(rm=1)" in out
    assert "^ state 3 violates atomicity" in out


def test_assert_holds_returns_the_result_with_tlcs_state_count() -> None:
    # TLC: 288 distinct states for TwoPhase.tla with 3 resource managers.
    assert assert_holds("two_phase_commit", params={"rms": 3}).stats.distinct_states == 288


def test_assert_violates_returns_the_shortest_counterexample() -> None:
    v = assert_violates("two_phase_commit", "atomicity", variant="tm_commits_early")
    assert v.kind == "invariant" and len(v.trace) == 3


def test_a_bounded_check_does_not_count_as_holding() -> None:
    with pytest.raises(AssertionError, match="stopped early"):
        assert_holds("two_phase_commit", max_states=10)
    assert assert_holds("two_phase_commit", max_states=10, allow_incomplete=True)


def test_expecting_a_violation_of_a_property_that_holds_fails_with_the_report() -> None:
    with pytest.raises(AssertionError, match="every reachable state was explored"):
        assert_violates("two_phase_commit", "atomicity")


def test_a_property_the_spec_does_not_have_is_named() -> None:
    with pytest.raises(AssertionError, match="no property 'atomcity'"):
        assert_violates("two_phase_commit", "atomcity", variant="tm_commits_early")


def test_an_unknown_variant_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="variant"):
        assert_holds("two_phase_commit", variant="nope")
