"""A hand-tuned breadth-first search of TwoPhase.tla over plain tuples: the yardstick for
protospec's ``specs/two_phase_commit.py`` (issue 23).

The model is Lamport's TwoPhase.tla, step for step as the spec has it (the same seven actions,
the same self-loops, hence TLC's counts 288 / 1,568 / 8,832 / 50,816 / 296,448 / 1,745,408
distinct states for 3..8 resource managers). What a careful person writes by hand: a state is
``(rm_state, tm_state, tm_prepared, msgs)`` with small ints for the enumerations, a Prepared
message is the RM's number and the TM's decisions are two negative numbers in the same
frozenset; guards that do not depend on the RM are tested once per state. Both invariants
of the spec are checked on every new state: TPTypeOK and TCConsistent.

Run:  python tests/bench/reference_twophase.py [RMS]
"""

from __future__ import annotations

import sys
import time

try:
    from .reference_bfs import bfs
except ImportError:  # run as a script
    from reference_bfs import bfs

WORKING, PREPARED, COMMITTED, ABORTED = 0, 1, 2, 3
INIT, DONE = 0, 1
COMMIT, ABORT = -1, -2  # the TM's broadcasts; a Prepared message from rm is rm itself


def model(rms: int):
    """``(initial states, successors, invariants)`` of TwoPhase.tla with ``rms`` RMs."""
    rm_ids = range(rms)
    all_rms = frozenset(rm_ids)
    prepared_msg = [frozenset({rm}) for rm in rm_ids]
    commit_msg, abort_msg = frozenset({COMMIT}), frozenset({ABORT})
    valid_msgs = all_rms | {COMMIT, ABORT}
    rm_values = frozenset((WORKING, PREPARED, COMMITTED, ABORTED))

    def successors(s):
        rs, tm, tp, msgs = s
        out = []
        add = out.append
        if tm == INIT:
            for rm in rm_ids:  # TMRcvPrepared(rm)
                if rm in msgs:
                    add((rs, tm, tp | prepared_msg[rm], msgs))
            if tp == all_rms:  # TMCommit
                add((rs, DONE, tp, msgs | commit_msg))
            add((rs, DONE, tp, msgs | abort_msg))  # TMAbort
        for rm in rm_ids:  # RMPrepare(rm)
            if rs[rm] == WORKING:
                add((rs[:rm] + (PREPARED,) + rs[rm + 1:], tm, tp, msgs | prepared_msg[rm]))
        for rm in rm_ids:  # RMChooseToAbort(rm)
            if rs[rm] == WORKING:
                add((rs[:rm] + (ABORTED,) + rs[rm + 1:], tm, tp, msgs))
        if COMMIT in msgs:
            for rm in rm_ids:  # RMRcvCommitMsg(rm)
                add((rs[:rm] + (COMMITTED,) + rs[rm + 1:], tm, tp, msgs))
        if ABORT in msgs:
            for rm in rm_ids:  # RMRcvAbortMsg(rm)
                add((rs[:rm] + (ABORTED,) + rs[rm + 1:], tm, tp, msgs))
        return out

    def type_ok(s):
        rs, tm, tp, msgs = s
        return (len(rs) == rms and rm_values.issuperset(rs) and tm in (INIT, DONE)
                and tp <= all_rms and msgs <= valid_msgs)

    def atomicity(s):
        rs = s[0]
        return not (COMMITTED in rs and ABORTED in rs)

    init = ((WORKING,) * rms, INIT, frozenset(), frozenset())
    return [init], successors, [("type_ok", type_ok), ("atomicity", atomicity)]


def run(rms: int) -> tuple[int, int, str | None]:
    """Explore TwoPhase with ``rms`` RMs: ``(distinct states, depth, violated or None)``."""
    return bfs(*model(rms))


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    t0 = time.process_time()
    distinct, depth, violated = run(n)
    print(f"TwoPhase rms={n}: {distinct:,} distinct states, depth {depth}, "
          f"violated: {violated}, {time.process_time() - t0:.2f} s CPU")
