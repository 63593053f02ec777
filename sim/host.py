"""A host: one node's step function, its timers, its disk, and how it crashes and reboots.

The host feeds events to ``step(state, event) -> (state, effects)`` and performs the effects in
list order: ``Send`` goes to the network (after the ``on_send`` hook, if given: an
oracle that reads the disk at the moment of sending), ``Persist`` to the disk, ``SetTimer`` /
``CancelTimer`` arm and disarm timers, ``Apply`` / ``ApplySnapshot`` / ``RoleChanged`` /
``Note`` are traced and passed to the hooks it was given, and ``Proposed`` is handed back to
the caller of ``propose`` / ``call``. Dispatch is a dict from effect type to bound method.
The rules of the driver contract come from ``sim.effects``, shared with the synchronous
``sim.cluster``: the persist rule (through ``Disk``) and the crash that lands after ``k``
effects of a step (``perform_until_crash``); the plain loop is ``perform``, inlined here.

Timers: the delay of ``SetTimer(kind, lo, hi)`` is drawn uniformly from ``[lo, hi]`` with the
host's own stream (``node/<addr>`` or ``client/<addr>``). Each arm gets a fresh generation
number; re-arming or cancelling makes the pending callback stale, and a stale callback does
nothing.

Crash: the host goes down, its incarnation increases, its state and timers are dropped and the
network will never deliver messages sent to or from the old incarnation. Only the disk survives.
``crash(mid_step_after=k)`` lands during the next step, after ``k`` of its effects: the rest
are lost. ``boot`` / ``restart`` run ``step(init_state(), Restart(disk.read()))``.

A step never re-enters itself: a hook that wants to feed the node an event uses ``defer``.
"""

from __future__ import annotations

import hashlib
from functools import partial
from heapq import heappush as _heappush
from typing import Any, Callable, Final

from simpy.events import NORMAL as _NORMAL

from protocols.core import (
    Apply, ApplySnapshot, CancelTimer, Event, Note, Persist, Propose, Proposed, Receive,
    Restart, RoleChanged, Send, SetTimer, StepFn, TimerFired,
)
from sim.disk import Disk
from sim.effects import perform_until_crash
from sim.network import Network
from sim.trace import Trace
from sim.world import COMPILED, World, heap_push

# Final: C statics in the compiled build, where a plain module-level name is a dict lookup.
NORMAL: Final = _NORMAL
_PUSH: Final = _heappush
_Propose: Final = Propose
_Send: Final = Send
_SetTimer: Final = SetTimer
_Persist: Final = Persist
_Apply: Final = Apply

__all__ = ["Host", "Hook"]

Hook = Callable[["Host", Any], None]


class Host:
    """Runs one node's step function inside a ``World`` and performs its effects."""

    def __init__(self, world: World, addr: str, step: StepFn, init_state: Callable[[], Any], *,
                 network: Network, disk: Disk | None = None, trace: Trace | None = None,
                 client: bool = False,
                 on_apply: Hook | None = None, on_apply_snapshot: Hook | None = None,
                 on_role: Hook | None = None, on_note: Hook | None = None,
                 on_boot: Callable[["Host"], None] | None = None,
                 on_crash: Callable[["Host"], None] | None = None,
                 on_send: Hook | None = None) -> None:
        self.world = world
        self.addr = addr
        self.step = step
        self.init_state = init_state
        self.network = network
        self.trace = trace if trace is not None else network.trace
        self.disk = disk if disk is not None else Disk()
        self.client = client
        self.rng = world.rng(f"{'client' if client else 'node'}/{addr}")
        self.on_apply, self.on_apply_snapshot = on_apply, on_apply_snapshot
        self.on_role, self.on_note = on_role, on_note
        self.on_boot, self.on_crash = on_boot, on_crash
        self.on_send = on_send
        self.state: Any = None
        self.up = False
        self.incarnation = 0
        self._armed: dict[str, float] = {}     # timer kind -> deadline (virtual ms)
        self._wakeup: dict[str, tuple[int, float]] = {}   # kind -> (generation, time) pending
        self._timer_gen = 0
        self._timer_events: dict[str, TimerFired] = {}
        self._busy = False
        self._crash_after: int | None = None
        # A Proposed or None; typed Any so that mypy (and mypyc) do not take it for None after
        # ``self._proposed = None`` and the step that sets it.
        self._proposed: Any = None
        self._add = self.trace.add
        self._buffer, self._batch = self.trace.buffer, self.trace.batch
        self._queue, self._eid = world.queue, world.eid
        self._fire_call = self._fire
        send: Callable[[Send], None] = partial(network.transmit, self)  # no wrapper frame
        if on_send is not None:                 # an oracle sees each Send (and the disk) first
            send = _checked_send(self, on_send, network.transmit)
        self._handlers: dict[type, Callable[[Any], None]] = {
            Send: send, Persist: self.disk.persist,
            SetTimer: self._set_timer, CancelTimer: self._cancel_timer,
            Apply: self._apply, ApplySnapshot: self._snapshot, Proposed: self._keep_proposed,
            RoleChanged: self._role, Note: self._note,
        }
        # The four usual effects are performed by direct calls (native ones in the compiled
        # build) unless ``handle`` replaced one of their handlers: then by ``_handlers`` only.
        self._direct = True
        network.attach(self, server=not client)

    # ------------------------------------------------------------ feeding events

    def receive(self, src: str, msg: Any) -> None:
        """A network message arrived (the network checked link, liveness and incarnations)."""
        self._run(Receive(src, msg))

    def call(self, event: Event) -> Proposed | None:
        """Step the node with ``event`` now; returns the ``Proposed`` effect it produced, if any.

        A down host ignores the event and returns None.
        """
        if not self.up:
            return None
        if self._busy:
            raise self._reentered()
        self._add((self.world._now, "input", self.addr, event))
        return self._call(event)

    def propose(self, command: Any) -> Proposed | None:
        """Raft's Start: step with ``Propose(command)``; traced after the step with its outcome."""
        if not self.up:
            return None
        self._proposed = None                 # self._call, without its frame
        self._run(_Propose(command))
        got, self._proposed = self._proposed, None
        buf = self._buffer                    # self._add, without its frame
        if got is None:
            buf.append((self.world._now, "propose", self.addr, command, None, None, None))
        else:
            buf.append((self.world._now, "propose", self.addr, command, got.index, got.term,
                        got.is_leader))
        if len(buf) >= self._batch:
            self.trace.flush()
        return got

    def defer(self, event: Event) -> None:
        """Deliver ``event`` as a new event at the current time, after those already queued.

        Hooks use this instead of stepping the node while its effects are being performed.
        The event is lost if the host crashes first.
        """
        self.world.call_later(0.0, self._deferred, event, self.incarnation)

    def _deferred(self, event: Event, incarnation: int) -> None:
        if self.incarnation == incarnation:
            self.call(event)

    def _call(self, event: Event) -> Proposed | None:
        self._proposed = None
        self._run(event)
        got, self._proposed = self._proposed, None
        return got

    # ------------------------------------------------------------ the step

    def _run(self, event: Event) -> None:
        if self._busy:
            raise self._reentered()
        self._busy = True
        try:
            self.state, effects = self.step(self.state, event)
            crash_after = self._crash_after
            if crash_after is not None:
                self._crash(perform_until_crash(self._handlers, effects, crash_after, self.addr))
                return
            handlers = self._handlers
            if self._direct:         # what the handlers of the usual effects do, without them
                network, on_send = self.network, self.on_send
                for effect in effects:
                    kind = type(effect)
                    if kind is _Send:
                        if on_send is not None:
                            on_send(self, effect)
                        network.transmit(self, effect)
                    elif kind is _SetTimer:
                        self._set_timer(effect)
                    elif kind is _Persist:
                        self.disk.persist(effect)
                    elif kind is _Apply:
                        self._apply(effect)
                    else:
                        self._perform(handlers, effect)
                return
            for effect in effects:   # sim.effects.perform, inlined: the hot path
                self._perform(handlers, effect)
        finally:
            self._busy = False

    def _perform(self, handlers: dict[type, Callable[[Any], None]], effect: Any) -> None:
        try:
            handler = handlers[type(effect)]
        except KeyError:
            raise TypeError(f"{self.addr}: no handler for effect {effect!r}") from None
        handler(effect)

    def _reentered(self) -> RuntimeError:
        return RuntimeError(f"{self.addr}: step re-entered while its effects are performed; "
                            "use host.defer(event)")

    def handle(self, effect_type: type, perform: Callable[["Host", Any], None]) -> None:
        """Perform effects of ``effect_type`` (e.g. a service-level effect) with ``perform``."""
        self._handlers[effect_type] = partial(perform, self)
        if effect_type in (Send, SetTimer, Persist, Apply):
            self._direct = False

    # ------------------------------------------------------------ effects

    def _set_timer(self, effect: SetTimer) -> None:
        """Arm ``kind`` at now + a drawn delay. Re-arming is frequent (every heartbeat re-arms
        a follower's election timer), so at most one wake-up per kind is queued: a later
        deadline only moves ``_armed``, and the wake-up re-queues itself for it."""
        kind = effect.kind
        lo = effect.lo
        delay = lo + (effect.hi - lo) * self.rng.random()
        if delay < 0:
            raise ValueError(f"{self.addr}: {effect!r} gives a negative delay")
        deadline = self.world._now + delay
        self._armed[kind] = deadline
        pending = self._wakeup.get(kind)
        if pending is None or pending[1] > deadline:
            self._queue_wakeup(kind, delay, deadline)

    def _queue_wakeup(self, kind: str, delay: float, deadline: float) -> None:
        gen = self._timer_gen = self._timer_gen + 1
        self._wakeup[kind] = (gen, deadline)
        # World.call_later(delay, self._fire, kind, gen) without its frame: a plain call
        entry = (self.world._now + delay, NORMAL, next(self._eid), (self._fire_call, (kind, gen)))
        heap_push(self._queue, entry) if COMPILED else _PUSH(self._queue, entry)

    def _cancel_timer(self, effect: CancelTimer) -> None:
        self._armed.pop(effect.kind, None)

    def _fire(self, kind: str, gen: int) -> None:
        pending = self._wakeup.get(kind)
        if pending is None or pending[0] != gen:
            return  # superseded by an earlier wake-up, or crashed since: stale
        del self._wakeup[kind]
        deadline = self._armed.get(kind)
        if deadline is None:
            return  # cancelled
        now = self.world._now
        if deadline > now:
            self._queue_wakeup(kind, deadline - now, deadline)   # re-armed for later
            return
        del self._armed[kind]
        event = self._timer_events.get(kind)
        if event is None:
            event = self._timer_events[kind] = TimerFired(kind)
        buf = self._buffer                    # self._add, without its frame
        buf.append((now, "timer", self.addr, kind))
        if len(buf) >= self._batch:
            self.trace.flush()
        self._run(event)

    def _apply(self, effect: Apply) -> None:
        buf = self._buffer                    # self._add, without its frame
        buf.append((self.world._now, "apply", self.addr, effect.index, effect.term,
                    effect.command))
        if len(buf) >= self._batch:
            self.trace.flush()
        if self.on_apply is not None:
            self.on_apply(self, effect)

    def _snapshot(self, effect: ApplySnapshot) -> None:
        data = effect.data
        digest = hashlib.blake2b(data, digest_size=8).hexdigest()
        self._add((self.world._now, "snapshot", self.addr, effect.index, effect.term, len(data),
                   digest))
        if self.on_apply_snapshot is not None:
            self.on_apply_snapshot(self, effect)

    def _keep_proposed(self, effect: Proposed) -> None:
        self._proposed = effect

    def _role(self, effect: RoleChanged) -> None:
        self._add((self.world._now, "role", self.addr, effect.role, effect.term))
        if self.on_role is not None:
            self.on_role(self, effect)

    def _note(self, effect: Note) -> None:
        self._add((self.world._now, "note", self.addr, effect.what, effect.detail))
        if self.on_note is not None:
            self.on_note(self, effect)

    # ------------------------------------------------------------ life cycle

    @property
    def timers(self) -> tuple[str, ...]:
        """Kinds of the currently armed timers, in arming order."""
        return tuple(self._armed)

    def boot(self) -> None:
        """Start from the disk: ``step(init_state(), Restart(disk.read()))``."""
        if self.up:
            raise RuntimeError(f"{self.addr} is already up")
        self.up = True
        self.state = self.init_state()
        durable = self.disk.read()
        self._add((self.world._now, "restart", self.addr, self.incarnation, durable is None))
        if self.on_boot is not None:
            self.on_boot(self)
        self._run(Restart(durable))

    def restart(self) -> None:
        """Crash if up, then boot from the disk (labrpc's start1)."""
        if self.up:
            self.crash()
        self.boot()

    def crash(self, mid_step_after: int | None = None) -> None:
        """Crash now, or arm a crash that lands after ``mid_step_after`` effects of the next
        step (if it has fewer, after all of them). No-op on a down host."""
        if not self.up:
            return
        if mid_step_after is not None:
            self._crash_after = max(0, int(mid_step_after))
            return
        if self._busy:
            raise RuntimeError(f"{self.addr}: crash() inside its own step; use mid_step_after")
        self._crash(lost=0)

    def _crash(self, lost: int) -> None:
        self._add((self.world._now, "crash", self.addr, self.incarnation, lost))
        self.up = False
        self.incarnation += 1
        self.state = None
        self._armed.clear()
        self._wakeup.clear()
        self._crash_after = None
        if self.on_crash is not None:
            self.on_crash(self)

    def __repr__(self) -> str:
        return f"Host({self.addr!r}, up={self.up}, incarnation={self.incarnation})"


def _checked_send(host: Host, on_send: Hook,
                  transmit: Callable[[Host, Send], None]) -> Callable[[Send], None]:
    """The ``Send`` handler of a host with an ``on_send`` hook: ``on_send(host, effect)``
    before the network gets the message, so the hook may read ``host.disk`` (what the node
    has persisted at the moment it sends) and raise. Made once per host."""
    def send(effect: Send) -> None:
        on_send(host, effect)
        transmit(host, effect)
    return send
