"""The alternating bit protocol: reliable delivery over a channel that loses and duplicates.

Source: K. A. Bartlett, R. A. Scantlebury and P. T. Wilkinson, "A Note on Reliable Full-Duplex
Transmission over Half-Duplex Links" (CACM 12(5), 1969), which introduced the one-bit
sequence number; the action names follow the TLA+ specification AlternatingBit.tla of Leslie
Lamport, "Specifying Systems" (Addison-Wesley, 2002), section 14.2 (SndNewValue, ReSndMsg,
RcvMsg, SndAck, RcvAck, LoseMsg, LoseAck), with duplication added.

The idea: the sender tags each message with a bit, alternating 0, 1, 0, ... from one message to
the next, and sends it again and again until an acknowledgement carrying the same bit comes
back; then it moves on to the next message and flips its bit. The receiver remembers the bit
it expects next: a message with that bit is new (deliver it, flip the expected bit), a message
with the other bit is a copy of the one just delivered (drop it). The receiver keeps
acknowledging the bit of the last message it accepted. One bit suffices because the channels
are FIFO: a copy of an older message can only arrive before the current one's first copy.

The channels hold at most ``capacity`` messages each, in order. Faults are actions: the message
at the head of a channel may be lost or duplicated (a loss anywhere in a FIFO channel looks the
same to the receiver as a loss at the head; a copy is delivered next to its original).
Retransmission happens at any time, which covers every timeout.

Properties: ``no_duplicate_delivery`` (no message is delivered twice),
``delivered_in_order`` (the messages delivered are the first ones sent, in order, none
skipped), and the liveness property ``every_message_delivered``, under strong fairness of
retransmission, of acknowledging, and of receiving a message (or an acknowledgement) with each
bit: a message that is at the head of its channel again and again is eventually received,
however often the channel loses others. The faults are not fair: they may happen or not.
"""

from __future__ import annotations

from typing import NamedTuple

from protospec import Param, Spec, action, eventually, invariant, liveness

# -- messages and state -----------------------------------------------------------------------


class Data(NamedTuple):
    """A message: the ``value``-th message of the sender, tagged with the sender's ``bit``."""

    bit: int
    value: int


class Ack(NamedTuple):
    """An acknowledgement of the last message accepted, which carried ``bit``."""

    bit: int


class State(NamedTuple):
    """The sender, the receiver and the two channels."""

    current: int  # the message the sender is sending (messages: all have been acknowledged)
    sbit: int  # the sender's bit, carried by the current message
    rbit: int  # the bit the receiver expects next
    delivered: tuple[int, ...]  # the messages the receiver has delivered, in order
    msg_channel: tuple[Data, ...]  # sender -> receiver, FIFO, head first
    ack_channel: tuple[Ack, ...]  # receiver -> sender, FIFO, head first


class AlternatingBit(Spec):
    """Alternating bit protocol (Bartlett et al. 1969): exactly once, in order, over lossy links."""

    name = "alternating_bit"

    messages = Param(3, "messages the sender sends", min=1, max=6)
    capacity = Param(2, "messages each channel holds at most", min=1, max=4)

    def init(self):
        yield State(current=0, sbit=0, rbit=0, delivered=(), msg_channel=(), ack_channel=())

    # -- the sender ---------------------------------------------------------------------------

    @action(fair="strong")
    def re_snd_msg(self, s: State) -> State | None:
        """ReSndMsg: the sender (re)transmits its current message with its bit (whenever it
        likes: a timeout)."""
        if s.current == self.messages or len(s.msg_channel) == self.capacity:
            return None
        return s._replace(msg_channel=(*s.msg_channel, Data(s.sbit, s.current)))

    @action(b=lambda self: (0, 1), fair="strong")
    def rcv_ack(self, s: State, b: int) -> State | None:
        """RcvAck: the sender takes the acknowledgement at the head of its channel (its bit is
        b). The same bit as its own: the current message arrived, so it moves on to the next
        message and flips its bit (SndNewValue). The other bit: a stale one, ignored."""
        if not s.ack_channel or s.ack_channel[0].bit != b:
            return None
        rest = s.ack_channel[1:]
        if not self.acknowledges(s, b):
            return s._replace(ack_channel=rest)
        return s._replace(current=s.current + 1, sbit=1 - s.sbit, ack_channel=rest)

    def acknowledges(self, s: State, b: int) -> bool:
        """Whether an acknowledgement with bit b is for the current message."""
        return b == s.sbit

    # -- the receiver -------------------------------------------------------------------------

    @action(b=lambda self: (0, 1), fair="strong")
    def rcv_msg(self, s: State, b: int) -> State | None:
        """RcvMsg: the receiver takes the message at the head of its channel (its bit is b).
        The expected bit: a new message, delivered, and the expected bit flips. The other bit:
        a copy of the last message delivered, dropped."""
        if not s.msg_channel or s.msg_channel[0].bit != b:
            return None
        m, rest = s.msg_channel[0], s.msg_channel[1:]
        if not self.is_new(s, m):
            return s._replace(msg_channel=rest)
        return s._replace(rbit=1 - s.rbit, delivered=(*s.delivered, m.value), msg_channel=rest)

    def is_new(self, s: State, m: Data) -> bool:
        """Whether the receiver takes m for a new message: it carries the expected bit."""
        return m.bit == s.rbit

    @action(fair="strong")
    def snd_ack(self, s: State) -> State | None:
        """SndAck: the receiver acknowledges the last message it accepted (the bit before the
        one it expects)."""
        if len(s.ack_channel) == self.capacity:
            return None
        return s._replace(ack_channel=(*s.ack_channel, Ack(1 - s.rbit)))

    # -- the channels' faults -----------------------------------------------------------------

    @action
    def lose_msg(self, s: State) -> State | None:
        """LoseMsg: the message at the head of the sender's channel is lost."""
        if not s.msg_channel:
            return None
        return s._replace(msg_channel=s.msg_channel[1:])

    @action
    def lose_ack(self, s: State) -> State | None:
        """LoseAck: the acknowledgement at the head of the receiver's channel is lost."""
        if not s.ack_channel:
            return None
        return s._replace(ack_channel=s.ack_channel[1:])

    @action
    def duplicate_msg(self, s: State) -> State | None:
        """The sender's channel delivers the message at its head twice."""
        if not s.msg_channel or len(s.msg_channel) == self.capacity:
            return None
        return s._replace(msg_channel=s.msg_channel[:1] + s.msg_channel)

    @action
    def duplicate_ack(self, s: State) -> State | None:
        """The receiver's channel delivers the acknowledgement at its head twice."""
        if not s.ack_channel or len(s.ack_channel) == self.capacity:
            return None
        return s._replace(ack_channel=s.ack_channel[:1] + s.ack_channel)

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def no_duplicate_delivery(self, s: State) -> bool:
        """No message is delivered twice."""
        return len(set(s.delivered)) == len(s.delivered)

    @invariant
    def delivered_in_order(self, s: State) -> bool:
        """The messages delivered are the first ones sent, in order, none skipped (copies
        aside: those are no_duplicate_delivery's)."""
        distinct = list(dict.fromkeys(s.delivered))
        return distinct == list(range(len(distinct))) and \
            all(a <= b for a, b in zip(s.delivered, s.delivered[1:]))

    @liveness
    def every_message_delivered(self):
        """Every message is eventually delivered."""
        return eventually(lambda s: len(s.delivered) == self.messages)

    # -- chart hooks (optional; see explorer/chart_hints.py) ---------------------------------

    def chart_processes(self) -> list[str]:
        """The two ends of the link."""
        return ["sender", "receiver"]

    def chart_lane(self, action: str, args: dict) -> str | None:
        """The sender's and receiver's steps; the faults are the network's."""
        if action in ("re_snd_msg", "rcv_ack"):
            return "sender"
        if action in ("rcv_msg", "snd_ack"):
            return "receiver"
        return "network"

    def chart_message_label(self, msg: Data | Ack) -> str:
        """msg(value, bit) and ack(bit)."""
        if isinstance(msg, Data):
            return f"msg {msg.value}, bit {msg.bit}"
        return f"ack, bit {msg.bit}"

    def chart_message_to(self, msg: Data | Ack) -> str:
        """Messages go to the receiver, acknowledgements to the sender."""
        return "receiver" if isinstance(msg, Data) else "sender"


# -- bug variants -----------------------------------------------------------------------------


@AlternatingBit.variant("no_sequence_bit", breaks="no_duplicate_delivery")
class NoSequenceBit(AlternatingBit):
    """The receiver ignores the bit: a retransmitted or duplicated copy is delivered again."""

    def is_new(self, s: State, m: Data) -> bool:
        return True


@AlternatingBit.variant("ack_without_bit", breaks="delivered_in_order")
class AckWithoutBit(AlternatingBit):
    """The sender takes any acknowledgement as its own: a stale one makes it skip a message."""

    def acknowledges(self, s: State, b: int) -> bool:
        return True


@AlternatingBit.variant("weakly_fair_channel", breaks="every_message_delivered")
class WeaklyFairChannel(AlternatingBit):
    """Receiving is only weakly fair: the channel may lose the current message for ever.

    The message reaches the head of the channel again and again but is lost each time before
    it is received."""

    @action(b=lambda self: (0, 1), fair="weak")
    def rcv_msg(self, s: State, b: int) -> State | None:
        return super().rcv_msg(s, b)


# Measured (explorer.check, default parameters): 108 distinct states, depth 16, no violation,
# every message delivered; no_sequence_bit caught in 4 steps, ack_without_bit in 6,
# weakly_fair_channel in a 4-step lasso. Other configurations: docs/specs/alternating_bit.md.
