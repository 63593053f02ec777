"""Random faults on the sharded KV service: a controller and 2-4 groups of 3 servers, a
schedule of joins, leaves, moves and whole-group crashes interleaved with the random fault
schedule over every server (single crashes, partitions inside and across groups, an unreliable
network), and clients on random keys. Checks Raft's invariants per group and the sharding
invariants throughout; then progress once everything heals, every group caught up with the
latest configuration, the storage bound after GC (every shard held by its owner only) and a
linearizable history.

Each part is drawn from its own stream and can be given as params (``shardkv``, ``reconfig``,
``schedule``, ``net``, ``profile``); a given part is validated before the run.
"""

from __future__ import annotations

import random
from typing import Annotated, Any, Union

import msgspec
import simpy
from msgspec import UNSET, Meta, UnsetType

from protocols.shardctrler import NSHARDS
from protocols.shardctrler import clerk as ctrl_clerk
from sim import FaultProfile, NetParams, Schedule

from scenarios.harness.coverage import Coverage
from scenarios.harness.faults import (MAX_DURATION_MS, Hunt, Swarm, fault_setup, hunt_setup,
                                      schedule_from_params, start_swarm, swarm_bias)
from scenarios.harness.kv import random_client
from scenarios.harness.shardkv import ShardClerk, ShardKVCluster
from scenarios.registry import scenario
from scenarios.runner import BadParams, Gen, RunContext, ScenarioFailure

__all__ = ["ShardWorkload", "JoinGroup", "LeaveGroup", "MoveShard", "CrashGroup",
           "RandomShardKVParams", "draw_workload", "draw_reconfig", "check_reconfig"]

FIRST_GID = 100
Ms = Annotated[float, Meta(ge=0, le=MAX_DURATION_MS)]
Gid = Annotated[int, Meta(ge=1)]


class ShardWorkload(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The groups and clients of a run: gids 100, 101, ... of 3 servers each; clients on keys
    "0".."keys-1" (key2shard: the first character, so up to 10 keys land in 10 shards)."""
    groups: Annotated[int, Meta(ge=1, le=6)] = 3
    clients: Annotated[int, Meta(ge=1, le=20)] = 3
    keys: Annotated[int, Meta(ge=1, le=100)] = 5
    duration_ms: Annotated[float, Meta(gt=0, le=60_000)] = 8_000.0
    think_ms: tuple[Ms, Ms] = (10.0, 50.0)
    maxraftstate: Annotated[int, Meta(ge=-1, le=1_000_000)] = -1


class JoinGroup(msgspec.Struct, frozen=True, tag="join", forbid_unknown_fields=True):
    gid: Gid


class LeaveGroup(msgspec.Struct, frozen=True, tag="leave", forbid_unknown_fields=True):
    gid: Gid


class MoveShard(msgspec.Struct, frozen=True, tag="move", forbid_unknown_fields=True):
    shard: int
    gid: Gid


class CrashGroup(msgspec.Struct, frozen=True, tag="crash_group", forbid_unknown_fields=True):
    """Every server of ``gid`` crashes, and restarts ``down_ms`` later (by the workload's end
    at the latest)."""
    gid: Gid
    down_ms: Ms


ReconfigOp = Union[JoinGroup, LeaveGroup, MoveShard, CrashGroup]
Reconfig = tuple[tuple[Ms, ReconfigOp], ...]


class RandomShardKVParams(msgspec.Struct, frozen=True, kw_only=True,
                          forbid_unknown_fields=True):
    """The params ``random-shardkv`` accepts (what is missing is drawn)."""
    shardkv: ShardWorkload | UnsetType = UNSET
    reconfig: Reconfig | UnsetType = UNSET
    schedule: Schedule | UnsetType = UNSET
    net: NetParams | UnsetType = UNSET
    profile: FaultProfile | UnsetType = UNSET
    swarm: Swarm | UnsetType = UNSET
    hunt: Hunt | UnsetType = UNSET


def _gids(work: ShardWorkload) -> list[int]:
    return [FIRST_GID + g for g in range(work.groups)]


def _servers(work: ShardWorkload) -> tuple[str, ...]:
    return tuple(f"ctl{i}" for i in range(3)) + tuple(
        f"{gid}s{i}" for gid in _gids(work) for i in range(3))


def draw_workload(rng: random.Random, bias: str = "uniform") -> ShardWorkload:
    work = ShardWorkload(groups=rng.choice((2, 3, 4)), clients=rng.choice((1, 2, 3, 4)),
                         keys=rng.choice((2, 5, 10)),
                         duration_ms=rng.choice((5_000.0, 8_000.0)),
                         think_ms=rng.choice(((0.0, 20.0), (10.0, 50.0))),
                         maxraftstate=rng.choice((-1, -1, 500, 2000)))
    if bias == "snapshots":
        return msgspec.structs.replace(work, maxraftstate=500)
    if bias == "bursts":
        return msgspec.structs.replace(work, clients=4, think_ms=(0.0, 5.0))
    return work


def draw_reconfig(rng: random.Random, work: ShardWorkload) -> Reconfig:
    """A few joins, leaves, moves and group crashes at random times; group 100 joins first
    (at time 0), and at least one group stays a member."""
    gids = _gids(work)
    members = [gids[0]]
    out: list[tuple[float, ReconfigOp]] = [(0.0, JoinGroup(gids[0]))]
    times = sorted(round(rng.uniform(0, work.duration_ms * 0.8), 3)
                   for _ in range(rng.randint(2, 8)))
    for t in times:
        kinds = ["move", "crash_group"] + (["join"] * 2 if len(members) < len(gids) else [])
        kinds += ["leave"] if len(members) > 1 else []
        kind = rng.choice(kinds)
        op: ReconfigOp
        if kind == "join":
            op = JoinGroup(rng.choice([g for g in gids if g not in members]))
            members.append(op.gid)
        elif kind == "leave":
            op = LeaveGroup(rng.choice(members))
            members.remove(op.gid)
        elif kind == "move":
            op = MoveShard(rng.randrange(NSHARDS), rng.choice(members))
        else:
            op = CrashGroup(rng.choice(gids), rng.choice((200.0, 1000.0, 3000.0)))
        out.append((t, op))
    return tuple(out)


def check_reconfig(reconfig: Reconfig, work: ShardWorkload) -> None:
    """Bad params unless every op names an existing group, a Move a shard in range and a
    member, a Leave a member (never the last one) and a Join a group not yet in."""
    gids = _gids(work)
    members: list[int] = []
    for i, (t, op) in enumerate(reconfig):
        where = f"bad params at $.reconfig[{i}][1]"
        if op.gid not in gids:
            raise BadParams(f"{where}: no group {op.gid} (the groups are "
                            f"{', '.join(map(str, gids))})")
        if type(op) is JoinGroup:
            if op.gid in members:
                raise BadParams(f"{where}: group {op.gid} joins twice")
            members.append(op.gid)
        elif type(op) is LeaveGroup:
            if op.gid not in members or len(members) == 1:
                raise BadParams(f"{where}: group {op.gid} cannot leave (members: "
                                f"{', '.join(map(str, members)) or 'none'})")
            members.remove(op.gid)
        elif type(op) is MoveShard:
            if not 0 <= op.shard < NSHARDS:
                raise BadParams(f"{where}: shard {op.shard} out of range [0, {NSHARDS})")
            if op.gid not in members:
                raise BadParams(f"{where}: move to group {op.gid}, which is not a member")
        if i and t < reconfig[i - 1][0]:
            raise BadParams(f"bad params at $.reconfig[{i}][0]: times must not decrease")


def _check_params(params: dict[str, Any]) -> None:
    try:
        valid = msgspec.convert(params, RandomShardKVParams)
    except msgspec.ValidationError as exc:
        what, _, where = str(exc).rpartition(" - at ")
        raise BadParams(f"bad params at {where.strip('`') or '$'}: {what or exc}") from None
    work = valid.shardkv if not isinstance(valid.shardkv, UnsetType) else ShardWorkload()
    if not isinstance(valid.reconfig, UnsetType):
        check_reconfig(valid.reconfig, work)
    if not isinstance(valid.schedule, UnsetType):
        schedule_from_params(params["schedule"], _servers(work))


def _from_params(ctx: RunContext, key: str, kind: Any) -> Any:
    try:
        return msgspec.convert(ctx.params[key], kind)
    except msgspec.ValidationError as exc:
        raise BadParams(f"bad params: {key}: {exc}") from None


@scenario("random-shardkv", "random", "random faults on a sharded KV service (groups, joins, "
          "leaves, moves, group crashes drawn from the seed): Raft and sharding invariants, "
          "linearizability, progress and GC after healing",
          params=("shardkv", "reconfig", "schedule", "net", "profile", "swarm", "hunt"),
          check_params=_check_params)
def random_shardkv(ctx: RunContext) -> Gen:
    params = ctx.params
    bias = swarm_bias(ctx)
    work = (_from_params(ctx, "shardkv", ShardWorkload) if "shardkv" in params
            else draw_workload(ctx.world.rng("profile/workload"), bias))
    reconfig = (_from_params(ctx, "reconfig", Reconfig) if "reconfig" in params
                else draw_reconfig(ctx.world.rng("profile/reconfig"), work))
    check_reconfig(reconfig, work)
    net, _, schedule = fault_setup(ctx, _servers(work), work.duration_ms, min_delay=0.5,
                                   bias=bias)
    hunt = hunt_setup(ctx, bias)
    ctx.record_drawn(shardkv=msgspec.to_builtins(work), reconfig=msgspec.to_builtins(reconfig))
    c = ShardKVCluster(ctx, work.groups, maxraftstate=work.maxraftstate, net_params=net,
                       gids=_gids(work))
    start_swarm(ctx, c.net, c.hosts, schedule, work.duration_ms, hunt)
    stop = [False]
    ctx.env.process(_reconfigure(ctx, c, reconfig, work.duration_ms))
    keys = [str(k) for k in range(work.keys)]

    def client(clerk: ShardClerk) -> Gen:
        yield from random_client(ctx, clerk, keys, work.think_ms, stop)

    clients = [ctx.env.process(client(c.make_clerk())) for _ in range(work.clients)]
    Coverage.of(ctx).attach(c.net)
    yield ctx.sleep(work.duration_ms)
    stop[0] = True
    done = simpy.AllOf(ctx.env, clients)
    yield done | ctx.sleep(20_000)
    ctx.facts["operations"] = sum(1 for e in ctx.history if e["type"] == "invoke")
    if not done.triggered:
        raise ScenarioFailure("no progress: client operations still pending 20 s after the "
                              "workload ended (everything has healed by then)", kind="liveness")
    yield from _caught_up(ctx, c)
    misplaced = c.misplaced()
    if misplaced:
        raise ScenarioFailure(f"storage bound: old copies not collected: {misplaced[0]}",
                              rule="gc-storage-bound")
    reader = c.make_clerk()
    for key in keys:
        yield from reader.get(key)
    c.end()
    c.check_linearizable()


def _reconfigure(ctx: RunContext, c: ShardKVCluster, reconfig: Reconfig, end: float) -> Gen:
    """Apply the reconfiguration schedule in order (a controller call may delay later ops)."""
    for t, op in reconfig:
        if t > ctx.now:
            yield ctx.sleep(t - ctx.now)
        gi = c.gids.index(op.gid)
        if type(op) is JoinGroup:
            yield from c.join(gi)
        elif type(op) is LeaveGroup:
            yield from c.leave(gi)
        elif type(op) is MoveShard:
            yield from c.admin.call(ctrl_clerk.move(op.shard, op.gid))
        elif type(op) is CrashGroup:
            c.shutdown_group(gi)
            ctx.env.process(_restart_later(ctx, c, gi, min(op.down_ms, max(0.0, end - ctx.now))))


def _restart_later(ctx: RunContext, c: ShardKVCluster, gi: int, after: float) -> Gen:
    yield ctx.sleep(after)
    for addr in c.groups[c.gids[gi]]:
        if not c.hosts[addr].up:
            c.hosts[addr].restart()


def _caught_up(ctx: RunContext, c: ShardKVCluster) -> Gen:
    """Every group reaches the latest configuration with nothing in flight, within 20 s."""
    for _ in range(200):
        if c.caught_up():
            return
        yield ctx.sleep(100)
    raise ScenarioFailure(f"no progress: the groups did not all reach configuration "
                          f"{c.latest().num} within 20 s after healing", kind="liveness")


