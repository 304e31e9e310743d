"""Choosing which properties a run checks: ``--inv NAME`` and ``--action-prop NAME``.

Without these options every invariant and action property the spec declares is checked. Each
option names a declared property; given at least once, only the named ones of that kind are
checked.
"""

from __future__ import annotations

import argparse

from ..spec import Spec

__all__ = ["add_property_arguments", "apply_property_arguments"]


def add_property_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--inv", action="append", default=None, metavar="NAME",
                   help="check only this invariant (repeatable; default: all the spec declares)")
    p.add_argument("--action-prop", action="append", default=None, metavar="NAME",
                   help="check only this action property (repeatable; default: all)")


def apply_property_arguments(spec: Spec, args: argparse.Namespace) -> None:
    """Restrict ``spec`` to the properties named on the command line (UsageError if unknown)."""
    spec.restrict_properties(
        invariants=args.inv,
        action_properties=args.action_prop if args.action_prop is not None else
        ([] if args.inv is not None else None),
    )
