"""causal_broadcast: CBCAST's delivery rule keeps chat replies after their questions
(Birman, Schiper & Stephenson, ACM TOCS 1991, section 4).

Counts and lengths were measured with explorer.check (docs/specs/causal_broadcast.md).
"""

from __future__ import annotations

from protospec.explorer import check
from protospec.explorer.cli.main import main
from protospec.specs.causal_broadcast import CausalBroadcast, Message, MsgId, State

from tests.explorer.test_liveness_specs import assert_fair_lasso
from tests.specs.catalogue_checks import (
    assert_cli_names_broken_property,
    assert_default_exhausts,
    assert_documented,
    assert_variant_caught,
    run,
    start,
)


def test_the_default_group_exhausts_with_no_violation() -> None:
    assert_default_exhausts(CausalBroadcast, 564, 9)


def test_two_lines_per_process_between_two_processes_exhaust_with_no_violation() -> None:
    assert_default_exhausts(CausalBroadcast, 134, 8, {"processes": 2, "broadcasts": 2})


def test_fifo_only_delivers_a_reply_before_its_question() -> None:
    assert_variant_caught(CausalBroadcast, "fifo_only", 4)


def test_the_command_line_exits_1_naming_causal_delivery(capsys) -> None:
    assert_cli_names_broken_property(CausalBroadcast, "fifo_only", 4, capsys)


def test_every_line_is_eventually_delivered_everywhere() -> None:
    result = check(CausalBroadcast())
    assert result.ok and result.stats.liveness_unchecked is None
    assert "every_line_delivered" in result.properties_checked


def test_exact_match_is_safe_but_leaves_concurrent_lines_undelivered_forever() -> None:
    spec = CausalBroadcast.with_variant("exact_match")()
    (v,) = check(spec).violations
    assert (v.property, v.kind) == ("every_line_delivered", "liveness")
    assert (len(v.trace), v.trace.loop) == (3, 3)
    formula = dict(spec.liveness_fns)["every_line_delivered"]
    assert_fair_lasso(spec, v.trace, dict(formula.instances())[v.instance])


def test_the_command_line_exits_1_naming_every_line_delivered(capsys) -> None:
    assert main(["check", "causal_broadcast", "--variant", "exact_match"]) == 1
    assert "every_line_delivered" in capsys.readouterr().out


def test_with_two_processes_fifo_order_is_causal_order() -> None:
    # The only other sender is oneself: the third process is what FIFO order misses.
    spec = CausalBroadcast.with_variant("fifo_only")(processes=2, broadcasts=2)
    result = check(spec)
    assert result.ok and result.stats.complete


def test_a_reply_waits_for_its_question_at_a_third_process() -> None:
    # Section 4: m from j is delayed until VT(m)[k] <= VT(i)[k] for every k != j.
    spec = CausalBroadcast()
    question = Message(0, (1, 0, 0), 2)
    reply = Message(1, (1, 1, 0), 2)
    s = run(spec, start(spec), ("cbcast", {"p": 0}),
            ("deliver", {"m": Message(0, (1, 0, 0), 1)}), ("cbcast", {"p": 1}))
    assert reply in s.network and question in s.network
    assert spec.step(s, "deliver", m=reply) is None
    s = run(spec, s, ("deliver", {"m": question}), ("deliver", {"m": reply}))
    assert s.delivered[2] == (MsgId(0, 1), MsgId(1, 1))
    assert s.vt[2] == (1, 1, 0)


def test_a_broadcast_records_its_transitive_causal_past() -> None:
    # Under fifo_only, process 2 can reply to R having seen only R; its line still follows Q,
    # which R answered: the recorded past is closed under happened-before.
    spec = CausalBroadcast.with_variant("fifo_only")()
    s = run(spec, start(spec), ("cbcast", {"p": 0}),
            ("deliver", {"m": Message(0, (1, 0, 0), 1)}), ("cbcast", {"p": 1}),
            ("deliver", {"m": Message(1, (1, 1, 0), 2)}), ("cbcast", {"p": 2}))
    assert s.delivered[2] == (MsgId(1, 1), MsgId(2, 1))
    assert s.past[2][0] == {MsgId(0, 1), MsgId(1, 1)}


def test_causal_delivery_fails_on_a_reply_delivered_before_its_question() -> None:
    q, r = MsgId(0, 1), MsgId(1, 1)
    s = State(vt=((1, 0, 0), (1, 1, 0), (1, 1, 0)), delivered=((q,), (q, r), (r, q)),
              past=((frozenset(),), (frozenset({q}),), ()), network=frozenset())
    assert CausalBroadcast().check_state(s) == ["causal_delivery"]


def test_vt_counts_deliveries_fails_on_a_vector_ahead_of_the_deliveries() -> None:
    q = MsgId(0, 1)
    s = State(vt=((1, 0, 0), (1, 0, 0), (1, 0, 0)), delivered=((q,), (q,), ()),
              past=((frozenset(),), (), ()), network=frozenset())
    assert CausalBroadcast().check_state(s) == ["vt_counts_deliveries"]


def test_the_spec_is_documented() -> None:
    assert_documented(CausalBroadcast)
