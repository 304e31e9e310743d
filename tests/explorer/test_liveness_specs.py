"""The catalogue's liveness properties: each correct spec satisfies them under its fairness,
and each variant that breaks one is caught with a lasso that replays through the spec.

A lasso is checked here independently of the checker, from the spec alone: every step is one
of the spec's own successors with the same label; the last step returns to the loop state
(or the loop state stutters: it has no successor, or one that is itself); the property's goal
never holds on the cycle; and the cycle is fair, recomputed from ``spec.successors``:
every weakly fair action instance is taken on the cycle or disabled somewhere on it, every
strongly fair one taken or disabled everywhere on it.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from protospec.explorer import Spec, Trace, check
from protospec.explorer.loader import load_spec

# (spec, parameters) whose every liveness property holds.
HOLDS = [
    ("two_phase_commit", {}),
    ("two_phase_commit", {"rms": 4}),
    ("mutual_exclusion", {}),
    ("failure_detector", {}),
    ("bully_election", {}),
    ("ring_election", {}),
    ("message_queue", {}),
    ("barrier", {}),
    ("circuit_breaker", {}),
    ("saga", {}),
    ("paxos", {}),
    ("paxos", {"ballots": 1}),
    ("raft", {"max_term": 2, "max_log_length": 1}),
]

# (spec, variant, parameters, broken property): a bug or a missing fairness.
BROKEN = [
    ("two_phase_commit", "rm_may_never_hear", {}, "every_rm_decides"),
    ("two_phase_commit", "tm_may_crash", {}, "every_rm_decides"),
    ("mutual_exclusion", "forgets_deferred_replies", {}, "no_starvation"),
    ("failure_detector", "gst_never_comes", {}, "eventual_accuracy"),
    ("failure_detector", "timeout_below_delay", {}, "eventual_accuracy"),
    ("bully_election", "no_coordinator_timeout", {}, "stable_leader"),
    ("ring_election", "participant_swallows_all", {}, "stable_leader"),
    ("message_queue", "no_requeue_on_crash", {}, "every_message_processed"),
    ("barrier", "release_skips_last", {}, "everyone_finishes"),
    ("circuit_breaker", "success_weakly_fair", {}, "recloses"),
    ("saga", "compensates_failed_step", {}, "saga_ends"),
    ("paxos", "accept_needs_higher_ballot", {}, "value_eventually_chosen"),
    ("raft", "strict_log_comparison", {"max_term": 2, "max_log_length": 1},
     "electable_candidate_wins"),
]


def _ids(rows: list[tuple]) -> list[str]:
    return ["-".join(str(x) for x in row[:2] if not isinstance(x, dict)) +
            "".join(f"-{k}={v}" for k, v in (row[1] if isinstance(row[1], dict) else
                                               row[2]).items()) for row in rows]


@pytest.mark.parametrize(("name", "params"), HOLDS, ids=_ids(HOLDS))
def test_the_correct_spec_satisfies_its_liveness_properties(name: str,
                                                            params: dict[str, Any]) -> None:
    spec = load_spec(name)(**params)
    assert spec.liveness_fns, f"{name} declares no liveness property"
    result = check(spec)
    assert result.ok, [(v.property, len(v.trace)) for v in result.violations]
    assert result.stats.complete and result.stats.liveness_unchecked is None
    assert {n for n, _ in spec.liveness_fns} <= set(result.properties_checked)


@pytest.mark.parametrize(("name", "variant", "params", "broken"), BROKEN, ids=_ids(BROKEN))
def test_the_variant_fails_with_a_fair_lasso_that_replays(name: str, variant: str,
                                                          params: dict[str, Any],
                                                          broken: str) -> None:
    cls = load_spec(name).with_variant(variant)
    spec = cls(**params)
    result = check(spec, until=frozenset({broken}))
    found = [v for v in result.violations if v.property == broken]
    assert found, [v.property for v in result.violations]
    (v,) = found
    assert v.kind == "liveness" and v.trace.loop is not None
    formula = dict(spec.liveness_fns)[broken]
    instance = dict(formula.instances())[v.instance]
    assert_fair_lasso(spec, v.trace, instance)


def test_every_variant_that_breaks_a_liveness_property_is_checked_here() -> None:
    here = {(name, variant) for name, variant, _, _ in BROKEN}
    for name in {row[0] for row in HOLDS}:
        base = load_spec(name)
        temporal = {p.name for p in base.liveness_properties()}
        for variant, cls in base.variants().items():
            if cls.variant_info.breaks in temporal:
                assert (name, variant) in here, (name, variant)


def assert_fair_lasso(spec: Spec, trace: Trace, formula: Any) -> None:
    """``trace`` is a fair behaviour of ``spec`` that violates ``formula`` (see the module
    docstring for what is checked, and how)."""
    steps = trace.steps
    assert steps[0].state in list(spec.init())
    for before, after in itertools.pairwise(steps):
        labelled = {(label.action, label.args, t) for label, t in spec.successors(before.state)}
        assert (after.action, tuple(after.args.items()), after.state) in labelled, after.label
    loop = trace.loop
    if trace.stutters:
        last = steps[-1].state
        after = [t for _, t in spec.successors(last)]
        assert not after or last in after, "the loop state must stutter (deadlock, or a step "\
            "that changes nothing)"
        cycle_states, cycle_labels = [last], []
    else:
        assert steps[-1].state == steps[loop].state
        cycle_states = [st.state for st in steps[loop:-1]]
        cycle_labels = [(st.action, tuple(st.args.items()))
                        for st, prev in zip(steps[loop + 1:], steps[loop:])
                        if st.state != prev.state]
    goal = formula.goal
    if formula.recurring:
        assert not all(goal(s) for s in cycle_states), "the cycle must leave the goal"
    else:
        assert not any(goal(s) for s in cycle_states), "the cycle must avoid the goal"
        if formula.initial_only:
            assert not any(goal(st.state) for st in steps)
    fairness = spec.fairness()
    enabled: list[set] = []
    for s in cycle_states:
        enabled.append({(label.action, label.args) for label, t in spec.successors(s)
                        if t != s and label.action in fairness})
    for inst in set().union(*enabled):
        if inst in cycle_labels:
            continue
        everywhere = all(inst in e for e in enabled)
        if fairness[inst[0]] == "weak":
            assert not everywhere, f"weakly fair {inst} is enabled on the whole cycle, never taken"
        else:
            raise AssertionError(f"strongly fair {inst} is enabled on the cycle, never taken")
