"""A learner's walk through a spec's state space: what the explorer app shows, without the web.

A walk is a list of *tokens*, one per step, that names each step so that it can be replayed in
another process (a shared URL) and read by a person:

* token 0 is the number of the initial state among ``spec.init()`` (``"0"`` for most specs);
* each later token is the step's label as the text output prints it (``rm_prepare(rm=1)``),
  followed by ``#k`` when the same label leads to several successors (a ``many`` action, or two
  arguments printed alike) and the step took the k-th of them (k >= 1; ``#0`` is left out).

Tokens name labels, not positions in the enumeration order, so a link stays valid under every
PYTHONHASHSEED as long as the spec is the same (set-valued argument domains iterate in hash
order; labels do not).

Everything here goes through the Spec API (``init``, ``successors``, the selected invariants
and action properties) and the engine's own ``check`` for "the shortest violation from here":
the explorer has no search of its own. No web framework is imported: ``app.py`` serves this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..bfs import check
from ..chart_hints import attach_chart_hints
from ..errors import ProtospecError
from ..itf import decode_value, encode_value
from ..result import Step, Trace
from ..spec import ActionInstance, Spec
from ..values import state_vars

__all__ = ["Walk", "WalkError", "label_token", "search_from"]

class WalkError(ProtospecError):
    """A path or trace does not fit the spec (names the step and what was expected)."""


def label_token(label: ActionInstance, ordinal: int) -> str:
    """The token of the ``ordinal``-th successor labelled ``label``."""
    return f"{label}#{ordinal}" if ordinal else str(label)


@dataclass(frozen=True)
class Choice:
    """One enabled step from a state: its token, label, action name and the state it leads to."""

    token: str
    label: str
    action: str
    args: dict[str, Any]
    state: Any


class Walk:
    """A spec configuration and the operations the explorer needs on it.

    ``make_spec`` builds a fresh instance of the configuration (same class, parameters and
    selected properties); the walk keeps one for replaying and builds others for searches,
    whose initial state is replaced by the state searched from.
    """

    def __init__(self, make_spec: Callable[[], Spec]) -> None:
        self.make_spec = make_spec
        self.spec = make_spec()
        self.inits = list(self.spec.init())
        self.docs = self.spec.property_docs()

    # -- stepping ------------------------------------------------------------------------------

    def choices(self, state: Any) -> list[Choice]:
        """The steps enabled in ``state``, in the spec's enumeration order."""
        seen: dict[str, int] = {}
        out = []
        for label, t in self.spec.successors(state):
            text = str(label)
            k = seen.get(text, 0)
            seen[text] = k + 1
            out.append(Choice(label_token(label, k), text, label.action, label.arg_dict, t))
        return out

    def replay(self, tokens: list[str]) -> list[Step]:
        """The steps named by ``tokens`` (an empty list: the first initial state)."""
        tokens = tokens or ["0"]
        try:
            start = int(tokens[0])
            state = self.inits[start]
        except (ValueError, IndexError):
            raise WalkError(f"step 0 must name one of the {len(self.inits)} initial state(s) "
                            f"by number, not {tokens[0]!r}") from None
        steps = [Step(None, {}, state)]
        for depth, token in enumerate(tokens[1:], start=1):
            found = next((c for c in self.choices(state) if c.token == token), None)
            if found is None:
                raise WalkError(f"step {depth}: {token!r} is not enabled in the state before "
                                f"it (the path does not fit this spec configuration)")
            steps.append(Step(found.action, found.args, found.state))
            state = found.state
        return steps

    def trace(self, steps: list[Step]) -> Trace:
        """The steps as a Trace with the spec's chart hints, as ``check`` would report it."""
        spec = self.spec
        trace = Trace(list(steps), spec=spec.name, params=dict(spec.param_values),
                      variant=spec.variant_name)
        attach_chart_hints(spec, [trace])
        return trace

    # -- properties ----------------------------------------------------------------------------

    def invariants(self, state: Any) -> list[tuple[str, bool, str]]:
        """Every selected invariant's (name, value in ``state``, doc)."""
        return [(name, bool(fn(state)), self.docs.get(name, ""))
                for name, fn in self.spec.invariant_fns]

    def action_properties(self, before: Any, after: Any) -> list[tuple[str, bool, str]]:
        """Every selected action property's (name, value on the step, doc)."""
        return [(name, bool(fn(before, after)), self.docs.get(name, ""))
                for name, fn in self.spec.action_property_fns]

    # -- traces from elsewhere -----------------------------------------------------------------

    def tokens_of(self, steps: list[Step]) -> list[str]:
        """The tokens of a behaviour of this spec given by its states (e.g. from ``check``)."""
        index = next((i for i, s in enumerate(self.inits) if s == steps[0].state), None)
        if index is None:
            raise WalkError("step 0: the trace's initial state is not an initial state of "
                            "this spec configuration")
        tokens = [str(index)]
        state = steps[0].state
        for depth, step in enumerate(steps[1:], start=1):
            found = [c for c in self.choices(state) if c.state == step.state]
            if not found:
                raise WalkError(f"step {depth}: no enabled step leads to the trace's state")
            best = next((c for c in found if c.action == step.action), found[0])
            tokens.append(best.token)
            state = best.state
        return tokens

    def fit_itf(self, data: dict[str, Any]) -> list[str]:
        """The tokens of an ITF trace (as JSON) replayed on this spec configuration.

        States are compared as ITF values (the trace's, and the spec's encoded then decoded),
        so a trace written by ``check --trace-out``, Apalache or Quint fits when its variables
        hold the same values. Where several steps lead to the same state, the one with the
        trace's recorded action is taken.
        """
        if not isinstance(data, dict) or not isinstance(data.get("states"), list) \
                or not data["states"]:
            raise WalkError("not an ITF trace: expected a JSON object with a non-empty "
                            "'states' list")
        wanted = [_itf_state(raw, i) for i, raw in enumerate(data["states"])]
        actions = [((raw.get("#meta") or {}).get("action") if isinstance(raw, dict) else None)
                   for raw in data["states"]]
        index = next((i for i, s in enumerate(self.inits) if _canon(s) == wanted[0]), None)
        if index is None:
            raise WalkError("step 0: the trace's initial state is not an initial state of "
                            f"{self._config()}")
        tokens = [str(index)]
        state = self.inits[index]
        for depth in range(1, len(wanted)):
            found = [c for c in self.choices(state) if _canon(c.state) == wanted[depth]]
            if not found:
                raise WalkError(f"step {depth} of the trace is not a step of {self._config()}: "
                                f"no enabled action leads to its state")
            best = next((c for c in found if c.action == actions[depth]), found[0])
            tokens.append(best.token)
            state = best.state
        return tokens

    def _config(self) -> str:
        spec = self.spec
        params = ", ".join(f"{k}={v!r}" for k, v in spec.param_values.items())
        variant = f", variant {spec.variant_name}" if spec.variant_name else ""
        return f"{spec.name} ({params}){variant}"


def _canon(state: Any) -> dict[str, Any]:
    """A state's variables as plain values, as they would read back from an ITF file."""
    return {k: decode_value(encode_value(v)) for k, v in state_vars(state).items()}


def _itf_state(raw: Any, i: int) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise WalkError(f"ITF state {i} is not a JSON object")
    try:
        return {k: decode_value(v, f"state {i}, variable {k!r}") for k, v in raw.items()
                if k != "#meta"}
    except ProtospecError as exc:
        raise WalkError(str(exc)) from None


@dataclass
class SearchOutcome:
    """What a search from a state found: the steps after it to the first violation, or none."""

    steps: list[Step]  # steps[0] is the state searched from
    property: str | None
    kind: str | None
    distinct_states: int
    complete: bool


def search_from(walk: Walk, state: Any, *, max_states: int | None = None) -> SearchOutcome:
    """The shortest path from ``state`` to a violation, by the engine's breadth-first ``check``
    run on a fresh instance of the configuration whose only initial state is ``state``."""
    spec = walk.make_spec()
    spec.init = lambda: iter((state,))  # type: ignore[method-assign]
    result = check(spec, max_states=max_states)
    if not result.violations:
        return SearchOutcome([], None, None, result.stats.distinct_states,
                             result.stats.complete)
    v = result.violations[0]
    return SearchOutcome(list(v.trace.steps), v.property, v.kind, result.stats.distinct_states,
                         result.stats.complete)
