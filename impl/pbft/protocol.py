"""Constants and message helpers shared by the modules of the PBFT replica
(:mod:`impl.pbft.core`, :mod:`impl.pbft.checkpoints`, :mod:`impl.pbft.viewchange`)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["BUGS", "CHECKPOINT_EVERY", "LOG_SIZE", "REQUEST_TICKS", "RESEND_TICKS",
           "VIEW_CHANGE_TICKS", "apply_request", "digest", "kept", "own", "request_id",
           "v_summary"]

BUGS = ("quorum_2f", "new_primary_ignores_certificates", "execute_on_prepared",
        "client_accepts_first_reply")
CHECKPOINT_EVERY = 4  # K: a checkpoint every K sequence numbers (section 4.3)
LOG_SIZE = 16  # L: the high watermark is h + L
REQUEST_TICKS = 30  # a backup waits this long for a request to execute before suspecting
VIEW_CHANGE_TICKS = 40  # ... and this long (doubling per attempt) for a view change to finish
RESEND_TICKS = 15  # unfinished work is re-sent this often (the network may drop messages)


def request_id(req: dict[str, Any] | None) -> str | None:
    """The identity of a client request (what the spec's requests are): equal operations of
    one client with one timestamp are one request. None is the null request."""
    if req is None:
        return None
    return json.dumps([req.get("client"), req.get("ts"), req.get("op"), req.get("key"),
                       req.get("value")], separators=(",", ":"))


def apply_request(data: dict[str, Any], req: dict[str, Any] | None) -> Any:
    """Run one request on the store; its result (a put answers None, a get the value)."""
    if req is None:
        return None
    if req.get("op") == "put":
        data[str(req.get("key"))] = req.get("value")
        return None
    return data.get(str(req.get("key")))


def kept(m: dict[str, Any]) -> dict[str, Any]:
    """A received message as a replica stores it: without dst, its id kept as ``mid`` (so the
    events can name the messages a step used; ``mid`` is not authenticated)."""
    out = {k: v for k, v in m.items() if k not in ("dst", "id")}
    if "id" in m:
        out["mid"] = m["id"]
    return out


def own(sent: list[dict[str, Any]], fallback: dict[str, Any]) -> dict[str, Any]:
    """This replica's copy of a message it multicast (``fallback`` if there are no peers)."""
    return {k: v for k, v in sent[0].items() if k not in ("dst", "id")} if sent else fallback


def digest(state: dict[str, Any]) -> str:
    """The digest of a checkpoint's state (store and reply cache)."""
    return hashlib.sha256(json.dumps(state, sort_keys=True, separators=(",", ":")).encode()
                          ).hexdigest()[:32]


def v_summary(vcs: list[dict[str, Any]]) -> list[list[Any]]:
    """V as the events record it: [sender, h, P as [view, n, request id] triples]."""
    return [[m["src"], m["h"], [[c["pp"]["v"], c["pp"]["n"], request_id(c["pp"]["req"])]
                                for c in m["P"]]] for m in vcs]
