"""The sharded key-value service (the lab's shardkv) as pure step functions: replica groups of
Raft servers, each serving the shards its applied configuration gives it, moving to the
controller's configurations one at a time through its log, pulling the shards it gains from
their previous owners and telling those owners when they may delete their copies.

Servers: ``init(server_config(gid, me, peers, ctrlers))`` then ``step``; clerks:
``clerk.init(clerk.ClerkConfig(me, ctrlers))`` and ``clerk.step`` with
``ClientRequest(clerk.put(key, value))``. Never does I/O, never reads a clock or randomness and
never imports simpy; see docs/shardkv.md.
"""

from . import clerk, machine, server
from .machine import (
    ABSENT, ALLOWED_SHARD_TRANSITIONS, GCING, PULLING, SENDING, SERVES, SERVING, SHARD_STATES,
    IllegalShardTransition, Shard, ShardKVMachine, is_stable, shard_bytes,
)
from .messages import ErrWrongGroup, ErrWrongLeader, OK, key2shard
from .server import POLL, ShardKVConfig, ShardKVState, init, is_leader, server_config, step

__all__ = [
    "clerk", "machine", "server", "init", "step", "server_config", "is_leader", "POLL",
    "ShardKVConfig", "ShardKVState", "ShardKVMachine", "Shard", "is_stable", "shard_bytes",
    "SERVING", "PULLING", "SENDING", "GCING", "ABSENT", "SHARD_STATES", "SERVES",
    "ALLOWED_SHARD_TRANSITIONS", "IllegalShardTransition", "OK", "ErrWrongGroup",
    "ErrWrongLeader", "key2shard",
]
