"""The Spec API: parameters, initial states, actions, properties, constraints, deadlock."""

from __future__ import annotations

import pytest
from protospec.explorer import UsageError, check

from tests.explorer.toy_specs import Bounded, Branching, Graph, Grid


def test_parameters_take_their_defaults():
    spec = Grid()
    assert spec.bound == 3
    assert spec.param_values == {"bound": 3, "target_x": -1}


def test_a_parameter_can_be_overridden():
    assert Grid(bound=1).bound == 1


def test_an_unknown_parameter_is_a_usage_error_naming_the_known_ones():
    with pytest.raises(UsageError,
                       match=r"no parameter 'bond' \(its parameters: bound, target_x\)"):
        Grid(bond=2)


def test_a_parameter_below_its_minimum_is_refused():
    with pytest.raises(UsageError, match="below the minimum 0"):
        Grid(bound=-1)


def test_a_parameter_of_the_wrong_type_is_refused():
    with pytest.raises(UsageError, match="expected a value of type int"):
        Grid(bound="three")


def test_parse_reads_command_line_text_in_the_parameters_type():
    params = Graph.params()
    assert params["edges"].parse("(('a', 'b'),)") == (("a", "b"),)
    assert params["deadlock"].parse("yes") is True
    assert Grid.params()["bound"].parse("0x10") == 16
    with pytest.raises(UsageError, match="expected an integer"):
        Grid.params()["bound"].parse("many")


def test_every_argument_combination_of_an_action_is_enumerated_and_labelled():
    labels = [str(label) for label, _ in Grid(bound=3).successors(Grid().init().__next__())]
    assert labels == ["inc_x(step=1)", "inc_x(step=2)", "inc_y()"]


def test_a_grid_has_every_pair_of_values_as_a_state():
    result = check(Grid(bound=3))
    assert result.ok
    assert result.stats.distinct_states == 16
    assert result.stats.depth == 5  # (3, 3): x needs two steps (1 + 2), y three


def test_multiple_initial_states_are_all_explored():
    result = check(Branching(limit=4))
    assert result.stats.distinct_states == 5  # 0..4, from initial states 0 and 1
    assert result.stats.depth == 2  # 0 -> 2 -> 4 and 1 -> 3; 4 is reached from 1 via 3 in 2


def test_a_nondeterministic_action_yields_all_its_successors():
    spec = Branching(limit=4)
    assert sorted(t for _, t in spec.successors(2)) == [3, 4]
    result = check(spec)
    assert result.coverage["jump"].fired == 7  # 0:{1,2} 1:{2,3} 2:{3,4} 3:{4}
    assert result.coverage["jump"].enabled == 4


def test_an_action_property_is_checked_on_every_step():
    assert check(Branching()).ok
    result = check(Branching(allow_decrease=True))
    (v,) = result.violations
    assert (v.property, v.kind) == ("monotonic", "action_property")
    assert [st.state for st in v.trace.steps] == [1, 0]  # the first decreasing step found


def test_the_constraint_bounds_the_space_and_discarded_states_are_counted():
    result = check(Bounded(cap=5))
    assert result.ok
    assert result.stats.distinct_states == 6  # 0..5
    assert result.stats.outside_constraint == 1  # 6 was generated and discarded


def test_deadlock_is_reported_only_when_the_spec_asks_for_it():
    assert check(Graph(bad="none")).ok
    result = check(Graph(bad="none", deadlock=True))
    (v,) = result.violations
    assert v.kind == "deadlock"
    assert v.trace.states == ["a", "b", "c", "f"]  # f has no outgoing edge


def test_deadlock_checking_can_be_forced_from_outside():
    result = check(Graph(bad="none"), check_deadlock=True)
    assert [v.kind for v in result.violations] == ["deadlock"]


def test_variants_are_registered_with_what_they_break():
    from protospec.specs.two_phase_commit import TwoPhaseCommit

    variants = TwoPhaseCommit.variants()
    assert {"tm_commits_early", "rm_aborts_after_prepare"} <= set(variants)
    assert variants["tm_commits_early"].variant_info.breaks == "atomicity"
    with pytest.raises(UsageError, match="has no variant 'nope'"):
        TwoPhaseCommit.with_variant("nope")


def test_restricting_to_an_unknown_invariant_is_a_usage_error():
    with pytest.raises(UsageError, match=r"no invariant 'x' .*x_not_target"):
        Grid().restrict_properties(invariants=["x"])
