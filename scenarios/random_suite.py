"""Randomized fault scenarios for campaigns: everything a run does is drawn from its seed.

Each draw (fault profile, network behaviour, fault schedule) can be overridden through the
run's params, which is how a shrunk schedule is replayed: the trace header carries the params.
"""

from __future__ import annotations

import random
from typing import Any, Generator

import msgspec

from sim import FaultProfile, NetParams, Nemesis, decode_schedule, encode_schedule
from sim import random_schedule

from scenarios.raft_harness import RaftCluster
from scenarios.registry import scenario
from scenarios.runner import RunContext

__all__ = ["draw_net", "schedule_from_params", "schedule_to_params", "fault_setup"]

Gen = Generator[Any, Any, None]


def draw_net(rng: random.Random) -> NetParams:
    """A network behaviour drawn from ``rng`` in a fixed order."""
    reliable = rng.random() < 0.5
    drop = rng.choice((0.01, 0.05, 0.1, 0.2))
    return NetParams(
        reliable=reliable, drop_request=drop, drop_reply=drop,
        reliable_delay=rng.choice((0.0, 0.5, 2.0)),
        duplicate=rng.choice((0.0, 0.0, 0.01, 0.05)),
        reorder=rng.choice((0.0, 0.05, 0.2)), reorder_delay=(0.0, rng.choice((20.0, 200.0))),
        long_reordering=rng.random() < 0.2, long_delays=True)


def schedule_to_params(schedule: Any) -> list:
    return msgspec.json.decode(encode_schedule(schedule))


def schedule_from_params(data: list) -> Any:
    return decode_schedule(msgspec.json.encode(data))


def fault_setup(ctx: RunContext, servers: tuple[str, ...], duration_ms: float
                ) -> tuple[NetParams, FaultProfile, Any]:
    """The run's network, profile and schedule: from params when given, else from the seed."""
    params = ctx.params
    rng = ctx.world.rng("profile")
    profile = (msgspec.convert(params["profile"], FaultProfile) if "profile" in params
               else FaultProfile.draw(rng))
    net = msgspec.convert(params["net"], NetParams) if "net" in params else draw_net(rng)
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
          "then a leader and agreement once the faults stop")
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
