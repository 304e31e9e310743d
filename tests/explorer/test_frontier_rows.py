"""A waiting level pickles a chunk of one NamedTuple class as the class and plain tuples
(explorer/frontier.py, issue 23): the states that come back are the same values, of the same
class, in the same order, whatever the chunk holds."""

from __future__ import annotations

import io
from collections import namedtuple
from typing import NamedTuple

from protospec.explorer import frontier
from protospec.explorer.frontier import Level


class Point(NamedTuple):
    x: int
    tags: frozenset[str]


class Other(NamedTuple):
    x: int
    tags: frozenset[str]


_Base = namedtuple("_Base", "a b")


class WithDict(_Base):  # a namedtuple subclass whose instances carry a __dict__
    pass


def round_trip(states: list) -> list:
    level = Level()
    for s in states:
        level.append(s)
    return list(level)


def test_states_of_one_class_come_back_equal_and_of_their_class() -> None:
    states = [Point(i, frozenset({"a"} if i % 2 else ())) for i in range(10_000)]
    back = round_trip(states)
    assert back == states
    assert all(type(s) is Point for s in back)


def test_a_chunk_mixing_classes_keeps_each_class() -> None:
    states = [Point(1, frozenset()), Other(1, frozenset()), (1, frozenset())]
    back = round_trip(states)
    assert back == states
    assert [type(s) for s in back] == [Point, Other, tuple]


def test_instance_attributes_survive_where_a_class_has_them() -> None:
    s = WithDict(1, 2)
    s.note = "kept"
    (back,) = round_trip([s])
    assert back == s and back.note == "kept"


def test_a_checkpointed_level_reads_back_the_same_states() -> None:
    level = Level()
    states = [Point(i, frozenset()) for i in range(5000)]
    for s in states:
        level.append(s)
    f = io.BytesIO()
    assert level.write_rest(f) == 0  # the head is empty; chunks are written as they are
    f.seek(0)
    again = Level.read(f)
    assert len(again) == len(states)
    assert list(again) == states


def test_rows_are_used_for_plain_namedtuples_only() -> None:
    assert frontier._flat_class(Point) == (frontier._fpcore is not None)
    assert not frontier._flat_class(WithDict)
    assert not frontier._flat_class(tuple)


def expanded_identities(level: Level, states: list) -> list[bool]:
    """For each state handed out, whether it is the very object appended (no pickle trip)."""
    for s in states:
        level.append(s)
    return [a is b for a, b in zip(level, states, strict=True)]


def test_every_level_sends_its_first_states_through_pickle() -> None:
    """So a spec that compares with `is` where it should use == fails in small searches too."""
    states = [Point(i, frozenset({"a"})) for i in range(frontier.PROBE)]
    assert not any(expanded_identities(Level(), states))


def test_later_chunks_stay_raw_while_memory_is_plentiful() -> None:
    states = [Point(i, frozenset({"a"})) for i in range(frontier.PROBE + 3 * frontier.CHUNK)]
    same = expanded_identities(Level(raw_budget=1 << 60), states)
    assert not any(same[:frontier.PROBE])
    assert all(same[frontier.PROBE:frontier.PROBE + 2 * frontier.CHUNK])


def test_without_a_memory_budget_every_chunk_is_pickled() -> None:
    states = [Point(i, frozenset({"a"})) for i in range(frontier.PROBE + 3 * frontier.CHUNK)]
    assert not any(expanded_identities(Level(raw_budget=0), states))


def test_a_checkpoint_writes_raw_chunks_too() -> None:
    states = [Point(i, frozenset({str(i)})) for i in range(frontier.PROBE + 2 * frontier.CHUNK)]
    level = Level(raw_budget=1 << 60)
    for s in states:
        level.append(s)
    f = io.BytesIO()
    level.write_rest(f)
    f.seek(0)
    assert list(Level.read(f)) == states
