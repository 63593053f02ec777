"""Raft's safety properties (§5.2-§5.4, Figure 3), checked online from plain observations.

This module owns the rules only. It imports nothing of raftsim (no protocol code, no simulator,
no simpy): a driver reports what it observed as plain values, and a broken rule raises
``InvariantViolation`` naming the time, nodes, terms and indexes involved.

- Election safety: at most one leader per term.
- Log matching: two logs holding an entry with the same index and term hold the same command,
  and the same term just before it; terms never decrease along a log.
- Leader completeness: a leader of term T holds every entry committed in a term below T.
- State machine safety: no two nodes apply different commands (or terms) at one index; each
  node applies in index order without gaps (a snapshot moves its applied index, never back:
  applied-monotonic).

Cost: O(1) per appended entry and per apply; O(#distinct terms) per new leader.

A driver reports what every node does, as it happens (the scenarios wrap each server's step
function and pass host hooks: ``scenarios/harness/observe.py``)::

    inv = RaftInvariants()
    inv.role_changed(t, node, role, term,            # every role change; a new leader's log too:
                     last_index=n, entry_at=lambda i: (term_i, command_i), snapshot_index=s)
    inv.log_appended(t, node, first_new_index, [(term, command), ...], term_before_it)
    inv.applied(t, node, index, term, command)       # every entry applied, in order
    inv.snapshot_applied(t, node, index, term)       # every snapshot installed
    inv.restarted(t, node)                           # every boot

A violation raises ``InvariantViolation`` from the call that observed it.

Leader completeness needs the term an entry was committed in. Observations do not carry it, so
an entry counts as committed "by term b", where b is the highest term that had elected a leader
when the entry was first seen committed: a commit in term U needs a leader of U, so U <= b.
A new leader of term T > b must then hold the entry; by log matching it suffices to check the
highest such index. This is sound (no false alarm for a leader elected late in an old term) and
requires the driver to report every leader and every append.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

__all__ = ["RaftInvariants", "InvariantViolation"]

_UNKNOWN = object()  # command of an index known committed only through a snapshot


class InvariantViolation(Exception):
    """A broken Raft safety rule. ``str`` is one line: ``t=...ms rule: detail``."""

    def __init__(self, rule: str, time: float, detail: str, nodes: Sequence[str] = (),
                 terms: Sequence[int] = (), indexes: Sequence[int] = ()) -> None:
        super().__init__(f"t={time:.3f}ms {rule}: {detail}")
        self.rule = rule
        self.time = time
        self.detail = detail
        self.nodes = tuple(nodes)
        self.terms = tuple(terms)
        self.indexes = tuple(indexes)


class RaftInvariants:
    """Online checker of Raft's safety properties; the driver calls one hook per observation."""

    def __init__(self, leader_role: str = "leader") -> None:
        self.leader_role = leader_role
        self.leaders: dict[int, tuple[str, float]] = {}             # term -> (node, time)
        self.max_leader_term = 0
        self.entries: dict[tuple[int, int], tuple[Any, int, str, float]] = {}
        self.commits: dict[int, tuple[int, Any, str, float]] = {}   # index -> (term, cmd, node, t)
        self._highest_by_bound: dict[int, int] = {}   # commit-term bound -> highest index
        self.applied_index: dict[str, int] = {}

    # ------------------------------------------------------------ election safety (§5.2)

    def role_changed(self, time: float, node: str, role: str, term: int,
                     last_index: int | None = None,
                     entry_at: Callable[[int], tuple[int, Any]] | None = None,
                     snapshot_index: int = 0) -> None:
        """``node`` took ``role`` in ``term``. For a leader, also give its log: ``last_index``
        and ``entry_at(i) -> (term, command)`` for ``snapshot_index < i <= last_index``."""
        if role != self.leader_role:
            return
        prev = self.leaders.get(term)
        if prev is not None and prev[0] != node:
            raise InvariantViolation(
                "election-safety", time,
                f"term {term} has two leaders: {prev[0]} (since t={prev[1]:.3f}) and {node}",
                nodes=(prev[0], node), terms=(term,))
        if prev is None:
            self.leaders[term] = (node, time)
        if term > self.max_leader_term:
            self.max_leader_term = term
        if last_index is not None and entry_at is not None:
            self._check_completeness(time, node, term, last_index, entry_at, snapshot_index)

    def _check_completeness(self, time: float, node: str, term: int, last_index: int,
                            entry_at: Callable[[int], tuple[int, Any]],
                            snapshot_index: int) -> None:
        """§5.4: the highest index committed in a term below ``term`` must be in the log."""
        index = max((i for b, i in self._highest_by_bound.items() if b < term), default=0)
        if index <= snapshot_index:
            return
        want_term, want_cmd, by, _ = self.commits[index]
        if index > last_index:
            raise InvariantViolation(
                "leader-completeness", time,
                f"{node} leads term {term} with last index {last_index}, but index {index} "
                f"(term {want_term}, applied by {by}) is committed",
                nodes=(node, by), terms=(term, want_term), indexes=(index,))
        got_term, got_cmd = entry_at(index)
        if got_term != want_term or (want_cmd is not _UNKNOWN and got_cmd != want_cmd):
            raise InvariantViolation(
                "leader-completeness", time,
                f"{node} leads term {term} holding ({index}, term {got_term}, {got_cmd!r}) but "
                f"({index}, term {want_term}, {_show(want_cmd)}) is committed (applied by {by})",
                nodes=(node, by), terms=(term, got_term, want_term), indexes=(index,))

    # ------------------------------------------------------------ log matching (§5.3)

    def log_appended(self, time: float, node: str, start_index: int,
                     entries: Sequence[tuple[int, Any]], prev_term: int) -> None:
        """``node``'s log now holds ``entries`` (``(term, command)``) from ``start_index``,
        right after an entry of term ``prev_term`` (0 at the start of the log)."""
        known = self.entries
        prev = prev_term
        index = start_index
        for term, command in entries:
            if term < prev:
                raise InvariantViolation(
                    "log-matching", time,
                    f"{node}'s log goes from term {prev} to term {term} at index {index}",
                    nodes=(node,), terms=(prev, term), indexes=(index,))
            seen = known.get((index, term))
            if seen is None:
                known[(index, term)] = (command, prev, node, time)
            elif seen[1] != prev or (seen[0] is not command and seen[0] != command):
                raise InvariantViolation(
                    "log-matching", time,
                    f"({index}, term {term}) is {command!r} after term {prev} on {node} but "
                    f"{seen[0]!r} after term {seen[1]} on {seen[2]} (t={seen[3]:.3f})",
                    nodes=(node, seen[2]), terms=(term, prev, seen[1]), indexes=(index,))
            prev = term
            index += 1

    # ------------------------------------------------------------ state machine safety (§5.4.3)

    def applied(self, time: float, node: str, index: int, term: int, command: Any) -> None:
        """``node`` applied ``command`` (entry term ``term``) at ``index``."""
        last = self.applied_index.get(node, 0)
        if index != last + 1:
            raise InvariantViolation(
                "apply-order", time, f"{node} applied index {index} right after index {last}",
                nodes=(node,), terms=(term,), indexes=(last, index))
        self.applied_index[node] = index
        self._commit(time, node, index, term, command)

    def snapshot_applied(self, time: float, node: str, index: int, term: int) -> None:
        """``node``'s service installed a snapshot covering every entry up to ``index``.

        ``applied-monotonic`` (§7): within one boot, a snapshot never takes the applied index
        back (a stale InstallSnapshot rolling a follower back; the replay that follows would
        otherwise mask it)."""
        last = self.applied_index.get(node, 0)
        if index < last:
            raise InvariantViolation(
                "applied-monotonic", time,
                f"{node} installed a snapshot at index {index} after applying index {last}",
                nodes=(node,), terms=(term,), indexes=(last, index))
        self.applied_index[node] = index
        if index > 0:
            self._commit(time, node, index, term, _UNKNOWN)

    def restarted(self, time: float, node: str, applied_index: int = 0) -> None:
        """``node`` rebooted: its service applies again from ``applied_index + 1``."""
        self.applied_index[node] = applied_index

    def _commit(self, time: float, node: str, index: int, term: int, command: Any) -> None:
        seen = self.commits.get(index)
        if seen is None:
            self.commits[index] = (term, command, node, time)
            bound = self.max_leader_term
            if self._highest_by_bound.get(bound, 0) < index:
                self._highest_by_bound[bound] = index
            return
        s_term, s_cmd, s_node, s_time = seen
        if s_term != term or (command is not _UNKNOWN and s_cmd is not _UNKNOWN
                              and s_cmd is not command and s_cmd != command):
            raise InvariantViolation(
                "state-machine-safety", time,
                f"index {index}: {node} has (term {term}, {_show(command)}) but {s_node} "
                f"applied (term {s_term}, {_show(s_cmd)}) at t={s_time:.3f}",
                nodes=(node, s_node), terms=(term, s_term), indexes=(index,))
        if s_cmd is _UNKNOWN and command is not _UNKNOWN:
            self.commits[index] = (term, command, s_node, s_time)


def _show(command: Any) -> str:
    return "<snapshot>" if command is _UNKNOWN else repr(command)
