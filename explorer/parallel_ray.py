"""The partitioned breadth-first search of ``parallel.py`` on Ray actors.

Each actor holds one :class:`parallel.Partition`: its part of the fingerprint store and of the
frontier. Per level the driver calls ``expand`` on every actor, which returns one object per
peer (``num_returns``): the successors that peer owns, packed as in ``parallel.py``. The driver
then calls each actor's ``merge`` with the object references meant for it; Ray resolves them
inside the actor, fetching them from the producing actor's node, so states move actor to actor
and never through the driver, which handles only references, counts and trace walks.

Ray is an optional dependency (``pip install 'protospec[ray]'``). ``address="auto"`` here starts
a local Ray on 127.0.0.1 for this run (and stops it afterwards); any other address connects to a
running cluster (``ray.init(address=...)``), whose workers must be able to import protospec.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .bfs import Progress, SearchControl
from .errors import UsageError
from .parallel import Partition, Transport, _WorkerSpecError, cpu_count, drive
from .result import CheckResult
from .spec import Spec

__all__ = ["check_ray", "ray_available"]

ROOT = Path(__file__).resolve().parents[1]  # the repository (or site-packages/protospec)


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


class _Actor:
    """The actor body (wrapped with ``ray.remote`` at run time: ray is imported lazily)."""

    def __init__(self, spec: Spec, index: int, n: int, deadlock: bool, canon: Any) -> None:
        self.part = Partition(spec, index, n, deadlock, canon)
        self.stop = False

    def init(self, fps: list[int], states: list[Any]) -> Any:
        try:
            return ("ok", self.part.add_initial(fps, states))
        except _WorkerSpecError as exc:
            return ("error", exc)

    def expand(self) -> tuple:
        try:
            payloads, xstats = self.part.expand_level(lambda: self.stop)
        except _WorkerSpecError as exc:
            import numpy as np
            self.part.own = (np.zeros(0, np.int64),) * 3 + ([],)
            payloads, xstats = [None] * self.part.n, ("error", exc)
        empty = __import__("pickle").dumps((b"", b"", b"", ()), protocol=5)
        out = [p if p is not None else empty for p in payloads]
        out[self.part.index] = None
        return (*out, xstats)

    def merge(self, *payloads: Any) -> dict:
        return self.part.merge(list(payloads))

    def parent(self, local: int) -> tuple[int, int]:
        return self.part.parent(local)

    def summary(self) -> dict:
        return self.part.summary()

    def request_stop(self) -> None:
        self.stop = True


class RayTransport(Transport):
    def __init__(self, spec: Spec, n: int, deadlock: bool, canon: Any,
                 control: SearchControl, started: float) -> None:
        import ray

        self.ray, self.n, self.control, self.started = ray, n, control, started
        # max_concurrency=2: request_stop runs while expand is busy (threaded actor).
        actor_cls = ray.remote(num_cpus=0, max_concurrency=2)(_Actor)
        self.actors = [actor_cls.remote(spec, i, n, deadlock, canon) for i in range(n)]
        self.stopped_sent = False

    def _get(self, refs: list[Any]) -> list[Any]:
        ray, c = self.ray, self.control
        pending = list(refs)
        while pending:
            _, pending = ray.wait(pending, num_returns=len(pending), timeout=0.05)
            if not self.stopped_sent and (
                    c.stop_requested or (c.time_limit_s is not None and time.perf_counter()
                                         - self.started >= c.time_limit_s)):
                self.stopped_sent = True
                for a in self.actors:
                    a.request_stop.remote()
        return ray.get(list(refs))

    def init(self, per_worker):
        out = self._get([a.init.remote(f, s) for a, (f, s) in zip(self.actors, per_worker)])
        for status, value in out:
            if status == "error":
                raise value
        return [value for _, value in out]

    def level(self):
        n = self.n
        outs = [a.expand.options(num_returns=n + 1).remote() for a in self.actors]
        merges = [a.merge.remote(*[outs[src][dst] for src in range(n)])
                  for dst, a in enumerate(self.actors)]
        xstats = self._get([o[n] for o in outs])
        mstats = self._get(merges)
        for x in xstats:
            if isinstance(x, tuple) and x and x[0] == "error":
                raise x[1]
        return list(zip(xstats, mstats))

    def parent(self, owner, local):
        return self.ray.get(self.actors[owner].parent.remote(local))

    def summaries(self):
        return self._get([a.summary.remote() for a in self.actors])

    def close(self) -> None:
        for a in self.actors:
            self.ray.kill(a)


def start_local_ray(n: int) -> None:
    """A Ray of our own on 127.0.0.1 for this run, with room for ``n`` actors."""
    import ray

    ray.init(num_cpus=max(n, 1), include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT.parent if ROOT.name ==
                                                         "protospec" else ROOT)}})


def check_ray(spec: Spec, *, address: str, workers: int | None = None,
              max_depth: int | None = None, max_states: int | None = None,
              keep_going: bool = False, progress: Callable[[Progress], None] | None = None,
              until: frozenset[str] | None = None, check_deadlock: bool | None = None,
              control: SearchControl | None = None,
              canon: Callable[[Any], Any] | None = None) -> CheckResult:
    """:func:`parallel.check_parallel` with Ray actors as the workers. ``workers``: number of
    actors (default: the cores of this machine for ``auto``, the cluster's CPUs otherwise)."""
    if not ray_available():
        raise UsageError("--ray needs the ray extra: pip install 'protospec[ray]' (or "
                         "pip install 'ray>=2.9')")
    import ray

    deadlock = spec.check_deadlock if check_deadlock is None else check_deadlock
    control = control or SearchControl()
    own = address == "auto"
    if own:
        n = workers or cpu_count()
        start_local_ray(n)
    else:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
        n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    started = time.perf_counter()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    transport = None
    try:
        transport = RayTransport(spec, n, deadlock, canon, control, started)
        return drive(spec, transport, max_depth=max_depth, max_states=max_states,
                     keep_going=keep_going or until is not None, progress=progress,
                     deadlock=deadlock, stop_on=None if keep_going else until,
                     control=control, canon=canon, mode_note="ray")
    finally:
        if transport is not None:
            transport.close()
        ray.shutdown()
        if gc_was_enabled:
            gc.enable()
