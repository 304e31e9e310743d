"""Causal broadcast: chat messages delivered in causal order, with vector timestamps.

Source: Kenneth Birman, André Schiper and Pat Stephenson, "Lightweight Causal and Atomic Group
Multicast", ACM Transactions on Computer Systems 9(3), 1991, section 4 (the CBCAST protocol
and its vector-time delivery rule).

The idea: a group of processes chats. Every chat line is broadcast to the whole group, and a
line written after reading another is a reply to it: it causally follows it (Lamport's
happened-before, carried from one process to the next by delivery). The network reorders
messages freely, so a reply can reach a third process before its question. CBCAST gives each
process a vector time VT(p), where VT(p)[k] counts the messages of process k that p has
delivered (its own included):

* CBCAST at p: VT(p)[p] += 1, deliver the message to p itself, and send it, timestamped with
  VT(p), to every other process;
* a message m from j reaches i, and i delays it until VT(m)[j] = VT(i)[j] + 1 (it is the next
  message from j) and VT(m)[k] <= VT(i)[k] for every k != j (i has delivered everything j had
  delivered when it sent m); then i delivers it and sets VT(i) to the componentwise maximum.

A message waiting in the network and one in i's delay queue are the same to this model:
``deliver(i, m)`` is enabled for any message in flight to i that the rule allows, in any order.

Causal order is checked against history, not against the timestamps: each broadcast records its
causal past (the messages its sender had delivered when it sent it, with their own pasts), so
the property would catch a timestamp rule that is wrong as well as one that is ignored.

Liveness (docs/liveness.md): under weak fairness of ``deliver``, every line broadcast is
eventually delivered everywhere; broadcasting itself is not fair (a process may say nothing).
The variant ``exact_match`` is safe but waits forever.

Left out: group membership changes and view-synchronous flushes (the paper's section 5), the
ABCAST total order, and garbage collection of stable messages. No message is lost (CBCAST runs
over reliable FIFO channels; here the channels may even reorder). Bounded: each process
broadcasts at most ``broadcasts`` lines.
"""

from __future__ import annotations

from collections.abc import Iterator
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
    sometimes,
)

# -- state ------------------------------------------------------------------------------------


class MsgId(NamedTuple):
    """A chat line: the ``seq``-th broadcast (from 1) of process ``sender``."""

    sender: int
    seq: int


class Message(NamedTuple):
    """One copy of a broadcast in flight, to ``dest``, with the sender's timestamp VT(m)."""

    sender: int
    vt: tuple[int, ...]  # VT(m): the sender's vector time after its own increment
    dest: int

    @property
    def id(self) -> MsgId:
        return MsgId(self.sender, self.vt[self.sender])


class State(NamedTuple):
    """The processes' vector times, what each has delivered, and the network."""

    vt: tuple[tuple[int, ...], ...]  # VT(p): per process k, how many of k's messages p delivered
    delivered: tuple[tuple[MsgId, ...], ...]  # per process, the messages it delivered, in order
    past: tuple[tuple[frozenset[MsgId], ...], ...]  # past[p][n-1]: the causal past of p's n-th line
    network: frozenset[Message]  # copies sent and not yet delivered


class CausalBroadcast(Spec):
    """Causal broadcast (CBCAST, Birman et al. 1991): no reply is delivered before its question."""

    name = "causal_broadcast"

    processes = Param(3, "number of processes in the group", min=2, max=5)
    broadcasts = Param(1, "chat lines each process broadcasts at most", min=1, max=4)

    def setup(self) -> None:
        self.P = range(self.processes)

    def init(self) -> Iterator[State]:
        n = self.processes
        yield State(vt=((0,) * n,) * n, delivered=((),) * n, past=((),) * n,
                    network=frozenset())

    # -- actions (the paper's CBCAST and delivery rule) --------------------------------------

    @action(p="P")
    def cbcast(self, s: State, p: int) -> State | None:
        """CBCAST at p: VT(p)[p] += 1; p delivers its own line and sends it to the others."""
        if len(s.past[p]) >= self.broadcasts:
            return None
        vt = except_at(s.vt[p], p, s.vt[p][p] + 1)
        mid = MsgId(p, vt[p])
        # Its causal past: every line p has delivered, and everything before each of them.
        past = frozenset(s.delivered[p]).union(*(self.past_of(s, d) for d in s.delivered[p]))
        copies = frozenset(Message(p, vt, q) for q in self.P if q != p)
        return State(except_at(s.vt, p, vt), except_at(s.delivered, p, s.delivered[p] + (mid,)),
                     except_at(s.past, p, s.past[p] + (past,)), s.network | copies)

    @action(m=from_state(lambda s: sorted(s.network)), fair="weak")
    def deliver(self, s: State, m: Message) -> State | None:
        """Process m.dest delivers m once the delivery rule allows it, and advances VT."""
        i = m.dest
        if not self.deliverable(s.vt[i], m):
            return None  # delayed: it waits (in the network or i's queue, the same here)
        return State(except_at(s.vt, i, self.vt_after_delivery(s.vt[i], m)),
                     except_at(s.delivered, i, s.delivered[i] + (m.id,)), s.past,
                     s.network - {m})

    def deliverable(self, vt: tuple[int, ...], m: Message) -> bool:
        """The delivery rule: m is the next message from its sender, and its receiver has
        delivered every message its sender had delivered when it sent m."""
        j = m.sender
        return m.vt[j] == vt[j] + 1 and all(m.vt[k] <= vt[k] for k in self.P if k != j)

    def vt_after_delivery(self, vt: tuple[int, ...], m: Message) -> tuple[int, ...]:
        """VT(i) := max(VT(i), VT(m)) componentwise (under the rule, only entry j changes)."""
        return tuple(map(max, vt, m.vt))

    def past_of(self, s: State, mid: MsgId) -> frozenset[MsgId]:
        """The causal past recorded when ``mid`` was broadcast."""
        return s.past[mid.sender][mid.seq - 1]

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def causal_delivery(self, s: State) -> bool:
        """Causal delivery: if m1 happened before m2's broadcast, every process that delivered
        m2 delivered m1 first (no reply is read before its question)."""
        for seen in s.delivered:
            before: set[MsgId] = set()
            for mid in seen:
                if not self.past_of(s, mid) <= before:
                    return False
                before.add(mid)
        return True

    @invariant
    def vt_counts_deliveries(self, s: State) -> bool:
        """VT(p)[k] is the number of k's messages p has delivered (the meaning of vector time
        in section 4), and no process delivers a message twice."""
        for p in self.P:
            seen = s.delivered[p]
            if len(set(seen)) != len(seen):
                return False
            counts = [0] * self.processes
            for mid in seen:
                counts[mid.sender] += 1
            if tuple(counts) != s.vt[p]:
                return False
        return True

    @sometimes
    def a_delivery_waits(self, s: State) -> bool:
        """Some reachable state has a copy in flight that the delivery rule holds back (the
        rule is not vacuous: a reply does reach a process before its question)."""
        return any(not self.deliverable(s.vt[m.dest], m) for m in s.network)

    @liveness
    def every_line_delivered(self):
        """Every chat line broadcast is eventually delivered by every process: from some point
        on nothing is in flight (a delay is never forever), under weak fairness of deliver."""
        return eventually_always(lambda s: not s.network)

    # -- chart hooks (optional; see explorer/chart_hints.py) ---------------------------------

    def chart_processes(self) -> list[str]:
        """One lane per process of the group."""
        return [f"process {p}" for p in self.P]

    def chart_lane(self, action: str, args: dict) -> str | None:
        """CBCAST runs at its sender; a delivery at the copy's destination."""
        return f"process {args['p']}" if "p" in args else f"process {args['m'].dest}"

    def chart_message_label(self, msg: Message) -> str:
        """The chat line's name (sender.seq) and its vector timestamp."""
        return f"m{msg.sender}.{msg.vt[msg.sender]} VT{list(msg.vt)}"

    def chart_message_to(self, msg: Message) -> str | None:
        """Each copy names its destination."""
        return f"process {msg.dest}"


# -- bug variants -----------------------------------------------------------------------------


@CausalBroadcast.variant("fifo_only", breaks="causal_delivery")
class FifoOnly(CausalBroadcast):
    """Only FIFO order per sender: a reply can be delivered before the question it answers.

    Each process keeps just a sequence number per sender and delivers the next one from that
    sender, whatever the sender had delivered before sending it.
    """

    def deliverable(self, vt: tuple[int, ...], m: Message) -> bool:
        return m.vt[m.sender] == vt[m.sender] + 1

    def vt_after_delivery(self, vt: tuple[int, ...], m: Message) -> tuple[int, ...]:
        return except_at(vt, m.sender, m.vt[m.sender])


@CausalBroadcast.variant("exact_match", breaks="every_line_delivered")
class ExactMatch(CausalBroadcast):
    """The receiver waits until its vector equals the sender's on every other entry, instead of
    covering it: a receiver that has already seen more than the sender had waits forever.

    Still safe (it delays at least as much as CBCAST), but not live.
    """

    def deliverable(self, vt: tuple[int, ...], m: Message) -> bool:
        j = m.sender
        return m.vt[j] == vt[j] + 1 and all(m.vt[k] == vt[k] for k in self.P if k != j)


# Measured (explorer.check, defaults: 3 processes, 1 line each): 564 distinct states, depth 9,
# no violation; fifo_only fails in 4 steps, exact_match with a 3-step lasso. No published count
# exists for this model. Other sizes: docs/specs/causal_broadcast.md.
