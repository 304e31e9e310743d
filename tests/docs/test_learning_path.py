"""The learning path (docs/learn/) cannot rot: it covers every spec of the catalogue, every
exercise command on it runs with the exit code its page promises, and the site builds with
MkDocs in strict mode (every link and picture resolves)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from protospec.explorer.cli.commands.explore import prepare
from protospec.explorer.cli.main import build_parser, main
from protospec.explorer.loader import builtin_spec_names
from tests.docs.pending import PENDING

ROOT = Path(__file__).resolve().parents[2]
LEARN = ROOT / "docs" / "learn"
PAGES = sorted(LEARN.glob("*.md"))
MARK = re.compile(r"\s#\s*(?:exit\s+(\d)|(serves))\s*$")


@dataclass(frozen=True)
class Exercise:
    page: str
    line: int
    text: str  # the command as written, without its mark
    exit: int | None  # the promised exit code; None for `# serves`

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.text)[1:]  # without the leading `protospec`

    @property
    def spec(self) -> str | None:
        args = [a for a in self.argv[1:] if not a.startswith("-")]
        return args[0] if args and self.argv[0] != "list" else None


def exercises(page: Path) -> list[Exercise]:
    """Every `protospec ...` line in the page's ```sh blocks (with `\\` continuations)."""
    out, in_sh, pending, start = [], False, "", 0
    for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("```"):
            in_sh = line.strip() == "```sh"
            continue
        if not in_sh:
            continue
        if pending:
            line = pending + " " + line.strip()
        elif line.startswith("protospec "):
            start = n
        else:
            continue
        if line.endswith("\\"):
            pending = line[:-1].rstrip()
            continue
        pending = ""
        m = MARK.search(line)
        out.append(Exercise(page.name, start, line[: m.start()].rstrip() if m else line,
                            (int(m.group(1)) if m.group(1) else None) if m else -1))
    return out


ALL = [ex for page in PAGES for ex in exercises(page)]


def named_specs(page: Path) -> set[str]:
    """The specs a page teaches: those it tells you to read (`specs/NAME.py`)."""
    return set(re.findall(r"`specs/(\w+)\.py`", page.read_text(encoding="utf-8")))


def test_the_path_has_its_nine_phases_and_an_index() -> None:
    assert [p.name[:2] for p in PAGES] == [f"0{i}" for i in range(1, 10)] + ["in"]


def test_every_spec_in_the_catalogue_is_on_the_learning_path() -> None:
    taught = set().union(*(named_specs(p) for p in PAGES))
    missing = sorted(set(builtin_spec_names()) - taught)
    assert not missing, f"specs with no entry on docs/learn/: {missing}"


def test_every_spec_on_the_path_is_in_the_catalogue_or_pending() -> None:
    taught = set().union(*(named_specs(p) for p in PAGES))
    unknown = sorted(taught - set(builtin_spec_names()) - PENDING)
    assert not unknown, f"docs/learn/ teaches specs that do not exist: {unknown}"


def test_every_spec_on_the_path_has_an_exercise() -> None:
    exercised = {ex.spec for ex in ALL}
    for page in PAGES:
        without = sorted(named_specs(page) - exercised)
        assert not without, f"{page.name}: no exercise command for {without}"


def test_every_exercise_says_what_it_should_do() -> None:
    unmarked = [f"{ex.page}:{ex.line}: {ex.text}" for ex in ALL if ex.exit == -1]
    assert not unmarked, "add `# exit N` or `# serves`:\n" + "\n".join(unmarked)


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if exercises(p)], ids=lambda p: p.stem)
def test_every_exercise_on_the_page_does_what_it_promises(page, tmp_path, monkeypatch,
                                                          capsys) -> None:
    """The page's commands run in order in one folder (a later one may read a file an earlier
    one wrote), in-process; `# serves` commands start the app without serving and load its
    first page."""
    monkeypatch.chdir(tmp_path)
    known = set(builtin_spec_names())
    failures, skipped = [], []
    for ex in exercises(page):
        if ex.spec in PENDING and ex.spec not in known:
            skipped.append(ex.spec)
            continue
        if ex.exit is None:
            args = build_parser().parse_args(ex.argv + ["--no-browser"])
            client = prepare(args).test_client()
            resp = client.get("/", follow_redirects=True)
            ok = resp.status_code == 200 and 'id="step-number">Step 0<' in resp.text
            got = "a page" if ok else f"HTTP {resp.status_code}"
        else:
            code = main(ex.argv)
            ok, got = code == ex.exit, f"exit {code}"
        out = capsys.readouterr()
        if not ok:
            failures.append(f"{ex.page}:{ex.line}: `{ex.text}` gave {got}, the page promises "
                            f"{'a page' if ex.exit is None else f'exit {ex.exit}'}\n"
                            f"{out.out[-1500:]}{out.err[-1500:]}")
    assert not failures, "\n".join(failures)
    if skipped:
        pytest.skip(f"specs not merged yet (issue 18): {sorted(set(skipped))}")


@pytest.mark.slow
def test_the_site_builds_in_strict_mode(tmp_path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs)
    for name in PENDING - set(builtin_spec_names()):
        page = docs / "specs" / f"{name}.md"
        if not page.exists():
            page.write_text(f"# {name}\n\nThis spec is being written (issue 18).\n")
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    (tmp_path / "mkdocs.yml").write_text(config)
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d",
                             str(tmp_path / "site")], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / "site" / "learn" / "index.html").exists()
    html = (tmp_path / "site" / "learn" / "07-transactions" / "index.html").read_text()
    assert "two_phase_commit_tm_commits_early.svg" in html
