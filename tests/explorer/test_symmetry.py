"""Symmetry reduction: one state per orbit, exactly; counterexamples stay concrete behaviours."""

from __future__ import annotations

import itertools
import random
from typing import Annotated, Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protospec import Bag, Spec, Symmetric, action, invariant
from protospec import check as check_with_liveness
from protospec.explorer.cli.main import main
from protospec.explorer.errors import SpecError
from protospec.explorer.fingerprint import fingerprint
from protospec.explorer.loader import load_spec
from protospec.explorer.renamer import UNROLL
from protospec.explorer.symmetry import _with_inverses, build_symmetry
from protospec.specs.two_phase_commit import Prepared, TwoPhaseCommit


def check(spec: Spec, **kwargs):
    """Safety only: liveness is not checked under symmetry (and not needed for these counts)."""
    return check_with_liveness(spec, liveness=False, **kwargs)


def reachable(spec: Spec) -> set:
    """Every reachable state, by a plain search with no fingerprints and no symmetry."""
    constraint = spec.constraint
    seen = set(spec.init())
    todo = list(seen)
    while todo:
        s = todo.pop()
        for _label, t in spec.successors(s):
            if constraint is not None and not constraint(t):
                continue
            if t not in seen:
                seen.add(t)
                todo.append(t)
    return seen


def brute_force_orbits(spec: Spec) -> int:
    """The number of orbits: states identified when some renaming of ids maps one to the other."""
    states = reachable(spec)
    sym = build_symmetry(spec, list(spec.init()), hash)
    group = list(sym.all_renamings())
    orbits = set()
    for s in states:
        orbits.add(frozenset(sym.permute(s, g) for g in group))
    return len(orbits)


def rename_2pc_by_hand(s, p):
    """A 2PC state with RM i renamed p[i], written out field by field (the reference)."""
    rm_state = [None] * len(p)
    for i, x in enumerate(s.rm_state):
        rm_state[p[i]] = x
    msgs = frozenset(Prepared(p[m.rm]) if isinstance(m, Prepared) else m for m in s.msgs)
    return type(s)(tuple(rm_state), s.tm_state, frozenset(p[r] for r in s.tm_prepared), msgs)


def test_two_phase_commit_with_3_rms_has_80_orbits_as_tlc_reports():
    # TLC, TwoPhase.tla with SYMMETRY Permutations(RM) and 3 RMs: 80 distinct states.
    result = check(TwoPhaseCommit(rms=3), symmetry=True)
    assert result.stats.distinct_states == 80
    assert not result.violations and result.stats.complete


def test_renaming_a_2pc_state_agrees_with_renaming_it_by_hand():
    spec = TwoPhaseCommit(rms=3)
    sym = build_symmetry(spec, list(spec.init()), hash)
    for s in reachable(spec):
        for p in itertools.permutations(range(3)):
            assert sym.permute(s, [list(p)]) == rename_2pc_by_hand(s, p)


@pytest.mark.parametrize("rms", [1, 2, 3, 4])
def test_reduced_2pc_count_is_the_number_of_orbits(rms):
    spec = TwoPhaseCommit(rms=rms)
    assert check(spec, symmetry=True).stats.distinct_states == brute_force_orbits(spec)


@pytest.mark.parametrize(("name", "params"), [
    ("raft", {"max_term": 2, "max_log_length": 1}),
    ("raft", {"servers": 2, "max_term": 2}),
    ("paxos", {"ballots": 2}),
    ("multi_paxos", {"slots": 1, "commands": 2}),
    ("pbft", {"views": 1}),
    ("distributed_lock", {"clients": 2}),
    ("barrier", {"processes": 3, "rounds": 2}),
    ("quorum_kv", {"clients": 1}),
])
def test_reduced_count_is_the_number_of_orbits(name, params):
    spec = load_spec(name)(**params)
    assert check(spec, symmetry=True).stats.distinct_states == brute_force_orbits(spec)


def test_canonical_fingerprint_is_the_same_for_every_state_of_an_orbit():
    spec = load_spec("raft")(max_term=2, max_log_length=1)
    sym = build_symmetry(spec, list(spec.init()), hash)
    group = list(sym.all_renamings())
    for s in sorted(reachable(spec), key=repr)[:400]:
        fps = {sym.canonical_fingerprint(sym.permute(s, g)) for g in group}
        assert len(fps) == 1


@pytest.mark.parametrize("variant", ["tm_commits_early", "rm_aborts_after_prepare",
                                     "tm_aborts_after_commit"])
def test_2pc_variants_are_caught_with_a_replayable_trace_of_the_same_length(variant):
    cls = TwoPhaseCommit.with_variant(variant)
    plain = check(cls(rms=4))
    reduced = check(cls(rms=4), symmetry=True)
    assert reduced.violations and plain.violations
    assert len(reduced.violations[0].trace) == len(plain.violations[0].trace)
    assert_replays(cls(rms=4), reduced.violations[0].trace)


def assert_replays(spec: Spec, trace) -> None:
    """Each step is a successor of the previous state by the named action and arguments."""
    steps = trace.steps
    assert steps[0].state in list(spec.init())
    for before, after in itertools.pairwise(steps):
        labels = [(label.action, label.arg_dict) for label, t in spec.successors(before.state)
                  if t == after.state]
        assert (after.action, after.args) in labels


# -- the soundness guard ------------------------------------------------------------------------

Proc = Symmetric("Proc", size="n")


class Flags(NamedTuple):
    up: Annotated[tuple[bool, ...], Proc.index]


class FavouriteProcess(Spec):
    """Processes go up one by one; the invariant singles out process 0."""

    symmetric = (Proc,)

    def setup(self) -> None:
        self.n = 3

    def init(self):
        yield Flags((False,) * self.n)

    @action(i=range(3))
    def go_up(self, s, i):
        if s.up[i]:
            return None
        return Flags(tuple(True if j == i else x for j, x in enumerate(s.up)))

    @invariant
    def zero_goes_first(self, s):
        """Process 0 is up whenever any process is."""
        return s.up[0] or not any(s.up)


def test_symmetry_is_refused_when_an_invariant_names_a_particular_process():
    with pytest.raises(SpecError, match=r"not sound.*zero_goes_first"):
        check(FavouriteProcess(), symmetry=True)


def test_a_spec_without_a_symmetry_declaration_is_told_how_to_declare_one(capsys):
    code = main(["check", "lamport_clock", "--symmetry"])
    assert code == 2
    assert "symmetric = " in capsys.readouterr().err


def test_cli_reports_the_orbit_count_and_the_reduction(capsys):
    assert main(["check", "two_phase_commit", "--symmetry", "--no-liveness",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "80 distinct states" in out
    assert "Symmetry reduction over RM" in out


@pytest.mark.parametrize(("name", "variant"), [
    ("paxos", "accept_below_promise"),
    ("paxos", "non_intersecting_quorums"),
    ("paxos", "proposer_ignores_1b"),
    ("multi_paxos", "leader_skips_reproposal"),
    ("barrier", "late_counter_reset"),
    ("quorum_kv", "no_session_token"),
    ("quorum_kv", "r_plus_w_le_n"),
    ("quorum_kv", "unversioned_store"),
    ("pbft", "quorum_2f"),
    ("raft", "forget_vote_on_restart"),
    ("distributed_lock", "no_fencing"),
])
def test_variant_is_caught_under_symmetry_with_a_trace_as_short_as_without(name, variant):
    cls = load_spec(name).with_variant(variant)
    target = frozenset({cls.variant_info.breaks})
    plain = check(cls(), until=target)
    reduced = check(cls(), until=target, symmetry=True)
    assert reduced.stats.distinct_states < plain.stats.distinct_states
    broken = [v for v in reduced.violations if v.property == cls.variant_info.breaks]
    expected = [v for v in plain.violations if v.property == cls.variant_info.breaks]
    assert broken and expected
    assert len(broken[0].trace) == len(expected[0].trace)
    assert_replays(cls(), broken[0].trace)


def test_liveness_is_refused_under_symmetry_with_the_way_out_named(capsys):
    code = main(["check", "two_phase_commit", "--symmetry", "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert "every_rm_decides" in err and "--no-liveness" in err


# -- generated renaming and the unrolled canonical form, against the closure plans ------------

SYMMETRIC_SPECS = [
    ("two_phase_commit", {"rms": 3}),
    ("raft", {"max_term": 2, "max_log_length": 1}),
    ("raft", {"servers": 4, "max_term": 2, "max_log_length": 0}),
    ("raft", {"servers": 1}),
    ("paxos", {"ballots": 2}),
    ("multi_paxos", {"slots": 1, "commands": 2}),
    ("pbft", {"views": 1}),
    ("distributed_lock", {"clients": 2}),
    ("barrier", {"processes": 3, "rounds": 2}),
    ("quorum_kv", {"clients": 1}),
]


@pytest.mark.parametrize(("name", "params"), SYMMETRIC_SPECS)
def test_generated_renaming_equals_the_closure_plans_on_reachable_states(name, params):
    spec = load_spec(name)(**params)
    sym = build_symmetry(spec, list(spec.init()), fingerprint)
    rng = random.Random(7)
    for s in sorted(reachable(spec), key=repr)[:1500]:
        r = _with_inverses(sym.random_renaming(rng))
        assert sym.rename(s, r) == sym.permute_plan(s, r)


@pytest.mark.parametrize(("name", "params"), SYMMETRIC_SPECS)
def test_unrolled_canonical_fingerprint_equals_the_generic_canonical_form(name, params):
    spec = load_spec(name)(**params)
    sym = build_symmetry(spec, list(spec.init()), fingerprint)
    fast = sym._canonical_fingerprint_of()
    rng = random.Random(11)
    for s in sorted(reachable(spec), key=repr)[:1500]:
        t = sym.permute(s, sym.random_renaming(rng))
        for u in (s, t):
            assert fast(u, fingerprint(u)) == sym._canonical(u)[1]
            assert sym.canonical_fingerprint(u) == sym._canonical(u)[1]


P = Symmetric("P", size="n")
Q = Symmetric("Q", size="m")


class Msg(NamedTuple):
    src: P.Id
    dst: P.Id
    val: Q.Id


class Ack(NamedTuple):
    who: P.Id
    flags: Annotated[tuple[bool, ...], Q.index]


class Wild(NamedTuple):
    """A state type using every kind of hint the renaming understands."""

    per_p: Annotated[tuple[int, ...], P.index]
    grid: Annotated[tuple[Annotated[tuple[P.Id, ...], Q.index], ...], P.index]
    chosen: frozenset[P.Id]
    bag: Annotated[tuple[Msg | Ack, ...], Bag]
    leader: P.Id | None
    pair: tuple[P.Id, Q.Id]
    loose: Any
    inbox: frozenset[Msg]
    groups: tuple[frozenset[P.Id], ...]
    last: Msg | Ack | None
    count: int


class WildSpec(Spec):
    symmetric = (P, Q)
    assume_symmetric = True

    def setup(self) -> None:
        self.n, self.m = 3, 2

    def init(self):
        yield Wild((0,) * 3, ((0, 0),) * 3, frozenset(), (), None, (0, 0), None, frozenset(), (),
                   None, 0)


ids = st.integers(-1, 3)  # members 0..2, NIL, and an id beyond the set
msgs = st.builds(Msg, ids, ids, st.integers(-1, 2))
acks = st.builds(Ack, ids, st.tuples(st.booleans(), st.booleans()))
loose = st.recursive(st.one_of(st.integers(-1, 3), msgs),
                     lambda inner: st.one_of(st.tuples(inner, inner),
                                             st.frozensets(inner, max_size=3)), max_leaves=6)
wild = st.builds(
    Wild,
    st.tuples(*[st.integers(0, 2)] * 3),
    st.tuples(*[st.tuples(ids, ids)] * 3),
    st.frozensets(ids, max_size=4),
    st.lists(st.one_of(msgs, acks), max_size=3).map(lambda xs: tuple(sorted(xs, key=repr))),
    st.one_of(st.none(), ids),
    st.tuples(ids, st.integers(-1, 2)),
    loose,
    st.frozensets(msgs, max_size=3),
    st.lists(st.frozensets(ids, max_size=3), max_size=3).map(tuple),
    st.one_of(st.none(), msgs, acks),
    st.integers(0, 3),
)


WILD_SYMMETRY = build_symmetry(WildSpec(), list(WildSpec().init()), fingerprint)


@settings(max_examples=300, deadline=None)
@given(wild, st.permutations(range(3)), st.permutations(range(2)))
def test_generated_renaming_equals_the_closure_plans_on_every_kind_of_hint(state, p, q):
    sym = WILD_SYMMETRY
    r = _with_inverses([list(p), list(q)])
    assert sym.rename(state, r) == sym.permute_plan(state, r)


Big = Symmetric("Big", size="n")


class Crowd(NamedTuple):
    """A set larger than the generated code writes out position by position."""

    rank: Annotated[tuple[int, ...], Big.index]
    points_to: Annotated[tuple[Big.Id, ...], Big.index]
    chosen: frozenset[Big.Id]


class CrowdSpec(Spec):
    symmetric = (Big,)
    assume_symmetric = True

    def setup(self) -> None:
        self.n = UNROLL + 2

    def init(self):
        yield Crowd((0,) * self.n, (-1,) * self.n, frozenset())


CROWD_SYMMETRY = build_symmetry(CrowdSpec(), list(CrowdSpec().init()), fingerprint)
N_CROWD = UNROLL + 2
crowd_ids = st.integers(-1, N_CROWD)


@settings(max_examples=100, deadline=None)
@given(st.builds(Crowd, st.tuples(*[st.integers(0, 2)] * N_CROWD),
                 st.tuples(*[crowd_ids] * N_CROWD), st.frozensets(crowd_ids, max_size=4)),
       st.permutations(range(N_CROWD)))
def test_generated_renaming_of_a_large_set_equals_the_closure_plans(state, p):
    r = _with_inverses([list(p)])
    assert CROWD_SYMMETRY.rename(state, r) == CROWD_SYMMETRY.permute_plan(state, r)


def test_an_invariant_that_raises_during_the_symmetry_guard_is_a_spec_error_naming_it():
    class RaisingTwoPhase(load_spec("two_phase_commit")):
        @invariant
        def broken(self, s) -> bool:
            return len(s.tm_prepared) < {}  # a TypeError on every state

    with pytest.raises(SpecError, match=r"invariant 'broken' raised TypeError"):
        check(RaisingTwoPhase(rms=3), symmetry=True)
