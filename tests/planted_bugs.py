"""A catalogue of classic Raft and KV bugs, planted by patching the protocols inside a test.

Each ``PlantedBug`` names the bug, says what it changes, the oracle rule meant to catch it and
a run known to expose it (a scenario and seed; ``params`` when the run needs them). ``plant()``
is a context manager: inside it the protocol misbehaves, on exit everything is restored. The
oracle tests (tests/test_oracles*.py) run each bug against its scenario; a bug-finding
benchmark can reuse the same catalogue (``BUGS``, by name).

Raft's ``step`` dispatches through the dicts ``_EVENT_HANDLERS`` / ``_MESSAGE_HANDLERS``, so a
handler is replaced there; helpers called by name (``maybe_advance``, ``_finish``) are replaced
on the module. Nothing here draws randomness: a planted run is as deterministic as any other.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from msgspec.structs import replace

from protocols.core import Persist, Restart, SetTimer
from protocols.kv import machine as kv_machine
from protocols.kv import clerk as kv_clerk
from protocols.kv import server as kv_server
from protocols.rsm import clerk as rsm_clerk
from protocols.raft import node as raft_node
from protocols.raft.messages import AppendEntries, InstallSnapshot

__all__ = ["PlantedBug", "BUGS", "planted"]


@contextmanager
def _swap(owner: Any, name: str, value: Any) -> Iterator[None]:
    """``owner[name]`` (a dict) or ``owner.name`` replaced by ``value`` until exit."""
    if isinstance(owner, dict):
        old = owner[name]
        owner[name] = value
        try:
            yield
        finally:
            owner[name] = old
    else:
        old = getattr(owner, name)
        object.__setattr__(owner, name, value)      # a frozen record (rsm.Service) too
        try:
            yield
        finally:
            object.__setattr__(owner, name, old)


# ---------------------------------------------------------------- the bugs

def _forget_vote() -> Any:
    """Reboot forgets votedFor (it is not read back from the disk): §5.2's one vote per term
    is lost across a crash."""
    original = raft_node._EVENT_HANDLERS[Restart]

    def restart(state: Any, event: Any, effects: Any) -> Any:
        state = original(state, event, effects)
        return replace(state, hard=replace(state.hard, voted_for=-1))
    return _swap(raft_node._EVENT_HANDLERS, Restart, restart)


def _send_before_persist() -> Any:
    """A step's Persist is performed after its Sends: a crash between them leaves a vote or
    an acknowledged entry that the disk never held."""
    original = raft_node._finish

    def finish(old: Any, new: Any, effects: Any, persist: bool) -> Any:
        out = original(old, new, effects, persist)
        persists = [e for e in out if type(e) is Persist]
        return [e for e in out if type(e) is not Persist] + persists
    return _swap(raft_node, "_finish", finish)


def _stale_snapshot() -> Any:
    """InstallSnapshot is installed even when it covers less than the follower has already
    committed (the ``last_index > commit`` guard is missing): a stale or duplicated snapshot
    rolls the follower back."""
    def install(state: Any, msg: Any, effects: Any) -> Any:
        me = state.config.me
        reply_to = state.config.peers[msg.leader]
        if msg.term < state.hard.term:
            return raft_node.handle_install_snapshot(state, msg, effects)
        if state.role != raft_node.FOLLOWER or state.leader != msg.leader:
            state = raft_node.become_follower(state, msg.term, msg.leader)
        effects.append(raft_node._election_timer(state))
        if msg.last_index > state.hard.log_start:
            state = raft_node._install(state, msg, effects)
        effects.append(raft_node.Send(reply_to, raft_node.InstallSnapshotReply(
            state.hard.term, me, msg.last_index)))
        return state
    return _swap(raft_node._MESSAGE_HANDLERS, InstallSnapshot, install)


def _commit_backwards() -> Any:
    """A follower takes ``min(leaderCommit, last new entry)`` as its commit index even when
    that is lower than the one it has (a leader that rebooted, a stale AppendEntries)."""
    original = raft_node._MESSAGE_HANDLERS[AppendEntries]

    def append(state: Any, msg: Any, effects: Any) -> Any:
        new = original(state, msg, effects)
        accepted = any(type(e) is raft_node.Send and getattr(e.msg, "success", False)
                       for e in effects)
        if accepted and msg.term == new.hard.term:
            commit = min(msg.leader_commit, msg.prev_index + len(msg.entries))
            if commit < new.commit:
                new = replace(new, commit=commit)
        return new
    return _swap(raft_node._MESSAGE_HANDLERS, AppendEntries, append)


def _duplicate_twice() -> Any:
    """The KV machine forgets its duplicate table when it decides: a retried Put/Append that
    was committed twice (a lost reply, a leader change) is executed twice."""
    return _one_by_one(_swap(kv_machine, "is_duplicate", lambda machine, client, seq: False))


def _snapshot_drops_sessions() -> Any:
    """The KV snapshot leaves out the duplicate table: after installing it (or rebooting from
    it), a retried operation is executed again."""
    original = kv_machine.encode_snapshot

    def encode(machine: Any) -> bytes:
        return original(replace(machine, sessions=kv_machine.FrozenMap()))
    return _swap(kv_server.SERVICE, "encode", encode)


def _match_from_next() -> Any:
    """On a success reply the leader sets matchIndex from its own nextIndex (everything it
    has sent) instead of from the reply: a reply to an older request vouches for entries that
    may still be in flight, or lost."""
    original = raft_node.maybe_advance

    def advance(state: Any, peer: int, match: int, effects: Any) -> Any:
        return original(state, peer, max(match, state.next_index[peer] - 1), effects)
    return _swap(raft_node, "maybe_advance", advance)


def _no_timer_reset() -> Any:
    """A follower does not reset its election timer on AppendEntries: it keeps deposing a
    healthy leader, so elections never stop (the cluster makes progress between them)."""
    original = raft_node._MESSAGE_HANDLERS[AppendEntries]

    def append(state: Any, msg: Any, effects: Any) -> Any:
        mine: list[Any] = []
        new = original(state, msg, mine)
        effects.extend(e for e in mine if not (type(e) is SetTimer
                                               and e.kind == raft_node.ELECTION))
        return new
    return _swap(raft_node._MESSAGE_HANDLERS, AppendEntries, append)


def _flood() -> Any:
    """The leader answers every AppendEntries reply with another AppendEntries, even when it
    has nothing new: a message storm that never lets a run end on its own."""
    original = raft_node.maybe_advance

    def advance(state: Any, peer: int, match: int, effects: Any) -> Any:
        new = original(state, peer, match, effects)
        if new is state:
            return raft_node.send_append(state, peer, effects)
        return new
    return _swap(raft_node, "maybe_advance", advance)


def _append_prepends() -> Any:
    """The KV machine's Append puts the new value in front of the old one: every replica
    agrees (Raft is fine), but none equals the fold of the committed log."""
    original = kv_machine.apply_op

    def apply_op(machine: Any, op: Any) -> Any:
        if op.op != "append" or kv_machine.is_duplicate(machine, op.client, op.seq):
            return original(machine, op)
        value = op.value + kv_machine.get_value(machine, op.key)
        return original(machine, replace(op, op="put", value=value))
    return _one_by_one(_swap(kv_server.SERVICE, "apply", apply_op))


@contextmanager
def _one_by_one(swap: Any) -> Iterator[None]:
    """``swap`` (a bug in the KV machine's one-operation path: ``apply`` or a helper of
    ``apply_op``), with the batch form ``apply_all`` switched off so that every committed
    operation goes through that path."""
    with swap, _swap(kv_server.SERVICE, "apply_all", None):
        yield


def _slow_retry() -> Any:
    """The clerk's retry timer is set in the wrong unit (8 s instead of 100 ms): after the
    faults heal, an operation whose request was lost waits seconds per retry. Every operation
    still completes within the scenario's 10 s patience, so only a bound on completion
    catches it."""
    original = kv_clerk.step

    def step(state: Any, event: Any) -> Any:
        state, effects = original(state, event)
        return state, [SetTimer(e.kind, 8000.0, 8000.0)
                       if type(e) is SetTimer and e.kind == rsm_clerk.RETRY else e
                       for e in effects]
    return _swap(kv_clerk, "step", step)


# ---------------------------------------------------------------- the catalogue

@dataclass(frozen=True)
class PlantedBug:
    """A bug (``plant()`` patches it in), the rule meant to catch it (``kind`` is the
    failure kind: invariant, liveness, budget) and a run that exposes it."""
    name: str
    summary: str
    plant: Callable[[], Any]
    kind: str
    rule: str
    scenario: str
    seed: int
    params: dict[str, Any] = field(default_factory=dict)


#: A KV run that snapshots often while the network duplicates and reorders heavily: stale
#: InstallSnapshots arrive after newer ones (the fault schedule is still drawn from the seed).
_STORMY_KV: dict[str, Any] = {
    "net": {"reliable": True, "duplicate": 0.3, "reorder": 0.5, "reorder_delay": [0, 300]},
    "workload": {"maxraftstate": 300, "clients": 5, "think_ms": [0, 20]}}

BUGS: dict[str, PlantedBug] = {bug.name: bug for bug in (
    PlantedBug("forget-vote-on-restart", _forget_vote.__doc__ or "", _forget_vote,
               "invariant", "vote-once", "random-raft", 30),
    PlantedBug("append-prepends", _append_prepends.__doc__ or "", _append_prepends,
               "invariant", "kv-fold", "random", 1),
    PlantedBug("send-before-persist", _send_before_persist.__doc__ or "", _send_before_persist,
               "invariant", "persist-before-send", "BasicAgree3B", 1),
    PlantedBug("stale-snapshot-accepted", _stale_snapshot.__doc__ or "", _stale_snapshot,
               "invariant", "applied-monotonic", "random", 28, _STORMY_KV),
    PlantedBug("commit-index-backwards", _commit_backwards.__doc__ or "", _commit_backwards,
               "invariant", "commit-monotonic", "random-raft", 1),
    PlantedBug("duplicate-executed-twice", _duplicate_twice.__doc__ or "", _duplicate_twice,
               "invariant", "kv-at-most-once", "random", 1),
    PlantedBug("snapshot-drops-dedup-table", _snapshot_drops_sessions.__doc__ or "",
               _snapshot_drops_sessions, "invariant", "kv-at-most-once", "random", 1),
    PlantedBug("match-index-from-next-index", _match_from_next.__doc__ or "", _match_from_next,
               "invariant", "match-index", "random-raft", 1),
    PlantedBug("election-timer-not-reset", _no_timer_reset.__doc__ or "", _no_timer_reset,
               "liveness", "leader-stable", "random-raft", 1),
    PlantedBug("slow-clerk-retry", _slow_retry.__doc__ or "", _slow_retry,
               "liveness", "client-progress", "random", 4,
               {"net": {"reliable": True, "reliable_delay": 0.5}}),
    PlantedBug("append-storm", _flood.__doc__ or "", _flood,
               "budget", "messages", "BasicAgree3B", 1),
)}


@contextmanager
def planted(name: str) -> Iterator[PlantedBug]:
    """Plant bug ``name`` for the duration of the block."""
    bug = BUGS[name]
    with bug.plant():
        yield bug
