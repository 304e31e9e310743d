"""The inlined expander (explorer/inline.py) against the plain one that calls every action.

The plain expander calls each action method as the spec wrote it: it is the dumb exact
reference. On every built-in spec and bug variant the two must give the very same successors
of every state, in the same order, with the same labels -- hence the same state graphs, state
counts, verdicts and counterexamples. Hypothesis adds states no search reaches (guards moved
out of loops must agree there too), and toy specs pin the cases the inliner must leave alone.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protospec import Spec, action, check, except_at, from_state, invariant
from protospec.explorer.bfs import _Generator, explore, inlining_report
from protospec.explorer.fingerprint import fingerprint
from protospec.explorer.inline import PLAIN_ENV
from protospec.explorer.loader import builtin_spec_names, load_spec

PREFIX_STATES = 1500  # states of each spec whose expansions are compared one by one
VARIANT_STATES = 25_000  # a bound on each variant's search (most stop far earlier)
CORRECT_STATES = 8_000  # the correct specs: their graphs are compared state by state above


def expanders(spec: Spec, intern: Any = None) -> tuple[Any, Any]:
    index = {a.name: i for i, a in enumerate(spec.actions())}
    plain = _Generator(spec, index, fingerprint, intern).plain()
    return plain, _Generator(spec, index, fingerprint, intern).inlined(plain)


def expansion(expand: Any, s: Any, n_actions: int) -> tuple[list, list, list, list]:
    states: list[Any] = []
    fps: list[int] = []
    acts: list[int] = []
    enabled = [0] * n_actions
    expand(s, states.append, fps.append, acts.append, enabled)
    return states, fps, acts, enabled


def assert_same_expansions(spec: Spec, states: list[Any]) -> None:
    plain, inlined = expanders(spec)
    n = len(spec.actions())
    for s in states:
        assert expansion(inlined, s, n) == expansion(plain, s, n), s


def spec_configs() -> list[tuple[str, str | None]]:
    out = []
    for name in builtin_spec_names():
        cls = load_spec(name)
        out += [(name, None)] + [(name, v) for v in sorted(cls.variants())]
    return out


@pytest.mark.parametrize("name", builtin_spec_names())
def test_inlined_successors_equal_the_called_actions_on_reachable_states(name: str) -> None:
    spec = load_spec(name)()
    spec.restrict_temporal([])
    search = explore(spec, keep_states=True, max_states=PREFIX_STATES, keep_going=True)
    assert search.states
    assert_same_expansions(spec, search.states)


@pytest.mark.parametrize("name", builtin_spec_names())
def test_rewritten_invariants_agree_with_the_spec_on_reachable_states(name: str) -> None:
    """Remembered conjuncts (explorer/propcache.py) give every invariant the truth value the
    spec's own method gives."""
    from protospec.explorer.inline import state_layout
    from protospec.explorer.propcache import memoized_invariant

    spec = load_spec(name)()
    spec.restrict_temporal([])
    states = explore(spec, keep_states=True, max_states=PREFIX_STATES, keep_going=True).states
    layout = state_layout(spec)
    for inv_name, fn in spec.invariant_fns:
        fast = memoized_invariant(spec, fn, layout, fingerprint)
        for s in states:
            assert bool(fast(s)) == bool(fn(s)), (inv_name, s)


def outcome(spec: Spec) -> tuple:
    bound = CORRECT_STATES if spec.variant_name is None else VARIANT_STATES
    result = check(spec, max_states=bound)
    return (result.stats.distinct_states, result.stats.complete, result.stats.depth,
            [(v.property, v.kind, len(v.trace), [str(step.label) for step in v.trace.steps],
              v.trace.steps[-1].state) for v in result.violations],
            {k: (c.enabled, c.fired, c.new) for k, c in result.coverage.items()})


@pytest.mark.slow
@pytest.mark.parametrize(("name", "variant"), spec_configs())
def test_verdicts_and_counterexamples_are_those_of_the_called_actions(
        name: str, variant: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    cls = load_spec(name).with_variant(variant)
    fast = outcome(cls())
    monkeypatch.setenv(PLAIN_ENV, "1")
    assert outcome(cls()) == fast


@pytest.mark.parametrize("name", ["two_phase_commit", "paxos"])
def test_state_graphs_with_edges_are_identical(name: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def graph() -> tuple:
        spec = load_spec(name)()
        spec.restrict_temporal([])
        search = explore(spec, keep_states=True, record_edges=True, max_states=4000)
        src, dst, lab = search.store.edge_arrays()
        return (search.states, src.tolist(), dst.tolist(), lab.tolist(), search.store.labels)

    fast = graph()
    monkeypatch.setenv(PLAIN_ENV, "1")
    assert graph() == fast


def test_the_hot_specs_are_inlined_whole() -> None:
    for name in ("two_phase_commit", "paxos"):
        report = inlining_report(load_spec(name)())
        assert set(report.values()) == {"inlined"}, report


# -- states no search reaches ------------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_two_phase_commit_agrees_on_arbitrary_states(data: st.DataObject) -> None:
    from protospec.specs.two_phase_commit import Decision, Prepared, RMState, State, TMState

    rms = data.draw(st.integers(1, 4))
    spec_cls = load_spec("two_phase_commit").with_variant(
        data.draw(st.sampled_from([None, *sorted(load_spec("two_phase_commit").variants())])))
    spec = spec_cls(rms=rms)
    msgs = data.draw(st.frozensets(st.one_of(st.sampled_from(list(Decision)),
                                             st.builds(Prepared, st.integers(0, rms - 1)))))
    s = State(tuple(data.draw(st.lists(st.sampled_from(list(RMState)), min_size=rms,
                                       max_size=rms))),
              data.draw(st.sampled_from(list(TMState))),
              data.draw(st.frozensets(st.integers(0, rms - 1))), msgs)
    assert_same_expansions(spec, [s])


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_paxos_agrees_on_arbitrary_states(data: st.DataObject) -> None:
    from protospec.specs.paxos import Msg1a, Msg1b, Msg2a, Msg2b, State

    variant = data.draw(st.sampled_from([None, *sorted(load_spec("paxos").variants())]))
    spec = load_spec("paxos").with_variant(variant)(ballots=3)
    bal = st.integers(-1, 2)
    val = st.integers(-1, 1)
    acc = st.integers(0, 2)
    msg = st.one_of(st.builds(Msg1a, bal), st.builds(Msg1b, acc, bal, bal, val),
                    st.builds(Msg2a, bal, val), st.builds(Msg2b, acc, bal, val))
    triple = st.tuples(bal, bal, bal)
    s = State(data.draw(triple), data.draw(triple), data.draw(st.tuples(val, val, val)),
              data.draw(st.frozensets(msg, max_size=8)))
    assert_same_expansions(spec, [s])


# -- what the inliner must leave alone, or get right ------------------------------------------


class Pair(NamedTuple):
    x: int
    y: tuple[int, ...]


def make_toy() -> type[Spec]:
    limit = 3

    class Toy(Spec):
        """A toy with one action of each shape the inliner treats differently."""

        name = "toy_inline"
        N = range(3)

        def init(self):
            yield Pair(0, (0, 0, 0))

        @action(i="N")
        def bump(self, s: Pair, i: int) -> Pair | None:
            """Hoisted guard, then a guard on i, then except_at and a positional build."""
            if s.x >= 4:
                return None
            if s.y[i] >= 2:
                return None
            return Pair(s.x + 1, except_at(s.y, i, s.y[i] + 1))

        @action(i="N")
        def closure(self, s: Pair, i: int) -> Pair | None:
            """Reads a closure variable: called, not inlined."""
            return Pair(s.x + 1, s.y) if s.x < limit and i == 0 else None

        @action(i="N")
        def loop_return(self, s: Pair, i: int) -> Pair | None:
            """Returns from inside a loop: called."""
            for v in s.y:
                if v > i:
                    return None
            return s._replace(x=s.x + 1) if s.x < 4 else None

        @action(i="N")
        def branchy(self, s: Pair, i: int) -> Pair | None:
            """A local bound in a branch: called (it could carry over between arguments)."""
            if i == 1:
                z = 2
            else:
                z = 0
            return s._replace(x=z) if s.x != z else None

        @action(pair=lambda self: [(0, 1), (1, 0)], many=True)
        def several(self, s: Pair, pair: tuple[int, int]) -> list[Pair] | None:
            """A many-action with tuple arguments: inlined."""
            a, b = pair
            if s.x > 3:
                return None
            return [Pair(s.x + a, s.y), Pair(s.x + b, s.y)]

        @action(m=from_state(lambda s: sorted(set(s.y))))
        def dyn(self, s: Pair, m: int) -> Pair | None:
            """A from_state domain: the guard stays inside its loop."""
            if s.x > 2:
                return None
            return Pair(s.x + m, s.y)

        @invariant
        def bounded(self, s: Pair) -> bool:
            return s.x < 100

    return Toy


def test_the_inliner_calls_what_it_cannot_rewrite_exactly() -> None:
    report = inlining_report(make_toy()())
    assert report["bump"] == "inlined"
    assert report["several"] == "inlined"
    assert report["dyn"] == "inlined"
    assert "closure" in report["closure"]
    assert "loop" in report["loop_return"]
    assert report["branchy"] != "inlined"


def test_toy_spec_explores_the_same_graph_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = make_toy()()
    search = explore(spec, keep_states=True, record_edges=True)
    assert_same_expansions(spec, search.states)
    monkeypatch.setenv(PLAIN_ENV, "1")
    plain = explore(make_toy()(), keep_states=True, record_edges=True)
    assert plain.states == search.states
    assert [a.tolist() for a in plain.store.edge_arrays()] == \
        [a.tolist() for a in search.store.edge_arrays()]
    assert plain.result.coverage == search.result.coverage


# -- the C builders and remembered invariants --------------------------------------------------

core = pytest.importorskip("protospec.explorer.fingerprint")._core
needs_c = pytest.mark.skipif(core is None, reason="the compiled fingerprint module is absent")


@needs_c
@settings(max_examples=300, deadline=None)
@given(t=st.one_of(st.tuples(), st.lists(st.integers(), max_size=5).map(tuple),
                   st.builds(Pair, st.integers(), st.tuples(st.integers()))),
       i=st.one_of(st.integers(-8, 8), st.booleans(), st.integers(2**62, 2**70)),
       v=st.integers())
def test_c_except_at_is_except_at(t: tuple, i: int, v: int) -> None:
    def outcome(f: Any) -> Any:
        try:
            r = f(t, i, v)
        except Exception as exc:  # the very exception type is compared
            return type(exc)
        return (type(r), r)

    assert outcome(core.except_at) == outcome(except_at)


@needs_c
def test_c_new_tuple_builds_the_namedtuple() -> None:
    p = core.new_tuple(Pair, 1, (2,))
    assert type(p) is Pair and p == Pair(1, (2,)) and p.y == (2,)
    with pytest.raises(TypeError):
        core.new_tuple(list, 1)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_remembered_type_ok_agrees_with_type_ok_even_on_ill_typed_states(
        data: st.DataObject) -> None:
    """The table is keyed by fingerprints, so 0 is never taken for RMState.WORKING."""
    from protospec.explorer.inline import state_layout
    from protospec.explorer.propcache import memoized_invariant
    from protospec.specs.two_phase_commit import Decision, Prepared, RMState, State, TMState

    spec = load_spec("two_phase_commit")(rms=2)
    fast = memoized_invariant(spec, spec.type_ok, state_layout(spec), fingerprint)
    assert fast is not spec.type_ok  # it was rewritten
    rm = st.one_of(st.sampled_from(list(RMState)), st.integers(0, 3))
    msg = st.one_of(st.sampled_from(list(Decision)), st.builds(Prepared, st.integers(0, 2)),
                    st.integers(0, 1))
    for _ in range(20):
        s = State(tuple(data.draw(st.lists(rm, min_size=1, max_size=3))),
                  data.draw(st.one_of(st.sampled_from(list(TMState)), st.integers(0, 1))),
                  data.draw(st.frozensets(st.integers(0, 2))),
                  data.draw(st.frozensets(msg, max_size=4)))
        assert bool(fast(s)) == bool(spec.type_ok(s)), s


class _Pair(NamedTuple):
    xs: tuple[int, ...]
    ys: tuple[int, ...]
    flag: bool


class _PairSpec(Spec):
    name = "pair_toy"
    calls = 0

    def init(self):
        yield _Pair((0,), (0,), False)

    @action(x=from_state(lambda s: s.xs))
    def grow(self, s: _Pair, x: int) -> _Pair | None:
        return s._replace(xs=s.xs + (x + 1,)) if len(s.xs) < 4 else None

    @invariant
    def sorted_xs(self, s: _Pair) -> bool:
        type(self).calls += 1
        for a, b in zip(s.xs, s.xs[1:]):  # noqa: SIM110 - a loop body: the whole-invariant path
            if a > b:
                return False
        return True

    @invariant
    def passes_the_state_on(self, s: _Pair) -> bool:
        for x in s.ys:  # noqa: SIM110 - a loop body: the whole-invariant path
            if not helper_reads_everything(s, x):
                return False
        return True


def helper_reads_everything(s: _Pair, x: int) -> bool:
    return s.flag or x >= 0


def test_an_invariant_reading_one_field_is_evaluated_once_per_value_of_it() -> None:
    from protospec.explorer.inline import state_layout
    from protospec.explorer.propcache import memoized_invariant

    spec = _PairSpec()
    fast = memoized_invariant(spec, spec.sorted_xs, state_layout(spec), fingerprint)
    states = [_Pair(xs, ys, flag) for xs in [(1, 2), (2, 1), (1, 2, 3)]
              for ys in [(), (5,)] for flag in (False, True)]
    _PairSpec.calls = 0
    assert [bool(fast(s)) for s in states] == [bool(spec.sorted_xs(s)) for s in states]
    assert _PairSpec.calls == 3 + len(states)  # three distinct xs, then the method itself


def test_an_invariant_that_hands_the_state_to_a_helper_is_not_remembered() -> None:
    from protospec.explorer.inline import state_layout
    from protospec.explorer.propcache import memoized_invariant

    spec = _PairSpec()
    inv = spec.passes_the_state_on
    assert memoized_invariant(spec, inv, state_layout(spec), fingerprint) is inv


def test_a_state_domain_shared_by_actions_is_read_once_per_state() -> None:
    reads = []

    def in_flight(s: tuple) -> tuple:
        reads.append(s)
        return s.xs

    shared = from_state(in_flight)

    class Shared(_PairSpec):
        name = "pair_shared"

        @action(x=shared)
        def grow(self, s: _Pair, x: int) -> _Pair | None:
            return s._replace(xs=s.xs + (s.xs[-1] + 1 + x,)) if len(s.xs) < 4 else None

        @action(x=shared)
        def flip(self, s: _Pair, x: int) -> _Pair | None:
            return s._replace(flag=not s.flag) if x == s.xs[-1] else None

    result = check(Shared(), liveness=False)
    assert result.ok
    assert len(reads) == result.stats.distinct_states  # once per expanded state, not twice
