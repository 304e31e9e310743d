"""What every implementation on the shared runtime answers the same way to the conformance
interface (explorer.conformance.Conformance): its schedules are impl.runtime.sim's, its nodes
are ``python -m <package>.server`` processes. A protocol's class sets ``package`` and adds what
is its own (bugs, fault families, refinements, schedules, logs, client hints)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["RuntimeConformance"]


class RuntimeConformance:
    """Mixin for Conformance classes of implementations driven by impl.runtime.sim."""

    package: str = ""  # e.g. "protospec.impl.paxos": runs as ``python -m <package>.server``

    def shrink(self, schedule: Any, fails: Any) -> Any:
        from protospec.impl.runtime.sim import shrink

        return shrink(schedule, fails)

    def nodes_of(self, schedule: Any) -> int:
        return schedule.nodes

    def end_time(self, schedule: Any) -> int:
        return schedule.duration_ms

    def event_time(self, event: dict[str, Any]) -> int | None:
        return event.get("t")

    def describe_schedule(self, schedule: Any) -> str:
        return schedule.describe()

    def cluster_size(self, nodes: int) -> int:
        return nodes

    def node_argv(self, node_id: int, cluster: Sequence[str], data: Path, *,
                  bug: str | None = None) -> list[str]:
        argv = [sys.executable, "-m", f"{self.package}.server", "--id", str(node_id),
                "--cluster", ",".join(cluster), "--data", str(data)]
        return argv + (["--bug", bug] if bug else [])
