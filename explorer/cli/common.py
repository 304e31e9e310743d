"""What the CLI's commands share: building a spec from arguments, output files, progress."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from ..errors import SpecError, UsageError
from ..loader import load_spec
from ..render.text import format_trace
from ..spec import Spec

__all__ = ["Progress", "add_spec_arguments", "confirm_overwrite", "err_console", "instantiate",
           "out_console", "print_json", "print_spec_error"]


def out_console() -> Console:
    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def err_console() -> Console:
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def add_spec_arguments(p: argparse.ArgumentParser) -> None:
    """SPEC, -p k=v, --variant: the arguments that pick one spec configuration."""
    p.add_argument("spec", metavar="SPEC", nargs="?", default=None,
                   help="a built-in spec name (see `protospec list`) or a path to a .py file "
                        "(may come from --config FILE instead)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="set a spec parameter (repeatable), e.g. -p rms=4")
    p.add_argument("--variant", metavar="NAME",
                   help="check a named bug variant instead of the correct spec")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks for errors")


def parse_params(cls: type[Spec], items: list[str]) -> dict[str, Any]:
    declared = cls.params()
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise UsageError(f"-p {item!r}: expected NAME=VALUE, e.g. -p "
                             f"{next(iter(declared), 'n')}=3")
        name, _, text = item.partition("=")
        name = name.strip()
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise UsageError(f"spec {cls.name!r} has no parameter {name!r} (its parameters: "
                             f"{known})")
        out[name] = declared[name].parse(text.strip())
    return out


def instantiate(args: argparse.Namespace) -> Spec:
    """Load the spec named on the command line and build it with its parameters and variant."""
    if getattr(args, "spec", None) is None:
        raise UsageError("name a SPEC (see `protospec list`), or give --config FILE naming one")
    cls = load_spec(args.spec).with_variant(getattr(args, "variant", None))
    params = parse_params(cls, getattr(args, "param", []) or [])
    try:
        return cls(**params)
    except (UsageError, SpecError):
        raise
    except Exception as exc:
        raise SpecError(f"spec {cls.name!r}: setting it up failed with {type(exc).__name__}: "
                        f"{exc}", spec=cls.name, cause=exc) from exc


def confirm_overwrite(path: str | Path, force: bool) -> Path:
    """Refuse to overwrite an existing file the user wrote unless told to (or asked and agreed)."""
    p = Path(path)
    if p.exists() and not force:
        if sys.stdin.isatty() and sys.stderr.isatty():
            answer = input(f"{p} exists. Overwrite it? [y/N] ").strip().lower()
            if answer in ("y", "yes"):
                return p
        raise UsageError(f"{str(p)!r} already exists; not overwriting it (pass --force to "
                         f"replace it)")
    if p.parent and not p.parent.exists():
        raise UsageError(f"cannot write {str(p)!r}: folder {str(p.parent)!r} does not exist")
    return p


def print_spec_error(exc: SpecError) -> None:
    con = err_console()
    con.print(f"protospec: spec error: {exc}", markup=False, highlight=False)
    if exc.trace is not None and exc.trace.steps:
        con.print(f"\nThe state where it happened, reached in {len(exc.trace)} step(s):",
                  markup=False)
        con.print(format_trace(exc.trace), markup=False, highlight=False)
    if exc.cause is not None:
        con.print("(run with --debug for the Python traceback)", markup=False)


class Progress:
    """Progress on stderr for runs over a second.

    On a terminal: a live line (rich), updated in place. Elsewhere (CI, nohup, a pipe): a plain
    line every ``every_s`` seconds, so that a long run in a log still shows it is alive.
    ``enabled=False`` (``--no-progress``) silences both.
    """

    def __init__(self, label: str, enabled: bool | None = None, every_s: float = 10.0) -> None:
        self.label = label
        self.enabled = enabled is not False
        self.live = sys.stderr.isatty()
        self.every_s = every_s
        self.started = time.perf_counter()
        self._last_line = self.started
        self._live = None
        self._task = None

    @staticmethod
    def rss_mib() -> float:
        """The process's resident memory now, in MiB (peak memory where /proc is missing)."""
        try:
            with open("/proc/self/statm") as f:
                pages = int(f.read().split()[1])
            import os

            return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, ValueError, IndexError):
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def _ensure(self) -> None:
        if self._live is None:
            from rich.progress import Progress as RichProgress
            from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

            self._live = RichProgress(SpinnerColumn(), TextColumn("{task.description}"),
                                      TimeElapsedColumn(), console=err_console(),
                                      transient=True)
            self._live.start()
            self._task = self._live.add_task(self.label)

    def update(self, text: str) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not self.live:
            if now - self._last_line >= self.every_s:
                self._last_line = now
                sys.stderr.write(f"protospec: {self.label}: {text} "
                                 f"[{now - self.started:,.0f} s]\n")
                sys.stderr.flush()
            return
        if now - self.started < 1.0:
            return
        self._ensure()
        self._live.update(self._task, description=f"{self.label}: {text}")

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
