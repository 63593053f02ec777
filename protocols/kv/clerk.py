"""The KV clerk: the generic clerk of protocols.rsm with the KV service's requests and replies.

Owns what a KV operation is (``KVOp``: get / put / append), the request that carries it and
when a reply completes it (OK, or ErrNoKey as an empty read). Retries, sequence numbers and
the dedup session live in protocols.rsm.clerk. Never does I/O, never reads a clock or
randomness and never imports simpy.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..core import Effects
from ..rsm import clerk as rsm_clerk
from ..rsm.clerk import RETRY, ClerkBusy, ClerkConfig, ClerkState, init, is_idle
from .messages import APPEND, GET, OPS, PUT, ErrNoKey, KVReply, KVRequest, OK

__all__ = [
    "RETRY", "KVOp", "CLIENT", "ClerkConfig", "ClerkState", "ClerkBusy", "init", "step",
    "get", "put", "append", "is_idle",
]


class KVOp(msgspec.Struct, frozen=True, tag=True):
    """What the application asks for: ``kind`` is get / put / append (``value`` unused by get)."""
    kind: str
    key: str
    value: str = ""


def get(key: str) -> KVOp:
    return KVOp(GET, key)


def put(key: str, value: str) -> KVOp:
    return KVOp(PUT, key, value)


def append(key: str, value: str) -> KVOp:
    return KVOp(APPEND, key, value)


def _outcome(op: KVOp, reply: KVReply) -> tuple[bool, Any]:
    """OK (or ErrNoKey, an empty read) completes the operation; a Get returns the value."""
    if reply.err in (OK, ErrNoKey):
        return True, reply.value if op.kind == GET else ""
    return False, None


#: The KV service as the generic clerk sees it.
CLIENT = rsm_clerk.Client(
    name="KV",
    accepts=lambda op: type(op) is KVOp and op.kind in OPS,
    request=lambda client_id, seq, op: KVRequest(client_id, seq, op.kind, op.key, op.value),
    reply=KVReply, outcome=_outcome)


def step(state: ClerkState, event: Any) -> tuple[ClerkState, Effects]:
    """Apply one event. Effects come back in the order the driver must perform them."""
    return rsm_clerk.step(CLIENT, state, event)
