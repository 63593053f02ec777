"""One test per rule of the extended Raft paper, on the bare step function driven by the
synchronous cluster (tests/clusters.py over sim.cluster).

Each docstring names the rule and the section it comes from ("Reference: §5.x").
"""

from __future__ import annotations

from protocols import raft
from protocols.core import (
    ApplySnapshot, CancelTimer, Persist, Receive, RoleChanged, Send, SetTimer, TimerFired,
)
from protocols.raft import (
    AppendEntries, AppendEntriesReply, Entry, InstallSnapshot, RequestVote, RequestVoteReply,
)

from clusters import RaftCluster


def sends(effects):
    return [e for e in effects if type(e) is Send]


def first(effects, kind):
    return next(e for e in effects if type(e) is kind)


def test_timeout_starts_election():
    """A follower whose election timer fires increments its term, votes for itself, and asks
    every other server for a vote. Reference: §5.2."""
    c = RaftCluster(3)
    effects = c.timeout(0)
    s = c.states[0]
    assert (s.role, s.hard.term, s.hard.voted_for) == (raft.CANDIDATE, 1, 0)
    votes = sends(effects)
    assert sorted(e.dst for e in votes) == ["s1", "s2"]
    assert all(type(e.msg) is RequestVote and e.msg.term == 1 for e in votes)
    assert first(effects, SetTimer).kind == raft.ELECTION


def test_persist_precedes_dependent_sends():
    """Term, vote and log are on stable storage before any message that depends on them.
    Reference: §5.1 and Figure 2 (Persistent state)."""
    c = RaftCluster(3)
    effects = c.timeout(0)
    assert type(effects[0]) is Persist
    c.drop_all()
    effects = c.step(1, Receive("s0", RequestVote(1, 0, 0, 0)))
    kinds = [type(e) for e in effects]
    assert kinds.index(Persist) < kinds.index(Send)
    assert c.disk[1].state.voted_for == 0


def test_majority_wins_election_and_leader_asserts_authority():
    """A candidate with votes from a majority becomes leader and sends heartbeats at once.
    Reference: §5.2."""
    c = RaftCluster(3)
    c.timeout(0)
    c.deliver(0)                         # s1 votes
    effects = c.deliver(0 if c.inflight[0].dst == "s0" else 1)
    assert c.states[0].role == raft.LEADER
    assert CancelTimer(raft.ELECTION) in effects
    heartbeat = next(e for e in effects if type(e) is SetTimer and e.kind == raft.HEARTBEAT)
    assert heartbeat.lo >= 100.0          # at most ten heartbeats per second (lab 3A hint)
    assert {e.dst for e in sends(effects) if type(e.msg) is AppendEntries} == {"s1", "s2"}


def test_no_majority_stays_candidate():
    """Without a majority of votes a candidate stays candidate; a new timeout starts a new term.
    Reference: §5.2."""
    c = RaftCluster(5)
    c.timeout(0)
    c.drop_all(lambda m: m.dst != "s1")
    c.deliver_all()
    assert c.states[0].role == raft.CANDIDATE
    c.drop_all()
    c.timeout(0)
    assert c.states[0].hard.term == 2 and c.states[0].role == raft.CANDIDATE


def test_one_vote_per_term():
    """Each server votes for at most one candidate in a given term, first come first served.
    Reference: §5.2."""
    c = RaftCluster(3)
    c.step(2, Receive("s0", RequestVote(1, 0, 0, 0)))
    effects = c.step(2, Receive("s1", RequestVote(1, 1, 0, 0)))
    reply = first(effects, Send).msg
    assert type(reply) is RequestVoteReply and not reply.granted
    effects = c.step(2, Receive("s0", RequestVote(1, 0, 0, 0)))
    assert first(effects, Send).msg.granted     # repeating the same vote is fine


def test_vote_denied_to_stale_log():
    """A voter denies its vote if its own log is more up to date than the candidate's: a
    later last term wins; with equal last terms the longer log wins. Reference: §5.4.1."""
    c = RaftCluster(3)
    c.elect(0)
    c.propose(0, "x")
    c.deliver_all()
    assert raft.last_index(c.states[1]) == 1
    stale_term = c.step(1, Receive("s2", RequestVote(5, 2, 5, 0)))
    assert not first(stale_term, Send).msg.granted
    shorter = c.step(1, Receive("s2", RequestVote(6, 2, 0, 1)))
    assert not first(shorter, Send).msg.granted
    equal = c.step(1, Receive("s2", RequestVote(7, 2, 1, 1)))
    assert first(equal, Send).msg.granted


def test_higher_term_converts_to_follower():
    """If a server sees a larger term it adopts it and becomes follower; a deposed leader
    re-arms its election timer. Reference: §5.1."""
    c = RaftCluster(3)
    c.elect(0)
    effects = c.step(0, Receive("s1", AppendEntriesReply(9, 1, False, 0)))
    s = c.states[0]
    assert (s.role, s.hard.term, s.hard.voted_for) == (raft.FOLLOWER, 9, -1)
    assert RoleChanged("follower", 9) in effects
    assert any(type(e) is SetTimer and e.kind == raft.ELECTION for e in effects)


def test_stale_term_request_rejected():
    """A request with a stale term is rejected and the reply carries the current term.
    Reference: §5.1."""
    c = RaftCluster(3)
    c.elect(0)
    c.elect(1)
    effects = c.step(1, Receive("s0", AppendEntries(1, 0, 0, 0, (), 0)))
    reply = first(effects, Send).msg
    assert not reply.success and reply.term == 2
    assert c.states[1].role == raft.LEADER


def test_candidate_yields_to_leader_of_same_term():
    """A candidate that receives AppendEntries from a leader of its own term steps down.
    Reference: §5.2."""
    c = RaftCluster(3)
    c.timeout(1)
    c.drop_all()
    c.step(1, Receive("s0", AppendEntries(1, 0, 0, 0, (), 0)))
    assert c.states[1].role == raft.FOLLOWER and c.states[1].leader == 0


def test_leader_replicates_and_commits_on_majority():
    """The leader appends the command, replicates it, and commits once a majority stores it;
    followers learn the commit index from later AppendEntries. Reference: §5.3."""
    c = RaftCluster(3)
    c.elect(0)
    p = c.propose(0, "x")
    assert (p.index, p.is_leader) == (1, True)
    c.deliver_all(cut={"s2"})
    assert c.states[0].commit == 1 and c.applied[0] == {1: "x"}
    c.heartbeat(0)
    c.deliver_all(cut={"s2"})
    assert c.applied[1] == {1: "x"}


def test_follower_commit_bounded_by_last_new_entry():
    """A follower sets commitIndex = min(leaderCommit, index of last new entry).
    Reference: Figure 2, AppendEntries receiver rule 5."""
    c = RaftCluster(3)
    c.step(1, Receive("s0", AppendEntries(1, 0, 0, 0, (Entry(1, "a"), Entry(1, "b")), 0)))
    c.step(1, Receive("s0", AppendEntries(1, 0, 0, 0, (Entry(1, "a"),), 2)))
    assert c.states[1].commit == 1
    assert raft.last_index(c.states[1]) == 2


def test_consistency_check_rejects_with_backup_hints():
    """A follower rejects AppendEntries whose (prevLogIndex, prevLogTerm) it does not hold, and
    tells the leader the conflicting term and its first index. Reference: §5.3."""
    c = RaftCluster(3)
    c.step(1, Receive("s0", AppendEntries(2, 0, 0, 0, (Entry(1, "a"), Entry(2, "b"),
                                                        Entry(2, "c")), 0)))
    too_far = first(c.step(1, Receive("s0", AppendEntries(3, 0, 7, 3, (), 0))), Send).msg
    assert (too_far.success, too_far.conflict_term, too_far.conflict_index) == (False, -1, 4)
    mismatch = first(c.step(1, Receive("s0", AppendEntries(3, 0, 3, 3, (), 0))), Send).msg
    assert (mismatch.success, mismatch.conflict_term, mismatch.conflict_index) == (False, 2, 2)


def test_conflicting_suffix_truncated():
    """An existing entry that conflicts with a new one (same index, different term) is deleted
    together with all that follow it. Reference: Figure 2, AppendEntries receiver rule 3."""
    c = RaftCluster(3)
    c.step(1, Receive("s0", AppendEntries(1, 0, 0, 0, (Entry(1, "a"), Entry(1, "b"),
                                                        Entry(1, "c")), 0)))
    c.step(1, Receive("s2", AppendEntries(2, 2, 1, 1, (Entry(2, "B"),), 0)))
    log = c.states[1].hard.log
    assert [e.command for e in log[1:]] == ["a", "B"]


def test_stale_append_does_not_truncate():
    """A delayed AppendEntries whose entries all match must not truncate later entries.
    Reference: Figure 2, AppendEntries receiver rule 3 (only on conflict)."""
    c = RaftCluster(3)
    c.step(1, Receive("s0", AppendEntries(1, 0, 0, 0, (Entry(1, "a"), Entry(1, "b")), 0)))
    c.step(1, Receive("s0", AppendEntries(1, 0, 0, 0, (Entry(1, "a"),), 0)))
    assert raft.last_index(c.states[1]) == 2


def test_fast_backup_skips_conflicting_term():
    """On rejection the leader backs nextIndex over the whole conflicting term in one round
    trip (the optimization sketched at the end of §5.3)."""
    c = RaftCluster(3)
    c.elect(0)
    for cmd in "abc":
        c.propose(0, cmd)
    c.drop_all()
    state = c.states[0]
    reply = AppendEntriesReply(state.hard.term, 1, False, 0, conflict_term=-1, conflict_index=1)
    effects = c.step(0, Receive("s1", reply))
    retry = first(effects, Send).msg
    assert retry.prev_index == 0 and len(retry.entries) == 3


def test_no_commit_by_counting_older_term_entries():
    """A leader never commits an entry from a previous term by counting replicas; only an
    entry of its own term commits, and the earlier ones with it. Reference: §5.4.2, Figure 8."""
    c = RaftCluster(3)
    c.elect(0)
    c.propose(0, "old")
    c.drop_all()                            # "old" reaches nobody
    c.crash(1)
    c.crash(2)
    c.restart(1)
    c.restart(2)
    c.crash(0)
    c.restart(0)
    c.elect(0)                              # s0 wins again with the longer log, term 2
    c.drop_all()
    state = c.states[0]
    c.step(0, Receive("s1", AppendEntriesReply(state.hard.term, 1, True, 1)))
    assert c.states[0].commit == 0          # index 1 has term 1: counting is not enough
    c.propose(0, "new")
    c.deliver_all()
    assert c.states[0].commit == 2 and c.applied[0] == {1: "old", 2: "new"}


def test_restart_restores_persistent_state():
    """After a crash a server restarts with its persisted term, vote and log and with nothing
    volatile (role, commit index). Reference: §5.1, Figure 2."""
    c = RaftCluster(3)
    c.elect(0)
    c.propose(0, "x")
    c.deliver_all()
    before = c.states[0]
    c.crash(0)
    c.restart(0)
    after = c.states[0]
    assert after.hard == before.hard
    assert (after.role, after.commit) == (raft.FOLLOWER, 0)


def test_apply_in_order_without_gaps():
    """Committed entries are applied in log order, each exactly once. Reference: §5.3, Fig 2."""
    c = RaftCluster(3)
    c.elect(0)
    for cmd in range(5):
        c.propose(0, cmd)
    c.deliver_all()
    c.heartbeat(0)
    c.deliver_all()
    for i in range(3):
        assert c.applied[i] == {k + 1: k for k in range(5)}


def test_take_snapshot_compacts_log():
    """The service snapshots an applied prefix and Raft discards those entries, keeping the
    last included index and term. Reference: §7."""
    c = RaftCluster(3)
    c.elect(0)
    for cmd in range(6):
        c.propose(0, cmd)
    c.deliver_all()
    effects = c.snapshot(0, 4, b"snap4")
    s = c.states[0]
    assert s.hard.log_start == 4 and raft.last_index(s) == 6
    assert raft.term_at(s, 4) == 1 and raft.entry_at(s, 4) is None
    assert Persist(s.hard, b"snap4") in effects
    ignored = c.snapshot(0, 9, b"future")
    assert c.states[0].hard.log_start == 4 and ignored[0].what == "snapshot ignored"


def test_install_snapshot_for_lagging_follower():
    """A leader whose log no longer holds a follower's nextIndex sends its snapshot; the
    follower installs it and hands it to the service. Reference: §7."""
    c = RaftCluster(3)
    c.elect(0)
    for cmd in range(5):
        c.propose(0, cmd)
    c.deliver_all(cut={"s2"})
    c.snapshot(0, 5, b"five")
    c.heartbeat(0)
    carried = []
    while c.inflight:
        carried.append(type(c.inflight[0][2]))
        c.deliver(0)
    assert InstallSnapshot in carried
    follower = c.states[2]
    assert follower.hard.log_start == 5 and follower.snapshot == b"five"
    assert c.last_applied[2] == 5
    assert c.states[0].match_index[2] == 5


def test_install_snapshot_keeps_matching_suffix():
    """If the follower already has the snapshot's last entry it keeps the entries after it.
    Reference: §7 (InstallSnapshot receiver rule 6)."""
    c = RaftCluster(3)
    c.step(1, Receive("s0", AppendEntries(1, 0, 0, 0, tuple(Entry(1, i) for i in range(4)), 0)))
    c.step(1, Receive("s0", InstallSnapshot(1, 0, 2, 1, b"two")))
    s = c.states[1]
    assert s.hard.log_start == 2 and raft.last_index(s) == 4


def test_restart_from_snapshot():
    """A restarted server reloads its snapshot, gives it to the service first and continues
    from the log suffix. Reference: §7."""
    c = RaftCluster(3)
    c.elect(0)
    for cmd in range(6):
        c.propose(0, cmd)
    c.deliver_all()
    c.snapshot(0, 3, b"three")
    c.crash(0)
    effects = c.restart(0)
    assert ApplySnapshot(3, 1, b"three") in effects
    s = c.states[0]
    assert (s.hard.log_start, raft.last_index(s), s.commit) == (3, 6, 3)


def test_election_timer_reset_only_by_leader_or_vote():
    """Followers re-arm their election timer on AppendEntries from the current leader and when
    granting a vote, not on a denied RequestVote. Reference: §5.2."""
    c = RaftCluster(3)
    heartbeat = c.step(1, Receive("s0", AppendEntries(1, 0, 0, 0, (Entry(1, "a"),), 0)))
    assert any(type(e) is SetTimer and e.kind == raft.ELECTION for e in heartbeat)
    denied = c.step(1, Receive("s2", RequestVote(2, 2, 0, 0)))   # stale log, higher term
    assert not first(denied, Send).msg.granted
    assert not any(type(e) is SetTimer for e in denied)


def test_unknown_message_ignored():
    """Malformed or unknown network input is ignored, never an exception (DESIGN: step
    functions)."""
    c = RaftCluster(3)
    before = c.states[1]
    effects = c.step(1, Receive("s0", "garbage"))
    assert c.states[1] is before and effects[0].what == "ignored message"
    effects = c.step(1, TimerFired("no-such-timer"))
    assert c.states[1] is before and effects == []


def test_single_server_elects_itself_and_commits():
    """A one-server cluster is its own majority: it becomes leader on its first timeout and
    commits each entry at once. Reference: §5.2, §5.3."""
    c = RaftCluster(1)
    c.timeout(0)
    assert c.states[0].role == raft.LEADER
    p = c.propose(0, "solo")
    assert p.is_leader and c.applied[0] == {1: "solo"}
