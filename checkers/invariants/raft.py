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

from typing import Any, Callable, Final, Sequence

__all__ = ["RaftInvariants", "InvariantViolation"]

_UNKNOWN: Final = object()  # command of an index known committed only through a snapshot


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
    """Online checker of Raft's safety properties; the driver calls one hook per observation.

    Per-index records are compact: parallel lists indexed by log index (the term, command,
    node and time of the first observation), not a dict of tuples.
    ``forget_below(index)`` drops the records below ``index`` once no node can report an index
    there again (every node's log starts at or after it: see the method)."""

    def __init__(self, leader_role: str = "leader") -> None:
        self.leader_role = leader_role
        self.leaders: dict[int, tuple[str, float]] = {}             # term -> (node, time)
        self.max_leader_term = 0
        # Log matching: the first entry seen at each index (its term, command, the term before
        # it, who and when), indexed by ``index - base``; other terms at one index (a conflict
        # being resolved) in ``_other``, keyed (index, term).
        self._lm_base = 1                             # log indexes start at 1; records
                                                      # below the base are forgotten
        self._lm_term: list[int] = []                 # -1: nothing seen at this index
        self._lm_cmd: list[Any] = []
        self._lm_prev: list[int] = []
        self._lm_node: list[str] = []
        self._lm_time: list[float] = []
        self._other: dict[tuple[int, int], tuple[Any, int, str, float]] = {}
        # State machine safety: the first apply (or snapshot) of each index, same layout.
        self._c_base = 1
        self._c_term: list[int] = []                  # -1: not committed yet
        self._c_cmd: list[Any] = []
        self._c_node: list[str] = []
        self._c_time: list[float] = []
        self._highest_by_bound: dict[int, int] = {}   # commit-term bound -> highest index
        self._kept: dict[int, tuple[int, Any, str]] = {}   # forgotten, but one of those
        self.applied_index: dict[str, int] = {}

    @property
    def commits(self) -> dict[int, tuple[int, Any, str, float]]:
        """index -> (term, command, node, time) of its first apply (a view, for reports)."""
        base, terms = self._c_base, self._c_term
        return {base + k: (terms[k], self._c_cmd[k], self._c_node[k], self._c_time[k])
                for k in range(len(terms)) if terms[k] >= 0}

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
        k = index - self._c_base
        if k >= 0:
            want_term, want_cmd, by = self._c_term[k], self._c_cmd[k], self._c_node[k]
        else:                                     # forgotten, but kept for this check
            want_term, want_cmd, by = self._kept[index]
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
        prev = prev_term
        index = start_index
        terms = self._lm_term
        for term, command in entries:
            if term >= prev and index - self._lm_base == len(terms):   # a new index
                terms.append(term)
                self._lm_cmd.append(command)
                self._lm_prev.append(prev)
                self._lm_node.append(node)
                self._lm_time.append(time)
            else:
                self.entry_appended(time, node, index, term, command, prev)
            prev = term
            index += 1

    def entry_appended(self, time: float, node: str, index: int, term: int, command: Any,
                       prev_term: int) -> None:
        """``node``'s log now holds ``(term, command)`` at ``index``, right after an entry of
        term ``prev_term``: ``log_appended`` for one entry (the common case, no list)."""
        if term < prev_term:
            raise InvariantViolation(
                "log-matching", time,
                f"{node}'s log goes from term {prev_term} to term {term} at index {index}",
                nodes=(node,), terms=(prev_term, term), indexes=(index,))
        k = index - self._lm_base
        terms = self._lm_term
        if k == len(terms):                       # the usual case: a new index
            terms.append(term)
            self._lm_cmd.append(command)
            self._lm_prev.append(prev_term)
            self._lm_node.append(node)
            self._lm_time.append(time)
            return
        if k < 0:
            return                                # forgotten: no node can hold it any more
        if k > len(terms):
            self._grow_entries(k)
            self._set_entry(k, term, command, prev_term, node, time)
            return
        first = terms[k]
        if first == term:
            seen: tuple[Any, int, str, float] | None = (
                self._lm_cmd[k], self._lm_prev[k], self._lm_node[k], self._lm_time[k])
        elif first < 0:
            self._set_entry(k, term, command, prev_term, node, time)
            return
        else:
            seen = self._other.get((index, term))
            if seen is None:
                self._other[(index, term)] = (command, prev_term, node, time)
                return
        assert seen is not None
        if seen[1] != prev_term or (seen[0] is not command and seen[0] != command):
            raise InvariantViolation(
                "log-matching", time,
                f"({index}, term {term}) is {command!r} after term {prev_term} on {node} but "
                f"{seen[0]!r} after term {seen[1]} on {seen[2]} (t={seen[3]:.3f})",
                nodes=(node, seen[2]), terms=(term, prev_term, seen[1]), indexes=(index,))

    def _grow_entries(self, k: int) -> None:
        gap = k + 1 - len(self._lm_term)
        self._lm_term.extend([-1] * gap)
        self._lm_cmd.extend([None] * gap)
        self._lm_prev.extend([0] * gap)
        self._lm_node.extend([""] * gap)
        self._lm_time.extend([0.0] * gap)

    def _set_entry(self, k: int, term: int, command: Any, prev: int, node: str,
                   time: float) -> None:
        self._lm_term[k], self._lm_cmd[k], self._lm_prev[k] = term, command, prev
        self._lm_node[k], self._lm_time[k] = node, time

    # ------------------------------------------------------------ state machine safety (§5.4.3)

    def applied(self, time: float, node: str, index: int, term: int, command: Any) -> None:
        """``node`` applied ``command`` (entry term ``term``) at ``index``."""
        applied_index = self.applied_index
        last = applied_index.get(node, 0)
        if index != last + 1:
            raise InvariantViolation(
                "apply-order", time, f"{node} applied index {index} right after index {last}",
                nodes=(node,), terms=(term,), indexes=(last, index))
        applied_index[node] = index
        k = index - self._c_base
        terms = self._c_term
        if 0 <= k < len(terms):
            s_term = terms[k]
            if s_term >= 0:
                s_cmd = self._c_cmd[k]
                if s_term == term and (s_cmd is command or s_cmd is _UNKNOWN
                                       or s_cmd == command):
                    if s_cmd is _UNKNOWN:
                        self._c_cmd[k] = command
                    return
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
        k = index - self._c_base
        if k < 0:
            return                                # forgotten: below every node's snapshot
        terms = self._c_term
        if k >= len(terms):
            gap = k - len(terms)
            if gap:                               # indexes no node applied (a snapshot)
                terms.extend([-1] * gap)
                self._c_cmd.extend([None] * gap)
                self._c_node.extend([""] * gap)
                self._c_time.extend([0.0] * gap)
            terms.append(term)
            self._c_cmd.append(command)
            self._c_node.append(node)
            self._c_time.append(time)
            bound = self.max_leader_term          # _bound, inlined
            if self._highest_by_bound.get(bound, 0) < index:
                self._highest_by_bound[bound] = index
            return
        s_term = terms[k]
        if s_term < 0:
            terms[k], self._c_cmd[k], self._c_node[k], self._c_time[k] = (term, command, node,
                                                                          time)
            self._bound(index)
            return
        s_cmd, s_node, s_time = self._c_cmd[k], self._c_node[k], self._c_time[k]
        if s_term != term or (command is not _UNKNOWN and s_cmd is not _UNKNOWN
                              and s_cmd is not command and s_cmd != command):
            raise InvariantViolation(
                "state-machine-safety", time,
                f"index {index}: {node} has (term {term}, {_show(command)}) but {s_node} "
                f"applied (term {s_term}, {_show(s_cmd)}) at t={s_time:.3f}",
                nodes=(node, s_node), terms=(term, s_term), indexes=(index,))
        if s_cmd is _UNKNOWN and command is not _UNKNOWN:
            self._c_cmd[k] = command

    def _bound(self, index: int) -> None:
        bound = self.max_leader_term
        if self._highest_by_bound.get(bound, 0) < index:
            self._highest_by_bound[bound] = index

    # ------------------------------------------------------------ memory

    def forget_below(self, index: int) -> None:
        """Drop the records of the indexes below ``index``. The driver calls it only when no
        node can report such an index again: every node's log, in memory and on disk, starts
        at or after ``index`` (a log start never goes back within a boot: applied-monotonic;
        a reboot starts from the disk). Then no node appends, commits or applies below it
        (its entries are above its log start; a reboot applies from its snapshot, at or after
        ``index``), and leader completeness never reads an index a leader's snapshot covers
        (the few indexes it may read, the highest committed per term bound, are kept anyway,
        for a node that boots blank later). The index itself is kept (a snapshot at
        ``index`` is compared with its record)."""
        drop = index - self._lm_base
        if drop > 0:
            drop = min(drop, len(self._lm_term))
            del self._lm_term[:drop], self._lm_cmd[:drop], self._lm_prev[:drop]
            del self._lm_node[:drop], self._lm_time[:drop]
            self._lm_base = index if not self._lm_term else self._lm_base + drop
            if self._other:
                self._other = {key: v for key, v in self._other.items() if key[0] >= index}
        drop = index - self._c_base
        if drop > 0:
            for i in self._highest_by_bound.values():     # what completeness may still read
                k = i - self._c_base
                if 0 <= k < drop and i not in self._kept:
                    self._kept[i] = (self._c_term[k], self._c_cmd[k], self._c_node[k])
            drop = min(drop, len(self._c_term))
            del self._c_term[:drop], self._c_cmd[:drop], self._c_node[:drop]
            del self._c_time[:drop]
            self._c_base = index if not self._c_term else self._c_base + drop


def _show(command: Any) -> str:
    return "<snapshot>" if command is _UNKNOWN else repr(command)
