"""ITF traces: what is written reads back to the same trace; bad files are refused clearly."""

from __future__ import annotations

import json

import pytest
from protospec.explorer import TraceFormatError, check
from protospec.explorer.itf import decode_value, encode_value, read_trace, trace_to_itf, write_trace
from protospec.explorer.values import format_value
from protospec.specs.two_phase_commit import TwoPhaseCommit


def counterexample():
    return check(TwoPhaseCommit.with_variant("tm_commits_early")(rms=3)).violations[0].trace


def test_a_counterexample_round_trips_through_an_itf_file(tmp_path):
    trace = counterexample()
    path = tmp_path / "trace.json"
    write_trace(trace, path, violation="atomicity")
    back, meta = read_trace(path)
    assert meta["violation"] == "atomicity"
    assert back.spec == "two_phase_commit" and back.params == {"rms": 3}
    assert back.variant == "tm_commits_early"
    assert [(s.action, s.args) for s in back.steps] == [(s.action, s.args) for s in trace.steps]
    # Values come back as plain data that prints exactly as the original did.
    for ours, theirs in zip(trace.steps, back.steps):
        assert back.var_names() == trace.var_names()
        assert [format_value(v) for v in theirs.state] == [format_value(v) for v in ours.state]
    # And writing what was read gives the same file.
    assert trace_to_itf(back, violation="atomicity")["states"] == \
        trace_to_itf(trace, violation="atomicity")["states"]


def test_the_file_uses_itf_encodings():
    data = trace_to_itf(counterexample())
    assert data["#meta"]["format"] == "ITF"
    assert data["vars"] == ["rm_state", "tm_state", "tm_prepared", "msgs"]
    first = data["states"][0]
    assert first["rm_state"] == {"#tup": [{"tag": "WORKING", "value": {"#tup": []}}] * 3}
    assert first["tm_prepared"] == {"#set": []}
    assert data["states"][1]["#meta"]["action"] == "tm_commit"


@pytest.mark.parametrize("value", [
    0, -7, 2**70, True, "x", (1, "a"), frozenset({3, 1, 2}), {1: "a", 2: "b"}, (), None,
    frozenset({(1, 2), (0, 5)}),
])
def test_plain_values_round_trip(value):
    assert decode_value(json.loads(json.dumps(encode_value(value)))) == value


def test_sets_are_written_in_a_stable_order():
    assert encode_value(frozenset({3, 1, 2})) == {"#set": [{"#bigint": str(i)} for i in (1, 2, 3)]}


def test_a_file_that_is_not_json_is_refused_with_its_position(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"vars": [}')
    with pytest.raises(TraceFormatError, match=r"not valid JSON: .* line 1, column 11"):
        read_trace(path)


def test_json_that_is_not_an_itf_trace_is_refused(tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(TraceFormatError, match="not an ITF trace"):
        read_trace(path)


def test_a_state_missing_a_variable_is_refused_naming_it(tmp_path):
    path = tmp_path / "missing.json"
    path.write_text(json.dumps({"vars": ["x", "y"], "states": [{"x": 1}]}))
    with pytest.raises(TraceFormatError, match="state 0 lacks variable 'y'"):
        read_trace(path)


def test_a_bad_bigint_is_refused_naming_the_variable(tmp_path):
    path = tmp_path / "bigint.json"
    path.write_text(json.dumps({"vars": ["x"], "states": [{"x": {"#bigint": "ten"}}]}))
    with pytest.raises(TraceFormatError, match=r"variable 'x'.*bad #bigint"):
        read_trace(path)
