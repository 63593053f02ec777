"""Host: performs effects in order, owns timers and disk, crashes (even mid-step) and reboots."""

from __future__ import annotations

import random
from typing import Any

import msgspec
import pytest

from protocols.core import (
    Apply, ApplySnapshot, CancelTimer, Note, Persist, Proposed, Receive,
    Restart, RoleChanged, Send, SetTimer, TakeSnapshot, TimerFired,
)
from protocols.core import Durable
from sim import Disk, Host, NetParams, Network, Trace, World, stream_seed

from scripted import Do, Ping, scripted


def setup(seed: int = 1, delay: float = 1.0, **hooks: Any):
    world = World(seed)
    trace = Trace(seed=seed, keep=True)
    net = Network(world, trace, NetParams(reliable_delay=delay))
    s0 = Host(world, "s0", scripted, tuple, network=net, **hooks)
    s1 = Host(world, "s1", scripted, tuple, network=net)
    s0.boot()
    s1.boot()
    return world, trace, net, s0, s1


def records(trace: Trace, kind: str) -> list[list]:
    trace.flush()
    return [r for r in map(msgspec.json.decode, trace.lines[1:]) if r[1] == kind]


def events_of(host: Host, cls: type) -> list:
    return [e for e in host.state if isinstance(e, cls)]


# ---------------------------------------------------------------- boot and disk

def test_boot_steps_restart_with_what_the_disk_holds() -> None:
    """boot: state = init_state(); step(Restart(disk.read())); None on a blank disk."""
    world, trace, net, s0, s1 = setup()
    assert s0.state == (Restart(None),)
    s0.call(Do((Persist("A", b"snap"),)))
    s0.restart()
    assert s0.state == (Restart(Durable("A", b"snap")),)
    assert s0.up and s0.incarnation == 1


def test_persist_without_snapshot_keeps_the_stored_snapshot() -> None:
    """Persist(state, None) replaces the state and keeps the last snapshot."""
    disk = Disk()
    disk.write("A", b"s1")
    disk.write("B")
    assert disk.read() == Durable("B", b"s1") and disk.writes == 2


def test_effects_are_performed_in_list_order() -> None:
    """A hook observing the disk between two Persists sees the first write only."""
    seen: list[Any] = []
    world, trace, net, s0, s1 = setup(on_note=lambda h, e: seen.append(h.disk.read().state))
    s0.call(Do((Persist(1), Note("a"), Persist(2), Note("b"))))
    assert seen == [1, 2]


# ---------------------------------------------------------------- crashes

def test_crash_mid_step_loses_the_remaining_effects_but_keeps_what_was_persisted() -> None:
    """crash(mid_step_after=2): the first two effects happen, the rest are lost; the disk
    keeps the first write; the host is down; the trace says how many effects were lost."""
    world, trace, net, s0, s1 = setup()
    s0.crash(mid_step_after=2)
    assert s0.up  # armed, not yet landed
    s0.call(Do((Persist("A"), Send("s1", Ping(1)), Persist("B"), Send("s1", Ping(2)))))
    assert not s0.up and s0.state is None
    assert s0.disk.read().state == "A"
    assert [r[5] for r in records(trace, "send")] == [{"type": "Ping", "n": 1}]
    assert [r[4] for r in records(trace, "crash")] == [2]
    world.run(until=100)
    assert events_of(s1, Receive) == []  # sent by an incarnation that died: never delivered
    s0.boot()
    assert s0.state == (Restart(Durable("A", None)),)


def test_crash_after_more_effects_than_the_step_has_performs_them_all() -> None:
    """A mid-step crash armed past the end of the list lands after the whole step."""
    world, trace, net, s0, s1 = setup()
    s0.crash(mid_step_after=10)
    s0.call(Do((Persist("A"), Persist("B"))))
    assert not s0.up and s0.disk.read().state == "B"
    assert [r[4] for r in records(trace, "crash")] == [0]


def test_crash_drops_state_timers_and_bumps_incarnation() -> None:
    """A crashed host has no state and no armed timers, and a new incarnation; crashing a
    down host does nothing; booting an up host is an error."""
    world, trace, net, s0, s1 = setup()
    s0.call(Do((SetTimer("election", 10, 10),)))
    s0.crash()
    s0.crash()
    assert s0.state is None and s0.timers == () and s0.incarnation == 1
    s0.boot()
    world.run(until=100)
    assert events_of(s0, TimerFired) == []
    with pytest.raises(RuntimeError):
        s0.boot()


def test_down_host_ignores_inputs() -> None:
    """call / propose on a down host do nothing and return None."""
    world, trace, net, s0, s1 = setup()
    s0.crash()
    s0.call(Do((Persist("X"),)))
    assert s0.propose("cmd") is None and s0.disk.read() is None


# ---------------------------------------------------------------- timers

def test_timer_delay_is_drawn_from_the_hosts_own_stream() -> None:
    """SetTimer(kind, lo, hi) fires after lo + (hi-lo)*u, u from the node/<addr> stream."""
    world, trace, net, s0, s1 = setup(seed=9)
    s0.call(Do((SetTimer("t", 10.0, 50.0),)))
    world.run(until=100)
    expected = 10.0 + 40.0 * random.Random(stream_seed(9, "node/s0")).random()
    assert [r[0] for r in records(trace, "timer")] == [expected]
    assert events_of(s0, TimerFired) == [TimerFired("t")]


def test_client_hosts_draw_from_the_client_stream() -> None:
    """A client host's timers use the client/<addr> stream."""
    world = World(9)
    net = Network(world, Trace(keep=True))
    c = Host(world, "c0", scripted, tuple, network=net, client=True)
    assert c.rng is world.rng("client/c0")
    assert net.clients == ["c0"] and net.servers == []


def test_rearming_replaces_the_pending_timer() -> None:
    """Re-arming a kind makes the earlier arm stale: it fires once, at the later deadline."""
    world, trace, net, s0, s1 = setup()
    s0.call(Do((SetTimer("t", 100, 100),)))
    world.call_at(50.0, s0.call, Do((SetTimer("t", 100, 100),)))
    world.run(until=1000)
    assert [r[0] for r in records(trace, "timer")] == [150.0]


def test_cancel_disarms_and_kinds_are_independent() -> None:
    """CancelTimer(kind) disarms that kind only."""
    world, trace, net, s0, s1 = setup()
    s0.call(Do((SetTimer("a", 10, 10), SetTimer("b", 20, 20), CancelTimer("a"))))
    assert s0.timers == ("b",)
    world.run(until=1000)
    assert events_of(s0, TimerFired) == [TimerFired("b")]
    assert s0.timers == ()


# ---------------------------------------------------------------- hooks, defer, propose

def test_apply_snapshot_and_role_effects_reach_hooks_and_trace() -> None:
    """Apply, ApplySnapshot and RoleChanged go to their hooks and into the trace."""
    got: list[Any] = []
    world, trace, net, s0, s1 = setup(
        on_apply=lambda h, e: got.append(e), on_apply_snapshot=lambda h, e: got.append(e),
        on_role=lambda h, e: got.append(e))
    effects = (RoleChanged("leader", 3), Apply(1, 3, "x"), ApplySnapshot(5, 3, b"abc"))
    s0.call(Do(effects))
    assert got == list(effects)
    assert records(trace, "apply")[0][2:] == ["s0", 1, 3, "x"]
    assert records(trace, "snapshot")[0][2:6] == ["s0", 5, 3, 3]
    assert records(trace, "role")[0][2:] == ["s0", "leader", 3]


def test_defer_runs_after_the_current_effects_as_a_new_event() -> None:
    """A hook may not step its node while effects are performed; defer(event) delivers it
    later at the same virtual time, after events already queued for that time."""
    world, trace, net, s0, s1 = setup()
    order: list[str] = []

    def on_apply(host: Host, effect: Apply) -> None:
        with pytest.raises(RuntimeError):
            host.call(TakeSnapshot(effect.index, b"x"))
        host.defer(TakeSnapshot(effect.index, b"x"))
        order.append("apply")

    s0.on_apply = on_apply
    world.call_at(5.0, lambda: order.append("queued first"))
    world.call_at(5.0, s0.call, Do((Apply(1, 1, "c"), Note("after"))))
    world.call_at(5.0, lambda: order.append("queued before defer ran"))
    world.run(until=10)
    snaps = [e for e in s0.state if isinstance(e, TakeSnapshot)]
    assert snaps == [TakeSnapshot(1, b"x")]
    assert order == ["queued first", "apply", "queued before defer ran"]
    assert [r[0] for r in records(trace, "input") if r[3]["type"] == "TakeSnapshot"] == [5.0]


def test_propose_returns_the_proposed_effect_and_traces_it() -> None:
    """propose(cmd) steps Propose(cmd) and returns the Proposed effect it produced."""
    world, trace, net, s0, s1 = setup()
    got = s0.propose("set x")
    assert got == Proposed(2, 1, True)
    assert records(trace, "propose")[0][2:] == ["s0", "set x", 2, 1, True]
    assert s0.call(Do(())) is None


def test_unknown_effects_are_errors_and_custom_ones_can_be_registered() -> None:
    """An effect without a handler raises TypeError; ``handle`` adds one."""
    class Custom(msgspec.Struct, frozen=True):
        x: int

    world, trace, net, s0, s1 = setup()
    with pytest.raises(TypeError):
        s0.call(Do((Custom(1),)))
    seen: list[int] = []
    s0.handle(Custom, lambda host, e: seen.append(e.x))
    s0.call(Do((Custom(2),)))
    assert seen == [2]


@pytest.mark.parametrize("kind", ["send", "set-timer", "persist", "apply"])
def test_handle_replaces_the_handler_of_a_usual_effect(kind: str) -> None:
    """``handle`` also replaces how Send, SetTimer, Persist and Apply are performed (the host
    performs those four by direct calls until then): the replacement alone runs."""
    effect = {"send": Send("s1", Ping(1)), "set-timer": SetTimer("t", 1.0, 2.0),
              "persist": Persist(("state",), None), "apply": Apply(1, 1, "cmd")}[kind]
    world, trace, net, s0, s1 = setup()
    seen: list[Any] = []
    s0.handle(type(effect), lambda host, e: seen.append(e))
    s0.call(Do((effect,)))
    world.run()
    assert seen == [effect]
    assert net.total_count == 0 and s0.timers == () and s0.disk.read() is None
    assert records(trace, "apply") == []
