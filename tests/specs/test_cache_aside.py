"""cache_aside: the read-populate / write-invalidate race, and the leases that close it.

Reference: Nishtala et al., "Scaling Memcache at Facebook" (NSDI '13), section 3.2.1: a delete
invalidates the lease token a miss handed out, and a set with an invalid token is refused.
"""

from __future__ import annotations

from protospec.explorer import check
from protospec.specs.cache_aside import (
    EMPTY,
    IDLE_READER,
    CacheAside,
    Reader,
    ReaderPc,
    State,
    Writer,
    WriterPc,
)

RACE = [("get", {"r": 0}), ("read_db", {"r": 0}), ("write_db", {"w": 0}), ("delete", {"w": 0}),
        ("set", {"r": 0})]


def run(spec: CacheAside, *steps: tuple) -> State:
    s = next(iter(spec.init()))
    for name, args in steps:
        t = spec.step(s, name, **args)
        assert t is not None, f"{name}({args}) is disabled"
        s = t
    return s


# -- behaviour --------------------------------------------------------------------------------


def test_the_lease_makes_the_cache_refuse_a_fill_that_raced_a_write():
    spec = CacheAside(readers=1, writers=1)
    s = run(spec, *RACE)
    assert (s.db, s.cache) == (1, EMPTY)
    assert s.readers[0] == Reader(ReaderPc.DONE, 0)  # the reader still returns what it read


def test_without_leases_the_same_race_leaves_the_old_version_cached_for_good():
    spec = CacheAside.with_variant("fill_without_lease")(readers=1, writers=1)
    s = run(spec, *RACE)
    assert (s.db, s.cache) == (1, 0)
    assert spec.check_state(s)[0] == "no_stale_entry_when_quiescent"


def test_a_fill_with_a_valid_lease_is_stored_and_later_reads_hit():
    spec = CacheAside(readers=2, writers=1)
    s = run(spec, ("get", {"r": 0}), ("read_db", {"r": 0}), ("set", {"r": 0}), ("get", {"r": 1}))
    assert s.cache == 0
    assert s.readers[1] == Reader(ReaderPc.DONE, 0)


def test_a_stale_entry_can_exist_while_a_writer_has_not_yet_deleted():
    # Reachability: stale_only_while_invalidating is not stronger than what the protocol allows.
    spec = CacheAside()
    spec.add_property("never_stale", "invariant", lambda s: s.cache in (EMPTY, s.db))
    (v,) = check(spec).violations
    last = v.trace.steps[-1].state
    assert any(w.pc is WriterPc.WROTE for w in last.writers)


# -- non-vacuity: each property fails on a hand-built state -----------------------------------


def test_no_stale_entry_when_quiescent_fails_on_a_stale_cache_after_everyone_finished():
    spec = CacheAside(readers=1, writers=1)
    stale = State(db=1, cache=0, leases=frozenset(), readers=(Reader(ReaderPc.DONE, 0),),
                  writers=(Writer(WriterPc.DONE, 1),))
    # Quiescent means no writer is mid-write, so the stronger invariant fails too.
    assert spec.check_state(stale) == ["no_stale_entry_when_quiescent",
                                       "stale_only_while_invalidating"]


def test_stale_only_while_invalidating_fails_on_a_stale_cache_with_no_delete_pending():
    spec = CacheAside(readers=1, writers=1)
    stale = State(db=1, cache=0, leases=frozenset({0}), readers=(Reader(ReaderPc.MISSED, EMPTY),),
                  writers=(Writer(WriterPc.DONE, 1),))
    assert spec.check_state(stale) == ["stale_only_while_invalidating"]


def test_never_newer_than_db_fails_on_a_version_the_database_never_had():
    spec = CacheAside(readers=1, writers=1)
    # A writer is mid-write, so only the version check can object to the cached 1.
    ahead = State(db=0, cache=1, leases=frozenset(), readers=(IDLE_READER,),
                  writers=(Writer(WriterPc.WROTE, 1),))
    assert spec.check_state(ahead) == ["never_newer_than_db"]
