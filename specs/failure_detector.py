"""A heartbeat failure detector: after stabilisation it suspects exactly the crashed processes.

Sources: Tushar Deepak Chandra and Sam Toueg, "Unreliable Failure Detectors for Reliable
Distributed Systems" (JACM 43(2), 1996), section 2.2, for the properties *strong completeness*
and *eventual strong accuracy* (together: the eventually perfect detector, <>P); and Cynthia
Dwork, Nancy Lynch and Larry Stockmeyer, "Consensus in the Presence of Partial Synchrony"
(JACM 35(2), 1988), section 2, for the timing model: a bound ``delay`` on message delay that
is known but holds only after an unknown global stabilisation time (GST).

The idea: every process sends a heartbeat to every other process every ``period`` ticks, and
process q suspects p once it has heard nothing from p for more than ``timeout`` ticks; a
heartbeat from p lifts the suspicion. Before GST messages may be lost or delayed arbitrarily,
so q may wrongly suspect a correct p. After GST every message arrives within ``delay`` ticks,
so consecutive heartbeats from p reach q at most ``period + delay`` ticks apart: with
``timeout >= period + delay`` q stops suspecting every correct process. A crashed process sends
nothing, so every correct process suspects it ``timeout`` ticks after its last heartbeat lands.

Time is global and discrete (``tick``). Clocks are perfect; only the network is asynchronous
before GST. Messages sent before GST are delivered within ``delay`` ticks of GST (DLS's model),
so their age only starts counting at GST. "Eventually" is stated as a bounded response, which
a model checker can check as a safety property on every state:

* strong completeness: once a process has been crashed for ``delay + timeout + 1`` ticks of
  stable time, every correct process suspects it;
* eventual strong accuracy: once ``period + delay + 1`` ticks have passed since GST, no correct
  process suspects another correct process.

The same two properties are also stated as what they are, liveness (docs/liveness.md):
``eventual_completeness`` (◇□: from some time on every crashed process is suspected by every
correct process) and ``eventual_accuracy`` (◇□: from some time on no correct process is
suspected), checked on every fair behaviour: time passes, GST eventually comes, heartbeats are
eventually sent and (each one) delivered, all weakly fair; losses and crashes are not fair.

Counters that only matter up to a bound (time since GST, since a crash, since the last
heartbeat) saturate at that bound, which keeps the state space finite. Before GST a channel
holds at most ``capacity`` heartbeats: a heartbeat sent into a full channel is lost, which the
model allows before GST anyway.

Left out: growing the timeout after a false suspicion (Chandra and Toueg's <>P for unknown
delay bounds), recovery of crashed processes, and any use of the detector (consensus).
"""

from __future__ import annotations

from typing import NamedTuple

from protospec import (
    Param,
    Spec,
    action,
    eventually_always,
    except_at,
    from_state,
    invariant,
    liveness,
)

# -- state ------------------------------------------------------------------------------------


class State(NamedTuple):
    """Processes, their timers, the network and the counters of the bounded properties."""

    crashed: tuple[bool, ...]  # crashed[p]: p has crashed (it never recovers)
    stable: bool  # GST has passed: every message now arrives within `delay` ticks
    hb_timer: tuple[int, ...]  # hb_timer[p]: ticks since p last sent heartbeats (<= period)
    since: tuple[tuple[int, ...], ...]  # since[q][p]: ticks since q last heard from p (saturates)
    suspected: tuple[frozenset[int], ...]  # suspected[q]: the processes q suspects
    channel: tuple[tuple[int, ...], ...]  # channel[p * n + q]: ages of heartbeats p -> q, sorted
    since_gst: int  # ticks since GST (saturates at the accuracy bound)
    since_crash: tuple[int, ...]  # since_crash[p]: stable ticks since p crashed (saturates)


class FailureDetector(Spec):
    """Heartbeat failure detector, partial synchrony: strong completeness, eventual accuracy."""

    name = "failure_detector"

    processes = Param(2, "number of processes", min=2, max=5)
    max_crashes = Param(1, "how many processes may crash", min=0)
    period = Param(1, "ticks between a process's heartbeats", min=1)
    delay = Param(2, "after GST, the most ticks a message may be in flight", min=0)
    timeout = Param(3, "q suspects p after hearing nothing from p for more than this many ticks "
                       "(correct when >= period + delay)", min=0)
    capacity = Param(1, "heartbeats a channel holds before GST (more are lost)", min=1)

    def setup(self) -> None:
        self.P = range(self.processes)
        self.links = tuple((p, q) for p in self.P for q in self.P if p != q)
        # The bounded-response deadlines; see the module docstring and docs/specs for why.
        self.completeness_ticks = self.delay + self.timeout + 1
        self.accuracy_ticks = self.period + self.delay + 1

    def init(self):
        n = self.processes
        yield State(
            crashed=(False,) * n,
            stable=False,
            hb_timer=(0,) * n,
            since=((0,) * n,) * n,
            suspected=(frozenset(),) * n,
            channel=((),) * (n * n),
            since_gst=0,
            since_crash=(0,) * n,
        )

    def _suspected(self, since: tuple[tuple[int, ...], ...], crashed: tuple[bool, ...]):
        """Each live q suspects every p it has not heard from for more than `timeout` ticks."""
        return tuple(frozenset() if crashed[q] else
                     frozenset(p for p in self.P if p != q and since[q][p] > self.timeout)
                     for q in self.P)

    # -- actions ------------------------------------------------------------------------------

    @action(fair="weak")
    def tick(self, s: State) -> State | None:
        """One tick of global time passes. It cannot pass while a live process owes heartbeats,
        nor, after GST, while a message has been in flight for `delay` ticks (it must land)."""
        if any(not s.crashed[p] and s.hb_timer[p] >= self.period for p in self.P):
            return None
        if s.stable and any(ages and ages[-1] >= self.delay for ages in s.channel):
            return None
        cap = self.timeout + 1
        since = tuple(
            (0,) * self.processes if s.crashed[q] else
            tuple(0 if p == q else min(row[p] + 1, cap) for p in self.P)
            for q, row in enumerate(s.since))
        hb_timer = tuple(0 if s.crashed[p] else t + 1 for p, t in enumerate(s.hb_timer))
        if s.stable:
            channel = tuple(tuple(a + 1 for a in ages) for ages in s.channel)
            since_gst = min(s.since_gst + 1, self.accuracy_ticks)
            since_crash = tuple(min(c + 1, self.completeness_ticks) if s.crashed[p] else 0
                                for p, c in enumerate(s.since_crash))
        else:
            channel, since_gst, since_crash = s.channel, s.since_gst, s.since_crash
        return State(s.crashed, s.stable, hb_timer, since, self._suspected(since, s.crashed),
                     channel, since_gst, since_crash)

    @action(p="P", fair="weak")
    def send_heartbeat(self, s: State, p: int) -> State | None:
        """A live process whose period is up sends a heartbeat to every other live process."""
        if s.crashed[p] or s.hb_timer[p] < self.period:
            return None
        n = self.processes
        channel = list(s.channel)
        for q in self.P:
            if q != p and not s.crashed[q]:
                ages = channel[p * n + q]
                if s.stable or len(ages) < self.capacity:  # before GST a full channel loses it
                    channel[p * n + q] = (0, *ages)
        return s._replace(hb_timer=except_at(s.hb_timer, p, 0), channel=tuple(channel))

    @action(m=from_state(lambda s: _heartbeats(s)), fair="weak")
    def deliver_heartbeat(self, s: State, m: tuple[int, int, int]) -> State | None:
        """q receives a heartbeat from p (one of age `age`): it has heard from p just now."""
        p, q, age = m
        n = self.processes
        since = except_at(s.since, q, except_at(s.since[q], p, 0))
        return s._replace(
            since=since,
            suspected=self._suspected(since, s.crashed),
            channel=except_at(s.channel, p * n + q, _remove(s.channel[p * n + q], age)),
        )

    @action(m=from_state(lambda s: () if s.stable else _heartbeats(s)))
    def lose_heartbeat(self, s: State, m: tuple[int, int, int]) -> State | None:
        """Before GST the network may lose a message."""
        p, q, age = m
        n = self.processes
        return s._replace(
            channel=except_at(s.channel, p * n + q, _remove(s.channel[p * n + q], age))
        )

    @action(fair="weak")
    def gst(self, s: State) -> State | None:
        """The global stabilisation time: from now on every message lands within `delay` ticks."""
        if s.stable:
            return None
        return s._replace(stable=True, since_gst=0)

    @action(p="P")
    def crash(self, s: State, p: int) -> State | None:
        """Process p crashes: it stops sending and monitoring; messages to it are lost."""
        if s.crashed[p] or sum(s.crashed) >= self.max_crashes:
            return None
        n = self.processes
        crashed = except_at(s.crashed, p, True)
        since = except_at(s.since, p, (0,) * n)
        channel = tuple(() if k % n == p else ages for k, ages in enumerate(s.channel))
        return State(crashed, s.stable, except_at(s.hb_timer, p, 0), since,
                     self._suspected(since, crashed), channel, s.since_gst, s.since_crash)

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def strong_completeness(self, s: State) -> bool:
        """Every process crashed for `delay + timeout + 1` ticks of stable time is suspected by
        every correct process (bounded form of "eventually suspected permanently")."""
        return all(p in s.suspected[q]
                   for p in self.P if s.crashed[p] and s.since_crash[p] >= self.completeness_ticks
                   for q in self.P if not s.crashed[q])

    @invariant
    def eventual_strong_accuracy(self, s: State) -> bool:
        """From `period + delay + 1` ticks after GST on, no correct process is suspected by any
        correct process (bounded form of "there is a time after which ...")."""
        if not s.stable or s.since_gst < self.accuracy_ticks:
            return True
        return all(p not in s.suspected[q] or s.crashed[p]
                   for q in self.P if not s.crashed[q] for p in self.P)


    @liveness
    def eventual_completeness(self):
        """Strong completeness: eventually every crashed process is permanently suspected by
        every correct process."""
        return eventually_always(
            lambda s, p: not s.crashed[p] or all(p in s.suspected[q]
                                                 for q in self.P if not s.crashed[q]),
            over=self.P)

    @liveness
    def eventual_accuracy(self):
        """Eventual strong accuracy: there is a time after which no correct process is
        suspected by any correct process."""
        return eventually_always(lambda s: all(p not in s.suspected[q] or s.crashed[p]
                                               for q in self.P if not s.crashed[q]
                                               for p in self.P))


def _heartbeats(s: State) -> list[tuple[int, int, int]]:
    """The heartbeats in flight as (sender, receiver, age), one per distinct age per channel."""
    n = len(s.crashed)
    return [(k // n, k % n, age) for k, ages in enumerate(s.channel) for age in sorted(set(ages))]


def _remove(ages: tuple[int, ...], age: int) -> tuple[int, ...]:
    """The sorted tuple ``ages`` with one ``age`` taken out."""
    i = ages.index(age)
    return ages[:i] + ages[i + 1:]


# -- bug variants -----------------------------------------------------------------------------


@FailureDetector.variant("timeout_below_delay", breaks="eventual_strong_accuracy")
class TimeoutBelowDelay(FailureDetector):
    """The timeout is one tick shorter than period + delay: after GST a correct process whose
    heartbeat is slow but on time is suspected again and again, forever."""

    def setup(self) -> None:
        self.timeout = self.period + self.delay - 1
        super().setup()


@FailureDetector.variant("gst_never_comes", breaks="eventual_accuracy")
class GSTNeverComes(FailureDetector):
    """GST is not fair: the network may stay asynchronous forever, losing heartbeats, and a
    correct process is wrongly suspected again and again (why <>P needs partial synchrony)."""

    @action
    def gst(self, s: State) -> State | None:
        return super().gst(s)


# Measured (explorer.check, default parameters): 5,711 distinct states, depth 21, no
# violation. Other configurations and every variant's counterexample length:
# docs/specs/failure_detector.md.
