"""The invariant language says what the specs' own Python says.

Every built-in property of the specs in ``data/invariant_catalogue.toml`` is re-expressed in
the language there. For the correct spec and for every variant, a check with the Python
properties and a check with the language's versions (under the same names) must agree: the
same first violation (property, counterexample length, states) or none, and the same number of
distinct states. For a variant, the property it ``breaks`` is also checked on its own.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from protospec.explorer import check
from protospec.explorer.invariants import compile_expression
from protospec.explorer.loader import builtin_spec_names, load_spec

CATALOGUE = tomllib.loads((Path(__file__).parent / "data" / "invariant_catalogue.toml")
                          .read_text())


def _cases() -> list:
    out = []
    for name, entry in CATALOGUE.items():
        if name not in builtin_spec_names():
            continue  # a spec another change removed or renamed: nothing to compare
        base = load_spec(name)
        for variant in [None, *sorted(base.variants())]:
            params = entry.get("variant_params", {}).get(variant or "", entry["params"])
            out.append(pytest.param(name, variant, params, id=f"{name}-{variant or 'correct'}"))
    return out


def _properties(spec_name: str) -> dict[str, tuple[str, str]]:
    entry = CATALOGUE[spec_name]
    props = {n: ("invariant", e) for n, e in entry.get("invariants", {}).items()}
    props |= {n: ("action_property", e) for n, e in entry.get("action_properties", {}).items()}
    return props


def _python_spec(cls, params: dict, names: list[str]):
    spec = cls(**params)
    declared_inv = {p.name for p in spec.invariants()}
    spec.restrict_properties(invariants=[n for n in names if n in declared_inv],
                             action_properties=[n for n in names if n not in declared_inv])
    return spec


def _dsl_spec(cls, params: dict, props: dict[str, tuple[str, str]], names: list[str]):
    spec = cls(**params)
    spec.restrict_properties(invariants=[], action_properties=[])
    for name in names:
        kind, text = props[name]
        spec.add_property(name, kind, compile_expression(spec, text, kind=kind, name=name).fn)
    return spec


def _outcome(result) -> tuple:
    first = result.violations[0] if result.violations else None
    if first is None:
        return (None, None, None, result.stats.distinct_states)
    return (first.property, len(first.trace), first.trace.states, result.stats.distinct_states)


def test_the_catalogue_covers_every_declared_property() -> None:
    for name in CATALOGUE:
        if name not in builtin_spec_names():
            continue
        base = load_spec(name)
        declared = {p.name for p in base.invariants() + base.action_properties()}
        assert declared == set(_properties(name)), name


@pytest.mark.parametrize(("spec_name", "variant", "params"), _cases())
def test_language_and_python_give_the_same_verdict(spec_name: str, variant: str | None,
                                                   params: dict) -> None:
    cls = load_spec(spec_name).with_variant(variant)
    props = _properties(spec_name)
    probe = cls(**params)  # a spec may check only some of its properties in some modes (cap)
    active = {n for n, _ in probe.invariant_fns + probe.action_property_fns}
    names = [n for n in props if n in active]
    python = check(_python_spec(cls, params, names))
    dsl = check(_dsl_spec(cls, params, props, names))
    assert _outcome(dsl) == _outcome(python)
    if variant is None:
        assert not python.violations, "the correct spec must not violate its own properties"
        return
    broken = cls.variant_info.breaks
    if python.violations and python.violations[0].property == broken:
        return  # already compared above
    python = check(_python_spec(cls, params, [broken]))
    dsl = check(_dsl_spec(cls, params, props, [broken]))
    assert _outcome(dsl) == _outcome(python)
