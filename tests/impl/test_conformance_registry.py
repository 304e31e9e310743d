"""The conformance registry: implementations register explicitly, and each satisfies the
declared interface (explorer/conformance.py)."""

from __future__ import annotations

import pytest
from protospec.explorer.conformance import Conformance, lookup, register, registered
from protospec.explorer.errors import SpecError, UsageError


def test_every_registered_implementation_satisfies_the_interface():
    targets = registered()
    assert targets, "no implementation registered"
    for t in targets:
        assert isinstance(t, Conformance), t.name
        assert lookup(t.name) is t
        assert t.cluster_size(3) >= 3
        assert len(set(t.bugs())) == len(t.bugs())


def test_an_object_lacking_part_of_the_interface_is_refused_naming_what_it_lacks():
    class Half:
        name = "half"

        def bugs(self):
            return ()

    with pytest.raises(SpecError, match="lacks spec_cls, summary, fault_families"):
        register(Half())


def test_an_unknown_name_is_a_usage_error_listing_the_known_ones():
    with pytest.raises(UsageError,
                       match=r"no implementation registered for .nope. \(known: .*raft"):
        lookup("nope")
