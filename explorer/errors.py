"""Errors that protospec reports to its user, each saying whose fault it is.

Every error here is *expected*: the CLI prints its message as one paragraph and exits 2, with
the traceback only under ``--debug``. Anything else that escapes is a bug in protospec itself.
"""

from __future__ import annotations


class ProtospecError(Exception):
    """Base class: a problem with the user's input, not a bug in protospec."""


class UsageError(ProtospecError):
    """The command line or a parameter value is wrong (unknown spec, bad ``-p`` value, ...)."""


class SpecError(ProtospecError):
    """The spec itself is malformed or misbehaves (raises in an action, unhashable state, ...).

    ``state_index`` and ``depth`` locate the state being expanded when the spec failed, so the
    caller can rebuild the trace that leads there.
    """

    def __init__(self, message: str, *, spec: str = "", action: str | None = None,
                 depth: int | None = None, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.spec = spec
        self.action = action
        self.depth = depth
        self.cause = cause
        self.trace = None  # filled in by the explorer when the path to the failure is known


class TraceFormatError(ProtospecError):
    """A saved trace file cannot be read (not JSON, not ITF, or values it cannot decode)."""
