"""A generic replicated service over Raft (the lab's rsm) as a pure step function.

A service describes itself with a ``Service`` record (its request and reply types, its state
machine, its snapshot encoding); ``step(service, state, event)`` does the rest: propose,
track pending requests, reply only for the entry applied at the proposed index and term, fail
pending requests on step-down, snapshot at maxraftstate, restore from a snapshot. The KV server
is one such service (protocols.kv); the shard controller and sharded KV are meant to be more.
Never does I/O, never reads a clock or randomness and never imports simpy.
"""

from .server import (
    Pending, RSMConfig, RSMState, current_term, init, is_leader, propose, server_config, step,
)
from .service import Service

__all__ = [
    "Service", "RSMConfig", "RSMState", "Pending", "server_config", "init", "step", "propose",
    "is_leader", "current_term",
]
