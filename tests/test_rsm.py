"""protocols/rsm is generic: a service that is not KV (a counter, defined here) gets the same
rules from it. One test per rule: who answers, a reply only for the entry applied at the
proposed index in the proposed term, step-down fails every waiting client, snapshots at
maxraftstate, restore from a snapshot on restart. The KV service's own tests
(test_kv_server.py) check the same rules through the KV records."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from protocols import raft, rsm
from protocols.core import (
    ApplySnapshot, Durable, Note, Persist, Receive, Restart, Send, TimerFired, persisted,
)
from protocols.fmap import FrozenMap
from protocols.raft import AppendEntries, Entry, RequestVoteReply


class Add(msgspec.Struct, frozen=True, tag=True):
    client: str
    seq: int
    n: int


class Total(msgspec.Struct, frozen=True, tag=True):
    IS_REPLY: ClassVar[bool] = True
    seq: int
    ok: bool
    total: int = 0


class Counter(msgspec.Struct, frozen=True):
    total: int = 0
    seen: Any = FrozenMap()


def apply_add(machine: Counter, command: Add) -> tuple[Counter, int]:
    if command.seq <= machine.seen.get(command.client, 0):
        return machine, machine.total
    total = machine.total + command.n
    return Counter(total, machine.seen.set(command.client, command.seq)), total


def encode(machine: Counter) -> bytes:
    return msgspec.msgpack.encode([machine.total, sorted(machine.seen.items())])


def decode(data: bytes) -> Counter:
    if not data:
        return Counter()
    total, seen = msgspec.msgpack.decode(data)
    return Counter(total, FrozenMap((c, s) for c, s in seen))


COUNTER = rsm.Service(
    name="counter", request=Add, reply=Total,
    malformed=lambda msg: None if msg.n >= 0 else msg.n,
    command=lambda msg: msg,
    identity=lambda cmd: (cmd.client, cmd.seq) if type(cmd) is Add else None,
    empty=Counter, apply=apply_add, encode=encode, decode=decode,
    answer=lambda seq, total: Total(seq, True, total),
    refuse=lambda seq: Total(seq, False))

PEERS = ("s0", "s1", "s2")


def boot(me: int, peers: tuple[str, ...] = PEERS, maxraftstate: int = -1,
         durable: Durable | None = None) -> rsm.RSMState:
    config = rsm.RSMConfig(raft.RaftConfig(me, peers), maxraftstate)
    state, _ = rsm.step(COUNTER, rsm.init(COUNTER, config), Restart(durable))
    return state


def lead(state: rsm.RSMState) -> rsm.RSMState:
    """Win an election by hand: time out, then one granted vote (a majority of three)."""
    state, _ = rsm.step(COUNTER, state, TimerFired(raft.ELECTION))
    term = raft.current_term(state.raft)
    for voter in range(1, len(state.config.raft.peers)):
        if rsm.is_leader(state):
            break
        state, _ = rsm.step(COUNTER, state, Receive(PEERS[voter],
                                                     RequestVoteReply(term, voter, True)))
    assert rsm.is_leader(state)
    return state


def answers(effects: list) -> list[tuple[str, Any]]:
    return [(e.dst, e.msg) for e in effects if type(e) is Send and type(e.msg) is Total]


def test_single_node_answers_after_apply():
    """Alone, a leader commits at once: the client gets the machine's result in the same step."""
    state = lead(boot(0, ("s0",)))
    state, effects = rsm.step(COUNTER, state, Receive("c", Add("c", 1, 5)))
    assert answers(effects) == [("c", Total(1, True, 5))]
    assert state.machine.total == 5 and not state.pending


def test_follower_refuses_at_once_and_malformed_is_noted():
    """A non-leader refuses with the service's refusal; a malformed request gets a Note."""
    state = boot(1)
    state, effects = rsm.step(COUNTER, state, Receive("c", Add("c", 1, 5)))
    assert answers(effects) == [("c", Total(1, False))]
    state, effects = rsm.step(COUNTER, state, Receive("c", Add("c", 2, -1)))
    assert effects == [Note("malformed request", -1)]
    state, effects = rsm.step(COUNTER, state, Receive("c", Total(1, True)))
    assert effects == [Note("ignored message", "Total")]


def test_reply_waits_for_commit_and_answers_for_the_proposed_entry():
    """A leader of three remembers the waiting client and answers once the entry commits."""
    state = lead(boot(0))
    state, effects = rsm.step(COUNTER, state, Receive("c", Add("c", 1, 7)))
    assert answers(effects) == []
    (index, waiting), = state.pending.items()
    assert waiting == rsm.Pending("c", "c", 1, raft.current_term(state.raft))
    term = raft.current_term(state.raft)
    state, effects = rsm.step(COUNTER, state, Receive(
        "s1", raft.AppendEntriesReply(term, 1, True, index)))
    assert answers(effects) == [("c", Total(1, True, 7))]


def test_another_entry_at_the_proposed_index_is_refused():
    """If the entry applied at the index is not the one proposed there, in the term it was
    proposed (another leader overwrote it), the waiting client is refused, never answered with
    another operation's result. (A step-down refuses first in practice: the waiting reply is
    planted here on a follower of the same term to reach this rule alone.)"""
    cases = [(rsm.Pending("c", "c", 1, 1), Add("d", 1, 3)),     # another operation
             (rsm.Pending("c", "c", 1, 0), Add("c", 1, 3))]     # ours, but proposed in term 0
    for waiting, applied in cases:
        state = boot(1)
        state, _ = rsm.step(COUNTER, state, Receive("s2", AppendEntries(1, 2, 0, 0, (), 0)))
        state = msgspec.structs.replace(state, pending=state.pending.set(1, waiting))
        state, effects = rsm.step(COUNTER, state, Receive("s2", AppendEntries(
            1, 2, 0, 0, (Entry(1, applied),), 1)))
        assert answers(effects) == [("c", Total(1, False))]
        assert state.machine.total == 3 and not state.pending


def test_step_down_refuses_every_waiting_client():
    """A leader that sees a higher term refuses all waiting clients, in index order."""
    state = lead(boot(0))
    for seq, who in ((1, "x"), (1, "y")):
        state, _ = rsm.step(COUNTER, state, Receive(who, Add(who, seq, 1)))
    assert len(state.pending) == 2
    term = raft.current_term(state.raft)
    state, effects = rsm.step(COUNTER, state, Receive("s1", AppendEntries(
        term + 1, 1, 0, 0, (), 0)))
    assert answers(effects) == [("x", Total(1, False)), ("y", Total(1, False))]
    assert not state.pending and not rsm.is_leader(state)


def test_snapshot_at_maxraftstate_and_restore_on_restart():
    """Once the persisted Raft state reaches maxraftstate, the service's encoding is persisted
    as a snapshot and the log is trimmed; a restart from that disk rebuilds the machine."""
    state = lead(boot(0, ("s0",), maxraftstate=200))
    disk: Durable | None = None
    snapshots = 0
    for seq in range(1, 41):
        state, effects = rsm.step(COUNTER, state, Receive("c", Add("c", seq, seq)))
        for e in effects:
            if type(e) is Persist:
                disk = persisted(disk, e)
                snapshots += e.snapshot is not None
    assert snapshots > 0 and disk is not None and disk.snapshot
    assert state.raft.hard.log_start > 0
    assert raft.persisted_size(state.raft) < 2 * 200
    restarted = rsm.init(COUNTER, state.config)
    restarted, effects = rsm.step(COUNTER, restarted, Restart(disk))
    assert any(type(e) is ApplySnapshot for e in effects)
    assert restarted.machine == decode(disk.snapshot)
    assert restarted.machine.total <= sum(range(41))
    assert restarted.applied == disk.state.log_start
