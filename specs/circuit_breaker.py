"""A circuit breaker: after repeated failures, fail fast; later let one probe call test the water.

Sources: Michael T. Nygard, "Release It! Design and Deploy Production-Ready Software"
(Pragmatic Bookshelf, 2007), chapter 5 ("Stability Patterns"), section 5.2 "Circuit Breaker",
whose state diagram has the states closed, open and half-open and the transitions *trip*,
*attempt reset* and *reset*; and Martin Fowler, "CircuitBreaker" (bliki, 6 March 2014).

The idea: callers reach a remote service through the breaker. While *closed* it lets calls
through and counts consecutive failures (a success resets the count); at ``threshold``
failures it *trips* to *open*. While open it lets nothing through: calls fail at once, which
spares the struggling service and the callers' threads. After ``reset_ticks`` ticks it
*attempts a reset*: it turns *half-open* and lets exactly one call through as a probe. If the
probe succeeds the breaker *resets* to closed; if it fails the breaker trips open again and the
wait starts over. Calls admitted while closed may still be running when the breaker opens;
their results come back later and no longer count.

Properties: ``no_call_while_open`` (an action property: no call is let through while the
breaker is open) and ``single_probe`` (half-open admits exactly one probe at a time: never two
probes in flight).

Liveness ``recloses`` (docs/liveness.md): an open breaker is eventually closed again, once the
service has recovered. "Recovered" is stated as fairness: a call's success is *strongly* fair
(a service that could answer well infinitely often eventually does: it does not fail forever),
and callers call, time passes and resets are attempted (weakly fair). Weak fairness of success
is not enough — success is only possible while a probe is out, so a breaker that fails every
probe disables it again and again — which the variant ``success_weakly_fair`` shows.

Each caller has at most one call outstanding; the remote service may answer any call with
success or failure, in any order. Time is abstract ticks that only matter while the breaker is
open. Left out: rolling failure-rate windows, per-call timeouts (a timed-out call is simply a
failure here) and bulkheads.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from protospec import (
    Param,
    Spec,
    action,
    action_property,
    except_at,
    invariant,
    leads_to,
    liveness,
)

# -- state ------------------------------------------------------------------------------------


class Breaker(IntEnum):
    CLOSED = 0  # calls pass; consecutive failures are counted
    OPEN = 1  # calls fail fast until the reset timeout has elapsed
    HALF_OPEN = 2  # one probe call may pass; its result decides


class Call(IntEnum):
    IDLE = 0  # the caller has no call outstanding
    CALL = 1  # an ordinary call, let through while the breaker was closed, is running
    PROBE = 2  # the trial call let through while half-open is running


class State(NamedTuple):
    """The breaker and its callers."""

    breaker: Breaker  # the breaker's state
    failures: int  # consecutive failures counted while closed
    timer: int  # while open: ticks left before a reset may be attempted
    caller: tuple[Call, ...]  # caller[c]: the call caller c has outstanding, if any


class CircuitBreaker(Spec):
    """Circuit breaker (Nygard 2007): no call passes while open; half-open admits a single probe."""

    name = "circuit_breaker"

    callers = Param(3, "number of concurrent callers", min=1, max=6)
    threshold = Param(2, "consecutive failures that trip the breaker open", min=1)
    reset_ticks = Param(2, "ticks the breaker stays open before attempting a reset", min=0)

    def setup(self) -> None:
        self.C = range(self.callers)

    def init(self):
        yield State(Breaker.CLOSED, 0, 0, (Call.IDLE,) * self.callers)

    def _trip(self, s: State, caller: tuple[Call, ...]) -> State:
        """Trip: the breaker opens and starts its reset timeout."""
        return State(Breaker.OPEN, 0, self.reset_ticks, caller)

    # -- actions ------------------------------------------------------------------------------

    @action(c="C", fair="weak")
    def call(self, s: State, c: int) -> State | None:
        """Caller c makes a call. Closed: it passes. Half-open: it passes as the probe if no
        probe is out. Open (or a probe already out): it fails fast, which changes nothing."""
        if s.caller[c] is not Call.IDLE:
            return None
        if s.breaker is Breaker.CLOSED:
            return s._replace(caller=except_at(s.caller, c, Call.CALL))
        if s.breaker is Breaker.HALF_OPEN and self.probe_admitted(s):
            return s._replace(caller=except_at(s.caller, c, Call.PROBE))
        return None

    def probe_admitted(self, s: State) -> bool:
        """Half-open lets a call through only if no probe is already out."""
        return Call.PROBE not in s.caller

    @action(c="C", fair="strong")
    def call_succeeds(self, s: State, c: int) -> State | None:
        """c's call returns successfully. A successful probe resets the breaker to closed; a
        success while closed clears the failure count."""
        kind = s.caller[c]
        if kind is Call.IDLE:
            return None
        caller = except_at(s.caller, c, Call.IDLE)
        if kind is Call.PROBE and s.breaker is Breaker.HALF_OPEN:
            return State(Breaker.CLOSED, 0, 0, caller)
        if kind is Call.CALL and s.breaker is Breaker.CLOSED:
            return State(s.breaker, 0, s.timer, caller)
        return s._replace(caller=caller)  # a late result: the breaker has moved on

    @action(c="C")
    def call_fails(self, s: State, c: int) -> State | None:
        """c's call fails. A failed probe trips the breaker again; while closed the failure is
        counted and the threshold-th one trips it."""
        kind = s.caller[c]
        if kind is Call.IDLE:
            return None
        caller = except_at(s.caller, c, Call.IDLE)
        if kind is Call.PROBE and s.breaker is Breaker.HALF_OPEN:
            return self._trip(s, caller)
        if kind is Call.CALL and s.breaker is Breaker.CLOSED:
            if s.failures + 1 >= self.threshold:
                return self._trip(s, caller)
            return State(s.breaker, s.failures + 1, s.timer, caller)
        return s._replace(caller=caller)  # a late result: the breaker has moved on

    @action(fair="weak")
    def tick(self, s: State) -> State | None:
        """Time passes while the breaker is open."""
        if s.breaker is not Breaker.OPEN or s.timer == 0:
            return None
        return s._replace(timer=s.timer - 1)

    @action(fair="weak")
    def attempt_reset(self, s: State) -> State | None:
        """The reset timeout has elapsed: the breaker turns half-open."""
        if s.breaker is not Breaker.OPEN or s.timer > 0:
            return None
        return s._replace(breaker=Breaker.HALF_OPEN)

    # -- properties ---------------------------------------------------------------------------

    @action_property
    def no_call_while_open(self, s: State, t: State) -> bool:
        """No call is let through while the breaker is open."""
        admitted = any(a is Call.IDLE and b is not Call.IDLE for a, b in zip(s.caller, t.caller))
        return not (admitted and s.breaker is Breaker.OPEN)

    @invariant
    def single_probe(self, s: State) -> bool:
        """Half-open admits exactly one probe: there are never two probes in flight."""
        return s.caller.count(Call.PROBE) <= 1


    @liveness
    def recloses(self):
        """An open breaker is eventually closed again (once the service stops failing)."""
        return leads_to(lambda s: s.breaker is Breaker.OPEN,
                        lambda s: s.breaker is Breaker.CLOSED)


# -- bug variants -----------------------------------------------------------------------------


@CircuitBreaker.variant("concurrent_probes", breaks="single_probe")
class ConcurrentProbes(CircuitBreaker):
    """Half-open lets every call through as a probe, not just the first."""

    def probe_admitted(self, s: State) -> bool:
        return True


@CircuitBreaker.variant("admits_below_threshold", breaks="no_call_while_open")
class AdmitsBelowThreshold(CircuitBreaker):
    """The breaker lets a call through whenever the failure count is below the threshold — but
    tripping clears the count, so calls pass while it is open."""

    def call(self, s: State, c: int) -> State | None:
        if s.caller[c] is not Call.IDLE:
            return None
        if s.failures < self.threshold and s.breaker is not Breaker.HALF_OPEN:
            return s._replace(caller=except_at(s.caller, c, Call.CALL))
        if s.breaker is Breaker.HALF_OPEN and self.probe_admitted(s):
            return s._replace(caller=except_at(s.caller, c, Call.PROBE))
        return None


@CircuitBreaker.variant("success_weakly_fair", breaks="recloses")
class SuccessWeaklyFair(CircuitBreaker):
    """Only weak fairness for success: every probe may fail forever, since between probes
    success is not even possible, so the breaker may stay open, half-open, open... for ever."""

    @action(c="C", fair="weak")
    def call_succeeds(self, s: State, c: int) -> State | None:
        return super().call_succeeds(s, c)


# Measured (explorer.check, default parameters): 56 distinct states, depth 10, no
# violation. Other configurations and every variant's counterexample length:
# docs/specs/circuit_breaker.md.
