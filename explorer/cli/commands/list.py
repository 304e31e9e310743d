"""``protospec list``: the built-in specs with their parameters, properties and variants."""

from __future__ import annotations

import argparse

from rich.table import Table

from ...errors import ProtospecError
from ...loader import builtin_spec_names, load_spec
from ...spec import describe_spec_class
from ..common import out_console, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list the built-in specs",
                       description="List the built-in specs with their one-line descriptions, "
                                   "parameters (with defaults), invariants and bug variants.")
    p.add_argument("spec", metavar="SPEC", nargs="?", default=None,
                   help="show only this spec, in full (a built-in name or a .py file)")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="also show parameters, properties and variants of each spec")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.spec is not None:
        return _one(args)
    specs, broken = [], []
    for name in builtin_spec_names():
        try:
            specs.append(describe_spec_class(load_spec(name)))
        except ProtospecError as exc:
            broken.append({"name": name, "error": str(exc)})
    if args.json:
        print_json({"specs": specs, "broken": broken})
        return 0 if not broken else 2
    con = out_console()
    if not con.is_terminal:
        con.width = 140  # piped or captured: no terminal to fit, so do not wrap at 80
    table = Table(box=None, pad_edge=False, show_header=True)
    table.add_column("spec", style="bold", no_wrap=True)
    table.add_column("description", ratio=5)
    table.add_column("variants", ratio=2)
    for d in specs:
        table.add_row(d["name"], d["summary"], ", ".join(d["variants"]) or "-")
    con.print(table)
    if not args.verbose:
        con.print("\n`protospec list -v` shows parameters, properties and variants in full.",
                  markup=False)
    if args.verbose:
        for d in specs:
            _print_full(con, d)
    for b in broken:
        con.print(f"spec {b['name']}: failed to load: {b['error']}", markup=False)
    return 0 if not broken else 2


def _print_full(con, d: dict) -> None:
    con.print(f"\n[bold]{d['name']}[/bold] — {d['summary']}")
    for k, v in d["parameters"].items():
        con.print(f"  -p {k}={v['default']}: {v['doc']}", markup=False)
    for k, doc in {**d["invariants"], **d["action_properties"]}.items():
        con.print(f"  property {k}: {doc}", markup=False)
    for k, v in d["variants"].items():
        con.print(f"  --variant {k}: {v['description']} (breaks {v['breaks']})", markup=False)


def _one(args: argparse.Namespace) -> int:
    """``protospec list SPEC``: that one spec in full (parameters, properties, variants)."""
    d = describe_spec_class(load_spec(args.spec))
    if args.json:
        print_json({"specs": [d], "broken": []})
        return 0
    con = out_console()
    if not con.is_terminal:
        con.width = 140
    _print_full(con, d)
    return 0
