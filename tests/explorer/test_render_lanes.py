"""Message sequence charts, the model: who takes each step (lanes), which message goes where
(sends paired with receipts, losses, messages left in flight), and the spec's hints."""

from __future__ import annotations

from typing import NamedTuple

import pytest
from protospec.explorer import Spec, Step, Trace, action, check
from protospec.explorer.chart_hints import (
    attach_chart_hints,
    chart_hints,
    messages_of,
    remove_message,
)
from protospec.explorer.itf import read_trace, write_trace
from protospec.explorer.render.changes import describe_changes
from protospec.explorer.render.lanes import infer_chart, lane_of_step
from protospec.specs.two_phase_commit import Decision, Prepared, TwoPhaseCommit

# -- toy messages and states ----------------------------------------------------------------


class Req(NamedTuple):
    src: int
    dst: int
    n: int


class Net(NamedTuple):
    count: tuple[int, ...]  # one entry per node
    net: frozenset[Req]


def trace_of(*steps: tuple[str | None, dict, object]) -> Trace:
    return Trace([Step(a, args, s) for a, args, s in steps], spec="toy")


def counterexample(variant: str) -> Trace:
    result = check(TwoPhaseCommit.with_variant(variant)())
    return result.violations[0].trace


# -- lanes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "args", "lane"), [
    ("tm_commit", {}, "TM"),  # a role named by the action, no argument
    ("rm_prepare", {"rm": 1}, "RM 1"),  # the role's own process argument
    ("tm_rcv_prepared", {"rm": 2}, "TM"),  # the TM acts; rm only says from whom
    ("phase1b", {"a": 2, "b": 0}, "acceptor 2"),
    ("phase1a", {"b": 0}, "environment"),  # a ballot is not a process
    ("drop_message", {"m": Req(0, 1, 5)}, "network"),
    ("handle_request", {"m": Req(0, 1, 5)}, "node 1"),  # a handler runs at m's destination
    ("tick", {"w": 3}, "w 3"),  # last resort: a small number is probably a process
])
def test_lane_of_a_step_is_inferred_from_its_action_and_arguments(action, args, lane) -> None:
    assert lane_of_step(action, args) == lane


def test_message_destination_takes_the_kind_of_process_the_steps_name() -> None:
    assert lane_of_step("handle_request", {"m": Req(0, 1, 5)}, {"node": "replica"}) == \
        "replica 1"


def test_two_phase_commit_chart_has_a_lane_for_the_tm_and_every_rm_without_hints() -> None:
    trace = counterexample("tm_commits_early")
    assert trace.chart is None
    chart = infer_chart(trace)
    # RM 2 never acts in this trace; rm_state's length says it exists.
    assert chart.lanes == ["TM", "RM 0", "RM 1", "RM 2"]
    assert [(e.step, e.lane) for e in chart.events] == [(1, "TM"), (2, "RM 0"), (3, "RM 1")]


def test_each_step_notes_the_part_of_the_state_it_changed() -> None:
    chart = infer_chart(counterexample("tm_commits_early"))
    notes = {e.step: [c.text() for c in e.changes] for e in chart.events}
    assert notes[2] == ["rm_state[0]: working → aborted"]
    assert notes[1] == ["tm_state: init → done"]  # msgs is drawn as an arrow, not a note


def test_lanes_show_each_process_part_of_the_initial_and_final_state() -> None:
    chart = infer_chart(counterexample("tm_commits_early"))
    assert chart.headers["RM 0"] == ["rm_state: working"]
    assert chart.headers["TM"] == ["tm_state: init", "tm_prepared: {}"]
    assert chart.footers["RM 1"] == ["rm_state: committed"]


# -- message pairing ------------------------------------------------------------------------


def test_each_prepared_goes_from_its_rm_to_the_tm_step_that_receives_it() -> None:
    trace = counterexample("rm_aborts_after_prepare")
    chart = infer_chart(trace)
    labels = {i: st.label for i, st in enumerate(trace.steps)}
    for rm in range(3):
        flow = next(f for f in chart.flows if f.message == Prepared(rm))
        assert flow.sent_lane == f"RM {rm}"
        assert labels[flow.sent_step] == f"rm_prepare(rm={rm})"
        assert [(labels[s], lane) for s, lane in flow.receipts] == \
            [(f"tm_rcv_prepared(rm={rm})", "TM")]


def test_the_commit_goes_from_the_tm_to_the_rm_that_receives_it() -> None:
    trace = counterexample("tm_commits_early")
    chart = infer_chart(trace)
    [commit] = [f for f in chart.flows if f.message == Decision.COMMIT]
    assert (commit.sent_step, commit.sent_lane) == (1, "TM")
    assert commit.receipts == [(3, "RM 1")]
    assert commit.label == "commit"


def toy_network_trace() -> Trace:
    a, b, c = Req(0, 1, 1), Req(0, 2, 2), Req(0, 2, 3)
    s0 = Net((0, 0, 0), frozenset())
    s1 = Net((1, 0, 0), frozenset({a}))
    s2 = Net((2, 0, 0), frozenset({a, b}))
    s3 = Net((2, 1, 0), frozenset({b}))
    s4 = Net((2, 1, 0), frozenset())
    s5 = Net((3, 1, 0), frozenset({c}))
    return trace_of((None, {}, s0), ("send", {"i": 0}, s1), ("send", {"i": 0}, s2),
                    ("handle_req", {"m": a}, s3), ("drop_message", {"m": b}, s4),
                    ("send", {"i": 0}, s5))


def test_a_removed_message_is_received_by_the_step_that_removed_it() -> None:
    chart = infer_chart(toy_network_trace())
    flow = next(f for f in chart.flows if f.message.n == 1)
    assert (flow.sent_step, flow.sent_lane) == (1, "node 0")
    assert flow.receipts == [(3, "node 1")]
    assert not flow.in_flight


def test_a_message_the_network_drops_is_lost_not_received() -> None:
    chart = infer_chart(toy_network_trace())
    flow = next(f for f in chart.flows if f.message.n == 2)
    assert flow.receipts == []
    assert flow.lost == (4, "network")


def test_a_message_nobody_received_is_in_flight_towards_its_destination() -> None:
    chart = infer_chart(toy_network_trace())
    flow = next(f for f in chart.flows if f.message.n == 3)
    assert flow.in_flight
    assert flow.dest == "node 2"
    assert "node 2" in chart.lanes  # a lane for it even though node 2 never acts


def test_a_message_a_process_drops_itself_counts_as_received() -> None:
    stale = Req(1, 0, 7)
    s0 = Net((0, 0), frozenset({stale}))
    s1 = Net((0, 0), frozenset())
    chart = infer_chart(trace_of((None, {}, s0), ("drop_stale_response", {"m": stale}, s1)))
    # drop_stale_response has a message argument: it runs at node 0, which ignores it.
    [flow] = chart.flows
    assert flow.lost is None
    assert flow.receipts == [(1, "node 0")]


def test_one_mailbox_per_process_gives_each_message_its_receiver() -> None:
    class Boxes(NamedTuple):
        inbox: tuple[frozenset, ...]

    s0 = Boxes((frozenset(), frozenset()))
    s1 = Boxes((frozenset(), frozenset({"ping"})))
    chart = infer_chart(trace_of((None, {}, s0), ("send", {"i": 0}, s1)))
    [flow] = chart.flows
    assert flow.in_flight and flow.dest == "node 1"


def test_messages_of_reads_sets_bags_counted_sets_and_maps_alike() -> None:
    m = Req(0, 1, 1)
    assert messages_of(frozenset({m}))[(m, None)] == 1
    assert messages_of((m, m))[(m, None)] == 2
    assert messages_of(frozenset({(m, 3)}))[(m, None)] == 3
    assert messages_of({m: 2})[(m, None)] == 2
    assert remove_message((m, m), m) == (m,)
    assert remove_message(frozenset({(m, 3)}), m) == frozenset({(m, 2)})


# -- hints from the spec ------------------------------------------------------------------------


class Hello(NamedTuple):
    n: int


class Gossip(NamedTuple):
    known: tuple[bool, ...]
    msgs: frozenset[Hello]  # every message ever sent, as in TwoPhase.tla


class Announce(Spec):
    """A toy: the environment announces; each node learns by reading the announcement."""

    name = "announce"
    Node = range(2)

    def init(self):
        yield Gossip((False, False), frozenset())

    @action
    def announce(self, s: Gossip) -> Gossip | None:
        return None if s.msgs else Gossip(s.known, frozenset({Hello(1)}))

    @action(i="Node")
    def learn(self, s: Gossip, i: int) -> Gossip | None:
        if Hello(1) not in s.msgs or s.known[i]:
            return None
        return Gossip(tuple(True if k == i else v for k, v in enumerate(s.known)), s.msgs)


def announce_trace(spec: Spec) -> Trace:
    s0 = next(iter(spec.init()))
    s1 = spec.step(s0, "announce")
    s2 = spec.step(s1, "learn", i=0)
    return Trace([Step(None, {}, s0), Step("announce", {}, s1), Step("learn", {"i": 0}, s2)],
                 spec="announce")


def test_without_hints_a_message_read_but_kept_is_not_seen_as_received() -> None:
    # "learn" does not say it receives Hello, and Hello stays in msgs: the trace cannot tell.
    [flow] = infer_chart(announce_trace(Announce())).flows
    assert flow.in_flight


def test_hints_find_the_steps_that_read_a_message_by_replaying_without_it() -> None:
    spec = Announce()
    trace = announce_trace(spec)
    attach_chart_hints(spec, [trace])
    assert trace.chart["steps"][2]["received"] == [Hello(1)]
    [flow] = infer_chart(trace).flows
    assert (flow.sent_step, flow.sent_lane) == (1, "environment")
    assert flow.receipts == [(2, "node 0")]


class HookedAnnounce(Announce):
    """The same toy with every chart hook."""

    def chart_processes(self) -> list[str]:
        return ["herald", "learner 0", "learner 1"]

    def chart_lane(self, action: str, args: dict) -> str | None:
        return "herald" if action == "announce" else f"learner {args['i']}"

    def chart_message_label(self, msg: Hello) -> str:
        return f"hello #{msg.n}"

    def chart_message_to(self, msg: Hello) -> str | None:
        return "learner 1"


def test_spec_hooks_name_the_lanes_and_label_the_messages() -> None:
    spec = HookedAnnounce()
    trace = announce_trace(spec)
    attach_chart_hints(spec, [trace])
    chart = infer_chart(trace)
    assert chart.lanes == ["herald", "learner 0", "learner 1"]
    [flow] = chart.flows
    assert (flow.label, flow.short) == ("hello #1", "hello #1")
    assert flow.receipts == [(2, "learner 0")]
    assert flow.dest == "learner 1"


def test_a_saved_trace_keeps_the_hints_and_draws_the_same_chart(tmp_path) -> None:
    spec = HookedAnnounce()
    trace = announce_trace(spec)
    attach_chart_hints(spec, [trace])
    path = tmp_path / "trace.json"
    write_trace(trace, path)
    loaded, _meta = read_trace(path)
    before, after = infer_chart(trace), infer_chart(loaded)
    assert after.lanes == before.lanes
    assert [(f.label, f.sent_step, f.sent_lane, f.receipts, f.dest) for f in after.flows] == \
        [(f.label, f.sent_step, f.sent_lane, f.receipts, f.dest) for f in before.flows]


def test_chart_messages_hook_replaces_the_message_variables() -> None:
    class Hidden(Announce):
        def chart_messages(self, s: Gossip) -> list:
            return [("beacon", i) for i, k in enumerate(s.known) if k]

    spec = Hidden()
    hints = chart_hints(spec, announce_trace(spec))
    assert hints["steps"][2]["sent"] == [("beacon", 0)]


# -- change notes ---------------------------------------------------------------------------


def test_changes_are_described_at_the_smallest_part_that_changed() -> None:
    class S(NamedTuple):
        roles: tuple[str, ...]
        voters: frozenset[int]
        leader: Req
        big: tuple[int, ...]

    before = S(("f", "f", "f"), frozenset({1, 2}), Req(0, 1, 1), (0, 0, 0, 0))
    after = S(("f", "c", "f"), frozenset({2, 3}), Req(0, 1, 2), (1, 1, 1, 1))
    texts = [c.text() for c in describe_changes(before, after)]
    assert texts == ["roles[1]: 'f' → 'c'", "voters: +{3} −{1}", "leader.n: 1 → 2",
                     "big: (0, 0, 0, 0) → (1, 1, 1, 1)"]


def test_a_message_bag_is_described_by_the_messages_that_came_and_went() -> None:
    class S(NamedTuple):
        messages: tuple[Req, ...]  # a bag kept as a sorted tuple, as raft.py does

    a, b, c = Req(0, 1, 1), Req(0, 1, 2), Req(0, 1, 3)
    [change] = describe_changes(S((a, b)), S((a, c)), bags={"messages"})
    assert change.text() == "messages: +{Req(src=0, dst=1, n=3)} −{Req(src=0, dst=1, n=2)}"
