"""The shard controller (the lab's shardctrler) as pure step functions: a replicated service
on protocols.rsm holding the history of configurations (shard -> group, group -> servers), with
Join / Leave / Move / Query, duplicate suppression, deterministic minimal rebalancing and a
clerk. Never does I/O, never reads a clock or randomness and never imports simpy; see
docs/shardctrler.md.
"""

from . import clerk, machine, server
from .machine import CtrlMachine, apply_command, latest, rebalance
from .messages import (
    INITIAL, NSHARDS, Config, CtrlCommand, CtrlReply, CtrlRequest, ErrInvalid, ErrWrongLeader,
    Join, Leave, Move, OK, Query,
)
from .server import SERVICE, current_term, init, is_leader, server_config, step

__all__ = [
    "clerk", "machine", "server", "SERVICE", "server_config", "init", "step", "is_leader",
    "current_term", "CtrlMachine", "apply_command", "latest", "rebalance",
    "NSHARDS", "INITIAL", "Config", "Join", "Leave", "Move", "Query", "CtrlRequest",
    "CtrlReply", "CtrlCommand", "OK", "ErrWrongLeader", "ErrInvalid",
]
