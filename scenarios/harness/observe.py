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

from itertools import compress
from operator import attrgetter, le, ne
from typing import Any, Callable, Final

from msgspec.structs import astuple

from checkers.invariants.kv import KVReference
from checkers.invariants.oracles import HELD, RaftOracles
from checkers.invariants.raft import RaftInvariants
from protocols import kv as kv_protocol
from protocols import raft
from protocols.core import Propose, Receive, Restart
from protocols.raft.messages import (
    AppendEntries, AppendEntriesReply, InstallSnapshot, InstallSnapshotReply, RequestVote,
    RequestVoteReply,
)
from sim.host import Host

__all__ = ["RaftObserver", "raft_field"]

_LEADER: Final = raft.LEADER
_KV_OP: Final = kv_protocol.Op
_CANDIDATE_OR_LEADER = ("candidate", "leader")
# Final: C statics in the compiled build, where a plain module-level name is a dict lookup.
_Receive: Final = Receive
_Propose: Final = Propose
_AppendEntries: Final = AppendEntries
_AppendEntriesReply: Final = AppendEntriesReply
_InstallSnapshotReply: Final = InstallSnapshotReply
_le: Final = le
_ne: Final = ne
_compress: Final = compress


def _identity(state: Any) -> Any:
    return state


#: ``raft_of`` for a service whose state holds its Raft state in the field ``raft``: the
#: observer then reads the field itself (an attribute read, not a call, twice per step).
raft_field: Final = attrgetter("raft")


#: Forget per-index records only in chunks of at least this many indexes (a list's prefix is
#: deleted in one go; doing it for every snapshot would copy the lists too often).
FORGET_CHUNK = 256


class RaftObserver:
    #: See ``FORGET_CHUNK`` (tests set it low to forget at every snapshot).
    forget_chunk = FORGET_CHUNK

    def __init__(self, env: Any, raft_of: Callable[[Any], raft.RaftState] = _identity,
                 invariants: RaftInvariants | None = None, kv: bool = False) -> None:
        self.env = env
        self.raft_of = raft_of
        self.invariants = invariants or RaftInvariants()
        self.oracles = RaftOracles()
        self.kv = KVReference() if kv else None
        self.hosts: dict[str, Host] = {}         # addr -> Host (followers' disks, for matchIndex)
        self.elections: list[tuple[float, str, str, int]] = []   # (t, node, role, term)
        self._touched: dict[str, list[tuple[str, str]]] = {}    # addr -> [(key, client)]
        self.forgotten = 0                       # records below this index are dropped
        self._bare = raft_of is _identity        # the node's state is its Raft state
        self._field = raft_of is raft_field      # ... or its field ``raft``
        self._unjudged: set[str] = set()         # leaders made by a Restart, not judged yet
        self._sent, self._sent_entry = self.oracles.sent, self.oracles.sent_entry
        self._sent_terms = self.oracles.sent_term

    def wrap(self, addr: str, step: Callable[[Any, Any], tuple[Any, list]]
             ) -> Callable[[Any, Any], tuple[Any, list]]:
        """``step`` plus a report of every entry appended to the node's log, and of every
        change of its commit index, snapshot index and (as leader) its followers' progress.

        One Python frame per step on top of ``step``: the common cases (one entry appended,
        the commit index moved by one, one follower's matchIndex moved) are handled here
        without building lists; the rest goes through the general helpers."""
        invariants, env, oracles = self.invariants, self.env, self.oracles
        entry_appended, log_appended = invariants.entry_appended, invariants.log_appended
        commit_moved, applied_moved = oracles.commit_moved, oracles.applied_moved
        starts_moved = self._log_start_moved
        raft_of = None if self._bare else self.raft_of
        field = self._field                     # the Raft state is ``state.raft``
        restart, leader, propose = Restart, _LEADER, Propose
        unjudged = self._unjudged
        # The records the rules keep (lists mutated in place, never replaced): an observation
        # equal to its record is one the rule would accept without a change, so it is not
        # passed on (RaftInvariants.entry_appended, RaftOracles.commit_moved say so).
        lm_term, lm_cmd, lm_prev = invariants._lm_term, invariants._lm_cmd, invariants._lm_prev
        c_term, c_cmd = oracles._c_term, oracles._c_cmd

        def observed(state: Any, event: Any) -> tuple[Any, list]:
            new, effects = step(state, event)
            if new is state:
                return new, effects
            if raft_of is None:
                old_raft, new_raft = state, new
            elif field:
                old_raft, new_raft = state.raft, new.raft
                if new_raft is old_raft:
                    return new, effects
            else:
                old_raft, new_raft = raft_of(state), raft_of(new)
                if new_raft is old_raft:
                    return new, effects
            old_hard, new_hard = old_raft.hard, new_raft.hard
            log: Any = None                 # new_hard's log and its start, once read
            start = old_start = 0
            if new_hard is not old_hard:
                start, old_start = new_hard.log_start, old_hard.log_start
                log, old_log = new_hard.log, old_hard.log
                if log is not old_log and start == old_start:
                    k, n = len(old_log), len(log)
                    before = log[k - 1] if n >= k else None
                    if before is not None and before is old_log[k - 1]:
                        first = k                           # appended at the end
                    else:
                        first = _first_new_position(old_log, log)
                        before = log[first - 1]
                    if first == n - 1:                      # one entry: no list
                        e = log[first]
                        term, prev = e.term, before.term
                        k = start + first - invariants._lm_base
                        if not (0 <= k < len(lm_term) and lm_term[k] == term
                                and lm_cmd[k] is e.command and lm_prev[k] == prev
                                and term >= prev):
                            entry_appended(env._now, addr, start + first, term, e.command,
                                           prev)
                    elif first < n:
                        log_appended(env._now, addr, start + first,
                                     [(e.term, e.command) for e in log[first:]], before.term)
                elif start != old_start and type(event) is not restart:
                    starts_moved()
            if type(event) is restart:
                if new_raft.role == leader:          # not judged here: judge all at its next
                    unjudged.add(addr)               # step (see below)
                return new, effects                  # a new incarnation starts from its disk
            applied: int = new_raft.applied         # ints: native compares when compiled
            old_applied: int = old_raft.applied
            if applied < old_applied or start < old_start:     # (both 0 if the hard state
                applied_moved(env._now, addr, old_applied, applied,   # is the same object)
                              old_hard.log_start, new_hard.log_start)
            commit: int = new_raft.commit
            old_commit: int = old_raft.commit
            if commit != old_commit:
                entries: Any
                if log is None:
                    log, start = new_hard.log, new_hard.log_start
                last = start + len(log) - 1
                first = (old_commit if old_commit > start else start) + 1
                if first == commit <= last:          # one entry: index the vector
                    e = log[first - start]
                    k = first - oracles._base
                    if (old_commit < commit and 0 <= k < len(c_term) and c_term[k] == e.term
                            and c_cmd[k] is e.command):
                        entries = None               # as the first commit there: accepted
                    else:
                        entries = ((e.term, e.command),)
                elif first <= commit <= last:
                    entries = [(e.term, e.command) for e in map(
                        log.__getitem__, range(first - start, commit - start + 1))]
                else:
                    entries = ()
                if entries is not None:
                    commit_moved(env._now, addr, old_commit, commit, last, first, entries)
            if new_raft.role != leader:
                return new, effects
            new_match, old_match = new_raft.match_index, old_raft.match_index
            new_next, old_next = new_raft.next_index, old_raft.next_index
            if new_match is not old_match or new_next is not old_next:
                # A proposal that moved only the leader's own matchIndex and no nextIndex
                # changes nothing the rule judges: every peer was judged at an earlier step
                # (each step of a leader is, but the Restart that made one: ``unjudged``).
                if not (new_next is old_next and type(event) is propose
                        and old_raft.role == leader and addr not in unjudged
                        and _only_mine(new_match, old_match, new_raft.config.me)):
                    unjudged.discard(addr)
                    self._progress(addr, old_raft, new_raft, event, new_match, old_match,
                                   new_next)
            return new, effects
        return observed

    def _progress(self, addr: str, old: raft.RaftState, new: raft.RaftState, event: Any,
                  new_match: tuple[int, ...], old_match: tuple[int, ...],
                  new_next: tuple[int, ...]) -> None:
        """The leader's matchIndex / nextIndex for the peers whose values changed; the
        follower's disk is read only when its matchIndex moved. ``nextIndex > matchIndex`` is
        checked for every peer by a C loop (``map``); the event names the peer whose
        matchIndex a step usually moves (a reply's sender; the leader itself on a proposal),
        and that guess is verified (the other positions compared) before it is used.
        ``new_match``, ``old_match``, ``new_next``: the two states' matchIndex and the new
        nextIndex, as the caller read them."""
        if old.role != _LEADER:
            self._progress_all(addr, old, new)
            return
        config = new.config
        me = config.me
        # nextIndex <= matchIndex anywhere but at the leader itself: the full loop raises,
        # naming the first such peer as before
        for peer in range(len(new_next)):
            if new_next[peer] <= new_match[peer] and peer != me:
                self._progress_all(addr, old, new)
                return
        if new_match == old_match:
            return
        kind = type(event)
        if kind is _Receive:
            msg = event.msg
            kind = type(msg)
            guess = (msg.follower if kind is _AppendEntriesReply or kind is _InstallSnapshotReply
                     else -1)
        else:
            guess = me if kind is _Propose else -1
        if 0 <= guess < len(new_match) and _only_mine(new_match, old_match, guess):
            if guess == me:
                return                            # only the leader's own entry moved
            changed: Any = (guess,)
        else:
            moved = list(map(_ne, new_match, old_match))
            moved[me] = False
            changed = _compress(range(len(moved)), moved)
        peers, hard, hosts = config.peers, new.hard, self.hosts
        term: int = hard.term
        start: int = hard.log_start
        log = hard.log
        for peer in changed:
            match = new_match[peer]
            follower = hosts.get(peers[peer])
            durable = follower.disk.read() if follower is not None and match > 0 else None
            if durable is None:
                continue                          # no verdict on the entry (next is checked)
            fhard = durable.state
            pos = match - start                   # _term_at, inlined
            mine = HELD if pos <= 0 else log[pos].term if pos < len(log) else -1
            flog = fhard.log
            pos = match - fhard.log_start
            theirs = HELD if pos <= 0 else flog[pos].term if pos < len(flog) else -1
            if theirs != mine and fhard.term == term:
                # only then can the rule object (nextIndex > matchIndex is checked above, and a
                # follower in another term gets no verdict): let it judge
                self.oracles.progress(self.env._now, addr, term, peers[peer], match,
                                      new_next[peer], mine, fhard.term, theirs)

    def _progress_all(self, addr: str, old: raft.RaftState, new: raft.RaftState) -> None:
        """Every peer, in order (a new leader, or a violation to name)."""
        new_match, new_next = new.match_index, new.next_index
        was_leader = old.role == _LEADER
        old_match = old.match_index
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

    def _log_start_moved(self) -> None:
        """A node's log start moved (a snapshot): once every node's log, in memory and on
        disk, starts at least ``forget_chunk`` indexes past what was forgotten, the
        checkers drop their records below it (``RaftInvariants.forget_below`` says why no
        check can need them). O(nodes), once per snapshot."""
        floor = None
        raft_of = self.raft_of
        for host in self.hosts.values():
            durable = host.disk.read()
            start = durable.state.log_start if durable is not None else 0
            if host.state is not None:
                start = min(start, raft_of(host.state).hard.log_start)
            if floor is None or start < floor:
                floor = start
        if floor is None or floor - self.forgotten < self.forget_chunk:
            return
        self.forgotten = floor
        self.invariants.forget_below(floor)
        self.oracles.forget_below(floor)
        if self.kv is not None:
            self.kv.forget_below(floor)

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
        index, term, command = astuple(effect)
        now, addr = self.env._now, host.addr
        self.invariants.applied(now, addr, index, term, command)
        if self.kv is not None and type(command) is _KV_OP:
            self._kv_apply(now, addr, host.state, index, command)

    def on_apply_snapshot(self, host: Any, effect: Any) -> None:
        self.invariants.snapshot_applied(self.env.now, host.addr, effect.index, effect.term)
        if self.kv is not None:
            machine = kv_protocol.decode_snapshot(effect.data)
            self.kv.snapshot_installed(self.env.now, host.addr, effect.index,
                                       machine.data, machine.sessions)

    def on_send(self, host: Host, effect: Any) -> None:
        """Persist-before-send: what ``host`` sends must already be on its disk. The two
        messages of replication (AppendEntries and its success reply, nearly every message)
        are extracted here, without a further call; the rest through ``_SENT``."""
        msg = effect.msg
        kind = type(msg)
        if kind is _AppendEntriesReply:
            durable = host.disk.read()
            index = msg.match_index
            if durable is None or not msg.success or index <= 0:
                self._sent(self.env._now, host.addr, effect.dst, "AppendEntriesReply", msg.term,
                           durable.state.term if durable is not None else 0)
                return
            hard = durable.state
            state = host.state
            mine = (state if self._bare else state.raft if self._field
                    else self.raft_of(state)).hard
            log = mine.log
            pos = index - mine.log_start
            own = log[pos].term if 0 < pos < len(log) else None
            if mine is hard:                # the usual case: the disk holds the node's own log
                disk = HELD if pos <= 0 else own if own is not None else -1
            else:
                log = hard.log
                pos = index - hard.log_start
                disk = HELD if pos <= 0 else log[pos].term if pos < len(log) else -1
            term = msg.term
            if (own is not None and (disk == own or disk == HELD) and term <= hard.term
                    and self._sent_terms.get(host.addr) == term):
                return                      # what sent_entry accepts without a change
            self._sent_entry(self.env._now, host.addr, effect.dst, "AppendEntriesReply(success)",
                             term, hard.term, index, own, disk)
        elif kind is _AppendEntries:
            durable = host.disk.read()
            entries = msg.entries
            if not entries or durable is None:
                self._sent(self.env._now, host.addr, effect.dst, "AppendEntries", msg.term,
                           durable.state.term if durable is not None else 0)
                return
            hard = durable.state
            index = msg.prev_index + len(entries)
            log = hard.log
            pos = index - hard.log_start
            disk = HELD if pos <= 0 else log[pos].term if pos < len(log) else -1
            term, last = msg.term, entries[-1].term
            if ((disk == last or disk == HELD) and term <= hard.term
                    and self._sent_terms.get(host.addr) == term):
                return                      # what sent_entry accepts without a change
            self._sent_entry(self.env._now, host.addr, effect.dst, "AppendEntries", term,
                             hard.term, index, last, disk)
        else:
            extract = _SENT.get(kind)
            if extract is not None:
                durable = host.disk.read()
                extract(self, host, effect.dst, msg,
                        durable.state if durable is not None else None)

    # KV: the reference fold -----------------------------------------------------------------

    def _kv_apply(self, now: float, addr: str, state: Any, index: int, op: Any) -> None:
        """``addr`` applied KV command ``op`` at ``index``; ``state`` is its state after the
        step. Fields are read once each (a Struct's attribute is a generic lookup in compiled
        code)."""
        kv = self.kv
        assert kv is not None
        client, seq, kind, key, value = astuple(op)      # one call, not five attributes
        kv.applied(now, addr, index, client, seq, kind, key, value)
        touched = self._touched.get(addr)
        if index != state.applied:                   # more applies follow in this step
            if touched is None:
                touched = self._touched[addr] = []
            touched.append((key, client))
            return
        machine = state.machine
        data: dict[str, str] = machine.data          # FrozenMaps: dict reads when compiled
        sessions: dict[str, int] = machine.sessions
        if touched:
            for k, c in touched:
                kv.check_key(now, addr, k, data.get(k, ""), c, sessions.get(c, 0))
            touched.clear()
        kv.check_key(now, addr, key, data.get(key, ""), client, sessions.get(client, 0))
        if state.raft.hard.log_start == index:       # the step ended with a snapshot here
            kv.snapshot_taken(addr, index)


# ---------------------------------------------------------------- extraction: protocol -> plain

def _term_at(hard: Any, index: int) -> int:
    """Term of ``index`` in a hard state: ``HELD`` inside the snapshot, -1 beyond the log."""
    pos = index - hard.log_start
    if pos <= 0:
        return HELD
    if pos < len(hard.log):
        return hard.log[pos].term
    return -1


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


_SENT: Final[dict[type, Callable[[RaftObserver, Any, str, Any, Any], None]]] = {
    RequestVote: _sent_vote_request,
    RequestVoteReply: _sent_vote_reply,
    InstallSnapshot: _sent_term_only,
    InstallSnapshotReply: _sent_snapshot_reply,
}


def _only_mine(new: tuple[int, ...], old: tuple[int, ...], me: int) -> bool:
    """``new`` and ``old`` differ at most at position ``me`` (a proposal moved the leader's
    own matchIndex, which the rule does not judge)."""
    return new[:me] == old[:me] and new[me + 1:] == old[me + 1:]


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
