"""Histories from a simulated concurrent register or key-value store, and mutations that break them.

The simulated store is linearizable by construction: every operation takes effect at one
moment between its invocation and its completion, in the order those moments happen, on a
single copy of the data. Clients run concurrently: at each tick one client, chosen by the seeded
generator, takes its next step (invoke, take effect, complete). A client whose operation times
out (``info``) never completes it; as in Jepsen, it comes back as a new process.

Written values are unique, so a mutation can break linearizability for certain: a *stale read*
returns the value of a write that a later, completed write had already overwritten before the
read began. The benchmark and the tests use these; they are also handy for trying the checker.
"""

from __future__ import annotations

import random
from typing import Any

from .history import INFINITY, UNKNOWN, History, Operation, Status

__all__ = ["simulate_register", "stale_read"]


def simulate_register(n_ops: int, clients: int, *, seed: int = 0, keys: int = 0,
                      cas: float = 0.1, info: float = 0.0) -> History:
    """A linearizable history of ``n_ops`` operations by ``clients`` concurrent clients.

    ``keys`` = 0 gives a single register (model ``cas-register``); ``keys`` > 0 a map of that
    many registers with Jepsen's ``[key value]`` values (model ``kv``). ``cas`` is the share of
    compare-and-set operations (half read-modify-write on the current value, half a guess),
    ``info`` the share of operations that time out.
    """
    rnd = random.Random(seed)
    value: dict[Any, Any] = {}
    next_value = 1
    rank = 0
    ops: list[list] = []  # [process, f, value, output, status, call, ret, effected]
    current: list[int | None] = [None] * clients  # index in ops of each client's operation
    phase = [0] * clients  # 0 idle, 1 invoked, 2 took effect
    process = list(range(clients))
    started = 0
    while started < n_ops or any(p for p in phase):
        c = rnd.randrange(clients)
        if phase[c] == 0:
            if started >= n_ops:
                continue
            key = rnd.randrange(keys) if keys else None
            roll = rnd.random()
            if roll < cas:
                old = value.get(key) if rnd.random() < 0.5 else rnd.randrange(max(1, next_value))
                f, arg = "cas", (old, next_value)
                next_value += 1
            elif roll < cas + (1 - cas) / 2:
                f, arg = "write", next_value
                next_value += 1
            else:
                f, arg = "read", None
            ops.append([process[c], f, arg, UNKNOWN, Status.OK, rank, INFINITY, key])
            current[c] = len(ops) - 1
            phase[c] = 1
            started += 1
        elif phase[c] == 1:
            op = ops[current[c]]
            f, arg, key = op[1], op[2], op[7]
            if rnd.random() < info / 2:
                op[4] = Status.INFO  # lost before it took effect: it times out
            elif f == "read":
                op[3] = value.get(key)
            elif f == "write":
                value[key] = arg
                op[3] = arg
            elif value.get(key) == arg[0]:
                value[key] = arg[1]
                op[3] = arg
            else:
                op[4] = Status.FAIL
            phase[c] = 2
        else:
            op = ops[current[c]]
            if op[4] is Status.INFO or (op[4] is Status.OK and rnd.random() < info / 2):
                op[4], op[3] = Status.INFO, UNKNOWN
                process[c] += clients  # Jepsen gives a crashed client a new process id
            else:
                op[6] = rank
            phase[c] = 0
        rank += 1
    result, failed = [], []
    for p, f, arg, out, status, call, ret, key in ops:
        if keys:
            arg = (key, arg)
            out = (key, out) if out is not UNKNOWN else UNKNOWN
        if status is Status.FAIL:
            failed.append(Operation(0, p, f, arg, UNKNOWN, status, call, ret))
        else:
            result.append(Operation(0, p, f, arg, out, status, call,
                                    ret if status is Status.OK else INFINITY))
    ops_t = tuple(o._replace(id=i) for i, o in enumerate(result))
    failed_t = tuple(o._replace(id=len(ops_t) + i) for i, o in enumerate(failed))
    return History(ops_t, failed_t, f"simulated register ({clients} clients, seed {seed})")


def stale_read(history: History, *, at: float = 0.5, seed: int = 0) -> History:
    """The history with one read, near fraction ``at`` of it, returning an overwritten value.

    The read returns the value of a write w1 such that another write w2 was invoked after w1
    completed and completed before the read was invoked; with unique values that cannot be
    linearized. Raises ValueError when the history has no such read.
    """
    rnd = random.Random(seed)
    ops = list(history.ops)
    keyed = any(o.f == "read" and isinstance(o.value, tuple) for o in ops)

    def key(o: Operation) -> Any:
        return o.value[0] if keyed else None

    def written(o: Operation) -> Any:
        arg = o.value[1] if keyed else o.value
        return arg if o.f == "write" else arg[1]

    writes = [o for o in ops if o.f in ("write", "cas") and o.status is Status.OK]
    start = int(len(ops) * at)
    candidates = [o for o in ops[start:] if o.f == "read" and o.status is Status.OK]
    candidates += [o for o in reversed(ops[:start]) if o.f == "read" and o.status is Status.OK]
    for read in candidates:
        done = [w for w in writes if w.ret < read.call and key(w) == key(read)]
        for w2 in sorted(done, key=lambda w: -w.ret)[:20]:
            older = [w1 for w1 in done if w1.ret < w2.call]
            if older:
                w1 = rnd.choice(older[-5:])
                stale = written(w1)
                out = (key(read), stale) if keyed else stale
                ops[read.id] = read._replace(output=out)
                return History(tuple(ops), history.failed, history.source + " + stale read")
    raise ValueError("no read follows two writes in real time")
