"""The oracles (checkers/invariants/oracles.py, kv.py, liveness.py) on plain values: each rule
is broken by a minimal observation sequence and holds on a legal one.

Reference: Raft paper §5.1 (persistence, Figure 2), §5.2 (one vote per term), §5.3 (matchIndex,
commitIndex), §5.4 (commit safety), §7 (snapshots), §8 (client semantics), §9.3 (steady leader).
"""

from __future__ import annotations

import pytest

from checkers.invariants.kv import KVReference
from checkers.invariants.liveness import client_progress, stable_leader
from checkers.invariants.oracles import HELD, RaftOracles
from checkers.invariants.raft import InvariantViolation, RaftInvariants


def _rule(exc: pytest.ExceptionInfo[InvariantViolation]) -> str:
    return exc.value.rule


# ---------------------------------------------------------------- vote-once (§5.2)

def test_one_vote_per_term_across_reboots() -> None:
    """§5.2: a node votes for at most one candidate per term; the same vote again is fine."""
    o = RaftOracles()
    o.vote(1.0, "s1", 3, "s2")
    o.vote(2.0, "s1", 3, "s2")
    o.vote(3.0, "s1", 4, "s3")
    with pytest.raises(InvariantViolation) as err:
        o.vote(9.0, "s1", 3, "s4")          # e.g. after a reboot that forgot votedFor
    assert _rule(err) == "vote-once" and err.value.nodes == ("s1", "s2", "s4")


# ---------------------------------------------------------------- persist-before-send (§5.1)

def test_a_message_needs_its_term_and_vote_on_disk() -> None:
    """Figure 2: term and vote reach stable storage before the node answers or asks."""
    o = RaftOracles()
    o.sent_vote(1.0, "s1", "s2", "RequestVoteReply", 2, 2, "s2", "s2")
    with pytest.raises(InvariantViolation) as err:
        o.sent_vote(2.0, "s1", "s3", "RequestVote", 3, 2, "s1", "s2")
    assert _rule(err) == "persist-before-send"
    o = RaftOracles()
    with pytest.raises(InvariantViolation) as err:
        o.sent_vote(2.0, "s1", "s3", "RequestVoteReply", 3, 3, "s3", None)
    assert _rule(err) == "persist-before-send"


def test_a_success_reply_needs_the_entries_on_disk() -> None:
    """Figure 2: a follower acknowledges entries only once its disk holds them."""
    o = RaftOracles()
    o.sent_entry(1.0, "s1", "s0", "AppendEntriesReply", 1, 1, 2, 1, 1)
    o.sent_entry(1.0, "s1", "s0", "AppendEntriesReply", 1, 1, 2, None, 1)
    o.sent_entry(1.0, "s1", "s0", "InstallSnapshotReply", 1, 1, 2, None, HELD)
    with pytest.raises(InvariantViolation) as err:       # index 3 is not on disk
        o.sent_entry(2.0, "s1", "s0", "AppendEntriesReply", 1, 1, 3, 1, -1)
    assert _rule(err) == "persist-before-send" and err.value.indexes == (3,)
    with pytest.raises(InvariantViolation):               # on disk with another term
        o.sent_entry(2.0, "s1", "s0", "AppendEntriesReply", 1, 1, 2, 2, 1)


def test_the_term_a_node_sends_never_drops() -> None:
    """Figure 2: currentTerm is persistent, so it never goes back, even across reboots."""
    o = RaftOracles()
    o.sent(1.0, "s1", "s2", "AppendEntries", 5, 5)
    with pytest.raises(InvariantViolation) as err:
        o.sent(2.0, "s1", "s2", "AppendEntries", 4, 4)
    assert _rule(err) == "term-monotonic"


# ---------------------------------------------------------------- match-index (§5.3)

def test_match_index_must_be_held_by_the_follower() -> None:
    """§5.3: matchIndex is what the follower is known to hold, with the leader's terms."""
    o = RaftOracles()
    o.progress(1.0, "s0", 2, "s1", 2, 3, 2, 2, 2)        # both hold term 2 at index 2
    with pytest.raises(InvariantViolation) as err:         # the follower has nothing at 3
        o.progress(2.0, "s0", 2, "s1", 3, 4, 2, 2, -1)
    assert _rule(err) == "match-index"
    with pytest.raises(InvariantViolation):                # another term at 2
        o.progress(2.0, "s0", 2, "s1", 2, 3, 2, 2, 1)
    # a follower in a later term may have been truncated by a newer leader: no verdict
    o.progress(3.0, "s0", 2, "s1", 3, 4, 2, 3, -1)
    o.progress(3.0, "s0", 2, "s1", 3, 4, HELD, 2, 1)      # in the leader's snapshot
    with pytest.raises(InvariantViolation) as err:
        o.progress(4.0, "s0", 2, "s1", 2, 2)
    assert "nextIndex 2 <= matchIndex 2" in str(err.value)


# ---------------------------------------------------------------- commit index (§5.3, §5.4)

def test_commit_index_rules() -> None:
    """§5.3/§5.4: commitIndex stays within the log, never goes back, and agrees with what
    every other node committed at the same indexes."""
    o = RaftOracles()
    o.commit_moved(1.0, "s0", 0, 2, 3, 1, [(1, "a"), (1, "b")])
    o.commit_moved(1.5, "s1", 0, 1, 2, 1, [(1, "a")])
    with pytest.raises(InvariantViolation) as err:
        o.commit_moved(2.0, "s1", 1, 2, 2, 2, [(1, "x")])
    assert _rule(err) == "commit-matching" and err.value.indexes == (2,)
    with pytest.raises(InvariantViolation) as err:
        o.commit_moved(3.0, "s0", 2, 1, 3, 3, [])
    assert _rule(err) == "commit-monotonic"
    with pytest.raises(InvariantViolation) as err:
        o.commit_moved(4.0, "s0", 2, 4, 3, 3, [])
    assert _rule(err) == "commit-bound"


# ---------------------------------------------------------------- applied-monotonic (§7)

def test_applied_index_never_goes_back() -> None:
    """§7: a snapshot never takes a node below what it already applied (but a reboot does
    start again from its snapshot)."""
    o = RaftOracles()
    o.applied_moved(1.0, "s1", 5, 9, 0, 5)
    with pytest.raises(InvariantViolation) as err:
        o.applied_moved(2.0, "s1", 9, 7, 5, 7)
    assert _rule(err) == "applied-monotonic"
    inv = RaftInvariants()
    for i in range(1, 6):
        inv.applied(1.0, "s1", i, 1, i)
    with pytest.raises(InvariantViolation) as err:
        inv.snapshot_applied(2.0, "s1", 3, 1)
    assert _rule(err) == "applied-monotonic"
    inv.restarted(3.0, "s1")
    inv.snapshot_applied(3.0, "s1", 3, 1)      # a reboot restores its snapshot: legal


# ---------------------------------------------------------------- KV fold (§5.4.3, §8)

def _apply(ref: KVReference, node: str, index: int, client: str, seq: int, op: str, key: str,
           value: str = "") -> None:
    ref.applied(float(index), node, index, client, seq, op, key, value)


def test_kv_replica_must_equal_the_fold_of_the_committed_log() -> None:
    ref = KVReference()
    ref.restarted("s0")
    _apply(ref, "s0", 1, "c0", 1, "put", "k", "a")
    _apply(ref, "s0", 2, "c0", 2, "append", "k", "b")
    ref.check_key(2.0, "s0", "k", "ab", "c0", 2)
    _apply(ref, "s0", 3, "c0", 2, "append", "k", "b")      # a duplicate: no change
    ref.check_key(3.0, "s0", "k", "ab", "c0", 2)
    with pytest.raises(InvariantViolation) as err:
        ref.check_key(3.0, "s0", "k", "abb", "c0", 2)      # executed twice
    assert _rule(err) == "kv-at-most-once"
    with pytest.raises(InvariantViolation) as err:
        ref.check_key(3.0, "s0", "k", "ax", "c0", 2)
    assert _rule(err) == "kv-fold"
    with pytest.raises(InvariantViolation) as err:
        ref.check_key(3.0, "s0", "k", "ab", "c0", 1)       # duplicate table behind
    assert _rule(err) == "kv-at-most-once"
    _apply(ref, "s0", 4, "c1", 1, "put", "k", "z")
    _apply(ref, "s0", 5, "c0", 1, "put", "k", "a")         # c0's first Put, committed again
    with pytest.raises(InvariantViolation) as err:
        ref.check_key(5.0, "s0", "k", "a", "c1", 1)        # ... and executed again
    assert _rule(err) == "kv-at-most-once"


def test_kv_snapshot_must_match_the_reference_at_its_index() -> None:
    ref = KVReference()
    ref.restarted("s0")
    _apply(ref, "s0", 1, "c0", 1, "put", "k", "a")
    ref.snapshot_taken("s0", 1)
    ref.restarted("s1")
    ref.snapshot_installed(2.0, "s1", 1, {"k": "a"}, {"c0": 1})
    with pytest.raises(InvariantViolation) as err:
        ref.snapshot_installed(2.0, "s1", 1, {"k": "a"}, {})
    assert _rule(err) == "kv-at-most-once"
    with pytest.raises(InvariantViolation) as err:
        ref.snapshot_installed(2.0, "s1", 1, {"k": "b"}, {"c0": 1})
    assert _rule(err) == "kv-fold"


# ---------------------------------------------------------------- liveness (§9.3, §8)

def test_stable_leader() -> None:
    """§9.3: after the heal, elections end within the bound and the leader stays."""
    elections = [(1000.0, "s1", "candidate", 3), (1010.0, "s1", "leader", 3)]
    assert stable_leader(900.0, 500.0, 5000.0, elections, "s1") is None
    late = elections + [(3000.0, "s2", "candidate", 4)]
    problem = stable_leader(900.0, 500.0, 5000.0, late, "s1")
    assert problem is not None and problem[0] == "leader-stable"
    assert stable_leader(900.0, 500.0, 5000.0, elections, None) is not None
    assert stable_leader(900.0, 500.0, 1200.0, late, None) is None      # no window: no verdict


def test_client_progress() -> None:
    """§8: on a healthy network each pending operation completes within the bound."""
    history = [{"t": 100.0, "process": "c0", "type": "invoke"},
               {"t": 1500.0, "process": "c0", "type": "ok"},
               {"t": 1600.0, "process": "c0", "type": "invoke"},
               {"t": 1700.0, "process": "c0", "type": "ok"}]
    assert client_progress(1000.0, 600.0, 9000.0, history) is None
    problem = client_progress(1000.0, 400.0, 9000.0, history)
    assert problem is not None and problem[0] == "client-progress"
    pending = history + [{"t": 2000.0, "process": "c1", "type": "invoke"}]
    problem = client_progress(1000.0, 600.0, 9000.0, pending)
    assert problem is not None and "still pending" in problem[1]
