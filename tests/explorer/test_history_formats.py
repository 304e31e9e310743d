"""Reading histories: JSON lines, Jepsen log lines (with and without the logger's prefix) and
Jepsen history.edn maps; malformed records are reported with their line."""

from __future__ import annotations

import pytest
from protospec.explorer.errors import TraceFormatError
from protospec.explorer.history import (
    INFINITY,
    UNKNOWN,
    Status,
    check_linearizable,
    get_model,
    json_lines,
    parse_edn,
    parse_history,
)
from protospec.explorer.history.simulate import simulate_register

JEPSEN_LOG = """\
2017-03-01 10:00:00,001{GMT}	INFO	[jepsen worker 0] jepsen.util: 0	:invoke	:write	1
INFO  jepsen.util - 0	:ok	:write	1
INFO  jepsen.core - Worker 1 starting
INFO  jepsen.util - 1	:invoke	:cas	[1 2]
INFO  jepsen.util - :nemesis	:info	:start	nil
INFO  jepsen.util - 2	:invoke	:read	nil
INFO  jepsen.util - 1	:ok	:cas	[1 2]
INFO  jepsen.util - 2	:ok	:read	2
INFO  jepsen.util - 3	:invoke	:write	3
INFO  jepsen.util - 3	:info	:write	3	:timeout
INFO  jepsen.util - 4	:invoke	:cas	[7 8]
INFO  jepsen.util - 4	:fail	:cas	[7 8]
"""


def test_jepsen_log_with_prefixes_pairs_invocations_and_completions() -> None:
    h = parse_history(JEPSEN_LOG.splitlines())
    assert [(o.process, o.f, o.value, o.output, o.status) for o in h.ops] == [
        (0, "write", 1, 1, Status.OK),
        (1, "cas", (1, 2), (1, 2), Status.OK),
        (2, "read", None, 2, Status.OK),
        (3, "write", 3, UNKNOWN, Status.INFO),
    ]
    assert [(o.process, o.f, o.status) for o in h.failed] == [(4, "cas", Status.FAIL)]
    assert h.ops[3].ret == INFINITY  # info: open forever
    assert (h.ops[2].line, h.ops[2].ret_line) == (6, 8)


BARE_LOG = """\
0	:invoke	:write	1
0	:ok	:write	1
1	:invoke	:cas	[1 2]
:nemesis	:info	:start	nil
2	:invoke	:read	nil
1	:ok	:cas	[1 2]
2	:ok	:read	2
3	:invoke	:write	3
3	:info	:write	3	:timeout
4	:invoke	:cas	[7 8]
4	:fail	:cas	[7 8]
"""


def test_jepsen_log_without_prefix_reads_the_same() -> None:
    with_prefix = parse_history(JEPSEN_LOG.splitlines())
    without = parse_history(BARE_LOG.splitlines())
    assert [(o.process, o.f, o.value, o.output, o.status) for o in without.ops] == [
        (o.process, o.f, o.value, o.output, o.status) for o in with_prefix.ops]


def test_real_time_order_follows_the_log() -> None:
    h = parse_history(JEPSEN_LOG.splitlines())
    write, cas, read, _ = h.ops
    assert write.ret < cas.call  # completed before the cas was invoked
    assert cas.call < read.call < cas.ret  # the read overlaps the cas


def test_edn_history_maps() -> None:
    lines = ['{:type :invoke, :f :write, :value 3, :process 0, :time 10}',
             '{:type :ok, :f :write, :value 3, :process 0, :time 20}',
             '{:type :invoke, :f :read, :value nil, :process 1}',
             '{:type :info, :f :start, :process :nemesis}',
             '{:type :ok, :f :read, :value 3, :process 1}']
    h = parse_history(lines)
    assert [(o.f, o.value, o.output) for o in h.ops] == [("write", 3, 3), ("read", None, 3)]


def test_edn_values() -> None:
    assert parse_edn("nil") is None
    assert parse_edn("[1 [2 nil] -3]") == (1, (2, None), -3)
    assert parse_edn('#{1 2} ') == frozenset({1, 2})
    assert parse_edn(':timeout') == "timeout"
    assert parse_edn('{:a 1, "b" [true false]}') == (("a", 1), ("b", (True, False)))
    assert parse_edn("12N") == 12
    with pytest.raises(ValueError):
        parse_edn("[1 2")


def test_json_events_and_timestamps_order_real_time() -> None:
    # Listed out of order; the times say the write completed before the read began.
    lines = ['{"process": 1, "type": "invoke", "f": "read", "time": 5}',
             '{"process": 0, "type": "invoke", "f": "write", "value": 1, "time": 1}',
             '{"process": 0, "type": "ok", "f": "write", "value": 1, "time": 2}',
             '{"process": 1, "type": "ok", "f": "read", "value": 1, "time": 6}']
    h = parse_history(lines)
    write = next(o for o in h.ops if o.f == "write")
    read = next(o for o in h.ops if o.f == "read")
    assert write.ret < read.call


def test_equal_timestamps_count_as_concurrent() -> None:
    lines = ['{"process": 0, "type": "invoke", "f": "write", "value": 1, "time": 1}',
             '{"process": 0, "type": "ok", "f": "write", "value": 1, "time": 2}',
             '{"process": 1, "type": "invoke", "f": "read", "time": 2}',
             '{"process": 1, "type": "ok", "f": "read", "value": null, "time": 3}']
    h = parse_history(lines)
    write, read = h.ops
    assert read.call < write.ret
    assert check_linearizable(h, get_model("cas-register")).verdict == "valid"


def test_json_whole_operations() -> None:
    lines = ['{"process": 0, "f": "write", "value": 1, "call": 0, "return": 10}',
             '{"process": 1, "f": "read", "output": 1, "call": 5, "return": 7}',
             '{"process": 2, "f": "write", "value": 2, "call": 8, "status": "info"}']
    h = parse_history(lines)
    assert [(o.f, o.output, o.status) for o in h.ops] == [
        ("write", UNKNOWN, Status.OK), ("read", 1, Status.OK), ("write", UNKNOWN, Status.INFO)]
    assert h.ops[1].call > h.ops[0].call and h.ops[1].ret < h.ops[0].ret


def test_invocation_without_completion_is_indeterminate() -> None:
    h = parse_history(['{"process": 0, "type": "invoke", "f": "write", "value": 1}'])
    assert h.ops[0].status is Status.INFO and h.ops[0].is_open


def test_json_lines_round_trip() -> None:
    h = simulate_register(60, 4, seed=2, info=0.1)
    back = parse_history(json_lines(h))
    assert [o[:6] for o in back.ops] == [o[:6] for o in h.ops]
    assert [o[:4] for o in back.failed] == [o[:4] for o in h.failed]

    def precedes(ops: tuple) -> set[tuple[int, int]]:
        return {(a.id, b.id) for a in ops for b in ops if a.ret < b.call}

    assert precedes(back.ops) == precedes(h.ops)


@pytest.mark.parametrize("lines, line, words", [
    (['{"process": 0, "type": "invoke", "f": "read"}', '{"process": 0, "type": "ok",'],
     2, "not valid JSON"),
    (['{"process": 0, "type": "ok", "f": "read", "value": 1}'], 1, "no invocation"),
    (['{"process": 0, "type": "invoke", "f": "read"}',
      '{"process": 0, "type": "invoke", "f": "read"}'], 2, "has not completed"),
    (['{"process": 0, "type": "invoke", "f": "read"}',
      '{"process": 0, "type": "ok", "f": "write", "value": 1}'], 2, "does not match"),
    (['{"process": 0, "type": "begin", "f": "read"}'], 1, '"type" must be one of'),
    (['{"type": "invoke", "f": "read"}'], 1, 'no "process"'),
    (['{"process": 0, "type": "invoke", "f": "read", "valu": 1}'], 1, "unknown field"),
    (['{"process": 0, "type": "invoke", "f": "read", "time": 1}',
      '{"process": 0, "type": "ok", "f": "read", "value": 1}'], 2, '"time"'),
    (['{"process": 0, "f": "read", "call": 5, "return": 2}'], 1, "before"),
    (["0\t:invoke\t:read\tnil", "0\t:ok\t:read\t[1 2"], 2, "cannot read the value"),
    (["0\t:invoke\t:read\tnil", "garbage here"], 2, "expected a history record"),
    (["0\t:invoke\t:read\tnil", "0\t:done\t:read\t1"], 2, "the type must be"),
    (["{:type :invoke, :f :read, :process 0}", "{:type :ok :f}"], 2, "EDN"),
])
def test_malformed_records_name_their_line(lines: list[str], line: int, words: str) -> None:
    with pytest.raises(TraceFormatError) as e:
        parse_history(lines, source="h.log")
    assert f"h.log, line {line}:" in str(e.value)
    assert words in str(e.value)


def test_an_operation_the_model_cannot_read_names_its_line() -> None:
    h = parse_history(["0\t:invoke\t:cas\t5", "0\t:ok\t:cas\t5"])
    with pytest.raises(TraceFormatError, match=r"line 1: .*cas needs a value \[old new\]"):
        check_linearizable(h, get_model("cas-register"))
    h = parse_history(["0\t:invoke\t:push\t5", "0\t:ok\t:push\t5"])
    with pytest.raises(TraceFormatError, match=r"line 1: .*enqueue and dequeue, not 'push'"):
        check_linearizable(h, get_model("queue"))


def test_empty_history_is_an_error() -> None:
    with pytest.raises(TraceFormatError, match="no operations"):
        parse_history(["", "# nothing"])
