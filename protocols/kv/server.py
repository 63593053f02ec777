"""The KV server: the key-value state machine served over Raft by the generic replicated
service (protocols.rsm), as one pure step function ``step(state, event) -> (state, effects)``.

Owns what the KV service tells the generic server: which requests it accepts, the log command
for each, the replies, and how the machine snapshots. Pending replies, step-down and the
snapshot policy live in protocols.rsm; Raft's rules in protocols.raft. Never does I/O, never
reads a clock or randomness, never imports simpy.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from .. import rsm
from .machine import apply_all, apply_op, decode_snapshot, empty, encode_snapshot
from .messages import GET, OK, OPS, ErrWrongLeader, KVReply, KVRequest, Op

__all__ = ["SERVICE", "server_config", "init", "step", "is_leader", "current_term"]


def _malformed(msg: KVRequest) -> Any:
    return None if msg.op in OPS else msg.op


def _command(msg: KVRequest) -> Op:
    return Op(msg.client, msg.seq, msg.op, msg.key, "" if msg.op == GET else msg.value)


def _identity(command: Any) -> tuple[str, int] | None:
    return (command.client, command.seq) if type(command) is Op else None


def _answer(seq: int, value: str) -> KVReply:
    return KVReply(seq, OK, value)


def _refuse(seq: int) -> KVReply:
    return KVReply(seq, ErrWrongLeader)


#: The key-value service as the generic server over Raft sees it.
SERVICE = rsm.Service(
    name="KV", request=KVRequest, reply=KVReply, malformed=_malformed, command=_command,
    identity=_identity, empty=empty, apply=apply_op, encode=encode_snapshot,
    decode=decode_snapshot, answer=_answer, refuse=_refuse, apply_all=apply_all)


# The server is the generic one with this service: rsm's functions, bound to SERVICE.
server_config = rsm.server_config
init = partial(rsm.init, SERVICE)
step = partial(rsm.step, SERVICE)
is_leader = rsm.is_leader
current_term = rsm.current_term
