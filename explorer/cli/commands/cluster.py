"""``protospec cluster``: start a local cluster of a spec's real implementation.

The target's conformance module (``specs/<name>_refinement.py``) says how to start one node
(``CONFORMANCE.server_argv``). The nodes run as child processes on 127.0.0.1 until Ctrl-C (or
``--for`` seconds), each writing its event log under ``--data``; afterwards
``protospec conform NAME --logs DATA`` checks those logs against the spec.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ...errors import UsageError
from ..common import out_console
from .conform import load_target


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "cluster", help="start a local cluster of a spec's implementation",
        description="Start NODES processes of TARGET's implementation on 127.0.0.1, ports "
                    "BASE, BASE+1, ..., each with a data folder under --data, and keep them "
                    "running until Ctrl-C (or --for seconds). Then check what they did with "
                    "`protospec conform TARGET --logs DATA`.")
    p.add_argument("target", metavar="TARGET", help="e.g. raft")
    p.add_argument("--nodes", type=int, default=3, metavar="N", help="cluster size (default 3)")
    p.add_argument("--base-port", type=int, default=7001, metavar="PORT",
                   help="the first node's port (default 7001)")
    p.add_argument("--data", metavar="DIR",
                   help="folder for the nodes' data and event logs (default: a new temp folder)")
    p.add_argument("--bug", metavar="NAME", help="run a deliberately broken implementation")
    p.add_argument("--for", dest="seconds", type=float, metavar="SECONDS",
                   help="stop the cluster after this many seconds (default: run until Ctrl-C)")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks for errors")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    target = load_target(args.target)
    if not 1 <= args.nodes <= 9:
        raise UsageError(f"--nodes must be between 1 and 9, got {args.nodes}")
    if not 1024 <= args.base_port <= 65535 - args.nodes:
        raise UsageError(f"--base-port must leave room for {args.nodes} ports in 1024..65535")
    if args.bug is not None and args.bug not in target.bugs():
        raise UsageError(f"--bug: {target.name} has no bug {args.bug!r} (its bugs: "
                         f"{', '.join(target.bugs())})")
    data = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix=f"{args.target}-"))
    data.mkdir(parents=True, exist_ok=True)
    addrs = [f"127.0.0.1:{args.base_port + k}" for k in range(args.nodes)]
    con = out_console()
    procs: list[subprocess.Popen] = []
    env = {**_child_env(), "PROTOSPEC_CLUSTER_SECRET": secrets.token_hex(32)}
    try:
        for k in range(args.nodes):
            argv = target.server_argv(k + 1, addrs, data / f"node{k + 1}", bug=args.bug)
            log = open(data / f"node{k + 1}.out", "ab")  # noqa: SIM115 - closed with the process
            procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                          env=env))
            log.close()
        con.print(f"{args.nodes} {args.target} nodes running: {', '.join(addrs)}", markup=False)
        con.print(f"Data and event logs: {data}", markup=False)
        for line in target.usage_hints(addrs, data):
            con.print(f"  {line}", markup=False)
        con.print("Ctrl-C stops the cluster.", markup=False)
        deadline = time.monotonic() + args.seconds if args.seconds else None
        while deadline is None or time.monotonic() < deadline:
            for k, p in enumerate(procs):
                if p.poll() is not None:
                    con.print(f"node {k + 1} exited with code {p.returncode} (see "
                              f"{data / f'node{k + 1}.out'})", markup=False)
                    return 1
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        _stop(procs)
    con.print(f"Stopped. Check the run: protospec conform {args.target} --logs {data}",
              markup=False)
    return 0


def _child_env() -> dict[str, str]:
    """The environment for the nodes: ours, with this checkout importable (as it is for us)."""
    root = str(Path(__file__).resolve().parents[3])
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": root + (os.pathsep + path if path else "")}


def _stop(procs: list[subprocess.Popen]) -> None:
    """Terminate the children we started (SIGTERM, then SIGKILL after 5 s)."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    sys.stdout.flush()
