"""The Byzantine generals: Lamport, Shostak and Pease's oral-messages algorithm OM(m).

Source: Leslie Lamport, Robert Shostak and Marshall Pease, "The Byzantine Generals Problem"
(ACM TOPLAS 4(3), 1982): section 1 (the interactive consistency conditions IC1 and IC2),
section 2 (no solution with three generals and one traitor: the counterexample of its
figures 1 and 2) and section 3 (the algorithm OM(m) and Theorem 1: OM(m) satisfies IC1 and IC2
if there are more than 3m generals and at most m traitors).

The idea: a commander sends an order (attack or retreat) to n - 1 lieutenants. Traitors, the
commander among them possibly, may send anything. The loyal lieutenants must agree (IC1: all
loyal lieutenants obey the same order) and, if the commander is loyal, obey him (IC2). OM(m)
does it with oral messages (the receiver knows the sender; a missing message is detected and
read as "retreat", assumptions A1-A3 of section 3):

* OM(0): the commander sends his value to every lieutenant; each uses the value it receives.
* OM(m), m > 0: the commander sends his value to every lieutenant; each lieutenant i then acts
  as the commander of OM(m - 1), sending the value it received to the n - 2 other lieutenants;
  lieutenant i finally uses majority(v_1, ..., v_{n-1}): the value it received from the
  commander, and for every other lieutenant j the value it decided j had sent in OM(m - 1).
  A tie is read as "retreat" (the paper's choice of majority function).

The messages of OM(m) are named by the path they took: the value lieutenant i receives along
the path (commander, g_1, ..., g_k) is "what g_k says g_{k-1} says ... the commander said".
Every path of at most m + 1 generals is used once. Rounds are synchronous (A1-A3), so the spec
sends the messages one by one in a fixed order, shorter paths first (every relay after the
value it relays), and only a traitor's choices branch: a traitor sends either value on each
message. Every set of at most m traitors and both orders of a loyal commander are initial
states. Once all messages are sent, each loyal lieutenant decides.

Properties: ``ic1`` and ``ic2``. With n = 3 and m = 1 (``three_generals``) IC2 fails: the
paper's figure 1.

Left out: signed messages (the algorithm SM(m) of section 4), and message passing that is not
synchronous (the paper's assumptions A1-A3 rule it out).
"""

from __future__ import annotations

import itertools
from enum import IntEnum
from functools import cache
from typing import NamedTuple

from protospec import Param, Spec, UsageError, action, except_at, invariant

# -- messages and state -----------------------------------------------------------------------


class Order(IntEnum):
    NONE = -1  # not decided (yet), or the order of a traitor commander: he has none
    RETREAT = 0
    ATTACK = 1


COMMANDER = 0

Path = tuple[int, ...]


class Msg(NamedTuple):
    """General ``path[-1]`` tells general ``to`` that the value relayed along ``path`` (which
    starts at the commander) is ``value``."""

    path: Path
    to: int
    value: Order


class State(NamedTuple):
    """Who is a traitor, what the loyal commander orders, the messages sent, the decisions."""

    traitors: frozenset[int]  # the traitors (at most m; the commander is general 0)
    order: Order  # the loyal commander's order (NONE if the commander is a traitor)
    sent: int  # how many of the messages of OM(m), in their fixed order, have been sent
    msgs: frozenset[Msg]  # every message sent (each received by its ``to``)
    decision: tuple[Order, ...]  # decision[i]: the order loyal lieutenant i obeys (NONE: yet)


class ByzantineGenerals(Spec):
    """Byzantine generals, OM(m) (Lamport, Shostak, Pease 1982): IC1 and IC2 when n > 3m."""

    name = "byzantine_generals"

    generals = Param(4, "generals n: the commander and n - 1 lieutenants", min=2, max=6)
    m = Param(1, "the m of OM(m): rounds of relaying, and the most traitors there are",
              min=0, max=3)

    def setup(self) -> None:
        if self.m > self.generals - 2:
            raise UsageError(f"spec {self.name!r}: OM(m) relays along paths of m + 1 distinct "
                             f"generals, so m must be at most generals - 2 = "
                             f"{self.generals - 2} (got m = {self.m})")
        self.G = range(self.generals)
        self.Lieutenant = range(1, self.generals)
        self.slots = self.message_slots()
        self.inbox_size = [sum(to == i for _, to in self.slots) for i in self.G]

    def message_slots(self) -> tuple[tuple[Path, int], ...]:
        """Every (path, receiver) of OM(m) in sending order: shorter paths first."""
        out: list[tuple[Path, int]] = []
        for length in range(1, self.m + 2):
            for rest in itertools.permutations(self.Lieutenant, length - 1):
                path = (COMMANDER, *rest)
                out.extend((path, i) for i in self.Lieutenant if i not in path)
        return tuple(out)

    def init(self):
        for k in range(self.m + 1):
            for traitors in itertools.combinations(self.G, k):
                orders = [Order.NONE] if COMMANDER in traitors else [Order.ATTACK, Order.RETREAT]
                for order in orders:
                    yield State(frozenset(traitors), order, 0, frozenset(),
                                (Order.NONE,) * self.generals)

    # -- actions ------------------------------------------------------------------------------

    @action(g="G", many=True)
    def send(self, s: State, g: int) -> list[State]:
        """General g sends the next message of OM(m): the commander his order, a lieutenant
        the value it received along the path so far. A traitor sends either value."""
        if s.sent == len(self.slots):
            return []
        path, to = self.slots[s.sent]
        if path[-1] != g:
            return []
        if g in s.traitors:
            values = [Order.ATTACK, Order.RETREAT]
        elif path == (COMMANDER,):
            values = [s.order]
        else:
            relayed = self.received(s, path[:-1], g)
            if relayed is None:
                return []  # not received yet (never happens in the fixed order: a guard)
            values = [relayed]
        return [State(s.traitors, s.order, s.sent + 1, s.msgs | {Msg(path, to, v)}, s.decision)
                for v in values]

    @action(i="Lieutenant")
    def decide(self, s: State, i: int) -> State | None:
        """Loyal lieutenant i, with every message in, obeys the value OM(m) gives it."""
        if s.sent != len(self.slots) or i in s.traitors or s.decision[i] is not Order.NONE:
            return None
        if sum(m.to == i for m in s.msgs) != self.inbox_size[i]:
            return None  # every message of OM(m) to i has come (A1: none is lost)
        return State(s.traitors, s.order, s.sent, s.msgs,
                     except_at(s.decision, i, self.om_value(s, i)))

    # -- the algorithm's evaluation -----------------------------------------------------------

    def received(self, s: State, path: Path, i: int) -> Order | None:
        """The value i received along path (None: no such message yet)."""
        for msg in s.msgs:
            if msg.path == path and msg.to == i:
                return msg.value
        return None

    def om_value(self, s: State, i: int) -> Order:
        """The value lieutenant i uses in OM(m): step (3), applied recursively."""
        values = {(m.path, m.to): m.value for m in s.msgs}

        @cache
        def value(path: Path) -> Order:
            # The value i takes path[-1] to have sent in its OM(m + 1 - len(path)).
            v = values.get((path, i), Order.RETREAT)  # A3: a missing message reads as retreat
            if len(path) == self.m + 1:
                return v  # OM(0): use the value received
            relayed = [value((*path, j)) for j in self.Lieutenant if j not in path and j != i]
            return majority([v, *relayed])

        return value((COMMANDER,))

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def ic1(self, s: State) -> bool:
        """IC1: all loyal lieutenants obey the same order."""
        decided = {d for d in s.decision if d is not Order.NONE}
        return len(decided) <= 1

    @invariant
    def ic2(self, s: State) -> bool:
        """IC2: if the commander is loyal, every loyal lieutenant obeys the order he sends."""
        return s.order is Order.NONE or all(d in (Order.NONE, s.order) for d in s.decision)

    # -- chart hooks (optional; see explorer/chart_hints.py) ---------------------------------

    def chart_processes(self) -> list[str]:
        """The commander, then the lieutenants."""
        return [self.general_name(g) for g in self.G]

    def general_name(self, g: int) -> str:
        return "commander" if g == COMMANDER else f"lieutenant {g}"

    def chart_lane(self, action: str, args: dict) -> str | None:
        """Each step is taken by the general in its argument."""
        g = args.get("g", args.get("i"))
        return None if g is None else self.general_name(g)

    def chart_message_label(self, msg: Msg) -> str:
        """The value and the path it was relayed along."""
        return f"{msg.value.name.lower()} via {'-'.join(map(str, msg.path))}"

    def chart_message_to(self, msg: Msg) -> str:
        return self.general_name(msg.to)


def majority(values: list[Order]) -> Order:
    """majority(v_1, ..., v_k): the value most of them have; RETREAT on a tie."""
    attack = sum(v is Order.ATTACK for v in values)
    return Order.ATTACK if 2 * attack > len(values) else Order.RETREAT


# -- bug variants -----------------------------------------------------------------------------


@ByzantineGenerals.variant("three_generals", breaks="ic2")
class ThreeGenerals(ByzantineGenerals):
    """OM(1) with three generals (n = 3m): a traitorous lieutenant makes a loyal one disobey.

    The traitor tells the other lieutenant that the loyal commander said retreat, the tie
    reads as retreat (the paper's figure 1; no algorithm can do better, section 2)."""

    generals = Param(3, "generals n: the commander and n - 1 lieutenants", min=2, max=6)


@ByzantineGenerals.variant("obey_commander", breaks="ic1")
class ObeyCommander(ByzantineGenerals):
    """Lieutenants obey the commander's message alone: a traitorous commander splits them.

    This is OM(0) against a traitor: the relayed values are received and ignored."""

    def om_value(self, s: State, i: int) -> Order:
        v = self.received(s, (COMMANDER,), i)
        return Order.RETREAT if v is None else v


# Measured (explorer.check, default parameters): 345 distinct states, depth 12, IC1 and IC2 hold
# (n = 4 > 3m); three_generals breaks IC2 in 5 steps, obey_commander IC1 in 11. Other
# configurations (n = 4, m = 2 breaks IC2 in 16): docs/specs/byzantine_generals.md.
