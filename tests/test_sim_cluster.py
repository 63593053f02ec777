"""The synchronous cluster (sim.cluster): the driver contract, with every choice the caller's.

One rule per test, on a scripted node that answers a ``Do(effects)`` event with exactly those
effects, so each rule is checked on the driver alone, not on a protocol.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from typing import Any

import msgspec
import pytest

from protocols.core import (
    Apply, CancelTimer, ClientDone, Durable, Note, Persist, Proposed, Receive,
    Restart, RoleChanged, Send, SetTimer, TimerFired,
)
from sim import Disk, Host, NetParams, Network, Trace, World
from sim.cluster import Cluster, ClusterState, Driver, InFlight, Node, proposed
from sim.effects import persisted

from scripted import Do, Ping, scripted


ADDRS = ("a", "b", "c")


def cluster(observe: tuple[type, ...] | None = None) -> Cluster:
    nodes = {addr: (scripted, tuple) for addr in ADDRS}
    return Cluster(nodes) if observe is None else Cluster(nodes, observe=observe)


def booted() -> tuple[Cluster, ClusterState]:
    rules = cluster()
    return rules, rules.start()


def do(*effects: Any) -> Do:
    return Do(tuple(effects))


# ---------------------------------------------------------------- disk

def test_persist_rule_keeps_the_stored_snapshot_when_none_is_given() -> None:
    """Persist(state, None) replaces the state and keeps the last snapshot; a blank disk takes
    the first write as it is. The SimPy Disk performs the same rule (sim.effects.persisted)."""
    rules, s = booted()
    s, _ = rules.step(s, "a", do(Persist("A", b"snap"), Persist("B")))
    assert rules.node(s, "a").durable == Durable("B", b"snap")
    s, _ = rules.step(s, "a", do(Persist("C", b"new")))
    assert rules.node(s, "a").durable == Durable("C", b"new")
    disk = Disk()
    disk.persist(Persist("A", b"snap"))
    disk.persist(Persist("B"))
    assert disk.read() == persisted(persisted(None, Persist("A", b"snap")), Persist("B"))


def test_restart_hands_back_exactly_the_disk() -> None:
    """restart: protocol state from init(), then Restart(durable) with the last Durable written
    (None on a blank disk); nothing volatile survives."""
    rules, s = booted()
    assert rules.node(s, "a").state == (Restart(None),)
    s, _ = rules.step(s, "a", do(Persist("A", b"snap")))
    s, effects = rules.restart(s, "a")
    assert rules.node(s, "a").state == (Restart(Durable("A", b"snap")),)
    assert effects == [] and rules.node(s, "a").up


def test_restart_of_an_up_node_crashes_it_first() -> None:
    """restart of an up node is a crash then a boot: its timers and messages are gone."""
    rules, s = booted()
    s, _ = rules.step(s, "a", do(SetTimer("t", 1, 1), Send("b", Ping(1))))
    s, _ = rules.step(s, "b", do(Send("a", Ping(2))))
    s, _ = rules.restart(s, "a")
    assert rules.node(s, "a").timers == () and s.inflight == ()


# ---------------------------------------------------------------- crashes

def test_crash_after_k_effects_performs_the_first_k_only() -> None:
    """step(..., crash_after=k): the first k effects happen (the disk keeps the first write),
    the rest are lost, the node is down; the returned effects are those that happened."""
    rules, s = booted()
    step = do(Persist("A"), SetTimer("t", 1, 1), Persist("B"), Send("b", Ping(1)))
    s, effects = rules.step(s, "a", step, crash_after=1)
    node = rules.node(s, "a")
    assert effects == [Persist("A")]
    assert node == Node(None, Durable("A"), False, ())
    assert s.inflight == ()


def test_crash_after_past_the_end_performs_the_whole_step() -> None:
    """A crash after more effects than the step has lands after all of them; after 0, none."""
    rules, s = booted()
    t, effects = rules.step(s, "a", do(Persist("A"), Persist("B")), crash_after=9)
    assert len(effects) == 2 and rules.node(t, "a").durable == Durable("B")
    assert not rules.node(t, "a").up
    t, effects = rules.step(s, "a", do(Persist("A")), crash_after=0)
    assert effects == [] and rules.node(t, "a").durable is None


def test_crash_drops_messages_to_and_from_the_node() -> None:
    """A crash drops the node's state, its timers and every message to or from it (also the
    ones it sent in the step it crashed in); other messages stay, in order; only the disk
    survives. Crashing a down node changes nothing."""
    rules, s = booted()
    s, _ = rules.step(s, "a", do(Persist("A"), SetTimer("t", 1, 1), Send("b", Ping(1))))
    s, _ = rules.step(s, "b", do(Send("a", Ping(2)), Send("c", Ping(3))))
    s, _ = rules.step(s, "c", do(Send("b", Ping(4))))
    s = rules.crash(s, "a")
    assert s.inflight == (InFlight("b", "c", Ping(3)), InFlight("c", "b", Ping(4)))
    assert rules.node(s, "a") == Node(None, Durable("A"), False, ())
    assert rules.crash(s, "a") is s
    s, _ = rules.step(s, "b", do(Send("c", Ping(5))), crash_after=1)
    assert s.inflight == ()


def test_messages_to_a_down_node_are_lost_at_send() -> None:
    """A Send to a node that is down never goes on the wire (the SimPy network drops it at
    send): a message belongs to the incarnation it was sent to."""
    rules, s = booted()
    s = rules.crash(s, "b")
    s, effects = rules.step(s, "a", do(Send("b", Ping(1)), Send("c", Ping(2))))
    assert len(effects) == 2 and s.inflight == (InFlight("a", "c", Ping(2)),)


def test_a_down_node_cannot_be_stepped() -> None:
    """Stepping, firing or proposing at a node that is down is the caller's mistake."""
    rules, s = booted()
    s = rules.crash(s, "a")
    with pytest.raises(ValueError):
        rules.step(s, "a", do())
    with pytest.raises(ValueError):
        rules.fire(s, "a", "t")
    with pytest.raises(ValueError):
        rules.step(s, "z", do())


# ---------------------------------------------------------------- timers

def test_only_armed_timers_fire_and_firing_disarms() -> None:
    """fire(addr, kind) steps TimerFired(kind) only if kind is armed, and disarms it first."""
    rules, s = booted()
    with pytest.raises(ValueError):
        rules.fire(s, "a", "t")
    s, _ = rules.step(s, "a", do(SetTimer("t", 1, 1)))
    s, _ = rules.fire(s, "a", "t")
    assert rules.node(s, "a").state[-1] == TimerFired("t")
    assert rules.node(s, "a").timers == ()
    with pytest.raises(ValueError):
        rules.fire(s, "a", "t")


def test_rearm_moves_to_the_end_and_cancel_disarms_one_kind() -> None:
    """SetTimer re-arms (one timer per kind, now last in arming order); CancelTimer disarms
    that kind only (a no-op if it is not armed); a timer re-armed by its own firing stays."""
    rules, s = booted()
    s, _ = rules.step(s, "a", do(SetTimer("x", 1, 1), SetTimer("y", 1, 1), SetTimer("x", 2, 2)))
    assert rules.node(s, "a").timers == ("y", "x")
    s, _ = rules.step(s, "a", do(CancelTimer("x"), CancelTimer("z")))
    assert rules.node(s, "a").timers == ("y",)
    s, _ = rules.step(s, "a", do(SetTimer("x", 1, 1)))
    assert rules.armed(s) == [("a", "y"), ("a", "x")]


def test_crash_disarms_every_timer() -> None:
    """A crashed node has no armed timer, and a rebooted one only what its boot step arms."""
    rules, s = booted()
    s, _ = rules.step(s, "a", do(SetTimer("x", 1, 1)))
    s = rules.crash(s, "a")
    assert rules.armed(s) == []
    s, _ = rules.restart(s, "a")
    assert rules.node(s, "a").timers == ()


# ---------------------------------------------------------------- the wire

def test_deliver_takes_the_kth_message_and_steps_receive() -> None:
    """deliver(k) removes the k-th message in flight and steps its destination with
    Receive(src, msg); drop(k) only removes it; duplicate(k) appends a copy."""
    rules, s = booted()
    s, _ = rules.step(s, "a", do(Send("b", Ping(1)), Send("c", Ping(2))))
    dup = rules.duplicate(s, 0)
    assert dup.inflight[2] == InFlight("a", "b", Ping(1))
    t, _ = rules.deliver(s, 1)
    assert rules.node(t, "c").state[-1] == Receive("a", Ping(2))
    assert t.inflight == (InFlight("a", "b", Ping(1)),)
    assert rules.drop(s, 0).inflight == (InFlight("a", "c", Ping(2)),)


def test_messages_outside_the_cluster_are_only_taken_off_the_wire() -> None:
    """A message to an address the cluster does not run is delivered by removing it; the
    Driver keeps it in ``outside`` (a test playing that client by hand)."""
    d = Driver(cluster())
    d.boot()
    d.step("a", do(Send("client", Ping(1))))
    assert d.deliver(0) == [] and d.inflight == ()
    assert d.outside == [InFlight("a", "client", Ping(1))]


# ---------------------------------------------------------------- observations

def test_observations_are_returned_and_unknown_effects_refused() -> None:
    """Apply, ClientDone, RoleChanged, Note, Proposed... are handed back in the returned
    effects; an effect type the cluster neither performs nor observes is a TypeError (as in
    the SimPy Host), unless given as ``observe``."""
    rules, s = booted()
    shown = (Apply(1, 1, "x"), ClientDone("op", "r"), RoleChanged("leader", 1), Note("n"))
    _, effects = rules.step(s, "a", do(*shown))
    assert effects == list(shown)
    with pytest.raises(TypeError):
        rules.step(s, "a", do(Ping(0)))
    custom = cluster(observe=(Ping,))
    _, effects = custom.step(custom.start(), "a", do(Ping(0)))
    assert effects == [Ping(0)]


def test_propose_returns_the_proposed_answer() -> None:
    """propose(addr, command) steps Propose(command); the answer is its Proposed effect."""
    rules, s = booted()
    s, effects = rules.propose(s, "a", "cmd")
    assert proposed(effects) == Proposed(2, 1, True)
    d = Driver(rules, s)
    assert d.propose("b", "cmd") == Proposed(2, 1, True)


# ---------------------------------------------------------------- values

def history(rules: Cluster) -> ClusterState:
    s = rules.start()
    s, _ = rules.step(s, "a", do(Persist("A"), SetTimer("t", 1, 1), Send("b", Ping(1))))
    s, _ = rules.deliver(s, 0)
    s = rules.crash(s, "c")
    s, _ = rules.restart(s, "c")
    return s


def test_equal_histories_give_equal_hashable_states() -> None:
    """A cluster state is a value: two runs of the same choices compare and hash equal (so a
    search can deduplicate states), one more choice makes them differ."""
    one, two = history(cluster()), history(cluster())
    assert one == two and hash(one) == hash(two)
    assert len({one, two}) == 1
    rules = cluster()
    three, _ = rules.step(one, "a", do())
    assert three != one


def test_branching_leaves_the_state_unchanged_and_shares_the_rest() -> None:
    """A step returns a new state and leaves the old one as it was, so two choices from the
    same state branch for free; the nodes a step does not touch are shared, not copied, and a
    copy is shallow."""
    rules, s = booted()
    before = msgspec.structs.asdict(s)
    left, _ = rules.step(s, "a", do(Send("b", Ping(1))))
    right, _ = rules.step(s, "b", do(Persist("B")))
    assert msgspec.structs.asdict(s) == before
    assert left.nodes[1] is s.nodes[1] and left.nodes[2] is s.nodes[2]
    assert right.nodes[0] is s.nodes[0] and right.inflight is s.inflight
    assert copy.copy(s) == s and copy.copy(s).nodes is s.nodes


# ---------------------------------------------------------------- one semantics

def test_host_and_cluster_crash_mid_step_alike() -> None:
    """The SimPy Host and the cluster perform a step cut by a crash with the same code: after
    k effects the disk holds the same Durable and the node is down."""
    script = (Persist("A", b"s"), Send("b", Ping(1)), Persist("B"), Persist("C", b"t"))
    for k in range(len(script) + 1):
        rules, s = booted()
        s, _ = rules.step(s, "a", Do(script), crash_after=k)
        world = World(1)
        net = Network(world, Trace(keep=True), NetParams())
        host = Host(world, "a", scripted, tuple, network=net)
        Host(world, "b", scripted, tuple, network=net).boot()
        host.boot()
        host.crash(mid_step_after=k)
        host.call(Do(script))
        assert host.disk.read() == rules.node(s, "a").durable and not host.up


def test_the_cluster_never_loads_simpy() -> None:
    """sim.cluster (with sim itself) imports neither simpy nor networkx: the explorer can run
    without the SimPy driver."""
    code = "import sys, sim.cluster; assert not {'simpy', 'networkx'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)
