"""The structured event log of a real process: one JSON object per line, one line per step.

A driver writes a step's events after the step's records are fsynced and before its messages
are sent, each batch in one ``write`` of whole lines: a process killed at any moment leaves a
log whose every line happened, and at worst one torn last line, which :func:`read_events`
skips (and says so). Each event gets ``i``, its line's number in the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["EventLog", "read_events"]


class EventLog:
    """Appends events to a JSON-lines file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.count = len(read_events(self.path)[0]) if self.path.exists() else 0
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        lines = []
        for ev in events:
            ev["i"] = self.count
            self.count += 1
            lines.append(json.dumps(ev, separators=(",", ":")))
        view = memoryview(("\n".join(lines) + "\n").encode())
        while view:
            view = view[os.write(self.fd, view):]

    def close(self) -> None:
        os.close(self.fd)


def read_events(path: str | Path) -> tuple[list[dict[str, Any]], str]:
    """The events of one log file, and a note if a torn last line was skipped.

    Raises ValueError naming the line if any complete line is not a JSON object.
    """
    text = Path(path).read_bytes().decode("utf-8", errors="replace")
    lines = text.split("\n")
    note = ""
    if lines and lines[-1] == "":
        lines.pop()
    elif lines:
        note = f"{path}: skipped a torn last line ({len(lines[-1])} bytes without a newline)"
        lines.pop()
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"{path}, line {number}: not JSON ({exc})") from None
        if not isinstance(ev, dict):
            raise ValueError(f"{path}, line {number}: expected a JSON object")
        out.append(ev)
    return out, note
