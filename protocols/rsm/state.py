"""The replicated service's records (msgspec Structs), apart from its step function so that a
compiled build (tools/build_compiled.py) can compile ``server`` without them: mypyc drops
Struct class options (``frozen``, ``array_like``). ``protocols.rsm.server`` re-exports them.
Never does I/O, never reads a clock or randomness, never imports simpy."""

from __future__ import annotations

from typing import Any

import msgspec

from .. import raft
from ..fmap import FrozenMap

__all__ = ["RSMConfig", "Pending", "RSMState"]

_NO_PENDING: FrozenMap = FrozenMap()


class RSMConfig(msgspec.Struct, frozen=True):
    """Static facts about one server: its Raft peer configuration and the lab's
    ``maxraftstate`` (snapshot once the persisted Raft state reaches that many bytes; -1 or 0
    never snapshots)."""
    raft: raft.RaftConfig
    maxraftstate: int = -1


class Pending(msgspec.Struct, frozen=True, array_like=True):
    """A reply owed by this node as leader: who asked (address and client id), which operation,
    and the term in which it was proposed."""
    addr: str
    client: str
    seq: int
    term: int


class RSMState(msgspec.Struct, frozen=True):
    """One server. Only ``raft``'s hard state and snapshot survive a crash (through Raft's
    Persist); the machine is rebuilt from the snapshot and the log, ``pending`` is lost.

    ``pending`` maps Raft index -> Pending (int keys; failed in sorted order).
    """
    config: RSMConfig
    raft: raft.RaftState
    machine: Any
    applied: int = 0
    pending: Any = _NO_PENDING
