"""Symmetry reduction: explore one state per orbit of a group of interchangeable process ids.

A spec declares a *symmetric set* (``RM = Symmetric("RM", size="rms")``) whose members are the
ints ``0 .. n-1``, and says in its state's type hints where members appear::

    class Prepared(NamedTuple):
        rm: RM.Id                                              # an RM id
    class State(NamedTuple):
        rm_state: Annotated[tuple[RMState, ...], RM.index]     # a tuple indexed by RM
        tm_prepared: frozenset[RM.Id]                           # a set of RM ids
        msgs: frozenset[Prepared | Decision]                    # messages naming RMs

and lists the set in ``symmetric = (RM,)``. The engine does the rest: it permutes any state
consistently (indexed tuples are reordered, member values renamed, inside messages and sets
too) and fingerprints a *canonical* member of the state's orbit, so the search keeps one state
per orbit. The count of distinct states is then exactly the number of orbits.

Canonicalisation does not try every permutation. Each member gets a colour: the fingerprint
of everything the state says about it (its entries of indexed tuples, the messages and set
elements that mention it), with other members abstracted to their own colours, refined until
stable (as in graph canonical labelling). Members are renamed in colour order; only members
whose colours tie are tried in every order, and when no single record can mention two members
of a set (2PC's RMs), tied members are interchangeable and one order suffices. The canonical
fingerprint is the least fingerprint among the candidates, which is the same for every state
of an orbit because the candidate set is built from permutation-invariant colours.

Soundness rests on the spec: actions and properties must not treat members differently (an
invariant naming process 0, an action special-casing one id). ``guard`` checks this on the
first states explored (properties and successor orbits compared under random permutations)
and refuses symmetry with a clear error when it finds a difference; a spec that has checked
this itself may set ``assume_symmetric = True``.
"""

from __future__ import annotations

import itertools
import random
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

import numpy as np

from .errors import SpecError, UsageError
from .renamer import UNROLL, compile_renamer

__all__ = ["Bag", "Symmetric", "Symmetry", "build_symmetry"]


@dataclass(frozen=True)
class _Member:
    """Annotation marker: an int that names a member of ``sym``."""

    sym: Symmetric


@dataclass(frozen=True)
class _Index:
    """Annotation marker: a tuple whose positions are the members of ``sym``."""

    sym: Symmetric


class _Sorted:
    """Annotation marker: a tuple kept sorted (a bag); re-sorted after renaming."""

    def __repr__(self) -> str:
        return "Bag"


Bag = _Sorted()


class Symmetric:
    """A parameter-defined set of interchangeable ids ``0 .. n-1`` (``n`` = spec.<size>).

    With ``members="attr"``, only the ids in ``spec.attr`` are interchangeable and the others
    keep their identity (PBFT: the replicas that are never primary in the explored views).
    ``RM.Id`` annotates an int naming a member; ``Annotated[tuple[X, ...], RM.index]``
    annotates a tuple indexed by the members.
    """

    def __init__(self, name: str, *, size: str, members: str | None = None) -> None:
        self.name = name
        self.size = size
        self.members = members  # a spec attribute naming the interchangeable ids, if not all
        self.member = _Member(self)
        self.index = _Index(self)
        self.Id = Annotated[int, self.member]

    def __repr__(self) -> str:
        return f"Symmetric({self.name!r}, size={self.size!r})"


# -- plans: how to apply a renaming to a value of a given type ---------------------------------
# A plan is a function (value, renamings) -> value, where renamings[k] is the list mapping each
# member of the k-th symmetric set to its new id. None stands for "no member can occur here".

Plan = Callable[[Any, list[list[int]]], Any] | None
_MANY = 2  # "two or more": a value that can mention several members


class _Planner:
    def __init__(self, sets: list[Symmetric]) -> None:
        self.sets = sets
        self.slot = {id(s): k for k, s in enumerate(sets)}
        self.record_plans: dict[type, Plan] = {}
        self.record_occ: dict[type, list[int]] = {}
        self._building: set[type] = set()

    # number of occurrences of each set's members a value of this type can hold (0, 1, _MANY)
    def occurrences(self, hint: Any) -> list[int]:
        zero = [0] * len(self.sets)
        origin = get_origin(hint)
        if origin is Annotated:
            base, *marks = get_args(hint)
            out = self.occurrences(base)
            for m in marks:
                if isinstance(m, _Member) and id(m.sym) in self.slot:
                    out = list(out)
                    out[self.slot[id(m.sym)]] = 1
                elif isinstance(m, _Index) and id(m.sym) in self.slot:
                    inner = self.occurrences(get_args(base)[0]) if get_args(base) else zero
                    out = [_MANY if x else 0 for x in inner]
            return out
        if origin in (Union, UnionType):
            outs = [self.occurrences(a) for a in get_args(hint)]
            return [max(col) for col in zip(*outs, strict=True)] if outs else zero
        if origin in (tuple, frozenset, set, list):
            args = [a for a in get_args(hint) if a is not Ellipsis]
            if origin is tuple and len(get_args(hint)) >= 1 and get_args(hint)[-1] is not Ellipsis:
                # a fixed-length tuple: its positions add up
                outs = [self.occurrences(a) for a in args]
                return [min(_MANY, sum(col)) for col in zip(*outs, strict=True)] if outs else zero
            inner = self.occurrences(args[0]) if args else zero
            return [_MANY if x else 0 for x in inner]
        if isinstance(hint, type) and _is_namedtuple(hint):
            return self._record_occurrences(hint)
        return zero

    def _record_occurrences(self, cls: type) -> list[int]:
        if cls in self.record_occ:
            return self.record_occ[cls]
        if cls in self._building:  # a recursive type: be conservative
            return [_MANY] * len(self.sets)
        self._building.add(cls)
        try:
            hints = _hints(cls)
            outs = [self.occurrences(hints.get(f, Any)) for f in cls._fields]
            total = [min(_MANY, sum(col)) for col in zip(*outs, strict=True)] if outs else (
                [0] * len(self.sets))
        finally:
            self._building.discard(cls)
        self.record_occ[cls] = total
        return total

    def plan(self, hint: Any) -> Plan:
        """The renaming function for values of type ``hint`` (None if nothing to rename)."""
        origin = get_origin(hint)
        if origin is Annotated:
            base, *marks = get_args(hint)
            for m in marks:
                if isinstance(m, _Member) and id(m.sym) in self.slot:
                    k = self.slot[id(m.sym)]

                    def member(v: Any, r: list[Any], k: int = k) -> Any:
                        ren = r[k]
                        return ren[v] if type(v) is int and 0 <= v < len(ren) else v
                    return member
                if isinstance(m, _Index) and id(m.sym) in self.slot:
                    k = self.slot[id(m.sym)]
                    elem = self.plan(get_args(base)[0]) if get_args(base) else None
                    return _indexed(k, len(self.sets), elem)
                if isinstance(m, _Sorted):
                    inner = self.plan(base)
                    if inner is None:
                        return None
                    return lambda v, r, inner=inner: _resort(inner(v, r))
            return self.plan(base)
        if origin in (Union, UnionType):
            return self._union([a for a in get_args(hint) if a is not NoneType])
        if origin is frozenset:
            elem = self.plan(get_args(hint)[0]) if get_args(hint) else self.dynamic
            if elem is None:
                return None
            return lambda v, r, elem=elem: frozenset([elem(x, r) for x in v])
        if origin is tuple:
            args = get_args(hint)
            if len(args) == 2 and args[1] is Ellipsis:
                elem = self.plan(args[0])
                if elem is None:
                    return None
                return lambda v, r, elem=elem: tuple([elem(x, r) for x in v])
            plans = [self.plan(a) for a in args]
            if all(p is None for p in plans):
                return None
            return lambda v, r, plans=plans: tuple(
                x if p is None else p(x, r) for p, x in zip(plans, v, strict=False))
        if isinstance(hint, type) and _is_namedtuple(hint):
            return self.record(hint)
        if hint is Any or hint is tuple or hint is frozenset:
            return self.dynamic
        return None

    def _union(self, members: list[Any]) -> Plan:
        plans = [(a, self.plan(a)) for a in members]
        plans = [(a, p) for a, p in plans if p is not None]
        if not plans:
            return None
        if len(plans) == 1 and len(members) == 1:
            only = plans[0][1]
            return lambda v, r, only=only: None if v is None else only(v, r)
        by_type: dict[type, Plan] = {}
        rest: list[Plan] = []
        for a, p in plans:
            cls = get_origin(a) or a
            if get_origin(a) is Annotated:
                cls = get_origin(get_args(a)[0]) or get_args(a)[0]
            if isinstance(cls, type):
                by_type[cls] = p
            else:
                rest.append(p)

        def union(v: Any, r: list[list[int]]) -> Any:
            p = by_type.get(type(v))
            if p is not None:
                return p(v, r)
            return v
        return union

    def record(self, cls: type) -> Plan:
        if cls in self.record_plans:
            return self.record_plans[cls]
        if cls in self._building:
            return self.dynamic
        self._building.add(cls)
        try:
            hints = _hints(cls)
            fields = [(i, self.plan(hints.get(f, Any))) for i, f in enumerate(cls._fields)]
            fields = [(i, p) for i, p in fields if p is not None]
        finally:
            self._building.discard(cls)
        if not fields:
            plan: Plan = None
        else:
            new = tuple.__new__

            def plan(v: Any, r: list[list[int]], fields=fields, cls=cls) -> Any:
                items = list(v)
                for i, p in fields:
                    items[i] = p(items[i], r)
                return new(cls, items)
        self.record_plans[cls] = plan
        return plan

    def dynamic(self, v: Any, r: list[list[int]]) -> Any:
        """Rename inside a value whose type the hints leave open (``Any``, bare tuple)."""
        cls = type(v)
        if cls is tuple:
            return tuple([self.dynamic(x, r) for x in v])
        if cls is frozenset:
            return frozenset([self.dynamic(x, r) for x in v])
        if _is_namedtuple(cls):
            p = self.record(cls)
            return v if p is None else p(v, r)
        return v


def _indexed(k: int, n_sets: int, elem: Plan) -> Plan:
    # r holds the renamings of the n_sets sets, then their inverses: position j of the result
    # is position inverse[j] of the original.
    def indexed(v: Any, r: list[Any]) -> Any:
        ren = r[k]
        if type(ren) is not list:  # a signature probe, not a renaming
            return ren.indexed(v, elem, r)
        inv = r[k + n_sets]
        if elem is None:
            return tuple([v[i] for i in inv])
        return tuple([elem(v[i], r) for i in inv])
    return indexed


class _Recorder:
    """A probe 'renaming' that leaves ids alone and records which members a value mentions."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.seen: set[int] = set()

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, v: int) -> int:
        self.seen.add(v)
        return v

    def indexed(self, v: Any, elem: Plan, r: list[Any]) -> Any:
        self.seen.update(range(min(len(v), self.n)))
        if elem is not None:
            for x in v:
                elem(x, r)
        return v


class _SelfProbe:
    """A probe for records that mention at most one member: marks it as 'self', remembers it."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.who = -1

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, v: int) -> int:
        self.who = v
        return -1

    def indexed(self, v: Any, elem: Plan, r: list[Any]) -> Any:
        raise AssertionError("a record holding an indexed tuple is relational")


class _Marks:
    """A probe 'renaming' that replaces each member by its mark (self, or another's colour)."""

    def __init__(self, marks: list[int], fingerprint: Callable[[Any], int]) -> None:
        self.marks = marks
        self.fp = fingerprint

    def __len__(self) -> int:
        return len(self.marks)

    def __getitem__(self, v: int) -> int:
        return -self.marks[v]  # negative: a mark never equals a real id

    def indexed(self, v: Any, elem: Plan, r: list[Any]) -> Any:
        pairs = [(-self.marks[i] if i < len(self.marks) else i,
                  x if elem is None else elem(x, r)) for i, x in enumerate(v)]
        pairs.sort(key=self.fp)
        return ("indexed", tuple(pairs))


def _resort(v: Any) -> Any:
    try:
        return tuple(sorted(v))
    except TypeError:  # a signature probe's marks may not compare with ids: keep an order
        return tuple(sorted(v, key=repr))


def _is_namedtuple(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")


def _hints(cls: type) -> dict[str, Any]:
    try:
        return get_type_hints(cls, include_extras=True)
    except Exception:
        return dict(getattr(cls, "__annotations__", {}))


# -- colours: what a state says about each member, invariant under renaming ---------------------


class _Colourer:
    """Where a state's fields mention the members of one symmetric set (slot ``k``)."""

    def __init__(self, planner: _Planner, cls: type, k: int) -> None:
        hints = _hints(cls)
        # (field position, plan of the values at each member's position)
        self.indexed: list[tuple[int, Plan]] = []
        # (field position, is a container of records, plan of one record)
        self.other: list[tuple[int, bool, Plan]] = []
        self.relational = False  # can one record mention two members?
        # Whether every indexed field's values sort in a total order (ints, enums, tuples of
        # them): then colours are those values themselves, and a state whose members are already
        # in colour order needs no renaming at all.
        self.natural = True
        # Whether the indexed fields that hold no member ids sort in a total order: then the
        # cheap colours of relational sets (see Symmetry._colours) are those values themselves.
        self.plain_natural = True
        # Can a record that mentions a member also mention another symmetric set's members
        # (or sit at a position indexed by another set)? Then members with equal colours may
        # still differ through the other set, and every order of them must be tried.
        self.mixed = False
        others = [j for j in range(len(planner.sets)) if j != k]

        def mentions_others(h: Any) -> bool:
            occ_all = planner.occurrences(h)
            return any(occ_all[j] for j in others)

        for i, f in enumerate(cls._fields):
            hint = hints.get(f, Any)
            occ = planner.occurrences(hint)[k]
            base = _strip(hint)
            index = _index_of(hint)
            if index is planner.sets[k]:
                elem = get_args(base)[0] if get_args(base) else Any
                self.indexed.append((i, planner.plan(elem)))
                self.natural &= _orderable(elem)
                if self.indexed[-1][1] is None:
                    self.plain_natural &= _orderable(elem)
                if planner.occurrences(elem)[k]:
                    self.relational = True
                self.mixed |= mentions_others(elem)
            elif occ:
                self.mixed |= index is not None
                if get_origin(base) in (frozenset, tuple) and _is_homogeneous(base):
                    elem = get_args(base)[0]
                    self.other.append((i, True, planner.plan(elem)))
                    if planner.occurrences(elem)[k] >= _MANY:
                        self.relational = True
                    self.mixed |= mentions_others(elem)
                else:
                    self.other.append((i, False, planner.plan(hint)))
                    if occ >= _MANY:
                        self.relational = True
                    self.mixed |= mentions_others(hint)


def _orderable(hint: Any, depth: int = 0) -> bool:
    """Whether values of type ``hint`` are totally ordered by ``<`` (never a partial order such
    as frozensets' subset order, never a TypeError)."""
    if depth > 8:
        return False
    hint = _strip(hint)
    if hint in (int, bool, str, bytes):
        return True
    if isinstance(hint, type):
        import enum

        if issubclass(hint, enum.IntEnum):
            return True
        if _is_namedtuple(hint):
            hints = _hints(hint)
            return all(_orderable(hints.get(f, Any), depth + 1) for f in hint._fields)
        return False
    if get_origin(hint) is tuple:
        return all(_orderable(a, depth + 1) for a in get_args(hint) if a is not Ellipsis)
    return False


def _is_homogeneous(hint: Any) -> bool:
    args = get_args(hint)
    return get_origin(hint) is frozenset or (len(args) == 2 and args[1] is Ellipsis)


def _strip(hint: Any) -> Any:
    return get_args(hint)[0] if get_origin(hint) is Annotated else hint


def _index_of(hint: Any) -> Symmetric | None:
    if get_origin(hint) is Annotated:
        for m in get_args(hint)[1:]:
            if isinstance(m, _Index):
                return m.sym
    return None


# -- the symmetry of one spec ------------------------------------------------------------------


class Symmetry:
    """Canonical fingerprints for one spec's states under its declared symmetric sets."""

    def __init__(self, spec: Any, sets: list[Symmetric], state_type: type,
                 fingerprint: Callable[[Any], int]) -> None:
        self.spec_name = spec.name
        self.sets = sets
        self.sizes: list[int] = []
        self.movable: list[list[int]] = []
        self.base_marks: list[list[int]] = []
        for s in sets:
            n = getattr(spec, s.size, None)
            if not isinstance(n, int) or n < 0:
                raise SpecError(f"spec {spec.name!r}: symmetric set {s.name} has size "
                                f"{s.size!r}, which is not a number of members on the spec "
                                f"({n!r})", spec=spec.name)
            self.sizes.append(n)
            movable = list(range(n)) if s.members is None else getattr(spec, s.members, None)
            if movable is None or not all(type(x) is int and 0 <= x < n for x in movable):
                raise SpecError(f"spec {spec.name!r}: symmetric set {s.name}'s members "
                                f"{s.members!r} must be ids in 0..{n - 1} (got {movable!r})",
                                spec=spec.name)
            self.movable.append(sorted(set(movable)))
            # marks that tell members apart in colours: 1 for interchangeable ones, a
            # distinct mark for each id that keeps its identity
            self.base_marks.append([1 if j in movable else _FIXED + j for j in range(n)])
        self.state_type = state_type
        self.fingerprint = fingerprint
        self.planner = _Planner(sets)
        plan = self.planner.record(state_type)
        if plan is None:
            names = ", ".join(s.name for s in sets)
            raise SpecError(
                f"spec {spec.name!r} declares symmetry over {names}, but its state type "
                f"{state_type.__name__} never mentions a member (annotate fields with "
                f"{sets[0].name}.Id or Annotated[tuple[...], {sets[0].name}.index])",
                spec=spec.name)
        self.permute_plan = plan  # the reference renaming, by closure plans
        # the same renaming as straight-line generated code (explorer/renamer.py)
        self.rename = compile_renamer(self.planner, state_type, self.sizes, spec.name)
        self.colourers = [_Colourer(self.planner, state_type, k) for k in range(len(sets))]
        self.identity = [list(range(n)) for n in self.sizes]
        custom = getattr(spec, "canonical", None)
        self.custom = custom if callable(custom) else None
        self._cheap = [self._compile_cheap_colours(k) for k in range(len(sets))]
        self.canonical_fingerprint = self._cached(self._canonical_fingerprint_of())

    # -- the group --------------------------------------------------------------------------
    def permute(self, state: Any, renamings: list[list[int]]) -> Any:
        """``state`` with every member of set k renamed to ``renamings[k][member]``."""
        return self.rename(state, _with_inverses(renamings))

    def all_renamings(self) -> Iterable[list[list[int]]]:
        """Every element of the group (the product of the sets' permutation groups)."""
        per_set = [[self._placed(k, p) for p in itertools.permutations(self.movable[k])]
                   for k in range(len(self.sets))]
        for combo in itertools.product(*per_set):
            yield [list(p) for p in combo]

    def random_renaming(self, rng: random.Random) -> list[list[int]]:
        out = []
        for k in range(len(self.sets)):
            p = list(self.movable[k])
            rng.shuffle(p)
            out.append(self._placed(k, p))
        return out

    def _placed(self, k: int, images: Iterable[int]) -> list[int]:
        """The renaming of set k sending its i-th interchangeable id to images[i]."""
        ren = list(range(self.sizes[k]))
        for old, new in zip(self.movable[k], images, strict=True):
            ren[old] = new
        return ren

    # -- canonical form -----------------------------------------------------------------------
    # canonical_fingerprint(state) -> int, set in __init__ (see _cached): the fingerprint of
    # the canonical member of state's orbit, equal for every state of the orbit.

    def _cached(self, compute: Callable[[Any, int], int]) -> Callable[[Any], int]:
        """``canonical_fingerprint``: ``compute(state, fingerprint(state))``, remembered by the
        state's own fingerprint.

        A search reaches the same concrete state along many paths (four times in five, on
        Raft), and a fingerprint costs far less than a canonical form. The memory is a
        direct-mapped table of ``CACHE_SLOTS`` entries: a new entry replaces whatever shared
        its slot, so the memory stays bounded and a forgotten entry is only computed again.
        """
        fp = self.fingerprint
        # memoryviews of zeroed numpy arrays: pages are mapped only when written, and an
        # item reads as a plain int (twice as fast as a numpy scalar)
        keys = memoryview(np.zeros(CACHE_SLOTS, dtype=np.int64))
        values = memoryview(np.zeros(CACHE_SLOTS, dtype=np.int64))
        mask = CACHE_MASK

        def canonical_fingerprint(state: Any) -> int:
            raw = fp(state)
            slot = raw & mask
            if keys[slot] == raw and raw:
                return values[slot]
            out = compute(state, raw)
            keys[slot] = raw
            values[slot] = out
            return out
        # the same memory for the C emitter, which reads it without a Python call
        canonical_fingerprint.cache = (keys, values, compute)  # type: ignore[attr-defined]
        return canonical_fingerprint

    def _canonical_fingerprint_of(self) -> Callable[[Any, int], int]:
        """The uncached canonical fingerprint ``(state, its fingerprint) -> int``: the same
        number as ``_canonical``, by a shorter road where the colours allow it."""
        fp = self.fingerprint
        if self.custom is not None:
            custom = self.custom
            return lambda state, raw: fp(custom(state))
        generic = self._canonical
        cheap = self._cheap[0]
        if (len(self.sets) != 1 or cheap is None or not self.colourers[0].relational
                or self.movable[0] != self.identity[0]):
            return lambda state, raw: generic(state)[1]
        # One set of interchangeable members whose cheap colours (their entries of the plain
        # indexed fields) are totally ordered: _canonical, unrolled. Members are sorted by
        # colour; without ties that order is the one candidate (and the state itself when it
        # is already in order); with few tie orders each is tried; with more, the refined
        # colours of _canonical decide.
        rename = self.rename
        members = range(self.sizes[0])
        identity = list(members)
        limit = CHEAP_TIE_ORDERS
        product = itertools.product
        permutations = itertools.permutations

        def canonical_fingerprint(state: Any, raw: int) -> int:
            colours = cheap(state)
            order = sorted(members, key=colours.__getitem__)
            orders = 1  # how many orders the ties leave: the product of the tie groups' sizes!
            run = 1
            prev = colours[order[0]] if order else None
            for m in order[1:]:
                c = colours[m]
                if c == prev:
                    run += 1
                    orders *= run
                else:
                    run = 1
                    prev = c
            if orders == 1:
                if order == identity:
                    return raw
                ren = [0] * len(order)
                for new, old in enumerate(order):
                    ren[old] = new
                return fp(rename(state, [ren, order]))
            if orders > limit:
                return generic(state)[1]
            groups: list[list[int]] = []
            for m in order:
                if groups and colours[groups[-1][0]] == colours[m]:
                    groups[-1].append(m)
                else:
                    groups.append([m])
            best = None
            for arrangement in product(*[permutations(g) for g in groups]):
                order = [m for g in arrangement for m in g]
                ren = [0] * len(order)
                for new, old in enumerate(order):
                    ren[old] = new
                f = fp(rename(state, [ren, order]))
                if best is None or f < best:
                    best = f
            return best
        n = self.sizes[0]
        if n > UNROLL_ORDERS:
            return canonical_fingerprint
        # The same function for states whose colours do not tie, written out for n members:
        # the colours read as in cheap(), the sorted order's renaming (and its inverse, the
        # order itself) looked up in a table of all n! of them.
        col = self.colourers[0]
        plain = [i for i, plan in col.indexed if plan is None]
        env: dict[str, Any] = {
            "MEMBERS": members, "IDENTITY": identity, "FP": fp, "RENAME": rename,
            "TIES": canonical_fingerprint,
            "TABLE": {order: [_inverse(order), list(order)]
                      for order in itertools.permutations(members)}}
        o = [f"o{m}" for m in members]
        lines = ["def canonical_fingerprint(state, raw):"]
        lines += [f"    f{i} = state[{i}]" for i in plain]
        rows = ["(" + "".join(f"f{i}[{m}], " for i in plain) + ")" for m in members]
        lines.append(f"    colours = ({''.join(row + ', ' for row in rows)})")
        lines.append("    order = sorted(MEMBERS, key=colours.__getitem__)")
        if n:
            lines.append(f"    {''.join(x + ', ' for x in o)}= order")
        # sorted, so ties are between neighbours: e{i} says whether o{i} ties with o{i+1}
        pairs = list(itertools.pairwise(o))
        for i, (a, b) in enumerate(pairs):
            lines.append(f"    e{i} = colours[{a}] == colours[{b}]")
        ties = " + ".join(f"e{i}" for i in range(len(pairs))) or "0"
        lines.append(f"    ties = {ties}")
        lines.append("    if not ties:")
        lines.append("        if order == IDENTITY:")
        lines.append("            return raw")
        lines.append(f"        return FP(RENAME(state, TABLE[{''.join(x + ', ' for x in o)}]))")
        # one tied pair: the two orders of that pair are the candidates
        if pairs:
            lines.append("    if ties == 1:")
        key = "".join(x + ", " for x in o)
        for i, (a, b) in enumerate(pairs):
            swapped = list(o)
            swapped[i], swapped[i + 1] = b, a
            other = "".join(x + ", " for x in swapped)
            lines += [f"        {'if' if i == 0 else 'elif'} e{i}:",
                      f"            x = FP(RENAME(state, TABLE[{key}]))",
                      f"            y = FP(RENAME(state, TABLE[{other}]))",
                      "            return x if x < y else y"]
        lines.append("    return TIES(state, raw)")
        exec(compile("\n".join(lines) + "\n", f"<protospec canonical form for {self.spec_name}>",
                     "exec"), env)
        return env["canonical_fingerprint"]

    def _compile_cheap_colours(self, k: int) -> Callable[[Any], Any] | None:
        """Generated ``cheap(state)``: for each member of set k, the tuple of its entries in the
        indexed fields that hold no member ids (what ``_colours`` computes first), where
        those are totally ordered; None where ``_colours`` does not use such colours."""
        col = self.colourers[k]
        plain = [i for i, plan in col.indexed if plan is None]
        n = self.sizes[k]
        if not (col.relational and col.plain_natural and plain) or n > UNROLL:
            return None
        lines = ["def cheap(s):"]
        lines += [f"    f{i} = s[{i}]" for i in plain]
        rows = ["(" + "".join(f"f{i}[{m}], " for i in plain) + ")" for m in range(n)]
        lines.append(f"    return ({''.join(row + ', ' for row in rows)})")
        namespace: dict[str, Any] = {}
        exec(compile("\n".join(lines) + "\n", f"<protospec colours for {self.spec_name}>",
                     "exec"), namespace)
        return namespace["cheap"]

    def canonical(self, state: Any) -> Any:
        """The canonical member of ``state``'s orbit (the least fingerprint among candidates)."""
        if self.custom is not None:
            return self.custom(state)
        return self._canonical(state)[0]

    def _canonical(self, state: Any) -> tuple[Any, int]:
        choices = [self._candidates(state, k) for k in range(len(self.sets))]
        fp = self.fingerprint
        if all(len(c) == 1 for c in choices):
            combo = [c[0] for c in choices]
            if combo == self.identity:  # already in canonical order
                return state, fp(state)
            t = self.rename(state, _with_inverses(combo))
            return t, fp(t)
        best = None
        best_fp = 0
        for combo in itertools.product(*choices):
            t = self.rename(state, _with_inverses(list(combo)))
            f = fp(t)
            if best is None or f < best_fp:
                best, best_fp = t, f
        return best, best_fp

    def _candidates(self, state: Any, k: int) -> list[list[int]]:
        """Renamings of set k to try: colour order, every order within ties where needed."""
        movable = self.movable[k]
        colours = self._colours(state, k)
        order = sorted(movable, key=colours.__getitem__)
        groups: list[list[int]] = []
        for m in order:
            if groups and colours[groups[-1][0]] == colours[m]:
                groups[-1].append(m)
            else:
                groups.append([m])
        tied = [g for g in groups if len(g) > 1]
        col = self.colourers[k]
        if not tied or not (col.relational or col.mixed):
            return [self._renaming(k, order)]
        out = []
        for arrangement in itertools.product(*[itertools.permutations(g) for g in groups]):
            out.append(self._renaming(k, [m for g in arrangement for m in g]))
        return out

    def _renaming(self, k: int, order: list[int]) -> list[int]:
        """The renaming of set k giving old id order[i] the i-th interchangeable id."""
        ren = list(range(self.sizes[k]))
        for new, old in zip(self.movable[k], order, strict=True):
            ren[old] = new
        return ren

    def _colours(self, state: Any, k: int) -> list[int]:
        col = self.colourers[k]
        if not col.relational:
            return self._colours_local(state, k)
        n = self.sizes[k]
        fp = self.fingerprint
        # First the cheap colours: each member's entries of the indexed fields that hold no
        # member ids (its term, role, log, ...). Where they leave few ties, trying every order
        # of the tied members is cheaper than refining with the relations between members.
        plain = [i for i, plan in col.indexed if plan is None]
        if plain:
            if self._cheap[k] is not None:
                cheap = self._cheap[k](state)
            elif col.plain_natural:
                cheap = [tuple([state[i][m] for i in plain]) for m in range(n)]
            else:
                cheap = [fp(tuple([state[i][m] for i in plain])) for m in range(n)]
            if _tie_orders([cheap[m] for m in self.movable[k]]) <= CHEAP_TIE_ORDERS:
                return cheap
        # Round 0: every other member abstracted to one "other" mark; then refine with colours.
        mentions = self._mentions(state, k)
        colours = [0] * n
        distinct = 1
        base = self.base_marks[k]
        for _round in range(n):
            new = []
            for m in range(n):
                if _round:
                    marks = [1 if j == m else (colours[j] + 2 if base[j] == 1 else base[j])
                             for j in range(n)]
                else:
                    marks = [1 if j == m else (2 if base[j] == 1 else base[j])
                             for j in range(n)]
                new.append(fp(self._signature(state, k, m, marks, mentions)))
            d = len(set(new))
            colours = new
            if d in (distinct, n) or not col.relational:
                break
            distinct = d
        return colours

    def _blind(self, k: int) -> list[Any]:
        """Probes for the other symmetric sets that see all their members alike, so that set
        k's colours do not depend on how the other sets' members are numbered."""
        return [_Marks(self.base_marks[j], self.fingerprint) if j != k else None
                for j in range(len(self.sizes))]

    def _colours_local(self, state: Any, k: int) -> list[int]:
        """Colours when no record mentions two members: one pass over the state suffices."""
        col = self.colourers[k]
        n = self.sizes[k]
        fp = self.fingerprint
        sigs: list[list[Any]] = [[] for _ in range(n)]
        if col.indexed:
            ren = self._blind(k)
            ren[k] = _Marks(self.base_marks[k], fp)
            for _i, plan in col.indexed:
                row = state[_i]
                for m in range(n):
                    x = row[m]
                    sigs[m].append(x if plan is None else plan(x, ren))
        for i, many, plan in col.other:
            value = state[i]
            hits: list[list[int]] = [[] for _ in range(n)]
            for e in (value if many else (value,)):
                probe = _SelfProbe(n)
                ren = self._blind(k)
                ren[k] = probe
                abstract = plan(e, ren)
                if probe.who >= 0:
                    hits[probe.who].append(fp(abstract))
            for m in range(n):
                h = hits[m]
                h.sort()
                sigs[m].append(tuple(h))
        if col.natural:
            return [tuple(x) for x in sigs]
        return [fp(tuple(x)) for x in sigs]

    def _signature(self, state: Any, k: int, m: int, marks: list[int],
                   mentions: list[list[tuple[Any, set[int]]]]) -> tuple:
        """Everything ``state`` says about member m of set k, other members as their marks."""
        col = self.colourers[k]
        ren = self._blind(k)
        ren[k] = _Marks(marks, self.fingerprint)
        parts: list[Any] = []
        for i, plan in col.indexed:
            row = state[i]
            x = row[m] if m < len(row) else None
            parts.append(x if plan is None else plan(x, ren))
        fp = self.fingerprint
        for (_i, _many, plan), rows in zip(col.other, mentions, strict=True):
            parts.append(tuple(sorted(fp(plan(e, ren)) for e, who in rows if m in who)))
        return tuple(parts)

    def _mentions(self, state: Any, k: int) -> list[list[tuple[Any, set[int]]]]:
        """For each non-indexed field: its records (set elements, or the value itself) that
        mention members of set k, with the members each mentions."""
        out = []
        for i, many, plan in self.colourers[k].other:
            value = state[i]
            rows = []
            for e in (value if many else (value,)):
                ren = self._blind(k)
                rec = _Recorder(self.sizes[k])
                ren[k] = rec
                plan(e, ren)
                if rec.seen:
                    rows.append((e, rec.seen))
            out.append(rows)
        return out


CACHE_SLOTS = 1 << 22  # canonical fingerprints remembered by raw fingerprint
CACHE_MASK = CACHE_SLOTS - 1
CHEAP_TIE_ORDERS = 6  # most tie orders tried before refining colours with relations
UNROLL_ORDERS = 6  # sets up to this size get a written-out canonical form (a table of n! orders)


def _tie_orders(colours: list[int]) -> int:
    """How many orders of the members the ties among ``colours`` leave."""
    counts: dict[int, int] = {}
    for c in colours:
        counts[c] = counts.get(c, 0) + 1
    out = 1
    for c in counts.values():
        for x in range(2, c + 1):
            out *= x
    return out


def _inverse(order: Iterable[int]) -> list[int]:
    """The renaming giving old id order[i] the id i."""
    order = list(order)
    out = [0] * len(order)
    for new, old in enumerate(order):
        out[old] = new
    return out


def _with_inverses(renamings: list[list[int]]) -> list[list[int]]:
    out = list(renamings)
    for ren in renamings:
        inv = [0] * len(ren)
        for old, new in enumerate(ren):
            inv[new] = old
        out.append(inv)
    return out


_FIXED = 1 << 40  # marks of ids that keep their identity start here (colours are 64-bit)


def build_symmetry(spec: Any, init_states: list[Any],
                   fingerprint: Callable[[Any], int]) -> Symmetry:
    """The Symmetry a spec declares (``symmetric = (RM, ...)``), checked for use."""
    declared = getattr(spec, "symmetric", ())
    if isinstance(declared, Symmetric):
        declared = (declared,)
    if not declared:
        raise UsageError(f"spec {spec.name!r} declares no symmetry: --symmetry needs "
                         f"`symmetric = (SET, ...)` on the spec (see docs/symmetry.md)")
    sets = []
    for d in declared:
        if not isinstance(d, Symmetric):
            raise SpecError(f"spec {spec.name!r}: symmetric must list Symmetric sets, not "
                            f"{d!r}", spec=spec.name)
        sets.append(d)
    types = {type(s) for s in init_states}
    if len(types) != 1 or not _is_namedtuple(next(iter(types))):
        raise SpecError(f"spec {spec.name!r}: symmetry needs states that are one NamedTuple "
                        f"type (got {', '.join(t.__name__ for t in types)})", spec=spec.name)
    return Symmetry(spec, sets, next(iter(types)), fingerprint)


# -- the soundness guard -------------------------------------------------------------------------


def guard(sym: Symmetry, spec: Any, states: Iterable[Any], *, seed: int = 0,
          tries: int = 2) -> None:
    """Refuse symmetry if a property or an action treats members differently on ``states``.

    For each state and a few random renamings π: every invariant must give the same verdict on
    s and π(s), and the successors of π(s) must fall in the same orbits as those of s. Raises
    SpecError naming the property or action and the state.
    """
    if getattr(spec, "assume_symmetric", False):
        return
    rng = random.Random(seed)
    canon = sym.canonical_fingerprint
    for s in states:
        for _ in range(tries):
            ren = sym.random_renaming(rng)
            if ren == sym.identity:
                continue
            t = sym.permute(s, ren)
            for name, inv in spec.invariant_fns:
                if bool(_spec_call(spec, f"invariant {name!r}", inv, s)) != bool(
                        _spec_call(spec, f"invariant {name!r}", inv, t)):
                    raise SpecError(_guard_message(sym, f"invariant {name!r}", s, t),
                                    spec=spec.name)
            mine = sorted(canon(u) for _label, u in _spec_call(
                spec, "an action", lambda x: list(spec.successors(x)), s))
            theirs = sorted(canon(u) for _label, u in _spec_call(
                spec, "an action", lambda x: list(spec.successors(x)), t))
            if mine != theirs:
                raise SpecError(_guard_message(sym, "an action", s, t), spec=spec.name)


def _spec_call(spec: Any, what: str, fn: Any, state: Any) -> Any:
    """``fn(state)``; an exception the spec's code raises is a spec error naming what raised,
    on which state (the guard runs the spec before the search does)."""
    try:
        return fn(state)
    except SpecError:
        raise
    except Exception as exc:
        raise SpecError(f"spec {spec.name!r}: {what} raised {type(exc).__name__}: {exc} on "
                        f"this state, while the symmetry guard checked the spec before the "
                        f"search:\n{state!r}", spec=spec.name, cause=exc) from exc


GUARD_STATES = 300  # states, breadth-first from the initial ones, on which the guard looks


def guard_first_states(sym: Symmetry, spec: Any, limit: int = GUARD_STATES) -> None:
    """Run :func:`guard` on the first ``limit`` states reachable breadth-first (a sample taken
    before the search, so that an unsound declaration stops the run before it reports)."""
    constraint = spec.constraint
    sample: list[Any] = []
    seen: set[int] = set()
    level = list(spec.init())
    while level and len(sample) < limit:
        nxt = []
        for s in level:
            f = sym.fingerprint(s)
            if f in seen:
                continue
            seen.add(f)
            sample.append(s)
            if len(sample) >= limit:
                break
            for _label, t in spec.successors(s):
                if constraint is None or constraint(t):
                    nxt.append(t)
        level = nxt
    guard(sym, spec, sample)


def _guard_message(sym: Symmetry, what: str, s: Any, t: Any) -> str:
    names = ", ".join(x.name for x in sym.sets)
    return (f"spec {sym.spec_name!r}: symmetry over {names} is not sound: {what} treats "
            f"members differently (it differs between a state and the same state with the "
            f"members renamed). State: {s!r}; renamed: {t!r}. Check the spec for a property or "
            f"action that names a particular member, or a field holding member ids that is not "
            f"annotated; a spec that is sure may set assume_symmetric = True.")


_ = typing  # typing is imported for get_type_hints' evaluation of string annotations
