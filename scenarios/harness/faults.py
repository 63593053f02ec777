"""The random fault setup the random suites share: everything a run does is drawn from its seed.

Each draw (fault profile, network behaviour, fault schedule, KV workload) comes from its own
stream and can be overridden through the run's params, which is how a shrunk schedule is
replayed: the trace header carries the params.

Given params are validated before the run by a schema (``RandomKVParams``, ``RandomRaftParams``:
msgspec Structs with constraints, then the checks that span fields: node names that exist, a
server in at most one partition group, ranges whose low end is not above their high end). A
bad value is ``BadParams`` naming its JSON path (``$.workload.servers``). No value can make a
run unbounded: durations are at most the scenario's time limit, gaps between faults at least
10 ms, counts and sizes bounded.
"""

from __future__ import annotations

import random
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from sim import (FaultProfile, NetParams, Schedule, decode_schedule, encode_schedule,
                 random_schedule)

from scenarios.runner import BadParams, RunContext

__all__ = ["draw_net", "draw_workload", "schedule_from_params", "schedule_to_params",
           "convert", "fault_setup", "Workload", "RandomKVParams", "RandomRaftParams",
           "validator", "MAX_DURATION_MS"]

#: The longest workload or fault phase a random run may ask for: the scenarios' time limit
#: (120 s of virtual time); a longer one could only end in a time-limit failure.
MAX_DURATION_MS = 120_000.0


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


Duration = Annotated[float, Meta(gt=0, le=MAX_DURATION_MS)]
Ms = Annotated[float, Meta(ge=0, le=MAX_DURATION_MS)]


class Workload(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the clients of a random KV run do (drawn from the seed, or given in params)."""
    servers: Annotated[int, Meta(ge=1, le=15)] = 5
    clients: Annotated[int, Meta(ge=1, le=100)] = 5
    keys: Annotated[int, Meta(ge=1, le=10_000)] = 3
    duration_ms: Duration = 10_000.0
    think_ms: tuple[Ms, Ms] = (20.0, 100.0)
    maxraftstate: Annotated[int, Meta(ge=-1, le=1_000_000_000)] = -1   # -1: no snapshots
    ops_per_client: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None
    # ^ None: until duration_ms; shrinking lowers it


class RandomRaftParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The params ``random-raft`` accepts (each optional: what is missing is drawn)."""
    schedule: Schedule | UnsetType = UNSET
    net: NetParams | UnsetType = UNSET
    profile: FaultProfile | UnsetType = UNSET
    duration_ms: Duration | UnsetType = UNSET


class RandomKVParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The params ``random`` (faults on the KV service) accepts (what is missing is drawn)."""
    schedule: Schedule | UnsetType = UNSET
    net: NetParams | UnsetType = UNSET
    profile: FaultProfile | UnsetType = UNSET
    workload: Workload | UnsetType = UNSET


def validator(schema: type[RandomKVParams] | type[RandomRaftParams],
              servers: Any) -> Any:
    """A ``check_params`` for a scenario: ``schema``, then the checks that span fields.

    ``servers`` gives the server names of a valid params object (they depend on the workload).
    """
    def check(params: dict[str, Any]) -> None:
        try:
            valid = msgspec.convert(params, schema)
        except msgspec.ValidationError as exc:
            what, _, where = str(exc).rpartition(" - at ")
            raise BadParams(f"bad params at {where.strip('`') or '$'}: {what or exc}") from None
        _check_ranges(valid)
        if not isinstance(valid.schedule, UnsetType):
            _check_names(valid.schedule, tuple(servers(valid)))
    return check


def _check_ranges(valid: RandomKVParams | RandomRaftParams) -> None:
    ranges: list[tuple[str, tuple[float, float]]] = []
    if not isinstance(valid.net, UnsetType):
        ranges += [("$.net.short_delay", valid.net.short_delay),
                   ("$.net.reorder_delay", valid.net.reorder_delay)]
    workload = getattr(valid, "workload", UNSET)
    if not isinstance(workload, UnsetType):
        ranges.append(("$.workload.think_ms", workload.think_ms))
    for where, (lo, hi) in ranges:
        if lo > hi:
            raise BadParams(f"bad params at {where}: the low end {lo:g} is above the high end "
                            f"{hi:g}")


def _check_names(schedule: Any, servers: tuple[str, ...]) -> None:
    """Every node a fault names is a server; a server is in at most one partition group."""
    for i, (t, fault) in enumerate(schedule):
        where = f"$.schedule[{i}][1]"
        names = [getattr(fault, f, None) for f in ("node", "src", "dst")]
        names += [n for g in getattr(fault, "groups", ()) for n in g]
        names += list(getattr(fault, "nodes", ()))
        names += [n for edge in getattr(fault, "edges", ()) for n in edge]
        unknown = sorted({n for n in names if n is not None and n not in servers})
        if unknown:
            raise BadParams(f"bad params at {where}: the fault names "
                            f"{', '.join(map(repr, unknown))} at t={t:g}; the servers are "
                            f"{', '.join(servers)}")
        seen: set[str] = set()
        for group in getattr(fault, "groups", ()):
            twice = sorted(seen.intersection(group))
            if twice or len(set(group)) != len(group):
                name = twice[0] if twice else next(n for n in group if group.count(n) > 1)
                raise BadParams(f"bad params at {where}.groups: server {name!r} is in more than "
                                f"one partition group")
            seen.update(group)


def draw_workload(rng: random.Random) -> Workload:
    """A client workload drawn from ``rng`` in a fixed order."""
    return Workload(clients=rng.choice((1, 2, 3, 4, 5)), keys=rng.choice((1, 2, 3, 5)),
                    duration_ms=rng.choice((5_000.0, 10_000.0)),
                    think_ms=rng.choice(((0.0, 20.0), (20.0, 100.0))),
                    maxraftstate=rng.choice((-1, -1, 300, 1000)))
