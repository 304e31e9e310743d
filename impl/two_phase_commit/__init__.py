"""Two-phase commit, built to be checked against ``specs/two_phase_commit.py``.

* :mod:`impl.two_phase_commit.core` — the sans-IO coordinator (TM) and participants (RMs);
* :mod:`impl.two_phase_commit.sim` — runs in the deterministic simulator, with clients;
* :mod:`impl.two_phase_commit.server` and :mod:`impl.two_phase_commit.client` — one process
  on asyncio TCP (:mod:`impl.runtime.tcp`) and a client that runs transactions.

``protospec conform two_phase_commit`` checks the event logs against the spec
(docs/conformance.md).
"""
