"""A message queue with acknowledgements and redelivery, consumed by crashing consumers.

Source: the delivery semantics of Apache Kafka ("Message Delivery Semantics", section 4.6 of the
Kafka design documentation: at-most-once if the position is committed before processing,
at-least-once if after) and of AMQP 0-9-1 (``basic.deliver``, ``basic.ack``, and the requeueing
of unacknowledged messages when the consumer's channel closes, as RabbitMQ implements it).

The idea: a broker keeps each partition's messages until a consumer acknowledges them. It
hands a message to a consumer (``deliver``), the consumer applies its effect (``process``) and
then acknowledges it (``ack``); a consumer that crashes before acknowledging loses what it was
holding, and the broker makes the message ready again, so it is delivered again. Acknowledging
only after processing gives *at-least-once* delivery: a message is never lost, but it may take
effect twice (processed, crash, redelivered, processed again). The consumer becomes idempotent
by recording the ids of the messages it has applied in the same transaction as their effect
and skipping a redelivered id: then each message takes effect exactly once. Per-partition
order holds because the broker has at most one unacknowledged message per partition (Kafka: one
consumer owns a partition and reads it in offset order; RabbitMQ: a single active consumer).

Modelled: producers publishing into partitions, the broker's per-message status, consumers
that crash at any point (and reconnect at once), the effect store (the database the consumers
write), which holds the effects in the order they were applied.

Liveness (docs/liveness.md): ``every_message_processed`` — every published message eventually
takes effect and is acknowledged, when delivering, processing and acknowledging are weakly
fair (publishing and crashes are not; crashes are bounded). The variant
``no_requeue_on_crash`` loses it while every safety property still holds.

Left out: producer retries and broker replication (so publishing is exactly-once here), the
transport of acks (a lost ack is the same as a crash before the ack), prefetch windows larger
than one, offsets committed in batches (Kafka commits the position, which for one outstanding
message per partition is the same as acking it), and retention (acknowledged messages are kept
in the model, marked ACKED, so a redelivery of them can be seen to be impossible).
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from protospec import Param, Spec, action, except_at, invariant, leads_to, liveness

# -- messages and state -----------------------------------------------------------------------


class Status(IntEnum):
    """The broker's view of one message."""

    READY = 0  # waiting to be delivered (again, after a crash)
    UNACKED = 1  # delivered to a consumer, not yet acknowledged
    ACKED = 2  # acknowledged: the broker will never deliver it again


class Stage(IntEnum):
    """Where a consumer is with the message it holds."""

    IDLE = 0  # holds nothing; ready for a delivery
    RECEIVED = 1  # holds a message it has not processed yet
    PROCESSED = 2  # has applied (or, being a duplicate, skipped) the message's effect
    ACKED = 3  # has acknowledged a message it has not processed (only ack_before_process)


class Msg(NamedTuple):
    """A message's id: its partition and its offset (position) in that partition."""

    partition: int
    offset: int


NO_MSG = Msg(-1, -1)  # what an idle consumer holds


class Consumer(NamedTuple):
    stage: Stage  # how far this consumer is with ``msg``
    msg: Msg  # the message it holds (NO_MSG when idle)


IDLE_CONSUMER = Consumer(Stage.IDLE, NO_MSG)


class State(NamedTuple):
    log: tuple[tuple[Status, ...], ...]  # log[p][k]: status of message (p, k); one per published
    consumers: tuple[Consumer, ...]  # consumers[c]: what consumer c holds
    effects: tuple[Msg, ...]  # the effect store: message ids in the order their effects applied
    crashes: int  # consumer crashes so far (bounded by the crashes parameter)


class MessageQueue(Spec):
    """Message queue with acks and redelivery: at-least-once, exactly-once effect, in order."""

    name = "message_queue"

    partitions = Param(2, "number of partitions (independent ordered queues)", min=1, max=4)
    messages = Param(3, "messages the producers publish into each partition", min=1, max=4)
    consumers = Param(2, "number of consumers", min=1, max=4)
    crashes = Param(2, "how many consumer crashes may happen in one behaviour", min=0, max=4)

    def setup(self) -> None:
        self.P = range(self.partitions)
        self.C = range(self.consumers)

    def init(self):
        yield State(
            log=((),) * self.partitions,
            consumers=(IDLE_CONSUMER,) * self.consumers,
            effects=(),
            crashes=0,
        )

    # -- actions ------------------------------------------------------------------------------

    @action(p="P")
    def publish(self, s: State, p: int) -> State | None:
        """A producer publishes the next message of partition p (Kafka: produce; AMQP:
        basic.publish). The broker stores it as READY."""
        if len(s.log[p]) >= self.messages:
            return None
        return s._replace(log=except_at(s.log, p, s.log[p] + (Status.READY,)))

    @action(c="C", p="P", fair="weak")
    def deliver(self, s: State, c: int, p: int) -> State | None:
        """basic.deliver: the broker hands idle consumer c the first READY message of partition p,
        but only while no other message of p is unacknowledged (one outstanding message per
        partition, which is what keeps the partition in order)."""
        if s.consumers[c].stage is not Stage.IDLE:
            return None
        statuses = s.log[p]
        if Status.UNACKED in statuses or Status.READY not in statuses:
            return None
        k = statuses.index(Status.READY)
        return s._replace(
            log=except_at(s.log, p, except_at(statuses, k, Status.UNACKED)),
            consumers=except_at(s.consumers, c, Consumer(Stage.RECEIVED, Msg(p, k))),
        )

    @action(c="C", fair="weak")
    def process(self, s: State, c: int) -> State | None:
        """Consumer c applies the effect of the message it holds, in one transaction with the
        record of its id; a message whose id is already recorded is a redelivery and skipped."""
        con = s.consumers[c]
        if con.stage is not Stage.RECEIVED:
            return None
        effects = s.effects if con.msg in s.effects else s.effects + (con.msg,)
        return s._replace(consumers=except_at(s.consumers, c, Consumer(Stage.PROCESSED, con.msg)),
                          effects=effects)

    @action(c="C", fair="weak")
    def ack(self, s: State, c: int) -> State | None:
        """basic.ack (Kafka: commit the offset after it): consumer c acknowledges the message it
        has processed; the broker marks it ACKED and will not deliver it again."""
        con = s.consumers[c]
        if con.stage is not Stage.PROCESSED:
            return None
        return s._replace(log=_mark(s.log, con.msg, Status.ACKED),
                          consumers=except_at(s.consumers, c, IDLE_CONSUMER))

    @action(c="C")
    def consumer_crash(self, s: State, c: int) -> State | None:
        """Consumer c crashes and reconnects: it forgets what it held, and the broker, seeing
        the channel close, makes c's unacknowledged message READY again (to be redelivered)."""
        con = s.consumers[c]
        if s.crashes >= self.crashes or con.stage is Stage.IDLE:
            return None  # crashing while idle changes nothing, so it is not a step
        log = s.log
        if con.stage in (Stage.RECEIVED, Stage.PROCESSED):
            log = _mark(log, con.msg, Status.READY)
        return s._replace(log=log, consumers=except_at(s.consumers, c, IDLE_CONSUMER),
                          crashes=s.crashes + 1)

    # -- properties ---------------------------------------------------------------------------

    @invariant
    def at_least_once_delivery(self, s: State) -> bool:
        """No message is lost: every published message has taken effect, is still pending at the
        broker (READY or UNACKED), or is held by a consumer that has yet to process it."""
        held = {con.msg for con in s.consumers}
        for p, statuses in enumerate(s.log):
            for k, status in enumerate(statuses):
                if status is Status.ACKED:
                    m = Msg(p, k)
                    if m not in s.effects and m not in held:
                        return False
        return True

    @invariant
    def exactly_once_effect(self, s: State) -> bool:
        """No message takes effect twice (with at_least_once_delivery: each message's effect is
        applied exactly once by the time it is acknowledged)."""
        return len(set(s.effects)) == len(s.effects)

    @invariant
    def partition_order(self, s: State) -> bool:
        """Per-partition order: message (p, k) first takes effect only after (p, k - 1) has."""
        expected = [0] * len(s.log)
        seen = set()
        for m in s.effects:
            if m in seen:
                continue  # a repeated effect breaks exactly-once, not order
            seen.add(m)
            if m.offset != expected[m.partition]:
                return False
            expected[m.partition] += 1
        return True


    @liveness
    def every_message_processed(self):
        """Every published message eventually takes effect and is acknowledged."""
        return leads_to(lambda s, m: m.offset < len(s.log[m.partition]),
                        lambda s, m: m.offset < len(s.log[m.partition])
                        and s.log[m.partition][m.offset] is Status.ACKED and m in s.effects,
                        over=[Msg(p, k) for p in self.P for k in range(self.messages)])


def _mark(log: tuple[tuple[Status, ...], ...], m: Msg, status: Status) -> tuple:
    """The log with message m's status set to ``status``."""
    return except_at(log, m.partition, except_at(log[m.partition], m.offset, status))


# -- bug variants -----------------------------------------------------------------------------


@MessageQueue.variant("ack_before_process", breaks="at_least_once_delivery")
class AckBeforeProcess(MessageQueue):
    """The consumer acks on receipt and processes after: a crash in between loses the message."""

    def ack(self, s: State, c: int) -> State | None:
        # AMQP auto-ack (or Kafka committing the offset before processing): ack a RECEIVED message.
        con = s.consumers[c]
        if con.stage is not Stage.RECEIVED:
            return None
        return s._replace(log=_mark(s.log, con.msg, Status.ACKED),
                          consumers=except_at(s.consumers, c, Consumer(Stage.ACKED, con.msg)))

    def process(self, s: State, c: int) -> State | None:
        con = s.consumers[c]
        if con.stage is not Stage.ACKED:
            return None
        effects = s.effects if con.msg in s.effects else s.effects + (con.msg,)
        return s._replace(consumers=except_at(s.consumers, c, IDLE_CONSUMER), effects=effects)


@MessageQueue.variant("no_dedup", breaks="exactly_once_effect")
class NoDedup(MessageQueue):
    """The consumer applies every delivery, so a message redelivered after a crash acts twice."""

    def process(self, s: State, c: int) -> State | None:
        con = s.consumers[c]
        if con.stage is not Stage.RECEIVED:
            return None
        return s._replace(consumers=except_at(s.consumers, c, Consumer(Stage.PROCESSED, con.msg)),
                          effects=s.effects + (con.msg,))


@MessageQueue.variant("competing_consumers", breaks="partition_order")
class CompetingConsumers(MessageQueue):
    """The broker hands out the next READY message while an earlier one is still unacknowledged."""

    def deliver(self, s: State, c: int, p: int) -> State | None:
        # AMQP competing consumers on one queue: order of delivery is kept, order of effect is not.
        if s.consumers[c].stage is not Stage.IDLE or Status.READY not in s.log[p]:
            return None
        k = s.log[p].index(Status.READY)
        return s._replace(
            log=except_at(s.log, p, except_at(s.log[p], k, Status.UNACKED)),
            consumers=except_at(s.consumers, c, Consumer(Stage.RECEIVED, Msg(p, k))),
        )


@MessageQueue.variant("no_requeue_on_crash", breaks="every_message_processed")
class NoRequeueOnCrash(MessageQueue):
    """The broker does not requeue a crashed consumer's message: it stays unacknowledged
    forever and its partition is stuck (no message is lost or doubled, so every safety
    property holds)."""

    def consumer_crash(self, s: State, c: int) -> State | None:
        con = s.consumers[c]
        if s.crashes >= self.crashes or con.stage is Stage.IDLE:
            return None
        return s._replace(consumers=except_at(s.consumers, c, IDLE_CONSUMER),
                          crashes=s.crashes + 1)


# Measured with explorer.check (no violation): 13,684 distinct states, depth 28 with the defaults;
# 2,144 with crashes=0; 26,530 with consumers=3. Variants' shortest counterexamples: 4 steps
# (ack_before_process), 6 (no_dedup), 5 (competing_consumers). See docs/specs/message_queue.md.
