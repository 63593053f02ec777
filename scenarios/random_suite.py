"""Randomized fault scenarios for campaigns: everything a run does is drawn from its seed.

Each draw (fault profile, network behaviour, fault schedule) can be overridden through the
run's params, which is how a shrunk schedule is replayed: the trace header carries the params.
"""

from __future__ import annotations

import random
from typing import Any, Generator

import msgspec
import simpy

from sim import FaultProfile, NetParams, Nemesis, decode_schedule, encode_schedule
from sim import random_schedule

from scenarios.kv_harness import Clerk, KVCluster
from scenarios.raft_harness import RaftCluster
from scenarios.registry import scenario
from scenarios.runner import RunContext, ScenarioFailure

__all__ = ["draw_net", "draw_workload", "schedule_from_params", "schedule_to_params",
           "fault_setup", "Workload"]

Gen = Generator[Any, Any, None]


def draw_net(rng: random.Random, min_delay: float = 0.0) -> NetParams:
    """A network behaviour drawn from ``rng`` in a fixed order."""
    reliable = rng.random() < 0.5
    drop = rng.choice((0.01, 0.05, 0.1, 0.2))
    return NetParams(
        reliable=reliable, drop_request=drop, drop_reply=drop,
        reliable_delay=max(min_delay, rng.choice((0.0, 0.5, 2.0))),
        duplicate=rng.choice((0.0, 0.0, 0.01, 0.05)),
        reorder=rng.choice((0.0, 0.05, 0.2)), reorder_delay=(0.0, rng.choice((20.0, 200.0))),
        long_reordering=rng.random() < 0.2, long_delays=True)


def schedule_to_params(schedule: Any) -> list:
    return msgspec.json.decode(encode_schedule(schedule))


def schedule_from_params(data: list) -> Any:
    return decode_schedule(msgspec.json.encode(data))


def fault_setup(ctx: RunContext, servers: tuple[str, ...], duration_ms: float,
                min_delay: float = 0.0) -> tuple[NetParams, FaultProfile, Any]:
    """The run's network, profile and schedule: from params when given, else from the seed."""
    params = ctx.params
    rng = ctx.world.rng("profile")
    profile = (msgspec.convert(params["profile"], FaultProfile) if "profile" in params
               else FaultProfile.draw(rng))
    net = (msgspec.convert(params["net"], NetParams) if "net" in params
           else draw_net(rng, min_delay))
    if "schedule" in params:
        schedule = schedule_from_params(params["schedule"])
    else:
        schedule = random_schedule(ctx.world.rng("faults"), servers, duration_ms, profile,
                                   reliable=net.reliable)
    ctx.facts["profile"] = {"profile": msgspec.to_builtins(profile),
                            "net": msgspec.to_builtins(net),
                            "schedule": schedule_to_params(schedule)}
    return net, profile, schedule


@scenario("random-raft", "random", "random faults on 5 Raft peers for 10 s: safety invariants, "
          "then a leader and agreement once the faults stop",
          params=("schedule", "net", "profile", "duration_ms"))
def random_raft(ctx: RunContext) -> Gen:
    n = 5
    duration = float(ctx.params.get("duration_ms", 10_000))
    addrs = tuple(f"s{i}" for i in range(n))
    net, _, schedule = fault_setup(ctx, addrs, duration)
    c = RaftCluster(ctx, n, net_params=net)
    Nemesis(ctx.world, c.net, {h.addr: h for h in c.hosts}).run(schedule)
    rng = ctx.world.rng("workload")
    while ctx.now < duration:                  # a client proposing to whoever leads
        for i in range(n):
            if c.up(i) and c.get_state(i)[1]:
                c.start(i, rng.randrange(1 << 31))
                break
        yield ctx.sleep(5 + rng.randrange(45))
    yield from c.one(rng.randrange(1 << 31), n, True)   # liveness once the faults are over
    c.end()


class Workload(msgspec.Struct, frozen=True, kw_only=True):
    """What the clients of a random KV run do (drawn from the seed, or given in params)."""
    servers: int = 5
    clients: int = 5
    keys: int = 3
    duration_ms: float = 10_000.0
    think_ms: tuple[float, float] = (20.0, 100.0)
    maxraftstate: int = -1
    ops_per_client: int | None = None        # None: until duration_ms; shrinking lowers it


def draw_workload(rng: random.Random) -> Workload:
    return Workload(clients=rng.choice((1, 2, 3, 4, 5)), keys=rng.choice((1, 2, 3, 5)),
                    duration_ms=rng.choice((5_000.0, 10_000.0)),
                    think_ms=rng.choice(((0.0, 20.0), (20.0, 100.0))),
                    maxraftstate=rng.choice((-1, -1, 300, 1000)))


@scenario("random", "random", "random faults on a KV service (workload, network, faults drawn "
          "from the seed): Raft invariants, linearizability, progress after healing",
          params=("schedule", "net", "profile", "workload"))
def random_kv(ctx: RunContext) -> Gen:
    params = ctx.params
    work = (msgspec.convert(params["workload"], Workload) if "workload" in params
            else draw_workload(ctx.world.rng("profile")))
    addrs = tuple(f"s{i}" for i in range(work.servers))
    net, _, schedule = fault_setup(ctx, addrs, work.duration_ms, min_delay=0.5)
    ctx.facts["profile"]["workload"] = msgspec.to_builtins(work)
    c = KVCluster(ctx, work.servers, maxraftstate=work.maxraftstate, net_params=net)
    Nemesis(ctx.world, c.net, {h.addr: h for h in c.hosts}).run(schedule)
    stop = [False]

    def client(i: int, clerk: Clerk) -> Gen:
        rng = ctx.world.rng(f"client/{clerk.name}")
        n = 0
        while not stop[0] and (work.ops_per_client is None or n < work.ops_per_client):
            key = f"k{rng.randrange(work.keys)}"
            roll = rng.random()
            if roll < 0.4:
                yield from clerk.get(key)
            elif roll < 0.5:
                yield from clerk.put(key, f"{clerk.name}.{n} ")
            else:
                yield from clerk.append(key, f"{clerk.name}.{n} ")
            n += 1
            lo, hi = work.think_ms
            yield ctx.sleep(lo + (hi - lo) * rng.random())

    clients = c.spawn_clients(work.clients, client)
    yield ctx.sleep(work.duration_ms)
    stop[0] = True
    # The schedule healed everything at its end: every client must now finish its operation.
    done = simpy.AllOf(ctx.env, clients)
    yield done | ctx.sleep(10_000)
    if not done.triggered:
        failure = ScenarioFailure("no progress: client operations still pending 10 s after "
                                  "the faults stopped")
        failure.kind = "liveness"
        raise failure
    reader = c.make_clerk()
    for k in range(work.keys):
        yield from reader.get(f"k{k}")
    c.end()
    c.check_linearizable()
