"""A sans-IO PBFT replica of a key-value store, as a core of the :mod:`impl.runtime.core`
contract. This module holds the inputs, recovery and the normal case; checkpoints
(:mod:`impl.pbft.checkpoints`) and view changes (:mod:`impl.pbft.viewchange`) are mixins.

Source: Castro & Liskov, "Practical Byzantine Fault Tolerance", OSDI '99: section 4.2 (normal
case), 4.3 (garbage collection: checkpoints, stable checkpoints, watermarks), 4.4 (view
changes), 4.5 (the timers that make view changes live), 5.1 (MAC authenticators). Replica ``i``
(ids from 1) is the spec's replica ``i-1``; the primary of view v is replica ``v mod n + 1``.
Each protocol step is one event named after the spec action it performs:

* ``send_pre_prepare`` — the primary gives a client request the next sequence number;
* ``send_prepare`` — a backup accepts a pre-prepare and multicasts a PREPARE;
* ``send_commit`` — the replica is *prepared* (the pre-prepare and 2f matching prepares from
  different backups) and multicasts a COMMIT;
* ``execute`` — the next request is *committed-local* (prepared, and 2f+1 matching commits):
  it runs, and the client gets a reply (with its result, MAC'd for that client);
* ``start_view_change`` — a timer expired (a request waited too long, or a view change did):
  the replica moves to the next view and multicasts VIEW-CHANGE with its stable checkpoint h,
  the checkpoint's proof C and P, the prepared certificates above h (each the pre-prepare and
  the 2f prepares, carried whole, with their authenticators);
* ``send_new_view`` / ``accept_new_view`` — the new primary, holding 2f+1 valid view-changes
  (V), computes O (for every n between min-s and max-s the request of the certificate with the
  highest view, else the null request) and multicasts NEW-VIEW; a backup recomputes O from V,
  enters the view and prepares every entry of O;
* ``stable_checkpoint``, ``state_transfer``, ``drop_unauthenticated``, ``restart`` — no step
  of the spec (it has no checkpoints): the log below h is discarded; a replica behind a stable
  checkpoint fetches the state whose digest 2f+1 replicas vouched for; a message whose MAC for
  this replica does not verify is dropped (and counted); the replica started from its records.

Durable before anything leaves the replica: every protocol message it accepted or sent (so a
restarted replica never prepares a different request at a (v, n) it prepared before, and keeps
its certificates), its view, and each stable checkpoint's state.

Client requests: ``{"op": "put"|"get", "key", "value"?, "client": "c:...", "ts", "auth"}``;
the replica answers each, once it executed, with ``{"ok": true, "result", "replica", "view",
"client", "ts", "mac"}``. ``{"op": "status"}`` answers the replica's view and progress.

Bug switches (``bug=``): ``quorum_2f`` (certificates of 2f instead of 2f+1),
``new_primary_ignores_certificates`` (O ignores the prepared certificates in V),
``execute_on_prepared`` (a request runs once prepared, before it is committed-local) and
``client_accepts_first_reply`` (a client-side bug: see :mod:`impl.pbft.sim`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from protospec.impl.runtime.core import Outbox, Ready, decode_record, encode_record

from .auth import Keyring, body, replica_name
from .checkpoints import Checkpoints
from .protocol import (
    BUGS,
    CHECKPOINT_EVERY,
    LOG_SIZE,
    REQUEST_TICKS,
    RESEND_TICKS,
    VIEW_CHANGE_TICKS,
    apply_request,
    kept,
    own,
    request_id,
    v_summary,
)
from .viewchange import ViewChanges

__all__ = ["BUGS", "CHECKPOINT_EVERY", "REQUEST_TICKS", "Replica", "Slot", "apply_request",
           "request_id"]


@dataclass
class Slot:
    """What a replica holds for one (view, sequence number)."""

    pp: dict[str, Any] | None = None  # the accepted pre-prepare
    o_req: Any = "unset"  # the request a NEW-VIEW's O fixed here ("unset": none did)
    prepares: dict[int, dict[str, Any]] = field(default_factory=dict)  # backup -> its prepare
    commits: dict[int, dict[str, Any]] = field(default_factory=dict)  # replica -> its commit
    sent_prepare: bool = False
    sent_commit: bool = False


class Replica(Checkpoints, ViewChanges):
    """One PBFT replica. Invariants: every message in ``log`` and ``checkpoints`` is in the
    record log; ``last_exec >= h`` once the stable checkpoint's state is installed."""

    def __init__(self, node_id: int, n: int, records: list[bytes], boot: int,
                 rng: random.Random, bug: str | None, keys: Keyring) -> None:
        self.id = node_id
        self.n = n
        self.f = (n - 1) // 3
        self.quorum = 2 * self.f if bug == "quorum_2f" else 2 * self.f + 1
        self.rng = rng
        self.bug = bug
        self.keys = keys
        self.out = Outbox(node_id, boot)
        self.view = 0
        self.active = True
        self.log: dict[tuple[int, int], Slot] = {}
        self.next_seq = 1
        self.assigned: dict[str, int] = {}  # request id -> n, in this view (primary)
        self.h = 0  # the stable checkpoint
        self.proof: list[dict[str, Any]] = []  # C: the 2f+1 checkpoint messages proving h
        self.checkpoints: dict[int, dict[int, dict[str, Any]]] = {}  # n -> replica -> msg
        self.snapshots: dict[int, dict[str, Any]] = {}  # n -> the state after executing n
        self.stable_state: dict[str, Any] = {"data": {}, "replies": {}}
        self.last_exec = 0
        self.data: dict[str, Any] = {}
        self.replies: dict[str, list[Any]] = {}  # client -> [ts, result] of its last request
        self.committed: dict[int, tuple[int, dict[str, Any] | None]] = {}  # n -> (v, request)
        self.waiting: dict[str, list[Any]] = {}  # request id -> client handles
        self.pending: dict[str, tuple[dict[str, Any], int]] = {}  # request id -> (req, since)
        self.view_changes: dict[int, dict[int, dict[str, Any]]] = {}  # v -> sender -> msg
        self.my_view_change: dict[str, Any] | None = None
        self.new_view: dict[str, Any] | None = None  # the NEW-VIEW of the current view
        self.future: list[dict[str, Any]] = []  # messages of views not yet entered
        self.fetching = 0
        self.my_checkpoint: dict[str, Any] | None = None  # the last checkpoint it multicast
        self.ticks = 0
        self.vc_deadline = 0
        self.vc_attempt = 0
        self.stats = {"auth_failures": 0}
        self._recovering = True
        for payload in records:
            self._recover(decode_record(payload))
        self._recovering = False
        self.data = dict(self.stable_state["data"])
        self.replies = {k: list(v) for k, v in self.stable_state["replies"].items()}
        self.last_exec = self.h
        self.vc_deadline = VIEW_CHANGE_TICKS
        self.out.event("restart", boot=boot, view=self.view, active=self.active, h=self.h,
                       own=self._own_durable(), **self._identity())
        self._try_execute()

    def _identity(self) -> dict[str, Any]:
        """What the restart event says about the replica (Byzantine ones say what they are)."""
        return {}

    def _own_durable(self) -> dict[str, Any]:
        """The protocol steps of its own that the replica recovered from its records: what a
        crash between an fsync and the step's event (``crash_unlogged``) may have hidden from
        the event log. Pre-prepares, prepares and commits as [view, n, request id]; its last
        view-change as [view, h, P]; the new-view of its view as [view, min-s, V]."""
        out: dict[str, Any] = {"pre_prepare": [], "prepare": [], "commit": []}
        for (v, n), s in sorted(self.log.items()):
            if s.pp is not None and s.pp["src"] == self.id:
                out["pre_prepare"].append([v, n, request_id(s.pp["req"])])
            for kind, msgs in (("prepare", s.prepares), ("commit", s.commits)):
                if self.id in msgs:
                    out[kind].append([v, n, msgs[self.id]["req"]])
        vc = self.my_view_change
        if vc is not None:
            out["view_change"] = [vc["v"], vc["h"], [[c["pp"]["v"], c["pp"]["n"],
                                                      request_id(c["pp"]["req"])]
                                                     for c in vc["P"]]]
        nv = self.new_view
        if nv is not None and nv["v"] == self.view:
            min_s = max(m["h"] for m in nv["V"])
            out["new_view"] = [nv["v"], min_s, v_summary(nv["V"])]
        return out

    # -- helpers ---------------------------------------------------------------------------

    def primary(self, v: int) -> int:
        """The primary of view v (section 4.1: p = v mod |R|, ids from 1)."""
        return v % self.n + 1

    def others(self) -> list[int]:
        return [j for j in range(1, self.n + 1) if j != self.id]

    def multicast(self, kind: str, **fields: Any) -> list[dict[str, Any]]:
        """Send one message to every other replica, with one authenticator for all."""
        msg = {"type": kind, "src": self.id, **fields}
        msg["auth"] = self.keys.authenticator([replica_name(j) for j in self.others()],
                                              body(msg))
        return [self.out.send(j, kind, **{k: v for k, v in msg.items()
                                          if k not in ("type", "src")})
                for j in self.others()]

    def send_to(self, dst: int, kind: str, **fields: Any) -> dict[str, Any]:
        """Send one authenticated message to one replica."""
        msg = {"type": kind, "src": self.id, **fields}
        auth = self.keys.authenticator([replica_name(dst)], body(msg))
        return self.out.send(dst, kind, **fields, auth=auth)

    def verify(self, msg: Any) -> bool:
        """Whether ``msg`` carries a valid MAC for this replica from its claimed sender."""
        if not isinstance(msg, dict) or not isinstance(msg.get("src"), int):
            return False
        if msg["src"] == self.id:
            return msg.get("auth") is not None and self._own(msg)
        return self.keys.verify(replica_name(msg["src"]), body(msg), msg.get("auth"))

    def _own(self, msg: dict[str, Any]) -> bool:
        """A message in this replica's own name: it can check the MACs it made for others."""
        others = self.others()
        if not others:
            return True
        j = others[0]
        return msg["auth"].get(replica_name(j)) == self.keys.mac(replica_name(j), body(msg))

    def verify_request(self, req: Any) -> bool:
        """Whether a client request carries a valid MAC for this replica from its client."""
        if not isinstance(req, dict) or not str(req.get("client", "")).startswith("c:"):
            return False
        signed = {k: v for k, v in req.items() if k != "auth"}
        return self.keys.verify(req["client"], body(signed), req.get("auth"))

    def slot(self, v: int, n: int) -> Slot:
        s = self.log.get((v, n))
        if s is None:
            s = self.log[(v, n)] = Slot()
        return s

    def persist(self, msg: dict[str, Any]) -> None:
        if not self._recovering:
            self.out.persist({"k": "msg", "m": {k: v for k, v in msg.items()
                                                if k not in ("dst", "id")}})

    def executed_ts(self, client: str) -> int:
        r = self.replies.get(client)
        return r[0] if r else -1

    # -- recovery --------------------------------------------------------------------------

    def _recover(self, r: dict[str, Any]) -> None:
        k = r["k"]
        if k == "batch":
            for part in r["rs"]:
                self._recover(part)
        elif k == "view":
            if r["v"] >= self.view:
                self.view, self.active = r["v"], r["active"]
                self.assigned, self.next_seq = {}, max(self.next_seq, self.h + 1)
        elif k == "stable":
            if r["h"] > self.h:
                self.h, self.proof, self.stable_state = r["h"], r["proof"], r["state"]
                self._collect_garbage()
        elif k == "msg":
            m = r["m"]
            handler = {"pre_prepare": self._store_pre_prepare, "prepare": self._store_prepare,
                       "commit": self._store_commit, "checkpoint": self._store_checkpoint,
                       "view_change": self._store_view_change,
                       "new_view": self._store_new_view}.get(m["type"])
            if handler is not None:
                handler(m)

    def _store_pre_prepare(self, m: dict[str, Any]) -> None:
        s = self.slot(m["v"], m["n"])
        s.pp = m
        if m["src"] == self.id:
            self.assigned[request_id(m["req"]) or f"null:{m['n']}"] = m["n"]
            self.next_seq = max(self.next_seq, m["n"] + 1)

    def _store_prepare(self, m: dict[str, Any]) -> None:
        s = self.slot(m["v"], m["n"])
        s.prepares.setdefault(m["src"], m)
        if m["src"] == self.id:
            s.sent_prepare = True

    def _store_commit(self, m: dict[str, Any]) -> None:
        s = self.slot(m["v"], m["n"])
        s.commits.setdefault(m["src"], m)
        if m["src"] == self.id:
            s.sent_commit = True
        if self._recovering:
            self._check_committed(m["v"], m["n"])

    def _store_checkpoint(self, m: dict[str, Any]) -> None:
        self.checkpoints.setdefault(m["n"], {}).setdefault(m["src"], m)
        if m["src"] == self.id:
            self.my_checkpoint = m

    def _store_view_change(self, m: dict[str, Any]) -> None:
        self.view_changes.setdefault(m["v"], {})[m["src"]] = m
        if m["src"] == self.id:
            self.my_view_change = m

    def _store_new_view(self, m: dict[str, Any]) -> None:
        self.new_view = m
        for n, req in m["O"]:
            s = self.slot(m["v"], n)
            s.o_req = request_id(req)
            if m["src"] != self.id:
                s.sent_prepare = True  # accepting the new-view prepared every entry of O

    # -- inputs ----------------------------------------------------------------------------

    def ready(self) -> Ready:
        """The step's output. Its records become one record, so that a crash in the middle
        of the write (a torn write) loses the whole step, never half of it: the event log
        never misses a step whose effects survived."""
        rd = self.out.take()
        if len(rd.records) > 1:
            rd.records = [encode_record({"k": "batch",
                                         "rs": [decode_record(r) for r in rd.records]})]
        return rd

    def tick(self) -> None:
        self.ticks += 1
        if not self.active:
            if self.ticks >= self.vc_deadline:
                self.start_view_change(self.view + 1)
            elif self.ticks % RESEND_TICKS == 0 and self.my_view_change is not None:
                self._resend(self.my_view_change)
            return
        waited = [since for _, since in self.pending.values()]
        if waited and self.ticks - min(waited) > REQUEST_TICKS:
            self.start_view_change(self.view + 1)
            return
        if self.ticks % RESEND_TICKS == 0:
            self._resend_unfinished()

    def request(self, handle: Any, req: dict[str, Any]) -> None:
        if req.get("op") == "status":
            self.out.reply(handle, {"ok": True, "replica": self.id, "view": self.view,
                                    "active": self.active, "primary": self.primary(self.view),
                                    "executed": self.last_exec, "h": self.h,
                                    "auth_failures": self.stats["auth_failures"]})
            return
        if req.get("op") not in ("put", "get") or not self.verify_request(req):
            self.out.reply(handle, {"ok": False, "error": "bad or unauthenticated request"})
            return
        client, ts = req["client"], req.get("ts")
        if not isinstance(ts, int):
            self.out.reply(handle, {"ok": False, "error": "ts must be an integer"})
            return
        done = self.executed_ts(client)
        if ts <= done:
            if ts == done:
                self._reply(handle, req, self.replies[client][1])
            return  # an older request: its reply was sent long ago (section 4.1)
        rid = request_id(req)
        self.waiting.setdefault(rid, []).append(handle)
        if rid not in self.pending:
            self.pending[rid] = (req, self.ticks)
        if self.active and self.primary(self.view) == self.id:
            self._assign(req)

    def step(self, m: dict[str, Any]) -> None:
        kind = m.get("type")
        if not self.verify(m):
            self.stats["auth_failures"] += 1
            self.out.event("drop_unauthenticated", kind=kind, claimed=m.get("src"),
                           id=m.get("id"))
            return
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(m)

    # -- normal case (section 4.2) ---------------------------------------------------------

    def _assign(self, req: dict[str, Any] | None) -> None:
        """The primary assigns the next sequence number to a request (once per view)."""
        rid = request_id(req)
        if rid in self.assigned or self.next_seq > self.h + LOG_SIZE:
            return
        n = self.next_seq
        self.next_seq += 1
        self.assigned[rid] = n
        self.send_pre_prepare(self.view, n, req)

    def send_pre_prepare(self, v: int, n: int, req: dict[str, Any] | None, *,
                         event: bool = True) -> None:
        """Multicast a pre-prepare (``event``: False for the entries of the new view's O,
        which the NEW-VIEW step already pre-prepared)."""
        sent = self.multicast("pre_prepare", v=v, n=n, req=req)
        m = own(sent, {"type": "pre_prepare", "src": self.id, "v": v, "n": n, "req": req,
                       "auth": {}})
        self._store_pre_prepare(m)
        self.persist(m)
        if event:
            self.out.event("send_pre_prepare", v=v, seq=n, req=request_id(req),
                           sent=[x["id"] for x in sent])
        self._check_prepared(v, n)

    def _future(self, m: dict[str, Any]) -> bool:
        """Keep a message of a view not yet entered for later; True if it was one."""
        if m["v"] > self.view or (m["v"] == self.view and not self.active):
            if len(self.future) < 10_000:
                self.future.append(m)
            return True
        return False

    def _in_window(self, n: Any) -> bool:
        return isinstance(n, int) and self.h < n <= self.h + LOG_SIZE

    def _on_pre_prepare(self, m: dict[str, Any]) -> None:
        v, n, req = m["v"], m["n"], m["req"]
        if m["src"] != self.primary(v) or m["src"] == self.id or v < self.view:
            return
        if self._future(m) or not self._in_window(n):
            return
        s = self.slot(v, n)
        rid = request_id(req)
        if s.o_req != "unset":
            if rid != s.o_req:
                return  # O fixed another request here
        elif req is None or not self.verify_request(req):
            return  # a null request only inside a new-view; requests must be the client's
        if s.pp is not None:
            return  # one pre-prepare per (v, n): an equivocating primary's second is ignored
        s.pp = kept(m)
        self.persist(m)
        if not s.sent_prepare:
            self.send_prepare(v, n, req, recv=[m["id"]])
        self._check_prepared(v, n)

    def send_prepare(self, v: int, n: int, req: dict[str, Any] | None, *,
                     recv: list[str]) -> None:
        s = self.slot(v, n)
        s.sent_prepare = True
        sent = self.multicast("prepare", v=v, n=n, req=request_id(req))
        mine = own(sent, {})
        s.prepares[self.id] = mine
        self.persist(mine)
        self.out.event("send_prepare", v=v, seq=n, req=request_id(req), recv=recv,
                       sent=[x["id"] for x in sent])

    def _on_prepare(self, m: dict[str, Any]) -> None:
        v, n = m["v"], m["n"]
        if v < self.view or m["src"] == self.primary(v) or self._future(m) or \
                not self._in_window(n):
            return
        s = self.slot(v, n)
        if m["src"] in s.prepares:
            return
        s.prepares[m["src"]] = kept(m)
        self.persist(m)
        self._check_prepared(v, n)

    def prepare_certificate(self, v: int, n: int) -> list[dict[str, Any]] | None:
        """The 2f prepares from different backups matching the accepted pre-prepare (the
        certificate of prepared(m, v, n, i)), or None if there are not enough."""
        s = self.log.get((v, n))
        if s is None or s.pp is None:
            return None
        rid = request_id(s.pp["req"])
        match = [p for src, p in sorted(s.prepares.items())
                 if p["req"] == rid and src != self.primary(v)]
        return match if len(match) >= self.quorum - 1 else None

    def _check_prepared(self, v: int, n: int) -> None:
        s = self.log.get((v, n))
        if s is None or s.sent_commit or v != self.view or not self.active:
            return
        cert = self.prepare_certificate(v, n)
        if cert is None:
            return
        s.sent_commit = True
        rid = request_id(s.pp["req"])
        sent = self.multicast("commit", v=v, n=n, req=rid)
        mine = own(sent, {})
        s.commits[self.id] = mine
        self.persist(mine)
        recv = [p["mid"] for p in cert if "mid" in p]
        self.out.event("send_commit", v=v, seq=n, req=rid, recv=recv,
                       sent=[x["id"] for x in sent])
        if self.bug == "execute_on_prepared":
            self.committed.setdefault(n, (v, s.pp["req"]))
            self._try_execute()
        self._check_committed(v, n)

    def _on_commit(self, m: dict[str, Any]) -> None:
        v, n = m["v"], m["n"]
        if v < self.view or self._future(m) or not self._in_window(n):
            return
        s = self.slot(v, n)
        if m["src"] in s.commits:
            return
        s.commits[m["src"]] = kept(m)
        self.persist(m)
        self._check_committed(v, n)

    def _check_committed(self, v: int, n: int) -> None:
        """committed-local(m, v, n, i): prepared, and 2f+1 matching commits (its own too)."""
        s = self.log.get((v, n))
        if s is None or not s.sent_commit or s.pp is None or n in self.committed:
            return
        rid = request_id(s.pp["req"])
        if sum(1 for c in s.commits.values() if c["req"] == rid) < self.quorum:
            return
        self.committed[n] = (v, s.pp["req"])
        if not self._recovering:
            self._try_execute()

    def _try_execute(self) -> None:
        """Execute committed requests in sequence-number order (section 4.2)."""
        while self.last_exec + 1 in self.committed:
            n = self.last_exec + 1
            v, req = self.committed[n]
            self.last_exec = n
            rid = request_id(req)
            result = None
            if req is not None and self.executed_ts(req["client"]) < req["ts"]:
                result = apply_request(self.data, req)
                self.replies[req["client"]] = [req["ts"], result]
            elif req is not None:
                result = self.replies[req["client"]][1] if \
                    self.replies[req["client"]][0] == req["ts"] else None
            s = self.log.get((v, n))
            recv = [c["mid"] for c in (s.commits.values() if s else ()) if "mid" in c]
            self.out.event("execute", v=v, seq=n, req=rid, result=result, recv=recv)
            self.pending.pop(rid, None)
            for handle in self.waiting.pop(rid, []):
                self._reply(handle, req, result)
            if n % CHECKPOINT_EVERY == 0:
                self._checkpoint(n)

    def _reply(self, handle: Any, req: dict[str, Any], result: Any) -> None:
        reply = {"ok": True, "result": result, "replica": self.id, "view": self.view,
                 "client": req["client"], "ts": req["ts"]}
        reply["mac"] = self.keys.mac(req["client"], body(reply))
        self.out.reply(handle, reply)

    def _resend_unfinished(self) -> None:
        """Re-send this replica's messages of the current view above its stable checkpoint
        (and its last checkpoint, and the NEW-VIEW if it is primary): messages get lost, and
        a replica that was down needs them to catch up with the requests after the last
        stable checkpoint (before it, state transfer brings it up to date)."""
        for (v, n), s in sorted(self.log.items()):
            if v != self.view or n <= self.h:
                continue
            for msg in (s.pp if s.pp and s.pp["src"] == self.id else None,
                        s.prepares.get(self.id), s.commits.get(self.id)):
                if msg is not None:
                    self._resend(msg)
        if self.new_view is not None and self.new_view["src"] == self.id:
            self._resend(self.new_view)
        if self.my_checkpoint is not None:
            self._resend(self.my_checkpoint)
        self.fetching = 0  # a state transfer whose answer was lost may be asked for again
        if self.primary(self.view) == self.id:
            for req, _ in list(self.pending.values()):
                self._assign(req)

    def _resend(self, msg: dict[str, Any]) -> None:
        fields = {k: v for k, v in msg.items() if k not in ("type", "src", "dst", "id", "mid")}
        for j in self.others():
            self.out.send(j, msg["type"], **fields)

    def __repr__(self) -> str:
        return f"Replica({self.id}, view={self.view}, exec={self.last_exec}, h={self.h})"
