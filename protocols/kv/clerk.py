"""The KV clerk: turns one application operation at a time into KVRequests, retries them on
other servers until one answers OK, and remembers who the leader was.

Owns the client-side retry policy and sequence numbers. Never does I/O, never reads a clock or
randomness (the retry delay is a SetTimer the driver draws) and never imports simpy.
"""

from __future__ import annotations

from typing import Any, Callable

import msgspec
from msgspec.structs import replace

from ..core import (
    Effects, CancelTimer, ClientDone, ClientRequest, Note, Persist, Receive, Restart, Send, SetTimer,
    TimerFired,
)
from .messages import APPEND, GET, OPS, PUT, ErrNoKey, KVReply, KVRequest, OK

__all__ = [
    "RETRY", "KVOp", "ClerkConfig", "ClerkState", "ClerkBusy", "init", "step",
    "get", "put", "append", "is_idle",
]

RETRY = "retry"

class KVOp(msgspec.Struct, frozen=True, tag=True):
    """What the application asks for: ``kind`` is get / put / append (``value`` unused by get)."""
    kind: str
    key: str
    value: str = ""


def get(key: str) -> KVOp:
    return KVOp(GET, key)


def put(key: str, value: str) -> KVOp:
    return KVOp(PUT, key, value)


def append(key: str, value: str) -> KVOp:
    return KVOp(APPEND, key, value)


class ClerkConfig(msgspec.Struct, frozen=True):
    """``servers`` in the order the clerk tries them (the lab hands each clerk a permutation).

    Retry: 100 ms by default. labrpc fails a call to a dead or cut-off server after 0-100 ms
    and its clerks move on at once, so a clerk must not wait much longer than that; a server
    that accepted the request but cannot commit it (minority leader) never answers, and this
    timer is what moves the clerk away from it.
    """
    me: str
    servers: tuple[str, ...]
    retry_lo: float = 100.0
    retry_hi: float = 100.0


class ClerkState(msgspec.Struct, frozen=True):
    """``op`` is the operation in progress (None when idle), numbered ``seq``; ``target`` the
    server last asked and ``tries`` how many servers were asked since the request was (re)sent
    by a timer; ``leader`` the server that answered the last successful operation.

    ``client_id`` names this clerk's dedup session: the address, suffixed by the boot count
    after a reboot, so a restarted clerk (whose seq starts over) never collides with the
    session of its previous life (the lab gets the same from random client ids).
    """
    config: ClerkConfig
    client_id: str
    boot: int = 0
    seq: int = 0
    leader: int = 0
    target: int = 0
    tries: int = 0
    op: KVOp | None = None


class ClerkBusy(RuntimeError):
    """A ClientRequest reached a clerk that is still serving one: a driver bug."""


def init(config: ClerkConfig) -> ClerkState:
    """An idle clerk (usable at once; a ``Restart`` is optional on first boot)."""
    if not config.servers:
        raise ValueError("a clerk needs at least one server")
    return ClerkState(config=config, client_id=config.me)


def is_idle(state: ClerkState) -> bool:
    return state.op is None


def step(state: ClerkState, event: Any) -> tuple[ClerkState, Effects]:
    """Apply one event. Effects come back in the order the driver must perform them."""
    handler = _EVENT_HANDLERS.get(type(event))
    if handler is None:
        return state, [Note("ignored", type(event).__name__)]
    out: Effects = []
    return handler(state, event, out), out


# ---------------------------------------------------------------- handlers

def handle_request(state: ClerkState, event: ClientRequest, out: Effects) -> ClerkState:
    """Start an operation: a fresh seq, first sent to the server that last answered OK."""
    if state.op is not None:
        raise ClerkBusy(f"{state.config.me}: {event.op!r} while serving {state.op!r}")
    op = event.op
    if type(op) is not KVOp or op.kind not in OPS:
        raise ValueError(f"not a KV operation: {op!r}")
    state = replace(state, seq=state.seq + 1, op=op, target=state.leader, tries=1)
    send_request(state, out)
    return state


def handle_reply(state: ClerkState, event: Receive, out: Effects) -> ClerkState:
    msg = event.msg
    if type(msg) is not KVReply:
        out.append(Note("ignored message", type(msg).__name__))
        return state
    if state.op is None or msg.seq != state.seq:
        out.append(Note("stale reply", msg.seq))
        return state
    if msg.err in (OK, ErrNoKey):
        return finish(state, event.src, msg, out)
    if event.src != state.config.servers[state.target]:
        # A late refusal from a server asked earlier: the current attempt is still running.
        out.append(Note("stale reply", msg.seq))
        return state
    return try_next(state, out)


def finish(state: ClerkState, src: str, msg: KVReply, out: Effects) -> ClerkState:
    """OK from any server for the current seq completes the operation (a late OK from a server
    asked earlier is as good as any: the operation was applied)."""
    op = state.op
    assert op is not None, "a reply completes only the operation being served"
    servers = state.config.servers
    leader = servers.index(src) if src in servers else state.leader
    out.append(CancelTimer(RETRY))
    out.append(ClientDone(op, msg.value if op.kind == GET else ""))
    return replace(state, op=None, leader=leader, target=leader, tries=0)


def try_next(state: ClerkState, out: Effects) -> ClerkState:
    """ErrWrongLeader: ask the next server at once, but after a whole round of refusals (an
    election in progress) wait for the retry timer instead of spinning."""
    if state.tries >= len(state.config.servers):
        out.append(Note("all servers refused", state.seq))
        return state
    state = replace(state, target=_next(state), tries=state.tries + 1)
    send_request(state, out)
    return state


def handle_timer(state: ClerkState, event: TimerFired, out: Effects) -> ClerkState:
    """No answer in time (lost request or reply, dead server, minority leader): next server."""
    if event.kind != RETRY or state.op is None:
        out.append(Note("ignored timer", event.kind))
        return state
    state = replace(state, target=_next(state), tries=1)
    send_request(state, out)
    return state


def handle_restart(state: ClerkState, event: Restart, out: Effects) -> ClerkState:
    """Reboot: whatever was in progress is lost (it never completes). Only the boot count is
    durable; it renames the dedup session (see ClerkState)."""
    boot = (event.durable.state if event.durable is not None else 0) + 1
    client_id = state.config.me if boot == 1 else f"{state.config.me}#{boot}"
    out.append(Persist(boot))
    return ClerkState(config=state.config, client_id=client_id, boot=boot)


def send_request(state: ClerkState, out: Effects) -> None:
    """Send the current operation to ``target`` and (re)arm the retry timer."""
    op = state.op
    assert op is not None, "only an operation being served is sent"
    cfg = state.config
    out.append(Send(cfg.servers[state.target],
                    KVRequest(state.client_id, state.seq, op.kind, op.key, op.value)))
    out.append(SetTimer(RETRY, cfg.retry_lo, cfg.retry_hi))


def _next(state: ClerkState) -> int:
    return (state.target + 1) % len(state.config.servers)


Handler = Callable[[ClerkState, Any, Effects], ClerkState]

_EVENT_HANDLERS: dict[type, Handler] = {
    ClientRequest: handle_request,
    Receive: handle_reply,
    TimerFired: handle_timer,
    Restart: handle_restart,
}
