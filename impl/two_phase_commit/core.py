"""Sans-IO two-phase commit: a transaction manager (coordinator) and resource managers
(participants), as cores of the :mod:`impl.runtime.core` contract.

Source: Gray and Lamport, "Consensus on Transaction Commit" (ACM TODS 31(1), 2006), section 3,
the protocol ``specs/two_phase_commit.py`` models (TwoPhase.tla). Every protocol step is one
event named after the spec action it performs, with the transaction it belongs to:

* TM (node 1): ``tm_rcv_prepared`` (a participant's Prepared arrived), ``tm_commit`` (every
  participant prepared: the decision is logged, then Commit sent), ``tm_abort`` (a participant
  refused, the vote timed out, or a restarted TM was asked about a transaction it had not
  decided: presumed abort);
* RM (nodes 2..n+1, the spec's RMs 0..n-1): ``rm_prepare`` (it locked the transaction's key and
  logged its vote, then sends Prepared), ``rm_choose_to_abort`` (the key is locked by another
  transaction: it logs its refusal and says so), ``rm_rcv_commit_msg``, ``rm_rcv_abort_msg``
  (the outcome is logged, then applied and acknowledged);
* ``restart`` on every start, with the state recovered from the node's record log.

Durability (before anything is sent): the TM's decision per transaction; an RM's vote
(prepared, with the write it will make, or refused) and outcome. Recovery: a restarted TM
re-sends every logged decision; an RM that is prepared and has not heard the outcome asks the
TM for it every ``ASK_TICKS``; a TM asked about a transaction it has no decision for and is not
deciding (it restarted since) decides abort — it never decides commit without every vote in
hand, in memory, since its last start.

Messages (``type``): ``prepare`` (TM -> RM, with the key and value to write), ``prepared``
(the spec's Prepared), ``refused`` (an RM's no vote), ``commit`` / ``abort`` (the spec's
decision messages), ``ack`` (RM -> TM: outcome applied), ``decision_request`` (RM -> TM).

Client requests to the TM: ``{"op": "txn", "txn": id, "key", "value"}`` (write key=value at
every participant, atomically) and ``{"op": "status", "txn": id}``; both are answered with
``{"ok": true, "txn": id, "outcome": "committed"|"aborted"}`` once the decision is durable.

Bug switches (``bug=``), each a broken implementation conformance must catch:
``tm_commits_early`` (the TM commits once all but one participant prepared) and
``rm_forgets_prepared`` (a participant does not recover its prepared votes after a restart).
"""

from __future__ import annotations

import random
from typing import Any

from protospec.impl.runtime.core import Outbox, Ready, decode_record

__all__ = ["BUGS", "COORDINATOR", "Coordinator", "Participant", "make_node"]

BUGS = ("tm_commits_early", "rm_forgets_prepared")
COORDINATOR = 1  # the TM's node id; participants are 2..n+1
VOTE_TICKS = 20  # a TM aborts a transaction whose votes are not all in after this long
RESEND_TICKS = 10  # a TM re-sends a decision not yet acknowledged this often
ASK_TICKS = 10  # a prepared RM asks for the outcome this often


def make_node(node_id: int, processes: int, records: list[bytes], boot: int,
              rng: random.Random, bug: str | None) -> Coordinator | Participant:
    """The core of process ``node_id`` (1: the TM) rebuilt from its durable records."""
    if node_id == COORDINATOR:
        return Coordinator(processes - 1, records, boot, bug)
    return Participant(node_id, records, boot, bug)


class Coordinator:
    """The transaction manager. Invariant: ``decisions`` holds exactly what its log holds."""

    def __init__(self, rms: int, records: list[bytes], boot: int, bug: str | None) -> None:
        self.rms = rms
        self.bug = bug
        self.out = Outbox(COORDINATOR, boot)
        self.decisions: dict[str, str] = {}  # txn -> "commit" | "abort", durable
        for payload in records:
            r = decode_record(payload)
            self.decisions[r["txn"]] = r["decision"]
        self.active: dict[str, dict[str, Any]] = {}  # undecided since this start
        self.unacked: dict[str, set[int]] = {}  # decided txn -> RMs yet to acknowledge
        self.waiting: dict[str, list[Any]] = {}  # txn -> client handles awaiting the outcome
        self.ticks = 0
        sent = []
        for txn, decision in sorted(self.decisions.items()):
            self.unacked[txn] = set(self._rm_ids())
            sent += [self.out.send(rm, decision, txn=txn) for rm in self._rm_ids()]
        self.out.event("restart", boot=boot, state=self._summary(), sent=sent)

    def _rm_ids(self) -> range:
        return range(2, self.rms + 2)

    def _summary(self) -> dict[str, Any]:
        return {"decisions": dict(self.decisions)}

    def _state(self, txn: str) -> dict[str, Any]:
        a = self.active.get(txn)
        return {"tm": "done" if txn in self.decisions else "init",
                "prepared": sorted(a["prepared"]) if a else []}

    # -- inputs ----------------------------------------------------------------------------

    def request(self, handle: Any, req: dict[str, Any]) -> None:
        txn = str(req.get("txn", ""))
        op = req.get("op")
        if op not in ("txn", "status") or not txn:
            self.out.reply(handle, {"ok": False, "error": f"bad request {req!r}"})
            return
        if txn in self.decisions:
            self._answer(handle, txn)
            return
        self.waiting.setdefault(txn, []).append(handle)
        if txn in self.active:
            return
        if op == "status":
            self._decide(txn, "abort", None)  # unknown here since the last start: presumed abort
            return
        self.active[txn] = {"prepared": set(), "age": 0, "key": req.get("key"),
                            "value": req.get("value")}
        for rm in self._rm_ids():
            self.out.send(rm, "prepare", txn=txn, key=req.get("key"), value=req.get("value"))

    def step(self, m: dict[str, Any]) -> None:
        txn, kind, rm = m["txn"], m["type"], m["src"]
        if kind == "ack":
            self.unacked.get(txn, set()).discard(rm)
            return
        if txn in self.decisions:
            if kind in ("prepared", "refused", "decision_request"):
                self.out.send(rm, self.decisions[txn], txn=txn)
            return
        a = self.active.get(txn)
        if a is None:  # undecided and unknown since this start: presumed abort
            self._decide(txn, "abort", m)
            return
        if kind == "prepared":
            a["prepared"].add(rm)
            self.out.event("tm_rcv_prepared", txn=txn, recv=m, state=self._state(txn))
            need = self.rms - 1 if self.bug == "tm_commits_early" and self.rms > 1 else self.rms
            if len(a["prepared"]) >= need:
                self._decide(txn, "commit", None)
        elif kind == "refused":
            self._decide(txn, "abort", m)

    def tick(self) -> None:
        self.ticks += 1
        for txn, a in list(self.active.items()):
            a["age"] += 1
            if a["age"] >= VOTE_TICKS:
                self._decide(txn, "abort", None)
        if self.ticks % RESEND_TICKS == 0:
            for txn, a in self.active.items():  # a prepare or a vote may have been lost
                for rm in self._rm_ids():
                    if rm not in a["prepared"]:
                        self.out.send(rm, "prepare", txn=txn, key=a["key"], value=a["value"])
            for txn, rms in self.unacked.items():
                for rm in sorted(rms):
                    self.out.send(rm, self.decisions[txn], txn=txn)

    def ready(self) -> Ready:
        return self.out.take()

    # -- steps -----------------------------------------------------------------------------

    def _decide(self, txn: str, decision: str, recv: dict[str, Any] | None) -> None:
        """Log the decision, then send it to every RM and answer the clients waiting."""
        self.out.persist({"txn": txn, "decision": decision})
        self.decisions[txn] = decision
        self.active.pop(txn, None)
        self.unacked[txn] = set(self._rm_ids())
        sent = [self.out.send(rm, decision, txn=txn) for rm in self._rm_ids()]
        ev = self.out.event(f"tm_{decision}", txn=txn, sent=sent, state=self._state(txn))
        if recv is not None:
            ev["recv"] = recv
        for handle in self.waiting.pop(txn, []):
            self._answer(handle, txn)

    def _answer(self, handle: Any, txn: str) -> None:
        outcome = "committed" if self.decisions[txn] == "commit" else "aborted"
        self.out.reply(handle, {"ok": True, "txn": txn, "outcome": outcome})


class Participant:
    """A resource manager holding a key-value store. Invariant: ``txns`` holds exactly what
    its log holds (except with the ``rm_forgets_prepared`` bug)."""

    def __init__(self, node_id: int, records: list[bytes], boot: int, bug: str | None) -> None:
        self.id = node_id
        self.bug = bug
        self.out = Outbox(node_id, boot)
        self.txns: dict[str, str] = {}  # txn -> prepared | committed | aborted, durable
        self.writes: dict[str, tuple[str, Any]] = {}  # txn -> (key, value) it will write
        self.data: dict[str, Any] = {}  # the store: committed writes, in commit order
        for payload in records:
            r = decode_record(payload)
            txn = r["txn"]
            self.txns[txn] = r["state"]
            if r["state"] == "prepared":
                self.writes[txn] = (r["key"], r["value"])
            elif r["state"] == "committed" and txn in self.writes:
                key, value = self.writes[txn]
                self.data[key] = value
        if bug == "rm_forgets_prepared":  # the bug: undecided votes are not recovered
            self.txns = {t: s for t, s in self.txns.items() if s != "prepared"}
        self.locks: dict[str, str] = {self.writes[t][0]: t for t, s in self.txns.items()
                                      if s == "prepared"}
        self.ticks = 0
        self.out.event("restart", boot=boot, state={"txns": dict(self.txns)})

    def _state(self, txn: str) -> dict[str, Any]:
        return {"rm": self.txns.get(txn, "working")}

    def request(self, handle: Any, req: dict[str, Any]) -> None:
        if req.get("op") == "status":
            self.out.reply(handle, {"ok": True, "txns": dict(self.txns), "data": dict(self.data)})
        else:
            self.out.reply(handle, {"ok": False, "error": "send transactions to the TM"})

    def step(self, m: dict[str, Any]) -> None:
        txn, kind = m["txn"], m["type"]
        state = self.txns.get(txn)
        if kind == "prepare":
            if state == "prepared":
                self.out.send(COORDINATOR, "prepared", txn=txn)  # our vote was lost: again
            elif state == "aborted":
                self.out.send(COORDINATOR, "refused", txn=txn)
            elif state is None:
                self._vote(txn, m)
        elif kind in ("commit", "abort"):
            outcome = "committed" if kind == "commit" else "aborted"
            if state != outcome:
                self._outcome(txn, outcome, m)
            self.out.send(COORDINATOR, "ack", txn=txn)

    def tick(self) -> None:
        self.ticks += 1
        if self.ticks % ASK_TICKS == 0:
            for txn, state in sorted(self.txns.items()):
                if state == "prepared":
                    self.out.send(COORDINATOR, "decision_request", txn=txn)

    def ready(self) -> Ready:
        return self.out.take()

    def _vote(self, txn: str, m: dict[str, Any]) -> None:
        key, value = str(m["key"]), m["value"]
        if key in self.locks:  # another transaction holds the key: refuse
            self.txns[txn] = "aborted"
            self.out.persist({"txn": txn, "state": "aborted"})
            sent = self.out.send(COORDINATOR, "refused", txn=txn)
            self.out.event("rm_choose_to_abort", txn=txn, recv=m, sent=[sent],
                           state=self._state(txn))
            return
        self.txns[txn] = "prepared"
        self.writes[txn] = (key, value)
        self.locks[key] = txn
        self.out.persist({"txn": txn, "state": "prepared", "key": key, "value": value})
        sent = self.out.send(COORDINATOR, "prepared", txn=txn)
        self.out.event("rm_prepare", txn=txn, recv=m, sent=[sent], state=self._state(txn))

    def _outcome(self, txn: str, outcome: str, m: dict[str, Any]) -> None:
        self.txns[txn] = outcome
        self.out.persist({"txn": txn, "state": outcome})
        action = "rm_rcv_commit_msg" if outcome == "committed" else "rm_rcv_abort_msg"
        self.out.event(action, txn=txn, recv=m, state=self._state(txn))
        write = self.writes.get(txn)
        if write is not None:
            if outcome == "committed":
                self.data[write[0]] = write[1]
            if self.locks.get(write[0]) == txn:
                del self.locks[write[0]]
