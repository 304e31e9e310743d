"""The examples of docs/invariants.md are real: every TOML block there is a working --config.

A block with a ``variant`` must find a violation (exit 1); every other block restates or asks
something that holds of the correct spec (exit 0).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from protospec.explorer.cli.main import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "invariants.md"
BLOCKS = re.findall(r"```toml\n(.*?)```", DOC.read_text(), re.S)


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_each_toml_example_runs_as_a_config(block: str, tmp_path, capsys) -> None:
    path = tmp_path / "example.toml"
    path.write_text(block)
    code = main(["check", "--config", str(path), "--json"])
    _, err = capsys.readouterr()
    expected = 1 if re.search(r"^variant\s*=", block, re.M) else 0
    assert code == expected, err


def test_the_shell_example_on_message_count_finds_four_messages(capsys) -> None:
    assert main(["check", "two_phase_commit", "--inv", "len(msgs) <= 3"]) == 1
    assert "Invariant len(msgs) <= 3 violated" in capsys.readouterr().out
