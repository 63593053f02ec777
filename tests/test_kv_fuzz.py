"""Hypothesis drives 3 KV servers and 2 clerks through arbitrary interleavings of delivery,
loss, duplication, timers, partitions, crashes (also in the middle of a step's effects) and
restarts. Every completed operation must agree with a sequential execution, no write may take
effect twice, and once the faults stop every operation completes.

Each clerk writes unique tokens to its own key (Append, sometimes Put) and reads both keys.
A key has a single writer whose writes are sequential, so its history of values is known in
advance: v0 = "", v1, v2, ... (all distinct, each ends with a fresh token). A Get is
linearizable iff it returns some v_j with j between the writes completed when it was invoked
and the writes invoked when it completed; for the owner's own reads that is exactly the
latest value.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine, initialize, invariant, precondition, rule,
)

from protocols import raft
from protocols.core import TimerFired
from protocols.kv import clerk

from clusters import KVCluster

NODES = 3
CLERKS = ("c0", "c1")
KEY = {"c0": "k0", "c1": "k1"}
OTHER = {"c0": "c1", "c1": "c0"}


class KVFuzz(RuleBasedStateMachine):
    @initialize(maxraftstate=st.sampled_from([-1, 1, 150]))
    def setup(self, maxraftstate: int) -> None:
        self.c = KVCluster(NODES, clerks=len(CLERKS), maxraftstate=maxraftstate)
        self.values = {key: [""] for key in KEY.values()}    # value after each invoked write
        self.writes_done = {key: 0 for key in KEY.values()}
        self.current: dict[str, tuple[clerk.KVOp, int]] = {}  # clerk -> (op, writes done then)
        self.seen = {c: 0 for c in CLERKS}
        self.tokens = 0

    # ------------------------------------------------------------ clients

    @rule(who=st.sampled_from(CLERKS),
          kind=st.sampled_from(["append", "append", "append", "put", "get", "get_other"]))
    def request(self, who: str, kind: str) -> None:
        if who in self.current:
            return
        key = KEY[OTHER[who]] if kind == "get_other" else KEY[who]
        if kind in ("get", "get_other"):
            op = clerk.get(key)
        else:
            self.tokens += 1
            token = f"{who}.{self.tokens};"
            if kind == "put":
                op, value = clerk.put(key, token), token
            else:
                op, value = clerk.append(key, token), self.values[key][-1] + token
            self.values[key].append(value)
        self.current[who] = (op, self.writes_done[key])
        self.c.request(who, op)
        self._check_done()

    def _check_done(self) -> None:
        for who in CLERKS:
            done = self.c.done[who]
            while self.seen[who] < len(done):
                self._complete(who, done[self.seen[who]])
                self.seen[who] += 1

    def _complete(self, who: str, done) -> None:
        op, lo = self.current.pop(who)
        assert done.op == op, f"{who} finished {done.op} while serving {op}"
        history = self.values[op.key]
        if op.kind == clerk.GET:
            hi = len(history) - 1
            allowed = history[lo:hi + 1]
            assert done.result in allowed, (
                f"{who} read {op.key}={done.result!r}; linearizable values: {allowed!r}")
        else:
            assert done.result == ""
            self.writes_done[op.key] += 1

    # ------------------------------------------------------------ network

    @rule(data=st.data())
    @precondition(lambda self: self.c.inflight)
    def deliver(self, data) -> None:
        self.c.deliver(data.draw(st.integers(0, len(self.c.inflight) - 1)))
        self._check_done()

    @rule(data=st.data())
    @precondition(lambda self: self.c.inflight)
    def drop(self, data) -> None:
        self.c.drop(data.draw(st.integers(0, len(self.c.inflight) - 1)))

    @rule(data=st.data())
    @precondition(lambda self: self.c.inflight)
    def duplicate(self, data) -> None:
        k = data.draw(st.integers(0, len(self.c.inflight) - 1))
        self.c.duplicate(k)

    @rule(cut=st.sets(st.sampled_from(["s0", "s1", "s2", "c0", "c1"]), max_size=1))
    def flush(self, cut) -> None:
        """Deliver everything in flight; what crosses the cut around one node is lost (around
        a clerk: its requests and the replies it was owed)."""
        self.c.deliver_all(cut=frozenset(cut))
        self._check_done()

    # ------------------------------------------------------------ timers and faults

    @rule(data=st.data())
    def fire_timer(self, data) -> None:
        armed = [(addr, kind) for addr in sorted(self.c.cluster.addrs) if self.c.up(addr)
                 for kind in sorted(self.c.timers(addr))]
        if armed:
            addr, kind = data.draw(st.sampled_from(armed))
            self.c.fire(addr, kind)
            self._check_done()

    @rule(i=st.integers(0, NODES - 1), cut=st.sets(st.sampled_from(["s0", "s1", "s2"]),
                                                   max_size=1))
    def campaign(self, i: int, cut) -> None:
        """An election timeout then a flushed network: a whole election round."""
        addr = f"s{i}"
        if self.c.up(addr):
            self.c.step(addr, TimerFired(raft.ELECTION))
            self.flush(cut)

    @rule(i=st.integers(0, NODES - 1))
    def crash(self, i: int) -> None:
        if self.c.up(f"s{i}"):
            self.c.crash(f"s{i}")

    @rule(i=st.integers(0, NODES - 1))
    def restart(self, i: int) -> None:
        if not self.c.up(f"s{i}"):
            self.c.restart(f"s{i}")

    @rule(i=st.integers(0, NODES - 1))
    def reboot(self, i: int) -> None:
        """Crash and restart at once: the machine must come back from snapshot and log."""
        self.c.restart(f"s{i}")

    @rule(who=st.sampled_from(CLERKS))
    def retry(self, who: str) -> None:
        """A clerk's retry timer fires and the network settles."""
        if clerk.RETRY in self.c.timers(who):
            self.c.fire(who, clerk.RETRY)
            self.flush(set())

    @rule(data=st.data(), after=st.integers(0, 8))
    @precondition(lambda self: any(dst.startswith("s") for _, dst, _ in self.c.inflight))
    def deliver_then_crash(self, data, after: int) -> None:
        """A server crashes during the step handling a message: only the first ``after``
        effects happen (Persist-before-Send is what makes this safe)."""
        to_servers = [k for k, (_, dst, _) in enumerate(self.c.inflight) if dst.startswith("s")]
        k = data.draw(st.sampled_from(to_servers))
        self.c.deliver(k, crash_after=after)
        self._check_done()

    # ------------------------------------------------------------ invariants

    @invariant()
    def no_write_applied_twice(self) -> None:
        """Every server's value of a key is one of that key's sequential values: a duplicate
        or reordered write would produce a value outside the list."""
        for addr in self.c.servers:
            state = self.c.node(addr).state
            if state is None:
                continue
            for key, history in self.values.items():
                value = state.machine.data.get(key, "")
                assert value in history, f"{addr}: {key}={value!r} is not a sequential value"

    def teardown(self) -> None:
        """Liveness once faults stop: heal, restart everyone, and every operation completes;
        then each clerk reads its own key and sees all its writes."""
        if not hasattr(self, "c"):
            return
        self.c.settle()
        self._check_done()
        for who in CLERKS:
            self.request(who, "get")
            self.c.settle()
            self._check_done()
            assert self.c.result(who) == self.values[KEY[who]][-1]


KVFuzz.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestKVFuzz = KVFuzz.TestCase
