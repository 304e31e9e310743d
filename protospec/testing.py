"""Checking specs from a pytest suite: ``assert_holds`` and ``assert_violates``.

::

    from protospec.testing import assert_holds, assert_violates

    def test_two_phase_commit_is_atomic():
        assert_holds("two_phase_commit", params={"rms": 3})

    def test_committing_early_breaks_atomicity():
        assert_violates("two_phase_commit", "atomicity", variant="tm_commits_early")

Each runs the same exhaustive breadth-first check as ``protospec check`` and, when the
expectation fails, raises ``AssertionError`` whose message is the report the CLI prints: the
violated property and the shortest counterexample, step by step. A check that stops early
(``max_states``, ``max_depth``) proves nothing about the states it did not reach, so
``assert_holds`` fails on it unless ``allow_incomplete=True``.

A spec is named as on the command line (a built-in name, or the path of a ``.py`` file), or
given as a Spec subclass or instance; ``params`` are the constructor's keyword arguments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .explorer.bfs import check
from .explorer.errors import UsageError
from .explorer.loader import load_spec
from .explorer.render.text import format_params, format_stats, format_violation
from .explorer.result import CheckResult, Violation
from .explorer.spec import Spec

__all__ = ["assert_holds", "assert_violates", "report", "run_check"]


def _build(spec: str | Path | type[Spec] | Spec, variant: str | None,
           params: dict[str, Any] | None) -> Spec:
    if isinstance(spec, Spec):
        if variant is not None or params:
            raise UsageError("give variant= and params= with a spec's name or class, not with "
                             "an instance (it is already built)")
        return spec
    cls = load_spec(str(spec)) if isinstance(spec, (str, Path)) else spec
    if not (isinstance(cls, type) and issubclass(cls, Spec)):
        raise TypeError(f"expected a spec name, path, Spec subclass or instance, not {spec!r}")
    return cls.with_variant(variant)(**(params or {}))


def _hunted(spec: Spec) -> frozenset[str] | None:
    """For a bug variant, the property it breaks: the search goes on to it (as the CLI does)."""
    info = type(spec).variant_info
    checked = {n for n, _ in spec.invariant_fns} | {n for n, _ in spec.action_property_fns}
    return frozenset({info.breaks}) if info is not None and info.breaks in checked else None


def run_check(spec: str | Path | type[Spec] | Spec, *, variant: str | None = None,
              params: dict[str, Any] | None = None, max_states: int | None = None,
              max_depth: int | None = None) -> CheckResult:
    """Build the spec and check it exhaustively, as ``protospec check`` does."""
    built = _build(spec, variant, params)
    return check(built, max_states=max_states, max_depth=max_depth, until=_hunted(built))


def report(result: CheckResult) -> str:
    """The check's report as ``protospec check`` prints it (header, violations, statistics)."""
    header = f"Check of {result.spec}"
    if result.params:
        header += f" ({format_params(result.params)})"
    if result.variant:
        header += f", variant {result.variant}"
    lines = [header, f"Properties checked: {', '.join(result.properties_checked) or 'none'}", ""]
    for v in result.violations:
        lines += [format_violation(v), ""]
    lines.append(format_stats(result))
    return "\n".join(lines)


def assert_holds(spec: str | Path | type[Spec] | Spec, *, variant: str | None = None,
                 params: dict[str, Any] | None = None, max_states: int | None = None,
                 max_depth: int | None = None, allow_incomplete: bool = False) -> CheckResult:
    """Check ``spec`` and fail, with the counterexample in the message, if any property is
    violated (or if the search stopped early, unless ``allow_incomplete``). Returns the result
    (its ``stats`` hold the state counts, to pin them in a test)."""
    result = run_check(spec, variant=variant, params=params, max_states=max_states,
                       max_depth=max_depth)
    if result.violations:
        raise AssertionError(f"expected every property to hold, but "
                             f"{result.violations[0].property} is violated:\n\n"
                             f"{report(result)}")
    if not result.stats.complete and not allow_incomplete:
        raise AssertionError(f"the search stopped early ({result.stats.stopped_by}), so it "
                             f"proves nothing about the states beyond; pass "
                             f"allow_incomplete=True to accept a bounded check\n\n"
                             f"{report(result)}")
    return result


def assert_violates(spec: str | Path | type[Spec] | Spec, prop: str | None = None, *,
                    variant: str | None = None, params: dict[str, Any] | None = None,
                    max_states: int | None = None, max_depth: int | None = None) -> Violation:
    """Check ``spec`` and fail unless a property (``prop``, if named) is violated. Returns the
    violation; its ``trace`` is the shortest counterexample."""
    result = run_check(spec, variant=variant, params=params, max_states=max_states,
                       max_depth=max_depth)
    if prop is not None and prop not in result.properties_checked:
        raise AssertionError(f"{result.spec} has no property {prop!r} (its properties: "
                             f"{', '.join(result.properties_checked)})")
    for v in result.violations:
        if prop is None or v.property == prop:
            return v
    expected = f"{prop} to be violated" if prop else "a property to be violated"
    if result.violations:
        raise AssertionError(f"expected {expected}, but only "
                             f"{', '.join(v.property for v in result.violations)} is:\n\n"
                             f"{report(result)}")
    how = ("every reachable state was explored" if result.stats.complete
           else f"the search stopped early ({result.stats.stopped_by})")
    raise AssertionError(f"expected {expected}, but none is: {how}\n\n{report(result)}")
