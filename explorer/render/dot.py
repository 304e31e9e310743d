"""Running Graphviz's ``dot``: DOT source in, SVG/PNG/PDF out, or a clear word when it is missing.

The charts themselves are plain DOT text (built with the ``graphviz`` Python package) and need
no program to write. Only the pictures need ``dot``; when it is not installed, the caller gets
:class:`DotMissing`, whose message says how to install it, and can still save the DOT source.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..errors import ProtospecError

__all__ = ["FORMATS", "INSTALL_HINT", "DotFailed", "DotMissing", "dot_available", "format_of",
           "render", "write_rendered"]

# File extension -> dot's output format (None: the DOT source itself).
FORMATS: dict[str, str | None] = {".dot": None, ".gv": None, ".svg": "svg", ".png": "png",
                                  ".pdf": "pdf"}
INSTALL_HINT = ("Graphviz's `dot` program is needed to draw pictures and was not found on the "
                "PATH. Install Graphviz: `apt-get install graphviz` (Debian, Ubuntu), "
                "`dnf install graphviz` (Fedora), `brew install graphviz` (macOS) or "
                "`choco install graphviz` (Windows); then run the command again.")
PNG_DPI = 110  # dot's default of 96 makes the small print of the charts hard to read
TIMEOUT_S = 120


class DotMissing(ProtospecError):
    """Graphviz's ``dot`` is not installed (or not on the PATH)."""

    def __init__(self) -> None:
        super().__init__(INSTALL_HINT)


class DotFailed(ProtospecError):
    """``dot`` ran but failed (a bug in the generated DOT, or a graph too big to lay out)."""


def dot_available() -> bool:
    return shutil.which("dot") is not None


def format_of(path: str | Path) -> str | None:
    """dot's output format for a file name (None for .dot/.gv); ValueError if unsupported."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        known = ", ".join(FORMATS)
        raise ValueError(f"cannot tell what to write from the file name {str(path)!r}: "
                         f"use one of {known}")
    return FORMATS[ext]


def render(source: str, fmt: str) -> bytes:
    """Lay out DOT ``source`` with ``dot`` and return the picture in format ``fmt``."""
    exe = shutil.which("dot")
    if exe is None:
        raise DotMissing()
    cmd = [exe, f"-T{fmt}"] + ([f"-Gdpi={PNG_DPI}"] if fmt == "png" else [])
    try:
        done = subprocess.run(cmd, input=source.encode("utf-8"), capture_output=True,
                              timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise DotFailed(f"Graphviz's dot took more than {TIMEOUT_S} s to lay out the graph; "
                        f"it is too big to draw") from None
    except OSError as exc:
        raise DotFailed(f"could not run Graphviz's dot: {exc}") from None
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip()
        raise DotFailed(f"Graphviz's dot failed (exit {done.returncode}): {err}")
    return done.stdout


def write_rendered(source: str, path: str | Path) -> Path:
    """Write ``source`` to ``path`` as the file's extension says (DOT, SVG, PNG or PDF).

    Raises DotMissing (having written nothing) when a picture is asked for and ``dot`` is not
    installed; the caller decides whether to save the DOT source instead.
    """
    p = Path(path)
    fmt = format_of(p)
    if fmt is None:
        p.write_text(source, encoding="utf-8")
    else:
        p.write_bytes(render(source, fmt))
    return p
