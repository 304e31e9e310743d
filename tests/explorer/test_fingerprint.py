"""Fingerprints are structural: equal values agree everywhere, different values never collide by
construction, and whatever cannot be fingerprinted is a spec error naming where it is."""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protospec.explorer import check
from protospec.explorer import fingerprint as fpmod
from protospec.explorer.errors import SpecError
from protospec.explorer.fingerprint import (
    UnsupportedValue,
    find_unsupported,
    fingerprint,
    fingerprint_py,
)

ROOT = Path(__file__).resolve().parents[2]


class Colour(enum.Enum):
    RED = 1
    BLUE = 2


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class A(NamedTuple):
    x: int


class B(NamedTuple):
    x: int


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: tuple


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "protospec", *args], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=300)


# -- values -----------------------------------------------------------------------------------

leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2**200), max_value=2**200),
    st.floats(allow_nan=False), st.text(max_size=20), st.binary(max_size=20),
    st.sampled_from(list(Colour) + list(Level)))


def _compose(children):
    return st.one_of(
        st.lists(children, max_size=5).map(tuple),
        st.frozensets(children, max_size=5),
        children.map(A), children.map(B),
        st.tuples(children, st.lists(children, max_size=3).map(tuple)).map(lambda p: Point(*p)))


values = st.recursive(leaves, _compose, max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(values)
def test_the_compiled_fingerprint_equals_the_pure_python_reference(value):
    assert fingerprint(value) == fingerprint_py(value)


def test_the_source_tree_import_uses_the_compiled_extension():
    # CI installs a C compiler (.ci/run): the hot path must not silently run the slow fallback.
    assert fpmod.implementation == "c"


@settings(max_examples=150, deadline=None)
@given(values, values)
def test_values_that_differ_get_different_fingerprints(a, b):
    if a == b and type(a) is type(b) and repr(a) == repr(b):
        assert fingerprint(a) == fingerprint(b)
    elif a != b:
        assert fingerprint(a) != fingerprint(b)


@pytest.mark.parametrize("a, b", [
    (-1, -2),  # hash(-1) == hash(-2) in CPython
    (2**61 - 1, 0),  # ints hash modulo 2**61 - 1
    (2**64, 0), (2**63, -(2**63)), (1, True), (0, False), (1, 1.0), (None, 0), ("", b""),
    ((1, 2), (2, 1)), ((1,), ((1,),)), ((), frozenset()), (A(1), B(1)), (A(1), (1,)),
    (Colour.RED, Level.LOW), (Colour.RED, 1), (Level.LOW, 1),
    (frozenset({1, 2}), frozenset({3})), (frozenset({(1, 2)}), frozenset({1, 2})),
    (Point(1, ()), (1, ())), ("a", "a\x00"),
])
def test_structurally_close_values_do_not_collide(a, b):
    assert fingerprint(a) != fingerprint(b)


def test_a_frozenset_fingerprint_does_not_depend_on_insertion_order():
    # -1 and -2 share a hash() bucket, so the two builds iterate in different orders.
    items = [-1, -2, "x", A(3), (1, 2), Colour.BLUE]
    assert fingerprint(frozenset(items)) == fingerprint(frozenset(reversed(items)))


def test_minus_zero_and_zero_share_a_fingerprint_as_they_are_equal():
    assert fingerprint(-0.0) == fingerprint(0.0)


_PROBE = textwrap.dedent("""
    import json
    from protospec.explorer.fingerprint import fingerprint
    from protospec.specs.two_phase_commit import TwoPhaseCommit
    spec = TwoPhaseCommit(rms=3)
    states = [s for s in spec.init()]
    for _ in range(3):
        states += [t for s in list(states) for _, t in spec.successors(s)]
    extra = ["text", ("a", frozenset({"b", "c"})), frozenset(range(50)), None, 2**100]
    print(json.dumps([fingerprint(s) for s in states + extra]))
""")


def test_the_same_states_get_the_same_fingerprints_in_processes_with_different_hash_seeds():
    results = []
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True,
                             text=True, env=env, check=True, timeout=120)
        results.append(json.loads(out.stdout))
    assert results[0] == results[1] == results[2]
    assert len(results[0]) > 100


# -- what the search owes the user ---------------------------------------------------------------

NEGATIVE_OWNER = textwrap.dedent('''
    """An owner that can become -1 or -2; only -2 is bad (hash(-1) == hash(-2) in CPython)."""
    from typing import NamedTuple
    from protospec import Spec, action, invariant

    class S(NamedTuple):
        owner: int

    class NegativeOwner(Spec):
        def init(self):
            yield S(0)

        @action
        def to_minus_one(self, s):
            return S(-1) if s.owner == 0 else None

        @action
        def to_minus_two(self, s):
            return S(-2) if s.owner == 0 else None

        @invariant
        def owner_not_minus_two(self, s):
            return s.owner != -2
''')


def test_states_minus_one_and_minus_two_are_both_explored_and_the_violation_found(tmp_path):
    spec_file = tmp_path / "negative_owner.py"
    spec_file.write_text(NEGATIVE_OWNER)
    out = run_cli("check", str(spec_file), "--json")
    assert out.returncode == 1, out.stderr
    data = json.loads(out.stdout)
    assert data["violations"][0]["property"] == "owner_not_minus_two"
    assert data["violations"][0]["length"] == 1


def test_two_message_types_with_equal_fields_are_two_states():
    from protospec.explorer import Spec, action

    class Send(Spec):
        """Send A(1) or B(1): a message set holding one or the other."""

        name = "send"

        def init(self):
            yield frozenset()

        @action
        def send_a(self, s):
            return s | {A(1)} if not s else None

        @action
        def send_b(self, s):
            return s | {B(1)} if not s else None

    result = check(Send())
    assert result.stats.distinct_states == 3


UNSUPPORTED = textwrap.dedent('''
    """A message whose payload is something without value semantics."""
    from typing import NamedTuple
    from protospec import Param, Spec, action

    class Msg(NamedTuple):
        to: int
        payload: object

    class S(NamedTuple):
        step: int
        msgs: tuple

    class Holder(Spec):
        kind = Param("function", "what the third message carries")

        def init(self):
            yield S(0, ())

        @action
        def send(self, s):
            if s.step >= 4:
                return None
            if s.step == 3:
                payload = {"object": object(), "function": lambda: 1, "list": [1],
                           "dict": {1: 2}}[self.kind]
            else:
                payload = s.step
            return S(s.step + 1, s.msgs + (Msg(1, payload),))
''')


def _load_holder(tmp_path):
    from protospec.explorer.loader import load_spec

    spec_file = tmp_path / "holder.py"
    spec_file.write_text(UNSUPPORTED)
    return spec_file, load_spec(str(spec_file))


@pytest.mark.parametrize("kind, what", [("object", "an instance of object"),
                                        ("function", "a function"), ("list", "a list"),
                                        ("dict", "a dict")])
def test_a_state_holding_a_value_without_value_semantics_is_a_spec_error_naming_where(
        tmp_path, kind, what):
    _, cls = _load_holder(tmp_path)
    with pytest.raises(SpecError) as err:
        check(cls(kind=kind))
    assert f"state.msgs[3].payload is {what}" in str(err.value)
    assert "action send()" in str(err.value) and "step 4" in str(err.value)


def test_the_cli_exits_2_for_such_a_state_without_a_traceback(tmp_path):
    spec_file, _ = _load_holder(tmp_path)
    out = run_cli("check", str(spec_file), "-p", "kind=function")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "state.msgs[3].payload is a function" in out.stderr
    assert "Traceback" not in out.stderr


def test_find_unsupported_walks_namedtuples_dataclasses_and_frozensets():
    assert find_unsupported(A(Point(1, (2, [3])))) == "state.x.y[1] is a list (use a tuple)"
    assert find_unsupported(frozenset({A(1)})) is None
    with pytest.raises(UnsupportedValue):
        fingerprint_py(A(set()))
    with pytest.raises(TypeError):
        fingerprint(A(set()))
