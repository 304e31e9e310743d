"""The built-in specs, one module per protocol (``protospec list`` shows them).

``IMPLEMENTATIONS`` names the modules that register an implementation's conformance object
(:func:`explorer.conformance.register`); ``protospec conform`` and ``protospec cluster`` import
exactly these, and know no protocol otherwise.
"""

IMPLEMENTATIONS = ("raft_refinement", "two_phase_commit_refinement", "multi_paxos_refinement")
