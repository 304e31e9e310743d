"""cap: each mode keeps its guarantee, and gives up the other with a short counterexample.

Reference: Gilbert & Lynch, "Brewer's Conjecture and the Feasibility of Consistent, Available,
Partition-Tolerant Web Services" (2002), section 3, Theorem 1.
"""

from __future__ import annotations

import pytest

from protospec.explorer import UsageError, check
from protospec.explorer.cli.main import main
from protospec.specs.cap import CAP, A, B, LastOp, OpKind, Update, Version

ALL = ["linearizable", "available", "converges_after_heal"]


def initial(sp: CAP):
    (s,) = sp.init()
    return s


def all_properties(mode: str) -> CAP:
    sp = CAP(mode=mode)
    sp.restrict_properties(invariants=ALL, action_properties=[])
    return sp


def test_linearizable_fails_on_a_read_that_misses_the_latest_write():
    sp = all_properties("cp")
    bad = initial(sp)._replace(latest=1, last_op=LastOp(OpKind.READ, B, 0))
    assert sp.check_state(bad) == ["linearizable"]


def test_available_fails_on_a_refused_request():
    sp = all_properties("cp")
    bad = initial(sp)._replace(last_op=LastOp(OpKind.REFUSED, B, 0))
    assert sp.check_state(bad) == ["available"]


def test_converges_after_heal_fails_when_healed_and_quiet_sites_differ():
    sp = all_properties("ap")
    v1 = Version(1, A, 1)
    bad = initial(sp)._replace(copy=(v1, Version(0, A, 0)), latest=1,
                               last_op=LastOp(OpKind.WRITE, A, 1))
    assert sp.check_state(bad) == ["converges_after_heal"]
    assert sp.check_state(bad._replace(msgs=frozenset({Update(B, v1)}))) == []


@pytest.mark.parametrize(("mode", "claimed"), [
    ("cp", ["linearizable", "converges_after_heal"]),
    ("ap", ["available", "converges_after_heal"]),
])
def test_each_mode_is_checked_against_what_it_guarantees(mode, claimed):
    assert [n for n, _ in CAP(mode=mode).invariant_fns] == claimed


def test_cp_mode_refuses_at_the_minority_site_during_a_partition():
    sp = CAP(mode="cp")
    s = sp.step(initial(sp), "partition")
    assert sp.step(s, "write", site=B).last_op.kind is OpKind.REFUSED
    assert sp.step(s, "write", site=A).last_op == LastOp(OpKind.WRITE, A, 1)


def test_ap_mode_diverges_during_a_partition_and_converges_after_healing():
    sp = CAP(mode="ap")
    s = sp.step(initial(sp), "partition")
    s = sp.step(sp.step(s, "write", site=A), "write", site=B)
    assert s.copy[A].value == 1 and s.copy[B].value == 2
    assert sp.step(s, "deliver", m=min(s.msgs)) is None  # nothing crosses a partition
    s = sp.step(s, "heal")
    for m in sorted(s.msgs):
        s = sp.step(s, "deliver", m=m)
    assert s.copy[A] == s.copy[B] == Version(1, B, 2)  # equal timestamps: site B wins the tie


def test_checking_the_other_property_shows_the_trade_off_from_the_command_line(capsys):
    assert main(["check", "cap", "-p", "mode=cp", "--inv", "available"]) == 1
    assert main(["check", "cap", "-p", "mode=ap", "--inv", "linearizable"]) == 1
    out = capsys.readouterr().out
    assert "available violated" in out and "linearizable violated" in out


def test_restricting_to_an_unknown_property_is_a_usage_error():
    with pytest.raises(UsageError, match="no invariant"):
        CAP().restrict_properties(invariants=["partition_tolerant"])


def test_without_a_partition_both_modes_are_consistent_and_available():
    for mode in ("cp", "ap"):
        sp = all_properties(mode)
        sp.constraint = lambda s: s.connected
        assert check(sp).ok
