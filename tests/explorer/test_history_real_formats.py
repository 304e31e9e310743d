"""Histories as real tools write them: Jepsen logs with spaces between the fields, and
key-value histories with a ``:key`` field and get/put/append of strings (the shape of Jepsen's
and Porcupine's key-value tests). Each is checked both ways: one that holds, one that does not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from protospec.explorer.cli.main import main
from protospec.explorer.errors import TraceFormatError
from protospec.explorer.history import parse_history

SPACED_OK = """\
0 :invoke :write 1
0 :ok :write 1
1 :invoke :read nil
1  :ok   :read   1
2\t :invoke  :cas [1 2]
2 :ok :cas [1 2]
1 :invoke :read nil
1 :ok :read 2
"""

SPACED_STALE_READ = """\
0 :invoke :write 1
0 :ok :write 1
0 :invoke :write 2
0 :ok :write 2
1 :invoke :read nil
1 :ok :read 1
"""

KV_OK = """\
{:process 0, :type :invoke, :f :put, :key "x", :value "a"}
{:process 0, :type :ok, :f :put, :key "x", :value "a"}
{:process 1, :type :invoke, :f :append, :key "x", :value "b"}
{:process 2, :type :invoke, :f :get, :key "x", :value nil}
{:process 1, :type :ok, :f :append, :key "x", :value "b"}
{:process 2, :type :ok, :f :get, :key "x", :value "ab"}
{:process 3, :type :invoke, :f :append, :key "y", :value "z"}
{:process 3, :type :ok, :f :append, :key "y", :value "z"}
{:process 3, :type :invoke, :f :get, :key "y", :value nil}
{:process 3, :type :ok, :f :get, :key "y", :value "z"}
"""

# The append of "b" completed before the get began, so the get must see "ab", not "ba".
KV_APPEND_OUT_OF_ORDER = """\
{:process 0, :type :invoke, :f :put, :key "x", :value "a"}
{:process 0, :type :ok, :f :put, :key "x", :value "a"}
{:process 1, :type :invoke, :f :append, :key "x", :value "b"}
{:process 1, :type :ok, :f :append, :key "x", :value "b"}
{:process 2, :type :invoke, :f :get, :key "y", :value nil}
{:process 2, :type :ok, :f :get, :key "y", :value nil}
{:process 2, :type :invoke, :f :get, :key "x", :value nil}
{:process 2, :type :ok, :f :get, :key "x", :value "ba"}
"""

KV_JSON_OK = "\n".join([
    '{"process": 0, "type": "invoke", "f": "append", "key": "k", "value": "1"}',
    '{"process": 1, "type": "invoke", "f": "append", "key": "k", "value": "2"}',
    '{"process": 0, "type": "ok", "f": "append", "key": "k", "value": "1"}',
    '{"process": 1, "type": "ok", "f": "append", "key": "k", "value": "2"}',
    '{"process": 2, "type": "invoke", "f": "get", "key": "k"}',
    '{"process": 2, "type": "ok", "f": "get", "key": "k", "value": "21"}',
]) + "\n"

KV_JSON_LOST_APPEND = KV_JSON_OK.replace('"value": "21"', '"value": "2"')


def run(tmp_path: Path, capsys, text: str, *options: str, name: str = "h.log") -> tuple:
    path = tmp_path / name
    path.write_text(text)
    code = main(["linearizable", str(path), *options])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out, out.err


def test_a_jepsen_log_with_spaces_between_fields_is_read_like_one_with_tabs() -> None:
    spaced = parse_history(SPACED_OK.splitlines())
    tabbed = parse_history([" ".join(line.split()).replace(" ", "\t", 3)
                            for line in SPACED_OK.splitlines()])
    assert [o[1:8] for o in spaced.ops] == [o[1:8] for o in tabbed.ops]
    assert [(o.f, o.value) for o in spaced.ops][:3] == [("write", 1), ("read", None),
                                                         ("cas", (1, 2))]


def test_a_space_separated_linearizable_history_passes(tmp_path, capsys) -> None:
    code, out, _ = run(tmp_path, capsys, SPACED_OK)
    assert code == 0 and "OK: the history is linearizable" in out


def test_a_space_separated_stale_read_is_a_violation(tmp_path, capsys) -> None:
    code, out, _ = run(tmp_path, capsys, SPACED_STALE_READ)
    assert code == 1 and "VIOLATION" in out and "r → 1" in out


def test_a_kv_history_with_key_fields_and_appends_passes(tmp_path, capsys) -> None:
    code, out, _ = run(tmp_path, capsys, KV_OK, "--model", "kv", name="h.edn")
    assert code == 0, out
    assert "linearizable with respect to the kv model" in out


def test_appends_seen_in_the_wrong_order_are_a_violation_of_that_key(tmp_path, capsys) -> None:
    code, out, _ = run(tmp_path, capsys, KV_APPEND_OUT_OF_ORDER, "--model", "kv",
                       name="h.edn")
    assert code == 1
    assert "(key x)" in out and "get → ba" in out


def test_concurrent_appends_may_land_in_either_order(tmp_path, capsys) -> None:
    code, out, _ = run(tmp_path, capsys, KV_JSON_OK, "--model", "kv", name="h.jsonl")
    assert code == 0, out


def test_a_lost_append_is_a_violation(tmp_path, capsys) -> None:
    code, out, _ = run(tmp_path, capsys, KV_JSON_LOST_APPEND, "--model", "kv", name="h.jsonl")
    assert code == 1 and 'get → "2"' in out


def test_kv_errors_name_the_kv_model_and_the_file(tmp_path, capsys) -> None:
    bad = KV_OK.replace(":f :put", ":f :incr")
    code, _, err = run(tmp_path, capsys, bad, "--model", "kv", name="h.edn")
    assert code == 2
    assert "kv model" in err and "cas-register" not in err
    assert "h.edn, line 1" in err and "'incr'" in err


def test_an_append_of_a_number_is_refused_with_its_line(tmp_path, capsys) -> None:
    bad = KV_OK.replace(':f :append, :key "x", :value "b"', ':f :append, :key "x", :value 7')
    code, _, err = run(tmp_path, capsys, bad, "--model", "kv", name="h.edn")
    assert code == 2 and "h.edn, line 3" in err and "append needs a string" in err


def test_a_completion_before_its_invocation_is_bad_input(tmp_path, capsys) -> None:
    text = ('{"process": 0, "type": "invoke", "f": "read", "time": 10}\n'
            '{"process": 0, "type": "ok", "f": "read", "value": 1, "time": 5}\n')
    code, out, err = run(tmp_path, capsys, text, name="h.jsonl")
    assert code == 2 and "VIOLATION" not in out
    assert "h.jsonl, line 2" in err and "before its invocation" in err


def test_a_long_line_without_whitespace_is_refused_with_its_line() -> None:
    # 200 KB each: a reader that backtracks (quadratic) would take many minutes on these.
    for line in ("a" * 200_000, "1" * 200_000 + "x", "0 :invoke :read [" + "1" * 200_000):
        with pytest.raises(TraceFormatError, match=r"h\.log, line 1"):
            parse_history([line], source="h.log")


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0"])
def test_a_timeout_that_is_not_a_positive_number_is_refused(tmp_path, capsys, value) -> None:
    code, _, err = run(tmp_path, capsys, SPACED_OK, f"--timeout={value}")
    assert code == 2 and "--timeout" in err and value in err
