"""A Raft-replicated key-value store, built to be checked against ``specs/raft.py``.

* :mod:`impl.raft.core` — the sans-IO protocol core (tick / step / propose / ready / advance);
* :mod:`impl.raft.storage` — term, vote and log in an append-only, checksummed, fsynced file;
* :mod:`impl.raft.kv` — the state machine (put, get, delete; client sessions);
* :mod:`impl.raft.events` — the JSON-lines event log, one event per spec action;
* :mod:`impl.raft.sim` — the deterministic simulator (seeded, virtual clock, faults);
* :mod:`impl.raft.server` and :mod:`impl.raft.client` — the asyncio TCP runtime and its client.

``protospec conform raft`` checks the event logs against the spec (docs/conformance.md).
"""
