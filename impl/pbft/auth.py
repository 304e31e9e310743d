"""Message authentication: HMAC-SHA256 authenticators per pair of principals, as in PBFT.

Source: Castro & Liskov, OSDI '99, section 5.1 ("we use message authentication codes ... an
authenticator is a vector of MACs, one per replica"). Every pair of principals (replica ``i``
and replica ``j``, or replica ``i`` and client ``c``) shares a secret key; the sender of a
multicast computes one MAC per receiver over the same body and sends the vector. A receiver
checks only its own entry. Because the vector travels with the message, a replica that relays
a message (a prepared certificate inside a VIEW-CHANGE) relays authentication each later
receiver can check for itself.

Why HMAC and not Ed25519: a MAC costs about a microsecond, a signature tens to a hundred
(Castro & Liskov measured the same ratio, three orders of magnitude, and made it the point of
section 5.1); PBFT multicasts O(n^2) messages per request, so the choice sets the throughput.
The price, stated by the paper's later version (TOCS 2002, section 3.2): a faulty *sender* can
make an authenticator whose entries verify at some replicas and not at others. None of the
strategies in :mod:`impl.pbft.byzantine` does that; the view-change acknowledgements that
defend against it are left out (docs/specs/pbft.md).

Keys come from one cluster secret, but a principal is only ever handed a :class:`Keyring`
holding the keys of its own pairs: a Byzantine replica's code cannot compute another replica's
MAC, so a message it forges in another's name fails verification and is dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

__all__ = ["Keyring", "body", "client_keyring", "replica_keyring", "replica_name"]

MAC_BYTES = 10  # hex digits kept of each MAC (PBFT used 10-byte UMAC tags)
_NOT_SIGNED = ("dst", "id", "auth", "mid")  # transport fields: not part of what is authenticated


def body(msg: dict[str, Any]) -> bytes:
    """The bytes a message's authenticator covers: everything but dst, id, auth and mid."""
    return json.dumps({k: v for k, v in msg.items() if k not in _NOT_SIGNED},
                      separators=(",", ":"), sort_keys=True).encode()


def _pair_key(secret: bytes, a: str, b: str) -> bytes:
    lo, hi = sorted((a, b))
    return hmac.new(secret, f"pair|{lo}|{hi}".encode(), hashlib.sha256).digest()


def _client_root(secret: bytes, replica: str) -> bytes:
    """The root from which replica's keys with clients derive (clients come and go)."""
    return hmac.new(secret, f"clients|{replica}".encode(), hashlib.sha256).digest()


class Keyring:
    """The keys one principal shares with the others (and nothing else).

    ``client_root`` (replicas only) derives the key shared with any client ``c`` as
    HMAC(root, c), so a replica knows its keys with clients it has never heard of.
    """

    def __init__(self, owner: str, keys: dict[str, bytes], client_root: bytes | None = None
                 ) -> None:
        self.owner = owner
        self._keys = keys
        self._client_root = client_root

    def mac(self, peer: str, data: bytes) -> str:
        """The MAC of ``data`` under the key shared with ``peer`` ('' if there is none)."""
        key = self._keys.get(peer)
        if key is None and self._client_root is not None and peer.startswith("c:"):
            key = hmac.new(self._client_root, peer.encode(), hashlib.sha256).digest()
        if key is None:
            return ""
        return hmac.new(key, data, hashlib.sha256).hexdigest()[:2 * MAC_BYTES]

    def authenticator(self, peers: list[str], data: bytes) -> dict[str, str]:
        """The vector of MACs, one per peer."""
        return {p: self.mac(p, data) for p in peers}

    def verify(self, sender: str, data: bytes, authenticator: Any) -> bool:
        """Whether ``authenticator`` holds a valid entry for this principal from ``sender``."""
        if not isinstance(authenticator, dict):
            return False
        tag = authenticator.get(self.owner)
        return isinstance(tag, str) and bool(tag) and \
            hmac.compare_digest(tag, self.mac(sender, data))


def replica_name(i: int) -> str:
    return f"r{i}"


def replica_keyring(secret: bytes, i: int, n: int) -> Keyring:
    """Replica ``i``'s keys: one per other replica, and its root for clients' keys."""
    me = replica_name(i)
    keys = {replica_name(j): _pair_key(secret, me, replica_name(j))
            for j in range(1, n + 1) if j != i}
    return Keyring(me, keys, _client_root(secret, me))


def client_keyring(secret: bytes, client: str, n: int) -> Keyring:
    """A client's keys (``client`` starts with ``c:``): one per replica."""
    keys = {}
    for j in range(1, n + 1):
        root = _client_root(secret, replica_name(j))
        keys[replica_name(j)] = hmac.new(root, client.encode(), hashlib.sha256).digest()
    return Keyring(client, keys)
