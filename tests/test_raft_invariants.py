"""Raft safety invariants checked online: each rule is caught, and legal runs pass.

Reference: Raft paper Figure 3 (§5.2 election safety, §5.3 log matching, §5.4 leader
completeness and state machine safety).
"""

from __future__ import annotations

from typing import Any

import pytest

from checkers.invariants.raft import InvariantViolation, RaftInvariants


def log_view(entries: list[tuple[int, Any]], snapshot_index: int = 0) -> dict[str, Any]:
    """role_changed keyword arguments for a leader whose log holds ``entries`` after the
    snapshot (entry i at index snapshot_index + 1 + i)."""
    return {"last_index": snapshot_index + len(entries), "snapshot_index": snapshot_index,
            "entry_at": lambda i: entries[i - snapshot_index - 1]}


# ---------------------------------------------------------------- election safety

def test_two_leaders_in_one_term_violate_election_safety() -> None:
    """§5.2: at most one leader per term."""
    inv = RaftInvariants()
    inv.role_changed(10.0, "s1", "leader", 3)
    inv.role_changed(11.0, "s1", "leader", 3)   # the same leader again is fine
    inv.role_changed(12.0, "s2", "follower", 3)
    inv.role_changed(13.0, "s2", "leader", 4)
    with pytest.raises(InvariantViolation) as err:
        inv.role_changed(20.5, "s3", "leader", 3)
    v = err.value
    assert v.rule == "election-safety" and v.nodes == ("s1", "s3") and v.terms == (3,)
    assert str(v) == ("t=20.500ms election-safety: term 3 has two leaders: s1 "
                      "(since t=10.000) and s3")


# ---------------------------------------------------------------- log matching

def test_consistent_appends_pass_log_matching() -> None:
    """§5.3: logs that agree on (index, term) agree on the command and what precedes it."""
    inv = RaftInvariants()
    inv.log_appended(1.0, "s1", 1, [(1, "a"), (1, "b")], 0)
    inv.log_appended(2.0, "s2", 1, [(1, "a")], 0)
    inv.log_appended(3.0, "s2", 2, [(1, "b"), (2, "c")], 1)
    inv.log_appended(4.0, "s3", 2, [(3, "x")], 1)   # a different term at index 2 is legal


def test_same_index_and_term_with_another_command_violates_log_matching() -> None:
    """§5.3: two entries with one (index, term) must hold the same command."""
    inv = RaftInvariants()
    inv.log_appended(1.0, "s1", 1, [(1, "a"), (1, "b")], 0)
    with pytest.raises(InvariantViolation) as err:
        inv.log_appended(2.0, "s2", 1, [(1, "a"), (1, "B")], 0)
    assert err.value.rule == "log-matching" and err.value.indexes == (2,)
    assert err.value.nodes == ("s2", "s1")


def test_same_entry_after_a_different_predecessor_violates_log_matching() -> None:
    """§5.3: matching (index, term) implies matching logs before it (predecessor's term)."""
    inv = RaftInvariants()
    inv.log_appended(1.0, "s1", 5, [(3, "x")], 2)
    with pytest.raises(InvariantViolation, match="log-matching"):
        inv.log_appended(2.0, "s2", 5, [(3, "x")], 1)


def test_decreasing_terms_in_a_log_are_a_violation() -> None:
    """Terms never decrease along a log."""
    inv = RaftInvariants()
    with pytest.raises(InvariantViolation, match="from term 3 to term 2 at index 8"):
        inv.log_appended(1.0, "s1", 7, [(3, "x"), (2, "y")], 3)


# ---------------------------------------------------------------- state machine safety

def test_different_commands_applied_at_one_index_violate_state_machine_safety() -> None:
    """§5.4.3: no two nodes apply different commands at the same index."""
    inv = RaftInvariants()
    inv.applied(1.0, "s1", 1, 1, "put x 1")
    inv.applied(2.0, "s2", 1, 1, "put x 1")
    inv.applied(3.0, "s1", 2, 1, "put x 2")
    with pytest.raises(InvariantViolation) as err:
        inv.applied(4.0, "s3", 1, 1, "put x 9")
    v = err.value
    assert v.rule == "state-machine-safety" and v.nodes == ("s3", "s1") and v.indexes == (1,)
    assert "\n" not in str(v) and "s3" in str(v) and "s1" in str(v) and "index 1" in str(v)


def test_same_command_in_another_term_is_also_a_violation() -> None:
    """An index is committed with one term: applying it with another term is unsafe."""
    inv = RaftInvariants()
    inv.applied(1.0, "s1", 1, 1, "c")
    with pytest.raises(InvariantViolation, match="state-machine-safety"):
        inv.applied(2.0, "s2", 1, 2, "c")


def test_applies_must_be_in_order_without_gaps_or_repeats() -> None:
    """Each node applies index after index: a gap or a repeat is a violation."""
    inv = RaftInvariants()
    inv.applied(1.0, "s1", 1, 1, "a")
    with pytest.raises(InvariantViolation, match="apply-order.*index 3 right after index 1"):
        inv.applied(2.0, "s1", 3, 1, "c")
    inv2 = RaftInvariants()
    inv2.applied(1.0, "s1", 1, 1, "a")
    with pytest.raises(InvariantViolation, match="apply-order"):
        inv2.applied(2.0, "s1", 1, 1, "a")


def test_snapshots_and_restarts_move_the_applied_index() -> None:
    """A snapshot sets the node's applied index; a restart resets it (the service replays);
    a snapshot whose term disagrees with what was applied at its index is a violation."""
    inv = RaftInvariants()
    for i in range(1, 4):
        inv.applied(1.0, "s1", i, 1, f"c{i}")
    inv.snapshot_applied(2.0, "s2", 3, 1)
    inv.applied(3.0, "s2", 4, 1, "c4")
    inv.restarted(4.0, "s1")
    inv.applied(5.0, "s1", 1, 1, "c1")
    with pytest.raises(InvariantViolation, match="state-machine-safety"):
        inv.snapshot_applied(6.0, "s3", 2, 7)


# ---------------------------------------------------------------- leader completeness

def committed_run() -> RaftInvariants:
    """Leader s1 of term 2 commits (1,1,a), (2,2,b); applied by s1 and s2."""
    inv = RaftInvariants()
    inv.role_changed(0.0, "s1", "leader", 1, **log_view([]))
    inv.log_appended(1.0, "s1", 1, [(1, "a")], 0)
    inv.role_changed(2.0, "s1", "leader", 2, **log_view([(1, "a")]))
    inv.log_appended(3.0, "s1", 2, [(2, "b")], 1)
    for node in ("s1", "s2"):
        inv.applied(4.0, node, 1, 1, "a")
        inv.applied(4.0, node, 2, 2, "b")
    return inv


def test_new_leader_missing_a_committed_entry_violates_leader_completeness() -> None:
    """§5.4: a leader of a later term holds every committed entry."""
    inv = committed_run()
    with pytest.raises(InvariantViolation) as err:
        inv.role_changed(9.0, "s3", "leader", 3, **log_view([(1, "a")]))
    v = err.value
    assert v.rule == "leader-completeness" and v.indexes == (2,) and "s3" in v.nodes
    assert "last index 1" in str(v) and "term 3" in str(v)


def test_new_leader_with_another_entry_at_a_committed_index_is_caught() -> None:
    """§5.4: holding a different entry at a committed index also breaks completeness."""
    inv = committed_run()
    with pytest.raises(InvariantViolation, match="leader-completeness"):
        inv.role_changed(9.0, "s3", "leader", 3, **log_view([(1, "a"), (2, "z")]))


def test_complete_leader_and_compacted_prefix_pass() -> None:
    """A leader holding the committed entries, or covering them by its snapshot, is fine."""
    inv = committed_run()
    inv.role_changed(9.0, "s2", "leader", 3, **log_view([(1, "a"), (2, "b"), (3, "c")]))
    inv.role_changed(9.5, "s4", "leader", 4, **log_view([(4, "d")], snapshot_index=2))


def test_leader_elected_late_in_an_old_term_is_not_a_false_alarm() -> None:
    """An entry committed in term 5 need not be held by a leader of term 3 that collects
    its (delayed) votes only afterwards: completeness binds higher terms only."""
    inv = RaftInvariants()
    inv.role_changed(0.0, "s1", "leader", 5, **log_view([]))
    inv.log_appended(1.0, "s1", 1, [(5, "x")], 0)
    inv.applied(2.0, "s1", 1, 5, "x")
    inv.role_changed(3.0, "s2", "leader", 3, **log_view([]))  # stale term, empty log: legal
    with pytest.raises(InvariantViolation, match="leader-completeness"):
        inv.role_changed(4.0, "s3", "leader", 6, **log_view([]))


def test_custom_leader_role_name() -> None:
    """The role string that means leader is configurable."""
    inv = RaftInvariants(leader_role="Leader")
    inv.role_changed(1.0, "s1", "Leader", 1)
    inv.role_changed(1.0, "s2", "leader", 1)  # not the configured name: ignored
    with pytest.raises(InvariantViolation):
        inv.role_changed(2.0, "s2", "Leader", 1)
