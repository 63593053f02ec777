"""The shard controller's shapes: configurations, the four operations, the wire messages and
the log command (the lab's shardctrler, NShards = 10; a smaller store starts from
``initial(nshards)`` and every later configuration has as many shards).

Owns the shapes and error names only; never does I/O, never reads a clock or randomness and
never imports simpy. Groups are kept as tuples sorted by gid, so equal configurations are equal
values whatever order the groups joined in.
"""

from __future__ import annotations

from typing import ClassVar, Union

import msgspec

__all__ = [
    "NSHARDS", "Config", "Join", "Leave", "Move", "Query", "CtrlOp", "AnyCtrlOp",
    "CtrlRequest", "CtrlReply", "CtrlCommand", "OK", "ErrWrongLeader", "ErrInvalid",
    "INITIAL", "initial",
]

NSHARDS = 10

OK = "OK"
ErrWrongLeader = "ErrWrongLeader"
ErrInvalid = "ErrInvalid"        # a Move to a group that is not a member: applied as a no-op

Groups = tuple[tuple[int, tuple[str, ...]], ...]


class Config(msgspec.Struct, frozen=True, array_like=True):
    """Configuration ``num``: ``shards[s]`` is the gid owning shard ``s`` (0: nobody);
    ``groups`` maps each member gid to its servers, as pairs sorted by gid."""
    num: int
    shards: tuple[int, ...]
    groups: Groups = ()

    def gids(self) -> tuple[int, ...]:
        return tuple(gid for gid, _ in self.groups)

    def servers(self, gid: int) -> tuple[str, ...]:
        """The servers of member ``gid`` (empty if not a member)."""
        for g, servers in self.groups:
            if g == gid:
                return servers
        return ()


def initial(nshards: int = NSHARDS) -> Config:
    """Configuration 0 of a store of ``nshards`` shards: no groups, every shard unassigned."""
    return Config(0, (0,) * nshards)


#: Configuration 0 of the lab's store: no groups, every shard unassigned.
INITIAL = initial()


class Join(msgspec.Struct, frozen=True, tag=True):
    """New groups (gid, servers), sorted by gid."""
    servers: Groups


class Leave(msgspec.Struct, frozen=True, tag=True):
    gids: tuple[int, ...]


class Move(msgspec.Struct, frozen=True, tag=True):
    """Give ``shard`` to ``gid`` (a member)."""
    shard: int
    gid: int


class Query(msgspec.Struct, frozen=True, tag=True):
    """Configuration ``num``; -1 (or a number not reached yet) asks for the latest."""
    num: int = -1


AnyCtrlOp = Union[Join, Leave, Move, Query]
CtrlOp = (Join, Leave, Move, Query)


class CtrlRequest(msgspec.Struct, frozen=True, tag=True):
    """Clerk ``client`` asks for operation number ``seq``."""
    client: str
    seq: int
    op: AnyCtrlOp


class CtrlReply(msgspec.Struct, frozen=True, tag=True):
    """The answer to request ``seq``: ``err`` is OK, ErrWrongLeader or ErrInvalid; ``config``
    the configuration a Query asked for."""
    IS_REPLY: ClassVar[bool] = True
    seq: int
    err: str
    config: Config | None = None


class CtrlCommand(msgspec.Struct, frozen=True, tag=True, array_like=True):
    """An operation as a Raft log command."""
    client: str
    seq: int
    op: AnyCtrlOp
