"""A sans-IO Multi-Paxos node: acceptor, proposer (leader) and learner of a replicated
key-value store, as a core of the :mod:`impl.runtime.core` contract.

Source: Lamport, "Paxos Made Simple" (2001), sections 2 and 3; van Renesse and Altinbuken,
"Paxos Made Moderately Complex" (2015). The steps are those of ``specs/multi_paxos.py``, and
each is one event named after the spec action it performs:

* ``phase1a`` — the node starts ballot ``b`` (ballots ``k * n + id - 1`` belong to node ``id``)
  and asks every acceptor for a promise; ballot 0 belongs to node 1, which starts as its
  leader without phase 1 (every command is safe in the lowest ballot);
* ``phase1b`` — an acceptor promises ``b`` (above every ballot it joined) and reports its vote
  in every slot;
* ``become_leader`` — promises from a majority ``q`` are in: for every slot the leader keeps
  the command voted for in the highest reported ballot (``forced``), which it must propose
  again there; phase 1 is over for all slots at once;
* ``phase2a`` — the leader proposes a command for its next slot (slot order, from slot 0: the
  forced command, a no-op where a later slot is forced, then client commands it has not yet
  placed in this ballot);
* ``phase2b`` — an acceptor votes for the proposal unless it promised a higher ballot;
* ``learn`` — the node learns its next slot's command (a majority voted for it in one
  ballot; the votes arrive as 2b messages, or the leader's heartbeat reports what it learned)
  and executes it;
* ``restart`` — the node started from its record log.

Durable before anything leaves the node (:mod:`impl.runtime.storage` records): a ballot it
starts, a promise, a vote, and a learned command. The log has ``SLOTS`` slots (no compaction,
as in the spec); a full log refuses new commands.

Messages (``type``): ``1a``, ``1b``, ``2a``, ``2b`` (the spec's), ``nack`` (an acceptor's
"I promised a higher ballot"), ``heartbeat`` (the leader's ballot and learned log).

Client requests: ``{"op": "put"|"get"|"delete", "key", "value"?, "client", "seq"}`` answered
``{"ok": true, "result": ...}`` once executed, or ``{"ok": false, "error": "not_leader",
"leader": id or null}``; ``{"op": "status"}`` -> role, ballot, learned slots.

Bug switches (``bug=``): ``acceptor_forgets_promise`` (promises are not made durable: a
restarted acceptor knows only the ballots it voted in) and ``proposer_ignores_phase1_values``
(a new leader treats every slot as free, ignoring the votes its promises report).
"""

from __future__ import annotations

import json
import random
from typing import Any

from protospec.impl.runtime.core import Outbox, Ready, decode_record

__all__ = ["BUGS", "SLOTS", "PaxosNode", "apply_command", "encode_command", "make_node"]

BUGS = ("acceptor_forgets_promise", "proposer_ignores_phase1_values")
SLOTS = 32  # the log's capacity
NONE = -1
HEARTBEAT_TICKS = 3
RETRY_TICKS = 10  # a leader re-sends the proposals it has not seen chosen this often
ELECTION_TICKS = (15, 30)  # a follower that hears no leader for this long starts a ballot


def make_node(node_id: int, processes: int, records: list[bytes], boot: int,
              rng: random.Random, bug: str | None) -> PaxosNode:
    return PaxosNode(node_id, processes, records, boot, rng, bug)


def encode_command(op: str, key: str, value: str | None, *, client: str, seq: int) -> str:
    """A client command as the string the log holds (equal requests give equal strings)."""
    return json.dumps({"op": op, "key": key, "value": value, "client": client, "seq": seq},
                      separators=(",", ":"), sort_keys=True)


def apply_command(data: dict[str, Any], results: dict[tuple[str, int], Any],
                  command: str) -> Any:
    """Execute one command on ``data``; a client's (client, seq) runs once, later copies
    return the first result. Returns the result (a put: the previous value)."""
    cmd = json.loads(command)
    if cmd.get("op") == "noop":
        return None
    key = (cmd["client"], cmd["seq"])
    if key in results:
        return results[key]
    k = cmd["key"]
    if cmd["op"] == "put":
        result = data.get(k)
        data[k] = cmd["value"]
    elif cmd["op"] == "delete":
        result = data.pop(k, None) is not None
    else:
        result = data.get(k)
    results[key] = result
    return result


class PaxosNode:
    """One replica. Invariants: ``max_bal``, ``votes``, ``used_bal`` and ``learned`` hold
    exactly what the record log holds (except with the ``acceptor_forgets_promise`` bug)."""

    def __init__(self, node_id: int, n: int, records: list[bytes], boot: int,
                 rng: random.Random, bug: str | None) -> None:
        self.id = node_id
        self.n = n
        self.majority = n // 2 + 1
        self.rng = rng
        self.bug = bug
        self.out = Outbox(node_id, boot)
        # acceptor
        self.max_bal = NONE
        self.votes: dict[int, tuple[int, str]] = {}  # slot -> (ballot, command)
        # proposer
        self.used_bal = NONE  # the highest ballot this node ever started (durable)
        self.bal = NONE  # the ballot it is running now (phase 1 or leading)
        self.phase = "idle"  # idle | phase1 | leader
        self.promises: dict[int, dict[int, tuple[int, str]]] = {}
        self.promise_msgs: dict[int, dict[str, Any]] = {}  # the 1b messages behind them
        self.proposed: list[str] = []
        self.proposed_set: set[str] = set()
        self.queue: list[str] = []  # client commands waiting for phase 1 to end
        self.waiting: dict[str, list[Any]] = {}  # command -> client handles
        # learner and replica
        self.learned: list[tuple[int, str]] = []
        self.heard: dict[int, dict[tuple[int, str], dict[int, str]]] = {}  # slot -> vote -> acc: id
        self.data: dict[str, Any] = {}
        self.results: dict[tuple[str, int], Any] = {}
        # leadership
        self.seen_bal = NONE  # the highest ballot heard of
        self.leader_hint: int | None = 1
        self.ticks = 0
        self.quiet = 0
        self.timeout = rng.randint(*ELECTION_TICKS)
        for payload in records:
            self._recover(decode_record(payload))
        if bug == "acceptor_forgets_promise":
            self.max_bal = max((b for b, _ in self.votes.values()), default=NONE)
        for _, command in self.learned:
            apply_command(self.data, self.results, command)
        self.seen_bal = max(self.seen_bal, self.max_bal, self.used_bal)
        state = self._summary()
        if node_id == 1 and self.used_bal == NONE:
            # Ballot 0's leader needs no phase 1 (SafeAt(v, 0) holds vacuously).
            self.out.persist({"k": "ballot", "b": 0})
            self.used_bal = self.bal = self.seen_bal = 0
            self.phase = "leader"
        self.out.event("restart", boot=boot, state=state)

    def _recover(self, r: dict[str, Any]) -> None:
        k = r["k"]
        if k == "ballot":
            self.used_bal = max(self.used_bal, r["b"])
        elif k == "promise":
            self.max_bal = max(self.max_bal, r["b"])
        elif k == "vote":
            self.max_bal = max(self.max_bal, r["b"])
            self.votes[r["s"]] = (r["b"], r["c"])
        elif k == "learn" and r["s"] == len(self.learned):
            self.learned.append((r["b"], r["c"]))

    def _summary(self) -> dict[str, Any]:
        return {"max_bal": self.max_bal,
                "votes": {str(s): [b, c] for s, (b, c) in sorted(self.votes.items())},
                "learned": [[b, c] for b, c in self.learned]}

    @property
    def is_leader(self) -> bool:
        return self.phase == "leader"

    # -- inputs ----------------------------------------------------------------------------

    def tick(self) -> None:
        self.ticks += 1
        if self.is_leader:
            if self.ticks % HEARTBEAT_TICKS == 0:
                learned = [[b, c] for b, c in self.learned]
                for peer in self._others():
                    self.out.send(peer, "heartbeat", b=self.bal, learned=learned)
            if self.ticks % RETRY_TICKS == 0:
                for slot in range(len(self.learned), len(self.proposed)):
                    for acc in range(1, self.n + 1):
                        self.out.send(acc, "2a", b=self.bal, slot=slot,
                                      cmd=self.proposed[slot])
            return
        self.quiet += 1
        if self.quiet >= self.timeout:
            self._start_ballot()

    def step(self, m: dict[str, Any]) -> None:
        kind = m["type"]
        b = m["b"]
        if b > self.seen_bal:
            self.seen_bal = b
        if self.bal < b and self.phase != "idle":
            self._step_down()  # a higher ballot is under way: ours can no longer win
        getattr(self, f"_on_{kind}")(m)

    def request(self, handle: Any, req: dict[str, Any]) -> None:
        op = req.get("op")
        if op == "status":
            self.out.reply(handle, {"ok": True, "id": self.id, "role": self.phase,
                                    "ballot": self.bal, "leader": self.leader_hint,
                                    "learned": len(self.learned)})
            return
        if op not in ("put", "get", "delete"):
            self.out.reply(handle, {"ok": False, "error": f"unknown op {op!r}"})
            return
        if not self.is_leader:
            self.out.reply(handle, {"ok": False, "error": "not_leader",
                                    "leader": self.leader_hint})
            return
        command = encode_command(op, str(req.get("key")), req.get("value"),
                                 client=str(req.get("client", "")), seq=int(req.get("seq", 0)))
        key = (str(req.get("client", "")), int(req.get("seq", 0)))
        if key in self.results:
            self.out.reply(handle, {"ok": True, "result": self.results[key]})
            return
        self.waiting.setdefault(command, []).append(handle)
        if command not in self.proposed_set:
            self._propose(command)

    def ready(self) -> Ready:
        return self.out.take()

    # -- proposer --------------------------------------------------------------------------

    def _others(self) -> list[int]:
        return [k for k in range(1, self.n + 1) if k != self.id]

    def _start_ballot(self) -> None:
        """Phase1a: start the next ballot this node owns above every ballot it has heard of."""
        floor = max(self.seen_bal, self.used_bal)
        b = (floor // self.n) * self.n + self.id - 1
        while b <= floor:
            b += self.n
        self._step_down()
        self.out.persist({"k": "ballot", "b": b})
        self.used_bal = self.bal = self.seen_bal = b
        self.phase = "phase1"
        self.promises, self.promise_msgs = {}, {}
        self.quiet = 0
        self.timeout = self.rng.randint(*ELECTION_TICKS)
        sent = [self.out.send(acc, "1a", b=b) for acc in range(1, self.n + 1)]
        self.out.event("phase1a", b=b, sent=sent)

    def _step_down(self) -> None:
        """Stop leading (or trying to): clients waiting here must try the new leader."""
        self.phase = "idle"
        self.proposed, self.proposed_set, self.queue = [], set(), []
        for handles in self.waiting.values():
            for h in handles:
                self.out.reply(h, {"ok": False, "error": "not_leader", "leader": None})
        self.waiting = {}
        self.quiet = 0

    def _on_1b(self, m: dict[str, Any]) -> None:
        if self.phase != "phase1" or m["b"] != self.bal:
            return
        self.promises[m["src"]] = {int(s): (v[0], v[1]) for s, v in m["votes"].items()}
        self.promise_msgs[m["src"]] = m
        if len(self.promises) < self.majority:
            return
        forced: dict[int, str] = {}
        if self.bug != "proposer_ignores_phase1_values":
            best: dict[int, tuple[int, str]] = {}
            for votes in self.promises.values():
                for slot, vote in votes.items():
                    if slot not in best or vote[0] > best[slot][0]:
                        best[slot] = vote
            forced = {s: v[1] for s, v in best.items()}
        self.phase = "leader"
        self.leader_hint = self.id
        self.out.event("become_leader", b=self.bal, q=sorted(self.promises),
                       forced={str(s): c for s, c in sorted(forced.items())},
                       recv=[self.promise_msgs[k] for k in sorted(self.promises)])
        last = max(forced, default=-1)
        for slot in range(last + 1):
            self._propose(forced.get(slot) or _noop(self.bal, slot))
        queued, self.queue = self.queue, []
        for command in queued:
            if command not in self.proposed_set:
                self._propose(command)

    def _propose(self, command: str) -> None:
        """Phase2a for the next slot."""
        slot = len(self.proposed)
        if slot >= SLOTS:
            for h in self.waiting.pop(command, []):
                self.out.reply(h, {"ok": False, "error": "log_full"})
            return
        self.proposed.append(command)
        self.proposed_set.add(command)
        sent = [self.out.send(acc, "2a", b=self.bal, slot=slot, cmd=command)
                for acc in range(1, self.n + 1)]
        self.out.event("phase2a", b=self.bal, slot=slot, cmd=command, sent=sent)

    def _on_nack(self, m: dict[str, Any]) -> None:
        pass  # the higher ballot it carries made this node step down (see step)

    def _on_heartbeat(self, m: dict[str, Any]) -> None:
        if m["b"] < self.seen_bal:
            return
        self.leader_hint = m["src"]
        self.quiet = 0
        learned = m["learned"]
        while len(self.learned) < len(learned):
            b, c = learned[len(self.learned)]
            self._learn(b, c, [m])

    # -- acceptor --------------------------------------------------------------------------

    def _on_1a(self, m: dict[str, Any]) -> None:
        b = m["b"]
        if b <= self.max_bal:
            if b < self.max_bal:
                self.out.send(m["src"], "nack", b=self.max_bal)
            return
        self.max_bal = b
        if self.bug != "acceptor_forgets_promise":
            self.out.persist({"k": "promise", "b": b})
        votes = {str(s): [vb, c] for s, (vb, c) in sorted(self.votes.items())}
        sent = self.out.send(m["src"], "1b", b=b, votes=votes)
        self.out.event("phase1b", b=b, recv=m, sent=[sent], state=self._acc_state())

    def _on_2a(self, m: dict[str, Any]) -> None:
        b, slot, command = m["b"], m["slot"], m["cmd"]
        if b < self.max_bal:
            self.out.send(m["src"], "nack", b=self.max_bal)
            return
        if self.votes.get(slot) == (b, command) and self.max_bal == b:
            # A copy of a proposal already voted for: the vote again, nothing new.
            for k in range(1, self.n + 1):
                self.out.send(k, "2b", b=b, slot=slot, cmd=command)
            return
        self.max_bal = b
        self.votes[slot] = (b, command)
        self.out.persist({"k": "vote", "b": b, "s": slot, "c": command})
        sent = [self.out.send(k, "2b", b=b, slot=slot, cmd=command) for k in range(1, self.n + 1)]
        self.out.event("phase2b", b=b, slot=slot, cmd=command, recv=m, sent=sent,
                       state=self._acc_state())

    def _acc_state(self) -> dict[str, Any]:
        return {"max_bal": self.max_bal}

    # -- learner ---------------------------------------------------------------------------

    def _on_2b(self, m: dict[str, Any]) -> None:
        slot = m["slot"]
        if slot < len(self.learned):
            return
        vote = (m["b"], m["cmd"])
        self.heard.setdefault(slot, {}).setdefault(vote, {})[m["src"]] = m
        while True:
            slot = len(self.learned)
            found = None
            for (b, c), accs in self.heard.get(slot, {}).items():
                if len(accs) >= self.majority:
                    found = (b, c, list(accs.values())[:self.majority])
                    break
            if found is None:
                return
            self._learn(*found)

    def _learn(self, b: int, command: str, recv: list[dict[str, Any]]) -> None:
        slot = len(self.learned)
        self.out.persist({"k": "learn", "s": slot, "b": b, "c": command})
        self.learned.append((b, command))
        self.heard.pop(slot, None)
        self.out.event("learn", b=b, slot=slot, cmd=command, recv=recv)
        result = apply_command(self.data, self.results, command)
        for h in self.waiting.pop(command, []):
            self.out.reply(h, {"ok": True, "result": result})


def _noop(b: int, slot: int) -> str:
    """A no-op filling a free slot below a forced one: distinct per (ballot, slot)."""
    return json.dumps({"op": "noop", "b": b, "slot": slot}, separators=(",", ":"),
                      sort_keys=True)
