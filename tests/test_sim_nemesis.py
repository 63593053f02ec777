"""Nemesis: faults as data, schedule encoding, random schedules and their injection."""

from __future__ import annotations

import random
from typing import Any

import msgspec
import pytest

from protocols.core import Persist, Restart, Send, SetTimer, TimerFired
from sim import (
    Connect, Crash, Cut, Disconnect, FaultProfile, Heal, Host, Links, NetParams, Nemesis,
    Network, Partition, Reboot, SetLongDelays, SetLongReordering, SetReliable, Trace, Uncut,
    World, decode_schedule, encode_schedule, majorities_ring, random_schedule,
)

SERVERS = ["s0", "s1", "s2", "s3", "s4"]

EVERY_FAULT = (
    (1.0, Crash("s0")), (2.0, Crash("s1", 3)), (3.0, Reboot("s0")), (4.0, Disconnect("s2")),
    (5.0, Connect("s2")), (6.0, Partition((("s0", "s1"), ("s2", "s3", "s4")))),
    (7.0, Links(("s0", "s1", "s2"), (("s0", "s1"), ("s1", "s0")), "custom")), (8.0, Heal()),
    (9.0, Cut("s0", "s1")), (10.0, Uncut("s0", "s1")), (11.0, SetReliable(False)),
    (12.0, SetLongReordering(True)), (13.0, SetLongDelays(True)),
)


class Tick(msgspec.Struct, frozen=True, tag=True):
    n: int


def ticker(state: int, event: Any) -> tuple[int, list]:
    """Persists a counter every 10 ms and tells s0 about it."""
    if isinstance(event, Restart):
        return (event.durable.state if event.durable else 0), [SetTimer("tick", 10, 10)]
    if isinstance(event, TimerFired):
        return state + 1, [Persist(state + 1), Send("s0", Tick(state + 1)),
                           SetTimer("tick", 10, 10)]
    return state, []


def cluster(seed: int = 1):
    world = World(seed)
    trace = Trace(seed=seed, keep=True)
    net = Network(world, trace, NetParams(reliable_delay=1.0))
    hosts = {a: Host(world, a, ticker, int, network=net) for a in SERVERS}
    for h in hosts.values():
        h.boot()
    return world, trace, net, hosts


# ---------------------------------------------------------------- schedules as data

def test_schedule_json_round_trip_covers_every_fault() -> None:
    """encode_schedule / decode_schedule are inverse, for every fault type."""
    data = encode_schedule(EVERY_FAULT)
    assert decode_schedule(data) == EVERY_FAULT
    assert decode_schedule(data.decode()) == EVERY_FAULT
    assert msgspec.json.decode(data)[0] == [1.0, {"type": "Crash", "node": "s0",
                                                  "mid_step_after": None}]


@pytest.mark.parametrize("bad", [b"not json", b'[[1.0, {"type": "Explode"}]]',
                                 b'[[1.0, {"type": "Crash"}]]', b'{"a": 1}'])
def test_malformed_schedules_are_rejected(bad: bytes) -> None:
    """Unknown fault types, missing fields and non-JSON input raise ValueError."""
    with pytest.raises(ValueError, match="bad fault schedule"):
        decode_schedule(bad)


# ---------------------------------------------------------------- random schedules

def test_random_schedule_is_a_function_of_the_stream() -> None:
    """Same stream state, same schedule; another seed, another schedule."""
    def draw(seed: int) -> tuple:
        return random_schedule(random.Random(seed), SERVERS, 20_000.0, FaultProfile(
            mean_gap_ms=300.0))
    assert draw(1) == draw(1)
    assert draw(1) != draw(2)
    assert decode_schedule(encode_schedule(draw(1))) == draw(1)


@pytest.mark.parametrize("seed", range(20))
def test_random_schedule_ends_healed_with_everyone_up(seed: int) -> None:
    """Faults stop settle_ms before the end; then heal, reboot every crashed server and
    restore flipped knobs. A minority at most is crashed at any time by default."""
    rng = random.Random(seed)
    profile = FaultProfile.draw(rng)
    profile = msgspec.structs.replace(profile, settle_ms=2000.0)
    schedule = random_schedule(rng, SERVERS, 30_000.0, profile)
    times = [t for t, _ in schedule]
    assert times == sorted(times) and times[-1] <= 28_000.0
    down: set[str] = set()
    reliable, reordering = True, False
    for _, fault in schedule:
        if isinstance(fault, Crash):
            down.add(fault.node)
        elif isinstance(fault, Reboot):
            down.discard(fault.node)
        elif isinstance(fault, SetReliable):
            reliable = fault.reliable
        elif isinstance(fault, SetLongReordering):
            reordering = fault.on
        assert len(down) <= 2
    assert not down and reliable and not reordering
    tail = [f for t, f in schedule if t == times[-1]]
    assert Heal() in tail


def test_fault_profile_draw_is_deterministic_and_encodable() -> None:
    """FaultProfile.draw(rng) depends only on the stream; profiles encode to JSON."""
    a = FaultProfile.draw(random.Random(3))
    assert a == FaultProfile.draw(random.Random(3))
    assert msgspec.json.decode(msgspec.json.encode(a), type=FaultProfile) == a
    drawn = {FaultProfile.draw(random.Random(s)) for s in range(10)}
    assert len(drawn) > 1


def test_shapes_in_random_schedules_use_only_the_given_servers() -> None:
    """Partitions and link shapes mention only servers, each at most once per group."""
    profile = FaultProfile(mean_gap_ms=100.0, crash=0.0, reboot=0.0, isolate=1.0, halves=1.0,
                           majority_minority=1.0, bridge=1.0, majorities_ring=1.0, random=1.0)
    schedule = random_schedule(random.Random(5), SERVERS, 10_000.0, profile)
    shapes = [f for _, f in schedule if isinstance(f, (Partition, Links))]
    assert len(shapes) > 10
    for f in shapes:
        nodes = [n for g in f.groups for n in g] if isinstance(f, Partition) else list(f.nodes)
        assert sorted(nodes) == SERVERS


# ---------------------------------------------------------------- injection

def test_nemesis_injects_each_fault_at_its_time_and_traces_it() -> None:
    """Faults apply at their virtual times, in schedule order, each traced as a record."""
    world, trace, net, hosts = cluster()
    nemesis = Nemesis(world, net, hosts)
    nemesis.run(((100.0, Crash("s1")), (100.0, Partition((("s0", "s2"), ("s3", "s4"))))))
    world.run(until=99)
    assert hosts["s1"].up and net.has_link("s0", "s3")
    world.run(until=101)
    assert not hosts["s1"].up and not net.has_link("s0", "s3") and net.has_link("s0", "s2")
    trace.flush()
    faults = [msgspec.json.decode(line) for line in trace.lines if b'"fault"' in line[:30]]
    assert [(r[0], r[2]["type"]) for r in faults] == [(100.0, "Crash"), (100.0, "Partition")]
    assert [f for _, f in nemesis.injected][0] == Crash("s1")


def test_reboot_restores_from_disk_and_knob_faults_change_params() -> None:
    """Reboot boots from the disk; SetReliable / SetLongReordering / SetLongDelays change the
    network parameters."""
    world, trace, net, hosts = cluster()
    Nemesis(world, net, hosts).run((
        (55.0, Crash("s1")), (200.0, Reboot("s1")), (201.0, SetReliable(False)),
        (202.0, SetLongReordering(True)), (203.0, SetLongDelays(True))))
    world.run(until=205)
    assert hosts["s1"].up and hosts["s1"].incarnation == 1
    assert hosts["s1"].state == 5  # ticks at 10..50 persisted before the crash at 55
    p = net.params
    assert (p.reliable, p.long_reordering, p.long_delays) == (False, True, True)


def test_mid_step_crash_fault_lands_inside_the_next_step() -> None:
    """Crash(node, k) lands after k effects of the node's next step: here the Persist
    happens and the Send is lost."""
    world, trace, net, hosts = cluster()
    Nemesis(world, net, hosts).run(((25.0, Crash("s2", 1)),))
    world.run(until=100)
    s2 = hosts["s2"]
    assert not s2.up and s2.disk.read().state == 3
    trace.flush()
    sends = [msgspec.json.decode(line) for line in trace.lines if b'"send"' in line[:30]]
    assert [r[5]["n"] for r in sends if r[3] == "s2"] == [1, 2]


def test_links_fault_applies_a_shape() -> None:
    """A Links fault keeps exactly its edges among its nodes."""
    world, trace, net, hosts = cluster()
    edges = tuple(majorities_ring(SERVERS))
    Nemesis(world, net, hosts).run(((1.0, Links(tuple(SERVERS), edges, "majorities_ring")),))
    world.run(until=2)
    assert {(a, b) for a in SERVERS for b in SERVERS if a != b and net.has_link(a, b)
            } == set(edges)


def test_random_campaign_finishes_with_a_healthy_cluster() -> None:
    """After a random schedule's finale every server is up and fully linked."""
    world, trace, net, hosts = cluster(seed=4)
    profile = FaultProfile(mean_gap_ms=150.0, settle_ms=500.0, mid_step=0.5, flip_reliable=1.0)
    schedule = random_schedule(world.rng("faults"), SERVERS, 6000.0, profile)
    assert any(isinstance(f, Crash) and f.mid_step_after is not None for _, f in schedule)
    Nemesis(world, net, hosts).run(schedule)
    world.run(until=6000)
    assert all(h.up for h in hosts.values())
    assert all(net.has_link(a, b) for a in SERVERS for b in SERVERS if a != b)
    assert net.params.reliable
    trace.flush()
    late = [msgspec.json.decode(line) for line in trace.lines[-200:]]
    assert {r[3] for r in late if r[1] == "deliver"} == set(SERVERS)  # every ticker reaches s0


def test_unknown_fault_is_refused() -> None:
    """Only fault Structs can be scheduled."""
    world, trace, net, hosts = cluster()
    with pytest.raises(TypeError):
        Nemesis(world, net, hosts).run(((1.0, "crash s0"),))
