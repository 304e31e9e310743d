"""What the CLI's commands share: building a spec from arguments, output files, progress."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from ..errors import SpecError, UsageError
from ..invariants.errors import did_you_mean
from ..loader import load_spec
from ..render.text import format_trace
from ..spec import Spec

__all__ = ["Progress", "add_spec_arguments", "confirm_overwrite", "err_console", "instantiate",
           "out_console", "print_json", "print_spec_error", "stdout_reserved_for_json",
           "write_output"]


class _Console(Console):
    """rich's Console, except that a reader closing the pipe (`protospec check X | head`) only
    silences the rest of the output: the command still finishes and exits with its own code
    (rich would raise SystemExit(1), which is the violation code)."""

    def on_broken_pipe(self) -> None:
        _silence(self.file)
        self.quiet = True


def _silence(stream: Any) -> None:
    """Point a closed output stream's descriptor at /dev/null so later writes go nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def out_console() -> Console:
    return _Console(file=sys.stdout, highlight=False, soft_wrap=True)


def err_console() -> Console:
    return _Console(file=sys.stderr, highlight=False, soft_wrap=True)


# While a --json command runs, sys.stdout is stderr (so a spec's print cannot corrupt the JSON)
# and the JSON goes here, to the real standard output.
_json_stream: Any = None


@contextmanager
def stdout_reserved_for_json(enabled: bool) -> Iterator[None]:
    """Run a command with everything printed to sys.stdout (a spec's own prints, say) sent to
    stderr, so that standard output carries only the JSON that ``print_json`` writes."""
    global _json_stream
    if not enabled:
        yield
        return
    saved, _json_stream = sys.stdout, sys.stdout
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout, _json_stream = saved, None


def print_json(data: Any) -> None:
    out = _json_stream if _json_stream is not None else sys.stdout
    try:
        out.write(json.dumps(data, indent=2, default=str) + "\n")
        out.flush()
    except BrokenPipeError:  # the reader stopped reading: not an error of ours
        _silence(out)


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


def parse_params(cls: type[Spec], items: list[str], from_file: int = 0) -> dict[str, Any]:
    """Parse ``-p NAME=VALUE`` items; the first ``from_file`` came from --config (which the
    command line may override), and a name given twice on the command line is an error."""
    declared = cls.params()
    out: dict[str, Any] = {}
    given: dict[str, str] = {}
    for k, item in enumerate(items):
        if "=" not in item:
            raise UsageError(f"-p {item!r}: expected NAME=VALUE, e.g. -p "
                             f"{next(iter(declared), 'n')}=3")
        name, _, text = item.partition("=")
        name = name.strip()
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise UsageError(f"spec {cls.name!r} has no parameter {name!r}"
                             f"{did_you_mean(name, declared)} (its parameters: {known})")
        if k >= from_file and name in given:
            raise UsageError(f"-p {name} is given twice ({given[name]} and {item}); give each "
                             f"parameter once")
        if k >= from_file:
            given[name] = item
        out[name] = declared[name].parse(text.strip())
    return out


def instantiate(args: argparse.Namespace) -> Spec:
    """Load the spec named on the command line and build it with its parameters and variant."""
    if getattr(args, "spec", None) is None:
        raise UsageError("name a SPEC (see `protospec list`), or give --config FILE naming one")
    cls = load_spec(args.spec).with_variant(getattr(args, "variant", None))
    params = parse_params(cls, getattr(args, "param", []) or [],
                          getattr(args, "params_from_config", 0))
    try:
        return cls(**params)
    except (UsageError, SpecError):
        raise
    except Exception as exc:
        raise SpecError(f"spec {cls.name!r}: setting it up failed with {type(exc).__name__}: "
                        f"{exc}", spec=cls.name, cause=exc) from exc


def confirm_overwrite(path: str | Path, force: bool, option: str = "") -> Path:
    """Check, before any search starts, that ``path`` can be written; return it as a Path.

    Refused (UsageError, exit 2, naming the option and the path): a directory, a path under a
    missing folder or under something that is not a folder, something that is not a regular
    file (a device, a pipe), a place where a file cannot be created (no permission, a
    read-only or virtual file system such as /proc), and an existing file unless ``force``
    (or the user agrees at a terminal prompt). The probe creates the file and removes it
    again, so nothing the user wrote is touched.
    """
    p = Path(path)
    what = f"{option} {str(p)!r}" if option else repr(str(p))
    if str(path) == "":
        raise UsageError(f"{option or 'output path'}: the file name is empty")
    if p.is_dir():
        raise UsageError(f"cannot write {what}: it is a folder; name a file (for example "
                         f"{str(p / 'out')!r} with the right extension)")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise UsageError(f"cannot write {what}: folder {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise UsageError(f"cannot write {what}: {str(parent)!r} is not a folder")
    if p.exists():
        if not p.is_file():
            raise UsageError(f"cannot write {what}: it exists and is not a regular file")
        if not force:
            if sys.stdin.isatty() and sys.stderr.isatty():
                answer = input(f"{p} exists. Overwrite it? [y/N] ").strip().lower()
                if answer in ("y", "yes"):
                    return _probe_writable(p, what, existing=True)
            raise UsageError(f"{what} already exists; not overwriting it (pass --force to "
                             f"replace it)")
        return _probe_writable(p, what, existing=True)
    return _probe_writable(p, what, existing=False)


def _probe_writable(p: Path, what: str, existing: bool) -> Path:
    try:
        if existing:
            with open(p, "a"):  # opening to append, writing nothing, changes nothing
                pass
        else:
            with open(p, "x"):
                pass
            p.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write {what}: {exc.strerror or exc}") from None
    return p


def write_output(path: str | Path, text: str, what: str = "output") -> None:
    """Write a text output file; a failure (disk full, ...) is a clear error, not a traceback."""
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write the {what} to {str(path)!r}: "
                         f"{exc.strerror or exc}") from None


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
