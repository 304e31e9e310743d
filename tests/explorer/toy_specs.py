"""Small hand-made specs whose state graphs are known by heart, for testing the engine."""

from __future__ import annotations

from typing import NamedTuple

from protospec.explorer import Param, Spec, action, action_property, invariant


class Counter(NamedTuple):
    x: int
    y: int


class Grid(Spec):
    """Two counters stepping up to a bound: a grid whose shortest paths are known."""

    name = "grid"
    bound = Param(3, "largest value of each counter", min=0)
    target_x = Param(-1, "invariant x != target_x (use -1 for none)")

    def setup(self) -> None:
        self.steps = (1, 2)

    def init(self):
        yield Counter(0, 0)

    @action(step="steps")
    def inc_x(self, s: Counter, step: int) -> Counter | None:
        if s.x + step > self.bound:
            return None
        return Counter(s.x + step, s.y)

    @action
    def inc_y(self, s: Counter) -> Counter | None:
        if s.y >= self.bound:
            return None
        return Counter(s.x, s.y + 1)

    @invariant
    def x_not_target(self, s: Counter) -> bool:
        """x never reaches target_x."""
        return s.x != self.target_x


class Graph(Spec):
    """An explicit directed graph given as an adjacency table (states are node names)."""

    name = "graph"
    edges = Param((("a", "b"), ("b", "c"), ("a", "d"), ("d", "e"), ("e", "c"), ("c", "f")),
                  "directed edges (from, to)", type=tuple)
    inits = Param(("a",), "initial nodes", type=tuple)
    bad = Param("f", "the node the invariant forbids")
    deadlock = Param(False, "whether deadlock is an error")

    def setup(self) -> None:
        self.check_deadlock = self.deadlock
        self.nodes = sorted({b for _, b in self.edges})

    def init(self):
        yield from self.inits

    @action(dst="nodes")
    def edge(self, s: str, dst: str) -> str | None:
        """Follow an edge from the current node to dst."""
        return dst if (s, dst) in self.edges else None

    @invariant
    def not_bad(self, s: str) -> bool:
        """The forbidden node is never reached."""
        return s != self.bad


class Branching(Spec):
    """A nondeterministic action (many=True), two initial states, and an action property."""

    name = "branching"
    limit = Param(4, "largest value")
    allow_decrease = Param(False, "let jump go down too (breaks the action property)")

    def init(self):
        yield 0
        yield 1

    @action(many=True)
    def jump(self, s: int):
        """Go up by 1 or 2 (or, if allowed, down by 1)."""
        out = [t for t in (s + 1, s + 2) if t <= self.limit]
        if self.allow_decrease and s > 0:
            out.append(s - 1)
        return out

    @action_property
    def monotonic(self, s: int, t: int) -> bool:
        """The value never decreases."""
        return t >= s


class Bounded(Spec):
    """An unbounded counter, cut by a state constraint."""

    name = "bounded"
    cap = Param(5, "the constraint: explore only values <= cap")

    def init(self):
        yield 0

    @action
    def tick(self, s: int) -> int:
        return s + 1

    def constraint(self, s: int) -> bool:
        return s <= self.cap


class Broken(Spec):
    """Misbehaving specs, one mistake per parameter value, for the error paths."""

    name = "broken"
    mistake = Param("none", "which mistake to make",
                    choices=("none", "raise", "unhashable", "invariant_raises"))

    def init(self):
        yield (0,)

    @action
    def advance(self, s: tuple):
        if s[0] >= 2:
            return None
        if s[0] == 1 and self.mistake == "raise":
            raise ZeroDivisionError("division by zero in advance")
        if s[0] == 1 and self.mistake == "unhashable":
            return [s[0] + 1]
        return (s[0] + 1,)

    @invariant
    def small(self, s) -> bool:
        """The counter stays below 10."""
        if self.mistake == "invariant_raises" and s[0] == 2:
            return {}["missing"]
        return s[0] < 10
