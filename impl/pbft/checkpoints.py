"""Checkpoints, garbage collection of the log, and state transfer (Castro & Liskov, OSDI '99,
section 4.3): a mixin of :class:`impl.pbft.core.Replica`, whose state it uses.

Every K requests a replica multicasts CHECKPOINT with the digest of its state; 2f+1 matching
digests make the checkpoint stable: the log up to it is discarded and the low watermark h moves.
A replica behind a stable checkpoint fetches the state whose digest the 2f+1 vouched for.
"""

from __future__ import annotations

from typing import Any

from .protocol import digest, kept, own

__all__ = ["Checkpoints"]


class Checkpoints:
    """Section 4.3, for :class:`impl.pbft.core.Replica`."""

    def _checkpoint(self, n: int) -> None:
        state = {"data": dict(self.data), "replies": {k: list(v) for k, v in
                                                       self.replies.items()}}
        self.snapshots[n] = state
        sent = self.multicast("checkpoint", n=n, digest=digest(state))
        mine = own(sent, {})
        self._store_checkpoint(mine)
        self.persist(mine)
        self._check_stable(n)

    def _on_checkpoint(self, m: dict[str, Any]) -> None:
        n = m["n"]
        if not isinstance(n, int) or n <= self.h or m["src"] in self.checkpoints.get(n, {}):
            return
        self._store_checkpoint(kept(m))
        self.persist(m)
        self._check_stable(n)

    def _check_stable(self, n: int) -> None:
        """A checkpoint with 2f+1 matching digests is stable: discard the log up to it."""
        if n <= self.h:
            return
        by_digest: dict[str, list[dict[str, Any]]] = {}
        for m in self.checkpoints.get(n, {}).values():
            by_digest.setdefault(m["digest"], []).append(m)
        for d, msgs in by_digest.items():
            if len(msgs) < self.quorum:
                continue
            proof = sorted(msgs, key=lambda m: m["src"])[:self.quorum]
            mine = self.snapshots.get(n)
            if mine is not None and digest(mine) == d:
                self._make_stable(n, proof, mine)
            elif self.last_exec < n:
                self._fetch(n, proof)
            return

    def _make_stable(self, n: int, proof: list[dict[str, Any]], state: dict[str, Any]) -> None:
        self.h, self.proof, self.stable_state = n, proof, state
        self.out.persist({"k": "stable", "h": n, "proof": proof, "state": state})
        self.out.event("stable_checkpoint", h=n)
        self._collect_garbage()

    def _collect_garbage(self) -> None:
        self.log = {k: s for k, s in self.log.items() if k[1] > self.h}
        self.checkpoints = {k: c for k, c in self.checkpoints.items() if k > self.h}
        self.snapshots = {k: c for k, c in self.snapshots.items() if k > self.h}
        self.committed = {k: c for k, c in self.committed.items() if k > self.h}

    def _fetch(self, n: int, proof: list[dict[str, Any]]) -> None:
        if self.fetching >= n:
            return
        self.fetching = n
        for m in proof:
            if m["src"] != self.id:
                self.send_to(m["src"], "fetch", n=n)

    def verify_proof(self, proof: Any, n: int) -> str | None:
        """The digest 2f+1 valid checkpoint messages for n agree on, or None."""
        if not isinstance(proof, list):
            return None
        ok = {m["src"]: m["digest"] for m in proof
              if isinstance(m, dict) and m.get("n") == n and self.verify(m)}
        digests = set(ok.values())
        return digests.pop() if len(ok) >= self.quorum and len(digests) == 1 else None

    def _on_fetch(self, m: dict[str, Any]) -> None:
        if self.h >= m["n"] and self.h > 0:
            fields = {"h": self.h, "proof": self.proof, "state": self.stable_state}
            self.send_to(m["src"], "state", **fields)

    def _on_state(self, m: dict[str, Any]) -> None:
        """State transfer: install a stable checkpoint's state that 2f+1 replicas vouch for."""
        h = m["h"]
        if not isinstance(h, int) or h <= self.last_exec or h <= 0:
            return
        d = self.verify_proof(m["proof"], h)
        if d is None or digest(m["state"]) != d:
            return
        self.data = dict(m["state"]["data"])
        self.replies = {k: list(v) for k, v in m["state"]["replies"].items()}
        self.last_exec = h
        for rid in [r for r, (req, _) in self.pending.items()
                    if self.executed_ts(req["client"]) >= req["ts"]]:
            self.pending.pop(rid)
        if h > self.h:
            self._make_stable(h, m["proof"], m["state"])
        self.out.event("state_transfer", h=h)
        self._try_execute()
