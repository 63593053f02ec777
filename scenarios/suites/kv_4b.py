"""The 6.5840 kvraft tests of 4B (the KV service with snapshots), 2024 names, ported to virtual
time with their assertions and limits. Every history is checked for linearizability; an
inconclusive check is reported as unknown, never as a pass.
"""

from __future__ import annotations

from scenarios.harness.kv import (ELECTION_TIMEOUT, GenericRow, KVCluster,
                                  register_generic_tests, speed_test)
from scenarios.registry import scenario
from scenarios.runner import Gen, RunContext, fail

ET = ELECTION_TIMEOUT


_GENERIC: list[GenericRow] = [
    # name, suite, summary, clients, servers, unreliable, crash, partitions, maxraftstate, random
    ("SnapshotRecover4B", "4B", "restarts, snapshots, one client",
     1, 5, False, True, False, 1000, False),
    ("SnapshotRecoverManyClients4B", "4B", "restarts, snapshots, many clients",
     20, 5, False, True, False, 1000, False),
    ("SnapshotUnreliable4B", "4B", "unreliable net, snapshots, many clients",
     5, 5, True, False, False, 1000, False),
    ("SnapshotUnreliableRecover4B", "4B", "unreliable net, restarts, snapshots, many clients",
     5, 5, True, True, False, 1000, False),
    ("SnapshotUnreliableRecoverConcurrentPartition4B", "4B",
     "unreliable net, restarts, partitions, snapshots, many clients",
     5, 5, True, True, True, 1000, False),
    ("SnapshotUnreliableRecoverConcurrentPartitionLinearizable4B", "4B",
     "unreliable net, restarts, partitions, snapshots, random keys, many clients",
     15, 7, True, True, True, 1000, True),
]

register_generic_tests(_GENERIC)


@scenario("Speed4B", "4B", "ops complete fast enough, with snapshots")
def speed_4b(ctx: RunContext) -> Gen:
    yield from speed_test(ctx, 1000)


@scenario("SnapshotRPC4B", "4B", "InstallSnapshot RPC")
def snapshot_rpc(ctx: RunContext) -> Gen:
    maxraftstate = 1000
    c = KVCluster(ctx, 3, maxraftstate=maxraftstate)
    s0, s1, s2 = c.addrs
    ck = c.make_clerk()
    yield from ck.put("a", "A")
    yield from ck.check("a", "A")
    c.partition([s0, s1], [s2])                 # a bunch of puts into the majority
    ck1 = c.make_clerk([s0, s1])
    for i in range(50):
        yield from ck1.put(str(i), str(i))
    yield ctx.sleep(ET)
    yield from ck1.put("b", "B")
    size = c.log_size()                         # the majority threw most of its log away
    if size > 8 * maxraftstate:
        fail(f"logs were not trimmed ({size} > 8*{maxraftstate})")
    c.partition([s0, s2], [s1])                 # the lagging server has to catch up
    ck2 = c.make_clerk([s0, s2])
    yield from ck2.put("c", "C")
    yield from ck2.put("d", "D")
    for key, value in (("a", "A"), ("b", "B"), ("1", "1"), ("49", "49")):
        yield from ck2.check(key, value)
    c.partition([s0, s1, s2], [])               # now everybody
    yield from ck.put("e", "E")
    for key, value in (("c", "C"), ("e", "E"), ("1", "1")):
        yield from ck.check(key, value)
    c.end()
    c.check_linearizable()


@scenario("SnapshotSize4B", "4B", "snapshot size is reasonable")
def snapshot_size(ctx: RunContext) -> Gen:
    maxraftstate, maxsnapshotstate = 1000, 500
    c = KVCluster(ctx, 3, maxraftstate=maxraftstate)
    ck = c.make_clerk()
    for _ in range(200):
        yield from ck.put("x", "0")
        yield from ck.check("x", "0")
        yield from ck.put("x", "1")
        yield from ck.check("x", "1")
    size = c.log_size()
    if size > 8 * maxraftstate:
        fail(f"logs were not trimmed ({size} > 8*{maxraftstate})")
    snap = c.snapshot_size()
    if snap > maxsnapshotstate:
        fail(f"snapshot too large ({snap} > {maxsnapshotstate})")
    c.end()
    c.check_linearizable()
