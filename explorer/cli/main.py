"""The ``protospec`` command: the only module tree that parses argv, prints and exits.

Subcommands live one per module in ``explorer/cli/commands/``; each module defines
``register(subparsers)`` (adding its parser with ``set_defaults(func=run)``) and
``run(args) -> int``. They are discovered here, so adding a command touches no other file.

Exit codes: 0 no violation, 1 violation found, 2 usage or spec error (the message says what and
where; the traceback only with ``--debug``), 3 unknown (a check gave up, e.g. on a timeout).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import traceback
from collections.abc import Sequence

from .. import __version__
from ..errors import ProtospecError, SpecError
from . import commands
from .common import err_console, print_spec_error

EXIT_OK, EXIT_VIOLATION, EXIT_ERROR, EXIT_UNKNOWN = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 2 with one clear paragraph (argparse's own convention)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"protospec: error: {message}\n")
        raise SystemExit(EXIT_ERROR)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="protospec",
        description="Model-check distributed protocols written as Python state machines: "
                    "explore every reachable state, check invariants, show the shortest "
                    "counterexample.",
        epilog="Run `protospec COMMAND --help` for a command's options. "
               "Exit codes: 0 ok, 1 violation, 2 usage or spec error, 3 unknown.",
    )
    parser.add_argument("--version", action="version", version=f"protospec {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show Python tracebacks for errors (to debug a spec or protospec)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv`` and return the exit code (the library-friendly entry point)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # --debug is accepted both before and after the subcommand.
    debug = bool(getattr(args, "debug", False)) or "--debug" in (argv or sys.argv[1:])
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        return int(args.func(args))
    except ProtospecError as exc:
        if debug:
            traceback.print_exc()
        if isinstance(exc, SpecError):
            print_spec_error(exc)
        else:
            err_console().print(f"protospec: error: {exc}", markup=False, highlight=False)
        return EXIT_ERROR
    except KeyboardInterrupt:
        err_console().print("protospec: interrupted", markup=False)
        return 130


def entry() -> None:
    """Console-script entry point: run, flush, and leave without freeing the state space.

    Freeing millions of states at interpreter exit can take longer than the search itself, and
    nothing is left to save once the result is printed (see shared/PERFORMANCE.md).
    """
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
