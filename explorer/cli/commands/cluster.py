"""``protospec cluster``: run a local cluster of a registered implementation, and break it.

The target's conformance object (:mod:`explorer.conformance`) says how many processes a cluster
has and how to start one (``cluster_size``, ``node_argv``); this module knows no protocol. The
processes run on 127.0.0.1, each with a data folder and event log under ``--data``, until
Ctrl-C, SIGTERM or ``--for`` seconds; then every process is stopped (SIGTERM, SIGKILL after
5 s) and waited for, so none is left behind. Afterwards
``protospec conform TARGET --logs DATA`` checks what they did.

Faults, Jepsen style, from the outside:

* processes talk to each other through a fault-injecting TCP proxy
  (:mod:`impl.runtime.proxy`): process *i* is given, as the address of process *j*, a proxy
  port that forwards to *j*; clients use the real addresses;
* a process that dies is reported and the cluster keeps going; it can be restarted;
* commands, from the control port (``--control PORT``: one command per line, one reply line) or
  a ``--nemesis FILE`` schedule (``SECONDS COMMAND`` per line, ``#`` comments):

  ``kill N`` (SIGKILL), ``stop N`` (SIGTERM, wait), ``restart N`` (start a stopped or dead
  process again, on its data), ``isolate N`` (cut N off from every other process),
  ``partition 1,2/3,4,5`` (cut every link between the groups), ``heal``, ``delay MS`` (every
  link), ``status`` (a JSON line: each process's pid and whether it runs).

The addresses, the control port and each process's pid are written to ``DATA/cluster.json``,
and every fault applied to ``DATA/nemesis.log``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...conformance import Conformance
from ...errors import UsageError
from ..common import out_console
from .conform import load_target

#: The environment variable through which a cluster passes its generated secret to every
#: process (implementations that authenticate peers read it).
SECRET_ENV = "PROTOSPEC_CLUSTER_SECRET"
STOP_GRACE_S = 5.0
COMMANDS = ("kill", "stop", "restart", "isolate", "partition", "heal", "delay", "status")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "cluster", help="run a local cluster of an implementation, with faults on command",
        description="Start the processes of TARGET's implementation on 127.0.0.1 (node k "
                    "listening on BASE+k-1), each with a data folder under --data, connected "
                    "through a fault-injecting proxy, and keep them running until Ctrl-C, "
                    "SIGTERM or --for seconds; then stop every process and wait for it. A "
                    "process that dies is reported and the rest keep running. Faults on "
                    "command: --control PORT (lines: kill N, stop N, restart N, isolate N, "
                    "partition 1,2/3,4,5, heal, delay MS, status) or --nemesis FILE "
                    "(SECONDS COMMAND per line). Then check what they did with "
                    "`protospec conform TARGET --logs DATA`.")
    p.add_argument("target", metavar="TARGET",
                   help="a registered implementation (`protospec conform` lists them)")
    p.add_argument("--nodes", type=int, default=3, metavar="N",
                   help="cluster size, as the target counts nodes (default 3)")
    p.add_argument("--base-port", type=int, default=7001, metavar="PORT",
                   help="the first process's port (default 7001; 0 picks free ports)")
    p.add_argument("--data", metavar="DIR",
                   help="folder for the processes' data and event logs (default: a new "
                        "temporary folder)")
    p.add_argument("--bug", metavar="NAME", help="run a deliberately broken implementation")
    p.add_argument("--for", dest="seconds", type=float, metavar="SECONDS",
                   help="stop the cluster after this many seconds (default: run until stopped)")
    p.add_argument("--control", type=int, metavar="PORT",
                   help="accept fault commands on 127.0.0.1:PORT (0 picks a free port)")
    p.add_argument("--nemesis", metavar="FILE",
                   help="apply the faults in FILE at their times (lines: SECONDS COMMAND)")
    p.add_argument("--node-arg", dest="node_args", action="append", default=[], metavar="ARG",
                   help="append ARG to every node's command line (repeat for several), e.g. "
                        "--node-arg=--snapshot-entries=500 for the Raft server")
    p.add_argument("--no-proxy", action="store_true",
                   help="connect the processes directly (no partitions or delays then)")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks for errors")
    p.set_defaults(func=run)


class _Stop(Exception):
    """SIGTERM arrived: stop the cluster as Ctrl-C would."""


@dataclass
class _Process:
    node: int
    argv: list[str]
    out: Path
    proc: subprocess.Popen | None = None
    reported: bool = False  # its death has been reported


class Cluster:
    """The processes of one local cluster, their proxy, and the fault commands on them."""

    def __init__(self, target: Conformance, nodes: int, data: Path, base_port: int, *,
                 bug: str | None, proxy: bool, say, node_args: Sequence[str] = ()) -> None:
        self.target = target
        self.data = data
        self.say = say
        self.lock = threading.RLock()
        self.size = target.cluster_size(nodes)
        ports = (_free_ports(self.size) if base_port == 0
                 else [base_port + k for k in range(self.size)])
        self.addrs = [f"127.0.0.1:{p}" for p in ports]
        self.proxy = None
        views = [list(self.addrs) for _ in range(self.size)]
        if proxy and self.size > 1:
            from protospec.impl.runtime.proxy import Proxy

            self.proxy = Proxy()
            for i in range(1, self.size + 1):
                for j in range(1, self.size + 1):
                    if i != j:
                        views[i - 1][j - 1] = self.proxy.add_link(i, j, ("127.0.0.1",
                                                                         ports[j - 1]))
        self.env = {**_child_env(), SECRET_ENV: secrets.token_hex(32)}
        self.procs = {k: _Process(k, target.node_argv(k, views[k - 1], data / f"node{k}",
                                                      bug=bug) + list(node_args),
                                  data / f"node{k}.out")
                      for k in range(1, self.size + 1)}
        self.nemesis_log = open(data / "nemesis.log", "a")  # noqa: SIM115 - closed in close()

    # -- processes -----------------------------------------------------------------------------

    def start(self, k: int) -> None:
        with self.lock:
            self.reap()  # a death not yet reported is reported before the restart
            p = self.procs[k]
            if p.proc is not None and p.proc.poll() is None:
                raise UsageError(f"node {k} is running (pid {p.proc.pid})")
            out = open(p.out, "ab")  # noqa: SIM115 - the child keeps it
            p.proc = subprocess.Popen(p.argv, stdout=out, stderr=subprocess.STDOUT,
                                      env=self.env)
            out.close()
            p.reported = False
            self._write_manifest()

    def signal(self, k: int, sig: int, wait: bool) -> None:
        with self.lock:
            p = self.procs[k]
            if p.proc is None or p.proc.poll() is not None:
                raise UsageError(f"node {k} is not running")
            p.proc.send_signal(sig)
            if wait:
                try:
                    p.proc.wait(timeout=STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    p.proc.kill()
                    p.proc.wait()
            else:
                p.proc.wait()
            p.reported = True

    def reap(self) -> None:
        """Report each process that died since the last look (the cluster keeps going)."""
        with self.lock:
            for p in self.procs.values():
                if p.proc is not None and not p.reported and p.proc.poll() is not None:
                    p.reported = True
                    self.say(f"node {p.node} exited with code {p.proc.returncode} (see "
                             f"{p.out}); the others keep running (`restart {p.node}` starts "
                             f"it again)")

    def stop_all(self) -> None:
        """SIGTERM every running process, SIGKILL any still running after the grace period,
        and wait for each: no process is left behind."""
        with self.lock:
            running = [p.proc for p in self.procs.values()
                       if p.proc is not None and p.proc.poll() is None]
            for proc in running:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_S
            for proc in running:
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    def close(self) -> None:
        if self.proxy is not None:
            self.proxy.close()
        self.nemesis_log.close()

    def _write_manifest(self, control: str | None = None) -> None:
        if control is not None:
            self.control = control
        manifest = {"target": self.target.name, "nodes": self.addrs,
                    "control": getattr(self, "control", None), "pid": os.getpid(),
                    "pids": {str(k): p.proc.pid if p.proc else None
                             for k, p in self.procs.items()}}
        tmp = self.data / "cluster.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=1) + "\n")
        os.replace(tmp, self.data / "cluster.json")

    # -- fault commands ------------------------------------------------------------------------

    def command(self, line: str) -> str:
        """Apply one fault command; the reply line (``ok ...`` or ``error ...``)."""
        words = line.split()
        if not words:
            return "error: empty command"
        verb, args = words[0], words[1:]
        try:
            reply = self._apply(verb, args)
        except UsageError as exc:
            return f"error: {exc}"
        except (ValueError, IndexError):
            return f"error: cannot read {line.strip()!r} (see `protospec cluster --help`)"
        if verb != "status":
            self.nemesis_log.write(f"{time.time():.3f} {line.strip()}\n")
            self.nemesis_log.flush()
            self.say(f"nemesis: {line.strip()}")
        return f"ok {reply}".rstrip()

    def _node(self, word: str) -> int:
        k = int(word)
        if k not in self.procs:
            raise UsageError(f"no node {k} (nodes are 1..{self.size})")
        return k

    def _need_proxy(self) -> None:
        if self.proxy is None:
            raise UsageError("network faults need the proxy (the cluster runs with --no-proxy)")

    def _apply(self, verb: str, args: list[str]) -> str:
        if verb == "kill":
            self.signal(self._node(args[0]), signal.SIGKILL, wait=False)
        elif verb == "stop":
            self.signal(self._node(args[0]), signal.SIGTERM, wait=True)
        elif verb == "restart":
            self.start(self._node(args[0]))
        elif verb == "isolate":
            self._need_proxy()
            self.proxy.isolate(self._node(args[0]))
        elif verb == "partition":
            self._need_proxy()
            groups = [[self._node(w) for w in g.split(",") if w] for g in args[0].split("/")]
            self.proxy.partition(groups)
        elif verb == "heal":
            self._need_proxy()
            self.proxy.heal()
        elif verb == "delay":
            self._need_proxy()
            for (i, j) in self.proxy.links:
                self.proxy.set_link(i, j, delay_ms=int(args[0]))
        elif verb == "status":
            with self.lock:
                return json.dumps({str(k): {"pid": p.proc.pid if p.proc else None,
                                            "running": bool(p.proc and p.proc.poll() is None)}
                                   for k, p in self.procs.items()})
        else:
            raise UsageError(f"unknown command {verb!r} (known: {', '.join(COMMANDS)})")
        return ""


def run(args: argparse.Namespace) -> int:
    if args.seconds is not None and not 0 < args.seconds < float("inf"):  # also refuses nan
        raise UsageError(f"--for must be a positive number of seconds, got {args.seconds} "
                         f"(leave it out to run until Ctrl-C)")
    if args.data and Path(args.data).exists() and not Path(args.data).is_dir():
        raise UsageError(f"--data {args.data!r} is a file; give a folder (it is created if "
                         f"missing)")
    target = load_target(args.target)
    if not 1 <= args.nodes <= 9:
        raise UsageError(f"--nodes must be between 1 and 9, got {args.nodes}")
    size = target.cluster_size(args.nodes)
    if args.base_port != 0 and not 1024 <= args.base_port <= 65535 - size:
        raise UsageError(f"--base-port must leave room for {size} ports in 1024..65535")
    if args.bug is not None and args.bug not in target.bugs():
        raise UsageError(f"--bug: {target.name} has no bug {args.bug!r} (its bugs: "
                         f"{', '.join(target.bugs()) or 'none'})")
    if args.control is not None and not (args.control == 0 or 1024 <= args.control <= 65535):
        raise UsageError(f"--control must be 0 or a port in 1024..65535, got {args.control}")
    nemesis = _read_nemesis(Path(args.nemesis)) if args.nemesis else []
    data = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix=f"{args.target}-"))
    data.mkdir(parents=True, exist_ok=True)
    con = out_console()

    def say(text: str) -> None:
        con.print(text, markup=False)

    cluster = Cluster(target, args.nodes, data, args.base_port, bug=args.bug,
                      proxy=not args.no_proxy, say=say, node_args=args.node_args)
    control = None
    old_term = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        for k in cluster.procs:
            cluster.start(k)
        if args.control is not None:
            control = _ControlServer(cluster, args.control)
            cluster._write_manifest(control.address)
        say(f"{size} {args.target} nodes running: {', '.join(cluster.addrs)}")
        say(f"Data and event logs: {data}")
        for line in target.usage_hints(cluster.addrs, data):
            say(f"  {line}")
        if control is not None:
            say(f"Fault commands: echo 'isolate 1' | nc {control.address.replace(':', ' ')}")
        say("Ctrl-C stops the cluster.")
        start = time.monotonic()
        deadline = start + args.seconds if args.seconds else None
        while deadline is None or time.monotonic() < deadline:
            while nemesis and nemesis[0][0] <= time.monotonic() - start:
                _, line = nemesis.pop(0)
                reply = cluster.command(line)
                if reply.startswith("error"):
                    say(f"nemesis {line!r}: {reply}")
            cluster.reap()
            time.sleep(0.1)
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # already stopping: finish the job
        if control is not None:
            control.close()
        cluster.stop_all()
        cluster.close()
        signal.signal(signal.SIGTERM, old_term)
    say(f"Stopped every node. Check the run: protospec conform {args.target} --logs {data}")
    return 0


def _raise_stop(signum: int, frame: Any) -> None:
    raise _Stop()


def _read_nemesis(path: Path) -> list[tuple[float, str]]:
    """The (seconds, command) lines of a nemesis file, in time order."""
    if not path.is_file():
        raise UsageError(f"--nemesis: no file {str(path)!r}")
    out = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        when, _, command = line.partition(" ")
        try:
            at = float(when)
        except ValueError:
            raise UsageError(f"--nemesis: {path}, line {number}: expected 'SECONDS COMMAND', "
                             f"got {raw.strip()!r}") from None
        if not command.strip():
            raise UsageError(f"--nemesis: {path}, line {number}: no command after {when}")
        if command.split()[0] not in COMMANDS:
            raise UsageError(f"--nemesis: {path}, line {number}: unknown command "
                             f"{command.split()[0]!r} (known: {', '.join(COMMANDS)})")
        out.append((at, command.strip()))
    return sorted(out, key=lambda item: item[0])


class _ControlServer:
    """Fault commands on a 127.0.0.1 TCP port: one command per line, one reply line each."""

    def __init__(self, cluster: Cluster, port: int) -> None:
        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for raw in self.rfile:
                    reply = cluster.command(raw.decode(errors="replace"))
                    self.wfile.write((reply + "\n").encode())

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        try:
            self.server = Server(("127.0.0.1", port), Handler)
        except OSError as exc:
            raise UsageError(f"--control: cannot listen on 127.0.0.1:{port} ({exc})") from None
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _child_env() -> dict[str, str]:
    """The environment for the processes: ours, with this checkout importable (as it is for us)."""
    root = str(Path(__file__).resolve().parents[3])
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": root + (os.pathsep + path if path else "")}

