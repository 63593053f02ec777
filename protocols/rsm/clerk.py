"""The clerk of a replicated service: turns one application operation at a time into
requests, retries them on other servers until one answers, and remembers who the leader was.

Owns the client-side retry policy, sequence numbers and the dedup session name. What a request
and a reply look like belongs to the service's ``Client`` record. Never does I/O, never reads a
clock or randomness (the retry delay is a SetTimer the driver draws) and never imports simpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from msgspec.structs import replace

from ..core import (
    CancelTimer, ClientDone, ClientRequest, Effects, Note, Persist, Receive, Restart, Send,
    SetTimer, TimerFired,
)
from .clerk_types import ClerkBusy, ClerkConfig, ClerkState

__all__ = [
    "RETRY", "Client", "ClerkConfig", "ClerkState", "ClerkBusy", "init", "step", "is_idle",
]

RETRY = "retry"


@dataclass(frozen=True, slots=True)
class Client:
    """What a clerk needs to know of its service.

    - ``name`` appears in errors (``"not a KV operation"``).
    - ``accepts(op)``: the application asked for an operation of this service.
    - ``request(client_id, seq, op)``: the message that asks a server for ``op``.
    - ``reply``: the type of the servers' answers.
    - ``outcome(op, reply)``: ``(True, result)`` when the reply completes the operation, else
      ``(False, None)``: this server cannot serve it (not the leader), ask another.
    """
    name: str
    accepts: Callable[[Any], bool]
    request: Callable[[str, int, Any], Any]
    reply: type
    outcome: Callable[[Any, Any], "tuple[bool, Any]"]


def init(config: ClerkConfig) -> ClerkState:
    """An idle clerk (usable at once; a ``Restart`` is optional on first boot)."""
    if not config.servers:
        raise ValueError("a clerk needs at least one server")
    return ClerkState(config=config, client_id=config.me)


def is_idle(state: ClerkState) -> bool:
    return state.op is None


def step(client: Client, state: ClerkState, event: Any) -> tuple[ClerkState, Effects]:
    """Apply one event. Effects come back in the order the driver must perform them."""
    handler = _EVENT_HANDLERS.get(type(event))
    if handler is None:
        return state, [Note("ignored", type(event).__name__)]
    out: Effects = []
    return handler(client, state, event, out), out


# ---------------------------------------------------------------- handlers

def handle_request(client: Client, state: ClerkState, event: ClientRequest,
                   out: Effects) -> ClerkState:
    """Start an operation: a fresh seq, first sent to the server that last answered OK."""
    if state.op is not None:
        raise ClerkBusy(f"{state.config.me}: {event.op!r} while serving {state.op!r}")
    if not client.accepts(event.op):
        raise ValueError(f"not a {client.name} operation: {event.op!r}")
    state = replace(state, seq=state.seq + 1, op=event.op, target=state.leader, tries=1)
    send_request(client, state, out)
    return state


def handle_reply(client: Client, state: ClerkState, event: Receive,
                 out: Effects) -> ClerkState:
    msg = event.msg
    expected: Any = client.reply       # a type held in a record: keep msg's type open
    if type(msg) is not expected:
        out.append(Note("ignored message", type(msg).__name__))
        return state
    if state.op is None or msg.seq != state.seq:
        out.append(Note("stale reply", msg.seq))
        return state
    done, result = client.outcome(state.op, msg)
    if done:
        return finish(state, event.src, result, out)
    if event.src != state.config.servers[state.target]:
        # A late refusal from a server asked earlier: the current attempt is still running.
        out.append(Note("stale reply", msg.seq))
        return state
    return try_next(client, state, out)


def finish(state: ClerkState, src: str, result: Any, out: Effects) -> ClerkState:
    """A completing reply from any server for the current seq ends the operation (a late one
    from a server asked earlier is as good as any: the operation was applied)."""
    servers = state.config.servers
    leader = servers.index(src) if src in servers else state.leader
    out.append(CancelTimer(RETRY))
    out.append(ClientDone(state.op, result))
    return replace(state, op=None, leader=leader, target=leader, tries=0)


def try_next(client: Client, state: ClerkState, out: Effects) -> ClerkState:
    """Refused: ask the next server at once, but after a whole round of refusals (an election
    in progress) wait for the retry timer instead of spinning."""
    if state.tries >= len(state.config.servers):
        out.append(Note("all servers refused", state.seq))
        return state
    state = replace(state, target=_next(state), tries=state.tries + 1)
    send_request(client, state, out)
    return state


def handle_timer(client: Client, state: ClerkState, event: TimerFired,
                 out: Effects) -> ClerkState:
    """No answer in time (lost request or reply, dead server, minority leader): next server."""
    if event.kind != RETRY or state.op is None:
        out.append(Note("ignored timer", event.kind))
        return state
    state = replace(state, target=_next(state), tries=1)
    send_request(client, state, out)
    return state


def handle_restart(client: Client, state: ClerkState, event: Restart,
                   out: Effects) -> ClerkState:
    """Reboot: whatever was in progress is lost (it never completes). Only the boot count is
    durable; it renames the dedup session (see ClerkState)."""
    boot = (event.durable.state if event.durable is not None else 0) + 1
    client_id = state.config.me if boot == 1 else f"{state.config.me}#{boot}"
    out.append(Persist(boot))
    return ClerkState(config=state.config, client_id=client_id, boot=boot)


def send_request(client: Client, state: ClerkState, out: Effects) -> None:
    """Send the current operation to ``target`` and (re)arm the retry timer."""
    cfg = state.config
    out.append(Send(cfg.servers[state.target],
                    client.request(state.client_id, state.seq, state.op)))
    out.append(SetTimer(RETRY, cfg.retry_lo, cfg.retry_hi))


def _next(state: ClerkState) -> int:
    return (state.target + 1) % len(state.config.servers)


Handler = Callable[[Client, ClerkState, Any, Effects], ClerkState]

_EVENT_HANDLERS: dict[type, Handler] = {
    ClientRequest: handle_request,
    Receive: handle_reply,
    TimerFired: handle_timer,
    Restart: handle_restart,
}
