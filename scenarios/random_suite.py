"""Randomized fault scenarios for campaigns: everything a run does is drawn from its seed.

Each draw (fault profile, network behaviour, fault schedule) can be overridden through the
run's params, which is how a shrunk schedule is replayed: the trace header carries the params.
"""

from __future__ import annotations

import random
from typing import Any

import msgspec
import simpy

from sim import FaultProfile, NetParams, Nemesis, decode_schedule, encode_schedule
from sim import random_schedule

from scenarios.kv_harness import Clerk, KVCluster
from scenarios.raft_harness import RaftCluster
from scenarios.registry import scenario
from scenarios.runner import BadParams, Gen, RunContext, ScenarioFailure

__all__ = ["draw_net", "draw_workload", "schedule_from_params", "schedule_to_params",
           "fault_setup", "Workload"]



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


def schedule_from_params(data: Any, servers: tuple[str, ...]) -> Any:
    """The schedule given in params, checked against the cluster's server names."""
    try:
        schedule = decode_schedule(msgspec.json.encode(data))
    except ValueError as exc:
        raise BadParams(f"bad params: {exc}") from None
    for t, fault in schedule:
        names = [getattr(fault, f, None) for f in ("node", "src", "dst")]
        names += [n for g in getattr(fault, "groups", ()) for n in g]
        names += list(getattr(fault, "nodes", ()))
        unknown = sorted({n for n in names if n is not None and n not in servers})
        if unknown:
            raise BadParams(f"bad params: the schedule names {', '.join(unknown)} at t={t}; "
                            f"the servers are {', '.join(servers)}")
    return schedule


def convert(params: dict[str, Any], key: str, kind: type) -> Any:
    """``params[key]`` as a ``kind`` (unknown or ill-typed fields are bad params)."""
    try:
        return msgspec.convert(params[key], kind)
    except msgspec.ValidationError as exc:
        raise BadParams(f"bad params: {key}: {exc}") from None


def fault_setup(ctx: RunContext, servers: tuple[str, ...], fault_ms: float,
                min_delay: float = 0.0) -> tuple[NetParams, FaultProfile, Any]:
    """The run's network, profile and schedule: from params when given, else from the seed.

    Each comes from its own stream, so overriding one leaves the others as the seed drew them.
    Faults are drawn during ``fault_ms``; the schedule then heals and reboots everything.
    """
    params, world = ctx.params, ctx.world
    profile = (convert(params, "profile", FaultProfile) if "profile" in params
               else FaultProfile.draw(world.rng("profile/faults")))
    net = (convert(params, "net", NetParams) if "net" in params
           else draw_net(world.rng("profile/net"), min_delay))
    if "schedule" in params:
        schedule = schedule_from_params(params["schedule"], servers)
    else:
        schedule = random_schedule(world.rng("faults"), servers, fault_ms + profile.settle_ms,
                                   profile, reliable=net.reliable,
                                   long_reordering=net.long_reordering)
    ctx.facts["profile"] = {"profile": msgspec.to_builtins(profile),
                            "net": msgspec.to_builtins(net),
                            "schedule": schedule_to_params(schedule)}
    return net, profile, schedule


def _liveness(message: str) -> ScenarioFailure:
    return ScenarioFailure(message, kind="liveness")


@scenario("random-raft", "random", "random faults on 5 Raft peers for 10 s: safety invariants, "
          "then a leader and agreement once the faults stop",
          params=("schedule", "net", "profile", "duration_ms"))
def random_raft(ctx: RunContext) -> Gen:
    n = 5
    try:
        duration = float(ctx.params.get("duration_ms", 10_000))
    except (TypeError, ValueError):
        raise BadParams(f"bad params: duration_ms must be a number of milliseconds, not "
                        f"{ctx.params.get('duration_ms')!r}") from None
    addrs = tuple(f"s{i}" for i in range(n))
    net, _, schedule = fault_setup(ctx, addrs, duration / 2)
    ctx.facts["profile"]["duration_ms"] = duration
    c = RaftCluster(ctx, n, net_params=net)
    Nemesis(ctx.world, c.net, {h.addr: h for h in c.hosts}).run(schedule)
    rng = ctx.world.rng("workload")
    while ctx.now < duration:                  # a client proposing to whoever leads
        for i in range(n):
            if c.up(i) and c.get_state(i)[1]:
                c.start(i, rng.randrange(1 << 31))
                break
        yield ctx.sleep(5 + rng.randrange(45))
    try:                                       # liveness once the faults are over
        yield from c.one(rng.randrange(1 << 31), n, True)
    except ScenarioFailure as exc:
        raise _liveness(f"no progress after the faults stopped: {exc}") from None
    c.end()


class Workload(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
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
    work = (convert(params, "workload", Workload) if "workload" in params
            else draw_workload(ctx.world.rng("profile/workload")))
    addrs = tuple(f"s{i}" for i in range(work.servers))
    net, _, schedule = fault_setup(ctx, addrs, work.duration_ms, min_delay=0.5)
    ctx.facts["profile"]["workload"] = msgspec.to_builtins(work)
    c = KVCluster(ctx, work.servers, maxraftstate=work.maxraftstate, net_params=net)
    Nemesis(ctx.world, c.net, {h.addr: h for h in c.hosts}).run(schedule)
    stop = [False]

    def client(i: int, clerk: Clerk) -> Gen:
        rng = ctx.world.rng(f"workload/{clerk.name}")
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
    ctx.facts["operations"] = sum(1 for e in ctx.history if e["type"] == "invoke")
    if not done.triggered:
        raise _liveness("no progress: client operations still pending 10 s after the "
                        "workload ended (a drawn schedule has healed everything by then)")
    reader = c.make_clerk()
    for k in range(work.keys):
        yield from reader.get(f"k{k}")
    c.end()
    c.check_linearizable()
