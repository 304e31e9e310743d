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
