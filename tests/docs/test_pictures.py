"""Every picture in docs/ is drawn by scripts/docs_pictures.py, and the committed ones say what
protospec draws now (compared by content: an SVG's nodes, edges and texts; the explorer
screenshot's path as a trace) — so a change to a spec or a renderer cannot leave a stale
picture in the docs."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from protospec.explorer.loader import builtin_spec_names
from protospec.explorer.render.dot import dot_available
from tests.docs.pending import PENDING

ROOT = Path(__file__).resolve().parents[2]


def load_script():
    spec = importlib.util.spec_from_file_location("docs_pictures",
                                                  ROOT / "scripts" / "docs_pictures.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


pictures = load_script()


def referenced_images() -> set[str]:
    """Every image the docs and the README show, as a path under docs/."""
    found = set()
    for page in [*(ROOT / "docs").rglob("*.md"), ROOT / "README.md"]:
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", page.read_text()):
            path = (page.parent / target).resolve()
            found.add(str(path.relative_to((ROOT / "docs").resolve())))
    return found


def test_every_picture_the_docs_show_is_drawn_by_the_script() -> None:
    drawn = {p.path for p in pictures.PICTURES} | {p.svg for p in pictures.PICTURES}
    assert referenced_images() - drawn == set()
    assert pictures.unlisted() == []


@pytest.mark.slow
@pytest.mark.skipif(not dot_available(), reason="Graphviz's dot is not installed")
def test_the_committed_pictures_are_current(tmp_path) -> None:
    known = set(builtin_spec_names())
    waiting = [p for p in pictures.PICTURES if p.spec in PENDING and p.spec not in known]
    unknown = [p.path for p in pictures.PICTURES
               if not pictures.available(p) and p not in waiting]
    assert unknown == [], "pictures of specs that are not in the catalogue"
    stale = {p.path: why for p in pictures.PICTURES
             if p not in waiting and (why := pictures.stale(p, tmp_path))}
    assert stale == {}, "run `python scripts/docs_pictures.py`"
    if waiting:
        pytest.skip(f"specs not merged yet (issue 18): {sorted({p.spec for p in waiting})}")


@pytest.mark.skipif(not dot_available(), reason="Graphviz's dot is not installed")
def test_a_chart_that_no_longer_matches_is_caught(tmp_path, monkeypatch) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs" / "images", docs / "images")
    shutil.copy(ROOT / "docs" / "linearizability.md", docs)
    svg = docs / "images" / "learn" / "lamport_clock_receive_forgets_max.svg"
    svg.write_text(svg.read_text().replace("receive_forgets_max", "some_other_variant", 1))
    monkeypatch.setattr(pictures, "DOCS", docs)
    picture = next(p for p in pictures.PICTURES if p.path.endswith(svg.name))
    assert pictures.stale(picture, tmp_path) == \
        "its content differs from what protospec draws now"


def test_a_screenshot_whose_path_changed_is_caught(tmp_path, monkeypatch) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs" / "images", docs / "images")
    shot = next(p for p in pictures.PICTURES if p.kind == "screenshot")
    sidecar = (docs / shot.path).with_suffix(".itf.json")
    data = json.loads(sidecar.read_text())
    data["states"] = data["states"][:-1]
    sidecar.write_text(json.dumps(data))
    monkeypatch.setattr(pictures, "DOCS", docs)
    assert pictures.stale(shot, tmp_path) == "the explorer's path to the violation has changed"
