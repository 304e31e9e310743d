"""What a user gets from `pip install protospec`: one package, `protospec`, and nothing else.

The repository keeps its engine, specs and implementations in top-level `explorer/`, `specs/`
and `impl/` folders; the wheel must map them under `protospec/`, because generic top-level
names like `explorer` collide with anything else installed under those names.

The test really installs the working tree into a fresh virtual environment (with the running
interpreter's packages visible for the dependencies, and without network: `--no-deps
--no-build-isolation`), then imports it from outside the repository.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytest.importorskip("hatchling", reason="the build backend (pyproject's [test] extra)")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A fresh venv with this tree installed: (its python, its site-packages)."""
    root = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(root)
    python = root / "bin" / "python"
    purelib = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip())
    # The venv has no pip of its own: the running interpreter's pip installs into it.
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-build-isolation", "--no-index", "--quiet", str(REPO)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return python, purelib


def test_only_protospec_is_installed_at_the_top_level(installed) -> None:
    _python, purelib = installed
    top = {p.name for p in purelib.iterdir() if not p.name.endswith((".dist-info", ".pth"))}
    assert "protospec" in top
    assert not top & {"explorer", "specs", "impl", "tests"}, sorted(top)
    assert (purelib / "protospec" / "explorer" / "bfs.py").is_file()
    assert (purelib / "protospec" / "specs" / "two_phase_commit.py").is_file()
    assert (purelib / "protospec" / "impl").is_dir()


def test_the_public_api_imports_from_the_installed_package(installed, tmp_path) -> None:
    python, purelib = installed
    code = ("import protospec, sys\n"
            "from protospec import Spec, check, action, invariant, Param\n"
            "print(protospec.__file__)\n"
            "import protospec.specs.two_phase_commit as m\n"
            "r = check(m.TwoPhaseCommit(rms=3))\n"
            "print(r.stats.distinct_states, not r.violations)\n")
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    where, states = proc.stdout.splitlines()[:2]
    assert Path(where).resolve().is_relative_to(purelib.resolve())  # not the checkout
    assert states.split() == ["288", "True"]  # TLC's count for 3 RMs (TwoPhase.tla)


@pytest.mark.parametrize("command", ["module", "script"])
def test_the_installed_cli_runs(installed, tmp_path, command) -> None:
    python, _ = installed
    head = [str(python), "-m", "protospec"] if command == "module" else \
        [str(python.parent / "protospec")]
    proc = subprocess.run([*head, "check", "two_phase_commit", "--variant", "tm_commits_early"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 1, proc.stderr  # 1: the variant violates atomicity
    assert "Invariant atomicity violated" in proc.stdout

