"""The 6.5840 shardctrler tests (2024: TestBasic, TestMulti, TestMinimalAgain), ported to
virtual time with their assertions. Each lab subtest is a phase of its scenario; a failure
names the phase. Where the lab's check is vacuous (its MinimalTransfer loops look at gids that
are not members), the phase checks what it meant: a Join moves shards only to the joining
groups, a Leave only away from the leaving ones.
"""

from __future__ import annotations

from typing import Any, Iterable

from protocols import shardctrler as sc

from scenarios.harness.shardctrler import CtrlClerk, CtrlCluster
from scenarios.registry import scenario
from scenarios.runner import Gen, RunContext, fail


def _servers(gid: int) -> tuple[str, ...]:
    """The lab's made-up server names of group ``gid`` (three per group)."""
    return tuple(f"{gid}{s}" for s in "abc")


def _expect_groups(config: sc.Config, groups: dict[int, tuple[str, ...]]) -> None:
    """The server lists of these groups are preserved exactly and in order."""
    for gid, servers in groups.items():
        if config.servers(gid) != servers:
            fail(f"group {gid}: servers {config.servers(gid)} != joined {servers}")


def _moved_only(before: sc.Config, after: sc.Config, allowed: Iterable[int], to: bool,
                phase: str) -> None:
    """Every shard that changed owner moved to (``to``) or from (not ``to``) ``allowed``."""
    allowed = set(allowed)
    for shard in range(sc.NSHARDS):
        a, b = before.shards[shard], after.shards[shard]
        if a != b and (b if to else a) not in allowed:
            fail(f"{phase}: shard {shard} moved from {a} to {b}")


def _leave_join(c: CtrlCluster, ck: CtrlClerk, joins: list[dict[int, tuple[str, ...]]],
                leaves: list[list[int]], saved: list[sc.Config]) -> Gen:
    """Join each group set, then leave each gid set, checking after every step."""
    members: dict[int, tuple[str, ...]] = {}
    saved.append((yield from c.check(ck, [])))
    for groups in joins:
        yield from ck.join(groups)
        members.update(groups)
        config = yield from c.check(ck, members)
        _expect_groups(config, members)
        saved.append(config)
    for gids in leaves:
        yield from ck.leave(gids)
        for gid in gids:
            del members[gid]
        config = yield from c.check(ck, members)
        _expect_groups(config, members)
        saved.append(config)


def _concurrent(c: CtrlCluster, ck: CtrlClerk, gids: list[int],
                joins: Any, leaves: Any) -> Gen:
    """One clerk per gid runs ``joins(gid)`` then ``leaves(gid)`` concurrently; then check."""
    def client(i: int, clerk: CtrlClerk) -> Gen:
        gid = gids[i]
        for groups in joins(gid):
            yield from clerk.join(groups)
        yield from clerk.leave(leaves(gid))
    procs = c.spawn_clients(len(gids), client)
    for proc in procs:
        yield proc
    yield from c.check(ck, gids)


def _minimal(c: CtrlCluster, ck: CtrlClerk, gids: list[int], one_call: bool, base: list[int]
             ) -> Gen:
    """Join ``gids`` (one call or one each): shards move only to them; then leave them:
    shards move only away from them; ``base`` stays the membership in between."""
    before = yield from ck.query()
    for batch in ([gids] if one_call else [[g] for g in gids]):
        yield from ck.join({g: _servers(g) for g in batch})
    joined = yield from c.check(ck, base + gids)
    _moved_only(before, joined, gids, True, "MinimalTransfer")
    for batch in ([gids] if one_call else [[g] for g in gids]):
        yield from ck.leave(batch)
    left = yield from c.check(ck, base)
    _moved_only(joined, left, gids, False, "MinimalTransferAfterLeave")


@scenario("ControllerBasic5A", "5A", "shard controller, one group per call: leave/join, "
          "historical queries, move, concurrent leave/join, minimal transfers")
def controller_basic(ctx: RunContext) -> Gen:
    c = CtrlCluster(ctx)
    ck = c.make_clerk()
    saved: list[sc.Config] = []
    yield from _leave_join(c, ck, [{1: _servers(1)}, {2: _servers(2)}], [[1], [2]], saved)
    for i in range(c.n):                            # HistoricalQueries
        c.shutdown(i)
        for config in saved:
            got = yield from ck.query(config.num)
            if got != config:
                fail(f"HistoricalQueries: config {config.num} with server {i} down is {got}")
        c.start(i)
        c.connect_all()
    yield from ck.join({503: _servers(503), 504: _servers(504)})   # Move
    for shard in range(sc.NSHARDS):
        gid = 503 if shard < sc.NSHARDS // 2 else 504
        before = yield from ck.query()
        yield from ck.move(shard, gid)
        after = yield from ck.query()
        if before.shards[shard] != gid and after.num <= before.num:
            fail(f"Move: shard {shard} to {gid} did not make a new configuration")
    final = yield from ck.query()
    for shard in range(sc.NSHARDS):
        want = 503 if shard < sc.NSHARDS // 2 else 504
        if final.shards[shard] != want:
            fail(f"Move: shard {shard} is on {final.shards[shard]}, not {want}")
    yield from ck.leave([503, 504])
    gids = [100 + 10 * i for i in range(10)]        # ConcurrentLeaveJoin
    yield from _concurrent(c, ck, gids,
                           lambda g: [{g + 1000: (f"s{g}",)}, {g: (f"s{g}",)}],
                           lambda g: [g + 1000])
    yield from _minimal(c, ck, [11, 12, 13, 14, 15], False, gids)
    c.end()


@scenario("ControllerMulti5A", "5A", "shard controller, many groups per call: leave/join, "
          "concurrent leave/join, minimal transfers, agreement after a leader change")
def controller_multi(ctx: RunContext) -> Gen:
    c = CtrlCluster(ctx)
    ck = c.make_clerk()
    saved: list[sc.Config] = []
    yield from _leave_join(c, ck, [{1: _servers(1), 2: _servers(2)}, {3: _servers(3)}],
                           [[1, 3], [2]], saved)
    gids = list(range(1000, 1010))
    yield from _concurrent(c, ck, gids,
                           lambda g: [{g: _servers(g), g + 1000: (f"s{g}a",),
                                       g + 2000: (f"s{g}b",)}],
                           lambda g: [g + 1000, g + 2000])
    yield from _minimal(c, ck, [11, 12, 13, 14, 15], True, gids)
    latest = yield from ck.query()                  # AgreeConfig
    leader = c.leader()
    if leader is None:
        fail("AgreeConfig: no leader")
    c.shutdown(leader)
    again = yield from ck.query()
    if again != latest:
        fail(f"AgreeConfig: the new leader's latest config {again} != {latest}")
    c.start(leader)
    c.connect_all()
    c.end()


@scenario("ControllerMinimalAgain5A", "5A", "shard controller: a join and a leave move few "
          "shards (at most NShards/3 + 1)")
def controller_minimal_again(ctx: RunContext) -> Gen:
    c = CtrlCluster(ctx)
    ck = c.make_clerk()
    yield from ck.join({1: _servers(1)})
    yield from ck.join({2: _servers(2)})
    c1 = yield from ck.query()
    yield from ck.join({3: _servers(3)})
    c2 = yield from ck.query()
    _moved_only(c1, c2, [3], True, "Join(3)")
    bound = sc.NSHARDS // 3 + 1
    moved = sum(c1.shards[s] != c2.shards[s] for s in range(sc.NSHARDS))
    if moved > bound:
        fail(f"Join(3) moved {moved} shards, more than {bound}")
    yield from ck.leave([1])
    c3 = yield from ck.query()
    _moved_only(c2, c3, [1], False, "Leave(1)")
    moved = sum(c2.shards[s] != c3.shards[s] for s in range(sc.NSHARDS))
    if moved > bound:
        fail(f"Leave(1) moved {moved} shards, more than {bound}")
    c.end()
