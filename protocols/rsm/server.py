"""A replicated service over Raft (the lab's rsm): one Raft peer, the apply loop over a
service's state machine and the replies owed to clients, as one pure step function
``step(service, state, event) -> (state, effects)``.

Owns the pending-request rule (reply only when the entry applied at the proposed index is the
one proposed, in the proposed term), failing pending requests on step-down, the snapshot policy
(maxraftstate) and restoring from a snapshot. Raft's rules stay in protocols.raft: this module
calls ``raft.step`` inside its own step and splices the effects. What commands mean belongs to
the ``Service``. Never does I/O, never reads a clock or randomness, never imports simpy.
"""

from __future__ import annotations

from typing import Any, Callable, Final

from msgspec.structs import replace

from .. import raft
from ..raft.node import step as raft_step   # not through the package: a direct call compiled
from ..core import (
    Apply, ApplySnapshot, Effects, Note, Propose, Proposed, Receive, Restart, RoleChanged, Send,
    TakeSnapshot, TimerFired,
)
from ..fmap import FrozenMap
from .service import Service
from .state import _NO_PENDING, Pending, RSMConfig, RSMState

__all__ = ["RSMConfig", "RSMState", "Pending", "server_config", "init", "step", "is_leader",
           "current_term"]

# In the compiled build (tools/build_compiled.py) a module-level name is a lookup in the
# module's dict unless it is Final (a C static): the hot paths use these Final names.
_LEADER: Final = raft.ROLE_NAMES[raft.LEADER]
_RAFT_MESSAGES: Final = frozenset(raft.RAFT_MESSAGES)
_replace: Final = replace
_Apply: Final = Apply
_ApplySnapshot: Final = ApplySnapshot
_RoleChanged: Final = RoleChanged
_Receive: Final = Receive
_Send: Final = Send
_FrozenMap: Final = FrozenMap


def server_config(me: int, peers: tuple[str, ...], maxraftstate: int = -1) -> RSMConfig:
    """Server ``me`` of ``peers``: Raft's default timing, snapshots once the persisted Raft
    state reaches ``maxraftstate`` bytes (-1: never)."""
    return RSMConfig(raft.RaftConfig(me, peers), maxraftstate)


def init(service: Service, config: RSMConfig) -> RSMState:
    """A blank server, before its first ``Restart`` event."""
    return RSMState(config=config, raft=raft.init(config.raft), machine=service.empty())


def is_leader(state: RSMState) -> bool:
    return raft.is_leader(state.raft)


def current_term(state: RSMState) -> int:
    return raft.current_term(state.raft)


def step(service: Service, state: RSMState, event: Any) -> tuple[RSMState, Effects]:
    """Apply one event. Effects come back in the order the driver must perform them."""
    out: Effects = []
    kind = type(event)
    if kind is _Receive:                # nearly every event: called directly, no table
        if type(event.msg) in _RAFT_MESSAGES:
            # Raft's own message (nearly every one): handle_receive and drive_raft without
            # their frames
            raft_state, effects = raft_step(state.raft, event)
            if raft_state is not state.raft:
                state = _replace(state, raft=raft_state)
            return absorb(service, state, effects, out), out
        return handle_receive(service, state, event, out), out
    handler = _EVENT_HANDLERS.get(kind)
    if handler is None:
        return state, [Note("ignored", kind.__name__)]
    return handler(service, state, event, out), out


# ---------------------------------------------------------------- events

def handle_receive(service: Service, state: RSMState, event: Receive,
                   out: Effects) -> RSMState:
    msg = event.msg
    kind = type(msg)
    if kind in _RAFT_MESSAGES:          # nearly every message: Raft's, no service field read
        return drive_raft(service, state, event, out)
    if kind is service.request:
        return handle_request(service, state, event.src, msg, out)
    if type(msg) is service.reply:
        out.append(Note("ignored message", service.reply.__name__))
        return state
    return drive_raft(service, state, event, out)   # Raft notes what it does not know


def handle_restart(service: Service, state: RSMState, event: Restart,
                   out: Effects) -> RSMState:
    """Reboot: the machine and every pending reply died with the process. The machine comes
    back from Raft's ApplySnapshot and the replay of committed entries."""
    state = _replace(state, machine=service.empty(), applied=0, pending=_NO_PENDING)
    return drive_raft(service, state, event, out)


def drive_raft(service: Service, state: RSMState, event: Any, out: Effects) -> RSMState:
    """Feed ``event`` to Raft and consume what it hands to the service."""
    raft_state, effects = raft_step(state.raft, event)
    if raft_state is not state.raft:    # unchanged: the state stays the same object
        state = _replace(state, raft=raft_state)
    return absorb(service, state, effects, out)


def handle_request(service: Service, state: RSMState, src: str, msg: Any,
                   out: Effects) -> RSMState:
    """Only a leader accepts, and every operation (reads too) goes through the log: a deposed
    leader that does not know it yet must never answer from its own, possibly stale, state."""
    problem = service.malformed(msg)
    if problem is not None:
        out.append(Note("malformed request", problem))
        return state
    command = service.command(msg)
    identity = service.identity(command)
    assert identity is not None, f"{service.name}: a request's command names no operation"
    client, seq = identity
    if not raft.is_leader(state.raft):
        out.append(_Send(src, service.refuse(seq)))
        return state
    raft_state, effects = raft_step(state.raft, Propose(command))
    proposed = next(e for e in effects if type(e) is Proposed)
    # Remember the reply before absorbing: a one-node cluster commits inside this very step.
    state = remember_pending(service, state, proposed.index,
                             Pending(src, client, seq, proposed.term), out)
    return absorb(service, _replace(state, raft=raft_state), effects, out)


def propose(service: Service, state: RSMState, command: Any, out: Effects) -> RSMState:
    """Propose a command of the service's own (no client waits on it; ``Service.internal``
    applies it), if this node leads; a follower notes it and changes nothing."""
    if not raft.is_leader(state.raft):
        out.append(Note("not leader", type(command).__name__))
        return state
    raft_state, effects = raft_step(state.raft, Propose(command))
    return absorb(service, _replace(state, raft=raft_state), effects, out)


def remember_pending(service: Service, state: RSMState, index: int, waiting: Pending,
                     out: Effects) -> RSMState:
    old = state.pending.get(index)
    if old is not None:   # cannot happen while leadership lasts; answer rather than forget
        out.append(_Send(old.addr, service.refuse(old.seq)))
    return _replace(state, pending=state.pending.set(index, waiting))


# ---------------------------------------------------------------- Raft's output

def absorb(service: Service, state: RSMState, effects: Effects, out: Effects) -> RSMState:
    """Pass Raft's effects through in order (its Persist stays ahead of its Sends), consuming
    Apply / ApplySnapshot / RoleChanged on the way; replies follow the Apply they answer.

    Consecutive Applies (a follower learning of several commits at once) go to the machine
    together: ``apply_entries``."""
    applied_before = state.applied
    run: list[Apply] | None = None
    for effect in effects:
        kind = type(effect)
        if kind is _Apply:
            if run is None:
                run = [effect]
            else:
                run.append(effect)
            continue
        if run is not None:
            state = apply_entries(service, state, run, out)
            run = None
        out.append(effect)
        if kind is _ApplySnapshot:
            state = handle_apply_snapshot(service, state, effect, out)
        elif kind is _RoleChanged and effect.role != _LEADER:
            state = fail_pending(service, state, out)
    if run is not None:
        state = apply_entries(service, state, run, out)
    if state.applied > applied_before:
        state = maybe_snapshot(service, state, out)
    return state


def apply_entries(service: Service, state: RSMState, applies: list[Apply],
                  out: Effects) -> RSMState:
    """Apply committed entries in index order; each Apply is passed on, followed by the reply
    it owes. The machine takes them in one ``Service.apply_all`` call when the service has one
    and every entry is a client operation; otherwise one by one (``handle_apply``)."""
    applied, commands = state.applied, []
    for effect in applies:
        applied += 1
        if effect.index != applied:
            raise AssertionError(f"apply out of order: {effect.index} after {applied - 1}")
        commands.append(effect.command)
    apply_all = service.apply_all
    batch = (None if apply_all is None or service.observe is not None
             else apply_all(state.machine, commands))
    if batch is None:
        identity = service.identity
        for effect in applies:
            out.append(effect)
            state = handle_apply(service, state, effect, identity(effect.command), out)
        return state
    machine, results = batch
    pending: dict[int, Any] = state.pending     # a FrozenMap: dict reads when compiled
    if not pending:                     # a follower, or a leader nobody waits on
        out.extend(applies)
        return _replace(state, machine=machine, applied=applied)
    owed = None                         # pending without the replies sent: one copy
    for effect, result in zip(applies, results):
        out.append(effect)
        waiting = pending.get(effect.index)
        if waiting is not None:
            out.append(_reply(service, waiting, effect, service.identity(effect.command),
                              result))
            if owed is None:
                owed = _FrozenMap(pending)
            dict.__delitem__(owed, effect.index)
    return _replace(state, machine=machine, applied=applied,
                   pending=pending if owed is None else owed)


def handle_apply(service: Service, state: RSMState, effect: Apply,
                 identity: tuple[str, int] | None, out: Effects) -> RSMState:
    """Apply one entry (``identity`` is ``service.identity`` of its command)."""
    machine, result = state.machine, None
    if identity is not None:
        machine, result = service.apply(machine, effect.command)
        if service.observe is not None:
            out.extend(service.observe(machine, effect.command, result))
    elif service.internal is not None:
        machine, notes = service.internal(machine, effect.command)
        out.extend(notes)
    else:
        out.append(Note(f"not a {service.name} op", effect.index))
    state = _replace(state, machine=machine, applied=effect.index)
    return maybe_reply(service, state, effect, identity, result, out)


def maybe_reply(service: Service, state: RSMState, effect: Apply,
                identity: tuple[str, int] | None, result: Any, out: Effects) -> RSMState:
    """Answer the client waiting on this index, but only if the entry applied here is the one
    we proposed, in the term we proposed it: otherwise another leader overwrote it."""
    waiting = state.pending.get(effect.index)
    if waiting is None:
        return state
    out.append(_reply(service, waiting, effect, identity, result))
    return _replace(state, pending=state.pending.without(effect.index))


def _reply(service: Service, waiting: Any, effect: Apply, identity: tuple[str, int] | None,
           result: Any) -> Send:
    """The answer to ``waiting`` if ``effect`` is the entry it proposed, in its term; else a
    refusal (another leader overwrote it)."""
    ours = identity == (waiting.client, waiting.seq) and effect.term == waiting.term
    return _Send(waiting.addr, service.answer(waiting.seq, result) if ours
                else service.refuse(waiting.seq))


def handle_apply_snapshot(service: Service, state: RSMState, effect: ApplySnapshot,
                          out: Effects) -> RSMState:
    """Replace the machine; replies owed at or below the snapshot can no longer be matched."""
    state = _replace(state, machine=service.decode(effect.data), applied=effect.index)
    covered = sorted(i for i in state.pending if i <= effect.index)
    if not covered:
        return state
    pending = state.pending
    for index in covered:
        waiting = pending[index]
        out.append(_Send(waiting.addr, service.refuse(waiting.seq)))
        pending = pending.without(index)
    return _replace(state, pending=pending)


def fail_pending(service: Service, state: RSMState, out: Effects) -> RSMState:
    """No longer leader: no reply we owe can be vouched for, so send every client elsewhere
    (duplicate suppression makes their retries safe even if our entry commits after all)."""
    if not state.pending:
        return state
    for index in sorted(state.pending):
        waiting = state.pending[index]
        out.append(_Send(waiting.addr, service.refuse(waiting.seq)))
    return _replace(state, pending=_NO_PENDING)


def maybe_snapshot(service: Service, state: RSMState, out: Effects) -> RSMState:
    """Snapshot at the last applied index once the persisted Raft state reaches maxraftstate
    (the lab bounds it by 8x). Raft's Persist of the snapshot follows this step's Sends: none
    of them depends on it, the log still holds everything it covers."""
    limit = state.config.maxraftstate
    if limit <= 0 or state.applied <= state.raft.hard.log_start:
        return state
    if raft.persisted_size(state.raft) < limit:
        return state
    event = TakeSnapshot(state.applied, service.encode(state.machine))
    raft_state, effects = raft_step(state.raft, event)
    out.extend(effects)
    return _replace(state, raft=raft_state)


Handler = Callable[[Service, RSMState, Any, Effects], RSMState]

_EVENT_HANDLERS: dict[type, Handler] = {
    Receive: handle_receive,
    TimerFired: drive_raft,
    Restart: handle_restart,
}
