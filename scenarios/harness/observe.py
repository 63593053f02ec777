"""Wiring Raft's safety invariants and oracles into a running cluster, whatever service sits
above Raft.

``RaftObserver`` wraps a node's step function so every append reaches the log-matching check
and every change of commit index, snapshot index and leader progress reaches the oracles
(``checkers.invariants.oracles``), and supplies the host hooks for role changes, applies,
snapshots, reboots and sends (persist-before-send reads the sender's disk). ``raft_of`` maps a
node's state to its Raft state (identity for bare Raft, ``state.raft`` for a service);
``kv=True`` also folds every applied KV command into the reference model
(``checkers.invariants.kv``) and compares each replica with it.

This is where protocol values become the checkers' plain values (terms, indexes, names); the
rules themselves live in ``checkers/``. Everything here is O(1) per event, or O(what changed).
Observers never draw randomness and never write to the trace.
"""

from __future__ import annotations

from typing import Any, Callable

from checkers.invariants.kv import KVReference
from checkers.invariants.oracles import HELD, RaftOracles
from checkers.invariants.raft import RaftInvariants
from protocols import kv as kv_protocol
from protocols import raft
from protocols.core import Restart
from protocols.raft.messages import (
    AppendEntries, AppendEntriesReply, InstallSnapshot, InstallSnapshotReply, RequestVote,
    RequestVoteReply,
)

__all__ = ["RaftObserver"]

_LEADER = raft.LEADER
_KV_OP = kv_protocol.Op
_CANDIDATE_OR_LEADER = ("candidate", "leader")


class RaftObserver:
    def __init__(self, env: Any, raft_of: Callable[[Any], raft.RaftState] = lambda s: s,
                 invariants: RaftInvariants | None = None, kv: bool = False) -> None:
        self.env = env
        self.raft_of = raft_of
        self.invariants = invariants or RaftInvariants()
        self.oracles = RaftOracles()
        self.kv = KVReference() if kv else None
        self.hosts: dict[str, Any] = {}          # addr -> Host (followers' disks, for matchIndex)
        self.elections: list[tuple[float, str, str, int]] = []   # (t, node, role, term)
        self._touched: dict[str, list[tuple[str, str]]] = {}    # addr -> [(key, client)]

    def wrap(self, addr: str, step: Callable[[Any, Any], tuple[Any, list]]
             ) -> Callable[[Any, Any], tuple[Any, list]]:
        """``step`` plus a report of every entry appended to the node's log, and of every
        change of its commit index, snapshot index and (as leader) its followers' progress."""
        invariants, env, raft_of, oracles = self.invariants, self.env, self.raft_of, self.oracles
        progress = self._progress

        def observed(state: Any, event: Any) -> tuple[Any, list]:
            new, effects = step(state, event)
            old_raft, new_raft = raft_of(state), raft_of(new)
            if new_raft is old_raft:
                return new, effects
            old_hard, new_hard = old_raft.hard, new_raft.hard
            if new_hard.log is not old_hard.log and new_hard.log_start == old_hard.log_start:
                log = new_hard.log
                first = _first_new_position(old_hard.log, log)
                if first < len(log):
                    invariants.log_appended(
                        env._now, addr, new_hard.log_start + first,
                        [(e.term, e.command) for e in log[first:]], log[first - 1].term)
            if type(event) is Restart:
                return new, effects                  # a new incarnation starts from its disk
            if new_raft.applied < old_raft.applied or new_hard.log_start < old_hard.log_start:
                oracles.applied_moved(env._now, addr, old_raft.applied, new_raft.applied,
                                      old_hard.log_start, new_hard.log_start)
            if new_raft.commit != old_raft.commit:
                _commit_moved(oracles, env._now, addr, old_raft.commit, new_raft)
            if new_raft.role == _LEADER and (new_raft.match_index is not old_raft.match_index
                                             or new_raft.next_index is not old_raft.next_index):
                progress(addr, old_raft, new_raft)
            return new, effects
        return observed

    def _progress(self, addr: str, old: raft.RaftState, new: raft.RaftState) -> None:
        """The leader's matchIndex / nextIndex for the peers whose values changed; the
        follower's disk is read only when its matchIndex moved."""
        new_match, new_next = new.match_index, new.next_index
        was_leader = old.role == _LEADER
        old_match, old_next = old.match_index, old.next_index
        if was_leader and new_match == old_match and new_next == old_next:
            return
        me, peers, hard, now = new.config.me, new.config.peers, new.hard, self.env._now
        progress = self.oracles.progress
        for peer, match, nxt in zip(range(len(new_match)), new_match, new_next):
            if peer == me:
                continue
            if was_leader and old_match[peer] == match:
                if nxt <= match:                  # only nextIndex moved: the oracle raises
                    progress(now, addr, hard.term, peers[peer], match, nxt)
                continue
            follower = self.hosts.get(peers[peer])
            durable = follower.disk.read() if follower is not None and match > 0 else None
            if durable is None:
                progress(now, addr, hard.term, peers[peer], match, nxt)
                continue
            fhard = durable.state
            progress(now, addr, hard.term, peers[peer], match, nxt, _term_at(hard, match),
                     fhard.term, _term_at(fhard, match))

    # Host hooks --------------------------------------------------------------------------

    def on_boot(self, host: Any) -> None:
        self.hosts[host.addr] = host
        self.invariants.restarted(self.env.now, host.addr, 0)
        if self.kv is not None:
            self.kv.restarted(host.addr)
            self._touched.pop(host.addr, None)

    def on_role(self, host: Any, effect: Any) -> None:
        if effect.role in _CANDIDATE_OR_LEADER:
            self.elections.append((self.env.now, host.addr, effect.role, effect.term))
        state = self.raft_of(host.state)
        hard = state.hard
        start = hard.log_start

        def entry_at(index: int) -> tuple[int, Any]:
            entry = hard.log[index - start]
            return entry.term, entry.command

        self.invariants.role_changed(self.env.now, host.addr, effect.role, effect.term,
                                     last_index=raft.last_index(state), entry_at=entry_at,
                                     snapshot_index=start)

    def on_apply(self, host: Any, effect: Any) -> None:
        self.invariants.applied(self.env.now, host.addr, effect.index, effect.term,
                                effect.command)
        if self.kv is not None:
            self._kv_apply(host, effect)

    def on_apply_snapshot(self, host: Any, effect: Any) -> None:
        self.invariants.snapshot_applied(self.env.now, host.addr, effect.index, effect.term)
        if self.kv is not None:
            machine = kv_protocol.decode_snapshot(effect.data)
            self.kv.snapshot_installed(self.env.now, host.addr, effect.index,
                                       machine.data, machine.sessions)

    def on_send(self, host: Any, effect: Any) -> None:
        """Persist-before-send: what ``host`` sends must already be on its disk."""
        msg = effect.msg
        extract = _SENT.get(type(msg))
        if extract is not None:
            durable = host.disk.read()
            extract(self, host, effect.dst, msg, durable.state if durable is not None else None)

    # KV: the reference fold -----------------------------------------------------------------

    def _kv_apply(self, host: Any, effect: Any) -> None:
        op = effect.command
        if type(op) is not _KV_OP:
            return
        kv, addr, now = self.kv, host.addr, self.env._now
        assert kv is not None
        kv.applied(now, addr, effect.index, op.client, op.seq, op.op, op.key, op.value)
        state = host.state
        touched = self._touched.get(addr)
        if effect.index != state.applied:            # more applies follow in this step
            if touched is None:
                touched = self._touched[addr] = []
            touched.append((op.key, op.client))
            return
        machine = state.machine
        data, sessions = machine.data, machine.sessions
        if touched:
            for key, client in touched:
                kv.check_key(now, addr, key, data.get(key, ""), client, sessions.get(client, 0))
            touched.clear()
        key, client = op.key, op.client
        kv.check_key(now, addr, key, data.get(key, ""), client, sessions.get(client, 0))
        if state.raft.hard.log_start == effect.index:   # the step ended with a snapshot here
            kv.snapshot_taken(addr, effect.index)


# ---------------------------------------------------------------- extraction: protocol -> plain

def _term_at(hard: Any, index: int) -> int:
    """Term of ``index`` in a hard state: ``HELD`` inside the snapshot, -1 beyond the log."""
    pos = index - hard.log_start
    if pos <= 0:
        return HELD
    if pos < len(hard.log):
        return hard.log[pos].term
    return -1


def _commit_moved(oracles: RaftOracles, now: float, addr: str, old: int,
                  new: raft.RaftState) -> None:
    hard = new.hard
    log = hard.log
    start, commit = hard.log_start, new.commit
    last = start + len(log) - 1
    first = max(old, start) + 1
    if first <= commit <= last:           # usually one entry: index the vector, never slice it
        entries = [(e.term, e.command) for e in map(log.__getitem__,
                                                    range(first - start, commit - start + 1))]
    else:
        entries = []
    oracles.commit_moved(now, addr, old, commit, last, first, entries)


# What each Raft message must find on its sender's disk (``hard``: the hard state on disk, or
# None on a blank disk): the plain values the oracle compares.

def _sent_vote_request(o: RaftObserver, host: Any, dst: str, msg: RequestVote,
                       hard: Any) -> None:
    term, voted = (hard.term, hard.voted_for) if hard is not None else (0, -1)
    peers = o.raft_of(host.state).config.peers
    o.oracles.sent_vote(o.env._now, host.addr, dst, "RequestVote", msg.term, term, host.addr,
                        peers[voted] if voted >= 0 else None)


def _sent_vote_reply(o: RaftObserver, host: Any, dst: str, msg: RequestVoteReply,
                     hard: Any) -> None:
    term, voted = (hard.term, hard.voted_for) if hard is not None else (0, -1)
    if not msg.granted:
        o.oracles.sent(o.env._now, host.addr, dst, "RequestVoteReply", msg.term, term)
        return
    peers = o.raft_of(host.state).config.peers
    o.oracles.sent_vote(o.env._now, host.addr, dst, "RequestVoteReply(granted)", msg.term,
                        term, dst, peers[voted] if voted >= 0 else None)


def _vouching(o: RaftObserver, host: Any, dst: str, what: str, term: int, index: int,
              index_term: int | None, hard: Any) -> None:
    if hard is None:
        o.oracles.sent_entry(o.env._now, host.addr, dst, what, term, 0, index, index_term, -1)
    else:
        o.oracles.sent_entry(o.env._now, host.addr, dst, what, term, hard.term, index,
                             index_term, _term_at(hard, index))


def _in_memory_term(o: RaftObserver, host: Any, index: int) -> int | None:
    """The sender's own term at ``index``; None when its memory no longer holds the entry
    (a snapshot taken in this step, persisted at its end): then any entry on disk will do."""
    got = _term_at(o.raft_of(host.state).hard, index)
    return None if got < 0 else got


def _sent_append_reply(o: RaftObserver, host: Any, dst: str, msg: AppendEntriesReply,
                       hard: Any) -> None:
    if not msg.success or msg.match_index <= 0 or hard is None:
        o.oracles.sent(o.env._now, host.addr, dst, "AppendEntriesReply", msg.term,
                       hard.term if hard is not None else 0)
        return
    # inlined (the hot path: one success reply per AppendEntries): the sender's own term at
    # the index it vouches for, and the disk's
    index = msg.match_index
    mine = o.raft_of(host.state).hard
    pos = index - mine.log_start
    own = mine.log[pos].term if 0 < pos < len(mine.log) else None
    pos = index - hard.log_start
    disk = HELD if pos <= 0 else hard.log[pos].term if pos < len(hard.log) else -1
    o.oracles.sent_entry(o.env._now, host.addr, dst, "AppendEntriesReply(success)", msg.term,
                         hard.term, index, own, disk)


def _sent_append(o: RaftObserver, host: Any, dst: str, msg: AppendEntries, hard: Any) -> None:
    entries = msg.entries
    if not entries or hard is None:
        o.oracles.sent(o.env._now, host.addr, dst, "AppendEntries", msg.term,
                       hard.term if hard is not None else 0)
        return
    index = msg.prev_index + len(entries)
    pos = index - hard.log_start
    disk = HELD if pos <= 0 else hard.log[pos].term if pos < len(hard.log) else -1
    o.oracles.sent_entry(o.env._now, host.addr, dst, "AppendEntries", msg.term, hard.term,
                         index, entries[-1].term, disk)


def _sent_snapshot_reply(o: RaftObserver, host: Any, dst: str, msg: InstallSnapshotReply,
                         hard: Any) -> None:
    if msg.last_index <= 0:
        o.oracles.sent(o.env._now, host.addr, dst, "InstallSnapshotReply", msg.term,
                       hard.term if hard is not None else 0)
        return
    _vouching(o, host, dst, "InstallSnapshotReply", msg.term, msg.last_index,
              _in_memory_term(o, host, msg.last_index), hard)


def _sent_term_only(o: RaftObserver, host: Any, dst: str, msg: Any, hard: Any) -> None:
    o.oracles.sent(o.env._now, host.addr, dst, type(msg).__name__, msg.term,
                   hard.term if hard is not None else 0)


_SENT: dict[type, Callable[[RaftObserver, Any, str, Any, Any], None]] = {
    RequestVote: _sent_vote_request,
    RequestVoteReply: _sent_vote_reply,
    AppendEntries: _sent_append,
    AppendEntriesReply: _sent_append_reply,
    InstallSnapshot: _sent_term_only,
    InstallSnapshotReply: _sent_snapshot_reply,
}


def _first_new_position(old: Any, new: Any) -> int:
    """Position of the first entry of ``new`` that is not (the same object) in ``old``."""
    k = len(old)
    if len(new) >= k and new[k - 1] is old[k - 1]:
        return k
    limit = min(k, len(new))
    pos = 1
    while pos < limit and new[pos] is old[pos]:
        pos += 1
    return pos
