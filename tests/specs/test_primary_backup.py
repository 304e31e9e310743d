"""primary_backup: the view service's rules, and that an acknowledged write survives failover.

Reference: MIT 6.824 Lab 2 (Primary/Backup Key/Value Service), its view service rules, and
Budhiraja et al., "The Primary-Backup Approach" (1993).
"""

from __future__ import annotations

from protospec.explorer import check
from protospec.specs.primary_backup import NO_SERVER, Msg, MsgType, PrimaryBackup, View


def spec(**params) -> PrimaryBackup:
    return PrimaryBackup(**params)


def initial(sp: PrimaryBackup):
    (s,) = sp.init()
    return s


def test_acked_writes_survive_fails_when_the_primary_lacks_an_acked_write():
    sp = spec()
    bad = initial(sp)._replace(acked_writes=frozenset({0}))
    assert sp.check_state(bad) == ["acked_writes_survive"]


def test_view_changes_only_after_ack_fails_on_a_move_from_an_unacknowledged_view():
    sp = spec()
    s = initial(sp)._replace(acked=False)
    t = s._replace(view=View(2, 1, NO_SERVER))
    assert sp.check_step(s, t) == ["view_changes_only_after_ack"]


def test_view_changes_only_after_ack_fails_on_skipping_a_view_number():
    sp = spec()
    s = initial(sp)
    t = s._replace(view=View(3, 0, 2))
    assert sp.check_step(s, t) == ["view_changes_only_after_ack"]


def test_only_backup_promoted_fails_when_an_idle_server_becomes_primary():
    sp = spec()
    s = initial(sp)
    t = s._replace(view=View(2, 2, NO_SERVER), acked=False)
    assert sp.check_step(s, t) == ["only_backup_promoted"]


def test_the_primary_replies_only_after_the_backup_applied_the_write():
    sp = spec()
    s = sp.step(initial(sp), "primary_write", srv=0, w=0)
    assert s.acked_writes == frozenset()
    (fwd,) = s.msgs
    s = sp.step(s, "backup_apply_forward", m=fwd)
    assert 0 in s.data[1]
    (reply,) = s.msgs
    s = sp.step(s, "primary_receive_forward_reply", m=reply)
    assert s.acked_writes == frozenset({0})


def test_the_view_service_promotes_the_backup_when_the_primary_is_declared_dead():
    sp = spec()
    s = sp.step(initial(sp), "crash", srv=0)
    s = sp.step(s, "vs_declare_dead", srv=0)
    assert s.view == View(2, 1, NO_SERVER)
    assert not s.acked


def test_the_view_service_waits_for_the_primary_to_acknowledge_the_view():
    sp = spec()
    s = sp.step(initial(sp), "vs_declare_dead", srv=1)  # view 2 = (0, none), unacknowledged
    assert sp.step(s, "vs_add_backup", srv=2) is None
    s = sp.step(s, "ping", srv=0)
    assert s.acked
    assert sp.step(s, "vs_add_backup", srv=2).view == View(3, 0, 2)


def test_a_new_primary_acknowledges_its_view_only_after_the_state_transfer():
    sp = spec()
    s = sp.step(initial(sp), "vs_declare_dead", srv=1)
    s = sp.step(sp.step(s, "ping", srv=0), "vs_add_backup", srv=2)
    s = sp.step(s, "ping", srv=0)  # learns view 3 and sends the transfer, does not ack
    assert not s.acked
    (transfer,) = s.msgs
    assert transfer.type is MsgType.TRANSFER
    s = sp.step(s, "ping", srv=2)
    s = sp.step(s, "backup_install_transfer", m=transfer)
    (reply,) = s.msgs
    s = sp.step(sp.step(s, "primary_receive_transfer_reply", m=reply), "ping", srv=0)
    assert s.acked


def test_a_stale_primary_cannot_get_a_write_acknowledged_by_the_new_primary():
    """Split brain is harmless: the old backup has moved to the new view and refuses."""
    sp = spec()
    s = sp.step(initial(sp), "vs_declare_dead", srv=0)  # server 0 is alive but suspected
    s = sp.step(s, "ping", srv=1)  # server 1 is primary of view 2
    s = sp.step(s, "primary_write", srv=0, w=0)  # server 0 still believes view 1
    fwd = Msg(MsgType.FORWARD, 1, 0, 1, 0, frozenset())
    assert fwd in s.msgs
    assert sp.step(s, "backup_apply_forward", m=fwd) is None


def test_without_false_suspicion_only_crashed_servers_are_declared_dead():
    sp = spec(false_suspicion=False)
    assert sp.step(initial(sp), "vs_declare_dead", srv=0) is None
    result = check(sp)
    assert result.ok
    assert result.stats.distinct_states == 2102
