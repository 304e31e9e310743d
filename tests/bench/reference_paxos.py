"""A hand-tuned breadth-first search of Paxos.tla over plain tuples: the yardstick for
protospec's ``specs/paxos.py`` (issue 23).

The model is Lamport's Paxos.tla as the spec has it: 3 acceptors, majority quorums, values
and ballots ``0..n-1``, the four actions Phase1a(b), Phase1b(a, b), Phase2a(b, v),
Phase2b(a, b, v) with the received message made an argument (so the same transitions), hence
the same counts: 3,921 distinct states for ballots {0, 1} (TLC's figure), 185,369 for
{0, 1, 2}. A state is ``(max_bal, max_vbal, max_val, msgs)``; a message is a plain tuple
whose first item says its type. Guards that do not depend on an argument are tested before
the loop over it. Every invariant of the spec is checked on every new state, written the same
way over tuples: Consistency, TypeOK, MsgInv and AccInv (the inductive invariant of the
TLAPS-checked Paxos.tla).

Run:  python tests/bench/reference_paxos.py [BALLOTS]
"""

from __future__ import annotations

import sys
import time
from itertools import combinations

try:
    from .reference_bfs import bfs
except ImportError:  # run as a script
    from reference_bfs import bfs

NONE = -1
M1A, M1B, M2A, M2B = 0, 1, 2, 3  # message tags: (M1A, bal), (M1B, acc, bal, mbal, mval),
#                                  (M2A, bal, val), (M2B, acc, bal, val)


def model(ballots: int, acceptors: int = 3, values: int = 2):
    """``(initial states, successors, invariants)`` of Paxos.tla."""
    A, B, V = range(acceptors), range(ballots), range(values)
    quorums = [frozenset(q) for q in combinations(A, acceptors // 2 + 1)]

    def shows_safe(reports, q, v):
        for a in q:
            if a not in reports:
                return False
        top = max(reports[a][3] for a in q)
        # Several reports may share the top ballot: they then carry the same value (MsgInv).
        return top == NONE or any(reports[a][3] == top and reports[a][4] == v for a in q)

    def successors(s):
        mb, mvb, mv, msgs = s
        out = []
        add = out.append
        for b in B:  # Phase1a(b)
            m = (M1A, b)
            if m not in msgs:
                add((mb, mvb, mv, msgs | {m}))
        for a in A:  # Phase1b(a, b)
            mba = mb[a]
            for b in B:
                if b > mba and (M1A, b) in msgs:
                    add((mb[:a] + (b,) + mb[a + 1:], mvb, mv,
                         msgs | {(M1B, a, b, mvb[a], mv[a])}))
        for b in B:  # Phase2a(b, v)
            if any(m[0] == M2A and m[1] == b for m in msgs):
                continue
            reports = {m[1]: m for m in msgs if m[0] == M1B and m[2] == b}
            for v in V:
                if any(shows_safe(reports, q, v) for q in quorums):
                    add((mb, mvb, mv, msgs | {(M2A, b, v)}))
        for a in A:  # Phase2b(a, b, v)
            mba = mb[a]
            for b in B:
                if b < mba:
                    continue
                for v in V:
                    if (M2A, b, v) in msgs:
                        add((mb[:a] + (b,) + mb[a + 1:], mvb[:a] + (b,) + mvb[a + 1:],
                             mv[:a] + (v,) + mv[a + 1:], msgs | {(M2B, a, b, v)}))
        return out

    def chosen(msgs):
        votes = {}
        for m in msgs:
            if m[0] == M2B:
                votes.setdefault((m[2], m[3]), set()).add(m[1])
        return {v for (_, v), accs in votes.items() if any(q <= accs for q in quorums)}

    def consistency(s):
        return len(chosen(s[3])) <= 1

    bal_range, val_range = range(NONE, ballots), range(NONE, values)

    def message_ok(m):
        kind = m[0]
        if kind == M1A:
            return len(m) == 2 and m[1] in B
        if kind == M1B:
            return (len(m) == 5 and m[1] in A and m[2] in B and NONE <= m[3] < ballots
                    and NONE <= m[4] < values)
        if kind == M2A:
            return len(m) == 3 and m[1] in B and m[2] in V
        if kind == M2B:
            return len(m) == 4 and m[1] in A and m[2] in B and m[3] in V
        return False

    def type_ok(s):
        mb, mvb, mv, msgs = s
        for a in A:
            if not (mb[a] in bal_range and mvb[a] in bal_range and mv[a] in val_range
                    and mvb[a] <= mb[a]):
                return False
        return all(message_ok(m) for m in msgs)

    def ballots_voted(msgs):
        return {(m[1], m[2]) for m in msgs if m[0] == M2B}

    def safe_at(s, v, b, voted):
        mb, msgs = s[0], s[3]
        return all(any(all((M2B, a, c, v) in msgs or (mb[a] > c and (a, c) not in voted)
                           for a in q)
                       for q in quorums)
                   for c in range(b))

    def msg_inv(s):
        mb, mvb, _, msgs = s
        voted = ballots_voted(msgs)
        proposals = {}
        for m in msgs:
            kind = m[0]
            if kind == M1B:
                _, acc, bal, mbal, mval = m
                if bal > mb[acc]:
                    return False
                if mbal == NONE:
                    if mval != NONE:
                        return False
                elif mval == NONE or (M2B, acc, mbal, mval) not in msgs:
                    return False
                if any((acc, c) in voted for c in range(mbal + 1, bal)):
                    return False
            elif kind == M2A:
                if proposals.setdefault(m[1], m[2]) != m[2]:
                    return False
                if not safe_at(s, m[2], m[1], voted):
                    return False
            elif kind == M2B and ((M2A, m[2], m[3]) not in msgs or m[2] > mvb[m[1]]):
                return False
        return True

    def acc_inv(s):
        mb, mvb, mv, msgs = s
        voted = ballots_voted(msgs)
        for a in A:
            vbal, val = mvb[a], mv[a]
            if (val == NONE) != (vbal == NONE) or vbal > mb[a]:
                return False
            if vbal >= 0 and (M2B, a, vbal, val) not in msgs:
                return False
            if any((a, c) in voted for c in range(vbal + 1, ballots)):
                return False
        return True

    none = (NONE,) * acceptors
    init = (none, none, none, frozenset())
    invariants = [("consistency", consistency), ("type_ok", type_ok), ("msg_inv", msg_inv),
                  ("acc_inv", acc_inv)]
    return [init], successors, invariants


def run(ballots: int) -> tuple[int, int, str | None]:
    """Explore Paxos with 3 acceptors, 2 values and ``ballots`` ballots."""
    return bfs(*model(ballots))


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    t0 = time.process_time()
    distinct, depth, violated = run(n)
    print(f"Paxos ballots={n}: {distinct:,} distinct states, depth {depth}, "
          f"violated: {violated}, {time.process_time() - t0:.2f} s CPU")
