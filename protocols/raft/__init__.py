"""Raft as a pure, deterministic step function over immutable, hashable state.

``state = init(RaftConfig(me, peers))``, then ``state, effects = step(state, Restart(durable))``
and every later event through ``step``. Never does I/O, never reads a clock or randomness and
never imports simpy; see docs/raft.md for the rules each handler implements.
"""

from .messages import (
    RAFT_MESSAGES, AppendEntries, AppendEntriesReply, Entry, InstallSnapshot,
    InstallSnapshotReply, RequestVote, RequestVoteReply,
)
from .node import ELECTION, HEARTBEAT, step
from .quorum import committed_index, majority, vote_won
from .state import (
    ALLOWED_ROLE_TRANSITIONS, CANDIDATE, FOLLOWER, LEADER, ROLE_NAMES, HardState, RaftConfig,
    RaftState, current_term, entry_at, hard_state_size, init, is_leader, last_index,
    persisted_size, term_at,
)

__all__ = [
    "step", "init", "ELECTION", "HEARTBEAT",
    "RaftConfig", "RaftState", "HardState", "Entry",
    "RequestVote", "RequestVoteReply", "AppendEntries", "AppendEntriesReply",
    "InstallSnapshot", "InstallSnapshotReply", "RAFT_MESSAGES",
    "FOLLOWER", "CANDIDATE", "LEADER", "ROLE_NAMES", "ALLOWED_ROLE_TRANSITIONS",
    "is_leader", "current_term", "last_index", "term_at", "entry_at", "persisted_size",
    "hard_state_size", "majority", "vote_won", "committed_index",
]
