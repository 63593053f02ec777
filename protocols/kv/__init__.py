"""The fault-tolerant key-value service over Raft (the lab's kvraft) as pure step functions.

Servers are a service of protocols.rsm: ``state = init(server_config(me, peers,
maxraftstate))``, then ``step(state, Restart(durable))`` and every later event through
``step``. Clerks: ``clerk.init(ClerkConfig(me, servers))`` and ``clerk.step`` with
``ClientRequest(KVOp(...))``. Never does I/O, never reads a
clock or randomness and never imports simpy; see docs/kv.md for the rules.
"""

from . import clerk, machine, server
from .clerk import RETRY, ClerkBusy, ClerkConfig, ClerkState, KVOp
from .machine import KVMachine, apply_op, decode_snapshot, encode_snapshot, get_value
from .messages import (
    APPEND, ERRORS, GET, OK, OPS, PUT, ErrNoKey, ErrWrongLeader, KVReply, KVRequest, Op,
)
from .server import SERVICE, current_term, init, is_leader, server_config, step

__all__ = [
    "init", "step", "server_config", "SERVICE", "is_leader", "current_term",
    "clerk", "machine", "server",
    "ClerkConfig", "ClerkState", "ClerkBusy", "KVOp", "RETRY",
    "KVMachine", "apply_op", "get_value", "encode_snapshot", "decode_snapshot",
    "KVRequest", "KVReply", "Op", "GET", "PUT", "APPEND", "OPS",
    "OK", "ErrNoKey", "ErrWrongLeader", "ERRORS",
]
