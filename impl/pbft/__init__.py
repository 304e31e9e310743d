"""PBFT (Castro & Liskov, OSDI '99) replicating a key-value store, built to be checked against
``specs/pbft.py``.

* :mod:`impl.pbft.auth` — HMAC authenticators per pair of principals (section 4.1 / 5.1);
* :mod:`impl.pbft.core` — the sans-IO replica (inputs, recovery, the normal case), with
  :mod:`impl.pbft.checkpoints` (checkpoints, garbage collection, state transfer) and
  :mod:`impl.pbft.viewchange` (view changes) as mixins and :mod:`impl.pbft.protocol`
  (constants, message helpers);
* :mod:`impl.pbft.byzantine` — pluggable Byzantine behaviours for up to f replicas;
* :mod:`impl.pbft.sim` — the deterministic simulator with clients waiting for f+1 replies;
* :mod:`impl.pbft.server` and :mod:`impl.pbft.client` — one replica on asyncio TCP and a client.

``protospec conform pbft`` checks the correct replicas' event logs against the spec and the
clients' histories for linearizability (docs/specs/pbft.md).
"""
