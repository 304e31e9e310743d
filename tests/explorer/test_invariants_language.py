"""The invariant language: what expressions mean, and how every kind of mistake is reported.

Semantics are checked on hand-built states of two_phase_commit and of a small spec made here
(with an unannotated field, a parameter clashing with a variable, a role enum and records).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, NamedTuple

import pytest
from protospec.explorer import Param, Spec, SpecError, UsageError, action, check
from protospec.explorer.invariants import (
    EvaluationError,
    ExpressionError,
    compile_expression,
    explain,
)
from protospec.specs.two_phase_commit import (
    Decision,
    Prepared,
    RMState,
    State,
    TMState,
    TwoPhaseCommit,
)

W, P, C, A = RMState.WORKING, RMState.PREPARED, RMState.COMMITTED, RMState.ABORTED


class Role(IntEnum):
    FOLLOWER = 0
    LEADER = 1


class Ping(NamedTuple):
    src: int
    dst: int


class Pong(NamedTuple):
    src: int
    ok: bool


class Toy(NamedTuple):
    role: tuple[Role, ...]  # per node
    term: tuple[int, ...]  # per node
    net: frozenset[Ping | Pong]  # messages
    blob: Any  # no usable annotation: typed at run time
    size: int  # also a parameter name: ambiguous on purpose


class ToySpec(Spec):
    """A toy with two nodes that take turns leading."""

    name = "toy"
    nodes = Param(2, "number of nodes", min=1)
    size = Param(5, "clashes with the state variable 'size'")

    def setup(self) -> None:
        self.Node = range(self.nodes)

    def init(self):
        yield Toy((Role.FOLLOWER,) * self.nodes, (0,) * self.nodes, frozenset(), "x", 0)

    @action(i="Node")
    def lead(self, s: Toy, i: int) -> Toy | None:
        if s.term[i] >= 2:
            return None
        role = tuple(Role.LEADER if k == i else Role.FOLLOWER for k in self.Node)
        term = s.term[:i] + (s.term[i] + 1,) + s.term[i + 1:]
        return Toy(role, term, s.net | {Ping(i, 1 - i)}, "leader", s.size)


@pytest.fixture(scope="module")
def tpc() -> TwoPhaseCommit:
    return TwoPhaseCommit(rms=3)


@pytest.fixture(scope="module")
def toy() -> ToySpec:
    return ToySpec()


def tpc_state(rm=(W, W, W), tm=TMState.INIT, prepared=(), msgs=()) -> State:
    return State(tuple(rm), tm, frozenset(prepared), frozenset(msgs))


def holds(spec: Spec, text: str, s: Any, t: Any = None) -> bool:
    kind = "invariant" if t is None else "action_property"
    fn = compile_expression(spec, text, kind=kind).fn
    return fn(s) if t is None else fn(s, t)


def error_of(spec: Spec, text: str, kind: str = "invariant") -> str:
    with pytest.raises(ExpressionError) as info:
        compile_expression(spec, text, kind=kind, name="p")
    assert isinstance(info.value, UsageError)  # the CLI exits 2 for it
    return str(info.value)


# -- meaning ----------------------------------------------------------------------------------


def test_a_string_equals_the_enum_value_of_its_lower_case_name(tpc) -> None:
    s = tpc_state(rm=(C, W, W))
    assert holds(tpc, 'rm_state[0] == "committed"', s)
    assert not holds(tpc, 'rm_state[1] == "committed"', s)
    assert holds(tpc, '"committed" in rm_state and "aborted" not in rm_state', s)


def test_a_bare_name_of_an_enum_value_means_that_value(tpc) -> None:
    s = tpc_state(rm=(C, W, W), tm=TMState.DONE, msgs=[Decision.COMMIT])
    assert holds(tpc, "tm_state == done and commit in msgs and rm_state[0] == committed", s)
    assert holds(tpc, "TMState.done == tm_state", s)


def test_strings_in_a_tuple_or_set_literal_name_enum_values_too(tpc) -> None:
    s = tpc_state(rm=(P, W, W))
    assert holds(tpc, 'rm_state[0] in ("working", "prepared")', s)
    assert holds(tpc, 'rm_state[0] in {"working", "prepared"}', s)
    assert holds(tpc, 'rm_state == ("prepared", "working", "working")', s)


def test_string_literals_are_converted_once_at_compile_time(tpc) -> None:
    compiled = compile_expression(tpc, 'rm_state[0] in {"working", "prepared"}')
    assert "RMState.WORKING" in compiled.rendered and '"' not in compiled.rendered


def test_a_value_of_unknown_type_compares_with_strings_at_run_time(toy) -> None:
    s = next(iter(toy.init()))
    assert holds(toy, 'blob == "x"', s)
    assert holds(toy, "blob != 'leader'", s)


def test_the_documented_2pc_atomicity_matches_the_python_one_on_hand_built_states(tpc) -> None:
    text = 'not ("committed" in rm_state and "aborted" in rm_state)'
    for rm in [(W, W, W), (C, C, P), (A, A, W), (C, A, W), (A, P, C)]:
        s = tpc_state(rm=rm)
        assert holds(tpc, text, s) == tpc.atomicity(s)


def test_quantifiers_range_over_parameter_domains_and_state_collections(tpc) -> None:
    s = tpc_state(rm=(P, P, W), prepared=[0, 1], msgs=[Prepared(0), Prepared(1)])
    assert holds(tpc, "forall i in RM: i in tm_prepared => Prepared(i) in msgs", s)
    assert holds(tpc, "exists i in 0..rms - 1: rm_state[i] == working", s)
    assert holds(tpc, "forall m in msgs: type(m) == Prepared and m.rm in tm_prepared", s)
    assert holds(tpc, "forall i, j in RM: i != j => i + j > 0 or i == 0", s)
    assert not holds(tpc, "forall i in RM, m in msgs: m.rm != i", s)


def test_counting_summing_and_extremes(tpc) -> None:
    s = tpc_state(rm=(P, P, W), prepared=[0, 2])
    assert holds(tpc, "count(i in RM: rm_state[i] == prepared) == 2", s)
    assert holds(tpc, "sum(tm_prepared) == 2 and sum(i in RM: i * i) == 5", s)
    assert holds(tpc, "max(tm_prepared) == 2 and min(tm_prepared) == 0 and max(1, 7, 3) == 7", s)
    assert holds(tpc, "max(i in RM: 10 - i) == 10 and len(tm_prepared) == 2", s)


def test_let_if_sets_ranges_tuples_and_slices(tpc) -> None:
    s = tpc_state(rm=(P, C, W), prepared=[0, 1])
    assert holds(tpc, "let n = len(tm_prepared), m = n + 1 in m == 3", s)
    assert holds(tpc, "(if tm_state == init then 1 else 2) == 1", s)
    assert holds(tpc, "tm_prepared == 0..1 and tm_prepared <= 0..rms - 1 and 2 in 0..2", s)
    assert holds(tpc, "{i in RM: rm_state[i] != working} == tm_prepared", s)
    assert holds(tpc, "{i * 2 : i in tm_prepared} == {0, 2}", s)
    assert holds(tpc, "(tm_prepared | {2}) - {0} == {1, 2} and tm_prepared & {1} == {1}", s)
    assert holds(tpc, 'rm_state[:2] == ("prepared", "committed") and rm_state[2:] == (working,)',
                 s)
    assert holds(tpc, "rm_state[-1] == working and sorted({2, 1}) == (1, 2) and 7 // 2 == 3", s)
    assert holds(tpc, "(1, 2) != (2, 1) and () == () and (1,) == (1,) and 1..0 == {}", s)


def test_implication_is_right_associative_and_binds_loosest(tpc) -> None:
    s = tpc_state()
    # false => (false => false) is true; (false => false) => false would be false.
    assert holds(tpc, "1 == 2 => 1 == 2 => 1 == 2", s)
    assert holds(tpc, "true or false and false", s)  # and binds tighter than or
    assert not holds(tpc, "not true or false", s)


def test_parameters_constants_and_the_whole_state_are_names(tpc) -> None:
    s = tpc_state()
    assert holds(tpc, "rms == 3 and all_rms == {0, 1, 2} and params.rms == 3", s)
    assert holds(tpc, "state.tm_state == init and state == state", s)


def test_primes_read_the_next_state_of_a_step(tpc) -> None:
    s, t = tpc_state(rm=(P, W, W)), tpc_state(rm=(C, W, W))
    assert holds(tpc, "rm_state'[0] == committed and rm_state[0] == prepared", s, t)
    assert holds(tpc, "forall i in RM: rm_state'[i] >= rm_state[i]", s, t)
    assert holds(tpc, "unchanged(tm_state, msgs) and not unchanged(rm_state)", s, t)
    assert holds(tpc, "(rm_state[0])' == committed and state' != state", s, t)


def test_a_language_invariant_names_the_state_it_rejects() -> None:
    spec = TwoPhaseCommit(rms=3)
    spec.restrict_properties(invariants=[], action_properties=[])
    fn = compile_expression(spec, 'not ("committed" in rm_state and "aborted" in rm_state)').fn
    spec.add_property("split", "invariant", fn)
    assert spec.check_state(tpc_state(rm=(C, A, W))) == ["split"]
    assert spec.check_state(tpc_state(rm=(C, C, W))) == []


def test_a_language_action_property_names_the_step_it_rejects() -> None:
    spec = TwoPhaseCommit(rms=2)
    spec.restrict_properties(invariants=[], action_properties=[])
    text = "forall i in RM: rm_state[i] == committed => rm_state'[i] == committed"
    spec.add_property("stays", "action_property",
                      compile_expression(spec, text, kind="action_property").fn)
    assert spec.check_step(tpc_state(rm=(C, W)), tpc_state(rm=(A, W))) == ["stays"]
    assert spec.check_step(tpc_state(rm=(C, W)), tpc_state(rm=(C, A))) == []


def test_explain_shows_grouping_names_and_the_initial_verdict(tpc) -> None:
    text = explain(tpc, 'forall i in RM: rm_state[i] == "committed" => "commit" in msgs')
    assert ("Read as:    forall i in RM: (rm_state[i] == RMState.COMMITTED) => "
            "(Decision.COMMIT in msgs)") in text
    assert "rm_state     state variable, tuple[RMState, ...]" in text
    assert "RM           spec constant = 0..2" in text
    assert "Initial state: true" in text
    assert "action property" in explain(tpc, "unchanged(msgs)")


# -- syntax errors ----------------------------------------------------------------------------


def test_a_syntax_error_gives_line_column_and_a_caret(tpc) -> None:
    message = error_of(tpc, "len(msgs) <= 2 and\n  rm_state[0] == == working")
    assert "line 2, column 18: syntax error: unexpected '=='" in message
    assert message.endswith("  rm_state[0] == == working\n                   ^^")


def test_a_single_equals_sign_is_explained(tpc) -> None:
    assert "use == to compare" in error_of(tpc, "tm_state = done")


def test_an_unparenthesized_quantifier_inside_and_is_explained(tpc) -> None:
    message = error_of(tpc, "len(msgs) < 9 and forall m in msgs: true")
    assert "needs parentheses" in message and "column 19" in message


def test_chained_comparisons_are_refused(tpc) -> None:
    assert "comparisons do not chain" in error_of(tpc, "0 < rms < 9")


def test_an_expression_that_ends_too_early_says_so(tpc) -> None:
    assert "ends too early" in error_of(tpc, "forall i in RM:")


# -- name errors ------------------------------------------------------------------------------


def test_an_unknown_variable_suggests_the_closest_name(tpc) -> None:
    message = error_of(tpc, 'rm_stat[0] == "working"')
    assert "invariant 'p': line 1, column 1: unknown name 'rm_stat'" in message
    assert "did you mean 'rm_state'" in message
    assert message.endswith("  rm_stat[0] == \"working\"\n  ^^^^^^^")


def test_an_unknown_function_suggests_the_closest_one(tpc) -> None:
    message = error_of(tpc, "lenght(msgs) > 0")
    assert "unknown function 'lenght' (did you mean 'len'?)" in message


def test_an_unknown_enum_value_lists_the_enum_values(tpc) -> None:
    message = error_of(tpc, 'rm_state[0] == "comitted"')
    assert "RMState has no value 'comitted' (did you mean 'committed'?)" in message
    assert "its values: working, prepared, committed, aborted" in message


def test_an_unknown_field_lists_the_record_fields(tpc) -> None:
    assert "Prepared has no field 'r' (did you mean 'rm'?) (its fields: rm)" in error_of(
        tpc, "Prepared(0).r == 0")
    assert "none of Prepared | Decision has a field 'r' (did you mean 'rm'?)" in error_of(
        tpc, "forall m in msgs: type(m) == Prepared => m.r == 0")


def test_a_name_that_is_both_a_variable_and_a_parameter_must_be_qualified(toy) -> None:
    message = error_of(toy, "size < 3")
    assert "'size' is both a state variable and a parameter" in message
    assert "write state.size or params.size" in message
    assert holds(toy, "state.size < params.size", next(iter(toy.init())))


def test_a_bound_variable_may_not_hide_a_state_variable(tpc) -> None:
    assert "'msgs' is already a state variable" in error_of(tpc, "forall msgs in RM: true")


# -- type errors found before the run ---------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("len(tm_state) > 0", "len needs a tuple, set or string, but 'tm_state' is a value of the "
                          "enum TMState"),
    ("len(msgs) and true", "'and' needs true or false, but 'len(msgs)' is an int"),
    ('len(msgs) == "two"', "comparing an int with a string is always false"),
    ("tm_prepared[0] == 1", "'tm_prepared' is a set: its elements have no positions"),
    ("forall x in rms: x > 0", "'forall' needs a collection (a tuple, set or range), but 'rms'"),
    ("len(msgs) / 2 == 1", "use // for integer division"),
    ("tm_state == rm_state[0]", "comparing a value of TMState with a value of RMState"),
    ("rm_state[0] + 1", "an invariant needs true or false, but 'rm_state[0] + 1' is an int"),
    ("count(RM) == 3", "count needs a condition: count(x in S: p)"),
    ("Prepared(1, 2) in msgs", "Prepared has 1 field (rm), got 2 values"),
])
def test_type_errors_are_found_at_compile_time(tpc, text: str, expected: str) -> None:
    assert expected in error_of(tpc, text)


def test_a_prime_in_an_invariant_points_to_action_properties(tpc) -> None:
    message = error_of(tpc, "tm_state' == tm_state")
    assert "define it as an action property (--action-prop)" in message


def test_a_prime_in_a_constraint_is_refused(tpc) -> None:
    assert "a state constraint looks at one state" in error_of(tpc, "len(msgs') < 3",
                                                              kind="constraint")


# -- errors while evaluating ------------------------------------------------------------------


def test_an_expression_that_raises_names_the_part_the_bound_values_and_the_state(tpc) -> None:
    fn = compile_expression(tpc, "forall i in 0..rms: rm_state[i] != aborted", name="q").fn
    with pytest.raises(EvaluationError) as info:
        fn(tpc_state())
    message = str(info.value)
    assert isinstance(info.value, SpecError)
    assert ("invariant 'q': evaluating 'rm_state[i]' (line 1, column 21) raised IndexError"
            in message)
    assert "with i = 3" in message
    assert "in the state State(rm_state=(working, working, working)" in message


def test_an_invariant_that_raises_during_check_reports_the_trace_to_the_state(tpc) -> None:
    spec = TwoPhaseCommit(rms=2)
    spec.restrict_properties(invariants=[], action_properties=[])
    spec.add_property("bad", "invariant",
                      compile_expression(spec, "tm_state == init or max(tm_prepared) >= 0",
                                         name="bad").fn)
    with pytest.raises(SpecError) as info:
        check(spec)
    assert "evaluating 'max(tm_prepared)'" in str(info.value)
    assert info.value.trace is not None and len(info.value.trace) == 1  # tm_abort first


def test_an_action_property_that_raises_names_both_states(tpc) -> None:
    fn = compile_expression(tpc, "rm_state'[5] == working", kind="action_property").fn
    with pytest.raises(EvaluationError) as info:
        fn(tpc_state(), tpc_state(rm=(P, W, W)))
    assert "on the step from State(rm_state=(working, working, working)" in str(info.value)
    assert "to State(rm_state=(prepared, working, working)" in str(info.value)


def test_a_field_missing_from_one_kind_of_message_is_a_run_time_error(toy) -> None:
    s = Toy((Role.LEADER, Role.FOLLOWER), (1, 0), frozenset({Ping(0, 1)}), "x", 0)
    assert holds(toy, "forall m in net: type(m) == Pong => m.ok", s)
    with pytest.raises(EvaluationError, match="AttributeError"):
        holds(toy, "forall m in net: m.ok", s)


def test_a_constant_expression_that_fails_is_reported_at_compile_time(tpc) -> None:
    assert "evaluating this fails: ValueError" in error_of(tpc, "max(0..-1) > 0")
