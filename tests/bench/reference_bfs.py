"""The breadth-first search of the hand-written references (``reference_*.py``).

The yardstick of issue 23: what a person who knows Python would write for one model, with no
spec API at all -- a successor function over plain tuples, a dict ``state -> parent state``
as the visited set, a list per BFS level, every invariant checked on every new state, and the
garbage collector off during the search (it only wastes passes over millions of live tuples).
``speed_bench.py`` compares protospec against it; ``tests/explorer/test_speed_references.py``
checks that each reference reaches the same distinct states as protospec.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from typing import Any


def bfs(inits: Iterable[Any], successors: Callable[[Any], list[Any]],
        invariants: Iterable[tuple[str, Callable[[Any], bool]]]) -> tuple[int, int, str | None]:
    """Explore every state reachable from ``inits``: ``(distinct states, depth, the first
    violated invariant's name or None)``. Stops at the first violation, as protospec does."""
    invs = list(invariants)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        parent: dict[Any, Any] = {}
        frontier = []
        for s in inits:
            if s not in parent:
                parent[s] = None
                frontier.append(s)
                for name, inv in invs:
                    if not inv(s):
                        return len(parent), 0, name
        depth = 0
        while frontier:
            nxt = []
            add = nxt.append
            for s in frontier:
                for t in successors(s):
                    if t not in parent:
                        parent[t] = s
                        add(t)
                        for name, inv in invs:
                            if not inv(t):
                                return len(parent), depth + 1, name
            if nxt:
                depth += 1
            frontier = nxt
        return len(parent), depth, None
    finally:
        if gc_was_enabled:
            gc.enable()
