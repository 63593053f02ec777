"""A server of one replica group of the sharded KV service: the group's state machine served
over Raft by the generic replicated service (protocols.rsm), plus what a group does on its own:
poll the controller, pull the shards it gains, answer pulls and deletions from other groups.

Owns the group's timer (``POLL``), its peer-to-peer messages and which of its own commands the
leader proposes when. What the commands do belongs to ``machine``; pending client replies,
step-down and snapshots to protocols.rsm; Raft's rules to protocols.raft. Never does I/O, never
reads a clock or randomness, never imports simpy. See docs/shardkv.md.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

import msgspec
from msgspec.structs import replace

from .. import raft, rsm
from ..core import ApplySnapshot, Effects, Note, Receive, Restart, Send, SetTimer, TimerFired
from ..rsm import RSMConfig, RSMState
from ..shardctrler.messages import CtrlReply, CtrlRequest, OK as CTRL_OK, Query
from .machine import (
    GCING, PULLING, SENDING, ShardKVMachine, apply_internal, apply_op, decode_snapshot, empty,
    encode_snapshot, is_stable, observe_op,
)
from .messages import (
    GET, OPS, ConfigCmd, DeleteReply, DeleteShard, DropCmd, ErrWrongLeader, GcDoneCmd,
    InstallCmd, NoopCmd, PullReply, PullShard, ShardKVReply, ShardKVRequest, ShardOp,
)

__all__ = ["POLL", "ShardKVConfig", "ShardKVState", "service", "server_config", "init",
           "step", "is_leader", "machine"]

#: The group's own timer: the leader polls the controller and chases migrations.
POLL = "poll"


class ShardKVConfig(msgspec.Struct, frozen=True):
    """Server ``rsm.raft.me`` of group ``gid``; ``ctrlers`` the controller's servers; the
    leader acts every ``poll_ms`` (the lab polls about every 100 ms)."""
    rsm: RSMConfig
    gid: int
    ctrlers: tuple[str, ...]
    poll_ms: float = 100.0


class ShardKVState(msgspec.Struct, frozen=True):
    """``rsm``: the replicated service; ``ctrl``: the controller server the leader asks next
    (the last one that answered, as a clerk remembers its leader) and ``asked`` whether a query
    to it is still unanswered (then the next poll asks the next server). Both are volatile."""
    config: ShardKVConfig
    rsm: RSMState
    ctrl: int = 0
    asked: bool = False


def _malformed(msg: ShardKVRequest) -> Any:
    return None if msg.op in OPS else msg.op


def _identity(command: Any) -> tuple[str, int] | None:
    return (command.client, command.seq) if type(command) is ShardOp else None


@lru_cache(maxsize=None)
def service(gid: int) -> rsm.Service:
    """Group ``gid``'s service as the generic server over Raft sees it."""
    return rsm.Service(
        name="shardkv", request=ShardKVRequest, reply=ShardKVReply, malformed=_malformed,
        command=lambda m: ShardOp(m.client, m.seq, m.op, m.key, "" if m.op == GET else m.value),
        identity=_identity, empty=lambda: empty(gid), apply=apply_op,
        encode=encode_snapshot, decode=lambda data: decode_snapshot(gid, data),
        answer=lambda seq, result: ShardKVReply(seq, result[0], result[1]),
        refuse=lambda seq: ShardKVReply(seq, ErrWrongLeader),
        internal=apply_internal, observe=observe_op)


def server_config(gid: int, me: int, peers: tuple[str, ...], ctrlers: tuple[str, ...],
                  maxraftstate: int = -1) -> ShardKVConfig:
    return ShardKVConfig(RSMConfig(raft.RaftConfig(me, peers), maxraftstate), gid, ctrlers)


def init(config: ShardKVConfig) -> ShardKVState:
    """A blank server, before its first ``Restart`` event."""
    return ShardKVState(config, rsm.init(service(config.gid), config.rsm))


def is_leader(state: ShardKVState) -> bool:
    return rsm.is_leader(state.rsm)


def machine(state: ShardKVState) -> ShardKVMachine:
    """The group's applied state as this server knows it."""
    machine: ShardKVMachine = state.rsm.machine
    return machine


def step(state: ShardKVState, event: Any) -> tuple[ShardKVState, Effects]:
    """Apply one event. Effects come back in the order the driver must perform them."""
    kind = type(event)
    out: Effects = []
    if kind is Receive:
        handler = _MESSAGE_HANDLERS.get(type(event.msg))
        if handler is not None:
            return handler(state, event.src, event.msg, out), out
    elif kind is TimerFired and event.kind == POLL:
        return handle_poll(state, out), out
    inner, effects = rsm.step(service(state.config.gid), state.rsm, event)
    state = replace(state, rsm=inner)
    if any(type(e) is ApplySnapshot for e in effects):
        effects = note_restores(state.config.gid, effects)
    if kind is Restart:
        effects.append(SetTimer(POLL, state.config.poll_ms, state.config.poll_ms))
    return state, effects


def note_restores(gid: int, effects: Effects) -> Effects:
    """After each ApplySnapshot, observe the configuration it restored: the sharding
    invariants follow each server's configurations, and a snapshot skips some."""
    out: Effects = []
    for effect in effects:
        out.append(effect)
        if type(effect) is ApplySnapshot:
            num = decode_snapshot(gid, effect.data).config.num
            out.append(Note("shard-restored", (gid, num)))
    return out


def _propose(state: ShardKVState, command: Any, out: Effects) -> ShardKVState:
    return replace(state, rsm=rsm.propose(service(state.config.gid), state.rsm, command, out))


# ---------------------------------------------------------------- the leader's round

def handle_poll(state: ShardKVState, out: Effects) -> ShardKVState:
    """Every poll: the leader asks for the next configuration once the current one is done
    (one controller server per poll, moving on when the last one did not answer or was not
    the controller's leader), else chases what is missing (pulls) and what is owed (deletions
    at the old owners)."""
    cfg = state.config
    out.append(SetTimer(POLL, cfg.poll_ms, cfg.poll_ms))
    if not is_leader(state):
        return state
    if maybe_noop(state):
        return _propose(state, NoopCmd(), out)
    m = machine(state)
    if is_stable(m):
        ctrl = (state.ctrl + 1) % len(cfg.ctrlers) if state.asked else state.ctrl
        me = cfg.rsm.raft.peers[cfg.rsm.raft.me]
        out.append(Send(cfg.ctrlers[ctrl],
                        CtrlRequest(me, m.config.num + 1, Query(m.config.num + 1))))
        return replace(state, ctrl=ctrl, asked=True)
    for s, held in sorted(m.shards.items()):
        if held.state == PULLING:
            msg: Any = PullShard(m.config.num, s)
        elif held.state == GCING:
            msg = DeleteShard(m.config.num, s)
        else:
            continue
        out.extend(Send(addr, msg) for addr in m.prev.servers(m.prev.shards[s]))
    return state


def maybe_noop(state: ShardKVState) -> bool:
    """True if this leader has entries it cannot commit until it appends one of its own
    term (§5.4.2): the previous leader's last entries, which the followers may already have
    applied and answered for (a DeleteReply), while this leader has not."""
    r = state.rsm.raft
    last = raft.last_index(r)
    return r.commit < last and raft.term_at(r, last) != raft.current_term(r)


# ---------------------------------------------------------------- messages

def handle_ctrl_reply(state: ShardKVState, src: str, msg: CtrlReply,
                      out: Effects) -> ShardKVState:
    ctrlers = state.config.ctrlers
    if src in ctrlers and ctrlers.index(src) == state.ctrl:
        # answered: keep asking this server if it is the controller's leader, else the next
        ctrl = state.ctrl if msg.err == CTRL_OK else (state.ctrl + 1) % len(ctrlers)
        state = replace(state, ctrl=ctrl, asked=False)
    m = machine(state)
    config = msg.config
    if (msg.err != CTRL_OK or config is None or config.num != m.config.num + 1
            or not is_leader(state) or not is_stable(m)):
        return state
    return _propose(state, ConfigCmd(config), out)


def handle_pull(state: ShardKVState, src: str, msg: PullShard, out: Effects) -> ShardKVState:
    """Any server whose applied state holds the frozen shard may answer: once frozen, every
    replica holds the same bytes until the deletion."""
    m = machine(state)
    held = m.shards.get(msg.shard)
    if m.config.num == msg.num and held is not None and held.state == SENDING:
        out.append(Send(src, PullReply(msg.num, msg.shard, tuple(sorted(held.data.items())),
                                       tuple(sorted(held.sessions.items())))))
    return state


def handle_pull_reply(state: ShardKVState, src: str, msg: PullReply,
                      out: Effects) -> ShardKVState:
    m = machine(state)
    held = m.shards.get(msg.shard)
    if (not is_leader(state) or m.config.num != msg.num or held is None
            or held.state != PULLING):
        return state
    return _propose(state, InstallCmd(msg.num, msg.shard, msg.data, msg.sessions), out)


def handle_delete(state: ShardKVState, src: str, msg: DeleteShard,
                  out: Effects) -> ShardKVState:
    """Confirm only what the applied state shows deleted; the leader proposes the deletion and
    lets the new owner ask again."""
    m = machine(state)
    held = m.shards.get(msg.shard)
    frozen = m.config.num == msg.num and held is not None and held.state == SENDING
    if m.config.num >= msg.num and not frozen:
        out.append(Send(src, DeleteReply(msg.num, msg.shard)))
        return state
    if frozen and is_leader(state):
        return _propose(state, DropCmd(msg.num, msg.shard), out)
    return state


def handle_delete_reply(state: ShardKVState, src: str, msg: DeleteReply,
                        out: Effects) -> ShardKVState:
    m = machine(state)
    held = m.shards.get(msg.shard)
    if (not is_leader(state) or m.config.num != msg.num or held is None
            or held.state != GCING):
        return state
    return _propose(state, GcDoneCmd(msg.num, msg.shard), out)


Handler = Callable[[ShardKVState, str, Any, Effects], ShardKVState]

_MESSAGE_HANDLERS: dict[type, Handler] = {
    CtrlReply: handle_ctrl_reply,
    PullShard: handle_pull,
    PullReply: handle_pull_reply,
    DeleteShard: handle_delete,
    DeleteReply: handle_delete_reply,
}
