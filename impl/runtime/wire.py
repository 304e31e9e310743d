"""Length-prefixed frames and peer authentication, for every implementation's TCP driver.

A frame is ``length`` (u32, big-endian) followed by ``length`` body bytes. A reader refuses a
frame longer than its maximum (:data:`MAX_FRAME` by default, 64 MiB) with
:class:`FrameTooLarge` *before* reading the body, so a bad length cannot make it allocate
gigabytes; the server then answers with a clear error and closes the connection.

Bodies come in two kinds, told apart by their first byte:

* ``{`` — a client's JSON request or a server's JSON reply (not authenticated: clients are
  whoever can reach the port, as with etcd without TLS);
* ``M`` — a peer message: ``M`` + HMAC-SHA256 (32 bytes) of the rest under the cluster secret
  + the message's JSON. :func:`open_peer` returns the message only if the MAC verifies
  (constant-time compare); anything else is refused by the caller, and logged.

The MAC authenticates who sent a message, not when: a recorded message can be replayed. Raft
tolerates duplicated and delayed messages (the network may do the same), so that is safe for
the protocols here; a protocol that is not must add its own nonces.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import struct
from typing import Any

__all__ = ["MAX_FRAME", "FrameTooLarge", "frame", "open_peer", "read_frame", "recv_frame",
           "seal_peer"]

MAX_FRAME = 64 << 20  # bytes in one frame's body; a 1 MiB value travels with room to spare
_LEN = struct.Struct(">I")
_MAC_SIZE = 32


class FrameTooLarge(Exception):
    """A frame announced more bytes than the reader accepts."""

    def __init__(self, size: int, limit: int) -> None:
        self.size, self.limit = size, limit
        super().__init__(f"a frame of {size} bytes exceeds the maximum of {limit} bytes")


def frame(body: bytes) -> bytes:
    """The bytes of one frame carrying ``body``."""
    return _LEN.pack(len(body)) + body


async def read_frame(reader: asyncio.StreamReader, limit: int = MAX_FRAME) -> bytes | None:
    """The next frame's body, or None at a clean end of stream (between frames).

    Raises FrameTooLarge (body unread) and asyncio.IncompleteReadError (stream ended inside a
    frame).
    """
    try:
        head = await reader.readexactly(_LEN.size)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise
    (size,) = _LEN.unpack(head)
    if size > limit:
        raise FrameTooLarge(size, limit)
    return await reader.readexactly(size)


def recv_frame(sock: socket.socket, limit: int = MAX_FRAME) -> bytes:
    """A blocking socket's next frame body (raises OSError if the peer closes mid-frame)."""
    (size,) = _LEN.unpack(_recv_exactly(sock, _LEN.size))
    if size > limit:
        raise FrameTooLarge(size, limit)
    return _recv_exactly(sock, size)


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise OSError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def seal_peer(secret: bytes, message: dict[str, Any]) -> bytes:
    """A peer message's frame body: ``M`` + HMAC-SHA256 + JSON."""
    body = json.dumps(message, separators=(",", ":")).encode()
    return b"M" + hmac.new(secret, body, hashlib.sha256).digest() + body


def open_peer(secret: bytes, body: bytes) -> dict[str, Any] | None:
    """The message in a peer frame body if its MAC verifies under ``secret``, else None."""
    if len(body) <= 1 + _MAC_SIZE or body[:1] != b"M":
        return None
    mac, payload = body[1:1 + _MAC_SIZE], body[1 + _MAC_SIZE:]
    if not hmac.compare_digest(mac, hmac.new(secret, payload, hashlib.sha256).digest()):
        return None
    try:
        msg = json.loads(payload)
    except ValueError:
        return None
    return msg if isinstance(msg, dict) else None
