"""The real runtime for a sans-IO core (:mod:`impl.runtime.core`): one process on asyncio TCP.

    python -m protospec.impl.paxos.server --id 1 \\
        --cluster 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 --data DIR

Process ids are positions in ``--cluster`` (1-based); the process listens on its own address.
The driver turns wall-clock time into ticks and bytes into messages, and handles each Ready in
the order the core contract fixes: append the records to ``DIR/state.log``
(:mod:`impl.runtime.storage`) and fsync, write the events to ``DIR/events.jsonl``, send the
messages, answer the clients. ``DIR/boot`` counts the process's starts, so message ids stay
unique across restarts. A record log damaged other than by a torn last record stops the process
(exit status 2) with the storage layer's message naming file, offset and record.

Wire protocol: newline-delimited JSON on one port. A line with ``type`` is a peer's message
(peers send on connections they open and never expect an answer); a line with ``op`` is a
client request, answered on the same connection with one line. A message to a peer that cannot
be reached is dropped: every protocol here re-sends what matters.

``--kill-after-records N`` is a failpoint (as etcd's gofail): the process SIGKILLs itself right
after the fsync that makes its N-th record durable, before that step's events are logged or its
messages sent — for a two-phase commit coordinator, between logging its decision and sending it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .core import Core
from .events import EventLog
from .storage import CorruptLog, RecordLog

__all__ = ["TcpNode", "main"]

QUEUE_LIMIT = 1000  # messages waiting for one peer; beyond this they are dropped


class TcpNode:
    """One process: its core, record log, event log, peers and waiting clients."""

    def __init__(self, factory: Callable[..., Core], node_id: int, cluster: Sequence[str],
                 data: Path, *, tick_ms: int = 20, seed: int | None = None,
                 bug: str | None = None, kill_after_records: int | None = None) -> None:
        self.id = node_id
        self.cluster = list(cluster)
        self.tick_s = tick_ms / 1000
        data.mkdir(parents=True, exist_ok=True)
        self.boot = _next_boot(data / "boot")
        self.log, rec = RecordLog.open(data / "state.log")
        if rec.note:
            print(f"node {node_id}: {rec.note}", file=sys.stderr)
        self.records = len(rec.records)
        self.kill_after = kill_after_records
        self.events = EventLog(data / "events.jsonl")
        rng = random.Random(seed if seed is not None else os.urandom(16))
        self.core = factory(node_id, len(self.cluster), rec.records, self.boot, rng, bug)
        self.queues: dict[int, asyncio.Queue] = {}

    def drain(self) -> None:
        """Handle the core's Ready: fsync, log, send, answer (the contract's order)."""
        rd = self.core.ready()
        if rd.empty():
            return
        if rd.records:
            for r in rd.records:
                self.log.append(r)
            self.log.sync()
            self.records += len(rd.records)
            if self.kill_after is not None and self.records >= self.kill_after:
                os.kill(os.getpid(), signal.SIGKILL)  # the failpoint: durable, unsent
        now = round(time.time(), 6)
        for ev in rd.events:
            ev["t"] = now
        self.events.write(rd.events)
        for m in rd.messages:
            line = json.dumps(m, separators=(",", ":")) + "\n"
            if m["dst"] == self.id:
                asyncio.get_running_loop().call_soon(self._local, m)
                continue
            q = self.queues.get(m["dst"])
            if q is not None and q.qsize() < QUEUE_LIMIT:
                q.put_nowait(line)
        for fut, reply in rd.replies:
            if not fut.done():
                fut.set_result(reply)

    def _local(self, m: dict[str, Any]) -> None:
        self.core.step(m)
        self.drain()

    async def ticker(self) -> None:
        next_at = time.monotonic()
        while True:
            next_at += self.tick_s
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            self.core.tick()
            self.drain()

    async def sender(self, peer: int) -> None:
        """Keep a connection to ``peer`` and write its queued messages; drop them while down."""
        q: asyncio.Queue = asyncio.Queue()
        self.queues[peer] = q
        host, port = _split(self.cluster[peer - 1])
        while True:
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
            except (TimeoutError, OSError):
                _clear(q)
                await asyncio.sleep(0.1)
                continue
            try:
                while True:
                    line = await q.get()
                    writer.write(line.encode())
                    await writer.drain()
            except (OSError, ConnectionError):
                _clear(q)
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One inbound connection: a peer's messages, or a client's requests."""
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(obj, dict):
                    continue
                if "type" in obj:
                    if obj.get("dst") == self.id:
                        try:
                            self.core.step(obj)
                        except (KeyError, TypeError, ValueError, AttributeError):
                            continue  # a malformed message: a peer's bug, not ours to die of
                        self.drain()
                elif "op" in obj:
                    fut: asyncio.Future = asyncio.get_running_loop().create_future()
                    self.core.request(fut, obj)
                    self.drain()
                    reply = await fut
                    writer.write((json.dumps(reply) + "\n").encode())
                    await writer.drain()
        except (OSError, ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            return
        finally:
            writer.close()


def _split(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host, int(port)


def _clear(q: asyncio.Queue) -> None:
    while not q.empty():
        q.get_nowait()


def _next_boot(path: Path) -> int:
    """How many times this process started before; counts this start, durably."""
    boot = int(path.read_text()) + 1 if path.exists() else 0
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        f.write(str(boot))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return boot


async def run_node(node: TcpNode) -> None:
    host, port = _split(node.cluster[node.id - 1])
    server = await asyncio.start_server(node.serve, host, port, reuse_address=True)
    tasks = [asyncio.create_task(node.sender(p)) for p in range(1, len(node.cluster) + 1)
             if p != node.id]
    node.drain()  # the restart event, and whatever the core does on recovery
    tasks.append(asyncio.create_task(node.ticker()))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    print(f"node {node.id} listening on {host}:{port} (boot {node.boot}, {node.records} "
          f"records on disk)", flush=True)
    try:
        await stop.wait()
    finally:
        for t in tasks:
            t.cancel()
        server.close()


def main(argv: list[str] | None, factory: Callable[..., Core], bugs: Sequence[str],
         prog: str, what: str) -> int:
    """The command line of one process of a protocol (its server module calls this)."""
    p = argparse.ArgumentParser(prog=prog, description=f"Run one process of {what}.")
    p.add_argument("--id", type=int, required=True, help="this process's position in --cluster")
    p.add_argument("--cluster", required=True, help="host:port of every process, comma-separated")
    p.add_argument("--data", required=True, help="this process's data folder")
    p.add_argument("--tick-ms", type=int, default=20, help="milliseconds per tick (default 20)")
    p.add_argument("--seed", type=int, help="seed the core's random generator")
    p.add_argument("--bug", choices=bugs, help="run a deliberately broken process")
    p.add_argument("--kill-after-records", type=int, metavar="N",
                   help="failpoint: SIGKILL this process right after its N-th record is durable")
    args = p.parse_args(argv)
    cluster = [a.strip() for a in args.cluster.split(",") if a.strip()]
    if not 1 <= args.id <= len(cluster):
        p.error(f"--id must be between 1 and {len(cluster)} (the processes in --cluster)")
    try:
        node = TcpNode(factory, args.id, cluster, Path(args.data), tick_ms=args.tick_ms,
                       seed=args.seed, bug=args.bug, kill_after_records=args.kill_after_records)
    except CorruptLog as exc:
        print(f"node {args.id}: cannot start: {exc}", file=sys.stderr)
        return 2
    asyncio.run(run_node(node))
    return 0
