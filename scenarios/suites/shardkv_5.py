"""The 6.5840 shardkv tests (2024 names), ported to virtual time with their assertions. Every
history is checked for linearizability (per key, across groups), and the sharding invariants
watch every group throughout.
"""

from __future__ import annotations



from scenarios.harness.shardkv import ShardClerk, ShardKVCluster, keys
from scenarios.registry import scenario
from scenarios.runner import Gen, RunContext, fail

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _randstring(ctx: RunContext, n: int) -> str:
    rng = ctx.world.rng("workload")
    return "".join(rng.choice(_LETTERS) for _ in range(n))


@scenario("StaticShards5A", "5A", "sharded KV: two groups serve their own shards; with one "
          "down, exactly half the Gets complete")
def static_shards(ctx: RunContext) -> Gen:
    c = ShardKVCluster(ctx, 3)
    ck = c.make_clerk()
    yield from c.join(0)
    yield from c.join(1)
    ka = keys(10)
    va = [_randstring(ctx, 20) for _ in ka]
    for k, v in zip(ka, va):
        yield from ck.put(k, v)
    for k, v in zip(ka, va):
        yield from ck.check(k, v)
    # The data really is sharded: with group 1 down, only about half the Gets succeed.
    c.shutdown_group(1)
    c.checklogs()

    def get_one(clerk: ShardClerk, i: int) -> Gen:
        v = yield from clerk.get(ka[i])
        if v != va[i]:
            fail(f"Get({ka[i]}): expected:\n{va[i]}\nreceived:\n{v}")
    pending = [ctx.env.process(get_one(c.make_clerk(), i)) for i in range(len(ka))]
    ndone = 0
    while pending:
        yield ctx.env.any_of([ctx.sleep(2000), *pending])
        finished = [p for p in pending if p.triggered]
        if not finished:
            break
        ndone += len(finished)
        pending = [p for p in pending if not p.triggered]
    ctx.facts["gets_done_with_a_group_down"] = ndone
    if ndone != 5:
        fail(f"expected 5 completions with one shard dead; got {ndone}")
    c.start_group(1)
    for k, v in zip(ka, va):
        yield from ck.check(k, v)
    c.end()
    c.check_linearizable()


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
    ka = list(keys(10))
    va = [_randstring(ctx, 5) for _ in ka]
    for k, v in zip(ka, va):
        yield from ck.put(k, v)
    for k, v in zip(ka, va):
        yield from ck.check(k, v)
    yield from c.join(1)
    yield from _check_and_append(ctx, ck, ka, va, 5)
    yield from c.leave(0)
    yield from _check_and_append(ctx, ck, ka, va, 5)
    yield ctx.sleep(1000)
    c.checklogs()
    c.shutdown_group(0)
    for k, v in zip(ka, va):
        yield from ck.check(k, v)
    c.end()
    c.check_linearizable()


