"""Checks shared by the catalogue test files (tests/specs/test_catalogue_*.py) and the spec tests.

Each catalogue file keeps its own tables (specs, pinned counts, variants and counterexample
lengths) and its own test functions; the checks those tests make live here, once:

* ``assert_default_exhausts``: the configuration exhausts with no violation, at the pinned
  distinct-state count and depth;
* ``assert_variant_caught``: the variant is caught with exactly one violation, of the property it
  says it breaks, by a shortest counterexample of the pinned length that replays through the
  spec's own successor relation and whose last state (or step) really violates that property
  (for ``deadlock``, the engine's property of a spec with ``check_deadlock``: has no successor;
  for a liveness property: the trace is a lasso whose last step closes its loop);
* ``assert_cli_names_broken_property``: ``check NAME --variant V`` exits 1, names the property
  and reports a shortest counterexample of the pinned length (a liveness property: a lasso);
* ``assert_documented``: a one-line summary, a cited source, variants that break declared
  properties, documented parameters and a docs page naming every variant and property;
* ``assert_replays``: every step of a trace is one of the spec's own labelled successors;
* ``start`` and ``run``: walk a spec by hand from its (single) initial state.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from protospec.explorer import Spec, Trace, check
from protospec.explorer.cli.main import main

DOCS = Path(__file__).resolve().parents[2] / "docs" / "specs"


def assert_replays(spec: Spec, trace: Trace) -> None:
    """Each step of ``trace`` is one of the spec's own successors, with the same label."""
    assert trace.steps[0].state in list(spec.init())
    for before, after in zip(trace.steps, trace.steps[1:]):
        labelled = {(label.action, label.args, t) for label, t in spec.successors(before.state)}
        assert (after.action, tuple(after.args.items()), after.state) in labelled, after.label


def assert_default_exhausts(spec_cls: type[Spec], distinct: int, depth: int,
                            params: dict[str, Any] | None = None) -> None:
    """``spec_cls(**params)`` exhausts with no violation at ``distinct`` states and ``depth``."""
    result = check(spec_cls(**(params or {})))
    assert result.ok, [v.property for v in result.violations]
    assert result.stats.complete
    assert (result.stats.distinct_states, result.stats.depth) == (distinct, depth)


def assert_variant_caught(spec_cls: type[Spec], variant: str, length: int) -> None:
    """check() finds one violation, of the variant's ``breaks``, by a replayable shortest trace."""
    cls = spec_cls.with_variant(variant)
    spec = cls()
    result = check(spec)
    (v,) = result.violations
    assert v.property == cls.variant_info.breaks
    assert len(v.trace) == length
    assert_replays(spec, v.trace)
    last, prev = v.trace.steps[-1].state, v.trace.steps[-2].state
    if v.kind == "invariant":
        assert v.property in spec.check_state(last)
    elif v.kind == "deadlock":
        assert list(spec.successors(last)) == []
    elif v.kind == "liveness":
        # A lasso: the last step returns to state ``loop``, or the last state stays for ever.
        loop = v.trace.loop
        assert loop is not None
        assert v.trace.stutters or (loop < len(v.trace) and v.trace.steps[loop].state == last)
    else:
        assert v.property in spec.check_step(prev, last)


def assert_cli_names_broken_property(spec_cls: type[Spec], variant: str, length: int,
                                     capsys: Any) -> None:
    """``check NAME --variant V`` exits 1 naming ``breaks``, with the shortest trace's length."""
    assert main(["check", spec_cls.name, "--variant", variant]) == 1
    out = capsys.readouterr().out
    cls = spec_cls.with_variant(variant)
    breaks = cls.variant_info.breaks
    assert breaks in out
    if breaks in {p.name for p in cls.liveness_properties()}:
        # A lasso is not a shortest trace; its length is pinned by assert_variant_caught.
        assert f"Liveness property {breaks} violated" in out
    else:
        assert f"Shortest counterexample: {length} step" in out


def assert_documented(spec_cls: type[Spec], *,
                      source_labels: tuple[str, ...] = ("Source:",)) -> None:
    """A one-line summary, a source, variants breaking declared properties, documented params,
    and a page docs/specs/NAME.md naming every variant and declared property in backquotes.

    ``source_labels``: the module docstring must contain one of them.
    """
    assert spec_cls.summary().endswith(".")
    assert len(spec_cls.summary()) <= 96
    doc = sys.modules[spec_cls.__module__].__doc__
    assert any(label in doc for label in source_labels), source_labels
    assert spec_cls.variants()
    declared = {p.name for p in spec_cls.invariants() + spec_cls.action_properties()
                + spec_cls.liveness_properties() + spec_cls.sometimes_properties()}
    if spec_cls.check_deadlock:
        declared.add("deadlock")  # the engine's own property, on for this spec
    assert {v.variant_info.breaks for v in spec_cls.variants().values()} <= declared
    assert all(p.doc for p in spec_cls.params().values())
    page = (DOCS / f"{spec_cls.name}.md").read_text()
    assert all(f"`{name}`" in page for name in spec_cls.variants())
    assert all(f"`{name}`" in page for name in declared)


def start(spec: Spec) -> Any:
    """The spec's first initial state."""
    return next(iter(spec.init()))


def run(spec: Spec, s: Any, *steps: tuple) -> Any:
    """Apply (action, kwargs) steps in order, failing if one is disabled."""
    for name, args in steps:
        t = spec.step(s, name, **args)
        assert t is not None, f"{name}({args}) is disabled"
        s = t
    return s
