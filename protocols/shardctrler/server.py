"""The shard controller server: its state machine served over Raft by the generic replicated
service (protocols.rsm), as one pure step function ``step(state, event) -> (state, effects)``.

Owns what the controller tells the generic server: which requests are well formed, the log
command for each, the replies, and how its machine snapshots. Never does I/O, never reads a
clock or randomness, never imports simpy.
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import Any

from .. import rsm
from .machine import apply_command, decode_snapshot, empty, encode_snapshot
from .messages import (
    NSHARDS, CtrlCommand, CtrlReply, CtrlRequest, ErrWrongLeader, Join, Leave, Move, Query,
)

__all__ = ["SERVICE", "service", "server_config", "init", "step", "is_leader", "current_term",
           "malformed"]


def malformed(msg: CtrlRequest) -> Any:
    """None for a request the controller can run, else what is wrong with it."""
    op = msg.op
    if type(op) is Join:
        if not op.servers or any(gid <= 0 or not servers for gid, servers in op.servers):
            return "Join needs groups with a positive gid and servers"
        if len({gid for gid, _ in op.servers}) != len(op.servers):
            return "Join names a group twice"
    elif type(op) is Leave:
        if not op.gids or any(gid <= 0 for gid in op.gids):
            return "Leave needs positive gids"
    elif type(op) is Move:
        if not 0 <= op.shard < NSHARDS or op.gid <= 0:
            return f"Move needs a shard in [0, {NSHARDS}) and a positive gid"
    elif type(op) is not Query:
        return type(op).__name__
    return None


def _identity(command: Any) -> tuple[str, int] | None:
    return (command.client, command.seq) if type(command) is CtrlCommand else None


@lru_cache(maxsize=None)
def service(nshards: int = NSHARDS) -> rsm.Service:
    """The shard controller of a store of ``nshards`` shards as the generic server over Raft
    sees it (``SERVICE``: the lab's 10 shards)."""
    return rsm.Service(
        name="controller", request=CtrlRequest, reply=CtrlReply, malformed=malformed,
        command=lambda msg: CtrlCommand(msg.client, msg.seq, msg.op), identity=_identity,
        empty=partial(empty, nshards), apply=apply_command, encode=encode_snapshot,
        decode=partial(decode_snapshot, nshards=nshards),
        answer=lambda seq, result: CtrlReply(seq, result[0], result[1]),
        refuse=lambda seq: CtrlReply(seq, ErrWrongLeader))


#: The shard controller as the generic server over Raft sees it.
SERVICE = service(NSHARDS)


# The server is the generic one with this service: rsm's functions, bound to SERVICE.
server_config = rsm.server_config
init = partial(rsm.init, SERVICE)
step = partial(rsm.step, SERVICE)
is_leader = rsm.is_leader
current_term = rsm.current_term
