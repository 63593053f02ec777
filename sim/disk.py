"""The simulated disk of one host: what survives a crash.

A ``Disk`` keeps the value of the last ``Persist(state, snapshot)`` by reference (it is
immutable). ``read()`` returns exactly what ``Restart(durable)`` hands the step function on
boot: None for a blank disk, else ``Durable(state, snapshot)`` (the persist rule of
``sim.effects.persisted``, shared with the synchronous cluster). The disk never encodes: sizes
are measured by whoever asks (the labs' LogSize / SnapshotSize live in the testers).
"""

from __future__ import annotations

from typing import Any

from protocols.core import Durable, Persist
from sim.effects import persisted

__all__ = ["Disk"]


class Disk:
    """Durable storage of one host; survives ``Host.crash``.

    ``Persist(state, None)`` keeps the stored snapshot; a non-None snapshot replaces it.
    ``writes`` counts the writes since the disk was made.
    """

    __slots__ = ("_last", "writes")

    def __init__(self) -> None:
        self._last: Durable | None = None
        self.writes = 0

    def write(self, state: Any, snapshot: bytes | None = None) -> None:
        """Persist ``state`` (and ``snapshot`` unless None) atomically."""
        self.persist(Persist(state, snapshot))

    def persist(self, effect: Persist) -> None:
        """Perform a ``Persist`` effect atomically, by the persist rule (``sim.effects``)."""
        self._last = persisted(self._last, effect)
        self.writes += 1

    def read(self) -> Durable | None:
        """The last write, or None on a blank disk."""
        return self._last

    def __repr__(self) -> str:
        return f"Disk(writes={self.writes}, blank={self._last is None})"
