"""One request, one answer: the client side of the JSON-lines protocol of
:mod:`impl.runtime.tcp`."""

from __future__ import annotations

import json
import socket
from typing import Any

__all__ = ["call"]


def call(addr: str, request: dict[str, Any], *, timeout: float) -> dict[str, Any]:
    """Send ``request`` to ``host:port`` and return its answer. Raises OSError (including
    a timeout) if the process cannot be reached or does not answer in ``timeout`` seconds,
    ValueError if the answer is not a JSON object."""
    host, _, port = addr.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall((json.dumps(request) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError(f"{addr} closed the connection without answering")
            buf += chunk
    reply = json.loads(buf)
    if not isinstance(reply, dict):
        raise ValueError(f"{addr} answered {reply!r}, not a JSON object")
    return reply
