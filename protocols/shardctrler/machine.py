"""The shard controller's replicated state machine: the history of configurations, Join /
Leave / Move / Query with at-most-once execution per (client, seq), deterministic minimal
rebalancing, and the snapshot encoding.

Owns what a committed operation does to the configurations. Never does I/O, never reads a clock
or randomness, never imports simpy, and knows nothing of Raft, leaders or replies.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec.structs import replace

from ..fmap import FrozenMap
from .messages import (
    INITIAL, NSHARDS, Config, CtrlCommand, ErrInvalid, Join, Leave, Move, OK, Query, initial,
)

__all__ = ["CtrlMachine", "empty", "apply_command", "rebalance", "latest", "encode_snapshot",
           "decode_snapshot"]

_EMPTY: FrozenMap = FrozenMap()


class CtrlMachine(msgspec.Struct, frozen=True):
    """``configs[n]`` is configuration ``n``; ``sessions`` maps client id -> highest seq applied."""
    configs: tuple[Config, ...] = (INITIAL,)
    sessions: Any = _EMPTY


def empty(nshards: int = NSHARDS) -> CtrlMachine:
    """No configuration but number 0, of ``nshards`` shards (the lab's 10 by default)."""
    return CtrlMachine() if nshards == NSHARDS else CtrlMachine((initial(nshards),))


def latest(machine: CtrlMachine) -> Config:
    return machine.configs[-1]


def rebalance(shards: tuple[int, ...], gids: tuple[int, ...]) -> tuple[int, ...]:
    """Spread the shards over ``gids`` as evenly as possible (max - min <= 1) while moving only
    the shards that must move: those of groups that left (or of nobody) and a group's excess.

    Deterministic: ties are broken by gid and shard number, never by dict or set order. The
    groups that already hold the most shards keep the larger quotas, so a Join moves at most
    NShards / groups + 1 shards (the bound of the lab's TestMinimalAgain).
    """
    members = sorted(set(gids))
    if not members:
        return (0,) * len(shards)
    owned: dict[int, list[int]] = {gid: [] for gid in members}
    free: list[int] = []
    for shard, gid in enumerate(shards):
        (owned[gid] if gid in owned else free).append(shard)
    base, extra = divmod(len(shards), len(members))
    by_size = sorted(members, key=lambda gid: (-len(owned[gid]), gid))
    quota = {gid: base + (1 if rank < extra else 0) for rank, gid in enumerate(by_size)}
    for gid in members:                    # a group above its quota gives up its highest shards
        while len(owned[gid]) > quota[gid]:
            free.append(owned[gid].pop())
    free.sort()
    for gid in members:                    # groups below quota take free shards, lowest first
        while len(owned[gid]) < quota[gid]:
            owned[gid].append(free.pop(0))
    out = [0] * len(shards)
    for gid, mine in owned.items():
        for shard in mine:
            out[shard] = gid
    return tuple(out)


def apply_command(machine: CtrlMachine, command: CtrlCommand) -> tuple[CtrlMachine, Any]:
    """Apply one committed command; returns the machine and ``(err, config or None)``.

    A Join / Leave / Move whose (client, seq) was already applied changes nothing. A Query
    always reads (inside its operation's interval, so still linearizable).
    """
    op = command.op
    if type(op) is Query:
        configs = machine.configs
        config = configs[op.num] if 0 <= op.num < len(configs) else configs[-1]
        return _record(machine, command), (OK, config)
    if command.seq <= machine.sessions.get(command.client, 0):
        return machine, (OK, None)
    current = latest(machine)
    if type(op) is Join:
        groups = dict(current.groups)
        groups.update(op.servers)
        new = _next(current, current.shards, groups)
        new = replace(new, shards=rebalance(new.shards, new.gids()))
    elif type(op) is Leave:
        groups = {g: s for g, s in current.groups if g not in op.gids}
        new = _next(current, current.shards, groups)
        new = replace(new, shards=rebalance(new.shards, new.gids()))
    elif type(op) is Move:
        if op.gid not in current.gids() or not 0 <= op.shard < len(current.shards):
            return _record(machine, command), (ErrInvalid, None)
        shards = current.shards[:op.shard] + (op.gid,) + current.shards[op.shard + 1:]
        new = _next(current, shards, dict(current.groups))
    else:
        raise ValueError(f"unknown controller operation {op!r}")   # servers check requests
    machine = replace(machine, configs=machine.configs + (new,))
    return _record(machine, command), (OK, None)


def _next(current: Config, shards: tuple[int, ...], groups: dict[int, Any]) -> Config:
    return Config(current.num + 1, shards, tuple(sorted(groups.items())))


def _record(machine: CtrlMachine, command: CtrlCommand) -> CtrlMachine:
    if command.seq <= machine.sessions.get(command.client, 0):
        return machine
    return replace(machine, sessions=machine.sessions.set(command.client, command.seq))


# ---------------------------------------------------------------- snapshots

class _Snapshot(msgspec.Struct, frozen=True, array_like=True):
    configs: tuple[Config, ...]
    sessions: tuple[tuple[str, int], ...]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Snapshot)


def encode_snapshot(machine: CtrlMachine) -> bytes:
    """Deterministic bytes: sessions sorted (map order follows the history of updates)."""
    return _encoder.encode(_Snapshot(machine.configs, tuple(sorted(machine.sessions.items()))))


def decode_snapshot(data: bytes, nshards: int = NSHARDS) -> CtrlMachine:
    if not data:
        return empty(nshards)
    snap = _decoder.decode(data)
    return CtrlMachine(snap.configs, FrozenMap(snap.sessions))
