"""A key-value store replicated with Multi-Paxos, built to be checked against
``specs/multi_paxos.py``.

* :mod:`impl.paxos.core` — the sans-IO node (acceptor, leader, learner, replica);
* :mod:`impl.paxos.sim` — runs in the deterministic simulator, with clients;
* :mod:`impl.paxos.server` and :mod:`impl.paxos.client` — one node on asyncio TCP
  (:mod:`impl.runtime.tcp`) and a client.

``protospec conform multi_paxos`` checks the event logs against the spec and the clients'
histories for linearizability (docs/conformance.md).
"""
