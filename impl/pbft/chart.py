"""A text sequence chart of a short simulated PBFT run with one Byzantine replica: one lane per
replica, one row per event, requests named by what they do (``x=1`` puts 1 under x).

    python -m protospec.impl.pbft.chart equivocating_primary [--rows 30]

docs/specs/pbft.md shows the chart of each strategy made by this command.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .byzantine import STRATEGIES
from .sim import PbftSchedule, run_schedule

__all__ = ["chart", "demo_schedule", "main"]

WIDTH = 26
#: Events worth a row (the rest, e.g. stable checkpoints, are summarized by the protocol).
SHOWN = ("send_pre_prepare", "send_prepare", "send_commit", "execute", "start_view_change",
         "send_new_view", "accept_new_view", "drop_unauthenticated", "byzantine_equivocate",
         "byzantine_conflicting_votes", "byzantine_replay", "byzantine_forge")


def demo_schedule(strategy: str) -> PbftSchedule:
    """Two clients, one request each, no network faults; the liar is the primary of view 0
    for the equivocating primary and for the silent replica (so that a view change shows),
    else replica 4. A liar's lane shows only its lies (rows starting with ``*``)."""
    liar = 1 if strategy in ("equivocating_primary", "silent") else 4
    return PbftSchedule(seed=1, nodes=4, duration_ms=900, delay_ms=(1, 5),
                        ops=((50, 1, "put", "x", "1"), (52, 2, "put", "y", "2")),
                        byzantine=((liar, strategy),))


def chart(events: list[dict[str, Any]], nodes: int, liars: dict[int, str], *,
          rows: int = 30) -> str:
    def req(rid: Any) -> str:
        """A request by what it does: ``x=1`` (a put) or ``x?`` (a get); null for null."""
        if rid is None:
            return "null"
        _, _, op, key, value = json.loads(rid)
        return f"{key}={value}" if op == "put" else f"{key}?"

    def label(ev: dict[str, Any]) -> str | None:
        a = ev["action"]
        if a == "send_pre_prepare":
            return f"PRE-PREPARE n{ev['seq']} {req(ev['req'])}"
        if a == "send_prepare":
            return f"PREPARE v{ev['v']} n{ev['seq']} {req(ev['req'])}"
        if a == "send_commit":
            return f"COMMIT v{ev['v']} n{ev['seq']} {req(ev['req'])}"
        if a == "execute":
            return f"EXECUTE n{ev['seq']} {req(ev['req'])}"
        if a == "start_view_change":
            certs = ",".join(f"n{n} {req(r)}" for _, n, r in ev["P"]) or "none"
            return f"VIEW-CHANGE v{ev['v']} P:{certs}"
        if a == "send_new_view":
            return f"NEW-VIEW v{ev['v']} O:{','.join(req(r) for _, r in ev['O']) or '-'}"
        if a == "accept_new_view":
            return f"enter v{ev['v']}, PREPARE O"
        if a == "drop_unauthenticated":
            return f"DROP forged {ev['kind']} (r{ev['claimed']})"
        if a == "byzantine_equivocate":
            a_, b_ = (req(r) for r in ev["reqs"])
            return f"* n{ev['seq']}: {a_} r2, {b_} r3,r4"
        if a == "byzantine_conflicting_votes":
            return f"* votes n{ev['seq']}: real/null"
        if a == "byzantine_replay":
            return f"* replay {ev['kind']} to r{ev['to']}"
        if a == "byzantine_forge":
            return f"* forge {ev['kind']} as r{ev['victim']}"
        return None

    head = ["  t ms"] + [f"r{k}" + (f" ({liars[k]})" if k in liars else "")
                         for k in range(1, nodes + 1)]
    lines = [" | ".join([head[0]] + [h[:WIDTH].ljust(WIDTH) for h in head[1:]]).rstrip()]
    lines.append("-" * len(lines[0]))
    shown = 0
    for ev in events:
        if ev["action"] not in SHOWN:
            continue
        if ev["n"] in liars and not ev["action"].startswith("byzantine_"):
            continue  # what a liar logs is not what it sent: only its lies are shown
        text = label(ev)
        if text is None:
            continue
        cells = [" " * WIDTH] * nodes
        cells[ev["n"] - 1] = text[:WIDTH].ljust(WIDTH)
        lines.append(" | ".join([f"{ev['t']:6d}"] + cells).rstrip())
        shown += 1
        if shown >= rows:
            lines.append("  ...")
            break
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m protospec.impl.pbft.chart")
    p.add_argument("strategy", choices=sorted(STRATEGIES))
    p.add_argument("--rows", type=int, default=30)
    args = p.parse_args(argv)
    schedule = demo_schedule(args.strategy)
    r = run_schedule(schedule)
    print(chart(r.events, schedule.nodes, dict(schedule.byzantine), rows=args.rows))
    acked = sum(e["type"] == "ok" for e in r.history)
    print(f"\n{acked} of {len(schedule.ops)} requests answered by f+1 matching replies; "
          f"{r.facts['view_changes']} view-change messages, "
          f"{r.facts['forged_dropped']} messages dropped for a bad MAC.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
