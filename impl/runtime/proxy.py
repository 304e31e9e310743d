"""A fault-injecting TCP proxy on 127.0.0.1: partitions and delays between real processes.

Each **link** is one direction of one pair of processes: a listening port on 127.0.0.1 that
process ``src`` dials instead of ``dst``'s real address, forwarded to ``dst``. Because every
process reaches every other only through its own links, cutting links makes partitions, and
delaying them makes a slow network, with nothing changed in the processes themselves (the
Jepsen way: the fault is in the network, not in the code under test).

* a link that is **up** forwards bytes both ways (delayed by ``delay_ms`` per chunk, order kept);
* a link that is **cut** closes its open connections and accepts new ones only to close them
  at once, so the dialling side sees a reset and reconnects later (its messages are lost, as in
  a partition); :meth:`Proxy.partition` cuts every link between groups and
  :meth:`Proxy.heal` restores them all.

The proxy runs its own asyncio loop on a daemon thread; its methods may be called from any
thread. It knows nothing of what the bytes mean.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Link", "Proxy"]

_CHUNK = 1 << 16


@dataclass
class Link:
    """One direction of one pair: ``src`` dials ``listen`` and reaches ``target``."""

    src: int
    dst: int
    target: tuple[str, int]
    listen: tuple[str, int] = ("127.0.0.1", 0)
    up: bool = True
    delay_ms: int = 0
    server: asyncio.AbstractServer | None = None
    conns: set[asyncio.StreamWriter] = field(default_factory=set)


class Proxy:
    """The links of one cluster; :meth:`start` before use, :meth:`close` after."""

    def __init__(self) -> None:
        self.links: dict[tuple[int, int], Link] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="proxy",
                                        daemon=True)
        self._thread.start()

    def _call(self, coro) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def add_link(self, src: int, dst: int, target: tuple[str, int], port: int = 0) -> str:
        """Listen for ``src``'s connections to ``dst`` (forwarded to ``target``); the
        ``host:port`` to give ``src`` as ``dst``'s address."""
        link = Link(src, dst, target, ("127.0.0.1", port))
        self.links[(src, dst)] = link
        self._call(self._listen(link))
        return f"{link.listen[0]}:{link.listen[1]}"

    async def _listen(self, link: Link) -> None:
        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._forward(link, reader, writer)

        link.server = await asyncio.start_server(accept, link.listen[0], link.listen[1],
                                                 reuse_address=True)
        link.listen = link.server.sockets[0].getsockname()[:2]

    async def _forward(self, link: Link, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> None:
        if not link.up:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(*link.target), 2.0)
        except (OSError, TimeoutError):
            writer.close()
            return
        link.conns.update((writer, up_writer))
        try:
            await asyncio.gather(self._pump(link, reader, up_writer),
                                 self._pump(link, up_reader, writer))
        finally:
            for w in (writer, up_writer):
                link.conns.discard(w)
                w.close()

    async def _pump(self, link: Link, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        try:
            while link.up:
                data = await reader.read(_CHUNK)
                if not data:
                    break
                if link.delay_ms:
                    await asyncio.sleep(link.delay_ms / 1000)
                if not link.up:
                    break
                writer.write(data)
                await writer.drain()
        except (OSError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()

    def set_link(self, src: int, dst: int, *, up: bool | None = None,
                 delay_ms: int | None = None) -> None:
        """Cut or restore one direction, or change its delay."""
        link = self.links[(src, dst)]

        async def apply() -> None:
            if delay_ms is not None:
                link.delay_ms = delay_ms
            if up is not None:
                link.up = up
                if not up:
                    for w in list(link.conns):
                        w.close()
                    link.conns.clear()

        self._call(apply())

    def partition(self, groups: Iterable[Iterable[int]]) -> None:
        """Cut every link between two different groups; links inside a group are restored.
        A process in no group is cut off from everyone."""
        side = {n: k for k, group in enumerate(groups) for n in group}
        for (src, dst) in self.links:
            same = src in side and side.get(src) == side.get(dst)
            self.set_link(src, dst, up=same)

    def isolate(self, node: int) -> None:
        """Cut ``node`` off from every other process (both directions)."""
        for (src, dst) in self.links:
            if node in (src, dst):
                self.set_link(src, dst, up=False)

    def heal(self) -> None:
        """Restore every link (delays are kept)."""
        for (src, dst) in self.links:
            self.set_link(src, dst, up=True)

    def close(self) -> None:
        async def shut() -> None:
            for link in self.links.values():
                link.up = False
                for w in list(link.conns):
                    w.close()
                if link.server is not None:
                    link.server.close()

        with contextlib.suppress(Exception):
            self._call(shut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
