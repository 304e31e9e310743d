"""Every bad input gets a clear error: the right exit code, no traceback, and a message that
names what is wrong and where (the option, the file, the line).

A table of inputs a new user might give, by family: output paths, the invariant language,
ITF traces, TOML configurations, client histories (JSON lines, EDN, Jepsen logs), event logs
of a real cluster, specs that misbehave, and command-line values. The CLI runs in-process
(``main([...])``); a few cases run as a real process, as a CI job would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from protospec.explorer.cli.main import main

REPO = Path(__file__).resolve().parents[2]

# A spec that prints while it runs: if an output path were checked only after the search,
# its output would show that the search ran.
PRINTING_SPEC = '''
from typing import NamedTuple
from protospec import Spec, action, invariant


class S(NamedTuple):
    x: int


class Printing(Spec):
    """Counts to 3, printing as it goes."""

    def init(self):
        yield S(0)

    @action
    def inc(self, s):
        if s.x < 3:
            print("SEARCH RAN", s.x)
            return S(s.x + 1)

    @invariant
    def small(self, s):
        return s.x < 4


@Printing.variant("counts_on", breaks="small")
class CountsOn(Printing):
    """Counts one further, to 4, which breaks small: a
    description long enough to wrap over two lines."""

    def inc(self, s):
        if s.x < 4:
            print("SEARCH RAN", s.x)
            return S(s.x + 1)
'''

EXITING_SPEC = PRINTING_SPEC.replace('print("SEARCH RAN", s.x)',
                                     'import sys; sys.exit(0) if s.x == 2 else None')


ITF_OK = {"#meta": {"format": "ITF"}, "vars": ["x"],
          "states": [{"#meta": {"index": 0}, "x": {"#bigint": "1"}},
                     {"#meta": {"index": 1, "action": "inc"}, "x": {"#bigint": "2"}}]}


def itf(**changes) -> str:
    data = json.loads(json.dumps(ITF_OK))
    for key, value in changes.items():
        if key == "state0":
            data["states"][0].update(value)
        else:
            data[key] = value
    return json.dumps(data)


GOOD_HISTORY = "\n".join([
    '{"process": 0, "type": "invoke", "f": "write", "value": 1}',
    '{"process": 0, "type": "ok", "f": "write", "value": 1}',
    '{"process": 1, "type": "invoke", "f": "read"}',
    '{"process": 1, "type": "ok", "f": "read", "value": 1}',
]) + "\n"


@dataclass
class Case:
    argv: list[str]  # "{tmp}" stands for the test's folder
    code: int
    words: list[str]  # each must appear in stderr: what is wrong and where
    files: dict[str, str | bytes] = field(default_factory=dict)
    id: str = ""


def c(name: str, argv: str | list[str], code: int, *words: str, **files: str | bytes) -> Case:
    """A case; argv is split at spaces unless given as a list; a file keyword's ``__`` is a
    dot (``h__jsonl`` is h.jsonl), and a name ending in ``.keep`` is made a folder."""
    return Case(argv.split() if isinstance(argv, str) else argv, code, list(words),
                {k.replace("__", "."): v for k, v in files.items()}, name)


SPEC = "{tmp}/printing.py"
CASES = [
    # -- output paths: refused before the search starts ------------------------------------
    c("trace-out-in-proc", f"check {SPEC} --trace-out /proc/x.json", 2,
      "--trace-out", "/proc/x.json"),
    c("trace-out-is-a-folder", f"check {SPEC} --trace-out {{tmp}}", 2,
      "--trace-out", "is a folder"),
    c("trace-out-missing-folder", f"check {SPEC} --trace-out {{tmp}}/no/x.json", 2,
      "--trace-out", "does not exist"),
    c("trace-out-device", f"check {SPEC} --trace-out /dev/full --force", 2,
      "/dev/full", "not a regular file"),
    c("trace-out-exists", f"check {SPEC} --trace-out {{tmp}}/mine.json", 2,
      "mine.json", "already exists", "--force", mine__json="keep me"),
    c("trace-out-under-a-file", f"check {SPEC} --trace-out {{tmp}}/mine.json/x.json", 2,
      "mine.json", "not a folder", mine__json="keep me"),
    c("html-is-a-folder", f"check {SPEC} --html {{tmp}}/dir.html", 2, "--html", "folder",
      dir__html__keep=""),
    c("render-missing-folder", f"check {SPEC} --render {{tmp}}/no/x.svg", 2, "--render",
      "does not exist"),
    c("render-bad-format", f"check {SPEC} --render {{tmp}}/x.gif", 2, "--render", "x.gif"),
    c("simulate-trace-out-folder", f"simulate {SPEC} --trace-out {{tmp}}", 2, "--trace-out",
      "folder"),
    c("graph-output-missing-folder", f"graph {SPEC} -o {{tmp}}/no/g.svg", 2, "-o",
      "does not exist"),
    c("graph-output-exists", f"graph {SPEC} -o {{tmp}}/g.svg", 2, "g.svg", "already exists",
      g__svg="<svg/>"),
    c("show-html-missing-folder", "show {tmp}/t.json --html {tmp}/no/r.html", 2, "--html",
      "does not exist", t__json=itf()),
    c("linearizable-render-folder", "linearizable {tmp}/h.jsonl --render {tmp}/d.svg", 2,
      "--render", "folder", h__jsonl=GOOD_HISTORY, d__svg__keep=""),
    c("bmc-trace-out-missing-folder",
      "bmc two_phase_commit --depth 2 --trace-out {tmp}/no/t.json", 2, "--trace-out",
      "does not exist"),
    # -- the invariant language -------------------------------------------------------------
    c("explain-inv-escape", ["check", "crdt", "-p", "datatype=pn_counter", "--explain-inv",
                             'payload[0]._make.__func__.__globals__["_sys"].modules["os"]'
                             '.environ["HOME"] == "/root"'], 2, "_make", "line 1, column"),
    c("dunder-on-a-record", "check two_phase_commit --inv msgs.__class__==1", 2,
      "__class__", "never a name starting with '_'"),
    c("method-on-a-value", "check crdt -p datatype=pn_counter --inv payload[0].count==1", 2,
      "no field 'count'", "payload[0].count"),
    c("huge-range", ["check", "two_phase_commit", "--inv",
                     "forall i in 0..100000000000: i >= 0"], 2, "100,000,000,001 numbers",
      "column"),
    c("huge-range-as-set", "check two_phase_commit --inv 0..99999999999=={1}", 2,
      "numbers", "at most"),
    c("deep-parentheses", "check two_phase_commit --inv " + "(" * 500 + "true" + ")" * 500, 2,
      "nests more than 100 levels", "column"),
    c("deep-arithmetic", "check two_phase_commit --inv " + "1+" * 300 + "1>0", 2,
      "nests more than 100 levels"),
    c("syntax-error", "check two_phase_commit --inv len(msgs)=3", 2, "line 1, column",
      "use =="),
    c("unknown-name", "check two_phase_commit --inv tm_stat==init", 2, "tm_stat",
      "did you mean"),
    # -- ITF traces -------------------------------------------------------------------------
    c("itf-set-of-a-number", "show {tmp}/t.json", 2, "t.json", "state 0", "#set",
      t__json=itf(state0={"x": {"#set": 5}})),
    c("itf-meta-not-an-object", "show {tmp}/t.json", 2, "t.json", "'#meta'",
      t__json=itf(**{"#meta": "meta"})),
    c("itf-state-meta-not-an-object", "show {tmp}/t.json", 2, "state 0", "'#meta'",
      t__json=itf(state0={"#meta": 7})),
    c("itf-deep-json", "show {tmp}/t.json", 2, "t.json", "nest too deeply",
      t__json="[" * 100_000 + "]" * 100_000),
    c("itf-not-json", "show {tmp}/t.json", 2, "t.json", "line 2", t__json='{"vars":\n ]'),
    c("itf-not-utf8", "show {tmp}/t.json", 2, "t.json", "UTF-8", t__json=b'{"v": "\xff"}'),
    c("itf-set-holding-a-map", "show {tmp}/t.json", 2, "state 0", "#set",
      t__json=itf(state0={"x": {"#set": [{"#map": []}]}})),
    c("itf-keyword-field", "show {tmp}/t.json", 2, "state 0", "class",
      t__json=itf(state0={"x": {"tag": "A", "value": {"class": 1}}})),
    c("itf-missing-variable", "show {tmp}/t.json", 2, "state 0", "lacks variable 'x'",
      t__json=itf(states=[{"y": 1}])),
    c("itf-no-such-file", "show {tmp}/none.json", 2, "none.json"),
    c("itf-huge-number", "show {tmp}/t.json", 2, "t.json",
      t__json='{"vars": ["x"], "states": [{"x": ' + "9" * 5000 + "}]}"),
    # -- TOML configurations ----------------------------------------------------------------
    c("config-not-utf8", "check --config {tmp}/c.toml", 2, "c.toml", "line 2", "UTF-8",
      c__toml=b'spec = "two_phase_commit"\n# caf\xe9\n'),
    c("config-is-a-folder", "check --config {tmp}", 2, "is a folder"),
    c("config-not-toml", "check --config {tmp}/c.toml", 2, "c.toml", "line 1",
      c__toml="spec = \n"),
    c("config-deep-arrays", "check --config {tmp}/c.toml", 2, "c.toml", "nest too deeply",
      c__toml="a = " + "[" * 5000 + "]" * 5000),
    c("config-unknown-key", "check --config {tmp}/c.toml", 2, "c.toml", "max_deph",
      "did you mean", c__toml='spec = "two_phase_commit"\nmax_deph = 3\n'),
    c("config-negative-bound", "check --config {tmp}/c.toml", 2, "c.toml, max_depth",
      c__toml='spec = "two_phase_commit"\nmax_depth = -3\n'),
    c("config-bad-parameter", "check --config {tmp}/c.toml", 2, "c.toml, [params]", "rms",
      c__toml='spec = "two_phase_commit"\n[params]\nrms = "lots"\n'),
    # -- client histories -------------------------------------------------------------------
    c("history-deep-json", "linearizable {tmp}/h.jsonl", 2, "h.jsonl, line 1",
      "nest more than", h__jsonl='{"process": 0, "type": "invoke", "f": "write", "value": '
      + "[" * 5000 + "]" * 5000 + "}\n"),
    c("history-deep-edn", "linearizable {tmp}/h.edn", 2, "h.edn, line 1", "nest more than",
      h__edn="{:process 0, :type :invoke, :f :write, :value " + "[" * 5000 + "]" * 5000
      + "}\n"),
    c("history-completion-before-invocation", "linearizable {tmp}/h.jsonl", 2,
      "h.jsonl, line 2", "before its invocation",
      h__jsonl='{"process": 0, "type": "invoke", "f": "read", "time": 10}\n'
      '{"process": 0, "type": "ok", "f": "read", "value": 1, "time": 5}\n'),
    c("history-long-line", "linearizable {tmp}/h.log", 2, "h.log, line 1",
      "expected a history record", h__log="x" * 100_000 + "\n"),
    c("history-huge-number", "linearizable {tmp}/h.jsonl", 2, "h.jsonl, line 1",
      h__jsonl='{"process": 0, "type": "invoke", "f": "write", "value": ' + "7" * 5000
      + "}\n"),
    c("history-not-utf8", "linearizable {tmp}/h.jsonl", 2, "h.jsonl", "cannot read",
      h__jsonl=b'{"process": 0, "f": "\xff"}\n'),
    c("history-unclosed-edn", "linearizable {tmp}/h.edn", 2, "h.edn, line 1",
      "unexpected '}'", "needs ']'",
      h__edn="{:process 0, :type :invoke, :f :write, :value [1 2}\n"),
    c("history-edn-never-closed", "linearizable {tmp}/h.edn", 2, "h.edn, line 1",
      "never closed", h__edn="{:process 0, :type :invoke, :f :write, :value [1 2\n"),
    c("history-kv-wrong-op", "linearizable {tmp}/h.edn --model kv", 2, "h.edn, line 1",
      "kv model", h__edn='{:process 0, :type :invoke, :f :incr, :key "x", :value "a"}\n'),
    c("history-kv-no-key", "linearizable {tmp}/h.jsonl --model kv", 2, "h.jsonl, line 1",
      "kv model needs a key", h__jsonl=GOOD_HISTORY),
    c("history-cas-model-on-kv-ops", "linearizable {tmp}/h.edn", 2, "h.edn, line 1",
      "cas-register", "'put'",
      h__edn='{:process 0, :type :invoke, :f :put, :key "x", :value "a"}\n'),
    c("history-jepsen-bad-type", "linearizable {tmp}/h.log", 2, "h.log, line 1",
      ":done", h__log="0 :done :read nil\n"),
    c("history-timeout-nan", "linearizable {tmp}/h.jsonl --timeout nan", 2, "--timeout",
      "nan", h__jsonl=GOOD_HISTORY),
    c("history-no-such-file", "linearizable {tmp}/none.jsonl", 2, "none.jsonl"),
    c("history-is-a-folder", "linearizable {tmp}", 2, "cannot read"),
    # -- event logs of a real cluster -------------------------------------------------------
    c("conform-log-bad-node", "conform raft --logs {tmp}/events.jsonl", 2,
      "events.jsonl, line 1", '"n"', events__jsonl='{"n": "x", "action": 5}\n'),
    c("conform-log-bad-message", "conform raft --logs {tmp}/events.jsonl", 2,
      "events.jsonl, line 2", "message",
      events__jsonl='{"n": 1, "action": "timeout"}\n{"n": 1, "action": "x", "sent": [5]}\n'),
    c("conform-log-not-json", "conform raft --logs {tmp}/events.jsonl", 2,
      "events.jsonl, line 1", "not JSON", events__jsonl="{nope\n"),
    # -- specs that misbehave ---------------------------------------------------------------
    c("spec-calls-sys-exit", "check {tmp}/exiting.py", 2, "inc", "exiting.py", "sys.exit(0)"),
    c("spec-file-is-a-folder", "check {tmp}", 2, "is a folder"),
    c("spec-file-missing", "check {tmp}/none.py", 2, "none.py", "does not exist"),
    # -- command-line values ----------------------------------------------------------------
    c("param-given-twice", "check two_phase_commit -p rms=2 -p rms=3", 2, "rms",
      "given twice"),
    c("param-misspelt", "check two_phase_commit -p rmss=2", 2, "'rmss'", "did you mean 'rms'"),
    c("param-bad-value", "check two_phase_commit -p rms=many", 2, "rms", "many"),
    c("unknown-variant", "check two_phase_commit --variant nope", 2, "nope",
      "tm_commits_early"),
    c("unknown-spec", "check two_phase_comit", 2, "two_phase_comit", "two_phase_commit"),
    c("list-unknown-spec", "list nope", 2, "nope"),
    c("conform-too-many-nodes", "conform raft --nodes 10", 2, "--nodes", "10"),
    c("cluster-for-zero", "cluster raft --for 0", 2, "--for", "0"),
    c("cluster-for-negative", "cluster raft --for -1", 2, "--for", "-1"),
    c("cluster-for-nan", "cluster raft --for nan", 2, "--for", "nan"),
    c("cluster-data-is-a-file", "cluster raft --for 1 --data {tmp}/afile", 2, "--data",
      "afile", afile="x"),
    c("negative-max-states", "check two_phase_commit --max-states -5", 2, "--max-states",
      "-5"),
]


def write_files(tmp: Path, files: dict[str, str | bytes]) -> None:
    (tmp / "printing.py").write_text(PRINTING_SPEC)
    (tmp / "exiting.py").write_text(EXITING_SPEC)
    for name, content in files.items():
        if name.endswith(".keep"):  # a folder with this name
            (tmp / name[:-len(".keep")]).mkdir()
        elif isinstance(content, bytes):
            (tmp / name).write_bytes(content)
        else:
            (tmp / name).write_text(content)


def test_the_table_covers_every_family_with_at_least_60_inputs() -> None:
    assert len(CASES) >= 60
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_bad_input_exits_with_one_clear_paragraph(case: Case, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    write_files(tmp_path, case.files)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    argv = [a.replace("{tmp}", str(tmp_path)) for a in case.argv]
    code = main(argv)
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "Traceback" not in out.out
    assert code == case.code, out.err
    for word in case.words:
        assert word in out.err, f"{word!r} not in: {out.err}"
    assert "SEARCH RAN" not in out.out + out.err  # refused before any search
    # Nothing the user wrote was touched.
    assert {p: p.read_bytes() for p in before} == before


def test_a_5000_term_conjunction_evaluates(capsys) -> None:
    chain = " and ".join(["len(msgs) >= 0"] * 5000)
    code = main(["check", "two_phase_commit", "-p", "rms=2", "--inv", chain])
    out = capsys.readouterr()
    assert code == 0 and "Traceback" not in out.err
    assert "No violation" in out.out


def test_a_spec_printing_does_not_corrupt_json_output(tmp_path, capsys) -> None:
    write_files(tmp_path, {})
    code = main(["check", str(tmp_path / "printing.py"), "--variant", "counts_on", "--json"])
    out = capsys.readouterr()
    assert code == 1
    data = json.loads(out.out)  # stdout is the JSON and nothing else
    assert data["violations"][0]["property"] == "small"
    assert "SEARCH RAN" in out.err  # the spec's prints went to stderr


def test_a_user_spec_file_names_its_variant_after_the_file(tmp_path, capsys) -> None:
    write_files(tmp_path, {})
    assert main(["check", str(tmp_path / "printing.py"), "--variant", "counts_on"]) == 1
    out = capsys.readouterr().out
    assert "Check of printing, variant counts_on" in out
    assert "protospec_user" not in out


def test_list_of_one_spec_shows_the_whole_variant_description(tmp_path, capsys) -> None:
    write_files(tmp_path, {})
    assert main(["list", str(tmp_path / "printing.py")]) == 0
    out = capsys.readouterr().out
    assert "description long enough to wrap over two lines. (breaks small)" in out


@pytest.mark.parametrize("argv, code, words", [
    (["check", "two_phase_commit", "--trace-out", "/proc/x.json"], 2, "--trace-out"),
    (["check", "two_phase_commit", "--inv", "(" * 500 + "true" + ")" * 500], 2, "nests"),
    (["linearizable", "/dev/null/x"], 2, "/dev/null/x"),
])
def test_a_real_process_exits_with_the_same_code_and_no_traceback(argv, code, words) -> None:
    proc = subprocess.run([sys.executable, "-m", "protospec", *argv], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr and words in proc.stderr


def test_events_are_cited_by_their_line_in_the_file_even_after_a_restart(tmp_path) -> None:
    from protospec.impl.raft.events import read_events

    # A node that restarted reopened its log and counted its lines from 0 again.
    lines = [{"n": 1, "action": "restart", "i": 0}, {"n": 1, "action": "timeout", "i": 1},
             {"n": 1, "action": "restart", "i": 0}]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in lines))
    events, _ = read_events(path)
    assert [e["i"] for e in events] == [0, 1, 2]
