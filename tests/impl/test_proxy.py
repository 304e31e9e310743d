"""The fault-injecting proxy between real sockets: forwards, cuts, partitions, heals, delays."""

from __future__ import annotations

import socket
import socketserver
import threading
import time

import pytest
from protospec.impl.runtime.proxy import Proxy


@pytest.fixture
def echo():
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            while data := self.request.recv(4096):
                self.request.sendall(data)

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy():
    p = Proxy()
    yield p
    p.close()


def roundtrip(addr: str, data: bytes = b"ping") -> bytes:
    """What comes back; b"" if the proxy closed or reset the connection."""
    host, _, port = addr.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2) as s:
            s.sendall(data)
            return s.recv(4096)
    except ConnectionError:
        return b""


def test_an_up_link_forwards_both_ways(echo, proxy):
    addr = proxy.add_link(1, 2, echo)
    assert roundtrip(addr) == b"ping"


def test_a_cut_link_closes_new_connections_and_heal_restores_it(echo, proxy):
    addr = proxy.add_link(1, 2, echo)
    proxy.isolate(2)
    assert roundtrip(addr) == b""  # closed at once: the dialler sees the connection end
    proxy.heal()
    assert roundtrip(addr) == b"ping"


def test_cutting_a_link_closes_its_open_connections(echo, proxy):
    addr = proxy.add_link(1, 2, echo)
    host, _, port = addr.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=2) as s:
        s.sendall(b"a")
        assert s.recv(10) == b"a"
        proxy.set_link(1, 2, up=False)
        try:
            closed = s.recv(10) == b""
        except ConnectionError:
            closed = True
        assert closed


def test_a_partition_cuts_only_links_between_groups(echo, proxy):
    links = {(i, j): proxy.add_link(i, j, echo) for i in (1, 2, 3) for j in (1, 2, 3) if i != j}
    proxy.partition([[1, 2], [3]])
    assert {k for k, a in links.items() if roundtrip(a) == b"ping"} == {(1, 2), (2, 1)}


def test_a_delayed_link_delivers_late_but_in_order(echo, proxy):
    addr = proxy.add_link(1, 2, echo)
    proxy.set_link(1, 2, delay_ms=200)
    start = time.monotonic()
    assert roundtrip(addr, b"slow") == b"slow"
    assert time.monotonic() - start >= 0.2
