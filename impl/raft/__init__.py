"""A Raft-replicated key-value store, built to be checked against ``specs/raft.py``.

* :mod:`impl.raft.core` — the sans-IO protocol core (tick / step / propose / read_index /
  ready / advance);
* :mod:`impl.raft.storage` — term, vote, log and snapshot on the shared record log
  (:mod:`impl.runtime.storage`: chained checksums, only a torn last record repaired);
* :mod:`impl.raft.kv` — the state machine (put, get, delete, cas; client sessions);
* :mod:`impl.raft.events` — the JSON-lines event log, one event per spec action;
* :mod:`impl.raft.sim` — the deterministic simulator (seeded, virtual clock, faults);
* :mod:`impl.raft.server` and :mod:`impl.raft.client` — the asyncio TCP runtime (framed,
  HMAC-authenticated peers, fsync off the event loop) and its client.

``protospec conform raft`` checks the event logs against the spec (docs/conformance.md).
"""
