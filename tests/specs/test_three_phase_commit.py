"""three_phase_commit: Skeen's three-phase commit and termination protocol (SIGMOD 1981) keep
atomicity through a TM crash; a network partition breaks it.

Counts and lengths were measured with explorer.check (docs/specs/three_phase_commit.md).
"""

from __future__ import annotations

import pytest
from protospec.explorer import check
from protospec.explorer.cli.main import main
from protospec.specs.three_phase_commit import (
    ABORT,
    PRECOMMIT,
    Message,
    MType,
    RMState,
    State,
    ThreePhaseCommit,
    TMState,
)

from tests.explorer.test_liveness_specs import assert_fair_lasso
from tests.specs.catalogue_checks import (
    assert_cli_names_broken_property,
    assert_default_exhausts,
    assert_documented,
    assert_variant_caught,
    run,
    start,
)

W, U, P, C, A = (RMState.WORKING, RMState.UNCERTAIN, RMState.PRECOMMITTED, RMState.COMMITTED,
                 RMState.ABORTED)
ALL = frozenset({0, 1, 2})
VARIANTS = [("network_partition", 14), ("no_precommit_phase", 11), ("uncertain_commits", 8)]
LIVENESS_VARIANTS = [("no_termination_protocol", 4)]


def crashed(*rm_state: RMState, msgs: frozenset = frozenset()) -> State:
    """Three RMs in the given states, the TM crashed, the network whole."""
    return State(rm_state=rm_state, tm_state=TMState.CRASHED, tm_prepared=frozenset(),
                 tm_acked=frozenset(), groups=(ALL,), msgs=msgs)


def decision(s: State) -> MType:
    (m,) = [m for m in s.msgs if m.mtype >= MType.TERM_COMMIT]
    return m.mtype


@pytest.mark.parametrize(("rms", "distinct", "depth"), [(3, 678, 19), (4, 3042, 24)])
def test_the_protocol_exhausts_with_no_violation(rms: int, distinct: int, depth: int) -> None:
    assert_default_exhausts(ThreePhaseCommit, distinct, depth, {"rms": rms})


@pytest.mark.parametrize(("variant", "length"), VARIANTS)
def test_each_variant_breaks_atomicity_with_a_shortest_replayable_trace(variant: str,
                                                                        length: int) -> None:
    assert_variant_caught(ThreePhaseCommit, variant, length)


@pytest.mark.parametrize(("variant", "length"), VARIANTS)
def test_the_command_line_exits_1_naming_atomicity(variant: str, length: int, capsys) -> None:
    assert_cli_names_broken_property(ThreePhaseCommit, variant, length, capsys)


def test_every_rm_decides_even_if_the_tm_crashes() -> None:
    # Skeen's point: with the termination protocol, a TM crash blocks no one (under fairness).
    result = check(ThreePhaseCommit())
    assert result.ok and result.stats.liveness_unchecked is None
    assert {"every_rm_decides", "can_commit"} <= set(result.properties_checked)


def test_without_the_termination_protocol_rms_block_with_a_fair_lasso() -> None:
    spec = ThreePhaseCommit.with_variant("no_termination_protocol")()
    (v,) = check(spec).violations
    assert v.property == "every_rm_decides" and v.kind == "liveness"
    assert (len(v.trace), v.trace.loop) == (4, 4)  # TM crash, three votes, then nothing
    assert_fair_lasso(spec, v.trace, dict(dict(spec.liveness_fns)["every_rm_decides"]
                                          .instances())[v.instance])
    assert all(r is U for r in v.trace.steps[-1].state.rm_state)


def test_the_command_line_exits_1_naming_every_rm_decides(capsys) -> None:
    assert main(["check", "three_phase_commit", "--variant", "no_termination_protocol"]) == 1
    out = capsys.readouterr().out
    assert "every_rm_decides" in out and "stays unchanged forever" in out


def test_the_partition_commits_on_one_side_and_aborts_on_the_other() -> None:
    (v,) = check(ThreePhaseCommit.with_variant("network_partition")()).violations
    last = v.trace.steps[-1].state
    assert len(last.groups) == 2
    assert {last.rm_state[min(g)] for g in last.groups} == {C, A}


def test_the_tm_commits_only_after_every_rm_acknowledged_precommit() -> None:
    # Skeen, section 4: Commit is sent only once every site is in the committable state p.
    spec = ThreePhaseCommit()
    s = start(spec)
    for rm in range(3):
        s = run(spec, s, ("rm_prepare", {"rm": rm}), ("tm_rcv_prepared", {"rm": rm}))
    s = run(spec, s, ("tm_precommit", {}), ("rm_rcv_precommit", {"rm": 0}),
            ("rm_rcv_precommit", {"rm": 1}), ("tm_rcv_ack", {"rm": 0}), ("tm_rcv_ack", {"rm": 1}))
    assert spec.step(s, "tm_commit") is None
    s = run(spec, s, ("rm_rcv_precommit", {"rm": 2}), ("tm_rcv_ack", {"rm": 2}), ("tm_commit", {}))
    assert s.tm_state is TMState.COMMITTED


@pytest.mark.parametrize(("states", "outcome"), [
    ((C, P, U), MType.TERM_COMMIT),  # some RM committed
    ((A, U, U), MType.TERM_ABORT),  # some RM aborted
    ((W, U, U), MType.TERM_ABORT),  # some RM has not voted: it may still abort alone
    ((P, U, U), MType.TERM_COMMIT),  # some RM is committable
    ((U, U, U), MType.TERM_ABORT),  # all uncertain: the TM cannot have committed
])
def test_the_backup_decides_by_skeens_termination_rules(states: tuple, outcome: MType) -> None:
    s = ThreePhaseCommit().step(crashed(*states), "terminate", group=ALL)
    assert decision(s) is outcome


def test_termination_waits_for_the_tm_to_fail_and_decides_once() -> None:
    spec = ThreePhaseCommit()
    alive = crashed(U, U, U)._replace(tm_state=TMState.INIT)
    assert spec.step(alive, "terminate", group=ALL) is None
    s = spec.step(crashed(U, U, U), "terminate", group=ALL)
    assert spec.step(s, "terminate", group=ALL) is None


def test_a_late_precommit_after_a_backup_abort_does_not_lead_to_commit() -> None:
    # The TM's PreCommit outlives it; the backup has aborted; the RM adopts the abort.
    spec = ThreePhaseCommit()
    s = spec.step(crashed(U, U, U, msgs=frozenset({PRECOMMIT})), "terminate", group=ALL)
    s = run(spec, s, ("rm_rcv_precommit", {"rm": 0}))
    term = Message(MType.TERM_ABORT, group=ALL)
    s = run(spec, s, ("rm_rcv_decision", {"rm": 0, "m": term}))
    assert s.rm_state[0] is A and spec.check_state(s) == []


def test_atomicity_fails_on_a_committed_and_an_aborted_rm() -> None:
    assert ThreePhaseCommit().check_state(crashed(C, A, P)) == ["atomicity"]


def test_commit_needs_votes_fails_on_a_commit_beside_an_rm_that_never_voted() -> None:
    assert ThreePhaseCommit().check_state(crashed(C, W, P, msgs=frozenset({ABORT}))) == [
        "commit_needs_votes"]


def test_the_spec_is_documented() -> None:
    assert_documented(ThreePhaseCommit)
