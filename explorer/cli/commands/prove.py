"""``protospec prove``: inductive invariants with z3, and quorum lemmas for every size."""

from __future__ import annotations

import argparse

from ...errors import UsageError
from ...itf import write_trace
from ...render.text import format_params, format_trace
from ..common import add_spec_arguments, confirm_overwrite, instantiate, out_console, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prove", help="prove an invariant inductive with z3, or the quorum lemmas",
        description="`protospec prove SPEC --inductive INV`: check with z3 that INV holds in "
                    "every initial state and is preserved by every action, for the given "
                    "parameters, without enumerating states; on failure print a counterexample "
                    "to induction. `protospec prove quorum`: prove the quorum-intersection "
                    "lemmas of Paxos, Raft and PBFT for every n (and show the counterexamples "
                    "when quorums are too small). Exit 0 proved, 1 not, 2 error.")
    add_spec_arguments(p)
    p.add_argument("--inductive", metavar="INV",
                   help="the invariant of the spec's symbolic encoding to prove inductive")
    p.add_argument("--trace-out", metavar="FILE",
                   help="save a counterexample to induction as an ITF trace")
    p.add_argument("--force", action="store_true", help="overwrite an existing --trace-out")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.spec == "quorum":
        return run_quorum(args)
    if not args.inductive:
        raise UsageError("give the invariant to prove: protospec prove SPEC --inductive INV")
    from ...symbolic import load_encoding, prove_inductive

    spec = instantiate(args)
    enc = load_encoding(spec)
    trace_path = (confirm_overwrite(args.trace_out, args.force, "--trace-out")
                  if args.trace_out else None)
    result = prove_inductive(enc, args.inductive)
    if result.counterexample is not None and trace_path is not None:
        write_trace(result.counterexample, trace_path, violation=args.inductive)
    if args.json:
        from ...itf import trace_to_itf

        print_json({"spec": spec.name, "params": spec.param_values, "variant": spec.variant_name,
                    "invariant": args.inductive, "proved": result.proved,
                    "initiation": result.initiation, "consecution": result.consecution,
                    "elapsed_s": round(result.elapsed_s, 4),
                    "counterexample": trace_to_itf(result.counterexample)
                    if result.counterexample else None})
        return 0 if result.proved else 1
    con = out_console()
    head = f"{spec.name} ({format_params(spec.param_values)})"
    if spec.variant_name:
        head += f", variant {spec.variant_name}"
    if result.proved:
        con.print(f"{args.inductive} is inductive for {head}: it holds initially and every "
                  f"action preserves it, so it holds in every reachable state. "
                  f"z3: {result.elapsed_s:.2f} s", markup=False)
        return 0
    if not result.initiation:
        con.print(f"{args.inductive} does not hold in this initial state of {head}:",
                  markup=False)
    else:
        con.print(f"{args.inductive} is not inductive for {head}. Counterexample to induction "
                  f"(a state satisfying {args.inductive}, maybe unreachable, and a step that "
                  f"breaks it):", markup=False)
    con.print("", markup=False)
    con.print(format_trace(result.counterexample), markup=False)
    con.print(f"\nz3: {result.elapsed_s:.2f} s", markup=False)
    return 1


def run_quorum(args: argparse.Namespace) -> int:
    from ...symbolic.quorum import LEMMAS, prove_lemma

    results = [prove_lemma(lemma) for lemma in LEMMAS]
    if args.json:
        print_json([{"lemma": r.lemma.name, "statement": r.lemma.statement,
                     "expected_valid": r.lemma.expect_valid, "valid": r.valid,
                     "counterexample": r.counterexample, "elapsed_s": round(r.elapsed_s, 4)}
                    for r in results])
        return 0 if all(r.as_expected for r in results) else 1
    con = out_console()
    for r in results:
        verdict = "PROVED for every size" if r.valid else "COUNTEREXAMPLE"
        con.print(f"{verdict}: {r.lemma.name}", markup=False)
        con.print(f"  {r.lemma.statement}", markup=False)
        if r.counterexample:
            con.print("  " + ", ".join(f"{k} = {v}" for k, v in r.counterexample.items()),
                      markup=False)
        if not r.as_expected:
            con.print("  (unexpected!)", markup=False)
        con.print(f"  z3: {r.elapsed_s * 1000:.0f} ms", markup=False)
    return 0 if all(r.as_expected for r in results) else 1
