"""The state machine of one replica group of the sharded KV service: the group's current (and
previous) configuration and, per shard it holds, the shard's state, data and duplicate table.

Owns what a committed command does: client operations on the shards the group serves,
configuration changes (one at a time, in order), installing a pulled shard, deleting a shard
once its new owner has it, and the per-shard state table (``ALLOWED_SHARD_TRANSITIONS``).
Never does I/O, never reads a clock or randomness, never imports simpy, and knows nothing of
Raft, leaders or replies. Its only outputs besides the machine are ``Note`` observations.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
from msgspec.structs import replace

from ..core import Note
from ..fmap import FrozenMap
from ..shardctrler.messages import INITIAL, Config
from .messages import (
    APPEND, GET, OK, PUT, ConfigCmd, DropCmd, ErrWrongGroup, GcDoneCmd, InstallCmd, NoopCmd,
    Pairs,
    Sessions, ShardOp, key2shard,
)

__all__ = [
    "SERVING", "PULLING", "SENDING", "GCING", "ABSENT", "SHARD_STATES", "SERVES",
    "ALLOWED_SHARD_TRANSITIONS", "IllegalShardTransition", "Shard", "ShardKVMachine", "empty",
    "apply_op", "observe_op", "apply_internal", "is_stable", "fingerprint", "encode_snapshot",
    "decode_snapshot", "shard_bytes",
]

#: A shard this group owns under its configuration and holds: it serves it.
SERVING = "serving"
#: A shard this group owns but whose data has not arrived from its previous owner: nobody serves it.
PULLING = "pulling"
#: A shard this group owned under the previous configuration: frozen, kept until its new owner
#: confirms it installed it, then deleted. Not served.
SENDING = "sending"
#: A shard this group pulled and serves, whose old copy the previous owner has not yet
#: confirmed deleting.
GCING = "gcing"
#: Not in the table: the group holds nothing of the shard.
ABSENT = "absent"

SHARD_STATES = (SERVING, PULLING, SENDING, GCING)
#: The states in which a group accepts client operations on a shard.
SERVES = frozenset((SERVING, GCING))

#: (from, to) -> the command that takes a shard there. Anything else is a bug and raises.
ALLOWED_SHARD_TRANSITIONS: dict[tuple[str, str], str] = {
    (ABSENT, SERVING): "config: the shard had no owner before (configuration 1)",
    (ABSENT, PULLING): "config: the shard is ours now, its previous owner still holds it",
    (PULLING, GCING): "install: the pulled shard arrived through our log",
    (GCING, SERVING): "gc-done: the previous owner confirmed it deleted its copy",
    (SERVING, SENDING): "config: the shard is no longer ours; freeze it for its new owner",
    (SENDING, ABSENT): "drop: the new owner confirmed it installed the shard",
}


class IllegalShardTransition(AssertionError):
    """A command tried a shard state change outside ``ALLOWED_SHARD_TRANSITIONS``."""


class Shard(msgspec.Struct, frozen=True):
    """One shard held by the group: its state, ``data`` (key -> value) and ``sessions``
    (client id -> highest seq applied to this shard), which travel together."""
    state: str
    data: Any = FrozenMap()
    sessions: Any = FrozenMap()


class ShardKVMachine(msgspec.Struct, frozen=True):
    """Group ``gid`` at configuration ``config`` (``prev`` the one before it); ``shards`` maps
    shard number -> Shard for every shard the group holds anything of."""
    gid: int
    config: Config = INITIAL
    prev: Config = INITIAL
    shards: Any = FrozenMap()


def empty(gid: int) -> ShardKVMachine:
    return ShardKVMachine(gid)


def is_stable(machine: ShardKVMachine) -> bool:
    """Every shard held is plainly served: the group may move to the next configuration."""
    return all(sh.state == SERVING for sh in machine.shards.values())


def _move(shards: Any, gid: int, shard: int, new: str, body: Shard | None = None) -> Any:
    """``shards`` with ``shard`` moved to state ``new`` (checked against the table)."""
    old = shards[shard].state if shard in shards else ABSENT
    if (old, new) not in ALLOWED_SHARD_TRANSITIONS:
        raise IllegalShardTransition(f"group {gid} shard {shard}: {old} -> {new}")
    if new == ABSENT:
        return shards.without(shard)
    if body is None:
        body = shards.get(shard, Shard(new))
    return shards.set(shard, replace(body, state=new))


def fingerprint(data: Pairs, sessions: Sessions) -> str:
    """A short deterministic digest of a shard's data and duplicate table together."""
    raw = msgspec.msgpack.encode((data, sessions))
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


def _pairs(shard: Shard) -> tuple[Pairs, Sessions]:
    return tuple(sorted(shard.data.items())), tuple(sorted(shard.sessions.items()))


# ---------------------------------------------------------------- client operations

def apply_op(machine: ShardKVMachine, op: ShardOp) -> tuple[ShardKVMachine, tuple[str, str]]:
    """Apply a client operation: ``(err, value)``. ErrWrongGroup unless the group's applied
    configuration gives it the shard and the shard is here; a Put / Append already applied to
    this shard (its duplicate table) changes nothing; a Get always reads."""
    s = key2shard(op.key, len(machine.config.shards))
    shard = machine.shards.get(s)
    if machine.config.shards[s] != machine.gid or shard is None or shard.state not in SERVES:
        return machine, (ErrWrongGroup, "")
    duplicate = op.seq <= shard.sessions.get(op.client, 0)
    value = shard.data.get(op.key, "")
    if op.op == GET or duplicate:
        result = value if op.op == GET else ""
    elif op.op == PUT:
        shard, result = replace(shard, data=shard.data.set(op.key, op.value)), ""
    elif op.op == APPEND:
        shard, result = replace(shard, data=shard.data.set(op.key, value + op.value)), ""
    else:
        raise ValueError(f"unknown operation {op.op!r}")   # servers only propose valid ops
    if not duplicate:
        shard = replace(shard, sessions=shard.sessions.set(op.client, op.seq))
    return replace(machine, shards=machine.shards.set(s, shard)), (OK, result)


def observe_op(machine: ShardKVMachine, op: ShardOp, result: tuple[str, str]) -> list[Any]:
    """The sharding invariants see every operation a group accepted."""
    if result[0] != OK:
        return []
    shard = key2shard(op.key, len(machine.config.shards))
    return [Note("shard-served", (machine.gid, machine.config.num, shard))]


# ---------------------------------------------------------------- the group's own commands

def apply_internal(machine: ShardKVMachine, command: Any) -> tuple[ShardKVMachine, list[Any]]:
    """Apply a configuration change or a hand-off step; a stale or repeated one (another
    leader proposed it too, or it was proposed twice) changes nothing."""
    kind = type(command)
    if kind is NoopCmd:
        return machine, []
    if kind is ConfigCmd:
        return apply_config(machine, command.config)
    num = machine.config.num
    if kind is InstallCmd:
        if command.num != num or _state(machine, command.shard) != PULLING:
            return machine, []
        body = Shard(GCING, FrozenMap(command.data), FrozenMap(command.sessions))
        shards = _move(machine.shards, machine.gid, command.shard, GCING, body)
        fp = fingerprint(command.data, command.sessions)
        return replace(machine, shards=shards), [
            Note("shard-installed", (machine.gid, num, command.shard, fp))]
    if kind is DropCmd:
        if command.num != num or _state(machine, command.shard) != SENDING:
            return machine, []
        shards = _move(machine.shards, machine.gid, command.shard, ABSENT)
        return replace(machine, shards=shards), [
            Note("shard-deleted", (machine.gid, num, command.shard))]
    if kind is GcDoneCmd:
        if command.num != num or _state(machine, command.shard) != GCING:
            return machine, []
        shards = _move(machine.shards, machine.gid, command.shard, SERVING)
        return replace(machine, shards=shards), []
    return machine, [Note("not a shardkv command", kind.__name__)]


def _state(machine: ShardKVMachine, shard: int) -> str:
    held = machine.shards.get(shard)
    return ABSENT if held is None else held.state


def apply_config(machine: ShardKVMachine, config: Config) -> tuple[ShardKVMachine, list[Any]]:
    """Move to ``config`` if it is the next one and nothing of the current one is in flight:
    shards gained are pulled (or start empty if nobody owned them), shards lost are frozen."""
    current = machine.config
    if config.num != current.num + 1 or not is_stable(machine):
        return machine, []
    gid, shards, notes = machine.gid, machine.shards, []
    for s in range(len(config.shards)):
        had, has = current.shards[s] == gid, config.shards[s] == gid
        if has and not had:
            target = SERVING if current.shards[s] == 0 else PULLING
            shards = _move(shards, gid, s, target)
        elif had and not has:
            shards = _move(shards, gid, s, SENDING)
            notes.append(Note("shard-frozen", (gid, config.num, s,
                                               fingerprint(*_pairs(shards[s])))))
    notes.insert(0, Note("shard-config", (gid, config.num, config.shards)))
    return replace(machine, config=config, prev=current, shards=shards), notes


# ---------------------------------------------------------------- snapshots and sizes

class _SnapShard(msgspec.Struct, frozen=True, array_like=True):
    shard: int
    state: str
    data: Pairs
    sessions: Sessions


class _Snapshot(msgspec.Struct, frozen=True, array_like=True):
    gid: int
    config: Config
    prev: Config
    shards: tuple[_SnapShard, ...]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Snapshot)


def encode_snapshot(machine: ShardKVMachine) -> bytes:
    """Deterministic bytes: shards, keys and sessions sorted."""
    shards = tuple(_SnapShard(s, sh.state, *_pairs(sh))
                   for s, sh in sorted(machine.shards.items()))
    return _encoder.encode(_Snapshot(machine.gid, machine.config, machine.prev, shards))


def decode_snapshot(gid: int, data: bytes) -> ShardKVMachine:
    if not data:
        return empty(gid)
    snap = _decoder.decode(data)
    shards = FrozenMap({sh.shard: Shard(sh.state, FrozenMap(sh.data), FrozenMap(sh.sessions))
                        for sh in snap.shards})
    return ShardKVMachine(snap.gid, snap.config, snap.prev, shards)


def shard_bytes(machine: ShardKVMachine) -> int:
    """Bytes of keys and values the group holds (every state): what GC keeps bounded."""
    return sum(len(k) + len(v) for sh in machine.shards.values() for k, v in sh.data.items())
