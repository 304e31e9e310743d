"""The real runtime: one Raft key-value node on asyncio TCP.

    python -m impl.raft.server --id 1 \\
        --cluster 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 --data DIR

Node ids are positions in ``--cluster`` (1-based); the node listens on its own address. This
module is a thin driver around :class:`~impl.raft.core.RaftCore`: it turns wall-clock time into
ticks, bytes into messages, and handles each :class:`~impl.raft.core.Ready` in the order the
core documents — fsync the state (``DIR/raft.log``), write the events (``DIR/events.jsonl``),
send the messages, apply the committed entries to the key-value map and answer the clients.

Wire protocol: newline-delimited JSON on one port. A line with ``type`` is a Raft message (in
:func:`~impl.raft.core.message_to_dict` form; peers send them on connections they open, and
never expect an answer); a line with ``op`` is a client request, answered on the same
connection: ``{"op": "put"|"get"|"delete", "key", "value"?, "client", "seq"}`` ->
``{"ok": true, "result": ...}`` once applied, or ``{"ok": false, "error": "not_leader",
"leader": "host:port" or null}``; ``{"op": "status"}`` -> the node's role, term, leader, log
length and commit index.

Messages to a peer that cannot be reached are dropped (Raft retries on its own); so are
messages queued when a connection breaks. ``DIR/boot`` counts the node's starts, so message
ids stay unique across restarts.
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
from pathlib import Path
from typing import Any

from .core import BUGS, Config, RaftCore, Role, message_from_dict, message_to_dict
from .events import EventLog
from .kv import KVStore, encode_command
from .storage import CorruptLog, Storage

__all__ = ["Node", "main"]

QUEUE_LIMIT = 1000  # messages waiting for one peer; beyond this they are dropped


class Node:
    """One server process's state: the core, its disk, its peers and waiting clients."""

    def __init__(self, node_id: int, cluster: list[str], data: Path, *, tick_ms: int = 20,
                 config: Config | None = None, seed: int | None = None,
                 bug: str | None = None) -> None:
        self.id = node_id
        self.cluster = cluster
        self.data = data
        self.tick_s = tick_ms / 1000
        data.mkdir(parents=True, exist_ok=True)
        self.boot = _next_boot(data / "boot")
        self.storage, rec = Storage.open(data / "raft.log")  # raises CorruptLog: see main()
        if rec.note:
            print(f"node {node_id}: {rec.note}", file=sys.stderr, flush=True)
        self.events = EventLog(data / "events.jsonl")
        rng = random.Random(seed if seed is not None else os.urandom(16))
        self.core = RaftCore(node_id, list(range(1, len(cluster) + 1)), rng=rng,
                             current_term=rec.current_term, voted_for=rec.voted_for,
                             log=rec.log, boot=self.boot, config=config or Config(10, 2),
                             bug=bug)
        self.kv = KVStore()
        self.waiters: dict[int, tuple[str, asyncio.Future]] = {}  # index -> (command, future)
        self.queues: dict[int, asyncio.Queue] = {}

    # -- the Ready loop ------------------------------------------------------------------------

    def drain(self) -> None:
        """Handle the core's Ready: fsync, log, send, apply (the order core.py documents)."""
        rd = self.core.ready()
        if rd.empty():
            return
        self.storage.save(rd.hard_state, rd.log_from, rd.entries)
        now = round(time.time(), 6)
        for ev in rd.events:
            ev["t"] = now
        self.events.write(rd.events)
        for m in rd.messages:
            q = self.queues.get(m.dst)
            if q is not None and q.qsize() < QUEUE_LIMIT:
                q.put_nowait(json.dumps(message_to_dict(m), separators=(",", ":")) + "\n")
        for index, entry in rd.committed:
            result = self.kv.apply(index, entry.command)
            waiter = self.waiters.pop(index, None)
            if waiter is not None and not waiter[1].done():
                if waiter[0] == entry.command:
                    waiter[1].set_result({"ok": True, "result": result})
                else:
                    waiter[1].set_result({"ok": False, "error": "retry"})
        self.core.advance(rd)

    async def ticker(self) -> None:
        next_at = time.monotonic()
        while True:
            next_at += self.tick_s
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            self.core.tick()
            self.drain()
            if self.core.role is not Role.LEADER:
                self._fail_waiters()

    def _fail_waiters(self) -> None:
        for index, (_, fut) in list(self.waiters.items()):
            if not fut.done():
                fut.set_result({"ok": False, "error": "not_leader", "leader": self._hint()})
            del self.waiters[index]

    def _hint(self) -> str | None:
        lead = self.core.leader_id
        return self.cluster[lead - 1] if lead else None

    # -- peers ---------------------------------------------------------------------------------

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
        """One inbound connection: Raft messages from a peer, or requests from a client."""
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if "type" in obj:
                    try:
                        m = message_from_dict(obj)
                    except ValueError:
                        continue
                    if m.dst == self.id:
                        self.core.step(m)
                        self.drain()
                elif "op" in obj:
                    reply = await self.client_request(obj)
                    writer.write((json.dumps(reply) + "\n").encode())
                    await writer.drain()
        except (OSError, ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            return  # shutting down: the connection goes with the process
        finally:
            writer.close()

    async def client_request(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req.get("op")
        if op == "status":
            c = self.core
            return {"ok": True, "id": self.id, "role": c.role.name.lower(),
                    "term": c.current_term, "leader": self._hint(), "log_len": len(c.log),
                    "commit": c.commit_index, "applied": self.kv.applied}
        if op not in ("put", "get", "delete"):
            return {"ok": False, "error": f"unknown op {op!r}"}
        if self.core.role is not Role.LEADER:
            return {"ok": False, "error": "not_leader", "leader": self._hint()}
        if op == "get" and self.core.bug == "stale_leader_reads":
            # The bug: answer from the local state machine, with no log entry, read index or
            # lease; a deposed leader cut off by a partition answers stale reads.
            return {"ok": True, "result": self.kv.data.get(str(req.get("key")))}
        command = encode_command(op, str(req.get("key")), req.get("value"),
                                 client=str(req.get("client", "")), seq=int(req.get("seq", 0)))
        index = self.core.propose(command)
        if index is None:
            return {"ok": False, "error": "not_leader", "leader": self._hint()}
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        old = self.waiters.pop(index, None)
        if old is not None and not old[1].done():
            old[1].set_result({"ok": False, "error": "retry"})
        self.waiters[index] = (command, fut)
        self.drain()
        return await fut


def _split(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host, int(port)


def _clear(q: asyncio.Queue) -> None:
    while not q.empty():
        q.get_nowait()


def _next_boot(path: Path) -> int:
    """How many times this node started before; counts this start, durably."""
    boot = int(path.read_text()) + 1 if path.exists() else 0
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        f.write(str(boot))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return boot


async def run_node(node: Node) -> None:
    host, port = _split(node.cluster[node.id - 1])
    server = await asyncio.start_server(node.serve, host, port, reuse_address=True)
    node.drain()  # the restart event
    tasks = [asyncio.create_task(node.sender(p)) for p in node.core.peers]
    tasks.append(asyncio.create_task(node.ticker()))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    print(f"node {node.id} listening on {host}:{port} (boot {node.boot}, term "
          f"{node.core.current_term}, {len(node.core.log)} entries on disk)", flush=True)
    try:
        await stop.wait()
    finally:
        for t in tasks:
            t.cancel()
        server.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m impl.raft.server",
                                description="Run one node of the Raft key-value store.")
    p.add_argument("--id", type=int, required=True, help="this node's position in --cluster (1..)")
    p.add_argument("--cluster", required=True, help="host:port of every node, comma-separated")
    p.add_argument("--data", required=True, help="this node's data folder")
    p.add_argument("--tick-ms", type=int, default=20, help="milliseconds per tick (default 20)")
    p.add_argument("--election-ticks", type=int, default=10,
                   help="election timeout: this many ticks or up to twice as many (default 10)")
    p.add_argument("--heartbeat-ticks", type=int, default=2, help="ticks per heartbeat round")
    p.add_argument("--seed", type=int, help="seed the election timer's generator")
    p.add_argument("--bug", choices=BUGS, help="run a deliberately broken node")
    args = p.parse_args(argv)
    cluster = [a.strip() for a in args.cluster.split(",") if a.strip()]
    if not 1 <= args.id <= len(cluster):
        p.error(f"--id must be between 1 and {len(cluster)} (the nodes in --cluster)")
    try:
        node = Node(args.id, cluster, Path(args.data), tick_ms=args.tick_ms,
                    config=Config(args.election_ticks, args.heartbeat_ticks), seed=args.seed,
                    bug=args.bug)
    except CorruptLog as exc:
        print(f"node {args.id} refuses to start: {exc}", file=sys.stderr, flush=True)
        return 2
    asyncio.run(run_node(node))
    return 0


if __name__ == "__main__":
    sys.exit(main())
