"""The kvraft tester: KV servers on Raft, clerks, the lab's partitions and restarts, and a
history of every client operation for the linearizability checker (a port of 6.5840's
kvraft/config.go and test_test.go helpers to virtual time).

Clerk operations are generators: ``value = yield from clerk.get("k")``. Every invocation and
completion is recorded (virtual time) in the run's history; operations that never complete stay
open. Raft's safety invariants watch every server throughout. The lab's GenericTest and speed
test are here too (``generic_test``, ``speed_test``): the 4A and 4B suites both run them.
"""

from __future__ import annotations

import re
from typing import Any, Generator, Sequence

from protocols import kv
from sim import NetParams

from scenarios.harness.service import (ELECTION_TIMEOUT, RELIABLE_DELAY, ClientHost,
                                       ServiceClerk, ServiceCluster)
from scenarios.registry import scenario
from scenarios.runner import Gen, RunContext, ScenarioFailure, ScenarioUnknown, fail

__all__ = ["KVCluster", "Clerk", "KVOps", "ELECTION_TIMEOUT", "CHECK_BUDGET", "RELIABLE_DELAY",
           "check_appends", "check_kv_history", "random_client", "generic_test", "speed_test", "register_generic_tests"]

CHECK_BUDGET = 2_000_000        # linearizability search budget (cache entries): deterministic


class KVOps(ClientHost):
    """Get / put / append for a client of a key-value service, each recorded (invocation and
    completion, virtual time) in the run's history unless ``log`` is False. ``op_type`` builds
    the service's operation from (kind, key, value)."""

    op_type: Any = kv.KVOp

    def _op(self, kind: str, key: str, value: str, log: bool) -> Generator[Any, Any, str]:
        record = self.cluster.ctx.record_history if log else None
        if record is not None:
            record(self.name, "invoke", kind, key, value if kind != "get" else None)
        result = yield from self.call(self.op_type(kind, key, value))
        if record is not None:
            record(self.name, "ok", kind, key, result if kind == "get" else value)
        return str(result)

    def get(self, key: str, log: bool = True) -> Generator[Any, Any, str]:
        return (yield from self._op("get", key, "", log))

    def put(self, key: str, value: str, log: bool = True) -> Generator[Any, Any, str]:
        return (yield from self._op("put", key, value, log))

    def append(self, key: str, value: str, log: bool = True) -> Generator[Any, Any, str]:
        return (yield from self._op("append", key, value, log))

    def check(self, key: str, want: str) -> Generator[Any, Any, None]:
        got = yield from self.get(key)
        if got != want:
            raise ScenarioFailure(f"Get({key!r}): expected {want!r}, received {got!r}")


class Clerk(KVOps, ServiceClerk):
    """A client of the KV service (kvraft's Clerk)."""


class KVCluster(ServiceCluster):
    """``n`` KV servers ``s0..`` with the lab's tester; clerks ``c0..`` made on demand."""

    clerk_class = Clerk
    kv_oracle = True            # every replica is compared with the KV reference fold

    def __init__(self, ctx: RunContext, n: int, *, unreliable: bool = False,
                 maxraftstate: int = -1, net_params: NetParams | None = None) -> None:
        super().__init__(ctx, n, kv, kv.clerk, unreliable=unreliable,
                         maxraftstate=maxraftstate, net_params=net_params)
        self.history = ctx.history

    def make_clerk(self, servers: Sequence[str] | None = None) -> Clerk:
        clerk: Clerk = super().make_clerk(servers)
        return clerk

    def check_linearizable(self) -> None:
        check_kv_history(self.ctx)

    def end(self) -> None:
        self.ctx.facts.update(servers=self.n, max_log_size=self.log_size(),
                              max_snapshot=self.snapshot_size())


def random_client(ctx: RunContext, clerk: KVOps, keys: Sequence[str],
                  think_ms: tuple[float, float], stop: list[bool],
                  limit: int | None = None) -> Gen:
    """The random scenarios' client: until ``stop[0]`` (or ``limit`` operations), a key
    uniform over ``keys``; 40% Get, 10% Put, 50% Append of a unique value, with a think time
    drawn from ``think_ms``; every draw from the clerk's own ``workload/<name>`` stream."""
    rng = ctx.world.rng(f"workload/{clerk.name}")
    n = 0
    while not stop[0] and (limit is None or n < limit):
        key = keys[rng.randrange(len(keys))]
        roll = rng.random()
        if roll < 0.4:
            yield from clerk.get(key)
        elif roll < 0.5:
            yield from clerk.put(key, f"{clerk.name}.{n} ")
        else:
            yield from clerk.append(key, f"{clerk.name}.{n} ")
        n += 1
        lo, hi = think_ms
        yield ctx.sleep(lo + (hi - lo) * rng.random())


def check_kv_history(ctx: RunContext) -> None:
    """Porcupine over the run's whole KV history (the lab gives up after 1 s and passes; an
    inconclusive search here is reported as unknown, never as a pass). The CheckResult goes on
    the RunResult, with the partial linearizations when the history is not linearizable."""
    # Imported here: listing scenarios (the CLI's start-up) never needs the checker.
    from checkers.linearizability import Verdict, check, history_from_events, kv_model
    ops = history_from_events(ctx.history, kv_model, source="history", ties="recorded")
    result = check(kv_model, ops, max_cache=CHECK_BUDGET)
    if result.verdict is Verdict.ILLEGAL:
        # Once more with the partial linearizations recorded, for the failure's report:
        # only failing runs pay for them.
        result = check(kv_model, ops, max_cache=CHECK_BUDGET, verbose=True)
    ctx.check = result
    ctx.facts["operations"] = len(ops)
    if result.verdict is Verdict.ILLEGAL:
        bad = [p for p in result.partitions if p.verdict is Verdict.ILLEGAL]
        raise ScenarioFailure(f"history is not linearizable ({len(ops)} operations; "
                              f"partition {bad[0].label if bad else '?'})",
                              kind="linearizability")
    if result.verdict is Verdict.UNKNOWN:
        raise ScenarioUnknown(f"linearizability check gave up after {CHECK_BUDGET:,} "
                              f"cache entries ({len(ops)} operations)")


def check_appends(clerk_index: int, value: str, count: int) -> None:
    """Every "x c j y" for j < count appears exactly once and in order (checkClntAppends).

    One pass over ``value`` instead of a find and an rfind per element (quadratic in the
    number of appends): every occurrence of any "x c J y" is found, since two cannot overlap
    (an "x" only starts one), and each element is looked up in them."""
    where: dict[str, list[int]] = {}
    for m in re.finditer(re.escape(f"x {clerk_index} ") + "[0-9]+ y", value):
        where.setdefault(m.group(), []).append(m.start())
    last = -1
    for j in range(count):
        wanted = f"x {clerk_index} {j} y"
        at = where.get(wanted)
        if at is None:
            raise ScenarioFailure(f"{clerk_index} missing element {wanted!r} in Append result")
        off = at[0]
        if len(at) > 1:
            raise ScenarioFailure(f"duplicate element {wanted!r} in Append result")
        if off <= last:
            raise ScenarioFailure(f"wrong order for element {wanted!r} in Append result")
        last = off


# ---------------------------------------------------------------- the lab's test bodies

def generic_test(ctx: RunContext, nclients: int, nservers: int, unreliable: bool, crash: bool,
                 partitions: bool, maxraftstate: int, randomkeys: bool) -> Gen:
    """The lab's GenericTest: three rounds of client load with optional faults, then checks."""
    c = KVCluster(ctx, nservers, unreliable=unreliable, maxraftstate=maxraftstate)
    ck = c.make_clerk()
    for _ in range(3):
        stop = [False]
        counts: list[int] = [0] * nclients

        def client(cli: int, clerk: Clerk) -> Gen:
            rng = ctx.world.rng(f"workload/{clerk.name}")
            j = 0
            last = ""
            if not randomkeys:
                yield from clerk.put(str(cli), last)
            while not stop[0]:
                key = str(rng.randrange(nclients)) if randomkeys else str(cli)
                nv = f"x {cli} {j} y"
                if rng.randrange(1000) < 500:
                    yield from clerk.append(key, nv)
                    if not randomkeys:
                        last += nv
                    j += 1
                elif randomkeys and rng.randrange(1000) < 100:
                    yield from clerk.put(key, nv)
                    j += 1
                else:
                    v = yield from clerk.get(key)
                    if not randomkeys and v != last:
                        fail(f"get wrong value, key {key}, wanted:\n{last}\n, got\n{v}")
                counts[cli] = j

        clients = c.spawn_clients(nclients, client)
        partitioner = None
        if partitions:
            yield ctx.sleep(1000)           # some operations without interruption
            partitioner = ctx.env.process(_partitioner(c, stop))
        yield ctx.sleep(5000)
        stop[0] = True
        if partitioner is not None:
            yield partitioner
            c.connect_all()
            yield ctx.sleep(ELECTION_TIMEOUT)             # a new term, for requests stuck in a minority
        if crash:
            for i in range(nservers):
                c.shutdown(i)
            yield ctx.sleep(ELECTION_TIMEOUT)
            for i in range(nservers):
                c.start(i)
            c.connect_all()
        for i, proc in enumerate(clients):
            yield proc
            v = yield from ck.get(str(i))
            if not randomkeys:
                check_appends(i, v, counts[i])
        if maxraftstate > 0:
            size = c.log_size()
            if size > 8 * maxraftstate:
                fail(f"logs were not trimmed ({size} > 8*{maxraftstate})")
        if maxraftstate < 0 and c.snapshot_size() > 0:
            fail(f"snapshot too large ({c.snapshot_size()}), should not be used when "
                  f"maxraftstate = {maxraftstate}")
    c.end()
    c.check_linearizable()


def _partitioner(c: KVCluster, stop: list[bool]) -> Gen:
    """Split the servers at random into two sides, again and again (the lab's partitioner)."""
    while not stop[0]:
        sides = [c.fault_rng.randrange(2) for _ in range(c.n)]
        c.partition([a for a, s in zip(c.addrs, sides) if s == 0],
                    [a for a, s in zip(c.addrs, sides) if s == 1])
        yield c.ctx.sleep(ELECTION_TIMEOUT + c.fault_rng.randrange(200))


#: A row of the lab's GenericTest table: name, suite, summary, then generic_test's options
#: nclients, nservers, unreliable, crash, partitions, maxraftstate, randomkeys.
GenericRow = tuple[str, str, str, int, int, bool, bool, bool, int, bool]


def register_generic_tests(rows: Sequence[GenericRow]) -> None:
    """Register one scenario per row of the lab's GenericTest table (4A and 4B each have one)."""
    for (name, suite, summary, nclients, nservers, unreliable, crash, partitions,
         maxraftstate, randomkeys) in rows:
        options = dict(nclients=nclients, nservers=nservers, unreliable=unreliable,
                       crash=crash, partitions=partitions, maxraftstate=maxraftstate,
                       randomkeys=randomkeys)

        def body(ctx: RunContext, options: dict[str, Any] = options) -> Gen:
            yield from generic_test(ctx, **options)
        scenario(name, suite, summary)(body)


def speed_test(ctx: RunContext, maxraftstate: int) -> Gen:
    """1000 sequential Appends must average under 33.3 ms (3 ops per 100 ms heartbeat)."""
    c = KVCluster(ctx, 3, maxraftstate=maxraftstate)
    ck = c.make_clerk()
    yield from ck.get("x")                  # waits until a leader serves requests
    start = ctx.now
    ops = 1000
    for i in range(ops):
        yield from ck.append("x", f"x 0 {i} y")
    duration = ctx.now - start
    v = yield from ck.get("x")
    check_appends(0, v, ops)
    ctx.facts["ms_per_op"] = round(duration / ops, 3)
    if duration > ops * 100 / 3:
        fail(f"Operations completed too slowly {duration / ops:.1f} ms/op > 33.3 ms/op")
    c.end()
    c.check_linearizable()
