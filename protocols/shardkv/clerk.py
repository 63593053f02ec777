"""The sharded KV clerk: sends each operation to the group that owns its key's shard under the
latest configuration it knows, tries that group's servers in turn, and asks the controller for
a newer configuration on ErrWrongGroup (or when no group owns the shard, or a whole group was
tried without an answer).

Owns the routing and the retries; talks to the controller through the controller's own clerk
(protocols.shardctrler.clerk), embedded, whose timer it renames ``CTRL_RETRY``. Sequence numbers
and the dedup session name follow protocols.rsm.clerk. Never does I/O, never reads a clock or
randomness and never imports simpy.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec.structs import replace

from ..core import (
    CancelTimer, ClientDone, ClientRequest, Effects, Note, Persist, Receive, Restart, Send,
    SetTimer, TimerFired,
)
from ..kv.clerk import KVOp, append, get, put
from ..rsm.clerk import ClerkBusy
from ..shardctrler import clerk as ctrl_clerk
from ..shardctrler.messages import INITIAL, Config, CtrlReply
from .messages import GET, OK, OPS, ErrNoKey, ErrWrongGroup, ShardKVReply, ShardKVRequest, key2shard

__all__ = ["RETRY", "CTRL_RETRY", "ClerkConfig", "ClerkState", "ClerkBusy", "KVOp", "init",
           "step", "is_idle", "get", "put", "append"]

RETRY = "retry"
CTRL_RETRY = "ctrl-retry"


class ClerkConfig(msgspec.Struct, frozen=True):
    """Clerk ``me``; ``ctrlers`` the controller's servers; retry timing as the rsm clerk's."""
    me: str
    ctrlers: tuple[str, ...]
    retry_lo: float = 100.0
    retry_hi: float = 100.0


class ClerkState(msgspec.Struct, frozen=True):
    """``config`` the latest configuration known; ``op`` the operation in progress, numbered
    ``seq``; ``target`` the server of the owning group last asked, ``tries`` how many of the
    group's servers were asked in a row; ``ctrl`` the embedded controller clerk, busy while
    ``querying``."""
    config: ClerkConfig
    client_id: str
    ctrl: ctrl_clerk.ClerkState
    boot: int = 0
    seq: int = 0
    view: Config = INITIAL
    target: int = 0
    tries: int = 0
    querying: bool = False
    op: Any = None


def _ctrl(config: ClerkConfig, client_id: str) -> ctrl_clerk.ClerkState:
    return ctrl_clerk.init(ctrl_clerk.ClerkConfig(f"{client_id}/ctrl", config.ctrlers,
                                                  config.retry_lo, config.retry_hi))


def init(config: ClerkConfig) -> ClerkState:
    return ClerkState(config=config, client_id=config.me, ctrl=_ctrl(config, config.me))


def is_idle(state: ClerkState) -> bool:
    return state.op is None


def step(state: ClerkState, event: Any) -> tuple[ClerkState, Effects]:
    out: Effects = []
    kind = type(event)
    if kind is ClientRequest:
        return handle_request(state, event.op, out), out
    if kind is Receive and type(event.msg) is ShardKVReply:
        return handle_reply(state, event.src, event.msg, out), out
    if kind is Receive and type(event.msg) is CtrlReply:
        return drive_ctrl(state, event, out), out
    if kind is TimerFired and event.kind == RETRY and state.op is not None:
        return try_next(state, out), out
    if kind is TimerFired and event.kind == CTRL_RETRY:
        return drive_ctrl(state, TimerFired(ctrl_clerk.RETRY), out), out
    if kind is Restart:
        return handle_restart(state, event, out), out
    return state, [Note("ignored", kind.__name__)]


def handle_request(state: ClerkState, op: Any, out: Effects) -> ClerkState:
    if state.op is not None:
        raise ClerkBusy(f"{state.config.me}: {op!r} while serving {state.op!r}")
    if type(op) is not KVOp or op.kind not in OPS:
        raise ValueError(f"not a shardkv operation: {op!r}")
    state = replace(state, seq=state.seq + 1, op=op, tries=0)
    return route(state, out)


def route(state: ClerkState, out: Effects) -> ClerkState:
    """Send the operation to the owning group's next server, or ask for a configuration."""
    servers = _group(state)
    if not servers or state.tries >= len(servers):
        return ask_controller(state, out)
    op = state.op
    target = state.target % len(servers)
    out.append(Send(servers[target], ShardKVRequest(state.client_id, state.seq, op.kind,
                                                    op.key, op.value)))
    out.append(SetTimer(RETRY, state.config.retry_lo, state.config.retry_hi))
    return replace(state, target=target, tries=state.tries + 1)


def _group(state: ClerkState) -> tuple[str, ...]:
    view = state.view
    return view.servers(view.shards[key2shard(state.op.key, len(view.shards))])


def handle_reply(state: ClerkState, src: str, msg: ShardKVReply, out: Effects) -> ClerkState:
    if state.op is None or msg.seq != state.seq:
        out.append(Note("stale reply", msg.seq))
        return state
    if msg.err in (OK, ErrNoKey):
        out.append(CancelTimer(RETRY))
        out.append(ClientDone(state.op, msg.value if state.op.kind == GET else ""))
        servers = _group(state)
        target = servers.index(src) if src in servers else state.target
        return replace(state, op=None, target=target, tries=0)
    servers = _group(state)
    if state.querying or not servers or src != servers[state.target % len(servers)]:
        out.append(Note("stale reply", msg.seq))          # a late refusal: still waiting
        return state
    if msg.err == ErrWrongGroup:
        return ask_controller(state, out)
    return try_next(state, out)


def try_next(state: ClerkState, out: Effects) -> ClerkState:
    """No answer or not the leader: the group's next server; after the whole group, ask the
    controller whether the shard moved."""
    if state.querying:
        return state
    return route(replace(state, target=state.target + 1), out)


def ask_controller(state: ClerkState, out: Effects) -> ClerkState:
    out.append(CancelTimer(RETRY))
    if state.querying:
        return state
    state = replace(state, querying=True, tries=0)
    return drive_ctrl(state, ClientRequest(ctrl_clerk.query()), out)


def drive_ctrl(state: ClerkState, event: Any, out: Effects) -> ClerkState:
    """Step the embedded controller clerk; its timer is ours renamed, its answer our view."""
    inner, effects = ctrl_clerk.step(state.ctrl, event)
    state = replace(state, ctrl=inner)
    answer: Config | None = None
    for effect in effects:
        kind = type(effect)
        if kind is SetTimer:
            out.append(SetTimer(CTRL_RETRY, effect.lo, effect.hi))
        elif kind is CancelTimer:
            out.append(CancelTimer(CTRL_RETRY))
        elif kind is ClientDone:
            answer = effect.result
        else:
            out.append(effect)
    if answer is None:
        return state
    newer = answer.num > state.view.num
    state = replace(state, view=answer if newer else state.view, querying=False, tries=0)
    if state.op is None:
        return state
    if not newer or not _group(state):
        # Nothing moved since we last looked (the shard is in flight, or nobody owns it yet):
        # try again after a retry delay rather than spin between groups and the controller.
        out.append(SetTimer(RETRY, state.config.retry_lo, state.config.retry_hi))
        return state
    return route(state, out)


def handle_restart(state: ClerkState, event: Restart, out: Effects) -> ClerkState:
    """As the rsm clerk: only the boot count survives; it renames the dedup session."""
    boot = (event.durable.state if event.durable is not None else 0) + 1
    cfg = state.config
    client_id = cfg.me if boot == 1 else f"{cfg.me}#{boot}"
    out.append(Persist(boot))
    return ClerkState(config=cfg, client_id=client_id, ctrl=_ctrl(cfg, client_id), boot=boot)


