"""producer_consumer: Dijkstra's bounded buffer with semaphores empty, full and mutex (EWD123,
1965, section 4.3), its deadly embrace (section 6) and the race without the mutex."""

from __future__ import annotations

import pytest
from protospec.specs.producer_consumer import ProducerConsumer, Sem

from tests.specs.catalogue_checks import (
    assert_cli_names_broken_property,
    assert_default_exhausts,
    assert_documented,
    assert_variant_caught,
    run,
    start,
)

VARIANTS = [("swapped_semaphores", 15), ("no_mutex", 4), ("consumers_without_mutex", 16)]


def test_the_default_configuration_exhausts_with_no_violation_and_no_deadlock() -> None:
    assert_default_exhausts(ProducerConsumer, 1448, 48)


def test_a_larger_configuration_exhausts_at_its_documented_count() -> None:
    assert_default_exhausts(ProducerConsumer, 12685, 72,
                            {"producers": 3, "consumers": 2, "capacity": 2, "items": 2})


@pytest.mark.parametrize(("variant", "length"), VARIANTS)
def test_each_variant_is_caught_with_a_shortest_replayable_trace(variant: str,
                                                                 length: int) -> None:
    assert_variant_caught(ProducerConsumer, variant, length)


@pytest.mark.parametrize(("variant", "length"), VARIANTS)
def test_the_command_line_exits_1_naming_the_broken_property(variant: str, length: int,
                                                             capsys) -> None:
    assert_cli_names_broken_property(ProducerConsumer, variant, length, capsys)


def test_the_spec_is_documented() -> None:
    assert_documented(ProducerConsumer)


def produce(p: int) -> list[tuple]:
    return [("P", {"i": p, "sem": Sem.EMPTY}), ("P", {"i": p, "sem": Sem.MUTEX}),
            ("deposit", {"p": p}), ("advance_in", {"p": p}),
            ("V", {"i": p, "sem": Sem.MUTEX}), ("V", {"i": p, "sem": Sem.FULL})]


def test_a_producer_waits_at_p_empty_while_the_buffer_is_full() -> None:
    spec = ProducerConsumer(producers=1, consumers=1, capacity=1, items=2)
    s = run(spec, start(spec), *produce(0))
    assert (s.empty, s.full, s.buf) == (0, 1, (1,))
    assert spec.step(s, "P", i=0, sem=Sem.EMPTY) is None


def test_a_consumer_takes_the_portions_in_the_order_they_were_put_in() -> None:
    spec = ProducerConsumer(producers=1, consumers=1, capacity=2, items=2)
    s = run(spec, start(spec), *produce(0), *produce(0),
            ("P", {"i": 1, "sem": Sem.FULL}), ("P", {"i": 1, "sem": Sem.MUTEX}),
            ("fetch", {"c": 0}))
    assert s.taken == (1,)


def test_the_run_ends_by_stuttering_only_when_every_portion_is_taken() -> None:
    spec = ProducerConsumer(producers=1, consumers=1, capacity=1, items=1)
    s = run(spec, start(spec), *produce(0))
    assert spec.step(s, "finished") is None
    s = run(spec, s, ("P", {"i": 1, "sem": Sem.FULL}), ("P", {"i": 1, "sem": Sem.MUTEX}),
            ("fetch", {"c": 0}), ("advance_out", {"c": 0}), ("V", {"i": 1, "sem": Sem.MUTEX}),
            ("V", {"i": 1, "sem": Sem.EMPTY}))
    assert spec.step(s, "finished") == s
