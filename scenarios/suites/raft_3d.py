"""The 6.5840 Raft tests of 3D (snapshots), ported to virtual time with their assertions and
limits. The tester's applier snapshots every ``SNAPSHOT_INTERVAL`` entries; randomness comes from
the run's ``workload`` stream.
"""

from __future__ import annotations

from scenarios.harness.raft import MAX_LOG_SIZE, SNAPSHOT_INTERVAL, RaftCluster
from scenarios.registry import scenario
from scenarios.runner import Gen, RunContext, fail


def _snapcommon(ctx: RunContext, disconnect: bool, reliable: bool, crash: bool) -> Gen:
    n = 3
    c = RaftCluster(ctx, n, reliable=reliable, snapshot=True)
    yield from c.one(c.random_command(), n, True)
    leader1 = yield from c.check_one_leader()
    for i in range(30):
        victim, sender = (leader1 + 1) % n, leader1
        if i % 3 == 1:
            sender, victim = (leader1 + 1) % n, leader1
        if disconnect:
            c.disconnect(victim)
            yield from c.one(c.random_command(), n - 1, True)
        if crash:
            c.crash1(victim)
            yield from c.one(c.random_command(), n - 1, True)
        for _ in range(SNAPSHOT_INTERVAL // 2 + c.rng.randrange(SNAPSHOT_INTERVAL)):
            c.start(sender, c.random_command())     # perhaps enough to get a snapshot
        if not disconnect and not crash:
            # all followers catch up, so no InstallSnapshot is needed (SnapshotBasic)
            yield from c.one(c.random_command(), n, True)
        else:
            yield from c.one(c.random_command(), n - 1, True)
        size = c.log_size()
        ctx.facts["max_log_size"] = max(size, ctx.facts.get("max_log_size", 0))
        if size >= MAX_LOG_SIZE:
            fail(f"Log size too large: {size} bytes")
        if disconnect:                          # a follower that may need a snapshot
            c.connect(victim)
            yield from c.one(c.random_command(), n, True)
            leader1 = yield from c.check_one_leader()
        if crash:
            c.start1(victim)
            c.connect(victim)
            yield from c.one(c.random_command(), n, True)
            leader1 = yield from c.check_one_leader()
    c.end()


@scenario("SnapshotBasic3D", "3D", "snapshots basic")
def snapshot_basic(ctx: RunContext) -> Gen:
    yield from _snapcommon(ctx, disconnect=False, reliable=True, crash=False)


@scenario("SnapshotInstall3D", "3D", "install snapshots (disconnect)")
def snapshot_install(ctx: RunContext) -> Gen:
    yield from _snapcommon(ctx, disconnect=True, reliable=True, crash=False)


@scenario("SnapshotInstallUnreliable3D", "3D", "install snapshots (disconnect + unreliable)")
def snapshot_install_unreliable(ctx: RunContext) -> Gen:
    yield from _snapcommon(ctx, disconnect=True, reliable=False, crash=False)


@scenario("SnapshotInstallCrash3D", "3D", "install snapshots (crash)")
def snapshot_install_crash(ctx: RunContext) -> Gen:
    yield from _snapcommon(ctx, disconnect=False, reliable=True, crash=True)


@scenario("SnapshotInstallUnCrash3D", "3D", "install snapshots (unreliable + crash)")
def snapshot_install_uncrash(ctx: RunContext) -> Gen:
    yield from _snapcommon(ctx, disconnect=False, reliable=False, crash=True)


@scenario("SnapshotAllCrash3D", "3D", "crash and restart all servers")
def snapshot_all_crash(ctx: RunContext) -> Gen:
    n = 3
    c = RaftCluster(ctx, n, snapshot=True)
    yield from c.one(c.random_command(), n, True)
    for _ in range(5):
        for _ in range(SNAPSHOT_INTERVAL // 2 + c.rng.randrange(SNAPSHOT_INTERVAL)):
            yield from c.one(c.random_command(), n, True)   # perhaps enough for a snapshot
        index1 = yield from c.one(c.random_command(), n, True)
        for i in range(n):
            c.crash1(i)
        for i in range(n):
            c.start1(i)
            c.connect(i)
        index2 = yield from c.one(c.random_command(), n, True)
        if index2 < index1 + 1:
            fail(f"index decreased from {index1} to {index2}")
    c.end()


@scenario("SnapshotInit3D", "3D", "snapshot initialization after crash")
def snapshot_init(ctx: RunContext) -> Gen:
    n = 3
    c = RaftCluster(ctx, n, snapshot=True)
    yield from c.one(c.random_command(), n, True)
    for _ in range(SNAPSHOT_INTERVAL + 1):      # enough ops to make a snapshot
        yield from c.one(c.random_command(), n, True)
    for _ in range(2):
        for i in range(n):
            c.crash1(i)
        for i in range(n):
            c.start1(i)
            c.connect(i)
        # one op gets something written back to storage; the second would expose a
        # restarted server that forgot its in-memory snapshot
        yield from c.one(c.random_command(), n, True)
    c.end()
