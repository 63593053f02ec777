"""Raft (extended paper §5, §7) as one pure step function: ``step(state, event) -> (state, effects)``.

This module owns every protocol rule: term rules, elections, replication with fast backup,
the commit rule, snapshots. It never does I/O, never reads a clock or a random source and never
imports simpy: timers are ``SetTimer`` effects whose delays the driver draws, and durability is a
``Persist`` effect placed before every ``Send`` of the same step.
"""

from __future__ import annotations

from typing import Any, Callable, Final, Sequence

from msgspec.structs import replace

from ..core import (
    Effects, Apply, ApplySnapshot, CancelTimer, Note, Persist, Propose, Proposed, Receive, Restart,
    RoleChanged, Send, SetTimer, TakeSnapshot, TimerFired,
)
from .messages import (
    AppendEntries, AppendEntriesReply, Entry, InstallSnapshot, InstallSnapshotReply, RequestVote,
    RequestVoteReply,
)
from .quorum import committed_index, vote_won
from .state import (
    ALLOWED_ROLE_TRANSITIONS, CANDIDATE, FOLLOWER, LEADER, ROLE_NAMES, HardState, RaftState,
    init,
)

__all__ = ["step", "ELECTION", "HEARTBEAT"]

ELECTION: Final = "election"
HEARTBEAT: Final = "heartbeat"

# In the compiled build (tools/build_compiled.py) every use of a module-level name is a lookup
# in the module's dict unless the name is Final (then it is a C static): the hot paths below
# use these Final aliases of what they import. The interpreter reads both kinds alike.
_replace: Final = replace
_Send: Final = Send
_Persist: Final = Persist
_SetTimer: Final = SetTimer
_Apply: Final = Apply
_Proposed: Final = Proposed
_Restart: Final = Restart
_RoleChanged: Final = RoleChanged
_Entry: Final = Entry
_AppendEntries: Final = AppendEntries
_AppendEntriesReply: Final = AppendEntriesReply

def step(state: RaftState, event: Any) -> tuple[RaftState, Effects]:
    """Apply one event. Effects come back in the order the driver must perform them."""
    effects: Effects = []
    handler = _EVENT_HANDLERS.get(type(event))
    if handler is _handle_receive:
        # handle_receive without its frame (a step per delivered message): the shared term
        # rule, then the message's own handler.
        msg = event.msg
        handler = _MESSAGE_HANDLERS.get(type(msg))
        if handler is None:
            effects.append(Note("ignored message", type(msg).__name__))
            return state, _finish(state, state, effects, True)
        new = handler(state if msg.term <= state.hard.term
                      else _newer_term(state, msg.term, effects), msg, effects)
        if new is state:        # nothing changed: nothing to persist, no role change
            return new, effects
        return new, _finish(state, new, effects, True)
    if handler is None:
        return state, [Note("ignored", type(event).__name__)]
    new = handler(state, event, effects)
    # A Restart only reads what is already durable: nothing to persist again.
    return new, _finish(state, new, effects, type(event) is not _Restart)


def _finish(old: RaftState, new: RaftState, effects: Effects, persist: bool) -> Effects:
    """Prefix the observations and the Persist that every Send of this step depends on."""
    at = 0
    hard, old_hard = new.hard, old.hard             # each field read once (see _replace)
    if persist:
        snapshot, old_snapshot = new.snapshot, old.snapshot
        if hard is not old_hard or snapshot is not old_snapshot:
            # §5.1/Figure 2: term, vote and log reach stable storage before any reply or request.
            effects.insert(0, _Persist(hard, snapshot if snapshot is not old_snapshot else None))
            at = 1
    role, old_role = new.role, old.role
    if role != old_role or (hard is not old_hard and hard.term != old_hard.term):
        if ((old_role, role) not in ALLOWED_ROLE_TRANSITIONS
                and len(new.config.peers) > 1):   # alone, a follower wins its vote at once
            raise AssertionError(f"illegal role change {ROLE_NAMES[old_role]} -> "
                                 f"{ROLE_NAMES[role]}")
        effects.insert(at, _RoleChanged(ROLE_NAMES[role], hard.term))
    return effects


# ---------------------------------------------------------------- lifecycle

def handle_restart(state: RaftState, event: Restart, effects: Effects) -> RaftState:
    """Boot from exactly what was persisted; everything volatile starts afresh (§5.1)."""
    fresh = init(state.config)
    if event.durable is not None:
        hard, snapshot = event.durable.state, event.durable.snapshot
        fresh = replace(fresh, hard=hard, snapshot=snapshot or b"",
                        commit=hard.log_start, applied=hard.log_start)
        if snapshot:
            effects.append(ApplySnapshot(hard.log_start, hard.log[0].term, snapshot))
    effects.append(_election_timer(fresh))
    return fresh


def _election_timer(state: RaftState) -> SetTimer:
    cfg = state.config
    return SetTimer(ELECTION, cfg.election_lo, cfg.election_hi)


# ---------------------------------------------------------------- timers

def handle_timer(state: RaftState, event: TimerFired, effects: Effects) -> RaftState:
    if event.kind == ELECTION and state.role != LEADER:
        return become_candidate(state, effects)
    if event.kind == HEARTBEAT and state.role == LEADER:
        state = broadcast_append(state, effects)
        effects.append(_SetTimer(HEARTBEAT, state.config.heartbeat, state.config.heartbeat))
    return state


def become_candidate(state: RaftState, effects: Effects) -> RaftState:
    """§5.2: increment the term, vote for self, ask everyone else for votes."""
    me = state.config.me
    hard = replace(state.hard, term=state.hard.term + 1, voted_for=me)
    state = replace(state, hard=hard, role=CANDIDATE, leader=-1, votes=1 << me)
    effects.append(_election_timer(state))
    if vote_won(state.votes, len(state.config.peers)):
        return become_leader(state, effects)
    last = _last(hard)
    request = RequestVote(hard.term, me, last, hard.log[-1].term)
    for peer, addr in enumerate(state.config.peers):
        if peer != me:
            effects.append(Send(addr, request))
    return state


def become_follower(state: RaftState, term: int, leader: int) -> RaftState:
    """§5.1: a higher term always wins; the vote resets with the term."""
    hard = state.hard
    if term != hard.term:
        hard = _replace(hard, term=term, voted_for=-1)
    return _replace(state, hard=hard, role=FOLLOWER, leader=leader, votes=0,
                   next_index=(), match_index=())


def become_leader(state: RaftState, effects: Effects) -> RaftState:
    """§5.2/§5.3: take over with nextIndex just past our log and assert authority at once."""
    n = len(state.config.peers)
    last = _last(state.hard)
    match = [0] * n
    match[state.config.me] = last
    state = replace(state, role=LEADER, leader=state.config.me,
                    next_index=(last + 1,) * n, match_index=tuple(match))
    effects.append(CancelTimer(ELECTION))
    effects.append(SetTimer(HEARTBEAT, state.config.heartbeat, state.config.heartbeat))
    state = broadcast_append(state, effects)
    return maybe_commit(state, effects)


# ---------------------------------------------------------------- service requests

def handle_propose(state: RaftState, event: Propose, effects: Effects) -> RaftState:
    """The lab's Start(): append to the leader's log and replicate; answer index/term/leader."""
    hard = state.hard
    if state.role != LEADER:
        effects.append(_Proposed(-1, hard.term, False))
        return state
    hard = _replace(hard, log=hard.log.append(_Entry(hard.term, event.command)))
    last = hard.log_start + len(hard.log) - 1          # _last(hard), without its frame
    me = state.config.me
    matches = list(state.match_index)
    matches[me] = last
    effects.append(_Proposed(last, hard.term, True))
    # A proposal is sent at once only to idle peers (nothing unacknowledged on its way to
    # them: nextIndex == matchIndex + 1); a busy peer gets the new entries in one batch when
    # its reply arrives (or, if the in-flight message was lost, after the next heartbeat's
    # rejection). This is flow control with one message in flight, as etcd's probe state.
    nexts: list[int] | None = None        # copied once, and only if something is sent
    old_nexts = state.next_index
    for peer, peer_next in enumerate(old_nexts):
        if peer_next == matches[peer] + 1 and peer != me:
            if nexts is None:
                nexts = list(old_nexts)
            _send_append(state, hard, peer, nexts, state.commit, effects)
    next_index = old_nexts if nexts is None else tuple(nexts)
    commit, applied = state.commit, state.applied
    index = _commit_index(hard, commit, matches)
    if index > commit:
        _append_applies(applied, index, hard, effects)
        commit = applied = index
    return _replace(state, hard=hard, match_index=tuple(matches), next_index=next_index,
                   commit=commit, applied=applied)


def handle_take_snapshot(state: RaftState, event: TakeSnapshot, effects: Effects) -> RaftState:
    """§7: the service captured everything up to ``index``; drop that prefix of the log."""
    hard = state.hard
    index = event.index
    if index <= hard.log_start or index > state.applied:
        effects.append(Note("snapshot ignored", index))
        return state
    pos = index - hard.log_start
    log = hard.log[pos:].set(0, Entry(hard.log[pos].term, None))
    hard = replace(hard, log=log, log_start=index)
    return replace(state, hard=hard, snapshot=event.data)


# ---------------------------------------------------------------- messages

def handle_receive(state: RaftState, event: Receive, effects: Effects) -> RaftState:
    """Rules every role shares (§5.1), then dispatch by message type."""
    msg = event.msg
    handler = _MESSAGE_HANDLERS.get(type(msg))
    if handler is None:
        effects.append(Note("ignored message", type(msg).__name__))
        return state
    if msg.term > state.hard.term:
        state = _newer_term(state, msg.term, effects)
    return handler(state, msg, effects)


def _newer_term(state: RaftState, term: int, effects: Effects) -> RaftState:
    """§5.1: a message of a higher term makes us a follower of that term."""
    was_leader = state.role == LEADER
    state = become_follower(state, term, -1)
    if was_leader:
        # A deposed leader has no election timer armed (become_leader cancelled it).
        effects.append(CancelTimer(HEARTBEAT))
        effects.append(_election_timer(state))
    return state


def handle_request_vote(state: RaftState, msg: RequestVote, effects: Effects) -> RaftState:
    """§5.2, §5.4.1: one vote per term, only for a candidate whose log is at least as up to date."""
    hard = state.hard
    me = state.config.me
    granted = False
    if msg.term == hard.term and hard.voted_for in (-1, msg.candidate):
        my_last_term = hard.log[-1].term
        up_to_date = (msg.last_log_term > my_last_term or
                      (msg.last_log_term == my_last_term and msg.last_log_index >= _last(hard)))
        if up_to_date:
            granted = True
            if hard.voted_for != msg.candidate:
                state = replace(state, hard=replace(hard, voted_for=msg.candidate))
            effects.append(_election_timer(state))
    reply = RequestVoteReply(state.hard.term, me, granted)
    effects.append(Send(state.config.peers[msg.candidate], reply))
    return state


def handle_vote_reply(state: RaftState, msg: RequestVoteReply, effects: Effects) -> RaftState:
    if state.role != CANDIDATE or msg.term != state.hard.term or not msg.granted:
        return state
    state = replace(state, votes=state.votes | (1 << msg.voter))
    if vote_won(state.votes, len(state.config.peers)):
        return become_leader(state, effects)
    return state


def handle_append_entries(state: RaftState, msg: AppendEntries, effects: Effects) -> RaftState:
    """§5.3: accept entries only after the (prev_index, prev_term) consistency check."""
    config = state.config
    me = config.me
    leader = msg.leader
    reply_to = config.peers[leader]
    term = msg.term
    hard = state.hard
    if term < hard.term:
        effects.append(_Send(reply_to, _AppendEntriesReply(hard.term, me, False, 0)))
        return state
    if state.role != FOLLOWER or state.leader != leader:
        state = become_follower(state, term, leader)
        hard = state.hard
    effects.append(_SetTimer(ELECTION, config.election_lo, config.election_hi))  # _election_timer
    sent_prev, sent = msg.prev_index, msg.entries
    log, start = hard.log, hard.log_start
    prev, entries = sent_prev, sent
    if prev < start:
        prev, entries = _skip_compacted(hard, prev, entries)
    last = start + len(log) - 1
    if prev > last:
        reject = _AppendEntriesReply(hard.term, me, False, 0, -1, last + 1)
        effects.append(_Send(reply_to, reject))
        return state
    my_prev_term = log[prev - start].term
    prev_term = msg.prev_term if prev == sent_prev else my_prev_term
    if my_prev_term != prev_term:
        first = _first_index_of_term(hard, prev, my_prev_term)
        reject = _AppendEntriesReply(hard.term, me, False, 0, my_prev_term, first)
        effects.append(_Send(reply_to, reject))
        return state
    if prev == last:            # the usual case: nothing to compare, append (or a heartbeat)
        merged = _replace(hard, log=log.extend(entries)) if entries else hard
    else:
        merged = _merge_entries(hard, prev, entries)
    match = sent_prev + len(sent)
    leader_commit = msg.leader_commit
    commit = leader_commit if leader_commit < match else match    # min(), inline
    if commit > state.commit:
        state = _apply_up_to(state, merged, commit, effects)    # one copy of the state
    elif merged is not hard:
        state = _replace(state, hard=merged)
    effects.append(_Send(reply_to, _AppendEntriesReply(merged.term, me, True, match)))
    return state


def _skip_compacted(hard: HardState, prev: int, entries: tuple) -> tuple[int, tuple]:
    """Entries at or below our snapshot are committed, hence already match: drop them."""
    if prev >= hard.log_start:
        return prev, entries
    skip = hard.log_start - prev
    return hard.log_start, entries[skip:]


def _merge_entries(hard: HardState, prev: int, entries: tuple) -> HardState:
    """Append ``entries`` after ``prev``; truncate only at a real conflict (§5.3, Figure 2 #3-4).

    A stale or duplicated AppendEntries whose entries already match must not truncate the log.
    """
    log = hard.log
    start = hard.log_start
    last = start + len(log) - 1
    for offset, entry in enumerate(entries):
        index = prev + 1 + offset
        if index > last:
            return _replace(hard, log=log.extend(entries[offset:]))
        if log[index - start].term != entry.term:
            log = log[:index - start].extend(entries[offset:])
            return _replace(hard, log=log)
    return hard


def _first_index_of_term(hard: HardState, index: int, term: int) -> int:
    """First index of the run of ``term`` ending at ``index`` (the lab's XIndex)."""
    log, start = hard.log, hard.log_start
    pos = index - start
    while pos > 1 and log[pos - 1].term == term:
        pos -= 1
    return start + pos


def handle_append_reply(state: RaftState, msg: AppendEntriesReply, effects: Effects) -> RaftState:
    if state.role != LEADER:
        return state
    hard = state.hard
    if msg.term != hard.term:
        return state
    peer = msg.follower
    if msg.success:
        return maybe_advance(state, peer, msg.match_index, effects)
    next_index = max(_backup(hard, msg), state.match_index[peer] + 1)
    old_nexts = state.next_index
    if next_index >= old_nexts[peer]:
        return state            # a stale rejection: what it asks for is already on its way
    nexts = list(old_nexts)
    nexts[peer] = next_index
    _send_append(state, hard, peer, nexts, state.commit, effects)
    return _replace(state, next_index=tuple(nexts))


def _backup(hard: HardState, msg: AppendEntriesReply) -> int:
    """Fast nextIndex backup over a whole conflicting term (§5.3, the lab's XTerm/XIndex/XLen)."""
    if msg.conflict_term < 0:
        return max(msg.conflict_index, 1)
    log, start = hard.log, hard.log_start
    pos = len(log) - 1
    while pos > 0 and log[pos].term > msg.conflict_term:
        pos -= 1
    if pos > 0 and log[pos].term == msg.conflict_term:
        return start + pos + 1
    return max(msg.conflict_index, 1)


def handle_install_snapshot(state: RaftState, msg: InstallSnapshot, effects: Effects) -> RaftState:
    """§7: a lagging follower replaces its log prefix with the leader's snapshot."""
    me = state.config.me
    reply_to = state.config.peers[msg.leader]
    if msg.term < state.hard.term:
        effects.append(Send(reply_to, InstallSnapshotReply(state.hard.term, me, 0)))
        return state
    if state.role != FOLLOWER or state.leader != msg.leader:
        state = become_follower(state, msg.term, msg.leader)
    effects.append(_election_timer(state))
    if msg.last_index > state.commit:
        state = _install(state, msg, effects)
    effects.append(Send(reply_to, InstallSnapshotReply(state.hard.term, me, msg.last_index)))
    return state


def _install(state: RaftState, msg: InstallSnapshot, effects: Effects) -> RaftState:
    hard = state.hard
    pos = msg.last_index - hard.log_start
    sentinel = Entry(msg.last_term, None)
    if pos < len(hard.log) and hard.log[pos].term == msg.last_term:
        log = hard.log[pos:].set(0, sentinel)  # §7: keep the suffix that follows the snapshot
    else:
        log = hard.log[:1].set(0, sentinel)
    hard = replace(hard, log=log, log_start=msg.last_index)
    effects.append(ApplySnapshot(msg.last_index, msg.last_term, msg.data))
    return replace(state, hard=hard, snapshot=msg.data, commit=msg.last_index,
                   applied=msg.last_index)


def handle_snapshot_reply(state: RaftState, msg: InstallSnapshotReply,
                          effects: Effects) -> RaftState:
    if state.role != LEADER or msg.term != state.hard.term:
        return state
    return maybe_advance(state, msg.follower, msg.last_index, effects)


def maybe_advance(state: RaftState, peer: int, match: int, effects: Effects) -> RaftState:
    """``peer`` holds our log up to ``match``: record it, maybe commit, send what follows.

    Replies can arrive late and out of order: one that tells nothing new changes nothing.
    """
    old_matches = state.match_index
    if match <= old_matches[peer]:
        return state
    matches = list(old_matches)
    nexts = list(state.next_index)
    matches[peer] = match
    if nexts[peer] <= match:                    # nextIndex = max(nextIndex, match + 1)
        nexts[peer] = match + 1
    hard = state.hard
    old_commit = state.commit
    # A match at or below the commit index cannot move it: the majority index above the
    # commit index, if any, is unchanged (and was not committable). Skip the quorum count.
    commit = old_commit if match <= old_commit else _commit_index(hard, old_commit, matches)
    if commit > old_commit:
        _append_applies(state.applied, commit, hard, effects)
    if nexts[peer] <= hard.log_start + len(hard.log) - 1:      # _last(hard)
        _send_append(state, hard, peer, nexts, commit, effects)
    if commit > old_commit:
        return _replace(state, match_index=tuple(matches), next_index=tuple(nexts),
                       commit=commit, applied=commit)
    return _replace(state, match_index=tuple(matches), next_index=tuple(nexts))


# ---------------------------------------------------------------- replication

# A step that touches the leader's progress copies nextIndex / matchIndex into lists once,
# updates them in place (``_send_append``) and stores them back once, with the commit index.

def broadcast_append(state: RaftState, effects: Effects) -> RaftState:
    me = state.config.me
    nexts = list(state.next_index)
    moved = False
    for peer in range(len(state.config.peers)):
        if peer != me:
            moved = _send_append(state, state.hard, peer, nexts, state.commit, effects) or moved
    return replace(state, next_index=tuple(nexts)) if moved else state


def send_append(state: RaftState, peer: int, effects: Effects) -> RaftState:
    """AppendEntries from the peer's nextIndex, or the snapshot if that prefix is gone (§7).

    nextIndex moves past the entries sent (optimistic pipelining, as etcd's replicate state):
    the next proposal carries only its own entry. A lost message shows up as a rejection,
    at the latest on the next heartbeat, and nextIndex backs up.
    """
    nexts = list(state.next_index)
    if _send_append(state, state.hard, peer, nexts, state.commit, effects):
        return replace(state, next_index=tuple(nexts))
    return state


def _send_append(state: RaftState, hard: HardState, peer: int, nexts: list[int], commit: int,
                 effects: Effects) -> bool:
    """``send_append`` from log ``hard`` on the step's list of nextIndexes, with ``commit`` as
    leaderCommit; True if the peer's nextIndex moved."""
    start = hard.log_start
    config = state.config
    next_index = nexts[peer]
    if next_index <= start:
        effects.append(_Send(config.peers[peer], InstallSnapshot(
            hard.term, config.me, start, hard.log[0].term, state.snapshot)))
        # In flight now, like entries: the peer is busy until it answers, and a lost snapshot
        # shows up as a rejection of the next heartbeat, which backs nextIndex up again.
        nexts[peer] = start + 1
        return True
    pos = next_index - start
    log = hard.log
    size = len(log)
    if pos >= size:             # a heartbeat: nothing to send
        entries: tuple = ()
    elif pos == size - 1 and config.max_batch > 0:   # one entry (pipelined): no slice
        entries = (log[pos],)
    else:
        entries = tuple(log[pos:pos + config.max_batch])
    effects.append(_Send(config.peers[peer], _AppendEntries(
        hard.term, config.me, next_index - 1, log[pos - 1].term, entries, commit)))
    if entries:
        nexts[peer] = next_index + len(entries)
        return True
    return False


def _commit_index(hard: HardState, commit: int, matches: Sequence[int]) -> int:
    """§5.3/§5.4.2 (Figure 8): the index a majority holds, if it is of the leader's current
    term and past the commit index ``commit``; else ``commit``."""
    index = committed_index(matches)
    if index <= commit:
        return commit
    if hard.log[index - hard.log_start].term != hard.term:
        return commit
    return index


def maybe_commit(state: RaftState, effects: Effects) -> RaftState:
    """§5.3/§5.4.2 (Figure 8): count replicas only for an entry of the leader's current term."""
    index = _commit_index(state.hard, state.commit, state.match_index)
    if index <= state.commit:
        return state
    return apply_committed(replace(state, commit=index), effects)


def apply_committed(state: RaftState, effects: Effects) -> RaftState:
    """Hand every newly committed entry to the service, in order, without gaps."""
    _append_applies(state.applied, state.commit, state.hard, effects)
    return replace(state, applied=state.commit)


def _apply_up_to(state: RaftState, hard: HardState, commit: int,
                 effects: Effects) -> RaftState:
    """``apply_committed`` of the state with log ``hard`` and commit index ``commit``."""
    _append_applies(state.applied, commit, hard, effects)
    return _replace(state, hard=hard, commit=commit, applied=commit)


def _append_applies(applied: int, commit: int, hard: HardState, effects: Effects) -> None:
    log, start = hard.log, hard.log_start
    for index in range(applied + 1, commit + 1):
        entry = log[index - start]
        effects.append(_Apply(index, entry.term, entry.command))


def _last(hard: HardState) -> int:
    return hard.log_start + len(hard.log) - 1


Handler = Callable[[RaftState, Any, Effects], RaftState]

_EVENT_HANDLERS: Final[dict[type, Handler]] = {
    Receive: handle_receive,
    TimerFired: handle_timer,
    Restart: handle_restart,
    Propose: handle_propose,
    TakeSnapshot: handle_take_snapshot,
}

_MESSAGE_HANDLERS: Final[dict[type, Handler]] = {
    RequestVote: handle_request_vote,
    RequestVoteReply: handle_vote_reply,
    AppendEntries: handle_append_entries,
    AppendEntriesReply: handle_append_reply,
    InstallSnapshot: handle_install_snapshot,
    InstallSnapshotReply: handle_snapshot_reply,
}

_handle_receive: Final = handle_receive     # see the Final aliases above
