"""The sharded KV service's shapes: clerk <-> server requests and replies, the group-to-group
messages of shard migration and garbage collection, the commands a group puts into its Raft
log, and ``key2shard`` (the lab's).

Owns the shapes and error names only; never does I/O, never reads a clock or randomness and
never imports simpy. Replies carry ``IS_REPLY = True`` so drivers drop and delay them as replies.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from ..shardctrler.messages import NSHARDS, Config

__all__ = [
    "GET", "PUT", "APPEND", "OPS", "OK", "ErrNoKey", "ErrWrongLeader", "ErrWrongGroup",
    "key2shard", "ShardKVRequest", "ShardKVReply", "PullShard", "PullReply", "DeleteShard",
    "DeleteReply", "ShardOp", "ConfigCmd", "InstallCmd", "DropCmd", "GcDoneCmd", "NoopCmd", "Pairs",
    "Sessions",
]

GET, PUT, APPEND = "get", "put", "append"
OPS = (GET, PUT, APPEND)

OK = "OK"
ErrNoKey = "ErrNoKey"
ErrWrongLeader = "ErrWrongLeader"
ErrWrongGroup = "ErrWrongGroup"

#: A shard's data and duplicate table on the wire and in the log: sorted pairs.
Pairs = tuple[tuple[str, str], ...]
Sessions = tuple[tuple[str, int], ...]


def key2shard(key: str, nshards: int = NSHARDS) -> int:
    """The lab's key2shard: the first byte of the key modulo NShards ("" is shard 0);
    ``nshards``: a store of that many shards (the length of its configurations' table)."""
    return key.encode()[0] % nshards if key else 0


class ShardKVRequest(msgspec.Struct, frozen=True, tag=True):
    """Clerk ``client`` asks for operation number ``seq`` on ``key``."""
    client: str
    seq: int
    op: str
    key: str
    value: str = ""


class ShardKVReply(msgspec.Struct, frozen=True, tag=True):
    """``err``: OK, ErrWrongLeader or ErrWrongGroup; ``value`` the Get result."""
    IS_REPLY: ClassVar[bool] = True
    seq: int
    err: str
    value: str = ""


class PullShard(msgspec.Struct, frozen=True, tag=True):
    """The new owner of ``shard`` under configuration ``num`` asks its previous owner for it."""
    num: int
    shard: int


class PullReply(msgspec.Struct, frozen=True, tag=True):
    """The shard as its previous owner froze it when it applied configuration ``num``."""
    IS_REPLY: ClassVar[bool] = True
    num: int
    shard: int
    data: Pairs
    sessions: Sessions


class DeleteShard(msgspec.Struct, frozen=True, tag=True):
    """The new owner installed ``shard`` of configuration ``num``: the old copy may go."""
    num: int
    shard: int


class DeleteReply(msgspec.Struct, frozen=True, tag=True):
    """The previous owner's applied state no longer holds ``shard`` of configuration ``num``."""
    IS_REPLY: ClassVar[bool] = True
    num: int
    shard: int


# ---------------------------------------------------------------- log commands

class ShardOp(msgspec.Struct, frozen=True, tag=True, array_like=True):
    """A client operation as a Raft log command."""
    client: str
    seq: int
    op: str
    key: str
    value: str = ""


class ConfigCmd(msgspec.Struct, frozen=True, tag=True, array_like=True):
    """Move the group to ``config`` (the number after its current one)."""
    config: Config


class InstallCmd(msgspec.Struct, frozen=True, tag=True, array_like=True):
    """Install a pulled shard of configuration ``num`` with its duplicate table."""
    num: int
    shard: int
    data: Pairs
    sessions: Sessions


class DropCmd(msgspec.Struct, frozen=True, tag=True, array_like=True):
    """The new owner confirmed: delete our frozen copy of ``shard`` of configuration ``num``."""
    num: int
    shard: int


class NoopCmd(msgspec.Struct, frozen=True, tag=True, array_like=True):
    """Nothing: a new leader's first entry of its own term, so that it can commit (Raft
    §5.4.2) the entries its predecessor left uncommitted when nobody else proposes."""


class GcDoneCmd(msgspec.Struct, frozen=True, tag=True, array_like=True):
    """The previous owner confirmed it deleted ``shard``: nothing is owed for it any more."""
    num: int
    shard: int
