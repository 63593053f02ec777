"""The vocabulary shared by every step function: events in, effects out.

This module owns the shapes only. It never does I/O, never reads a clock or a random source and
never imports simpy or anything outside protocols/. Every node of raftsim (Raft peer, KV server,
clerk, ...) is a pure function ``step(state, event) -> (state, effects)`` over these types.

Conventions the drivers rely on:
- Addresses are strings (``"s0"``, ``"c3"``). Virtual time is in milliseconds.
- Effects are performed in list order. ``Persist`` always precedes any ``Send`` that depends on it.
- A timer kind names one timer per node; ``SetTimer`` re-arms it (cancelling a pending one). The
  driver draws the delay uniformly from ``[lo, hi]`` with the node's seeded stream; the explorer
  treats an armed timer as an enabled transition. Step functions never see randomness.
- Values are msgspec frozen Structs: immutable, hashable, cheap to copy and to encode.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "Event", "Effect",
    "Receive", "TimerFired", "Restart", "Propose", "TakeSnapshot", "ClientRequest",
    "Send", "Persist", "SetTimer", "CancelTimer", "Apply", "ApplySnapshot", "Reply",
    "Proposed", "ClientDone", "RoleChanged", "Note",
]


class Event(msgspec.Struct, frozen=True, tag=True):
    """Base of everything a driver feeds into a step function."""


class Effect(msgspec.Struct, frozen=True, tag=True):
    """Base of everything a step function asks its driver to do."""


# ---------------------------------------------------------------- events

class Receive(Event, frozen=True):
    """A network message from ``src`` arrived."""
    src: str
    msg: Any


class TimerFired(Event, frozen=True):
    """The armed timer ``kind`` expired."""
    kind: str


class Restart(Event, frozen=True):
    """(Re)boot. ``durable`` is exactly what the node last persisted, or None on a blank disk."""
    durable: Any = None


class Propose(Event, frozen=True):
    """The service above asks the node to replicate ``command`` (Raft's Start)."""
    command: Any


class TakeSnapshot(Event, frozen=True):
    """The service has applied everything up to ``index``; ``data`` captures that state."""
    index: int
    data: bytes


class ClientRequest(Event, frozen=True):
    """The application asks a client (clerk) node to perform ``op``."""
    op: Any


# ---------------------------------------------------------------- effects

class Send(Effect, frozen=True):
    """Put ``msg`` on the network towards ``dst``."""
    dst: str
    msg: Any


class Persist(Effect, frozen=True):
    """Make ``state`` durable (and ``snapshot`` too unless it is None: keep the stored one).

    The driver stores the values by reference: they are immutable.
    """
    state: Any
    snapshot: bytes | None = None


class SetTimer(Effect, frozen=True):
    """Arm (or re-arm) timer ``kind`` to fire after a delay drawn from ``[lo, hi]`` ms."""
    kind: str
    lo: float
    hi: float


class CancelTimer(Effect, frozen=True):
    """Disarm timer ``kind`` if it is armed."""
    kind: str


class Apply(Effect, frozen=True):
    """Deliver the committed entry at ``index`` to the service, in index order."""
    index: int
    term: int
    command: Any


class ApplySnapshot(Effect, frozen=True):
    """Replace the service state with ``data``, which covers every entry up to ``index``."""
    index: int
    term: int
    data: bytes


class Reply(Effect, frozen=True):
    """Answer a client request (a service-level effect; the driver routes it)."""
    dst: str
    msg: Any


class Proposed(Effect, frozen=True):
    """Synchronous answer to ``Propose``: the index and term the command got, if leader."""
    index: int
    term: int
    is_leader: bool


class ClientDone(Effect, frozen=True):
    """A clerk's answer to the application for the ``ClientRequest`` it was serving."""
    op: Any
    result: Any


class RoleChanged(Effect, frozen=True):
    """Observation for traces and invariants: the node's role or term changed."""
    role: str
    term: int


class Note(Effect, frozen=True):
    """Observation for traces only (e.g. a stale message ignored). Drivers may discard it."""
    what: str
    detail: Any = None
