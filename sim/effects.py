"""How a driver performs a step's effects: the semantics every driver shares.

Owns the two rules of the driver contract (protocols.core) that a driver could get subtly
wrong, so that the SimPy ``Host`` and the synchronous ``Cluster`` run the same code:

- the persist rule: the disk after a ``Persist`` (``protocols.core.persisted``, re-exported);
- performing a step's effects in list order by exact type, where a crash may land after the
  first ``k`` of them and the rest are lost (``perform``).

Never imports simpy, never reads a clock or a random source.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from protocols.core import persisted

__all__ = ["Handlers", "persisted", "perform", "perform_until_crash"]

#: Effect type -> what performs it. Dispatch is by exact type (no subclass lookup).
Handlers = Mapping[type, Callable[[Any], None]]


def perform(handlers: Handlers, effects: Iterable[Any], who: str = "") -> None:
    """Perform ``effects`` in list order, each by ``handlers[type(effect)]``; an effect with
    no handler is a ``TypeError`` naming ``who``. (``Host`` inlines this loop: hot path.)"""
    for effect in effects:
        try:
            handler = handlers[type(effect)]
        except KeyError:
            raise TypeError(f"{who}: no handler for effect {effect!r}") from None
        handler(effect)


def perform_until_crash(handlers: Handlers, effects: Iterable[Any], crash_after: int,
                        who: str = "") -> int:
    """A crash lands after the first ``crash_after`` effects: perform those (all of them if
    there are fewer; a negative count is 0) and return how many are lost. The caller then
    crashes the node: what was persisted stays, the rest of the step never happened."""
    listed = effects if isinstance(effects, list) else list(effects)
    k = max(0, crash_after)
    perform(handlers, listed[:k], who)
    return max(0, len(listed) - k)
