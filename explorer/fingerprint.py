"""State fingerprints and the visited set that stores them (hash compaction, as TLC does).

A fingerprint is Python's 64-bit ``hash()`` of the state: tuples, frozensets, ints and enums
hash in C, far faster than any hash written in Python, and the successor loop is the hot path.

Why results do not depend on PYTHONHASHSEED: the seed changes the hash of strings (and so of
enum members), which changes *which* 64-bit number a state gets, not whether two states get the
same one. Distinct-state counts, verdicts and shortest-counterexample lengths are therefore the
same under every seed, barring a fingerprint collision, whose probability each run reports.
Fingerprints agree between processes that share the seed: ``worker_env()`` gives child
processes of a run the parent's seed, which parallel and distributed searches must use.

The visited set is an open-addressing table of int64 in a numpy array, probed a batch at a time
(8 bytes per slot, at most 70% full: 11 to 23 bytes per distinct state), instead of a Python
set of int objects (60-90 bytes per state).
"""

from __future__ import annotations

import os
import sys

import numpy as np

__all__ = ["ZERO_FINGERPRINT", "FingerprintSet", "collision_probability", "hash_seed", "worker_env"]

_EMPTY = 0
# A state whose hash is 0 (e.g. the int 0) gets this fingerprint instead, since 0 marks an empty
# slot. An arbitrary odd 64-bit constant: as unlikely to meet another state's hash as any value.
ZERO_FINGERPRINT = -0x3A4F0E1D2C5B6977
_REHASH_SLICE = 1 << 16
MAX_LOAD = 0.7  # linear probing stays short up to here; each doubling costs memory for good
_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: spreads any bits over the slot index


def hash_seed() -> str:
    """The PYTHONHASHSEED in force ('random' when the interpreter chose one)."""
    return os.environ.get("PYTHONHASHSEED", "random")


def worker_env(seed: int | None = None) -> dict[str, str]:
    """Environment for a worker process whose fingerprints must agree with this one's.

    With no PYTHONHASHSEED set, this process's string hashes are random and no child can
    reproduce them: a parallel run must then be started with a fixed seed, which this returns.
    """
    env = dict(os.environ)
    if "PYTHONHASHSEED" not in env or env["PYTHONHASHSEED"] == "random":
        env["PYTHONHASHSEED"] = str(seed if seed is not None else 0)
    return env


def collision_probability(distinct: int, generated: int) -> float:
    """TLC's optimistic estimate of a fingerprint collision: n * (m - n) / 2^64.

    n distinct states found among m generated; each of the m - n re-visits could have been
    mistaken for one of n stored fingerprints (Yu, Manolios, Lamport, CHARME 1999).
    """
    if distinct <= 0:
        return 0.0
    return distinct * max(0, generated - distinct) / 2.0**64


class FingerprintSet:
    """A set of 64-bit fingerprints in an int64 open-addressing table (linear probing).

    ``add_batch`` takes fingerprints in generation order and returns the positions of those
    seen for the first time, in order: within a batch the first occurrence wins, which keeps
    the breadth-first search (and so its counterexamples) deterministic.
    """

    def __init__(self, capacity: int = 1 << 16) -> None:
        cap = 1 << max(4, (capacity - 1).bit_length())
        self._table = np.zeros(cap, dtype=np.int64)
        self._bits = cap.bit_length() - 1
        self.count = 0

    def __len__(self) -> int:
        return self.count

    @property
    def nbytes(self) -> int:
        return int(self._table.nbytes)

    def _slots(self, keys: np.ndarray) -> np.ndarray:
        mixed = keys.view(np.uint64) * _MIX
        return (mixed >> np.uint64(64 - self._bits)).astype(np.int64)

    def _grow(self, needed: int) -> None:
        cap = len(self._table)
        while needed > cap * MAX_LOAD:
            cap *= 2
        if cap == len(self._table):
            return
        old = self._table
        self._table = np.zeros(cap, dtype=np.int64)
        self._bits = cap.bit_length() - 1
        self.count = 0
        # Re-insert a slice at a time: the probing temporaries of one big insert would cost
        # several times the table itself and set the run's peak memory.
        for start in range(0, len(old), _REHASH_SLICE):
            part = old[start:start + _REHASH_SLICE]
            keys = part[part != _EMPTY]
            if len(keys):
                self._insert_unique(keys)

    def add_batch(self, fps: np.ndarray) -> np.ndarray:
        """Insert ``fps`` (int64); return the sorted positions of the fingerprints that were new."""
        if len(fps) == 0:
            return np.zeros(0, dtype=np.int64)
        keys = np.where(fps == _EMPTY, ZERO_FINGERPRINT, fps)  # 0 marks an empty slot
        uniq, first = np.unique(keys, return_index=True)
        self._grow(self.count + len(uniq))
        new = self._insert_unique(uniq)
        return np.sort(first[new])

    def contains(self, fp: int) -> bool:
        key = np.array([fp if fp != _EMPTY else ZERO_FINGERPRINT], dtype=np.int64)
        slot = int(self._slots(key)[0])
        mask = len(self._table) - 1
        while True:
            cur = int(self._table[slot])
            if cur == key[0]:
                return True
            if cur == _EMPTY:
                return False
            slot = (slot + 1) & mask

    def _insert_unique(self, keys: np.ndarray) -> np.ndarray:
        """Insert distinct keys; return a bool array: True where the key was not yet present."""
        table = self._table
        mask = len(table) - 1
        new = np.zeros(len(keys), dtype=bool)
        pending = np.arange(len(keys))
        slots = self._slots(keys)
        while len(pending):
            k = keys[pending]
            sl = slots[pending]
            cur = table[sl]
            empty = cur == _EMPTY
            # Claim empty slots; where two keys race for one slot, one write wins and the other
            # sees an occupied slot next round and moves on.
            if empty.any():
                table[sl[empty]] = k[empty]
                won = np.zeros(len(pending), dtype=bool)
                won[empty] = table[sl[empty]] == k[empty]
                new[pending[won]] = True
            else:
                won = empty
            found = cur == k
            again = ~(found | won)
            # Keys that lost a race keep their slot (now taken by another); others move on.
            step = again & ~empty
            slots[pending[step]] = (sl[step] + 1) & mask
            pending = pending[again]
        self.count += int(new.sum())
        return new


def _self_check() -> None:  # pragma: no cover - quick sanity run: python -m explorer.fingerprint
    rng = np.random.default_rng(1)
    fs = FingerprintSet(16)
    seen: set[int] = set()
    for _ in range(50):
        batch = rng.integers(-(2**20), 2**20, size=500, dtype=np.int64)
        got = fs.add_batch(batch)
        expect = []
        for i, v in enumerate(batch.tolist()):
            v = v or ZERO_FINGERPRINT
            if v not in seen:
                seen.add(v)
                expect.append(i)
        assert got.tolist() == expect
    print("ok", len(seen), file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    _self_check()
