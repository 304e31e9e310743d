"""message_queue: acknowledgement order decides between lost and duplicated messages.

Reference: Kafka's "Message Delivery Semantics" (commit the position after processing for
at-least-once) and AMQP 0-9-1 (unacknowledged messages are requeued when the channel closes).
"""

from __future__ import annotations

from protospec.explorer import check
from protospec.specs.message_queue import (
    IDLE_CONSUMER,
    Consumer,
    MessageQueue,
    Msg,
    Stage,
    State,
    Status,
)
from tests.specs.catalogue_checks import run, start

READY, UNACKED, ACKED = Status.READY, Status.UNACKED, Status.ACKED


# -- behaviour --------------------------------------------------------------------------------


def test_a_message_redelivered_after_a_crash_is_skipped_by_the_dedup_table():
    spec = MessageQueue(partitions=1, messages=1, consumers=1, crashes=1)
    s = run(spec, start(spec), ("publish", {"p": 0}), ("deliver", {"c": 0, "p": 0}),
            ("process", {"c": 0}), ("consumer_crash", {"c": 0}))
    assert s.log == ((READY,),)  # the broker requeued the unacknowledged message
    s = run(spec, s, ("deliver", {"c": 0, "p": 0}), ("process", {"c": 0}), ("ack", {"c": 0}))
    assert s.effects == (Msg(0, 0),)
    assert s.log == ((ACKED,),)


def test_the_broker_holds_back_a_partition_while_one_of_its_messages_is_unacknowledged():
    spec = MessageQueue(partitions=1, messages=2, consumers=2)
    s = run(spec, start(spec), ("publish", {"p": 0}), ("publish", {"p": 0}),
            ("deliver", {"c": 0, "p": 0}))
    assert spec.step(s, "deliver", c=1, p=0) is None
    s = run(spec, s, ("process", {"c": 0}), ("ack", {"c": 0}), ("deliver", {"c": 1, "p": 0}))
    assert s.consumers[1] == Consumer(Stage.RECEIVED, Msg(0, 1))


def test_every_message_can_take_effect_exactly_once_despite_every_allowed_crash():
    # Reachability: a state where all messages are acknowledged after both crashes happened.
    spec = MessageQueue()

    def done(s: State) -> bool:
        return not (s.crashes == spec.crashes and
                    all(st == ACKED for part in s.log for st in part) and
                    len(s.log[0]) == spec.messages and len(s.effects) == 6)

    spec.add_property("not_all_done", "invariant", done)
    (v,) = check(spec).violations
    assert v.property == "not_all_done"
    assert sorted(v.trace.steps[-1].state.effects) == [Msg(p, k) for p in range(2)
                                                       for k in range(3)]


# -- non-vacuity: each property fails on a hand-built state -----------------------------------


def test_at_least_once_delivery_fails_when_an_acked_message_took_no_effect_and_nobody_holds_it():
    spec = MessageQueue()
    lost = State(log=((ACKED,), ()), consumers=(IDLE_CONSUMER, IDLE_CONSUMER), effects=(),
                 crashes=1)
    assert spec.check_state(lost) == ["at_least_once_delivery"]


def test_at_least_once_delivery_holds_while_a_consumer_still_holds_the_acked_message():
    spec = MessageQueue()
    held = State(log=((ACKED,), ()), consumers=(Consumer(Stage.ACKED, Msg(0, 0)), IDLE_CONSUMER),
                 effects=(), crashes=0)
    assert spec.check_state(held) == []


def test_exactly_once_effect_fails_when_a_message_took_effect_twice():
    spec = MessageQueue()
    twice = State(log=((UNACKED,), ()),
                  consumers=(Consumer(Stage.PROCESSED, Msg(0, 0)), IDLE_CONSUMER),
                  effects=(Msg(0, 0), Msg(0, 0)), crashes=1)
    assert spec.check_state(twice) == ["exactly_once_effect"]


def test_partition_order_fails_when_a_later_offset_takes_effect_first():
    spec = MessageQueue()
    reordered = State(log=((UNACKED, UNACKED), ()),
                      consumers=(Consumer(Stage.RECEIVED, Msg(0, 0)),
                                 Consumer(Stage.PROCESSED, Msg(0, 1))),
                      effects=(Msg(0, 1),), crashes=0)
    assert spec.check_state(reordered) == ["partition_order"]
