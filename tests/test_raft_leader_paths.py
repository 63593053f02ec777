"""The leader's replication paths, against their definitions: what an AppendEntries carries,
and what a late success reply may change. Reference: §5.3 (nextIndex, matchIndex, commit).
"""

from __future__ import annotations

from pyrsistent import pvector

from protocols.core import Apply, Send
from protocols.raft import AppendEntries, AppendEntriesReply, Entry, node
from protocols.raft.state import LEADER, HardState, RaftConfig, RaftState

PEERS = ("s0", "s1", "s2", "s3", "s4")


def leader(log_len: int, log_start: int = 0, max_batch: int = 64, commit: int = 0,
           nexts: tuple[int, ...] | None = None,
           matches: tuple[int, ...] | None = None) -> RaftState:
    """s0 leads term 3 with ``log_len`` entries after the sentinel at ``log_start``."""
    log = pvector([Entry(1, None)] + [Entry(2 + i % 2, f"c{i}") for i in range(log_len)])
    last = log_start + log_len
    config = RaftConfig(me=0, peers=PEERS, max_batch=max_batch)
    hard = HardState(term=3, voted_for=0, log=log, log_start=log_start)
    return RaftState(config=config, hard=hard, role=LEADER, leader=0, commit=commit,
                     applied=commit, next_index=nexts or (last + 1,) * 5,
                     match_index=matches or (last, 0, 0, 0, 0))


def test_append_entries_carry_the_log_from_next_index_up_to_max_batch() -> None:
    """An AppendEntries to a peer carries the entries from its nextIndex on, at most
    ``max_batch`` of them, with the (index, term) of the entry before: empty for a peer that
    is up to date (a heartbeat), one entry for a pipelined proposal, a batch for a laggard;
    nextIndex moves past what was sent."""
    for log_start in (0, 5):
        for log_len in (0, 1, 2, 7):
            for max_batch in (1, 3, 64):
                last = log_start + log_len
                for next_index in range(log_start + 1, last + 2):
                    state = leader(log_len, log_start, max_batch)
                    hard = state.hard
                    nexts = [next_index] * 5
                    effects: list = []
                    moved = node._send_append(state, hard, 1, nexts, 0, effects)
                    (send,) = effects
                    assert type(send) is Send and send.dst == "s1"
                    msg = send.msg
                    pos = next_index - log_start
                    want = tuple(hard.log[pos:pos + max_batch])
                    assert type(msg) is AppendEntries and msg.entries == want
                    assert msg.prev_index == next_index - 1
                    assert msg.prev_term == hard.log[pos - 1].term
                    assert moved == bool(want) and nexts[1] == next_index + len(want)


def test_late_success_reply_moves_match_but_not_commit() -> None:
    """A success reply that arrives after a majority already committed past its match index
    records the follower's matchIndex and leaves the commit index where it is; one that
    completes a majority of the leader's term commits and applies. Reference: §5.3, §5.4.2."""
    # Log 1..6, entries 1..4 committed by s0, s1, s2; s3 and s4 still at 0.
    state = leader(6, commit=4, nexts=(7, 7, 7, 1, 1), matches=(6, 4, 4, 0, 0))
    effects: list = []
    new = node._MESSAGE_HANDLERS[AppendEntriesReply](
        state, AppendEntriesReply(3, 3, True, 2), effects)
    assert new.commit == 4 and new.applied == 4
    assert new.match_index == (6, 4, 4, 2, 0) and new.next_index[3] == 7   # sent 3..6
    assert not [e for e in effects if type(e) is Apply]
    (send,) = [e for e in effects if type(e) is Send]      # the rest of the log follows
    assert send.dst == "s3" and send.msg.prev_index == 2 and len(send.msg.entries) == 4
    # Entry 6 is of the leader's term: held by s0 and s1 it is not committed, by a third it is.
    assert new.next_index == (7, 7, 7, 7, 1)
    new = node._MESSAGE_HANDLERS[AppendEntriesReply](new, AppendEntriesReply(3, 1, True, 6), [])
    assert new.commit == 4
    effects = []
    new = node._MESSAGE_HANDLERS[AppendEntriesReply](new, AppendEntriesReply(3, 2, True, 6),
                                                     effects)
    assert new.commit == 6 and new.applied == 6
    assert [e.index for e in effects if type(e) is Apply] == [5, 6]
