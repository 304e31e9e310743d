"""The ``protospec`` command: the only module tree that parses argv, prints and exits.

Subcommands live one per module in ``explorer/cli/commands/``; each module defines
``register(subparsers)`` (adding its parser with ``set_defaults(func=run)``) and
``run(args) -> int``. They are discovered here, so adding a command touches no other file.

Exit codes are a contract (``explorer/exitcodes.py``): 0 complete and no violation, 1 a property
violated, 2 bad input or spec error, 3 incomplete or unknown, 4 internal error. ``main`` is the
one guard that enforces it for every command: whatever a command or a spec raises, it ends as
one of these codes with one paragraph on stderr, and the traceback only with ``--debug``.
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
from ..exitcodes import EXIT_CODES_HELP, ExitCode
from . import commands
from .common import err_console, print_spec_error, stdout_reserved_for_json

EXIT_OK, EXIT_VIOLATION, EXIT_ERROR, EXIT_UNKNOWN = 0, 1, 2, 3
EXIT_INTERNAL = 4
_CONTRACT = frozenset(int(c) for c in ExitCode)


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
        epilog="Run `protospec COMMAND --help` for a command's options. " + EXIT_CODES_HELP,
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
    for command in sub.choices.values():  # every command's --help states the contract
        command.epilog = f"{command.epilog} {EXIT_CODES_HELP}" if command.epilog \
            else EXIT_CODES_HELP
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
        with stdout_reserved_for_json(bool(getattr(args, "json", False))):
            code = args.func(args)
    except ProtospecError as exc:
        if debug:
            traceback.print_exc()
        if isinstance(exc, SpecError):
            print_spec_error(exc)
        else:
            err_console().print(f"protospec: error: {exc}", markup=False, highlight=False)
        return EXIT_ERROR
    except OSError as exc:
        if exc.filename is None:
            return _internal_error(exc, args.command, debug)
        # A file the user named cannot be read or written (disk full, permissions, ...):
        # their environment, not a bug.
        if debug:
            traceback.print_exc()
        err_console().print(f"protospec: error: {exc.filename}: {exc.strerror or exc}",
                            markup=False, highlight=False)
        return EXIT_ERROR
    except KeyboardInterrupt:
        # A command that handles interrupts itself (check) reports its partial result and
        # returns 3; one that does not is, by definition, incomplete.
        err_console().print("protospec: interrupted; the run is incomplete", markup=False)
        return EXIT_UNKNOWN
    except SystemExit as exc:
        # argparse inside a command, or a spec calling sys.exit(): never let it pick the code.
        if exc.code != EXIT_ERROR:  # argparse's usage errors have already said their piece
            if debug:
                traceback.print_exc()
            err_console().print(f"protospec: spec error: {_exit_caller(exc)} called "
                                f"sys.exit({exc.code!r}) during `protospec {args.command}`; a "
                                f"spec must not exit the process (raise an exception to report "
                                f"a problem)", markup=False, highlight=False)
        return EXIT_ERROR
    except BaseException as exc:  # the guard of the exit-code contract
        if isinstance(exc, GeneratorExit):
            raise
        return _internal_error(exc, args.command, debug)
    if not isinstance(code, int) or code not in _CONTRACT:
        return _internal_error(RuntimeError(f"command returned {code!r}"), args.command, debug)
    return int(code)


_ENGINE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _exit_caller(exc: BaseException) -> str:
    """Who called sys.exit: the first function outside protospec's engine on the way down (the
    spec's action or property), named with its file and line; "something" if none is."""
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        path = os.path.abspath(code.co_filename)
        generated = code.co_filename.startswith("<")  # the engine's generated expanders
        if not (generated or path.startswith(_ENGINE_DIR + os.sep) or "contextlib" in path):
            return (f"{code.co_name} ({os.path.basename(path)}, line {tb.tb_lineno})"
                    if code.co_name != "<module>" else
                    f"the module {os.path.basename(path)} (line {tb.tb_lineno})")
        tb = tb.tb_next
    return "something"


def _internal_error(exc: BaseException, command: str, debug: bool) -> int:
    """Report a bug in protospec: one paragraph, exit 4; the traceback only with --debug."""
    if debug:
        traceback.print_exception(exc)
    where = ""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        where = f" at {os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}"
    err_console().print(
        f"protospec: internal error in `protospec {command}`: {type(exc).__name__}: {exc}"
        f"{where}. This is a bug in protospec, not in your spec or input; please report it "
        f"with the command line"
        + ("." if debug else " and the traceback that --debug prints."),
        markup=False, highlight=False)
    return EXIT_INTERNAL


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
