"""Fuzzing the readers of user files: whatever the bytes, the CLI exits 0, 1, 2 or 3 and never
shows a traceback (4 would mean a crash inside protospec; a traceback, an unhandled one).

Each reader gets arbitrary bytes and mutations of a valid file (bytes flipped, cut, repeated,
inserted), which reach deeper than random bytes: past the first line, into the structure.
The CLI runs in-process; the number of examples is fixed, so the time is bounded (a few
seconds per reader) and the run is the same in CI as here (derandomized).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protospec.explorer.cli.main import main

# PROTOSPEC_FUZZ_EXAMPLES=2000 fuzzes longer by hand; CI runs the fixed, derandomized 60.
FUZZ = settings(max_examples=int(os.environ.get("PROTOSPEC_FUZZ_EXAMPLES", "60")),
                deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

VALID_ITF = json.dumps({
    "#meta": {"format": "ITF", "source": "two_phase_commit", "params": {"rms": {"#bigint": "2"}},
              "violation": "atomicity"},
    "vars": ["rm_state", "msgs"],
    "states": [
        {"#meta": {"index": 0}, "rm_state": {"#tup": [{"tag": "working", "value": {"#tup": []}},
                                                      "x"]},
         "msgs": {"#set": []}},
        {"#meta": {"index": 1, "action": "tm_commit", "args": {"rm": {"#bigint": "0"}}},
         "rm_state": {"#tup": [{"tag": "working", "value": {"#tup": []}}, "x"]},
         "msgs": {"#set": [{"tag": "Commit", "value": {"rm": {"#bigint": "1"}}}]}},
    ]}, indent=1).encode()

VALID_CONFIG = b'''spec = "two_phase_commit"
invariants = ["atomicity", "small: len(msgs) <= 9"]
max_states = 10000

[params]
rms = 2
'''

VALID_JSONL = b'''{"process": 0, "type": "invoke", "f": "write", "value": 1}
{"process": 1, "type": "invoke", "f": "cas", "value": [1, 2]}
{"process": 0, "type": "ok", "f": "write", "value": 1}
{"process": 1, "type": "ok", "f": "cas", "value": [1, 2]}
{"process": 2, "type": "invoke", "f": "read", "value": null}
{"process": 2, "type": "ok", "f": "read", "value": 2}
'''

VALID_EDN = b'''{:process 0, :type :invoke, :f :put, :key "x", :value "a"}
{:process 0, :type :ok, :f :put, :key "x", :value "a"}
{:process 1, :type :invoke, :f :append, :key "x", :value "b"}
{:process 1, :type :ok, :f :append, :key "x", :value "b"}
{:process 2, :type :invoke, :f :get, :key "x", :value nil}
{:process 2, :type :ok, :f :get, :key "x", :value "ab"}
'''

VALID_JEPSEN = b'''INFO  jepsen.util - 0\t:invoke\t:write\t1
INFO  jepsen.util - 0\t:ok\t:write\t1
1 :invoke :cas [1 2]
1 :ok :cas [1 2]
:nemesis\t:info\t:start\tnil
2 :invoke :read nil
2 :ok :read 2
'''

VALID_EVENTS = (json.dumps({"n": 1, "action": "timeout", "t": 1, "i": 0,
                            "state": {"term": 1, "role": "candidate", "voted_for": 1,
                                      "log_len": 0, "last_term": 0, "commit": 0}})
                + "\n").encode()


@st.composite
def mutated(draw: st.DrawFn, valid: bytes) -> bytes:
    """``valid`` with a few random edits: flip, delete, duplicate or insert bytes."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "delete", "repeat", "insert", "interesting"]))
        if kind == "flip":
            data[i] = draw(st.integers(0, 255))
        elif kind == "delete":
            del data[i:i + draw(st.integers(1, 20))]
        elif kind == "repeat":
            j = min(len(data), i + draw(st.integers(1, 40)))
            data[i:i] = data[i:j] * draw(st.integers(1, 50))
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=20))
        else:
            data[i:i] = draw(st.sampled_from(
                [b"[" * 300, b"{" * 300, b"9" * 5000, b"\xff\xfe", b"\x00", b'"', b"\\",
                 b"#set", b"nan", b"-1", b"null", b"{}", b"[]", b":key", b"\t", b"\n"]))
    return bytes(data)


def run_cli(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue() + out.getvalue()


def assert_handled(code: int, text: str, allowed: set[int]) -> None:
    assert "Traceback" not in text, text
    assert code in allowed, f"exit {code}: {text[-2000:]}"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _fuzz(folder: Path, name: str, data: bytes, argv: list[str], allowed: set[int]) -> None:
    path = folder / name
    path.write_bytes(data)
    code, text = run_cli([a.replace("FILE", str(path)) for a in argv])
    assert_handled(code, text, allowed)


def test_the_valid_files_are_accepted(folder: Path) -> None:
    # The mutations start from files that really pass, so they probe past the first check.
    for name, data, argv, code in [
        ("t.json", VALID_ITF, ["show", "FILE"], 0),
        ("c.toml", VALID_CONFIG, ["check", "--config", "FILE"], 0),
        ("h.jsonl", VALID_JSONL, ["linearizable", "FILE"], 0),
        ("h.edn", VALID_EDN, ["linearizable", "FILE", "--model", "kv"], 0),
        ("h.log", VALID_JEPSEN, ["linearizable", "FILE"], 0),
    ]:
        path = folder / name
        path.write_bytes(data)
        got, text = run_cli([a.replace("FILE", str(path)) for a in argv])
        assert got == code, text


@FUZZ
@given(data=st.one_of(st.binary(max_size=400), mutated(VALID_ITF)))
def test_show_reads_any_bytes_without_crashing(folder: Path, data: bytes) -> None:
    _fuzz(folder, "t.json", data, ["show", "FILE"], {0, 2})


@FUZZ
@given(data=st.one_of(st.binary(max_size=300), mutated(VALID_CONFIG)))
def test_a_config_file_of_any_bytes_is_handled(folder: Path, data: bytes) -> None:
    _fuzz(folder, "c.toml", data, ["check", "--config", "FILE", "--max-states", "2000"],
          {0, 1, 2, 3})


@FUZZ
@given(data=st.one_of(st.binary(max_size=400), mutated(VALID_JSONL)))
def test_json_lines_histories_of_any_bytes_are_handled(folder: Path, data: bytes) -> None:
    _fuzz(folder, "h.jsonl", data, ["linearizable", "FILE", "--timeout", "5"], {0, 1, 2, 3})


@FUZZ
@given(data=mutated(VALID_EDN))
def test_edn_kv_histories_of_any_bytes_are_handled(folder: Path, data: bytes) -> None:
    _fuzz(folder, "h.edn", data, ["linearizable", "FILE", "--model", "kv", "--timeout", "5"],
          {0, 1, 2, 3})


@FUZZ
@given(data=st.one_of(st.binary(max_size=400), mutated(VALID_JEPSEN)))
def test_jepsen_logs_of_any_bytes_are_handled(folder: Path, data: bytes) -> None:
    _fuzz(folder, "h.log", data, ["linearizable", "FILE", "--timeout", "5"], {0, 1, 2, 3})


@FUZZ
@given(data=st.one_of(st.binary(max_size=300), mutated(VALID_EVENTS)))
def test_cluster_event_logs_of_any_bytes_are_handled(folder: Path, data: bytes) -> None:
    _fuzz(folder, "events.jsonl", data, ["conform", "raft", "--logs", "FILE"], {0, 1, 2, 3})


_TOKENS = [*"()[]{}.,:'\"=<>!+-*/%|&_0123456789xyz", "msgs", "rm_state", "tm_state",
           "forall", "exists", "in", "and", "or", "not", "let", "if", "then", "else", "len",
           "..", "=>", "==", "__class__", "_fields", "count", "type", "state", "params",
           "100000000000", "Commit", "committed", "sum", "{x in msgs: true}"]


@FUZZ
@given(text=st.one_of(st.lists(st.sampled_from(_TOKENS), max_size=25).map(" ".join),
                      st.text(max_size=60)))
def test_invariant_expressions_of_any_text_are_handled(text: str) -> None:
    if not text.strip() or text.startswith("-"):
        text = "x" + text  # argparse would read a leading dash as an option
    code, out = run_cli(["check", "two_phase_commit", "-p", "rms=2", "--inv", text])
    assert_handled(code, out, {0, 1, 2})
