"""The nemesis: faults as data, schedules of faults, and their injection into a run.

A fault is a msgspec frozen Struct (tagged by class name in JSON). A schedule is a tuple of
``(time_ms, fault)`` entries at absolute virtual times; entries with equal times are injected in
schedule order. Schedules encode to JSON (``[[t, {"type": "Crash", ...}], ...]``) and decode
back, so a failing schedule can be printed, replayed and shrunk.

``random_schedule`` draws a schedule from the ``faults`` stream and a ``FaultProfile`` (which is
itself drawable from a stream). It never leaves the cluster broken: at ``duration - settle_ms``
it heals the network, reboots every crashed server and restores the network knobs it flipped,
so liveness can be checked at the end of the run.
"""

from __future__ import annotations

import random
from random import Random
from typing import Annotated, Iterable, Mapping, Sequence, Union

import msgspec

from sim.host import Host
from sim.network import (
    Network, bridge, halves, isolate, majorities_ring, majority_minority, random_edges,
)
from sim.trace import Trace
from sim.world import World

__all__ = [
    "Fault", "Crash", "Reboot", "Disconnect", "Connect", "Partition", "Links", "Heal", "Cut",
    "Uncut", "SetReliable", "SetLongReordering", "SetLongDelays", "AnyFault", "Schedule",
    "Nemesis", "FaultProfile", "random_schedule", "encode_schedule", "decode_schedule",
]


#: Validation of faults and profiles read from JSON (params files, trace headers): finite,
#: non-negative times (at most a day), probabilities in [0, 1]. Constructors do not check them.
Ms = Annotated[float, msgspec.Meta(ge=0, le=86_400_000)]
Probability = Annotated[float, msgspec.Meta(ge=0, le=1)]
Weight = Annotated[float, msgspec.Meta(ge=0, le=1_000_000)]
Count = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]


class Fault(msgspec.Struct, frozen=True, tag=True, forbid_unknown_fields=True):
    """Base of every fault."""


class Crash(Fault, frozen=True):
    """Crash ``node`` now, or during its next step after ``mid_step_after`` effects."""
    node: str
    mid_step_after: Count | None = None


class Reboot(Fault, frozen=True):
    """Boot ``node`` from its disk (crashing it first if it is up)."""
    node: str


class Disconnect(Fault, frozen=True):
    """Cut every link between ``node`` and the other servers (Raft tester's disconnect)."""
    node: str


class Connect(Fault, frozen=True):
    """Relink ``node`` with every connected server (Raft tester's connect)."""
    node: str


class Partition(Fault, frozen=True):
    """Link servers within each group, cut links across groups; clients are untouched."""
    groups: tuple[tuple[str, ...], ...]


class Links(Fault, frozen=True):
    """Among ``nodes``, keep exactly the directed ``edges`` (a non-component ``shape``)."""
    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    shape: str = ""


class Heal(Fault, frozen=True):
    """Link everyone to everyone; everyone counts as connected again."""


class Cut(Fault, frozen=True):
    """Cut the one-way link ``src -> dst``."""
    src: str
    dst: str


class Uncut(Fault, frozen=True):
    """Restore the one-way link ``src -> dst``."""
    src: str
    dst: str


class SetReliable(Fault, frozen=True):
    """Switch the network between reliable and unreliable (labrpc's Reliable)."""
    reliable: bool


class SetLongReordering(Fault, frozen=True):
    """Switch labrpc's long reordering of replies."""
    on: bool


class SetLongDelays(Fault, frozen=True):
    """Switch labrpc's long failure delays for undeliverable messages."""
    on: bool


AnyFault = Union[Crash, Reboot, Disconnect, Connect, Partition, Links, Heal, Cut, Uncut,
                 SetReliable, SetLongReordering, SetLongDelays]
Schedule = tuple[tuple[Ms, AnyFault], ...]


def encode_schedule(schedule: Iterable[tuple[float, Fault]]) -> bytes:
    """JSON: ``[[t, {"type": ..., ...}], ...]``."""
    return msgspec.json.encode([[float(t), f] for t, f in schedule])


def decode_schedule(data: bytes | str) -> Schedule:
    """Inverse of ``encode_schedule``; raises ``ValueError`` on malformed input."""
    try:
        return msgspec.json.decode(data, type=Schedule)
    except msgspec.DecodeError as exc:
        raise ValueError(f"bad fault schedule: {exc}") from None


class Nemesis:
    """Injects faults into a run, tracing each one as a ``fault`` record."""

    def __init__(self, world: World, network: Network, hosts: Mapping[str, Host],
                 trace: Trace | None = None) -> None:
        self.world = world
        self.network = network
        self.hosts = hosts
        self.trace = trace if trace is not None else network.trace
        self.injected: list[tuple[float, Fault]] = []
        self._inject = {
            Crash: self._crash, Reboot: lambda f: self.hosts[f.node].restart(),
            Disconnect: lambda f: network.disconnect(f.node),
            Connect: lambda f: network.connect(f.node),
            Partition: lambda f: network.partition(f.groups),
            Links: lambda f: network.set_links(f.nodes, f.edges),
            Heal: lambda f: network.heal(),
            Cut: lambda f: network.cut(f.src, f.dst),
            Uncut: lambda f: network.uncut(f.src, f.dst),
            SetReliable: lambda f: self._params(reliable=f.reliable),
            SetLongReordering: lambda f: self._params(long_reordering=f.on),
            SetLongDelays: lambda f: self._params(long_delays=f.on),
        }

    def run(self, schedule: Iterable[tuple[float, Fault]]) -> None:
        """Schedule every entry at its absolute time (which must not be in the past)."""
        for t, fault in schedule:
            if type(fault) not in self._inject:
                raise TypeError(f"not a fault: {fault!r}")
            self.world.call_at(t, self.inject, fault)

    def inject(self, fault: Fault) -> None:
        """Apply ``fault`` now."""
        now = self.world.now
        self.trace.add((now, "fault", fault))
        self.injected.append((now, fault))
        self._inject[type(fault)](fault)

    def _crash(self, fault: Crash) -> None:
        self.hosts[fault.node].crash(mid_step_after=fault.mid_step_after)

    def _params(self, **change: bool) -> None:
        self.network.set_params(msgspec.structs.replace(self.network.params, **change))


# ---------------------------------------------------------------- random schedules

_KINDS = ("crash", "reboot", "disconnect", "connect", "isolate", "halves", "majority_minority",
          "bridge", "majorities_ring", "random", "cut", "heal", "flip_reliable",
          "flip_long_reordering")


class FaultProfile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How a random schedule looks: relative weights of fault kinds and their pacing."""

    mean_gap_ms: Annotated[float, msgspec.Meta(ge=10, le=86_400_000)] = 1000.0
    # ^ mean time between faults (exponential gaps); at least 10 ms: at most ~12,000 faults in
    #   the 120 s a random run may last
    start_ms: Ms = 0.0              # no fault before this time
    settle_ms: Ms = 5000.0          # fault-free tail after the final heal and reboots
    crash: Weight = 1.0
    reboot: Weight = 1.0
    disconnect: Weight = 0.5
    connect: Weight = 0.5
    isolate: Weight = 0.5
    halves: Weight = 0.5
    majority_minority: Weight = 0.5
    bridge: Weight = 0.25
    majorities_ring: Weight = 0.25
    random: Weight = 0.25
    cut: Weight = 0.25
    heal: Weight = 1.0
    flip_reliable: Weight = 0.0
    flip_long_reordering: Weight = 0.0
    mid_step: Probability = 0.25    # probability that a crash lands inside a step
    max_mid_step_after: Count = 4
    random_p: Probability = 0.5     # link probability of the ``random`` shape
    max_down: Count | None = None   # most servers crashed at once; None: a minority

    def weights(self) -> list[float]:
        return [float(getattr(self, k)) for k in _KINDS]

    @classmethod
    def draw(cls, rng: Random) -> "FaultProfile":
        """A random profile; every draw comes from ``rng`` in a fixed order."""
        w = {k: rng.choice((0.0, 0.0, 0.5, 1.0, 2.0)) for k in _KINDS}
        if w["crash"] + w["isolate"] + w["halves"] + w["majority_minority"] == 0:
            w["crash"] = 1.0
        w["reboot"] = max(w["reboot"], w["crash"] / 2)
        w["heal"] = max(w["heal"], 0.5)
        w["flip_reliable"] /= 2
        w["flip_long_reordering"] /= 4
        return cls(mean_gap_ms=rng.choice((100.0, 300.0, 1000.0, 3000.0)),
                   mid_step=rng.choice((0.0, 0.25, 0.5)),
                   random_p=rng.choice((0.3, 0.5, 0.7)),
                   **w)  # type: ignore[arg-type]  # w holds exactly the float fields of _KINDS


class _Draw:
    """The generator's view of the cluster while drawing a schedule."""

    def __init__(self, rng: random.Random, servers: Sequence[str], profile: FaultProfile,
                 reliable: bool, long_reordering: bool = False) -> None:
        self.rng, self.servers, self.profile = rng, list(servers), profile
        self.down: list[str] = []
        self.disconnected: list[str] = []
        self.reliable = self.start_reliable = reliable
        self.long_reordering = self.start_long_reordering = long_reordering
        n = len(servers)
        self.max_down = (n - 1) // 2 if profile.max_down is None else profile.max_down

    def shuffled(self) -> list[str]:
        order = list(self.servers)
        self.rng.shuffle(order)
        return order

    def fault(self, kind: str) -> AnyFault | None:
        """A fault of ``kind`` that makes sense now, or None."""
        return getattr(self, "_" + kind)()

    def _crash(self) -> Fault | None:
        up = [s for s in self.servers if s not in self.down]
        if not up or len(self.down) >= self.max_down:
            return None
        node = self.rng.choice(up)
        self.down.append(node)
        k = None
        if self.rng.random() < self.profile.mid_step:
            k = self.rng.randrange(self.profile.max_mid_step_after + 1)
        return Crash(node, k)

    def _reboot(self) -> Fault | None:
        if not self.down:
            return None
        return Reboot(self.down.pop(self.rng.randrange(len(self.down))))

    def _disconnect(self) -> Fault | None:
        linked = [s for s in self.servers if s not in self.disconnected]
        if not linked:
            return None
        node = self.rng.choice(linked)
        self.disconnected.append(node)
        return Disconnect(node)

    def _connect(self) -> Fault | None:
        if not self.disconnected:
            return None
        return Connect(self.disconnected.pop(self.rng.randrange(len(self.disconnected))))

    def _groups(self, groups: list[list[str]]) -> Fault:
        return Partition(tuple(tuple(g) for g in groups))

    def _isolate(self) -> Fault:
        order = self.shuffled()
        return self._groups(isolate(order, order[0]))

    def _halves(self) -> Fault:
        return self._groups(halves(self.shuffled()))

    def _majority_minority(self) -> Fault:
        return self._groups(majority_minority(self.shuffled()))

    def _links(self, shape: str, edges: list[tuple[str, str]], order: list[str]) -> Fault:
        return Links(tuple(order), tuple(edges), shape)

    def _bridge(self) -> Fault | None:
        order = self.shuffled()
        return self._links("bridge", bridge(order), order) if len(order) >= 3 else None

    def _majorities_ring(self) -> Fault | None:
        order = self.shuffled()
        return (self._links("majorities_ring", majorities_ring(order), order)
                if len(order) >= 4 else None)

    def _random(self) -> Fault:
        order = self.shuffled()
        return self._links("random", random_edges(order, self.profile.random_p, self.rng), order)

    def _cut(self) -> Fault | None:
        if len(self.servers) < 2:
            return None
        src, dst = self.rng.sample(self.servers, 2)
        return Cut(src, dst)

    def _heal(self) -> Fault:
        self.disconnected.clear()
        return Heal()

    def _flip_reliable(self) -> Fault:
        self.reliable = not self.reliable
        return SetReliable(self.reliable)

    def _flip_long_reordering(self) -> Fault:
        self.long_reordering = not self.long_reordering
        return SetLongReordering(self.long_reordering)

    def finale(self) -> list[AnyFault]:
        """Heal, reboot every crashed server, restore the flipped knobs."""
        out: list[AnyFault] = [Heal()]
        out += [Reboot(node) for node in self.down]
        if self.reliable != self.start_reliable:
            out.append(SetReliable(self.start_reliable))
        if self.long_reordering != self.start_long_reordering:
            out.append(SetLongReordering(self.start_long_reordering))
        return out


def _pick(rng: random.Random, weights: list[float]) -> str | None:
    total = sum(weights)
    if total <= 0:
        return None
    r = rng.random() * total
    for kind, w in zip(_KINDS, weights):
        r -= w
        if r < 0:
            return kind
    return _KINDS[-1]


def random_schedule(rng: random.Random, servers: Sequence[str], duration_ms: float,
                    profile: FaultProfile | None = None, reliable: bool = True,
                    long_reordering: bool = False) -> Schedule:
    """Draw a schedule of faults over ``servers`` for a run of ``duration_ms``.

    Faults come at exponential gaps from ``start_ms`` until ``duration_ms - settle_ms``; then
    the finale (heal, reboot all, restore knobs). ``reliable`` and ``long_reordering`` are the
    network's initial settings, which the finale restores.
    """
    profile = profile or FaultProfile()
    draw = _Draw(rng, servers, profile, reliable, long_reordering)
    weights = profile.weights()
    end = max(0.0, duration_ms - profile.settle_ms)
    out: list[tuple[float, AnyFault]] = []
    t = profile.start_ms
    while True:
        t += rng.expovariate(1.0 / profile.mean_gap_ms)
        kind = _pick(rng, weights) if t < end else None
        if kind is None:
            break
        fault = draw.fault(kind)
        if fault is not None:
            out.append((round(t, 3), fault))
    t_end = round(max(end, out[-1][0] if out else 0.0), 3)
    out += [(t_end, fault) for fault in draw.finale()]
    return tuple(out)
