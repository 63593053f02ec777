"""The random fault setup the random suites share: everything a run does is drawn from its seed.

Each draw (fault profile, network behaviour, fault schedule, KV workload) comes from its own
stream and can be overridden through the run's params, which is how a shrunk schedule is
replayed: the trace header carries the params.
"""

from __future__ import annotations

import random
from typing import Any

import msgspec

from sim import FaultProfile, NetParams, decode_schedule, encode_schedule, random_schedule

from scenarios.runner import BadParams, RunContext

__all__ = ["draw_net", "draw_workload", "schedule_from_params", "schedule_to_params",
           "convert", "fault_setup", "Workload"]


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


def schedule_to_params(schedule: Any) -> list[Any]:
    """A schedule as JSON-ready data (the shape params and ``--dump-params`` use)."""
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
    ctx.record_drawn(profile=msgspec.to_builtins(profile), net=msgspec.to_builtins(net),
                     schedule=schedule_to_params(schedule))
    return net, profile, schedule


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
    """A client workload drawn from ``rng`` in a fixed order."""
    return Workload(clients=rng.choice((1, 2, 3, 4, 5)), keys=rng.choice((1, 2, 3, 5)),
                    duration_ms=rng.choice((5_000.0, 10_000.0)),
                    think_ms=rng.choice(((0.0, 20.0), (20.0, 100.0))),
                    maxraftstate=rng.choice((-1, -1, 300, 1000)))
