"""The world: virtual time, the event loop and the seeded random streams of one run.

A ``World`` owns a SimPy ``Environment`` (virtual time in milliseconds, as a float) and every
source of randomness of a run. Randomness comes from named streams, each a ``random.Random``
seeded from ``blake2b(f"{seed}/{name}")``, so a stream depends only on the run's seed and its own
name: adding a client (``client/c9``) does not change which packets the ``net`` stream drops.

Callbacks are plain calls on SimPy's queue: an entry ``(time, NORMAL, eid, (fn, args))``,
pushed exactly as ``env.schedule`` pushes an event (same time, priority and tie-breaking
counter), whose event is the tuple ``(fn, args)``: no event object, no generator process per
callback. SimPy breaks time ties by insertion order, so the loop is deterministic. ``run`` is
SimPy's ``Environment.run`` with ``step`` inlined into its loop (the same queue, the same order,
the same handling of a stop and of a failed event), and it calls a plain call's ``fn(*args)``
directly. Only ``run`` may process the queue (never ``env.run`` or ``env.step``: they do not
know plain calls). This module never reads a clock and never uses the ``random`` module's
global functions.
"""

from __future__ import annotations

import hashlib
import random
import types
from heapq import heappop, heappush
from typing import Any, Callable, Final

import simpy
from simpy.core import EmptySchedule, StopSimulation
from simpy.events import NORMAL, URGENT, Event, EventPriority

__all__ = ["World", "stream_seed", "heap_push", "COMPILED"]

# Final: C statics in the compiled build, where a plain module-level name is a dict lookup.
_PUSH: Final = heappush
_POP: Final = heappop
_NORMAL: Final = NORMAL

def stream_seed(seed: int, name: str) -> int:
    """The 64-bit seed of stream ``name`` in a run seeded with ``seed``."""
    digest = hashlib.blake2b(f"{seed}/{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _heap_pop(heap: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """``heapq.heappop`` for the event queue, whose entries are (time, priority, eid, event):
    the times are compared as C doubles in the compiled build (a tuple comparison is a
    generic call per item), the priorities and eids only on a tie. The eid is unique (one
    counter for every push), so the key orders the entries totally and any valid heap pops
    them in heapq's order. Raises IndexError on an empty queue, as heappop does."""
    last = heap.pop()
    n = len(heap)
    if n == 0:
        return last
    top = heap[0]
    t: float = last[0]
    pos = 0
    child = 1
    while child < n:                      # sift ``last`` down from the root
        c = heap[child]
        ct: float = c[0]
        right = child + 1
        if right < n:
            r = heap[right]
            rt: float = r[0]
            if rt < ct or (rt == ct and (r[1], r[2]) < (c[1], c[2])):
                c, ct, child = r, rt, right
        if not (ct < t or (ct == t and (c[1], c[2]) < (last[1], last[2]))):
            break
        heap[pos] = c
        pos = child
        child = 2 * pos + 1
    heap[pos] = last
    return top


def heap_push(heap: list[tuple[Any, ...]], entry: tuple[Any, ...]) -> None:
    """``heapq.heappush`` for the event queue, comparing as ``_heap_pop`` does (times as C
    doubles when compiled). Both keep heapq's invariant on the same total order, so they mix
    with SimPy's own heappush and heappop."""
    heap.append(entry)
    pos = len(heap) - 1
    t: float = entry[0]
    while pos > 0:                        # sift ``entry`` up from the last position
        parent = (pos - 1) >> 1
        p = heap[parent]
        pt: float = p[0]
        if not (t < pt or (t == pt and (entry[1], entry[2]) < (p[1], p[2]))):
            break
        heap[pos] = p
        pos = parent
    heap[pos] = entry


#: Whether this module runs compiled (tools/build_compiled.py): its functions are then
#: built-ins. The queue is pushed and popped with ``heap_push`` and ``_heap_pop`` only then
#: (native calls, native compares); interpreted, heapq's C functions are faster. Hot paths
#: elsewhere test it before a push: ``heap_push(q, e) if COMPILED else heappush(q, e)``.
COMPILED: Final = not isinstance(_heap_pop, types.FunctionType)


class World:
    """One simulated run: a SimPy environment, virtual time in ms and seeded streams.

    ``run(until)`` processes events strictly before ``until`` and may be called again to
    continue. ``stop(reason)`` ends the run for good: no later event runs, and ``run`` returns
    the reason (also kept in ``stop_reason``).
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self.env = simpy.Environment(initial_time=0.0)
        #: ``env._now``, kept equal to it by ``run`` (the only code that advances time): an
        #: attribute of this class, read natively by the compiled build's hosts and network,
        #: where ``env._now`` is a generic attribute lookup on SimPy's environment.
        self._now: Any = self.env._now
        self._streams: dict[str, random.Random] = {}
        self._schedule = self.env.schedule
        #: SimPy's event queue and its tie-breaking counter: hot paths push a plain call
        #: ``(now + delay, NORMAL, next(eid), (fn, args))`` themselves, as ``call_later`` does.
        self.queue: list = self.env._queue
        self.eid = self.env._eid
        self._running = False
        self.stop_reason: Any = None
        self.stopped = False
        self.networks: list[Any] = []     # every Network of this run adds itself (its traffic)

    # ------------------------------------------------------------ time and randomness

    @property
    def now(self) -> float:
        """The current virtual time in milliseconds."""
        return self.env.now

    def rng(self, name: str) -> random.Random:
        """The stream called ``name``; the same object on every call, so draws continue."""
        stream = self._streams.get(name)
        if stream is None:
            stream = self._streams[name] = random.Random(stream_seed(self.seed, name))
        return stream

    # ------------------------------------------------------------ scheduling

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        """Call ``fn(*args)`` after ``delay`` ms of virtual time (ties run in FIFO order)."""
        entry = (self._now + delay, _NORMAL, next(self.eid), (fn, args))
        heap_push(self.queue, entry) if COMPILED else _PUSH(self.queue, entry)

    def call_at(self, time: float, fn: Callable[..., Any], *args: Any) -> None:
        """Call ``fn(*args)`` at absolute virtual time ``time`` (not in the past)."""
        delay = time - self.env.now
        if delay < 0:
            raise ValueError(f"call_at({time}) is in the past (now={self.env.now})")
        self.call_later(delay, fn, *args)

    def schedule(self, event: Any, delay: float) -> None:
        """Push a prepared event object (with ``callbacks`` and ``_ok``) ``delay`` ms ahead."""
        self._schedule(event, NORMAL, delay)

    # ------------------------------------------------------------ running

    def run(self, until: float | None = None) -> Any:
        """Process events before virtual time ``until`` (all of them if None).

        Returns the stop reason if the run was stopped, else None. Exceptions raised by a
        callback (bugs, invariant violations not turned into a stop) propagate.
        """
        if self.stopped:
            return self.stop_reason
        if until is not None and until <= self.env.now:
            return None
        self._running = True
        try:
            _run(self, self.env, until)
        finally:
            self._running = False
        return self.stop_reason     # None unless stopped (a narrowed ``self.stopped`` misleads mypyc)

    def stop(self, reason: Any) -> None:
        """End the run: record ``reason`` and, inside ``run``, unwind at once.

        The callback that calls ``stop`` is abandoned at that point; nothing scheduled runs
        afterwards, and later ``run`` calls return the reason immediately.
        """
        if not self.stopped:
            self.stopped = True
            self.stop_reason = reason
        if self._running:
            raise StopSimulation(self.stop_reason)

    def __repr__(self) -> str:
        return f"World(seed={self.seed}, now={self.env.now})"


def _run(world: World, env: simpy.Environment, until: float | None) -> None:
    """``env.run(until)`` for a number or None, with ``env.step`` inlined (SimPy 4's code),
    and plain calls ``(fn, args)`` called as ``fn(*args)``."""
    if until is not None:
        at = until if isinstance(until, int) else float(until)
        stop: Event = Event(env)       # before every regular event at ``at``, as SimPy does
        stop._ok = True
        stop._value = None
        env.schedule(stop, URGENT, at - env._now)
        stop.callbacks.append(StopSimulation.callback)
    queue: list[Any] = env._queue
    event: Any
    entry: tuple[Any, Any, Any, Any]       # typed: unpacked by position in the compiled build
    compiled = COMPILED                   # a local: one test a pop, interpreted too
    try:
        while True:
            try:
                if compiled:
                    entry = _heap_pop(queue)
                else:
                    entry = _POP(queue)
            except IndexError:
                raise EmptySchedule from None
            now, _, _, event = entry
            env._now = world._now = now
            if type(event) is tuple:       # a plain call: a stop inside it ends the run
                event[0](*event[1])
                continue
            callbacks, event.callbacks = event.callbacks, None
            try:
                for callback in callbacks:
                    callback(event)
            except StopSimulation:
                # As SimPy: the event's remaining callbacks run when the loop resumes.
                event.callbacks = callbacks[callbacks.index(callback) + 1:]
                env.schedule(event, EventPriority(-1))
                raise
            if not event._ok and not hasattr(event, "_defused"):
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                raise exc
    except StopSimulation:
        return
    except EmptySchedule:
        if until is not None:
            raise RuntimeError(f'No scheduled events left but "until" event was not '
                               f'triggered: {stop}') from None
