"""View changes (Castro & Liskov, OSDI '99, sections 4.4 and 4.5): a mixin of
:class:`impl.pbft.core.Replica`, whose state it uses.

A replica whose timer expires moves to the next view and multicasts VIEW-CHANGE with its stable
checkpoint h, the proof C and its prepared certificates P above h (each carried whole, with
the authenticators of its pre-prepare and prepares). The new primary collects 2f+1 valid ones
(V), computes O (min-s, max-s, the highest-view certificate per sequence number, else the null
request) and multicasts NEW-VIEW; a backup checks every view-change in V, recomputes O, and
enters the view only if the primary's O is the one V yields.
"""

from __future__ import annotations

from typing import Any

from .protocol import VIEW_CHANGE_TICKS, kept, own, request_id, v_summary

__all__ = ["ViewChanges"]


class ViewChanges:
    """Sections 4.4 and 4.5, for :class:`impl.pbft.core.Replica`."""

    def certificates(self) -> list[dict[str, Any]]:
        """P: for every n above h, the prepared certificate of the highest view this replica
        holds (its pre-prepare and 2f prepares, with their authenticators)."""
        best: dict[int, tuple[int, dict[str, Any]]] = {}
        for (v, n), s in self.log.items():
            if n <= self.h:
                continue
            cert = self.prepare_certificate(v, n)
            if cert is not None and (n not in best or v > best[n][0]):
                best[n] = (v, {"pp": s.pp, "prepares": cert[:self.quorum - 1]})
        return [best[n][1] for n in sorted(best)]

    def start_view_change(self, v: int) -> None:
        """Move to view v: stop accepting messages of the old view, multicast VIEW-CHANGE."""
        if v <= self.view:
            return
        self.vc_attempt = self.vc_attempt + 1 if not self.active else 1
        self.view, self.active = v, False
        self.assigned, self.new_view = {}, None
        self.vc_deadline = self.ticks + VIEW_CHANGE_TICKS * 2 ** min(self.vc_attempt - 1, 4)
        self.out.persist({"k": "view", "v": v, "active": False})
        certs = self.certificates()
        sent = self.multicast("view_change", v=v, h=self.h, C=self.proof, P=certs)
        mine = own(sent, {})
        self.my_view_change = mine
        self.view_changes.setdefault(v, {})[self.id] = mine
        self.persist(mine)
        self.out.event("start_view_change", v=v, h=self.h,
                       P=[[c["pp"]["v"], c["pp"]["n"], request_id(c["pp"]["req"])]
                          for c in certs],
                       sent=[x["id"] for x in sent])
        self._maybe_new_view(v)

    def valid_certificate(self, c: Any, v: int) -> tuple[int, int, str | None] | None:
        """(view, n, request id) of a prepared certificate from a view-change for v, if its
        pre-prepare and 2f prepares carry valid MACs for this replica and match."""
        if not isinstance(c, dict) or not isinstance(c.get("prepares"), list):
            return None
        pp = c.get("pp")
        if not isinstance(pp, dict) or pp.get("type") != "pre_prepare" or not self.verify(pp):
            return None
        w, n = pp.get("v"), pp.get("n")
        if not isinstance(w, int) or not isinstance(n, int) or w >= v or \
                pp["src"] != self.primary(w):
            return None
        rid = request_id(pp.get("req"))
        if pp.get("req") is not None and not self.verify_request(pp["req"]):
            return None
        backups = {p["src"] for p in c["prepares"]
                   if isinstance(p, dict) and p.get("type") == "prepare" and p.get("v") == w
                   and p.get("n") == n and p.get("req") == rid and self.verify(p)
                   and p["src"] != self.primary(w)}
        return (w, n, rid) if len(backups) >= self.quorum - 1 else None

    def valid_view_change(self, m: Any, v: int) -> bool:
        if not isinstance(m, dict) or m.get("type") != "view_change" or m.get("v") != v:
            return False
        if not self.verify(m) or not isinstance(m.get("P"), list):
            return False
        h = m.get("h")
        if not isinstance(h, int) or (h > 0 and self.verify_proof(m.get("C"), h) is None):
            return False
        return all(self.valid_certificate(c, v) is not None and c["pp"]["n"] > h
                   for c in m["P"])

    def _on_view_change(self, m: dict[str, Any]) -> None:
        v = m["v"]
        if not isinstance(v, int) or v < self.view or (v == self.view and self.active):
            return
        if m["src"] in self.view_changes.get(v, {}) or not self.valid_view_change(m, v):
            return
        stored = kept(m)
        self.view_changes.setdefault(v, {})[m["src"]] = stored
        # Section 4.5: f+1 replicas ask for views above ours: join the smallest of them.
        higher = {src: w for w, by in self.view_changes.items() if w > self.view
                  for src in by}
        if len(higher) >= self.f + 1:
            self.start_view_change(min(higher.values()))
        self._maybe_new_view(v)

    def compute_o(self, vcs: list[dict[str, Any]], v: int) -> tuple[int, int, list[list[Any]]]:
        """min-s, max-s and O from the view-changes in V (section 4.4)."""
        min_s = max(m["h"] for m in vcs)
        best: dict[int, tuple[int, Any]] = {}
        for m in vcs:
            for c in m["P"]:
                pp = c["pp"]
                if pp["n"] > min_s and (pp["n"] not in best or pp["v"] > best[pp["n"]][0]):
                    best[pp["n"]] = (pp["v"], pp["req"])
        if self.bug == "new_primary_ignores_certificates":
            best = {}
        max_s = max(best, default=min_s)
        o = [[n, best[n][1] if n in best else None] for n in range(min_s + 1, max_s + 1)]
        return min_s, max_s, o

    def _maybe_new_view(self, v: int) -> None:
        if self.primary(v) != self.id or self.view != v or self.active:
            return
        vcs = self.view_changes.get(v, {})
        if len(vcs) < self.quorum or self.id not in vcs:
            return
        chosen = [vcs[j] for j in sorted(vcs)][:self.quorum]
        if self.id not in {m["src"] for m in chosen}:
            chosen = [vcs[self.id]] + [vcs[j] for j in sorted(vcs) if j != self.id][
                :self.quorum - 1]
        min_s, max_s, o = self.compute_o(chosen, v)
        sent = self.multicast("new_view", v=v, V=chosen, O=o)
        nv = own(sent, {"type": "new_view", "src": self.id, "v": v, "V": chosen, "O": o})
        self._enter_view(v, nv, min_s, max_s)
        self.out.event("send_new_view", v=v, min_s=min_s, V=v_summary(chosen),
                       O=[[n, request_id(r)] for n, r in o], sent=[x["id"] for x in sent],
                       recv=[m["mid"] for m in chosen if "mid" in m])
        for n, req in o:
            self.assigned[request_id(req) or f"null:{n}"] = n
            self.send_pre_prepare(v, n, req, event=False)
        for req, _ in list(self.pending.values()):
            self._assign(req)

    def _enter_view(self, v: int, nv: dict[str, Any], min_s: int, max_s: int) -> None:
        self.view, self.active, self.new_view = v, True, nv
        self.vc_attempt = 0
        self.out.persist({"k": "view", "v": v, "active": True})
        self.persist(nv)
        self._store_new_view(nv)
        self.next_seq = max(min_s, max_s) + 1
        self.pending = {rid: (req, self.ticks) for rid, (req, _) in self.pending.items()}
        self.view_changes = {w: by for w, by in self.view_changes.items() if w > v}

    def _on_new_view(self, m: dict[str, Any]) -> None:
        v = m["v"]
        if not isinstance(v, int) or v < self.view or (v == self.view and self.active):
            return
        if m["src"] != self.primary(v) or m["src"] == self.id:
            return
        vcs = m.get("V")
        if not isinstance(vcs, list) or len({x.get("src") for x in vcs if isinstance(x, dict)}
                                             ) < self.quorum or len(vcs) != self.quorum:
            return
        if not all(self.valid_view_change(x, v) for x in vcs):
            return
        min_s, max_s, o = self.compute_o(vcs, v)
        if o != m.get("O"):
            return  # O does not follow from V: a faulty primary's new-view is rejected
        if min_s > self.last_exec:
            d = self.verify_proof(max(vcs, key=lambda x: x["h"])["C"], min_s)
            if d is not None:
                self._fetch(min_s, max(vcs, key=lambda x: x["h"])["C"])
        self._enter_view(v, kept(m), min_s, max_s)
        sent_ids: list[str] = []
        for n, req in o:
            s = self.slot(v, n)
            s.sent_prepare = True
            if not self._in_window(n):
                continue
            sent = self.multicast("prepare", v=v, n=n, req=request_id(req))
            mine = own(sent, {})
            s.prepares[self.id] = mine
            self.persist(mine)
            sent_ids += [x["id"] for x in sent]
        self.out.event("accept_new_view", v=v, min_s=min_s, V=v_summary(vcs),
                       O=[[n, request_id(r)] for n, r in o], recv=[m["id"]], sent=sent_ids)
        later, self.future = self.future, []
        for x in later:
            self.step(x)
