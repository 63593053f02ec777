"""The replicated key-value state machine: Get / Put / Append over strings, at-most-once
execution per (client, seq), and its deterministic snapshot encoding.

Owns what a committed Op does to the data. Never does I/O, never reads a clock or randomness,
never imports simpy, and knows nothing of Raft, leaders or replies.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from msgspec.structs import astuple, replace

from ..fmap import FrozenMap
from .machine_types import KVMachine, _Snapshot
from .messages import APPEND, GET, PUT, Op

__all__ = [
    "KVMachine", "empty", "apply_op", "apply_all", "is_duplicate", "get_value",
    "encode_snapshot", "decode_snapshot",
]


def empty() -> KVMachine:
    """The state before any operation: no keys, no sessions."""
    return KVMachine()


def get_value(machine: KVMachine, key: str) -> str:
    """The value of ``key``; a missing key reads as "" (the lab's kvraft)."""
    return machine.data.get(key, "")


def is_duplicate(machine: KVMachine, client: str, seq: int) -> bool:
    """True if operation ``seq`` of ``client`` (or a later one) was already applied."""
    return seq <= machine.sessions.get(client, 0)


def apply_op(machine: KVMachine, op: Op) -> tuple[KVMachine, str]:
    """Apply one committed Op; returns the new machine and the operation's result.

    A Put/Append whose (client, seq) was already applied changes nothing (at most once, even
    when a retry was committed twice across a leader change). A Get always reads.
    """
    duplicate = is_duplicate(machine, op.client, op.seq)
    if op.op == GET:
        value = get_value(machine, op.key)
        return (machine if duplicate else _record(machine, op)), value
    if duplicate:
        return machine, ""
    if op.op == PUT:
        data = machine.data.set(op.key, op.value)
    elif op.op == APPEND:
        data = machine.data.set(op.key, get_value(machine, op.key) + op.value)
    else:
        raise ValueError(f"unknown KV operation {op.op!r}")   # servers only propose valid ops
    return KVMachine(data, machine.sessions.set(op.client, op.seq)), ""   # one copy, not two


def _record(machine: KVMachine, op: Op) -> KVMachine:
    return replace(machine, sessions=machine.sessions.set(op.client, op.seq))


_store: Final = dict.__setitem__   # into a map this call made and nobody else holds yet
# Final: C statics in the compiled build, where a plain module-level name is a dict lookup.
_Op: Final = Op
_FrozenMap: Final = FrozenMap
_KVMachine: Final = KVMachine
_astuple: Final = astuple
_GET: Final = GET
_PUT: Final = PUT
_APPEND: Final = APPEND


def apply_all(machine: KVMachine, ops: list[Any]) -> tuple[KVMachine, list[str]] | None:
    """``apply_op`` over ``ops`` in turn: the last machine and every result; None if one of
    them is not an ``Op``. The data and the sessions are copied at most once each, however
    many operations (a follower applies the commits it learns of together), and a batch of
    duplicates changes nothing."""
    # Typed as dicts (FrozenMap is one): compiled, a read is a dict look-up, not a method call.
    data: dict[str, str] = machine.data
    sessions: dict[str, int] = machine.sessions
    fresh_data = fresh_sessions = False
    results: list[str] = []
    for op in ops:
        if type(op) is not _Op:
            return None
        client, seq, kind, key, operand = _astuple(op)    # one call, not five attributes
        if seq <= sessions.get(client, 0):              # a duplicate: a Get still reads
            results.append(data.get(key, "") if kind == _GET else "")
            continue
        if kind == _GET:
            results.append(data.get(key, ""))
        else:
            if kind == _PUT:
                value = operand
            elif kind == _APPEND:
                value = data.get(key, "") + operand
            else:
                raise ValueError(f"unknown KV operation {kind!r}")
            if not fresh_data:
                data, fresh_data = _FrozenMap(data), True
            _store(data, key, value)
            results.append("")
        if not fresh_sessions:
            sessions, fresh_sessions = _FrozenMap(sessions), True
        _store(sessions, client, seq)
    if not fresh_sessions:              # only duplicates: nothing changed
        return machine, results
    return _KVMachine(data, sessions), results


# ---------------------------------------------------------------- snapshots

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Snapshot)


def encode_snapshot(machine: KVMachine) -> bytes:
    """Deterministic bytes for ``machine`` (map order depends on update history: sort)."""
    return _encoder.encode(_Snapshot(tuple(sorted(machine.data.items())),
                                     tuple(sorted(machine.sessions.items()))))


def decode_snapshot(data: bytes) -> KVMachine:
    """Inverse of ``encode_snapshot``; empty bytes (no snapshot yet) give the empty machine."""
    if not data:
        return empty()
    snap = _decoder.decode(data)
    return KVMachine(data=FrozenMap(snap.data), sessions=FrozenMap(snap.sessions))
