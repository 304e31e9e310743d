"""The z3 encoding of two_phase_commit, for `protospec bmc` and `protospec prove`.

Each state variable of specs/two_phase_commit.py becomes z3 terms: ``rm_state[rm]`` an Int
holding the RMState number, ``tm_state`` an Int, ``tm_prepared`` one Bool per RM, and ``msgs``
one Bool per possible message (Prepared(rm) for each rm, commit, abort). Each action is the
same guard and update as in the spec, with every other variable unchanged. Tests check, for
every reachable state of small configurations, that z3's successors are exactly the spec's.

``inductive_atomicity`` is the strengthening of atomicity that makes it inductive (TCConsistent
alone is not: a state where an RM has aborted after preparing and the Commit message is in
flight satisfies it, and one step leaves it). Each conjunct says what the messages witness:

1. a Commit message was sent only by a TM that had heard Prepared from every RM, and then
   the TM is done and never sent Abort (and vice versa);
2. the TM records Prepared(rm) only after the message exists;
3. Prepared(rm) exists only if rm left the working state, and a working RM has not sent it;
4. an RM is committed only if Commit was sent; an RM that sent Prepared is aborted only if
   Abort was sent (an RM aborts on its own only while working, before sending Prepared);
5. while the TM is in init it has sent neither decision.
Together: a committed RM means Commit was sent, so Abort was not and every RM sent Prepared,
so no RM is aborted — atomicity.
"""

from __future__ import annotations

from typing import Any

import z3

from protospec.explorer.symbolic.encoding import Frame, SymbolicEncoding, bool_vector, int_vector
from protospec.specs.two_phase_commit import Decision, Prepared, RMState, State, TMState

WORKING, PREPARED, COMMITTED, ABORTED = (int(x) for x in RMState)
INIT, DONE = int(TMState.INIT), int(TMState.DONE)


class TwoPhaseCommitEncoding(SymbolicEncoding):
    """two_phase_commit as z3 formulas over frames (one frame per state of a behaviour)."""

    variants: dict = {}

    def declare(self, f: Frame) -> None:
        n = self.spec.rms
        f.rm_state = int_vector(f, "rm_state", n)
        f.tm_state = z3.Int(f.name("tm_state"))
        f.tm_prepared = bool_vector(f, "tm_prepared", n)
        f.prepared_msg = bool_vector(f, "msg_prepared", n)
        f.commit_msg = z3.Bool(f.name("msg_commit"))
        f.abort_msg = z3.Bool(f.name("msg_abort"))

    def _vars(self, f: Frame) -> list[Any]:
        return [*f.rm_state, f.tm_state, *f.tm_prepared, *f.prepared_msg, f.commit_msg,
                f.abort_msg]

    def _unchanged_except(self, f: Frame, g: Frame, *changed: Any) -> list[z3.BoolRef]:
        skip = {id(x) for x in changed}
        return [a == b for a, b in zip(self._vars(f), self._vars(g)) if id(a) not in skip]

    def init(self, f: Frame) -> z3.BoolRef:
        return z3.And(*(x == WORKING for x in f.rm_state), f.tm_state == INIT,
                      *(z3.Not(p) for p in f.tm_prepared),
                      *(z3.Not(m) for m in f.prepared_msg), z3.Not(f.commit_msg),
                      z3.Not(f.abort_msg))

    def action_instances(self) -> list[tuple[str, tuple[tuple[str, Any], ...]]]:
        return [(label.action, label.args) for label in self.spec.static_labels]

    def action(self, name: str, args: dict[str, Any], f: Frame, g: Frame) -> z3.BoolRef:
        return getattr(self, name)(f, g, **args)

    # -- actions (guard, update, unchanged), as in specs/two_phase_commit.py --------------------

    def tm_rcv_prepared(self, f: Frame, g: Frame, rm: int) -> z3.BoolRef:
        return z3.And(f.tm_state == INIT, f.prepared_msg[rm], g.tm_prepared[rm],
                      *self._unchanged_except(f, g, f.tm_prepared[rm]))

    def tm_commit(self, f: Frame, g: Frame) -> z3.BoolRef:
        return z3.And(f.tm_state == INIT, *f.tm_prepared, g.tm_state == DONE, g.commit_msg,
                      *self._unchanged_except(f, g, f.tm_state, f.commit_msg))

    def tm_abort(self, f: Frame, g: Frame) -> z3.BoolRef:
        return z3.And(f.tm_state == INIT, g.tm_state == DONE, g.abort_msg,
                      *self._unchanged_except(f, g, f.tm_state, f.abort_msg))

    def rm_prepare(self, f: Frame, g: Frame, rm: int) -> z3.BoolRef:
        return z3.And(f.rm_state[rm] == WORKING, g.rm_state[rm] == PREPARED,
                      g.prepared_msg[rm],
                      *self._unchanged_except(f, g, f.rm_state[rm], f.prepared_msg[rm]))

    def rm_choose_to_abort(self, f: Frame, g: Frame, rm: int) -> z3.BoolRef:
        return z3.And(f.rm_state[rm] == WORKING, g.rm_state[rm] == ABORTED,
                      *self._unchanged_except(f, g, f.rm_state[rm]))

    def rm_rcv_commit_msg(self, f: Frame, g: Frame, rm: int) -> z3.BoolRef:
        return z3.And(f.commit_msg, g.rm_state[rm] == COMMITTED,
                      *self._unchanged_except(f, g, f.rm_state[rm]))

    def rm_rcv_abort_msg(self, f: Frame, g: Frame, rm: int) -> z3.BoolRef:
        return z3.And(f.abort_msg, g.rm_state[rm] == ABORTED,
                      *self._unchanged_except(f, g, f.rm_state[rm]))

    # -- invariants -----------------------------------------------------------------------------

    def invariants(self) -> dict:
        return {"type_ok": self.type_ok, "atomicity": self.atomicity,
                "inductive_atomicity": self.inductive_atomicity}

    def domain(self, f: Frame) -> z3.BoolRef:
        return self.type_ok(f)

    def type_ok(self, f: Frame) -> z3.BoolRef:
        return z3.And(*(z3.And(x >= WORKING, x <= ABORTED) for x in f.rm_state),
                      z3.Or(f.tm_state == INIT, f.tm_state == DONE))

    def atomicity(self, f: Frame) -> z3.BoolRef:
        some_committed = z3.Or(*(x == COMMITTED for x in f.rm_state))
        some_aborted = z3.Or(*(x == ABORTED for x in f.rm_state))
        return z3.Not(z3.And(some_committed, some_aborted))

    def inductive_atomicity(self, f: Frame) -> z3.BoolRef:
        rms = range(self.spec.rms)
        return z3.And(
            self.type_ok(f),
            self.atomicity(f),
            z3.Implies(f.commit_msg, z3.And(*f.tm_prepared, f.tm_state == DONE,
                                            z3.Not(f.abort_msg))),
            z3.Implies(f.abort_msg, z3.And(f.tm_state == DONE, z3.Not(f.commit_msg))),
            *(z3.Implies(f.tm_prepared[i], f.prepared_msg[i]) for i in rms),
            *(z3.Implies(f.prepared_msg[i], f.rm_state[i] != WORKING) for i in rms),
            *(z3.Implies(f.rm_state[i] == COMMITTED, f.commit_msg) for i in rms),
            *(z3.Implies(z3.And(f.rm_state[i] == ABORTED, f.prepared_msg[i]), f.abort_msg)
              for i in rms),
            z3.Implies(f.tm_state == INIT, z3.And(z3.Not(f.commit_msg), z3.Not(f.abort_msg))),
        )

    # -- between z3 and the explicit spec --------------------------------------------------------

    def decode(self, model: z3.ModelRef, f: Frame) -> State:
        def val(x: Any) -> Any:
            return model.eval(x, model_completion=True)

        rms = range(self.spec.rms)
        msgs: set = {Prepared(i) for i in rms if z3.is_true(val(f.prepared_msg[i]))}
        if z3.is_true(val(f.commit_msg)):
            msgs.add(Decision.COMMIT)
        if z3.is_true(val(f.abort_msg)):
            msgs.add(Decision.ABORT)
        return State(
            tuple(RMState(val(x).as_long()) for x in f.rm_state),
            TMState(val(f.tm_state).as_long()),
            frozenset(i for i in rms if z3.is_true(val(f.tm_prepared[i]))),
            frozenset(msgs),
        )

    def encode(self, s: State, f: Frame) -> z3.BoolRef:
        rms = range(self.spec.rms)
        return z3.And(
            *(f.rm_state[i] == int(s.rm_state[i]) for i in rms),
            f.tm_state == int(s.tm_state),
            *(f.tm_prepared[i] == (i in s.tm_prepared) for i in rms),
            *(f.prepared_msg[i] == (Prepared(i) in s.msgs) for i in rms),
            f.commit_msg == (Decision.COMMIT in s.msgs),
            f.abort_msg == (Decision.ABORT in s.msgs),
        )


class TMCommitsEarlyEncoding(TwoPhaseCommitEncoding):
    """tm_commits_early: TMCommit without the every-RM-prepared guard."""

    def tm_commit(self, f: Frame, g: Frame) -> z3.BoolRef:
        return z3.And(f.tm_state == INIT, g.tm_state == DONE, g.commit_msg,
                      *self._unchanged_except(f, g, f.tm_state, f.commit_msg))


class RMAbortsAfterPrepareEncoding(TwoPhaseCommitEncoding):
    """rm_aborts_after_prepare: a prepared RM may abort on its own."""

    def rm_choose_to_abort(self, f: Frame, g: Frame, rm: int) -> z3.BoolRef:
        return z3.And(z3.Or(f.rm_state[rm] == WORKING, f.rm_state[rm] == PREPARED),
                      g.rm_state[rm] == ABORTED, *self._unchanged_except(f, g, f.rm_state[rm]))


class TMAbortsAfterCommitEncoding(TwoPhaseCommitEncoding):
    """tm_aborts_after_commit: TMAbort has no guard."""

    def tm_abort(self, f: Frame, g: Frame) -> z3.BoolRef:
        return z3.And(g.tm_state == DONE, g.abort_msg,
                      *self._unchanged_except(f, g, f.tm_state, f.abort_msg))


TwoPhaseCommitEncoding.variants = {
    "tm_commits_early": TMCommitsEarlyEncoding,
    "rm_aborts_after_prepare": RMAbortsAfterPrepareEncoding,
    "tm_aborts_after_commit": TMAbortsAfterCommitEncoding,
}

ENCODING = TwoPhaseCommitEncoding
