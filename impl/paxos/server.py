"""One node of the Multi-Paxos key-value store on asyncio TCP (:mod:`impl.runtime.tcp`).

    python -m protospec.impl.paxos.server --id 1 \\
        --cluster 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 --data DIR
"""

from __future__ import annotations

import sys

from protospec.impl.runtime.tcp import main as run_main

from .core import BUGS, make_node

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    return run_main(argv, make_node, BUGS, "python -m protospec.impl.paxos.server",
                    "the Multi-Paxos key-value store")


if __name__ == "__main__":
    sys.exit(main())
