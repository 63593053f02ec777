"""The 6.5840 shardkv tests (2024 names), ported to virtual time with their assertions. Every
history is checked for linearizability (per key, across groups), and the sharding invariants
watch every group throughout.
"""

from __future__ import annotations



import random
from typing import Any, Callable, Generator

import simpy

from protocols import shardctrler as sc
from protocols.shardkv import key2shard

from scenarios.harness.shardkv import ShardClerk, ShardKVCluster, keys
from scenarios.registry import scenario
from scenarios.runner import Gen, RunContext, fail

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _randstring(ctx: RunContext, n: int, rng: random.Random | None = None) -> str:
    rng = rng or ctx.world.rng("workload")
    return "".join(rng.choice(_LETTERS) for _ in range(n))


def _count_completions(ctx: RunContext,
                       pending: list[simpy.Process]) -> Generator[Any, Any, int]:
    """How many of ``pending`` complete before 2 s pass with none completing (the lab's
    select loop over a channel and time.After(2 s))."""
    ndone = 0
    while pending:
        yield ctx.env.any_of([ctx.sleep(2000), *pending])
        finished = [p for p in pending if p.triggered]
        if not finished:
            break
        ndone += len(finished)
        pending = [p for p in pending if not p.triggered]
    return ndone


def _load(ctx: RunContext, c: ShardKVCluster, ck: ShardClerk, n: int,
          size: int) -> Generator[Any, Any, tuple[list[str], list[str]]]:
    """Put ``n`` keys "0".."n-1" with random values of ``size`` characters; check them."""
    ka = list(keys(n))
    va = [_randstring(ctx, size) for _ in ka]
    for k, v in zip(ka, va):
        yield from ck.put(k, v)
    yield from _check_all(ck, ka, va)
    return ka, va


def _check_all(ck: ShardClerk, ka: list[str], va: list[str]) -> Gen:
    for k, v in zip(ka, va):
        yield from ck.check(k, v)


def _appenders(ctx: RunContext, c: ShardKVCluster, ka: list[str], va: list[str], size: int,
               pause: float, stop: list[bool]) -> list[simpy.Process]:
    """One clerk per key appending random strings until ``stop`` (the lab's ff), recording
    what it appended in ``va``."""
    def ff(i: int, clerk: ShardClerk) -> Gen:
        rng = ctx.world.rng(f"workload/{clerk.name}")
        while not stop[0]:
            x = _randstring(ctx, size, rng)
            yield from clerk.append(ka[i], x)
            va[i] += x
            if pause:
                yield ctx.sleep(pause)
    return [ctx.env.process(ff(i, c.make_clerk())) for i in range(len(ka))]


def _finish(c: ShardKVCluster) -> None:
    c.end()
    c.check_linearizable()


@scenario("StaticShards5A", "5A", "sharded KV: two groups serve their own shards; with one "
          "down, exactly half the Gets complete")
def static_shards(ctx: RunContext) -> Gen:
    c = ShardKVCluster(ctx, 3)
    ck = c.make_clerk()
    yield from c.join(0)
    yield from c.join(1)
    ka, va = yield from _load(ctx, c, ck, 10, 20)
    # The data really is sharded: with group 1 down, only about half the Gets succeed.
    c.shutdown_group(1)
    c.checklogs()

    def get_one(clerk: ShardClerk, i: int) -> Gen:
        v = yield from clerk.get(ka[i])
        if v != va[i]:
            fail(f"Get({ka[i]}): expected:\n{va[i]}\nreceived:\n{v}")
    pending = [ctx.env.process(get_one(c.make_clerk(), i)) for i in range(len(ka))]
    ndone = yield from _count_completions(ctx, pending)
    ctx.facts["gets_done_with_a_group_down"] = ndone
    if ndone != 5:
        fail(f"expected 5 completions with one shard dead; got {ndone}")
    c.start_group(1)
    yield from _check_all(ck, ka, va)
    _finish(c)


def _check_and_append(ctx: RunContext, ck: ShardClerk, ka: list[str], va: list[str],
                      n: int) -> Gen:
    for i, k in enumerate(ka):
        yield from ck.check(k, va[i])
        x = _randstring(ctx, n)
        yield from ck.append(k, x)
        va[i] += x


@scenario("JoinLeave5B", "5B", "sharded KV: shards move on a join and a leave; the group that "
          "left is not needed afterwards")
def join_leave(ctx: RunContext) -> Gen:
    c = ShardKVCluster(ctx, 3)
    ck = c.make_clerk()
    yield from c.join(0)
    ka, va = yield from _load(ctx, c, ck, 10, 5)
    yield from c.join(1)
    yield from _check_and_append(ctx, ck, ka, va, 5)
    yield from c.leave(0)
    yield from _check_and_append(ctx, ck, ka, va, 5)
    yield ctx.sleep(1000)
    c.checklogs()
    c.shutdown_group(0)
    yield from _check_all(ck, ka, va)
    _finish(c)



@scenario("Rejection5A", "5A", "sharded KV: a group refuses keys of shards it does not own "
          "(clerks of a second controller that gives it every shard)")
def rejection(ctx: RunContext) -> Gen:
    c = ShardKVCluster(ctx, 3)
    ck = c.make_clerk()
    yield from c.join(0)
    yield from c.join(1)
    ka, va = yield from _load(ctx, c, ck, 10, 20)
    # A second controller, where only group 0 joined: it hands group 0 every shard.
    ctl1 = c.second_controller("ctlB")
    admin = c.controller_clerk(ctl1)
    yield from admin.call(sc.clerk.join({c.gids[0]: c.groups[c.gids[0]]}))

    def get_one(clerk: ShardClerk, i: int) -> Gen:
        v = yield from clerk.get(ka[i])
        if v != va[i]:
            fail(f"Get({ka[i]}): expected:\n{va[i]}\nreceived:\n{v}"
                 + ("\nserver should have rejected" if v == "" else ""))
    pending = [ctx.env.process(get_one(c.make_clerk(ctl1), i)) for i in range(len(ka))]
    ndone = yield from _count_completions(ctx, pending)
    ctx.facts["gets_done_through_the_wrong_controller"] = ndone
    if ndone != 5:
        fail(f"expected 5 completions with a wrong controller; got {ndone}")
    _finish(c)


@scenario("Snapshot5B", "5B", "sharded KV: snapshots (maxraftstate 1000) across joins, leaves "
          "and a restart of every group")
def snapshot(ctx: RunContext) -> Gen:
    c = ShardKVCluster(ctx, 3, maxraftstate=1000)
    ck = c.make_clerk()
    yield from c.join(0)
    ka, va = yield from _load(ctx, c, ck, 30, 20)
    yield from c.join(1)
    yield from c.join(2)
    yield from c.leave(0)
    yield from _check_and_append(ctx, ck, ka, va, 20)
    yield from c.leave(1)
    yield from c.join(0)
    yield from _check_and_append(ctx, ck, ka, va, 20)
    yield ctx.sleep(1000)
    yield from _check_all(ck, ka, va)
    yield ctx.sleep(1000)
    c.checklogs()
    for gi in range(3):
        c.shutdown_group(gi)
    for gi in range(3):
        c.start_group(gi)
    yield from _check_all(ck, ka, va)
    _finish(c)


@scenario("MissChange5B", "5B", "sharded KV: servers down across several configurations catch "
          "up when they restart")
def miss_change(ctx: RunContext) -> Gen:
    c = ShardKVCluster(ctx, 3, maxraftstate=1000)
    ck = c.make_clerk()
    yield from c.join(0)
    ka, va = yield from _load(ctx, c, ck, 10, 20)
    yield from c.join(1)
    for gi in range(3):
        c.shutdown_server(gi, 0)
    yield from c.join(2)
    yield from c.leave(1)
    yield from c.leave(0)
    yield from _check_and_append(ctx, ck, ka, va, 20)
    yield from c.join(1)
    yield from _check_and_append(ctx, ck, ka, va, 20)
    for gi in range(3):
        c.start_server(gi, 0)
    yield from _check_and_append(ctx, ck, ka, va, 20)
    yield ctx.sleep(2000)
    for gi in range(3):
        c.shutdown_server(gi, 1)
    yield from c.join(0)
    yield from c.leave(2)
    yield from _check_and_append(ctx, ck, ka, va, 20)
    for gi in range(3):
        c.start_server(gi, 1)
    yield from _check_all(ck, ka, va)
    _finish(c)


def _concurrent(ctx: RunContext, maxraftstate: int, size: int, pause: float,
                timeline: Callable[[ShardKVCluster], Gen], joins: tuple[int, ...] = (0,),
                unreliable: bool = False) -> Gen:
    """Load 10 keys, run one appender per key while ``timeline`` reconfigures, then check
    that every key holds exactly what its appender appended."""
    c = ShardKVCluster(ctx, 3, maxraftstate=maxraftstate, unreliable=unreliable)
    ck = c.make_clerk()
    for gi in joins:
        yield from c.join(gi)
    ka, va = yield from _load(ctx, c, ck, 10, size)
    stop = [False]
    clients = _appenders(ctx, c, ka, va, size, pause, stop)
    yield from timeline(c)
    stop[0] = True
    if unreliable:
        c.reliable()
    for proc in clients:
        yield proc
    yield from _check_all(ck, ka, va)
    _finish(c)


def _timeline1(c: ShardKVCluster) -> Gen:
    ctx = c.ctx
    yield ctx.sleep(150)
    yield from c.join(1)
    yield ctx.sleep(500)
    yield from c.join(2)
    yield ctx.sleep(500)
    yield from c.leave(0)
    for gi in range(3):
        c.shutdown_group(gi)
        if gi < 2:
            yield ctx.sleep(100)
    yield from c.leave(2)
    yield ctx.sleep(100)
    for gi in range(3):
        c.start_group(gi)
    yield ctx.sleep(100)
    yield from c.join(0)
    yield from c.leave(1)
    yield ctx.sleep(500)
    yield from c.join(1)
    yield ctx.sleep(1000)


@scenario("Concurrent1_5B", "5B", "sharded KV: appends during joins, leaves and every group "
          "crashing (maxraftstate 100)")
def concurrent1(ctx: RunContext) -> Gen:
    yield from _concurrent(ctx, 100, 5, 10, _timeline1)


def _timeline2(c: ShardKVCluster) -> Gen:
    ctx = c.ctx
    yield from c.leave(0)
    yield from c.leave(2)
    yield ctx.sleep(3000)
    yield from c.join(0)
    yield from c.join(2)
    yield from c.leave(1)
    yield ctx.sleep(3000)
    yield from c.join(1)
    yield from c.leave(0)
    yield from c.leave(2)
    yield ctx.sleep(3000)
    c.shutdown_group(1)
    c.shutdown_group(2)
    yield ctx.sleep(1000)
    c.start_group(1)
    c.start_group(2)
    yield ctx.sleep(2000)


@scenario("Concurrent2_5B", "5B", "sharded KV: appends every 50 ms during many joins and "
          "leaves and a crash of two groups")
def concurrent2(ctx: RunContext) -> Gen:
    yield from _concurrent(ctx, -1, 1, 50, _timeline2, joins=(1, 0, 2))


def _timeline3(c: ShardKVCluster) -> Gen:
    ctx = c.ctx
    rng = ctx.world.rng("workload")
    start = ctx.now
    while ctx.now - start < 12_000:
        yield from c.join(2)
        yield from c.join(1)
        yield ctx.sleep(rng.randrange(900))
        for gi in range(3):
            c.shutdown_group(gi)
        for gi in range(3):
            c.start_group(gi)
        yield ctx.sleep(rng.randrange(900))
        yield from c.leave(1)
        yield from c.leave(2)
        yield ctx.sleep(rng.randrange(900))
    yield ctx.sleep(2000)


@scenario("Concurrent3_5B", "5B", "sharded KV: appends in a tight loop for 12 s of joins, "
          "leaves and restarts of every group (maxraftstate 300)")
def concurrent3(ctx: RunContext) -> Gen:
    yield from _concurrent(ctx, 300, 1, 0, _timeline3)


@scenario("Unreliable1_5B", "5B", "sharded KV: checks and appends on an unreliable network "
          "across joins and leaves")
def unreliable1(ctx: RunContext) -> Gen:
    c = ShardKVCluster(ctx, 3, maxraftstate=100, unreliable=True)
    ck = c.make_clerk()
    yield from c.join(0)
    ka, va = yield from _load(ctx, c, ck, 10, 5)
    yield from c.join(1)
    yield from c.join(2)
    yield from c.leave(0)
    for ii in range(20):
        i = ii % 10
        yield from ck.check(ka[i], va[i])
        x = _randstring(ctx, 5)
        yield from ck.append(ka[i], x)
        va[i] += x
    yield from c.join(0)
    yield from c.leave(1)
    for ii in range(20):
        yield from ck.check(ka[ii % 10], va[ii % 10])
    _finish(c)


def _timeline_unreliable(c: ShardKVCluster) -> Gen:
    ctx = c.ctx
    yield ctx.sleep(150)
    yield from c.join(1)
    yield ctx.sleep(500)
    yield from c.join(2)
    yield ctx.sleep(500)
    yield from c.leave(0)
    yield ctx.sleep(500)
    yield from c.leave(1)
    yield ctx.sleep(500)
    yield from c.join(1)
    yield from c.join(0)
    yield ctx.sleep(2000)


@scenario("Unreliable2_5B", "5B", "sharded KV: appends in a tight loop on an unreliable "
          "network across joins and leaves")
def unreliable2(ctx: RunContext) -> Gen:
    yield from _concurrent(ctx, 100, 5, 0, _timeline_unreliable, unreliable=True)


@scenario("Unreliable3_5B", "5B", "sharded KV: random gets, puts and appends on an unreliable "
          "network across joins and leaves; linearizable")
def unreliable3(ctx: RunContext) -> Gen:
    c = ShardKVCluster(ctx, 3, maxraftstate=100, unreliable=True)
    ck = c.make_clerk()
    yield from c.join(0)
    ka = list(keys(10))
    for k in ka:
        yield from ck.put(k, _randstring(ctx, 5))
    stop = [False]

    def ff(clerk: ShardClerk) -> Gen:
        rng = ctx.world.rng(f"workload/{clerk.name}")
        while not stop[0]:
            key = ka[rng.randrange(len(ka))]
            nv = _randstring(ctx, 5, rng)
            if rng.randrange(1000) < 500:
                yield from clerk.append(key, nv)
            elif rng.randrange(1000) < 100:
                yield from clerk.put(key, nv)
            else:
                yield from clerk.get(key)
    clients = [ctx.env.process(ff(c.make_clerk())) for _ in range(10)]
    yield from _timeline_unreliable(c)
    stop[0] = True
    c.reliable()
    for proc in clients:
        yield proc
    _finish(c)


@scenario("Challenge1Delete", "5B", "sharded KV challenge 1: garbage collection keeps the total "
          "stored state bounded (30 keys of 1000 characters, maxraftstate 1)")
def challenge1_delete(ctx: RunContext) -> Gen:
    c = ShardKVCluster(ctx, 3, maxraftstate=1)
    ck = c.make_clerk()
    yield from c.join(0)
    n = 30
    ka, va = yield from _load(ctx, c, ck, n, 1000)
    for _ in range(2):
        yield from c.join(1)
        yield from c.leave(0)
        yield from c.join(2)
        yield ctx.sleep(3000)
        for i in range(3):
            yield from ck.check(ka[i], va[i])
        yield from c.leave(1)
        yield from c.join(0)
        yield from c.leave(2)
        yield ctx.sleep(3000)
        for i in range(3):
            yield from ck.check(ka[i], va[i])
    yield from c.join(1)
    yield from c.join(2)
    for _ in range(3):
        yield ctx.sleep(1000)
        for i in range(3):
            yield from ck.check(ka[i], va[i])
    total = c.stored_bytes()
    # 27 keys stored once, 3 keys perhaps twice (the lab's allowance for a duplicate table
    # that keeps values), 6000 bytes of slack, on 3 replicas each.
    expected = 3 * ((n - 3) * 1000 + 2 * 3 * 1000 + 6000)
    ctx.facts["stored_bytes"] = total
    if total > expected:
        fail(f"snapshot + persisted Raft state are too big: {total} > {expected}")
    yield from _check_all(ck, ka, va)
    _finish(c)


@scenario("Challenge2Unaffected", "5B", "sharded KV challenge 2: shards a reconfiguration does "
          "not touch stay served while another group's shards cannot move")
def challenge2_unaffected(ctx: RunContext) -> Gen:
    c = ShardKVCluster(ctx, 3, maxraftstate=100, unreliable=True)
    ck = c.make_clerk()
    yield from c.join(0)
    ka = list(keys(10))
    va = ["100"] * 10
    for k in ka:
        yield from ck.put(k, "100")
    yield from c.join(1)
    config = yield from c.query()
    owned = [gid == c.gids[1] for gid in config.shards]
    yield ctx.sleep(1000)
    for i in range(10):
        if owned[i]:            # the lab indexes by key number here, not by shard
            va[i] = "101"
            yield from ck.put(ka[i], va[i])
    c.shutdown_group(0)
    yield from c.leave(0)       # 101 can never pull what 100 held
    yield ctx.sleep(1000)
    for i, k in enumerate(ka):
        if owned[key2shard(k)]:
            yield from ck.check(k, va[i])
            yield from ck.put(k, va[i] + "-1")
            yield from ck.check(k, va[i] + "-1")
    _finish(c)


@scenario("Challenge2Partial", "5B", "sharded KV challenge 2: a group serves the shards it "
          "received while others can never arrive")
def challenge2_partial(ctx: RunContext) -> Gen:
    c = ShardKVCluster(ctx, 3, maxraftstate=100, unreliable=True)
    ck = c.make_clerk()
    yield from c.join(0, 1, 2)
    yield ctx.sleep(1000)
    ka = list(keys(10))
    va = ["100"] * 10
    for k in ka:
        yield from ck.put(k, "100")
    config = yield from c.query()
    owned = [gid == c.gids[2] for gid in config.shards]
    c.shutdown_group(0)
    yield from c.leave(0, 2)    # 101 gets 102's shards, never 100's
    yield ctx.sleep(1000)
    for i, k in enumerate(ka):
        if owned[key2shard(k)]:
            yield from ck.check(k, va[i])
            yield from ck.put(k, va[i] + "-2")
            yield from ck.check(k, va[i] + "-2")
    _finish(c)
