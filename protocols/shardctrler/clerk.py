"""The shard controller's clerk: the generic clerk of protocols.rsm with the controller's
requests and replies. ``ClientRequest(join({gid: servers}))`` and friends; a Query completes
with its ``Config``, a Join / Leave / Move with None, a Move to a non-member with ErrInvalid.
Never does I/O, never reads a clock or randomness and never imports simpy.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ..core import Effects
from ..rsm import clerk as rsm_clerk
from ..rsm.clerk import RETRY, ClerkConfig, ClerkState, init, is_idle
from .messages import CtrlOp, CtrlReply, CtrlRequest, ErrWrongLeader, Join, Leave, Move, OK, Query

__all__ = ["RETRY", "CLIENT", "ClerkConfig", "ClerkState", "init", "step", "is_idle",
           "join", "leave", "move", "query"]


def join(groups: Mapping[int, Iterable[str]]) -> Join:
    return Join(tuple(sorted((gid, tuple(servers)) for gid, servers in groups.items())))


def leave(gids: Iterable[int]) -> Leave:
    return Leave(tuple(sorted(gids)))


def move(shard: int, gid: int) -> Move:
    return Move(shard, gid)


def query(num: int = -1) -> Query:
    return Query(num)


def _outcome(op: Any, reply: CtrlReply) -> tuple[bool, Any]:
    if reply.err == ErrWrongLeader:
        return False, None
    return True, (reply.config if reply.err == OK else reply.err)


#: The shard controller as the generic clerk sees it.
CLIENT = rsm_clerk.Client(
    name="controller", accepts=lambda op: isinstance(op, CtrlOp),
    request=lambda client_id, seq, op: CtrlRequest(client_id, seq, op),
    reply=CtrlReply, outcome=_outcome)


def step(state: ClerkState, event: Any) -> tuple[ClerkState, Effects]:
    """Apply one event. Effects come back in the order the driver must perform them."""
    return rsm_clerk.step(CLIENT, state, event)
