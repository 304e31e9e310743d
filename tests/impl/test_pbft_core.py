"""Behaviours of the sans-IO PBFT replica, one per test, each citing Castro & Liskov, "Practical
Byzantine Fault Tolerance" (OSDI '99). Four replicas (f = 1) exchange messages synchronously
through a small in-test network that can hold back or alter messages."""

from __future__ import annotations

import random
from collections.abc import Callable

from protospec.impl.pbft.auth import body, client_keyring, replica_keyring
from protospec.impl.pbft.core import CHECKPOINT_EVERY, REQUEST_TICKS, Replica, request_id

SECRET = b"test-secret"


class Net:
    """Four replicas; ``pump`` delivers every message until none is left."""

    def __init__(self, n: int = 4, bug: str | None = None) -> None:
        self.n = n
        self.bug = bug
        self.records: dict[int, list[bytes]] = {i: [] for i in range(1, n + 1)}
        self.reps = {i: self._make(i) for i in range(1, n + 1)}
        self.replies: list[tuple] = []
        self.events: list[dict] = []
        self.sent: list[dict] = []
        self.block: Callable[[dict], bool] = lambda m: False
        self.client = client_keyring(SECRET, "c:1", n)
        self.ts = 0

    def _make(self, i: int) -> Replica:
        return Replica(i, self.n, list(self.records[i]), 0, random.Random(i), self.bug,
                       replica_keyring(SECRET, i, self.n))

    def restart(self, i: int) -> None:
        self.reps[i] = self._make(i)

    def request(self, key: str, value: str | None = None, *, to=None) -> dict:
        self.ts += 1
        req = {"op": "put" if value is not None else "get", "key": key, "value": value,
               "client": "c:1", "ts": self.ts}
        req["auth"] = self.client.authenticator([f"r{j}" for j in range(1, self.n + 1)],
                                                body(req))
        for i in self.reps if to is None else to:
            self.reps[i].request((i, self.ts), req)
        return req

    def pump(self) -> None:
        queue: list[dict] = []
        while True:
            for i, r in self.reps.items():
                rd = r.ready()
                self.records[i] += rd.records
                self.events += rd.events
                queue += rd.messages
                self.replies += rd.replies
            if not queue:
                return
            m = queue.pop(0)
            self.sent.append(m)
            if not self.block(m):
                self.reps[m["dst"]].step(m)

    def tick(self, times: int) -> None:
        for _ in range(times):
            for r in self.reps.values():
                r.tick()
            self.pump()

    def executed(self, i: int) -> list:
        return [e["req"] for e in self.events if e["n"] == i and e["action"] == "execute"]


def test_normal_case_every_replica_executes_the_request_and_replies_with_a_valid_mac():
    """Section 4.2: pre-prepare, prepare, commit; then execute and reply to the client."""
    net = Net()
    req = net.request("x", "1")
    net.pump()
    assert all(net.executed(i) == [request_id(req)] for i in range(1, 5))
    for _, reply in net.replies:
        signed = {k: v for k, v in reply.items() if k != "mac"}
        assert reply["mac"] == net.client.mac(f"r{reply['replica']}", body(signed))


def test_a_message_forged_in_another_replicas_name_is_dropped_and_counted():
    """Section 5.1: a MAC under a key the forger does not hold fails verification."""
    net = Net()
    forger = replica_keyring(SECRET, 4, 4)
    forged = {"type": "commit", "src": 2, "v": 0, "n": 1, "req": None}
    forged["auth"] = forger.authenticator(["r1", "r2", "r3"], body(forged))
    net.reps[1].step({**forged, "dst": 1, "id": "x"})
    assert net.reps[1].stats["auth_failures"] == 1
    assert net.reps[1].ready().events[-1]["action"] == "drop_unauthenticated"
    assert net.reps[1].log == {}


def test_a_backup_accepts_one_pre_prepare_per_view_and_sequence_number():
    """Section 4.2: a backup accepts a pre-prepare only if it has not accepted another one for
    the same view and sequence number with a different request (an equivocating primary)."""
    net = Net()
    net.block = lambda m: m["type"] == "pre_prepare"
    a = net.request("x", "1", to=[1])
    net.pump()
    first = next(m for m in net.sent if m["type"] == "pre_prepare" and m["dst"] == 2)
    b = net.request("y", "2", to=[])
    keys = replica_keyring(SECRET, 1, 4)
    other = {"type": "pre_prepare", "src": 1, "v": 0, "n": first["n"], "req": b}
    other["auth"] = keys.authenticator(["r2", "r3", "r4"], body(other))
    net.block = lambda m: False
    net.reps[2].step(first)
    net.reps[2].step({**other, "dst": 2, "id": "eq"})
    net.pump()
    prepared = [e["req"] for e in net.events if e["n"] == 2 and e["action"] == "send_prepare"]
    assert prepared == [request_id(a)]


def test_a_request_is_not_executed_without_2f_plus_1_matching_commits():
    """Section 4.2: committed-local needs 2f+1 commits; with two replicas' commits lost no
    replica can execute."""
    net = Net()
    net.block = lambda m: m["type"] == "commit" and m["src"] in (3, 4)
    net.request("x", "1")
    net.pump()
    assert all(net.executed(i) == [] for i in (1, 2))


def test_the_executing_on_prepared_bug_executes_without_enough_commits():
    net = Net(bug="execute_on_prepared")
    net.block = lambda m: m["type"] == "commit" and m["src"] in (3, 4)
    net.request("x", "1")
    net.pump()
    assert net.executed(1) != []


def test_a_checkpoint_with_2f_plus_1_matching_digests_becomes_stable_and_the_log_is_discarded():
    """Section 4.3: every K requests a checkpoint; once stable, messages up to it go."""
    net = Net()
    for k in range(CHECKPOINT_EVERY):
        net.request(f"k{k}", "v")
        net.pump()
    for r in net.reps.values():
        assert r.h == CHECKPOINT_EVERY and all(n > r.h for _, n in r.log)


def test_a_silent_primary_is_replaced_and_the_new_primary_re_proposes_a_prepared_request():
    """Sections 4.4 and 4.5: backups whose request waits too long move to view 1; the new
    primary's O re-issues the request prepared in view 0 at its sequence number."""
    net = Net()
    net.block = lambda m: m["type"] == "commit"  # prepared everywhere, committed nowhere
    req = net.request("x", "1")
    net.pump()
    # The primary falls silent; view 0's commits stay lost.
    net.block = lambda m: m["src"] == 1 or (m["type"] == "commit" and m["v"] == 0)
    net.tick(REQUEST_TICKS + 2)
    new_view = next(e for e in net.events if e["action"] == "send_new_view")
    assert new_view["n"] == 2 and new_view["O"] == [[1, request_id(req)]]
    assert all(net.executed(i) == [request_id(req)] for i in (2, 3, 4))


def test_a_replayed_message_of_an_old_view_is_ignored():
    """Section 4.2: replicas accept normal-case messages only of their current view."""
    net = Net()
    net.block = lambda m: m["type"] == "commit"
    net.request("x", "1")
    net.pump()
    old_prepares = [m for m in net.sent if m["type"] == "prepare"]
    net.block = lambda m: m["src"] == 1
    net.tick(REQUEST_TICKS + 2)
    before = {i: len(r.log) for i, r in net.reps.items()}
    for m in old_prepares:
        if m["dst"] != 1:
            net.reps[m["dst"]].step(m)
    assert {i: len(r.log) for i, r in net.reps.items()} == before


def test_a_restarted_backup_keeps_its_prepare_and_refuses_a_conflicting_pre_prepare():
    """Section 4.2 with stable storage: what a replica prepared survives a crash."""
    net = Net()
    net.block = lambda m: m["type"] in ("prepare", "commit")
    a = net.request("x", "1")
    net.pump()
    net.restart(2)
    b = net.request("y", "2", to=[])
    keys = replica_keyring(SECRET, 1, 4)
    other = {"type": "pre_prepare", "src": 1, "v": 0, "n": 1, "req": b}
    other["auth"] = keys.authenticator(["r2", "r3", "r4"], body(other))
    net.reps[2].step({**other, "dst": 2, "id": "eq"})
    net.pump()
    prepared = [e["req"] for e in net.events if e["n"] == 2 and e["action"] == "send_prepare"]
    assert prepared == [request_id(a)]
