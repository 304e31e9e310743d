"""The exit codes of every ``protospec`` command: a contract that CI jobs and scripts rely on.

0  complete, and no property violated (every reachable state explored, or every check passed)
1  a property is violated (an invariant, a liveness property, conformance, linearizability)
2  bad input or a spec error: one paragraph naming what and where (traceback only with --debug)
3  incomplete or unknown: the run stopped before it could decide (interrupt, --max-states,
   --max-depth, a time limit, a checker that gave up)
4  an internal error: a bug in protospec itself (traceback with --debug)

Nothing but a violated property ever exits 1.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode"]


class ExitCode(IntEnum):
    OK = 0
    VIOLATION = 1
    ERROR = 2
    INCOMPLETE = 3
    INTERNAL = 4


EXIT_CODES_HELP = ("Exit codes: 0 complete, no violation; 1 a property is violated; "
                   "2 bad input or spec error; 3 incomplete or unknown (interrupted, a limit "
                   "reached, a checker gave up); 4 internal error (a protospec bug).")
