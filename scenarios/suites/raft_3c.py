"""The 6.5840 Raft tests of 3C (persistence), ported to virtual time with their assertions and
limits. Randomness (which server, which command, how long to sleep) comes from the run's
``workload`` and ``faults`` streams.
"""

from __future__ import annotations

from typing import Any, Generator

import msgspec
import simpy

from scenarios.harness.raft import ELECTION_TIMEOUT, RaftCluster
from scenarios.registry import scenario
from scenarios.runner import Gen, RunContext, fail

ET = ELECTION_TIMEOUT


@scenario("Persist13C", "3C", "basic persistence")
def persist1(ctx: RunContext) -> Gen:
    n = 3
    c = RaftCluster(ctx, n)
    yield from c.one(11, n, True)
    for i in range(n):                          # crash and re-start all
        c.start1(i)
    for i in range(n):
        c.disconnect(i)
        c.connect(i)
    yield from c.one(12, n, True)
    leader1 = yield from c.check_one_leader()
    c.disconnect(leader1)
    c.start1(leader1)
    c.connect(leader1)
    yield from c.one(13, n, True)
    leader2 = yield from c.check_one_leader()
    c.disconnect(leader2)
    yield from c.one(14, n - 1, True)
    c.start1(leader2)
    c.connect(leader2)
    yield from c.wait(4, n, -1)                 # leader2 catches up before i3 goes
    i3 = ((yield from c.check_one_leader()) + 1) % n
    c.disconnect(i3)
    yield from c.one(15, n - 1, True)
    c.start1(i3)
    c.connect(i3)
    yield from c.one(16, n, True)
    c.end()


@scenario("Persist23C", "3C", "more persistence: stale logs must not win elections")
def persist2(ctx: RunContext) -> Gen:
    n = 5
    c = RaftCluster(ctx, n)
    index = 1
    for _ in range(5):
        yield from c.one(10 + index, n, True)
        index += 1
        leader1 = yield from c.check_one_leader()
        c.disconnect((leader1 + 1) % n)
        c.disconnect((leader1 + 2) % n)
        yield from c.one(10 + index, n - 2, True)
        index += 1
        for k in (0, 3, 4):
            c.disconnect((leader1 + k) % n)
        c.start1((leader1 + 1) % n)
        c.start1((leader1 + 2) % n)
        c.connect((leader1 + 1) % n)
        c.connect((leader1 + 2) % n)
        yield ctx.sleep(ET)
        c.start1((leader1 + 3) % n)
        c.connect((leader1 + 3) % n)
        yield from c.one(10 + index, n - 2, True)
        index += 1
        c.connect((leader1 + 4) % n)
        c.connect((leader1 + 0) % n)
    yield from c.one(1000, n, True)
    c.end()


@scenario("Persist33C", "3C", "partitioned leader and one follower crash, leader restarts")
def persist3(ctx: RunContext) -> Gen:
    n = 3
    c = RaftCluster(ctx, n)
    yield from c.one(101, 3, True)
    leader = yield from c.check_one_leader()
    c.disconnect((leader + 2) % n)
    yield from c.one(102, 2, True)
    c.crash1((leader + 0) % n)
    c.crash1((leader + 1) % n)
    c.connect((leader + 2) % n)
    c.start1((leader + 0) % n)
    c.connect((leader + 0) % n)
    yield from c.one(103, 2, True)
    c.start1((leader + 1) % n)
    c.connect((leader + 1) % n)
    yield from c.one(104, n, True)
    c.end()


def _figure8_sleep(c: RaftCluster) -> float:
    if c.fault_rng.randrange(1000) < 100:
        return float(c.fault_rng.randrange(int(ET / 2)))
    return float(c.fault_rng.randrange(13))


@scenario("Figure83C", "3C", "Figure 8: leaders crash right after Start()")
def figure8(ctx: RunContext) -> Gen:
    n = 5
    c = RaftCluster(ctx, n)
    yield from c.one(c.random_command(), 1, True)
    nup = n
    for _ in range(1000):
        leader = -1
        for i in range(n):
            if c.up(i):
                _, _, ok = c.start(i, c.random_command())
                if ok:
                    leader = i
        yield ctx.sleep(_figure8_sleep(c))
        if leader != -1:
            c.crash1(leader)
            nup -= 1
        if nup < 3:
            s = c.fault_rng.randrange(n)
            if not c.up(s):
                c.start1(s)
                c.connect(s)
                nup += 1
    for i in range(n):
        if not c.up(i):
            c.start1(i)
            c.connect(i)
    yield from c.one(c.random_command(), n, True)
    c.end()


@scenario("UnreliableAgree3C", "3C", "agreement on an unreliable network")
def unreliable_agree(ctx: RunContext) -> Gen:
    n = 5
    c = RaftCluster(ctx, n, reliable=False)
    workers = []
    for iters in range(1, 50):
        for j in range(4):
            workers.append(ctx.env.process(c.one(100 * iters + j, 1, True)))
        yield from c.one(iters, 1, True)
    c.net.set_params(_reliable(c.net.params))
    yield simpy.AllOf(ctx.env, workers)
    yield from c.one(100, n, True)
    c.end()


def _reliable(params: Any, reliable: bool = True) -> Any:
    return msgspec.structs.replace(params, reliable=reliable)


@scenario("Figure8Unreliable3C", "3C", "Figure 8 on an unreliable network with long reordering")
def figure8_unreliable(ctx: RunContext) -> Gen:
    n = 5
    c = RaftCluster(ctx, n, reliable=False)
    yield from c.one(c.rng.randrange(10000), 1, True)
    nup = n
    for iters in range(1000):
        if iters == 200:
            c.net.set_params(msgspec.structs.replace(c.net.params, long_reordering=True))
        leader = -1
        for i in range(n):
            _, _, ok = c.start(i, c.rng.randrange(10000))
            if ok and c.connected(i):
                leader = i
        yield ctx.sleep(_figure8_sleep(c))
        if leader != -1 and c.fault_rng.randrange(1000) < int(ET) // 2:
            c.disconnect(leader)
            nup -= 1
        if nup < 3:
            s = c.fault_rng.randrange(n)
            if not c.connected(s):
                c.connect(s)
                nup += 1
    for i in range(n):
        if not c.connected(i):
            c.connect(i)
    yield from c.one(c.rng.randrange(10000), n, True)
    c.end()


def _churn(ctx: RunContext, unreliable: bool) -> Gen:
    n = 5
    c = RaftCluster(ctx, n, reliable=not unreliable)
    stop = [False]

    def client(me: int) -> Generator[Any, Any, list[int]]:
        rng = ctx.world.rng(f"workload/churn{me}")
        values: list[int] = []
        while not stop[0]:
            x = rng.randrange(1 << 31)
            index, ok = -1, False
            for i in range(n):                  # try them all, maybe one is the leader
                if c.up(i):
                    index1, _, ok1 = c.start(i, x)
                    if ok1:
                        ok, index = ok1, index1
            if ok:
                for to in (10, 20, 50, 100, 200):   # maybe it commits, but don't wait forever
                    count, cmd = c.n_committed(index)
                    if count > 0:
                        if cmd == x:
                            values.append(x)
                        break
                    yield ctx.sleep(to)
            else:
                yield ctx.sleep(79 + me * 17)
        return values

    clients = [ctx.env.process(client(i)) for i in range(3)]
    for _ in range(20):
        if c.fault_rng.randrange(1000) < 200:
            c.disconnect(c.fault_rng.randrange(n))
        if c.fault_rng.randrange(1000) < 500:
            i = c.fault_rng.randrange(n)
            if not c.up(i):
                c.start1(i)
            c.connect(i)
        if c.fault_rng.randrange(1000) < 200:
            i = c.fault_rng.randrange(n)
            if c.up(i):
                c.crash1(i)
        yield ctx.sleep(ET * 7 / 10)
    yield ctx.sleep(ET)
    c.net.set_params(_reliable(c.net.params))
    for i in range(n):
        if not c.up(i):
            c.start1(i)
        c.connect(i)
    stop[0] = True
    values: list[int] = []
    for proc in clients:
        got = yield proc
        if got is None:
            fail("client failed")
        values.extend(got)
    yield ctx.sleep(ET)
    last_index = yield from c.one(c.random_command(), n, True)
    really = []
    for index in range(1, last_index + 1):
        v = yield from c.wait(index, n, -1)
        really.append(v)
    really_set = set(really)
    for v in values:
        if v not in really_set:
            fail(f"didn't find a value {v}")
    ctx.facts["client_values"] = len(values)
    c.end()


@scenario("ReliableChurn3C", "3C", "churn: disconnects, crashes and restarts under load")
def reliable_churn(ctx: RunContext) -> Gen:
    yield from _churn(ctx, unreliable=False)


@scenario("UnreliableChurn3C", "3C", "churn on an unreliable network")
def unreliable_churn(ctx: RunContext) -> Gen:
    yield from _churn(ctx, unreliable=True)
