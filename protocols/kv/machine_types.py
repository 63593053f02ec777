"""The records of the KV state machine (``machine.py``): the machine itself and its snapshot
wire form. msgspec Structs, kept in a module of their own so that ``machine.py`` may be
compiled (tools/build_compiled.py) while these stay interpreted; ``machine`` re-exports them.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..fmap import FrozenMap

__all__ = ["KVMachine"]

_EMPTY = FrozenMap()


class KVMachine(msgspec.Struct, frozen=True):
    """``data`` maps key -> value; ``sessions`` maps client id -> highest seq applied.

    Only the seq is kept per client, not a result: a Put/Append answers "" and a duplicate Get
    simply reads again (still inside the operation's interval, so still linearizable), which
    keeps the snapshot free of stored values.
    """
    data: Any = _EMPTY
    sessions: Any = _EMPTY


class _Snapshot(msgspec.Struct, frozen=True, array_like=True):
    """Wire form of a machine: sorted pairs, so equal machines encode to equal bytes."""
    data: tuple[tuple[str, str], ...]
    sessions: tuple[tuple[str, int], ...]
