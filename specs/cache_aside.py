"""Cache-aside (look-aside) caching with leases: a filled cache entry is never left stale.

Source: Rajesh Nishtala et al., "Scaling Memcache at Facebook" (NSDI '13): section 2 (the
look-aside cache of Figure 1: read from the cache, on a miss read the database and set the
cache; write the database, then delete the key, because deletes are idempotent) and section
3.2.1 ("Leases", under "Reducing Load": a lease token handed out on a miss, invalidated by a
delete, and required to set the key: the fix for stale sets).

The idea: readers and writers share one key. A reader that misses in the cache reads the
database and fills the cache with what it read; a writer updates the database and then deletes
(invalidates) the cache entry. Interleaved, this races: a reader misses and reads the old value,
a writer updates the database and deletes the (empty) entry, and then the reader fills the
cache with the old value, which stays there, stale, until the next write. With leases, the miss
gives the reader a token, the writer's delete invalidates every outstanding token, and the
cache refuses a fill whose token is no longer valid: the late, stale fill is dropped.

"Once writes stop, the cache holds no stale value" is stated as a safety property over the
state: in a quiescent state (no reader and no writer in the middle of an operation) the cache
is empty or holds the database's value. A stronger invariant says when staleness may appear
at all: only while some writer has updated the database and not yet deleted the key.

Values are versions: the database starts at 0 and each write stores the next version, so
"older" is "smaller". Each reader performs one read and each writer one write.

Left out: many keys (they do not interact), memcache's thundering-herd control (the lease
rate limit of one token per 10 s, and readers told to wait and retry), regions and
replication (mcsqueal), failures of the delete itself, and eviction's effect on leases
(eviction is modelled, and only empties the entry).
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from protospec import Param, Spec, action, except_at, invariant

# -- state ------------------------------------------------------------------------------------

EMPTY = -1  # the value of a cache entry that holds nothing (a miss)


class ReaderPc(IntEnum):
    IDLE = 0  # has not started its read
    MISSED = 1  # missed in the cache (holding a lease if it got one); about to read the database
    FILLING = 2  # has read the database; about to set the cache
    DONE = 3  # has returned a value


class WriterPc(IntEnum):
    IDLE = 0  # has not started its write
    WROTE = 1  # has updated the database; about to delete the cache entry
    DONE = 2  # has deleted the cache entry
    DELETED = 3  # has deleted the entry before writing (only in delete_before_write)


class Reader(NamedTuple):
    pc: ReaderPc  # where the reader is
    value: int  # the version it read from the database (EMPTY before it has read)


class Writer(NamedTuple):
    pc: WriterPc  # where the writer is
    value: int  # the version it wrote (EMPTY before it has written)


class State(NamedTuple):
    db: int  # the database's current version (the number of writes so far)
    cache: int  # the cached version, or EMPTY
    leases: frozenset[int]  # readers holding a lease token the cache still honours
    readers: tuple[Reader, ...]  # readers[r]: reader r's progress
    writers: tuple[Writer, ...]  # writers[w]: writer w's progress


IDLE_READER = Reader(ReaderPc.IDLE, EMPTY)
IDLE_WRITER = Writer(WriterPc.IDLE, EMPTY)


class CacheAside(Spec):
    """Look-aside cache (Facebook memcache) with leased fills: no stale entry once writes stop."""

    name = "cache_aside"

    readers = Param(3, "number of readers (each reads the key once)", min=1, max=4)
    writers = Param(2, "number of writers (each writes the key once)", min=1, max=4)

    def setup(self) -> None:
        self.R = range(self.readers)
        self.W = range(self.writers)

    def init(self):
        yield State(db=0, cache=EMPTY, leases=frozenset(),
                    readers=(IDLE_READER,) * self.readers,
                    writers=(IDLE_WRITER,) * self.writers)

    # -- actions: readers ---------------------------------------------------------------------

    @action(r="R")
    def get(self, s: State, r: int) -> State | None:
        """Reader r looks the key up in the cache: a hit returns the cached value; a miss hands
        the reader a lease token (memcache: the miss response carries the lease)."""
        if s.readers[r].pc is not ReaderPc.IDLE:
            return None
        if s.cache != EMPTY:
            return s._replace(readers=except_at(s.readers, r, Reader(ReaderPc.DONE, s.cache)))
        return s._replace(leases=s.leases | {r},
                          readers=except_at(s.readers, r, Reader(ReaderPc.MISSED, EMPTY)))

    @action(r="R")
    def read_db(self, s: State, r: int) -> State | None:
        """Reader r, having missed, reads the key's current version from the database."""
        if s.readers[r].pc is not ReaderPc.MISSED:
            return None
        return s._replace(readers=except_at(s.readers, r, Reader(ReaderPc.FILLING, s.db)))

    @action(r="R")
    def set(self, s: State, r: int) -> State | None:
        """Reader r fills the cache with what it read, presenting its lease token: the cache
        stores the value only if the token is still valid (no delete since the miss). Either
        way the reader returns the value it read and its token is spent."""
        rd = s.readers[r]
        if rd.pc is not ReaderPc.FILLING:
            return None
        cache = rd.value if r in s.leases else s.cache
        return s._replace(cache=cache, leases=s.leases - {r},
                          readers=except_at(s.readers, r, Reader(ReaderPc.DONE, rd.value)))

    # -- actions: writers ---------------------------------------------------------------------

    @action(w="W")
    def write_db(self, s: State, w: int) -> State | None:
        """Writer w stores the next version in the database."""
        if s.writers[w].pc is not WriterPc.IDLE:
            return None
        return s._replace(db=s.db + 1,
                          writers=except_at(s.writers, w, Writer(WriterPc.WROTE, s.db + 1)))

    @action(w="W")
    def delete(self, s: State, w: int) -> State | None:
        """Writer w, after its database write, deletes the cache entry; the delete also
        invalidates every outstanding lease token for the key."""
        wr = s.writers[w]
        if wr.pc is not WriterPc.WROTE:
            return None
        return s._replace(cache=EMPTY, leases=frozenset(),
                          writers=except_at(s.writers, w, Writer(WriterPc.DONE, wr.value)))

    # -- actions: the cache on its own --------------------------------------------------------

    @action
    def evict(self, s: State) -> State | None:
        """The cache evicts the entry (LRU pressure). Outstanding leases stay valid."""
        if s.cache == EMPTY:
            return None
        return s._replace(cache=EMPTY)

    # -- properties ---------------------------------------------------------------------------

    def quiescent(self, s: State) -> bool:
        """No reader and no writer is in the middle of an operation."""
        return (all(rd.pc in (ReaderPc.IDLE, ReaderPc.DONE) for rd in s.readers)
                and all(wr.pc in (WriterPc.IDLE, WriterPc.DONE) for wr in s.writers))

    @invariant
    def no_stale_entry_when_quiescent(self, s: State) -> bool:
        """Once writes stop, the cache is not stale: in a quiescent state the cache is empty or
        holds the database's current version."""
        return not self.quiescent(s) or s.cache in (EMPTY, s.db)

    @invariant
    def stale_only_while_invalidating(self, s: State) -> bool:
        """The cache holds an older version than the database only while some writer has
        written the database and not yet deleted the key."""
        if s.cache in (EMPTY, s.db):
            return True
        return any(wr.pc is WriterPc.WROTE for wr in s.writers)

    @invariant
    def never_newer_than_db(self, s: State) -> bool:
        """The cache never holds a version the database has not reached."""
        return s.cache <= s.db


# -- bug variants -----------------------------------------------------------------------------


@CacheAside.variant("fill_without_lease", breaks="no_stale_entry_when_quiescent")
class FillWithoutLease(CacheAside):
    """Plain look-aside: the cache accepts every fill, so a fill racing a write leaves it stale."""

    def set(self, s: State, r: int) -> State | None:
        rd = s.readers[r]
        if rd.pc is not ReaderPc.FILLING:
            return None
        return s._replace(cache=rd.value, leases=s.leases - {r},
                          readers=except_at(s.readers, r, Reader(ReaderPc.DONE, rd.value)))


@CacheAside.variant("delete_before_write", breaks="no_stale_entry_when_quiescent")
class DeleteBeforeWrite(CacheAside):
    """The writer deletes the cache entry first and then writes the database: leases can't help."""

    def delete(self, s: State, w: int) -> State | None:
        if s.writers[w].pc is not WriterPc.IDLE:
            return None
        return s._replace(cache=EMPTY, leases=frozenset(),
                          writers=except_at(s.writers, w, Writer(WriterPc.DELETED, EMPTY)))

    def write_db(self, s: State, w: int) -> State | None:
        if s.writers[w].pc is not WriterPc.DELETED:
            return None
        return s._replace(db=s.db + 1,
                          writers=except_at(s.writers, w, Writer(WriterPc.DONE, s.db + 1)))


@CacheAside.variant("set_on_write", breaks="no_stale_entry_when_quiescent")
class SetOnWrite(CacheAside):
    """The writer sets the cache to its value instead of deleting: two writers can cross."""

    def delete(self, s: State, w: int) -> State | None:
        return None  # replaced by set_cache: the writer never deletes

    @action(w="W")
    def set_cache(self, s: State, w: int) -> State | None:
        """Writer w, after its database write, sets the cache entry to the version it wrote."""
        wr = s.writers[w]
        if wr.pc is not WriterPc.WROTE:
            return None
        return s._replace(cache=wr.value, leases=frozenset(),
                          writers=except_at(s.writers, w, Writer(WriterPc.DONE, wr.value)))


# Measured with explorer.check (no violation): 13,367 distinct states, depth 13 with the defaults;
# 1,317 with readers=2; 164,096 with readers=3, writers=3. Variants' shortest counterexamples:
# 5 steps (fill_without_lease, delete_before_write), 4 (set_on_write).
# See docs/specs/cache_aside.md.
