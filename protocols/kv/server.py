"""The KV server: one Raft peer, the apply loop over the KV machine and the replies owed to
clients, as one pure step function ``step(state, event) -> (state, effects)``.

Owns the pending-reply rule, step-down handling and the snapshot policy. Raft's rules stay in
protocols.raft: this module calls ``raft.step`` inside its own step and splices the effects.
Never does I/O, never reads a clock or randomness, never imports simpy.
"""

from __future__ import annotations

from typing import Any, Callable

import msgspec
from msgspec.structs import replace
from ..fmap import FrozenMap

from .. import raft
from ..core import (
    Apply, ApplySnapshot, Note, Propose, Proposed, Receive, Restart, RoleChanged, Send,
    TakeSnapshot, TimerFired,
)
from .machine import KVMachine, apply_op, decode_snapshot, empty, encode_snapshot
from .messages import GET, OK, OPS, ErrWrongLeader, KVReply, KVRequest, Op

__all__ = [
    "KVServerConfig", "KVServerState", "Pending", "init", "step", "server_config",
    "is_leader", "current_term", "raft_config",
]

_LEADER = raft.ROLE_NAMES[raft.LEADER]
_NO_PENDING = FrozenMap()

Effects = list


class KVServerConfig(msgspec.Struct, frozen=True):
    """Static facts about one server. ``maxraftstate`` is the lab's: snapshot once the persisted
    Raft state reaches that many bytes; -1 (or 0) never snapshots. Times are virtual ms and go
    to Raft unchanged."""
    me: int
    peers: tuple[str, ...]
    maxraftstate: int = -1
    election_lo: float = 300.0
    election_hi: float = 600.0
    heartbeat: float = 100.0
    max_batch: int = 64


class Pending(msgspec.Struct, frozen=True, array_like=True):
    """A reply owed by this node as leader: who asked (address and client id), which operation,
    and the term in which it was proposed."""
    addr: str
    client: str
    seq: int
    term: int


class KVServerState(msgspec.Struct, frozen=True):
    """One server. Only ``raft``'s hard state and snapshot survive a crash (through Raft's
    Persist); the machine is rebuilt from the snapshot and the log, ``pending`` is lost.

    ``pending`` maps Raft index -> Pending (int keys; emitted in sorted order).
    """
    config: KVServerConfig
    raft: raft.RaftState
    machine: KVMachine
    applied: int = 0
    pending: Any = _NO_PENDING


def server_config(me: int, peers: tuple[str, ...], maxraftstate: int = -1) -> KVServerConfig:
    """The configuration of KV server ``me`` of ``peers``."""
    return KVServerConfig(me, peers, maxraftstate)


def raft_config(config: KVServerConfig) -> raft.RaftConfig:
    """The Raft peer configuration a KV server runs with."""
    return raft.RaftConfig(config.me, config.peers, election_lo=config.election_lo,
                           election_hi=config.election_hi, heartbeat=config.heartbeat,
                           max_batch=config.max_batch)


def init(config: KVServerConfig) -> KVServerState:
    """A blank server, before its first ``Restart`` event."""
    return KVServerState(config=config, raft=raft.init(raft_config(config)), machine=empty())


def is_leader(state: KVServerState) -> bool:
    return raft.is_leader(state.raft)


def current_term(state: KVServerState) -> int:
    return raft.current_term(state.raft)


def step(state: KVServerState, event: Any) -> tuple[KVServerState, Effects]:
    """Apply one event. Effects come back in the order the driver must perform them."""
    handler = _EVENT_HANDLERS.get(type(event))
    if handler is None:
        return state, [Note("ignored", type(event).__name__)]
    out: Effects = []
    return handler(state, event, out), out


# ---------------------------------------------------------------- events

def handle_receive(state: KVServerState, event: Receive, out: Effects) -> KVServerState:
    msg = event.msg
    if type(msg) is KVRequest:
        return handle_request(state, event.src, msg, out)
    if type(msg) is KVReply:
        out.append(Note("ignored message", "KVReply"))
        return state
    return drive_raft(state, event, out)   # Raft ignores (with a Note) what it does not know


def handle_restart(state: KVServerState, event: Restart, out: Effects) -> KVServerState:
    """Reboot: the machine and every pending reply died with the process. The machine comes
    back from Raft's ApplySnapshot and the replay of committed entries."""
    state = replace(state, machine=empty(), applied=0, pending=_NO_PENDING)
    return drive_raft(state, event, out)


def drive_raft(state: KVServerState, event: Any, out: Effects) -> KVServerState:
    """Feed ``event`` to Raft and consume what it hands to the service."""
    raft_state, effects = raft.step(state.raft, event)
    return absorb(replace(state, raft=raft_state), effects, out)


def handle_request(state: KVServerState, src: str, msg: KVRequest,
                   out: Effects) -> KVServerState:
    """Only a leader accepts, and every operation (Get too) goes through the log: a deposed
    leader that does not know it yet must never answer from its own, possibly stale, state."""
    if msg.op not in OPS:
        out.append(Note("malformed request", msg.op))
        return state
    if not raft.is_leader(state.raft):
        out.append(Send(src, KVReply(msg.seq, ErrWrongLeader)))
        return state
    op = Op(msg.client, msg.seq, msg.op, msg.key, "" if msg.op == GET else msg.value)
    raft_state, effects = raft.step(state.raft, Propose(op))
    proposed = next(e for e in effects if type(e) is Proposed)
    # Remember the reply before absorbing: a one-node cluster commits inside this very step.
    state = remember_pending(state, proposed.index,
                             Pending(src, msg.client, msg.seq, proposed.term), out)
    return absorb(replace(state, raft=raft_state), effects, out)


def remember_pending(state: KVServerState, index: int, waiting: Pending,
                     out: Effects) -> KVServerState:
    old = state.pending.get(index)
    if old is not None:   # cannot happen while leadership lasts; answer rather than forget
        out.append(Send(old.addr, KVReply(old.seq, ErrWrongLeader)))
    return replace(state, pending=state.pending.set(index, waiting))


# ---------------------------------------------------------------- Raft's output

def absorb(state: KVServerState, effects: list, out: Effects) -> KVServerState:
    """Pass Raft's effects through in order (its Persist stays ahead of its Sends), consuming
    Apply / ApplySnapshot / RoleChanged on the way; replies follow the Apply they answer."""
    applied_before = state.applied
    for effect in effects:
        out.append(effect)
        kind = type(effect)
        if kind is Apply:
            state = handle_apply(state, effect, out)
        elif kind is ApplySnapshot:
            state = handle_apply_snapshot(state, effect, out)
        elif kind is RoleChanged and effect.role != _LEADER:
            state = fail_pending(state, out)
    if state.applied > applied_before:
        state = maybe_snapshot(state, out)
    return state


def handle_apply(state: KVServerState, effect: Apply, out: Effects) -> KVServerState:
    if effect.index != state.applied + 1:
        raise AssertionError(f"apply out of order: {effect.index} after {state.applied}")
    machine, value = state.machine, ""
    if type(effect.command) is Op:
        machine, value = apply_op(machine, effect.command)
    else:
        out.append(Note("not a KV op", effect.index))
    state = replace(state, machine=machine, applied=effect.index)
    return maybe_reply(state, effect, value, out)


def maybe_reply(state: KVServerState, effect: Apply, value: str, out: Effects) -> KVServerState:
    """Answer the client waiting on this index. OK only if the entry applied here is the one we
    proposed, in the term we proposed it: otherwise another leader overwrote our entry."""
    waiting = state.pending.get(effect.index)
    if waiting is None:
        return state
    cmd = effect.command
    ours = (type(cmd) is Op and cmd.client == waiting.client and cmd.seq == waiting.seq
            and effect.term == waiting.term)
    reply = KVReply(waiting.seq, OK, value) if ours else KVReply(waiting.seq, ErrWrongLeader)
    out.append(Send(waiting.addr, reply))
    return replace(state, pending=state.pending.without(effect.index))


def handle_apply_snapshot(state: KVServerState, effect: ApplySnapshot,
                          out: Effects) -> KVServerState:
    """Replace the machine; replies owed at or below the snapshot can no longer be matched."""
    state = replace(state, machine=decode_snapshot(effect.data), applied=effect.index)
    covered = sorted(i for i in state.pending if i <= effect.index)
    if not covered:
        return state
    pending = state.pending
    for index in covered:
        waiting = pending[index]
        out.append(Send(waiting.addr, KVReply(waiting.seq, ErrWrongLeader)))
        pending = pending.without(index)
    return replace(state, pending=pending)


def fail_pending(state: KVServerState, out: Effects) -> KVServerState:
    """No longer leader: no reply we owe can be vouched for, so send every client elsewhere
    (the dedup table makes their retries safe even if our entry commits after all)."""
    if not state.pending:
        return state
    for index in sorted(state.pending):
        waiting = state.pending[index]
        out.append(Send(waiting.addr, KVReply(waiting.seq, ErrWrongLeader)))
    return replace(state, pending=_NO_PENDING)


def maybe_snapshot(state: KVServerState, out: Effects) -> KVServerState:
    """Snapshot at the last applied index once the persisted Raft state reaches maxraftstate
    (the lab bounds it by 8x). Raft's Persist of the snapshot follows this step's Sends: none
    of them depends on it, the log still holds everything it covers."""
    limit = state.config.maxraftstate
    if limit <= 0 or state.applied <= state.raft.hard.log_start:
        return state
    if raft.persisted_size(state.raft) < limit:
        return state
    event = TakeSnapshot(state.applied, encode_snapshot(state.machine))
    raft_state, effects = raft.step(state.raft, event)
    out.extend(effects)
    return replace(state, raft=raft_state)


Handler = Callable[[KVServerState, Any, Effects], KVServerState]

_EVENT_HANDLERS: dict[type, Handler] = {
    Receive: handle_receive,
    TimerFired: drive_raft,
    Restart: handle_restart,
}
