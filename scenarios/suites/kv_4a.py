"""The 6.5840 kvraft tests of 4A (a KV service without snapshots), 2024 names, ported to virtual
time with their assertions and limits. Every history is checked for linearizability; an
inconclusive check is reported as unknown, never as a pass.
"""

from __future__ import annotations

import simpy

from scenarios.harness.kv import (GenericRow, ELECTION_TIMEOUT, Clerk, KVCluster, check_appends,
                                  register_generic_tests, speed_test)
from scenarios.registry import scenario
from scenarios.runner import Gen, RunContext, fail

ET = ELECTION_TIMEOUT


_GENERIC: list[GenericRow] = [
    # name, suite, summary, clients, servers, unreliable, crash, partitions, maxraftstate, random
    ("Basic4A", "4A", "one client", 1, 5, False, False, False, -1, False),
    ("Concurrent4A", "4A", "many clients", 5, 5, False, False, False, -1, False),
    ("Unreliable4A", "4A", "unreliable net, many clients", 5, 5, True, False, False, -1, False),
    ("ManyPartitionsOneClient4A", "4A", "partitions, one client",
     1, 5, False, False, True, -1, False),
    ("ManyPartitionsManyClients4A", "4A", "partitions, many clients",
     5, 5, False, False, True, -1, False),
    ("PersistOneClient4A", "4A", "restarts, one client", 1, 5, False, True, False, -1, False),
    ("PersistConcurrent4A", "4A", "restarts, many clients", 5, 5, False, True, False, -1, False),
    ("PersistConcurrentUnreliable4A", "4A", "unreliable net, restarts, many clients",
     5, 5, True, True, False, -1, False),
    ("PersistPartition4A", "4A", "restarts, partitions, many clients",
     5, 5, False, True, True, -1, False),
    ("PersistPartitionUnreliable4A", "4A", "unreliable net, restarts, partitions, many clients",
     5, 5, True, True, True, -1, False),
    ("PersistPartitionUnreliableLinearizable4A", "4A",
     "unreliable net, restarts, partitions, random keys, many clients",
     15, 7, True, True, True, -1, True),
]

register_generic_tests(_GENERIC)


@scenario("Speed4A", "4A", "ops complete fast enough")
def speed_4a(ctx: RunContext) -> Gen:
    yield from speed_test(ctx, -1)


@scenario("UnreliableOneKey4A", "4A", "concurrent append to same key, unreliable")
def unreliable_one_key(ctx: RunContext) -> Gen:
    # Like the lab, this test logs no history (its opLog is nil): 50 overlapping appends to one
    # key defeat any linearizability search; checkConcurrentAppends judges the result instead.
    c = KVCluster(ctx, 3, unreliable=True)
    ck = c.make_clerk()
    yield from ck.put("k", "", log=False)
    nclient, upto = 5, 10

    def client(me: int, clerk: Clerk) -> Gen:
        for n in range(upto):
            yield from clerk.append("k", f"x {me} {n} y", log=False)

    yield simpy.AllOf(ctx.env, c.spawn_clients(nclient, client))
    v = yield from ck.get("k", log=False)
    for i in range(nclient):
        check_appends(i, v, upto)
    c.end()


@scenario("OnePartition4A", "4A", "progress in majority, none in minority, completion after heal")
def one_partition(ctx: RunContext) -> Gen:
    n = 5
    c = KVCluster(ctx, n)
    ck = c.make_clerk()
    yield from ck.put("1", "13")
    leader = c.leader()
    assert leader is not None, "the Put just completed through a leader"
    others = [i for i in range(n) if i != leader]
    p1 = [c.addrs[i] for i in others[:n // 2 + 1]]           # majority without the leader
    p2 = [c.addrs[i] for i in others[n // 2 + 1:]] + [c.addrs[leader]]
    c.partition(p1, p2)
    ckp1, ckp2a, ckp2b = c.make_clerk(p1), c.make_clerk(p2), c.make_clerk(p2)
    yield from ckp1.put("1", "14")                            # progress in majority
    yield from ckp1.check("1", "14")
    put15 = ctx.env.process(ckp2a.put("1", "15"))             # no progress in minority
    get1 = ctx.env.process(ckp2b.get("1"))
    yield ctx.sleep(1000)
    if put15.triggered:
        fail("Put in minority completed")
    if get1.triggered:
        fail("Get in minority completed")
    yield from ckp1.check("1", "14")
    yield from ckp1.put("1", "16")
    yield from ckp1.check("1", "16")
    c.connect_all()                                           # completion after heal
    ckp2a.connect_only(c.addrs)
    ckp2b.connect_only(c.addrs)
    yield ctx.sleep(ET)
    deadline = ctx.env.timeout(3000)
    yield put15 | deadline
    if not put15.triggered:
        fail("Put did not complete")
    yield from ck.check("1", "15")
    c.end()
    c.check_linearizable()
