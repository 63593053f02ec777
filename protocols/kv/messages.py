"""The KV service's wire shapes: clerk -> server requests, server -> clerk replies, and the Op
that a server puts into the Raft log.

Owns the shapes and error names only; never does I/O, never reads a clock or randomness and
never imports simpy. Replies carry ``IS_REPLY = True`` so drivers drop and delay them as replies.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

__all__ = [
    "GET", "PUT", "APPEND", "OPS",
    "OK", "ErrNoKey", "ErrWrongLeader", "ERRORS",
    "KVRequest", "KVReply", "Op",
]

GET, PUT, APPEND = "get", "put", "append"
OPS = (GET, PUT, APPEND)

OK = "OK"
# Get of a missing key answers OK with "" (as the lab's kvraft does); servers never send
# ErrNoKey, but clerks accept it as a successful empty read.
ErrNoKey = "ErrNoKey"
ErrWrongLeader = "ErrWrongLeader"
ERRORS = (OK, ErrNoKey, ErrWrongLeader)


class KVRequest(msgspec.Struct, frozen=True, tag=True):
    """Clerk ``client`` asks for operation number ``seq``: ``op`` is get / put / append.

    ``value`` is ignored for get. ``(client, seq)`` names the operation across retries.
    """
    client: str
    seq: int
    op: str
    key: str
    value: str = ""


class KVReply(msgspec.Struct, frozen=True, tag=True):
    """The server's answer to request ``seq``: ``err`` is OK or ErrWrongLeader; ``value`` is
    the Get result (empty for put and append)."""
    IS_REPLY: ClassVar[bool] = True
    seq: int
    err: str
    value: str = ""


class Op(msgspec.Struct, frozen=True, tag=True, array_like=True):
    """A client operation as a Raft log command. Array-like so that the persisted log (whose
    size drives snapshots) stays compact: one entry encodes to about 20 bytes plus the value."""
    client: str
    seq: int
    op: str
    key: str
    value: str = ""
