"""One process of two-phase commit on asyncio TCP (:mod:`impl.runtime.tcp`).

    python -m protospec.impl.two_phase_commit.server --id 1 \\
        --cluster 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003,127.0.0.1:7004 --data DIR

Process 1 is the coordinator (TM), the others are participants; clients talk to the TM
(:mod:`impl.two_phase_commit.client`).
"""

from __future__ import annotations

import sys

from protospec.impl.runtime.tcp import main as run_main

from .core import BUGS, make_node

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    return run_main(argv, make_node, BUGS, "python -m protospec.impl.two_phase_commit.server",
                    "two-phase commit (process 1: the coordinator; others: participants)")


if __name__ == "__main__":
    sys.exit(main())
