"""distributed_lock: leases and fencing tokens (Kleppmann, "How to do distributed locking", 2016;
Burrows, Chubby, OSDI 2006, section 2.4)."""

from __future__ import annotations

from protospec.specs.distributed_lock import DistributedLock, State, WriteRequest


def paused_client_scenario(spec: DistributedLock) -> State:
    """Kleppmann's figure: client 0 checks its lease, pauses until it has expired; client 1 gets
    the lock (token 2) and writes; then client 0's write (token 1) reaches the storage."""
    s = next(iter(spec.init()))
    s = spec.step(s, "acquire", c=0)
    s = spec.step(s, "check_lease", c=0)
    for _ in range(spec.lease_ticks):
        s = spec.step(s, "tick")  # client 0 is paused (GC) all this time
    s = spec.step(s, "acquire", c=1)
    s = spec.step(s, "check_lease", c=1)
    s = spec.step(s, "send_write", c=1)
    s = spec.step(s, "storage_write", m=WriteRequest(1, 2))
    s = spec.step(s, "send_write", c=0)  # the pause ends
    return spec.step(s, "storage_write", m=WriteRequest(0, 1))


def test_the_fence_rejects_the_paused_clients_stale_write() -> None:
    spec = DistributedLock()
    s = paused_client_scenario(spec)
    assert s.written == (2,) and not s.msgs
    assert spec.check_state(s) == []


def test_without_the_fence_the_stale_write_lands_on_top() -> None:
    spec = DistributedLock.with_variant("no_fencing")()
    s = paused_client_scenario(spec)
    assert s.written == (2, 1)
    assert spec.check_state(s) == ["no_superseded_write"]


def test_an_expired_lease_cannot_be_checked_as_valid() -> None:
    spec = DistributedLock()
    s = spec.step(next(iter(spec.init())), "acquire", c=0)
    for _ in range(spec.lease_ticks):
        s = spec.step(s, "tick")
    assert spec.step(s, "check_lease", c=0) is None


def test_no_superseded_write_is_violated_by_an_older_token_after_a_newer_one() -> None:
    spec = DistributedLock()
    s = next(iter(spec.init()))._replace(written=(1, 3, 2), max_token=3)
    assert spec.check_state(s) == ["no_superseded_write"]
    # A late write from a superseded lease before any newer write is allowed: fencing orders
    # writes, it cannot tell a paused client from a slow one.
    assert spec.check_state(s._replace(written=(1, 1, 3))) == []
