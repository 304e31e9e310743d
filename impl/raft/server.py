"""The real runtime: one Raft key-value node on asyncio TCP.

    PROTOSPEC_CLUSTER_SECRET=... python -m impl.raft.server --id 1 \\
        --cluster 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 --data DIR

Node ids are positions in ``--cluster`` (1-based); the node listens on its own address. This
module is a thin driver around :class:`~impl.raft.core.RaftCore`: it turns wall-clock time into
ticks, frames into messages, and handles each :class:`~impl.raft.core.Ready` in the order the
core documents — make the state durable (``DIR/raft.log``), write the events
(``DIR/events.jsonl``), send the messages, apply the committed entries to the key-value map and
answer the clients.

**The Ready pipeline.** One task handles Readies, one at a time. The disk write and its fsync
run on a worker thread, so the event loop keeps accepting messages, ticks and client requests
meanwhile; the core collects what they produce into the *next* Ready (the core's contract), and
nothing a step sends leaves the node before that step's state is durable. Requests arriving
during an fsync share the next one (group commit).

**Wire protocol** (:mod:`impl.runtime.wire`): length-prefixed frames on one port, at most
``--max-frame`` bytes (default 64 MiB). A client frame is a JSON request, answered with a JSON
frame carrying the request's ``rid`` (so a client may pipeline):
``{"op": "put"|"get"|"delete"|"cas", "key", "value"?, "expect"? (cas), "client", "seq",
"rid"?}`` -> ``{"ok": true, "result": ...}`` once applied, or ``{"ok": false, "error":
"not_leader", "leader": "host:port" or null}``; ``{"op": "status"}`` -> the node's role,
term, leader, log length, commit index and pid. A frame over the maximum is answered
``{"ok": false, "error": "frame_too_large", ...}`` and the connection closed.

**Peers** send Raft messages sealed with an HMAC-SHA256 under the cluster secret (from
``--secret-file`` or the ``PROTOSPEC_CLUSTER_SECRET`` environment variable; a node without one
refuses to start). Anything else that looks like peer traffic — a bad MAC, an unsealed Raft
message — is refused, the connection closed, and the refusal logged on stderr. Each peer link
connects with a timeout, gives up a send that does not drain within ``PEER_SEND_TIMEOUT_S``,
and reconnects with backoff; messages for an unreachable peer are dropped (Raft retries).

**Snapshots.** Once the key-value map has applied ``--snapshot-entries`` entries (default
10,000) past the last snapshot, the node compacts: ``raft.log`` is rewritten (atomically, on
the disk thread) as the map's snapshot, the hard state and the entries after it, so the log and
the time to recover stay bounded. A node starts from its snapshot and replays only the tail; a
follower that needs an entry the leader has compacted away gets the snapshot by InstallSnapshot.

``DIR/boot`` counts the node's starts, so message ids stay unique across restarts. A damaged
``raft.log`` (anything but a torn last record) stops the node before it listens: exit code 2
and a message naming the file, byte offset and record (the file is left as it was).
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..runtime.wire import MAX_FRAME, FrameTooLarge, frame, open_peer, read_frame, seal_peer
from .core import BUGS, Config, RaftCore, Ready, Role, message_from_dict, message_to_dict
from .events import EventLog
from .kv import KVStore, encode_command
from .storage import CorruptLog, Snapshot, Storage

__all__ = ["SECRET_ENV", "Node", "main"]

SECRET_ENV = "PROTOSPEC_CLUSTER_SECRET"
QUEUE_LIMIT = 1000  # messages waiting for one peer; beyond this they are dropped
QUEUE_BYTES = 64 << 20  # ... and bytes (a few large entries must not hold gigabytes)
PEER_CONNECT_TIMEOUT_S = 1.0
PEER_SEND_TIMEOUT_S = 2.0  # a peer that does not take our bytes this long is reconnected
EVENTS_SYNC_S = 1.0  # the event log is fsynced this often (and at shutdown)
SNAPSHOT_ENTRIES = 10_000  # compact once this many entries were applied past the snapshot


class CannotStart(Exception):
    """The node's data is readable but not something this server can start from."""


class Node:
    """One server process's state: the core, its disk, its peers and waiting clients."""

    def __init__(self, node_id: int, cluster: list[str], data: Path, *, secret: bytes,
                 tick_ms: int = 20, config: Config | None = None, seed: int | None = None,
                 bug: str | None = None, fsync: bool = True, max_frame: int = MAX_FRAME,
                 events_max_bytes: int = 64 << 20, reads_through_log: bool = False,
                 snapshot_entries: int = SNAPSHOT_ENTRIES) -> None:
        self.id = node_id
        self.cluster = cluster
        self.data = data
        self.secret = secret
        self.tick_s = tick_ms / 1000
        self.fsync = fsync
        self.reads_through_log = reads_through_log  # else ReadIndex: no log entry per get
        self.max_frame = max_frame
        self.snapshot_entries = snapshot_entries  # 0: never compact
        data.mkdir(parents=True, exist_ok=True)
        self.storage, rec = Storage.open(data / "raft.log")  # raises CorruptLog: see main()
        snap = rec.snapshot
        if snap is not None:
            try:
                self.kv = KVStore.restore(snap.data, snap.index)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                self.storage.close()
                raise CannotStart(f"{data / 'raft.log'}: its snapshot (of index {snap.index}) "
                                  f"is not a key-value snapshot ({type(exc).__name__}: {exc}); "
                                  f"the file was left unchanged") from None
        else:
            self.kv = KVStore()
        if rec.note:
            print(f"node {node_id}: {rec.note}", file=sys.stderr, flush=True)
        self.boot = _next_boot(data / "boot")
        self.events = EventLog(data / "events.jsonl", max_bytes=events_max_bytes)
        rng = random.Random(seed if seed is not None else os.urandom(16))
        self.core = RaftCore(node_id, list(range(1, len(cluster) + 1)), rng=rng,
                             current_term=rec.current_term, voted_for=rec.voted_for,
                             log=rec.log, boot=self.boot, config=config or Config(10, 2),
                             bug=bug,
                             snapshot=(snap.index, snap.term, snap.data) if snap else None)
        self.waiters: dict[int, tuple[str, asyncio.Future]] = {}  # index -> (command, future)
        self.reads: dict[int, tuple[str, asyncio.Future]] = {}  # ReadIndex ctx -> (key, future)
        self.confirmed: list[tuple[int, int]] = []  # (read index, ctx): confirmed, not applied
        self._read_ctx = 0
        self.queues: dict[int, asyncio.Queue] = {}
        self.queued: dict[int, int] = {p: 0 for p in range(1, len(cluster) + 1)}  # bytes
        self.refused = 0  # unauthenticated peer frames refused
        self._dirty: asyncio.Event | None = None
        self._disk = ThreadPoolExecutor(1, thread_name_prefix=f"raft{node_id}-disk")

    # -- the Ready pipeline --------------------------------------------------------------------

    def kick(self) -> None:
        """Something changed in the core: let the Ready task look."""
        if self._dirty is not None:
            self._dirty.set()

    async def ready_loop(self) -> None:
        """Handle each Ready in order: durable, logged, sent, applied; then advance."""
        assert self._dirty is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            while self.core.has_ready():
                rd = self.core.ready()
                # Off the event loop: steps taken meanwhile go into the next Ready.
                await loop.run_in_executor(self._disk, self._persist, rd)
                self._handle_durable(rd)
                self.core.advance(rd)
                self._maybe_compact()

    def _maybe_compact(self) -> None:
        """Compact once enough entries were applied past the snapshot (the next Ready
        rewrites the log, on the disk thread)."""
        if (self.snapshot_entries
                and self.kv.applied - self.core.snapshot_index >= self.snapshot_entries
                and self.core.compact(self.kv.applied, self.kv.snapshot_data())):
            self.kick()

    def _persist(self, rd: Ready) -> None:
        if rd.snapshot is not None:
            snap = rd.snapshot
            assert rd.hard_state is not None  # a Ready with a snapshot always carries it
            self.storage.compact(Snapshot(snap.index, snap.term, snap.data), rd.hard_state,
                                 list(rd.entries))  # atomic and durable (fsync, rename)
        elif self.storage.write(rd.hard_state, rd.log_from, list(rd.entries)) and self.fsync:
            self.storage.sync()

    def _handle_durable(self, rd: Ready) -> None:
        now = round(time.time(), 6)
        self.events.write([{**ev, "t": now} for ev in rd.events])
        for m in rd.messages:
            q = self.queues.get(m.dst)
            if q is not None and q.qsize() < QUEUE_LIMIT and self.queued[m.dst] < QUEUE_BYTES:
                data = frame(seal_peer(self.secret, message_to_dict(m)))
                self.queued[m.dst] += len(data)
                q.put_nowait(data)
        if rd.snapshot is not None and rd.snapshot.installed:
            self.kv = KVStore.restore(rd.snapshot.data, rd.snapshot.index)
            for index in [k for k in self.waiters if k <= rd.snapshot.index]:
                _, fut = self.waiters.pop(index)
                if not fut.done():
                    fut.set_result({"ok": False, "error": "retry"})
        for index, entry in rd.committed:
            result = self.kv.apply(index, entry.command)
            waiter = self.waiters.pop(index, None)
            if waiter is not None and not waiter[1].done():
                if waiter[0] == entry.command:
                    waiter[1].set_result({"ok": True, "result": result})
                else:
                    waiter[1].set_result({"ok": False, "error": "retry"})
        self.confirmed.extend((index, ctx) for ctx, index in rd.reads)
        self._answer_reads()

    def _answer_reads(self) -> None:
        """Answer each confirmed read whose read index the state machine has applied."""
        still = []
        for index, ctx in self.confirmed:
            if index > self.kv.applied:
                still.append((index, ctx))
                continue
            read = self.reads.pop(ctx, None)
            if read is not None and not read[1].done():
                read[1].set_result({"ok": True, "result": self.kv.data.get(read[0])})
        self.confirmed = still

    async def ticker(self) -> None:
        next_at = time.monotonic()
        while True:
            next_at += self.tick_s
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            self.core.tick()
            self.kick()
            if self.core.role is not Role.LEADER:
                self._fail_waiters()

    async def events_syncer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(EVENTS_SYNC_S)
            await loop.run_in_executor(self._disk, self.events.sync)

    def _fail_waiters(self) -> None:
        for index, (_, fut) in list(self.waiters.items()):
            if not fut.done():
                fut.set_result({"ok": False, "error": "not_leader", "leader": self._hint()})
            del self.waiters[index]
        for ctx, (_, fut) in list(self.reads.items()):
            if not fut.done():
                fut.set_result({"ok": False, "error": "not_leader", "leader": self._hint()})
            del self.reads[ctx]
        self.confirmed.clear()

    def _hint(self) -> str | None:
        lead = self.core.leader_id
        return self.cluster[lead - 1] if lead else None

    # -- peers ---------------------------------------------------------------------------------

    async def sender(self, peer: int) -> None:
        """Keep a connection to ``peer`` and write its queued frames; drop them while down."""
        q: asyncio.Queue = asyncio.Queue()
        self.queues[peer] = q
        host, port = _split(self.cluster[peer - 1])
        backoff = 0.05
        while True:
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                   PEER_CONNECT_TIMEOUT_S)
            except (TimeoutError, OSError):
                self._clear(peer)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                continue
            backoff = 0.05
            try:
                while True:
                    data = await q.get()
                    self.queued[peer] -= len(data)
                    writer.write(data)
                    await asyncio.wait_for(writer.drain(), PEER_SEND_TIMEOUT_S)
            except (OSError, ConnectionError, TimeoutError):
                self._clear(peer)
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(writer.wait_closed(), 1.0)

    def _clear(self, peer: int) -> None:
        """Drop what waits for an unreachable peer (Raft retransmits what matters)."""
        q = self.queues[peer]
        while not q.empty():
            q.get_nowait()
        self.queued[peer] = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One inbound connection: sealed Raft messages from a peer, or client requests."""
        who = writer.get_extra_info("peername")
        tasks: set[asyncio.Task] = set()
        try:
            while True:
                try:
                    body = await read_frame(reader, self.max_frame)
                except FrameTooLarge as exc:
                    writer.write(frame(json.dumps(
                        {"ok": False, "error": "frame_too_large", "size": exc.size,
                         "max": exc.limit, "message": str(exc)}).encode()))
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(writer.drain(), 1.0)
                    return
                if body is None:
                    return
                if body[:1] == b"M":
                    msg = open_peer(self.secret, body)
                    if msg is None:
                        self._refuse(who, "a peer frame whose HMAC does not verify")
                        return
                    try:
                        m = message_from_dict(msg)
                    except ValueError:
                        self._refuse(who, "an authenticated frame that is not a Raft message")
                        return
                    if m.dst == self.id:
                        self.core.step(m)
                        self.kick()
                    continue
                try:
                    obj = json.loads(body)
                except ValueError:
                    obj = None
                if not isinstance(obj, dict):
                    await self._reply(writer, {"ok": False, "error": "bad_request",
                                               "message": "a frame must hold a JSON object"})
                    continue
                if "type" in obj:
                    self._refuse(who, "an unauthenticated Raft message")
                    return
                t = asyncio.create_task(self._answer(writer, obj))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
        except (OSError, ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            return  # shutting down: the connection goes with the process
        finally:
            for t in tasks:
                t.cancel()
            writer.close()

    def _refuse(self, who: Any, what: str) -> None:
        self.refused += 1
        print(f"node {self.id}: refused {what} from {who} (connection closed; "
              f"{self.refused} refused so far)", file=sys.stderr, flush=True)

    async def _answer(self, writer: asyncio.StreamWriter, req: dict[str, Any]) -> None:
        reply = await self.client_request(req)
        if "rid" in req:
            reply["rid"] = req["rid"]
        await self._reply(writer, reply)

    async def _reply(self, writer: asyncio.StreamWriter, reply: dict[str, Any]) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            writer.write(frame(json.dumps(reply).encode()))
            await writer.drain()

    async def client_request(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req.get("op")
        if op == "status":
            c = self.core
            return {"ok": True, "id": self.id, "role": c.role.name.lower(),
                    "term": c.current_term, "leader": self._hint(), "log_len": c.last_index(),
                    "snapshot_index": c.snapshot_index, "log_bytes": self.storage.size(),
                    "commit": c.commit_index, "applied": self.kv.applied, "pid": os.getpid(),
                    "boot": self.boot, "refused": self.refused}
        if op not in ("put", "get", "delete", "cas"):
            return {"ok": False, "error": f"unknown op {op!r}"}
        if self.core.role is not Role.LEADER:
            return {"ok": False, "error": "not_leader", "leader": self._hint()}
        if op == "get" and self.core.bug == "stale_leader_reads":
            # The bug: answer from the local state machine, with no log entry, read index or
            # lease; a deposed leader cut off by a partition answers stale reads.
            return {"ok": True, "result": self.kv.data.get(str(req.get("key")))}
        if op == "get" and not self.reads_through_log:
            self._read_ctx += 1
            ctx = self._read_ctx
            if not self.core.read_index(ctx):
                return {"ok": False, "error": "not_leader", "leader": self._hint()}
            fut = asyncio.get_running_loop().create_future()
            self.reads[ctx] = (str(req.get("key")), fut)
            self.kick()
            return await fut
        command = encode_command(op, str(req.get("key")), req.get("value"),
                                 client=str(req.get("client", "")), seq=int(req.get("seq", 0)),
                                 expect=req.get("expect"))
        index = self.core.propose(command)
        if index is None:
            return {"ok": False, "error": "not_leader", "leader": self._hint()}
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        old = self.waiters.pop(index, None)
        if old is not None and not old[1].done():
            old[1].set_result({"ok": False, "error": "retry"})
        self.waiters[index] = (command, fut)
        self.kick()
        return await fut

    def close(self) -> None:
        self._disk.shutdown(wait=True)
        self.events.sync()
        self.events.close()
        self.storage.close()


def _split(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host, int(port)


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
    node._dirty = asyncio.Event()
    server = await asyncio.start_server(node.serve, host, port, reuse_address=True,
                                        limit=1 << 20)
    tasks = [asyncio.create_task(node.sender(p)) for p in node.core.peers]
    tasks += [asyncio.create_task(node.ready_loop()), asyncio.create_task(node.ticker()),
              asyncio.create_task(node.events_syncer())]
    node.kick()  # the restart event
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    print(f"node {node.id} listening on {host}:{port} (pid {os.getpid()}, boot {node.boot}, "
          f"term {node.core.current_term}, {len(node.core.log)} entries on disk after a "
          f"snapshot of index {node.core.snapshot_index})", flush=True)
    try:
        await stop.wait()
    finally:
        server.close()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def read_secret(secret_file: str | None) -> bytes | None:
    """The cluster secret from a file (stripped) or the environment, or None."""
    if secret_file:
        return Path(secret_file).read_bytes().strip()
    env = os.environ.get(SECRET_ENV, "")
    return env.encode() if env else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m impl.raft.server",
                                description="Run one node of the Raft key-value store.")
    p.add_argument("--id", type=int, required=True, help="this node's position in --cluster (1..)")
    p.add_argument("--cluster", required=True, help="host:port of every node, comma-separated")
    p.add_argument("--data", required=True, help="this node's data folder")
    p.add_argument("--secret-file", help=f"file holding the cluster secret (default: the "
                                          f"{SECRET_ENV} environment variable)")
    p.add_argument("--tick-ms", type=int, default=20, help="milliseconds per tick (default 20)")
    p.add_argument("--election-ticks", type=int, default=10,
                   help="election timeout: this many ticks or up to twice as many (default 10)")
    p.add_argument("--heartbeat-ticks", type=int, default=2, help="ticks per heartbeat round")
    p.add_argument("--seed", type=int, help="seed the election timer's generator")
    p.add_argument("--bug", choices=BUGS, help="run a deliberately broken node")
    p.add_argument("--no-fsync", action="store_true",
                   help="do not fsync raft.log (UNSAFE: for benchmarks only)")
    p.add_argument("--log-heartbeats", action="store_true",
                   help="log every heartbeat (default: heartbeats that change nothing are "
                        "sent without an event, so an idle node's event log stays still)")
    p.add_argument("--reads-through-log", action="store_true",
                   help="put every get through the log (default: ReadIndex, no log write)")
    p.add_argument("--snapshot-entries", type=int, default=SNAPSHOT_ENTRIES,
                   help=f"compact raft.log into a snapshot once this many entries were applied "
                        f"past the last one (default {SNAPSHOT_ENTRIES}; 0: never)")
    p.add_argument("--max-batch", type=int, default=64,
                   help="the most entries one AppendEntries request carries (default 64)")
    p.add_argument("--max-frame", type=int, default=MAX_FRAME,
                   help=f"largest frame accepted, in bytes (default {MAX_FRAME})")
    p.add_argument("--events-max-bytes", type=int, default=64 << 20,
                   help="rotate events.jsonl at this size (default 64 MiB; every segment is "
                        "kept for conformance checking)")
    args = p.parse_args(argv)
    cluster = [a.strip() for a in args.cluster.split(",") if a.strip()]
    if not 1 <= args.id <= len(cluster):
        p.error(f"--id must be between 1 and {len(cluster)} (the nodes in --cluster)")
    if args.snapshot_entries < 0 or args.max_batch < 1:
        p.error("--snapshot-entries must be >= 0 and --max-batch >= 1")
    if args.max_frame < 16 << 20:
        p.error("--max-frame must be at least 16 MiB (16777216)")
    secret = read_secret(args.secret_file)
    if not secret:
        print(f"node {args.id} refuses to start: no cluster secret (give --secret-file or set "
              f"{SECRET_ENV}; `protospec cluster` generates one)", file=sys.stderr)
        return 2
    try:
        node = Node(args.id, cluster, Path(args.data), secret=secret, tick_ms=args.tick_ms,
                    config=Config(args.election_ticks, args.heartbeat_ticks,
                                  quiet_heartbeats=not args.log_heartbeats,
                                  max_batch_entries=args.max_batch), seed=args.seed,
                    bug=args.bug, fsync=not args.no_fsync, max_frame=args.max_frame,
                    events_max_bytes=args.events_max_bytes,
                    reads_through_log=args.reads_through_log,
                    snapshot_entries=args.snapshot_entries)
    except (CorruptLog, CannotStart) as exc:
        print(f"node {args.id} refuses to start: {exc}", file=sys.stderr, flush=True)
        return 2
    try:
        asyncio.run(run_node(node))
    finally:
        node.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
