"""`protospec linearizable`: exit codes, JSON output, pictures, and errors naming the line."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from protospec.explorer.cli.main import main
from protospec.explorer.history import json_lines
from protospec.explorer.history.simulate import simulate_register, stale_read

GOOD = """\
INFO  jepsen.util - 0	:invoke	:write	1
INFO  jepsen.util - 0	:ok	:write	1
INFO  jepsen.util - 1	:invoke	:read	nil
INFO  jepsen.util - 1	:ok	:read	1
"""
BAD = GOOD + """\
INFO  jepsen.util - 0	:invoke	:write	2
INFO  jepsen.util - 0	:ok	:write	2
INFO  jepsen.util - 1	:invoke	:read	nil
INFO  jepsen.util - 1	:ok	:read	1
"""


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "good.log").write_text(GOOD)
    (tmp_path / "bad.log").write_text(BAD)
    return tmp_path


def test_linearizable_history_exits_0(files: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["linearizable", str(files / "good.log")]) == 0
    assert "OK: the history is linearizable" in capsys.readouterr().out


def test_violation_exits_1_and_shows_the_window(files: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    assert main(["linearizable", str(files / "bad.log")]) == 1
    out = capsys.readouterr().out
    assert "VIOLATION" in out
    assert "[!! r → 1" in out  # the stale read, marked stuck, in the timeline
    assert "can leave the state as: 2" in out


def test_json_output_is_one_object(files: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["linearizable", str(files / "bad.log"), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["valid"] is False and data["verdict"] == "invalid"
    assert [op["line"] for op in data["window"]["operations"]] == [7]
    assert data["window"]["start_states"] == [2]
    assert data["history"]["operations"] == 4


@pytest.mark.parametrize("suffix", [".svg", ".html"])
def test_render_writes_a_picture(files: Path, suffix: str) -> None:
    out = files / f"pic{suffix}"
    assert main(["linearizable", str(files / "bad.log"), "--render", str(out)]) == 1
    text = out.read_text()
    if suffix == ".svg":
        root = ET.fromstring(text)  # well-formed
        assert root.tag.endswith("svg")
        assert "#d9534f" in text  # the stuck operation in red
    else:
        assert text.startswith("<!DOCTYPE html>") and "<svg" in text


def test_render_refuses_to_overwrite_without_force(files: Path) -> None:
    out = files / "pic.svg"
    out.write_text("mine")
    assert main(["linearizable", str(files / "bad.log"), "--render", str(out)]) == 2
    assert out.read_text() == "mine"
    assert main(["linearizable", str(files / "bad.log"), "--render", str(out), "--force"]) == 1


def test_malformed_history_exits_2_naming_the_line(files: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    (files / "broken.jsonl").write_text(
        '{"process": 0, "type": "invoke", "f": "write", "value": 1}\n'
        '{"process": 0, "type": "ok", "f": "write", "value": 1\n')
    assert main(["linearizable", str(files / "broken.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "broken.jsonl, line 2: not valid JSON" in err
    assert "Traceback" not in err


def test_missing_file_and_unknown_model_exit_2(files: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    assert main(["linearizable", str(files / "nope.log")]) == 2
    assert main(["linearizable", str(files / "good.log"), "--model", "stack"]) == 2
    assert "unknown model 'stack'" in capsys.readouterr().err


def test_timeout_gives_unknown_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # 18 open writes stay concurrent with everything, and the last read can never be explained:
    # the search has to try every subset of them.
    lines = []
    for p in range(18):
        lines.append(f"{p}\t:invoke\t:write\t{p}")
    for p in range(18, 60):
        lines += [f"{p}\t:invoke\t:read\tnil", f"{p}\t:ok\t:read\t{p % 18}"]
    lines += ["99\t:invoke\t:read\tnil", "99\t:ok\t:read\t1000"]
    (tmp_path / "slow.log").write_text("\n".join(lines) + "\n")
    assert main(["linearizable", str(tmp_path / "slow.log"), "--timeout", "0.2", "--json"]) == 3
    assert json.loads(capsys.readouterr().out)["valid"] == "unknown"


def test_sequential_and_session_checks(files: Path, capsys: pytest.CaptureFixture) -> None:
    # The stale read is fine under sequential consistency (p1 may just lag behind), and p1
    # reading 1 twice breaks no session guarantee.
    assert main(["linearizable", str(files / "bad.log"), "--consistency", "sequential"]) == 0
    assert main(["linearizable", str(files / "bad.log"), "--consistency", "session"]) == 0
    (files / "ryw.log").write_text("0\t:invoke\t:write\t1\n0\t:ok\t:write\t1\n"
                                   "0\t:invoke\t:read\tnil\n0\t:ok\t:read\tnil\n")
    assert main(["linearizable", str(files / "ryw.log"), "--consistency",
                 "read-your-writes"]) == 1
    assert "read-your-writes" in capsys.readouterr().out


def test_kv_history_from_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    h = stale_read(simulate_register(300, 5, seed=4, keys=3), at=0.5)
    (tmp_path / "kv.jsonl").write_text("\n".join(json_lines(h)) + "\n")
    assert main(["linearizable", str(tmp_path / "kv.jsonl"), "--model", "kv", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["part"] in (0, 1, 2)


def test_user_model_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "counter.py").write_text(
        "class Counter:\n"
        "    name = 'counter'\n"
        "    def init(self):\n        return 0\n"
        "    def step(self, state, input):\n"
        "        f, value = input\n"
        "        if f == 'add':\n            return True, None, state + value\n"
        "        return True, state, state\n")
    (tmp_path / "h.log").write_text("0\t:invoke\t:add\t2\n0\t:ok\t:add\tnil\n"
                                    "1\t:invoke\t:read\tnil\n1\t:ok\t:read\t2\n")
    model = f"{tmp_path / 'counter.py'}:Counter"
    assert main(["linearizable", str(tmp_path / "h.log"), "--model", model]) == 0
    (tmp_path / "h.log").write_text("0\t:invoke\t:add\t2\n0\t:ok\t:add\tnil\n"
                                    "1\t:invoke\t:read\tnil\n1\t:ok\t:read\t3\n")
    assert main(["linearizable", str(tmp_path / "h.log"), "--model", model]) == 1


def test_runs_as_a_module(files: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "protospec", "linearizable",
                           str(files / "bad.log"), "--json"], capture_output=True, text=True,
                          cwd=Path(__file__).parents[2])
    assert done.returncode == 1
    assert json.loads(done.stdout)["valid"] is False


DOCS_EXAMPLE = """\
INFO  jepsen.util - 0	:invoke	:write	1
INFO  jepsen.util - 0	:ok	:write	1
INFO  jepsen.util - 1	:invoke	:read	nil
INFO  jepsen.util - 2	:invoke	:write	2
INFO  jepsen.util - 1	:ok	:read	1
INFO  jepsen.util - 2	:ok	:write	2
INFO  jepsen.util - 0	:invoke	:cas	[2 3]
INFO  jepsen.util - 3	:invoke	:write	4
INFO  jepsen.util - 0	:ok	:cas	[2 3]
INFO  jepsen.util - 3	:info	:write	4	:timeout
INFO  jepsen.util - 1	:invoke	:read	nil
INFO  jepsen.util - 1	:ok	:read	3
INFO  jepsen.util - 2	:invoke	:read	nil
INFO  jepsen.util - 2	:ok	:read	2
"""


def test_the_example_in_the_docs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """docs/linearizability.md shows this history and what the command prints for it."""
    (tmp_path / "register.log").write_text(DOCS_EXAMPLE)
    assert main(["linearizable", str(tmp_path / "register.log"), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    window = data["window"]
    assert [(op["process"], op["f"], op["output"], op["line"])
            for op in window["operations"]] == [(2, "read", 2, 13)]
    # The timed-out write of 4 is never read, so it cannot explain anything: only 3 remains.
    assert window["start_states"] == [3]
    assert data["history"] == {"operations": 7, "ok": 6, "indeterminate": 1, "failed": 0,
                               "processes": 4}
    docs = Path(__file__).parents[2] / "docs" / "linearizability.md"
    assert "p2 r → 2 (line 13)" in docs.read_text()
