"""Raft's wire messages (extended paper, Figure 2 and §7) as immutable msgspec Structs.

Owns the message shapes only; never does I/O. Peers are named by their position in the
configuration's ``peers`` tuple. Like every frozen value of ``protocols.core``, messages are
not tracked by the cyclic garbage collector (``gc=False``): they cannot form a cycle. Replies carry ``IS_REPLY = True`` so drivers can apply
reply-specific network faults (labrpc drops and delays replies separately from requests).
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

__all__ = [
    "Entry", "RequestVote", "RequestVoteReply", "AppendEntries", "AppendEntriesReply",
    "InstallSnapshot", "InstallSnapshotReply", "RAFT_MESSAGES",
]


class Entry(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One log entry; its index is its position (the log is a persistent vector)."""
    term: int
    command: Any


class RequestVote(msgspec.Struct, frozen=True, tag=True, gc=False):
    term: int
    candidate: int
    last_log_index: int
    last_log_term: int


class RequestVoteReply(msgspec.Struct, frozen=True, tag=True, gc=False):
    IS_REPLY: ClassVar[bool] = True
    term: int
    voter: int
    granted: bool


class AppendEntries(msgspec.Struct, frozen=True, tag=True, gc=False):
    term: int
    leader: int
    prev_index: int
    prev_term: int
    entries: tuple[Entry, ...]
    leader_commit: int


class AppendEntriesReply(msgspec.Struct, frozen=True, tag=True, gc=False):
    """``match_index`` is prev_index + len(entries) of the request when ``success``.

    On failure the fast-backup hints (§5.3, the lab's XTerm/XIndex/XLen): ``conflict_term`` is the
    follower's term at prev_index (-1 when its log is too short) and ``conflict_index`` the first
    index it holds with that term (or its log length + 1 when too short).
    """
    IS_REPLY: ClassVar[bool] = True
    term: int
    follower: int
    success: bool
    match_index: int
    conflict_term: int = -1
    conflict_index: int = 0


class InstallSnapshot(msgspec.Struct, frozen=True, tag=True, gc=False):
    term: int
    leader: int
    last_index: int
    last_term: int
    data: bytes


class InstallSnapshotReply(msgspec.Struct, frozen=True, tag=True, gc=False):
    IS_REPLY: ClassVar[bool] = True
    term: int
    follower: int
    last_index: int


RAFT_MESSAGES = (RequestVote, RequestVoteReply, AppendEntries, AppendEntriesReply,
                 InstallSnapshot, InstallSnapshotReply)
