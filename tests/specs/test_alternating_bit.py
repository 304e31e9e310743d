"""alternating_bit: exactly-once, in-order delivery over a lossy, duplicating FIFO link
(Bartlett, Scantlebury and Wilkinson, CACM 1969; AlternatingBit.tla, Specifying Systems 14.2)."""

from __future__ import annotations

import pytest
from protospec.explorer import check
from protospec.specs.alternating_bit import AlternatingBit, Data

from tests.specs.catalogue_checks import (
    assert_cli_names_broken_property,
    assert_default_exhausts,
    assert_documented,
    assert_variant_caught,
    run,
    start,
)

VARIANTS = [("no_sequence_bit", 4), ("ack_without_bit", 6), ("weakly_fair_channel", 4)]


def test_the_default_configuration_exhausts_and_delivers_every_message() -> None:
    assert_default_exhausts(AlternatingBit, 108, 16)


def test_a_larger_configuration_exhausts_at_its_documented_count() -> None:
    assert_default_exhausts(AlternatingBit, 725, 28, {"messages": 5, "capacity": 4})


@pytest.mark.parametrize(("variant", "length"), VARIANTS)
def test_each_variant_is_caught_with_a_shortest_replayable_trace(variant: str,
                                                                 length: int) -> None:
    assert_variant_caught(AlternatingBit, variant, length)


@pytest.mark.parametrize(("variant", "length"), VARIANTS)
def test_the_command_line_exits_1_naming_the_broken_property(variant: str, length: int,
                                                             capsys) -> None:
    assert_cli_names_broken_property(AlternatingBit, variant, length, capsys)


def test_the_spec_is_documented() -> None:
    assert_documented(AlternatingBit)


def test_a_retransmitted_copy_is_dropped_by_its_bit() -> None:
    spec = AlternatingBit()
    s = run(spec, start(spec), ("re_snd_msg", {}), ("re_snd_msg", {}), ("rcv_msg", {"b": 0}),
            ("rcv_msg", {"b": 0}))
    assert s.delivered == (0,)
    assert s.rbit == 1


def test_the_sender_moves_on_only_with_an_acknowledgement_of_its_own_bit() -> None:
    spec = AlternatingBit()
    s = run(spec, start(spec), ("snd_ack", {}), ("rcv_ack", {"b": 1}))
    assert (s.current, s.sbit) == (0, 0)  # "nothing accepted yet" does not acknowledge msg 0
    s = run(spec, s, ("re_snd_msg", {}), ("rcv_msg", {"b": 0}), ("snd_ack", {}),
            ("rcv_ack", {"b": 0}))
    assert (s.current, s.sbit) == (1, 1)


def test_the_channels_lose_and_duplicate_at_their_head() -> None:
    spec = AlternatingBit()
    s = run(spec, start(spec), ("re_snd_msg", {}), ("duplicate_msg", {}))
    assert s.msg_channel == (Data(0, 0), Data(0, 0))
    s = run(spec, s, ("lose_msg", {}), ("snd_ack", {}), ("lose_ack", {}))
    assert (s.msg_channel, s.ack_channel) == ((Data(0, 0),), ())


def test_a_delivery_out_of_order_violates_the_invariant() -> None:
    spec = AlternatingBit()
    assert spec.check_state(start(spec)._replace(delivered=(0, 2))) == ["delivered_in_order"]


def test_a_channel_that_is_only_weakly_fair_can_lose_the_first_message_for_ever() -> None:
    spec = AlternatingBit.with_variant("weakly_fair_channel")()
    (v,) = check(spec).violations
    assert v.property == "every_message_delivered"
    cycle = v.trace.steps[v.trace.loop + 1:]
    assert {step.action for step in cycle} >= {"re_snd_msg", "lose_msg"}
    assert all(step.state.delivered == () for step in v.trace.steps)
