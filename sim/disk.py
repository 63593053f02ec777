"""The simulated disk of one host: what survives a crash.

A ``Disk`` keeps the values of the last ``Persist(state, snapshot)`` effects by reference (they
are immutable). ``read()`` returns exactly what ``Restart(durable)`` hands the step function on
boot: None for a blank disk, else ``Durable(state, snapshot)`` (the persist rule of
``sim.effects.persisted``, shared with the synchronous cluster). Sizes are measured only when
asked (the labs' LogSize / SnapshotSize). The disk never encodes on the write path.

The last ``keep`` writes are retained so a "lost un-fsynced writes" fault can roll the disk back
(``lose_last(n)``); with the default ``keep=1`` only the latest write exists.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec

from protocols.core import Durable, Persist
from sim.effects import persisted

__all__ = ["Disk"]

_encode = msgspec.msgpack.Encoder().encode


class Disk:
    """Durable storage of one host; survives ``Host.crash``.

    ``Persist(state, None)`` keeps the stored snapshot; a non-None snapshot replaces it.
    """

    __slots__ = ("_writes", "writes", "keep", "_evicted")

    def __init__(self, keep: int = 1) -> None:
        if keep < 1:
            raise ValueError("a disk keeps at least its last write")
        self.keep = keep
        self._writes: deque[Durable] = deque(maxlen=keep)
        self.writes = 0
        self._evicted = 0  # writes pushed out of the retained window: cannot be restored

    def write(self, state: Any, snapshot: bytes | None = None) -> None:
        """Persist ``state`` (and ``snapshot`` unless None) atomically."""
        self.persist(Persist(state, snapshot))

    def persist(self, effect: Persist) -> None:
        """Perform a ``Persist`` effect atomically, by the persist rule (``sim.effects``)."""
        writes = self._writes
        if len(writes) == self.keep:
            self._evicted += 1
        writes.append(persisted(writes[-1] if writes else None, effect))
        self.writes += 1

    def read(self) -> Durable | None:
        """The last write, or None on a blank disk."""
        return self._writes[-1] if self._writes else None

    def state_size(self) -> int:
        """Bytes of the persisted state, msgpack-encoded (0 on a blank disk)."""
        last = self.read()
        return 0 if last is None or last.state is None else len(_encode(last.state))

    def snapshot_size(self) -> int:
        """Bytes of the persisted snapshot: its length if bytes, else its msgpack size."""
        last = self.read()
        if last is None or last.snapshot is None:
            return 0
        snap = last.snapshot
        return len(snap) if isinstance(snap, (bytes, bytearray)) else len(_encode(snap))

    def lose_last(self, n: int) -> None:
        """Forget the ``n`` most recent writes (un-fsynced data lost in a power failure).

        Only retained writes can be dropped, and the disk may become blank only if no older
        write was pushed out of the window (keep it at least ``n + 1`` to lose ``n``).
        """
        if n <= 0:
            return
        retained = len(self._writes)
        if n > retained or (n == retained and self._evicted):
            raise ValueError(f"cannot lose {n} writes: only {retained} restorable")
        for _ in range(n):
            self._writes.pop()

    def copy(self) -> "Disk":
        """An independent disk with the same contents (labrpc's ``Persister.Copy``)."""
        other = Disk(self.keep)
        other._writes.extend(self._writes)
        other.writes = self.writes
        other._evicted = self._evicted
        return other

    def __repr__(self) -> str:
        return f"Disk(writes={self.writes}, blank={not self._writes})"
