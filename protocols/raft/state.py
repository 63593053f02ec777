"""Raft node state, grouped by durability (as etcd does): what is persisted apart from what a
crash loses. Every value is an immutable, hashable msgspec Struct (untracked by the cyclic garbage
collector, ``gc=False``: a frozen value cannot be part of a cycle); the log is a persistent vector
so an append shares structure with the previous state.

Owns the state shapes and read-only accessors. Never does I/O, never reads a clock or randomness.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from pyrsistent import pvector

from .messages import Entry

__all__ = [
    "FOLLOWER", "CANDIDATE", "LEADER", "ROLE_NAMES", "ALLOWED_ROLE_TRANSITIONS",
    "RaftConfig", "HardState", "RaftState", "init",
    "is_leader", "current_term", "last_index", "term_at", "entry_at", "persisted_size",
    "hard_state_size",
]

# Final: the compiled build (tools/build_compiled.py) inlines them where they are used.
FOLLOWER: Final = 0
CANDIDATE: Final = 1
LEADER: Final = 2
ROLE_NAMES = ("follower", "candidate", "leader")

# Legal role changes (§5.2, Figure 4). Anything else is a bug in this package.
ALLOWED_ROLE_TRANSITIONS = frozenset({
    (FOLLOWER, FOLLOWER), (FOLLOWER, CANDIDATE),
    (CANDIDATE, CANDIDATE), (CANDIDATE, FOLLOWER), (CANDIDATE, LEADER),
    (LEADER, LEADER), (LEADER, FOLLOWER),
})


class RaftConfig(msgspec.Struct, frozen=True, gc=False):
    """Static facts about one peer. Times are virtual milliseconds.

    The election timeout is drawn by the driver from [election_lo, election_hi]; the lab
    requires a new leader within 5 s and at most 10 heartbeats per second.
    """
    me: int
    peers: tuple[str, ...]
    election_lo: float = 300.0
    election_hi: float = 600.0
    heartbeat: float = 100.0
    max_batch: int = 64


class HardState(msgspec.Struct, frozen=True, gc=False):
    """What Raft persists (Figure 2): term, vote and the log after the snapshot.

    ``log[0]`` is a sentinel standing for index ``log_start`` (the snapshot's last included index)
    and carrying that entry's term; the real entries follow it.
    """
    term: int
    voted_for: int
    log: Any
    log_start: int = 0


class RaftState(msgspec.Struct, frozen=True, gc=False):
    """A whole peer. ``hard`` and ``snapshot`` survive crashes; the rest is volatile."""
    config: RaftConfig
    hard: HardState
    snapshot: bytes = b""
    role: int = FOLLOWER
    leader: int = -1
    commit: int = 0
    applied: int = 0
    votes: int = 0
    next_index: tuple[int, ...] = ()
    match_index: tuple[int, ...] = ()


_EMPTY_LOG = pvector([Entry(0, None)])


def init(config: RaftConfig) -> RaftState:
    """A blank peer, before its first ``Restart`` event."""
    return RaftState(config=config, hard=HardState(term=0, voted_for=-1, log=_EMPTY_LOG))


def is_leader(state: RaftState) -> bool:
    return state.role == LEADER


def current_term(state: RaftState) -> int:
    return state.hard.term


def last_index(state: RaftState) -> int:
    hard = state.hard
    return hard.log_start + len(hard.log) - 1


def term_at(state: RaftState, index: int) -> int:
    """Term of the entry at ``index``; -1 when the index is not in the log (compacted or absent)."""
    hard = state.hard
    pos = index - hard.log_start
    if 0 <= pos < len(hard.log):
        return hard.log[pos].term
    return -1


def entry_at(state: RaftState, index: int) -> Entry | None:
    """The entry at ``index`` (None if compacted into the snapshot or beyond the log)."""
    hard = state.hard
    pos = index - hard.log_start
    if 0 < pos < len(hard.log):
        return hard.log[pos]
    return None


_encode = msgspec.msgpack.encode


def hard_state_size(hard: HardState) -> int:
    """Encoded size in bytes of what Raft persists (labrpc's RaftStateSize)."""
    return len(_encode((hard.term, hard.voted_for, hard.log_start, tuple(hard.log))))


def persisted_size(state: RaftState) -> int:
    """Encoded size of the peer's persisted Raft state, excluding the snapshot."""
    return hard_state_size(state.hard)
