"""Byzantine replicas: pluggable lies for up to f replicas (section 3 of Castro & Liskov: "faulty
nodes may behave arbitrarily", but cannot subvert the cryptography).

Each strategy is a :class:`~impl.pbft.core.Replica` subclass that runs the protocol and lies in
one specific way; every one of them also answers each client request at once with a made-up
result (a client that takes the first reply is fooled; one that waits for f+1 matching replies
is not). A Byzantine replica holds only its own keys (:mod:`impl.pbft.auth`).

* ``equivocating_primary`` — as primary, gives one sequence number to different requests for
  different backups (and sends each side matching commits);
* ``silent`` — sends nothing at all (a crashed replica that still looks alive);
* ``conflicting_votes`` — for every pre-prepare, sends half the replicas a prepare and a commit
  for the request and the other half for a different one (the null request);
* ``replayer`` — runs the protocol, and also re-sends old messages (its own and, with their
  authenticators, others') to random replicas: old views, old sequence numbers, old clients;
* ``forger`` — runs the protocol, and also sends prepares, commits and view-changes in another
  replica's name (caught by authentication: dropped and counted).

Their events are logged (the restart event names the strategy) but are no part of the
refinement: the spec keeps faulty replicas abstract.
"""

from __future__ import annotations

from typing import Any

from .auth import body, replica_name
from .core import Replica, request_id

__all__ = ["STRATEGIES", "make_byzantine"]


class _Byzantine(Replica):
    strategy = ""

    def _identity(self) -> dict[str, Any]:
        return {"byzantine": self.strategy}

    def request(self, handle: Any, req: dict[str, Any]) -> None:
        if req.get("op") in ("put", "get") and isinstance(req.get("client"), str):
            lie = {"ok": True, "result": f"byzantine-{self.id}", "replica": self.id,
                   "view": self.view, "client": req["client"], "ts": req.get("ts")}
            lie["mac"] = self.keys.mac(req["client"], body(lie))
            self.out.reply(handle, lie)
        super().request(handle, req)

    def raw(self, dst: int, msg: dict[str, Any]) -> None:
        """Send a hand-made message (no checks, any src) to ``dst``."""
        self.out.counter += 1
        self.out.rd.messages.append({**msg, "dst": dst,
                                     "id": f"{self.id}.{self.out.boot}.{self.out.counter}"})

    def authenticated(self, kind: str, **fields: Any) -> dict[str, Any]:
        """A message in this replica's own name with a valid authenticator."""
        msg = {"type": kind, "src": self.id, **fields}
        msg["auth"] = self.keys.authenticator([replica_name(j) for j in self.others()],
                                              body(msg))
        return msg


class EquivocatingPrimary(_Byzantine):
    strategy = "equivocating_primary"

    def _assign(self, req: dict[str, Any] | None) -> None:
        others = [r for r, _ in self.pending.values() if request_id(r) != request_id(req)]
        if not others or request_id(req) in self.assigned or \
                self.next_seq > self.h + 16:
            super()._assign(req)
            return
        other = others[0]
        n = self.next_seq
        self.next_seq += 1
        self.assigned[request_id(req)] = self.assigned[request_id(other)] = n
        backups = self.others()
        half = len(backups) // 2 or 1
        for group, r in ((backups[:half], req), (backups[half:], other)):
            pp = self.authenticated("pre_prepare", v=self.view, n=n, req=r)
            commit = self.authenticated("commit", v=self.view, n=n, req=request_id(r))
            for j in group:
                self.raw(j, pp)
                self.raw(j, commit)
        self.out.event("byzantine_equivocate", v=self.view, seq=n,
                       reqs=[request_id(req), request_id(other)])


class Silent(_Byzantine):
    strategy = "silent"

    def ready(self) -> Any:
        rd = super().ready()
        rd.messages.clear()
        rd.replies.clear()
        return rd


class ConflictingVotes(_Byzantine):
    strategy = "conflicting_votes"

    def _on_pre_prepare(self, m: dict[str, Any]) -> None:
        super()._on_pre_prepare(m)
        v, n = m.get("v"), m.get("n")
        backups = self.others()
        half = len(backups) // 2 or 1
        for group, rid in ((backups[:half], request_id(m.get("req"))), (backups[half:], None)):
            for kind in ("prepare", "commit"):
                msg = self.authenticated(kind, v=v, n=n, req=rid)
                for j in group:
                    self.raw(j, msg)
        self.out.event("byzantine_conflicting_votes", v=v, seq=n)


class Replayer(_Byzantine):
    strategy = "replayer"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.seen: list[dict[str, Any]] = []
        super().__init__(*args, **kwargs)

    def step(self, m: dict[str, Any]) -> None:
        if len(self.seen) < 500 and m.get("type") != "state":
            self.seen.append(dict(m))
        super().step(m)

    def tick(self) -> None:
        super().tick()
        if self.seen and self.ticks % 5 == 0:
            old = self.rng.choice(self.seen)
            dst = self.rng.choice(self.others())
            self.raw(dst, {k: v for k, v in old.items() if k not in ("dst", "id")})
            self.out.event("byzantine_replay", kind=old.get("type"), to=dst)


class Forger(_Byzantine):
    strategy = "forger"

    def tick(self) -> None:
        super().tick()
        if self.ticks % 7 != 0:
            return
        victim = self.rng.choice(self.others())
        kind = self.rng.choice(("prepare", "commit", "view_change"))
        fields: dict[str, Any] = {"v": self.view, "n": self.last_exec + 1, "req": None}
        if kind == "view_change":
            fields = {"v": self.view + 1, "h": 0, "C": [], "P": []}
        forged = {"type": kind, "src": victim, **fields}
        # The best it can do: MACs under its own keys (it holds no key of the victim's).
        forged["auth"] = self.keys.authenticator([replica_name(j) for j in range(1, self.n + 1)],
                                                 body(forged))
        for j in self.others():
            if j != victim:
                self.raw(j, forged)
        self.out.event("byzantine_forge", kind=kind, victim=victim)


STRATEGIES: dict[str, type[Replica]] = {
    c.strategy: c for c in (EquivocatingPrimary, Silent, ConflictingVotes, Replayer, Forger)}


def make_byzantine(strategy: str, *args: Any, **kwargs: Any) -> Replica:
    """A replica running ``strategy`` (one of :data:`STRATEGIES`)."""
    try:
        cls = STRATEGIES[strategy]
    except KeyError:
        raise ValueError(f"unknown Byzantine strategy {strategy!r} (known: "
                         f"{', '.join(STRATEGIES)})") from None
    return cls(*args, **kwargs)
