"""The random fault setup the random suites share: everything a run does is drawn from its seed.

Each draw (fault profile, network behaviour, fault schedule, KV workload) comes from its own
stream and can be overridden through the run's params, which is how a shrunk schedule is
replayed: the trace header carries the params.

Swarm testing (as TigerBeetle's VOPR and Hypothesis's swarm testing do): each seed first draws
a *bias* (``uniform`` or one family of situations, ``BIASES``), then enables a random subset of
the fault kinds and draws their rates over wide ranges, extremes included: faults every 20 ms,
every crash inside a step, duplication of most messages, a few messages held back for seconds
(stale replies much later), leaders isolated right after their election (``Hunt``). The
network's chaos lasts for the fault phase: when the schedule ends, ``calm_at`` turns
duplication, reordering and loss off (partitions are healed by the schedule itself).

Given params are validated before the run by a schema (``RandomKVParams``, ``RandomRaftParams``:
msgspec Structs with constraints, then the checks that span fields: node names that exist, a
server in at most one partition group, ranges whose low end is not above their high end). A
bad value is ``BadParams`` naming its JSON path (``$.workload.servers``). No value can make a
run unbounded: durations are at most the scenario's time limit, gaps between faults at least
10 ms, counts and sizes bounded.
"""

from __future__ import annotations

import random
from typing import Annotated, Any, Iterable, Literal, Mapping

import msgspec
from msgspec import UNSET, Meta, UnsetType

from protocols.raft import LEADER
from sim import (Connect, Cut, Disconnect, FaultProfile, Heal, Links, Nemesis, NetParams,
                 Partition, Schedule, Uncut, decode_schedule, encode_schedule, random_schedule)

from scenarios.harness.coverage import raft_of
from scenarios.runner import BadParams, RunContext

__all__ = ["draw_net", "draw_workload", "draw_profile", "draw_swarm_net", "draw_hunt",
           "draw_bias", "swarm_bias", "Swarm", "Hunt", "BIASES", "RaftWorkload",
           "draw_raft_workload", "start_swarm", "schedule_from_params", "schedule_to_params",
           "convert", "fault_setup", "Workload", "RandomKVParams", "RandomRaftParams",
           "validator", "MAX_DURATION_MS"]

#: The longest workload or fault phase a random run may ask for: the scenarios' time limit
#: (120 s of virtual time); a longer one could only end in a time-limit failure.
MAX_DURATION_MS = 120_000.0

Duration = Annotated[float, Meta(gt=0, le=MAX_DURATION_MS)]
Ms = Annotated[float, Meta(ge=0, le=MAX_DURATION_MS)]


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
                min_delay: float = 0.0, bias: str | None = None
                ) -> tuple[NetParams, FaultProfile, Any]:
    """The run's network, profile and schedule: from params when given, else from the seed.

    Each comes from its own stream, so overriding one leaves the others as the seed drew them.
    Faults are drawn during ``fault_ms``; the schedule then heals and reboots everything.
    ``bias`` is the run's swarm bias (``swarm_bias``; drawn here when None).
    """
    params, world = ctx.params, ctx.world
    bias = swarm_bias(ctx) if bias is None else bias
    profile = (convert(params, "profile", FaultProfile) if "profile" in params
               else draw_profile(world.rng("profile/faults"), bias))
    net = (convert(params, "net", NetParams) if "net" in params
           else draw_swarm_net(world.rng("profile/net"), min_delay, bias))
    if "schedule" in params:
        schedule = schedule_from_params(params["schedule"], servers)
    else:
        schedule = random_schedule(world.rng("faults"), servers, fault_ms + profile.settle_ms,
                                   profile, reliable=net.reliable,
                                   long_reordering=net.long_reordering)
    ctx.record_drawn(profile=msgspec.to_builtins(profile), net=msgspec.to_builtins(net),
                     schedule=schedule_to_params(schedule))
    return net, profile, schedule


# ---------------------------------------------------------------- swarm: what a seed enables

#: The families of situations a seed may lean toward. ``uniform`` leans toward none; the
#: others force the knobs of their family on (after every draw, so the draw order is fixed):
#: ``crashes`` frequent crashes and reboots; ``mid-step`` every crash inside a step;
#: ``partitions`` the partition shapes; ``leader`` leaders isolated right after election;
#: ``network`` heavy duplication and reordering; ``snapshots`` frequent snapshots;
#: ``bursts`` bursts of proposals while followers are cut off.
BIASES = ("uniform", "crashes", "mid-step", "partitions", "leader", "network", "snapshots",
          "bursts")
Bias = Literal["uniform", "crashes", "mid-step", "partitions", "leader", "network",
               "snapshots", "bursts"]
Probability = Annotated[float, Meta(ge=0, le=1)]

_KINDS = ("crash", "reboot", "disconnect", "connect", "isolate", "halves", "majority_minority",
          "bridge", "majorities_ring", "random", "cut", "heal", "flip_reliable",
          "flip_long_reordering")
_SHAPES = ("isolate", "halves", "majority_minority", "bridge", "majorities_ring", "random")


class Swarm(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The run's swarm bias (drawn from the seed, or given: a guided campaign gives it)."""
    bias: Bias = "uniform"


class Hunt(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Leaders isolated right after their election: with probability ``p`` per election
    (during the fault phase), the links between the new leader and its peers are cut
    ``after_ms`` later if it still leads in that term, and those links restored ``hold_ms``
    after that (each cut and restore a traced ``Cut`` / ``Uncut`` fault)."""
    p: Probability = 0.0
    after_ms: Ms = 0.0
    hold_ms: Ms = 1000.0


class RaftWorkload(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the proposer of ``random-raft`` does: one command per gap, or with probability
    ``burst_p`` a burst of up to ``burst_max``; a snapshot every ``snapshot_interval`` applied
    entries on every peer (0: none)."""
    snapshot_interval: Annotated[int, Meta(ge=0, le=100_000)] = 0
    gap_ms: tuple[Ms, Ms] = (5.0, 50.0)
    burst_p: Probability = 0.0
    burst_max: Annotated[int, Meta(ge=1, le=2_000)] = 1


def draw_bias(rng: random.Random) -> str:
    """Half the seeds lean toward nothing; the others toward one family, evenly."""
    return "uniform" if rng.random() < 0.5 else rng.choice(BIASES[1:])


def swarm_bias(ctx: RunContext) -> str:
    """The run's bias: ``params["swarm"]`` if given, else drawn (stream ``profile/swarm``);
    recorded in the drawn params either way."""
    if "swarm" in ctx.params:
        bias = convert(ctx.params, "swarm", Swarm).bias
    else:
        bias = draw_bias(ctx.world.rng("profile/swarm"))
    ctx.record_drawn(swarm={"bias": bias})
    return bias


def draw_profile(rng: random.Random, bias: str = "uniform") -> FaultProfile:
    """A swarm fault profile: each kind on or off (a fair coin), an enabled kind's weight from
    0.25 to 4, faults every 20 ms to 3 s, crashes inside a step from never to always."""
    on = [rng.random() < 0.5 for _ in _KINDS]
    level = [rng.choice((0.25, 0.5, 1.0, 2.0, 4.0)) for _ in _KINDS]
    w = {k: (lv if o else 0.0) for k, o, lv in zip(_KINDS, on, level)}
    gap = rng.choice((20.0, 50.0, 150.0, 400.0, 1000.0, 3000.0))
    mid_step = rng.choice((0.0, 0.0, 0.25, 0.75, 1.0))
    max_after = rng.choice((1, 2, 4, 8))
    random_p = rng.choice((0.2, 0.5, 0.8))
    if bias in ("crashes", "mid-step"):
        w["crash"], w["reboot"] = max(w["crash"], 2.0), max(w["reboot"], 2.0)
        gap = min(gap, 150.0)
        if bias == "mid-step":
            mid_step = 1.0
    elif bias == "partitions":
        for k in _SHAPES + ("cut",):
            w[k] = max(w[k], 1.0)
    elif bias == "bursts":
        w["disconnect"], w["connect"] = max(w["disconnect"], 2.0), max(w["connect"], 1.0)
        gap = max(gap, 400.0)
    if sum(w[k] for k in ("crash", "disconnect", "cut") + _SHAPES) == 0:
        w["crash"] = 1.0                     # something must happen
    w["reboot"] = max(w["reboot"], w["crash"] / 2)
    w["connect"] = max(w["connect"], w["disconnect"] / 2)
    w["heal"] = max(w["heal"], 0.25)
    w["flip_reliable"] /= 2
    w["flip_long_reordering"] /= 4
    return FaultProfile(mean_gap_ms=gap, mid_step=mid_step, max_mid_step_after=max_after,
                        random_p=random_p, **w)  # type: ignore[arg-type]  # the float fields


def draw_swarm_net(rng: random.Random, min_delay: float = 0.0,
                   bias: str = "uniform") -> NetParams:
    """A swarm network for the fault phase: loss up to 30%, duplication up to 60%, and either
    frequent short reordering or rare long holds (a stale reply seconds later)."""
    reliable = rng.random() < 0.4
    drop = rng.choice((0.0, 0.01, 0.05, 0.1, 0.3))
    duplicate = rng.choice((0.0, 0.0, 0.01, 0.1, 0.3, 0.6))
    reorder, hold = rng.choice(((0.0, 100.0), (0.0, 100.0), (0.05, 100.0), (0.3, 50.0),
                                (0.8, 20.0), (0.05, 2000.0), (0.02, 5000.0)))
    long_reordering = rng.random() < 0.25
    delay = max(min_delay, rng.choice((0.0, 0.5, 2.0, 5.0)))
    replies = rng.random() < 0.25
    if bias == "network":
        duplicate = max(duplicate, 0.3)
        if reorder == 0.0:
            reorder, hold = 0.3, 50.0
        long_reordering = True
    return NetParams(reliable=reliable, drop_request=drop, drop_reply=drop,
                     reliable_delay=delay, short_delay_replies=replies, duplicate=duplicate,
                     reorder=reorder, reorder_delay=(0.0, hold),
                     long_reordering=long_reordering, long_delays=True)


def draw_hunt(rng: random.Random, bias: str = "uniform") -> Hunt:
    p = rng.choice((0.0, 0.0, 0.0, 0.3, 1.0))
    after = rng.choice((0.0, 5.0, 50.0, 200.0))
    hold = rng.choice((100.0, 500.0, 2000.0))
    if bias == "leader":
        p = max(p, 0.7)
    return Hunt(p=p, after_ms=after, hold_ms=hold)


def hunt_setup(ctx: RunContext, bias: str) -> Hunt:
    """The run's leader hunt: ``params["hunt"]`` if given, else drawn (``profile/hunt``)."""
    hunt = (convert(ctx.params, "hunt", Hunt) if "hunt" in ctx.params
            else draw_hunt(ctx.world.rng("profile/hunt"), bias))
    ctx.record_drawn(hunt=msgspec.to_builtins(hunt))
    return hunt


def draw_raft_workload(rng: random.Random, bias: str = "uniform") -> RaftWorkload:
    """Snapshots on two seeds in five (every 10 to 100 entries), bursts on two in five. The
    peers snapshot as the lab's 3D tester does (every command so far), so the cost of a
    snapshot grows with the log: bursts and frequent snapshots are kept apart."""
    interval = rng.choice((0, 0, 0, 10, 30, 100))
    gap = rng.choice(((5.0, 50.0), (5.0, 50.0), (20.0, 100.0)))
    burst_p = rng.choice((0.0, 0.0, 0.0, 0.02, 0.05))
    burst_max = rng.choice((20, 100, 200))
    if bias == "snapshots":
        interval, burst_p = (min(interval, 10) or 10), min(burst_p, 0.02)
    elif bias == "bursts":
        burst_p, burst_max = max(burst_p, 0.05), 200
    if burst_p and interval:
        interval = max(interval, 30 if burst_p < 0.05 else 100)
    return RaftWorkload(snapshot_interval=interval, gap_ms=gap, burst_p=burst_p,
                        burst_max=burst_max)


def start_swarm(ctx: RunContext, net: Any, hosts: Mapping[str, Any], schedule: Any,
                fault_ms: float, hunt: Hunt) -> Any:
    """Inject ``schedule``; calm the network once it is over (no loss, duplication or
    reordering from then on: the end of the schedule, or ``fault_ms``, whichever is later);
    hunt new leaders until then. Returns the ``Nemesis``."""
    nemesis = Nemesis(ctx.world, net, hosts)
    nemesis.run(schedule)
    calm = max([float(fault_ms)] + [float(t) for t, _ in schedule])
    hunter = _Hunter(ctx, nemesis, hunt, calm)
    if hunt.p > 0:
        hunter.install(hosts.values())
    ctx.world.call_at(calm, _calm, net, hunter)
    return nemesis


def _calm(net: Any, hunter: "_Hunter") -> None:
    """The fault phase is over: the hunt's cuts are restored, the network is healthy."""
    hunter.finish()
    net.set_params(msgspec.structs.replace(net.params, reliable=True, duplicate=0.0,
                                           reorder=0.0, long_reordering=False))


#: Faults that change the links (a hunt does not undo what came after it).
_TOPOLOGY = (Disconnect, Connect, Partition, Links, Heal, Cut, Uncut)


class _Hunter:
    """Isolates leaders right after their election (``Hunt``), through the nemesis, so each
    isolation is a traced fault."""

    def __init__(self, ctx: RunContext, nemesis: Any, hunt: Hunt, until: float) -> None:
        self.world, self.nemesis, self.hunt, self.until = ctx.world, nemesis, hunt, until
        self.rng = ctx.world.rng("hunt")
        self.cuts: list[tuple[list[tuple[str, str]], int]] = []

    def install(self, hosts: Iterable[Any]) -> None:
        for host in hosts:
            host.on_role = _chain(host.on_role, self.elected)

    def elected(self, host: Any, effect: Any) -> None:
        if effect.role != "leader" or self.world.now >= self.until:
            return
        if self.rng.random() < self.hunt.p:
            self.world.call_later(self.hunt.after_ms, self.strike, host, effect.term,
                                  host.incarnation)

    def strike(self, host: Any, term: int, incarnation: int) -> None:
        if not host.up or host.incarnation != incarnation or self.world.now >= self.until:
            return
        state = raft_of(host.state)
        if state.role != LEADER or state.hard.term != term:
            return
        # Cut the links the leader has to its peers now, and later restore those only, and
        # only if the schedule has not changed the links meanwhile (its topology then stands).
        me, net = host.addr, self.nemesis.network
        links = [(a, b) for peer in state.config.peers if peer != me
                 for a, b in ((me, peer), (peer, me)) if net.has_link(a, b)]
        for a, b in links:
            self.nemesis.inject(Cut(a, b))
        cut = (links, len(self.nemesis.injected))
        self.cuts.append(cut)
        self.world.call_later(self.hunt.hold_ms, self.restore, cut)

    def restore(self, cut: tuple[list[tuple[str, str]], int]) -> None:
        if cut not in self.cuts:                    # restored already (the phase ended)
            return
        self.cuts.remove(cut)
        links, mark = cut
        if any(type(f) in _TOPOLOGY for _, f in self.nemesis.injected[mark:]):
            return
        for a, b in links:
            self.nemesis.inject(Uncut(a, b))

    def finish(self) -> None:
        """The end of the fault phase: restore every cut still held, now."""
        for cut in list(self.cuts):
            self.restore(cut)


def _chain(first: Any, then: Any) -> Any:
    if first is None:
        return then

    def both(host: Any, effect: Any) -> None:
        first(host, effect)
        then(host, effect)
    return both




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
    swarm: Swarm | UnsetType = UNSET
    hunt: Hunt | UnsetType = UNSET
    workload: RaftWorkload | UnsetType = UNSET


class RandomKVParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The params ``random`` (faults on the KV service) accepts (what is missing is drawn)."""
    schedule: Schedule | UnsetType = UNSET
    net: NetParams | UnsetType = UNSET
    profile: FaultProfile | UnsetType = UNSET
    workload: Workload | UnsetType = UNSET
    swarm: Swarm | UnsetType = UNSET
    hunt: Hunt | UnsetType = UNSET


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
    if isinstance(workload, Workload):
        ranges.append(("$.workload.think_ms", workload.think_ms))
    elif isinstance(workload, RaftWorkload):
        ranges.append(("$.workload.gap_ms", workload.gap_ms))
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


def draw_workload(rng: random.Random, bias: str = "uniform") -> Workload:
    """A client workload drawn from ``rng`` in a fixed order (then bent by ``bias``)."""
    clients = rng.choice((1, 2, 3, 4, 5, 8))
    keys = rng.choice((1, 2, 3, 5, 10))
    duration = rng.choice((5_000.0, 10_000.0))
    think = rng.choice(((0.0, 5.0), (0.0, 20.0), (20.0, 100.0)))
    maxraftstate = rng.choice((-1, -1, 200, 300, 1000, 5000))
    if bias == "snapshots":
        maxraftstate = 200 if maxraftstate == -1 else min(maxraftstate, 300)
    elif bias == "bursts":
        clients, think = max(clients, 5), (0.0, 5.0)
    # Many busy clients on one key make histories the checker's budget cannot settle
    if clients >= 5:
        keys = max(keys, 2 if clients == 5 else 5)
    return Workload(clients=clients, keys=keys, duration_ms=duration, think_ms=think,
                    maxraftstate=maxraftstate)
