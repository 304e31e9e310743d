"""Rate limiter: one token bucket shared by several nodes, through a central counter.

Source: the token bucket as defined for traffic shaping in RFC 2697 ("A Single Rate Three
Color Marker", 1999, section 3) and RFC 2698: a bucket of depth ``capacity`` (CBS) refilled
at ``refill`` tokens per tick (CIR), each admitted request taking one token. A bucket
conforms when, in any window of w + 1 consecutive ticks, at most capacity + refill * w
requests are admitted. The distributed form keeps the bucket in one central counter (as Envoy's
global rate limit service does) and lets nodes lease capacity from it and spend it locally (as
Google's Doorman leases capacity to its clients); the mistake, nodes counting locally and
synchronising the count now and then, is the classic one those designs avoid.

The idea: requests arrive at any of ``nodes`` front-end nodes. Asking a central counter for
every request would make it a bottleneck, so each node synchronises with it periodically: it
reports how many requests it admitted since the last time and leases tokens until it holds
``batch`` tokens, which it then spends locally without asking. The global limit holds because a
token is in one place only — in the central bucket or leased to one node — so the tokens in the
system never exceed the bucket's depth.

The bug variant keeps per-node counters instead: at a sync a node reports what it spent and
takes a *copy* of the central level, then admits against its copy. Between syncs every node
believes it has the whole bucket, and together they over-admit. By how much: the trace's last
state shows the admissions per tick against the limit, and the ``tolerance`` parameter lets
the checker measure the worst over-admission within the bounds (docs/specs/rate_limiter.md).

Time is a sequence of ticks; ``tick`` ends one and refills the bucket. A request that finds
no token is refused, which changes nothing and so is not a step. Left out: the network
between nodes and counter (a sync is one atomic exchange), node failures (a crashed node's
lease is lost, which errs on the safe side), and fairness between nodes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from protospec import Param, Spec, action, except_at, invariant, sometimes


class State(NamedTuple):
    """Time, the central bucket, each node's counters, and what was admitted when."""

    now: int  # ticks elapsed
    tokens: int  # tokens in the central bucket (not leased to any node)
    local: tuple[int, ...]  # per node: tokens it may spend (leased; the variant: its copy)
    spent: tuple[int, ...]  # per node: requests it admitted since its last sync
    admitted: tuple[int, ...]  # admitted[t]: requests admitted (by all nodes) during tick t


class RateLimiter(Spec):
    """Distributed token bucket: nodes lease tokens from a central counter; the limit holds."""

    name = "rate_limiter"

    nodes = Param(2, "number of front-end nodes admitting requests", min=1, max=4)
    capacity = Param(2, "the bucket's depth: most tokens it holds (burst size)", min=1, max=6)
    refill = Param(1, "tokens added to the bucket per tick", min=0, max=6)
    ticks = Param(2, "ticks explored after the first", min=0, max=6)
    batch = Param(1, "most tokens a node holds on lease (a sync tops it up)", min=1, max=6)
    tolerance = Param(0, "admissions beyond the limit that global_limit tolerates (0: none; "
                         "raise it to measure a variant's over-admission)", min=0, max=24)

    def setup(self) -> None:
        self.N = range(self.nodes)

    def init(self) -> Iterator[State]:
        zero = (0,) * self.nodes
        yield State(now=0, tokens=self.capacity, local=zero, spent=zero, admitted=(0,))

    # -- actions ------------------------------------------------------------------------------

    @action(n="N")
    def sync(self, s: State, n: int) -> State | None:
        """Node n synchronises with the central counter: it reports what it has admitted and
        tops its lease up to ``batch`` tokens, as far as the bucket has them (a sync that would
        change nothing is not a step)."""
        lease = min(self.batch - s.local[n], s.tokens)
        if lease <= 0 and s.spent[n] == 0:
            return None
        lease = max(lease, 0)
        return State(s.now, s.tokens - lease, except_at(s.local, n, s.local[n] + lease),
                     except_at(s.spent, n, 0), s.admitted)

    @action(n="N")
    def admit(self, s: State, n: int) -> State | None:
        """A request arrives at node n, which admits it by spending one of its tokens."""
        if s.local[n] == 0:
            return None  # refused: no state changes
        return State(s.now, s.tokens, except_at(s.local, n, s.local[n] - 1),
                     except_at(s.spent, n, s.spent[n] + 1),
                     s.admitted[:-1] + (s.admitted[-1] + 1,))

    @action
    def tick(self, s: State) -> State | None:
        """A tick ends: the bucket is refilled by ``refill`` tokens, up to its depth."""
        if s.now >= self.ticks:
            return None
        tokens, local = self.refilled(s)
        return State(s.now + 1, tokens, local, s.spent, s.admitted + (0,))

    def refilled(self, s: State) -> tuple[int, tuple[int, ...]]:
        """The central level and the nodes' counters after a refill: leased tokens count
        against the depth, since they are still in the bucket until spent."""
        return min(self.capacity - sum(s.local), s.tokens + self.refill), s.local

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def global_limit(self, s: State) -> bool:
        """The token bucket's limit, across all nodes: in every window of w + 1 consecutive
        ticks at most capacity + refill * w requests are admitted (plus the tolerance parameter)."""
        a = s.admitted
        for first in range(len(a)):
            total = 0
            for last in range(first, len(a)):
                total += a[last]
                if total > self.capacity + self.refill * (last - first) + self.tolerance:
                    return False
        return True

    @sometimes
    def limit_reached(self, s: State) -> bool:
        """Some reachable state admitted a whole bucket in one tick (the limit is tight, not
        merely respected by admitting little)."""
        return max(s.admitted) == self.capacity

    # -- chart hooks (optional; see explorer/chart_hints.py) ---------------------------------

    def chart_processes(self) -> list[str]:
        """The central counter, then one lane per node."""
        return ["counter"] + [f"node {n}" for n in self.N]

    def chart_lane(self, action: str, args: dict) -> str | None:
        """A tick refills the central bucket; syncs and admissions are the node's."""
        return f"node {args['n']}" if "n" in args else "counter"


# -- bug variants -----------------------------------------------------------------------------


@RateLimiter.variant("local_counters", breaks="global_limit")
class LocalCounters(RateLimiter):
    """Each node counts locally and syncs a copy of the central level: together they over-admit.

    At a sync the node subtracts what it admitted since the last one from the central level and
    takes a copy of the result; between syncs it admits against its copy, and refills the copy
    itself at every tick, as if it were the only node.
    """

    def refilled(self, s: State) -> tuple[int, tuple[int, ...]]:
        return (min(self.capacity, s.tokens + self.refill),
                tuple(min(self.capacity, c + self.refill) for c in s.local))

    def sync(self, s: State, n: int) -> State | None:
        tokens = max(s.tokens - s.spent[n], 0)
        if tokens == s.tokens and s.local[n] == tokens:
            return None
        return State(s.now, tokens, except_at(s.local, n, tokens), except_at(s.spent, n, 0),
                     s.admitted)


# Measured (explorer.check, defaults): 183 distinct states, depth 11, no violation;
# local_counters fails in 5 steps and over-admits by at most 4 (nodes - 1 buckets and refills).
# Other sizes: docs/specs/rate_limiter.md.
