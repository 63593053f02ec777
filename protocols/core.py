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
- Values are msgspec frozen Structs: immutable, hashable, cheap to copy and to encode. Events,
  effects and ``Durable`` are not tracked by the cyclic garbage collector (``gc=False``): a
  frozen value cannot be part of a reference cycle, and a run makes millions of them.
- A message type is a reply when its class says ``IS_REPLY = True`` (a ``ClassVar``); drivers
  ask ``is_reply(msg)`` (labrpc drops and delays replies apart from requests). Everything else
  on the wire is a request.

The driver contract, which every driver (the SimPy ``Host``, the synchronous cluster, and any
later one) honours in the same way:

- a node is a ``StepFn``: ``step(state, event) -> (state, effects)`` with ``effects`` an
  ``Effects`` list;
- ``Persist(state, snapshot)`` writes a ``Durable``; a None snapshot keeps the stored one
  (``persisted``, the one implementation of that rule);
- on (re)boot the driver hands the node ``Restart(durable)``: the last ``Durable`` written, or
  None on a blank disk. Nothing else survives a crash;
- a crash may land between two effects of one step: the effects before it happened, the rest
  are lost.
"""

from __future__ import annotations

from typing import Any, Callable, TypeAlias

import msgspec

__all__ = [
    "Event", "Effect", "Effects", "StepFn", "Durable", "persisted", "is_reply",
    "Receive", "TimerFired", "Restart", "Propose", "TakeSnapshot", "ClientRequest",
    "Send", "Persist", "SetTimer", "CancelTimer", "Apply", "ApplySnapshot",
    "Proposed", "ClientDone", "RoleChanged", "Note",
]


class Event(msgspec.Struct, frozen=True, tag=True, gc=False):
    """Base of everything a driver feeds into a step function."""


class Effect(msgspec.Struct, frozen=True, tag=True, gc=False):
    """Base of everything a step function asks its driver to do."""


#: What a step returns besides the new state, in the order the driver performs it.
Effects: TypeAlias = "list[Any]"

#: A node: ``step(state, event) -> (state, effects)``; pure and deterministic.
StepFn: TypeAlias = "Callable[[Any, Any], tuple[Any, list[Any]]]"


class Durable(msgspec.Struct, frozen=True, gc=False):
    """What a node persisted: its durable ``state`` and its latest ``snapshot`` (None if it
    never wrote one). Exactly this comes back in ``Restart`` after a crash."""
    state: Any
    snapshot: bytes | None = None


def persisted(durable: Durable | None, effect: "Persist") -> Durable:
    """What a disk holding ``durable`` (None: blank) holds after ``effect``: its state, and its
    snapshot unless that is None, which keeps the stored one."""
    snapshot = effect.snapshot
    if snapshot is None and durable is not None:
        snapshot = durable.snapshot
    return Durable(effect.state, snapshot)


def is_reply(msg: Any) -> bool:
    """True if ``msg``'s type marks itself a reply (``IS_REPLY = True``)."""
    return bool(getattr(type(msg), "IS_REPLY", False))


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
    durable: Durable | None = None


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
