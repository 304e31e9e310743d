"""Regenerate every picture in docs/ (and the README's), or check that the committed ones are
current.

    python scripts/docs_pictures.py            # redraw them all
    python scripts/docs_pictures.py --check    # exit 1 and name the stale ones, 0 if current

Every picture is listed in PICTURES with the protospec command that draws it; nothing in
docs/images/ may be missing from the list (``unlisted()``). "Current" compares what a picture
*says*, not its bytes, which differ between Graphviz versions:

* an SVG: the multiset of its nodes and edges, each as (class, id, texts), without positions;
* a PNG drawn by the same command as an SVG beside it: that SVG's content (a PNG's pixels
  cannot be compared across Graphviz versions, and it comes from the same DOT source);
* the explorer's screenshot: the path it shows, kept beside it as an ITF trace
  (``<name>.itf.json``) and compared state by state with the path recomputed now.

Drawing needs Graphviz's ``dot``; the screenshot also needs Chromium and chromium-driver.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sys
import tempfile
import threading
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from protospec.explorer.cli.main import main  # noqa: E402


@dataclass(frozen=True)
class Picture:
    """``path`` (under docs/) and the ``protospec`` arguments that draw it (``{out}`` is the
    file to write, ``{log}`` the register history of docs/linearizability.md).

    A PNG chart is always drawn with its SVG beside it (same command, same DOT source): the
    SVG is what the check compares.
    """

    path: str
    argv: tuple[str, ...]
    expected_exit: int = 1
    kind: str = "render"  # "render" or "screenshot"

    @property
    def spec(self) -> str | None:
        """The built-in spec the picture is drawn from, if any."""
        if self.kind == "screenshot":
            return self.argv[0]
        return self.argv[1] if self.argv[0] == "check" else None

    @property
    def svg(self) -> str:
        """The SVG whose content stands for this picture (itself, or its sibling)."""
        return str(Path(self.path).with_suffix(".svg"))


def _check(spec: str, *args: str) -> tuple[str, ...]:
    return ("check", spec, *args, "--render", "{out}", "--force")


def _variant_chart(spec: str, variant: str) -> Picture:
    """A spec page's picture: the variant's counterexample, images/<spec>_<variant>.png."""
    return Picture(f"images/{spec}_{variant}.png", _check(spec, "--variant", variant))


PICTURES = [
    Picture("images/two_phase_commit_tm_commits_early.svg",
            _check("two_phase_commit", "--variant", "tm_commits_early")),
    Picture("images/two_phase_commit_tm_commits_early.png",
            _check("two_phase_commit", "--variant", "tm_commits_early")),
    Picture("images/linearizability_example.svg",
            ("linearizable", "{log}", "--render", "{out}", "--force")),
    Picture("images/learn/lamport_clock_receive_forgets_max.svg",
            _check("lamport_clock", "-p", "processes=2", "--variant", "receive_forgets_max")),
    Picture("images/learn/failure_detector_timeout_below_delay.svg",
            _check("failure_detector", "--variant", "timeout_below_delay")),
    Picture("images/learn/distributed_lock_no_fencing.svg",
            _check("distributed_lock", "--variant", "no_fencing")),
    Picture("images/learn/quorum_kv_r_plus_w_le_n.svg",
            _check("quorum_kv", "--variant", "r_plus_w_le_n")),
    Picture("images/learn/paxos_proposer_ignores_1b.svg",
            _check("paxos", "--variant", "proposer_ignores_1b", "--inv", "consistency")),
    Picture("images/learn/primary_backup_ack_before_backup_applies.svg",
            _check("primary_backup", "--variant", "ack_before_backup_applies")),
    Picture("images/learn/cache_aside_fill_without_lease.svg",
            _check("cache_aside", "--variant", "fill_without_lease")),
    Picture("images/explore_two_phase_commit_tm_commits_early.png",
            ("two_phase_commit", "--variant", "tm_commits_early"), 0, "screenshot"),
    # The pictures of the spec pages of issue 18 (catalogue III).
    _variant_chart("race_counter", "no_lock"),
    _variant_chart("producer_consumer", "no_mutex"),
    _variant_chart("dining_philosophers", "left_first"),
    _variant_chart("readers_writers", "entry_without_mutex"),
    _variant_chart("alternating_bit", "no_sequence_bit"),
    _variant_chart("byzantine_generals", "three_generals"),
    _variant_chart("raft_membership", "reconfig_before_term_commit"),
    _variant_chart("three_phase_commit", "network_partition"),
    _variant_chart("casper_ffg", "no_surround_rule"),
    _variant_chart("causal_broadcast", "fifo_only"),
    _variant_chart("rate_limiter", "local_counters"),
    _variant_chart("raft_snapshot", "install_discards_log"),
    _variant_chart("dining_philosophers", "weakly_fair_forks"),
    # Liveness counterexamples (lassos) on docs/liveness.md and the spec pages.
    Picture("images/two_phase_commit_tm_may_crash.svg",
            _check("two_phase_commit", "--variant", "tm_may_crash")),
    Picture("images/circuit_breaker_success_weakly_fair.svg",
            _check("circuit_breaker", "--variant", "success_weakly_fair")),
]


def available(picture: Picture) -> bool:
    """Whether the spec the picture is drawn from is in the catalogue."""
    from protospec.explorer.loader import builtin_spec_names

    return picture.spec is None or picture.spec in builtin_spec_names()


def register_log(folder: Path) -> Path:
    """The Jepsen history of docs/linearizability.md's example, written to ``folder``."""
    text = (DOCS / "linearizability.md").read_text(encoding="utf-8")
    after = text[text.index("(save as `register.log`"):]
    block = re.search(r"```\n(.*?)```", after, re.S).group(1)
    path = folder / "register.log"
    path.write_text(block, encoding="utf-8")
    return path


def draw(picture: Picture, out: Path, work: Path) -> None:
    """Draw ``picture`` into ``out`` (RuntimeError if the command does not behave)."""
    if picture.kind == "screenshot":
        screenshot(picture, out, work)
        return
    log = register_log(work) if "{log}" in picture.argv else None
    targets = [out] if out.suffix == ".svg" else [out, out.with_suffix(".svg")]
    for target in targets:
        argv = [a.replace("{out}", str(target)).replace("{log}", str(log))
                for a in picture.argv]
        with contextlib.redirect_stdout(io.StringIO()) as printed, \
                contextlib.redirect_stderr(printed):
            code = main(argv)
        if code != picture.expected_exit or not target.exists():
            raise RuntimeError(f"`protospec {' '.join(argv)}` exited {code} (expected "
                               f"{picture.expected_exit}):\n{printed.getvalue()}")


# -- the explorer's screenshot ------------------------------------------------------------------


def explored_path(picture: Picture) -> tuple[list[str], dict]:
    """The path the screenshot shows (the shortest violation, found by the app's BFS) and its
    ITF trace, computed without a browser."""
    from protospec.explorer.cli.commands.explore import prepare
    from protospec.explorer.cli.main import build_parser

    app = prepare(build_parser().parse_args(["explore", *picture.argv, "--no-browser"]))
    client = app.test_client()
    where = client.get("/search").headers["Location"]
    query = where.split("?", 1)[1]
    data = json.loads(client.get(f"/trace.itf.json?{query}").data)
    return where, data


def screenshot(picture: Picture, out: Path, work: Path) -> None:
    import logging

    from werkzeug.serving import make_server

    from protospec.explorer.cli.commands.explore import prepare
    from protospec.explorer.cli.main import build_parser
    from tests.explorer.browser import chromium

    app = prepare(build_parser().parse_args(["explore", *picture.argv, "--no-browser"]))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    where, data = explored_path(picture)
    driver = chromium(work / "profile", 1400, 1260)
    try:
        driver.get(f"http://127.0.0.1:{server.server_port}{where}")
        driver.save_screenshot(str(out))
    finally:
        driver.quit()
        server.shutdown()
    out.with_suffix(".itf.json").write_text(json.dumps(_path_content(data), indent=1) + "\n")


def _path_content(data: dict) -> dict:
    """What a screenshot's path says: its states, actions and violated property."""
    return {"vars": data["vars"], "violation": data["#meta"].get("violation"),
            "states": data["states"]}


# -- what a picture says --------------------------------------------------------------------------


def svg_content(path: Path) -> Counter:
    """The nodes and edges of a Graphviz SVG as (class, id, texts), positions left out."""
    tree = ET.parse(path)
    out: Counter = Counter()
    for g in tree.iter("{http://www.w3.org/2000/svg}g"):
        cls = g.get("class", "")
        if cls.split()[:1] not in (["node"], ["edge"], ["cluster"], ["graph"]):
            continue
        texts = tuple(" ".join("".join(t.itertext()).split())
                      for t in g.iter("{http://www.w3.org/2000/svg}text"))
        title = "".join(next(g.iter("{http://www.w3.org/2000/svg}title"), ET.Element("t"))
                        .itertext())
        out[(cls, g.get("id", ""), title if cls.startswith("graph") else "", texts)] += 1
    return out


def stale(picture: Picture, work: Path) -> str | None:
    """Why the committed picture is not current (None if it is)."""
    committed = DOCS / picture.path
    if not committed.exists():
        return "missing"
    if picture.kind == "screenshot":
        sidecar = committed.with_suffix(".itf.json")
        if not sidecar.exists():
            return f"{sidecar.name} (the path it shows) is missing"
        _, data = explored_path(picture)
        if json.loads(sidecar.read_text()) != _path_content(data):
            return "the explorer's path to the violation has changed"
        return None
    svg = DOCS / picture.svg
    if not svg.exists():
        return f"{svg.name}, the SVG drawn beside it from the same source, is missing"
    fresh = work / Path(picture.svg).name
    draw(Picture(picture.svg, picture.argv, picture.expected_exit), fresh, work)
    if svg_content(fresh) != svg_content(svg):
        return "its content differs from what protospec draws now"
    return None


def unlisted() -> list[str]:
    """Pictures in docs/images that no entry of PICTURES draws."""
    listed = {p.path for p in PICTURES} | {p.svg for p in PICTURES if p.kind == "render"}
    listed |= {str(Path(p.path).with_suffix(".itf.json")) for p in PICTURES
               if p.kind == "screenshot"}
    return sorted(str(f.relative_to(DOCS)) for f in (DOCS / "images").rglob("*")
                  if f.is_file() and str(f.relative_to(DOCS)) not in listed)


def run(check_only: bool) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if check_only:
            problems = [f"{p.path}: {why}" for p in PICTURES
                        if (why := ("its spec is not in the catalogue" if not available(p)
                                    else stale(p, work)))]
            problems += [f"{path}: not drawn by scripts/docs_pictures.py"
                         for path in unlisted()]
            for line in problems:
                print(line)
            if problems:
                print("Run `python scripts/docs_pictures.py` to redraw the pictures.")
            return 1 if problems else 0
        for p in PICTURES:
            if not available(p):
                print(f"skipped {p.path}: spec {p.spec!r} is not in the catalogue")
                continue
            out = DOCS / p.path
            out.parent.mkdir(parents=True, exist_ok=True)
            draw(p, out, work)
            print(f"drew {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="check that the committed pictures are current; draw nothing")
    sys.exit(run(parser.parse_args().check))
