"""Raft's per-node rules beyond Figure 3, checked online from plain observations: votes,
persistence before sending, the leader's view of its followers, and the commit index.

This module owns the rules only. It imports nothing of raftsim (no protocol code, no simulator,
no simpy) and draws no randomness: a driver reports what it observed as plain values (terms,
indexes, node names) and a broken rule raises ``InvariantViolation`` (``rule`` is its name).

- ``vote-once`` (§5.2, Figure 2 RequestVote rule 2): a node grants at most one vote per term,
  across restarts. Fed with every vote that reached the network (a granted RequestVoteReply, a
  candidate's RequestVote for itself): a second candidate in the same term is a violation at
  once, whether or not it later elects two leaders.
- ``term-monotonic`` (§5.1, Figure 2 "Persistent state"): the term a node sends with never
  drops below one it sent before, across restarts (a term forgotten by a reboot).
- ``persist-before-send`` (§5.1, Figure 2 "updated on stable storage before responding to
  RPCs"): every message is justified by the sender's disk at the moment it leaves: its term is
  on disk, a vote it grants or asks for is the vote on disk, and the entries it vouches for
  (a success reply's match index, the last entry of an AppendEntries) are on disk with the same
  term.
- ``match-index`` (§5.3, Figure 2 "Volatile state on leaders"): a leader's matchIndex for a
  follower never exceeds what that follower durably holds, the entry there has the leader's
  term, and nextIndex > matchIndex. Judged only while the follower's disk is in the leader's
  term: a follower that has since moved on may have been truncated by a newer leader.
- ``commit-bound``, ``commit-monotonic``, ``commit-matching`` (§5.3, §5.4.2, Figure 2
  "commitIndex"): a node's commit index never exceeds its own log, never decreases within one
  incarnation, and every entry it newly covers agrees with what any node committed at that
  index before (the first node to commit an index fixes its term and command): leader
  completeness and state machine safety checked at commit time, incrementally.
- ``applied-monotonic`` (§7): a node's applied index and snapshot index (its log start) never
  decrease within one incarnation, and (``RaftInvariants.snapshot_applied``) no snapshot a
  service installs takes it below what it applied since booting: a stale InstallSnapshot
  rolling a follower back is caught at once, not masked by the replay that follows.

Cost: O(1) per message sent, per vote and per changed matchIndex; O(entries newly committed)
per commit advance. Memory: one entry per vote; per committed index, a term, a reference to the
command, a node and a time in parallel lists (40 bytes), dropped once every node's log starts
after it (``forget_below``).
"""

from __future__ import annotations

from typing import Any, Final, Sequence

from .raft import InvariantViolation

__all__ = ["RaftOracles", "HELD"]

#: ``durable_term_at`` answer for an index inside the snapshot: held, and committed.
HELD: Final = -2


class RaftOracles:
    """Online checker of the per-node Raft rules above; one hook per observation."""

    def __init__(self) -> None:
        self.votes: dict[tuple[str, int], tuple[str, float]] = {}   # (node, term) -> (cand, t)
        self.sent_term: dict[str, int] = {}                        # node -> highest term sent
        # commit-matching: the first commit of each index (term, command, node, time), as
        # parallel lists indexed by ``index - _base``; term -1 for an index not seen yet
        self._base = 1                                # log indexes start at 1
        self._c_term: list[int] = []
        self._c_cmd: list[Any] = []
        self._c_node: list[str] = []
        self._c_time: list[float] = []

    @property
    def committed(self) -> dict[int, tuple[int, Any, str, float]]:
        """index -> (term, command, node, time) of its first commit (a view, for reports)."""
        terms = self._c_term
        return {self._base + k: (terms[k], self._c_cmd[k], self._c_node[k], self._c_time[k])
                for k in range(len(terms)) if terms[k] >= 0}

    # ------------------------------------------------------------ votes (§5.2)

    def vote(self, time: float, node: str, term: int, candidate: str) -> None:
        """``node`` cast (or, as a candidate, claimed) its vote of ``term`` for ``candidate``."""
        key = (node, term)
        seen = self.votes.get(key)
        if seen is None:
            self.votes[key] = (candidate, time)
        elif seen[0] != candidate:
            raise InvariantViolation(
                "vote-once", time,
                f"{node} voted for {seen[0]} in term {term} (t={seen[1]:.3f}) and now for "
                f"{candidate}", nodes=(node, seen[0], candidate), terms=(term,))

    # ------------------------------------------------------------ persist before send (§5.1)

    def sent(self, time: float, node: str, dst: str, what: str, term: int,
             durable_term: int) -> None:
        """``node`` sends ``what`` in ``term`` to ``dst``; its disk holds ``durable_term``."""
        sent_term = self.sent_term
        if term < sent_term.get(node, 0):
            raise InvariantViolation(
                "term-monotonic", time,
                f"{node} sends {what} in term {term} after sending in term {sent_term[node]}",
                nodes=(node,), terms=(sent_term[node], term))
        sent_term[node] = term
        if term > durable_term:
            raise InvariantViolation(
                "persist-before-send", time,
                f"{node} sends {what} to {dst} in term {term} but its disk holds term "
                f"{durable_term}", nodes=(node, dst), terms=(term, durable_term))

    def sent_vote(self, time: float, node: str, dst: str, what: str, term: int,
                  durable_term: int, vote: str, durable_vote: str | None) -> None:
        """``node`` sends ``what`` voting for ``vote`` in ``term`` (a granted reply: the
        candidate; a RequestVote: itself); its disk holds ``durable_term`` and
        ``durable_vote``."""
        self.sent(time, node, dst, what, term, durable_term)
        if durable_term != term or durable_vote != vote:
            raise InvariantViolation(
                "persist-before-send", time,
                f"{node} sends {what} to {dst} voting for {vote} in term {term} but its disk "
                f"holds term {durable_term}, vote {durable_vote}",
                nodes=(node, dst), terms=(term, durable_term))
        self.vote(time, node, term, vote)

    def sent_entry(self, time: float, node: str, dst: str, what: str, term: int,
                   durable_term: int, index: int, index_term: int | None,
                   durable_index_term: int) -> None:
        """``node`` sends ``what`` vouching for the entry at ``index`` of term ``index_term``
        (None: any term); its disk holds the term ``durable_index_term`` there (``HELD``
        inside the snapshot on disk, -1 beyond the log on disk)."""
        sent_term = self.sent_term
        if term < sent_term.get(node, 0) or term > durable_term:
            self.sent(time, node, dst, what, term, durable_term)    # raises, naming the rule
        sent_term[node] = term
        got = durable_index_term
        if got != HELD and (got < 0 if index_term is None else got != index_term):
            held = "no entry" if got < 0 else f"term {got}"
            raise InvariantViolation(
                "persist-before-send", time,
                f"{node} sends {what} to {dst} vouching for index {index} (term "
                f"{'any' if index_term is None else index_term}) but its disk holds {held} "
                f"there", nodes=(node, dst), terms=(term,), indexes=(index,))

    # ------------------------------------------------------------ leader progress (§5.3)

    def progress(self, time: float, leader: str, term: int, follower: str, match: int,
                 next_index: int, leader_term: int = HELD,
                 follower_durable_term: int | None = None, follower_term: int = HELD) -> None:
        """``leader`` (of ``term``) now records ``match`` / ``next_index`` for ``follower``.
        ``leader_term``: the leader's term at ``match``; ``follower_durable_term``: the term
        on the follower's disk (None: not known, no verdict on the entry);
        ``follower_term``: the term at ``match`` on the follower's disk (``HELD`` inside its
        snapshot, -1 beyond its log)."""
        if next_index <= match:
            raise InvariantViolation(
                "match-index", time,
                f"{leader} (term {term}) has nextIndex {next_index} <= matchIndex {match} for "
                f"{follower}", nodes=(leader, follower), terms=(term,),
                indexes=(match, next_index))
        if match <= 0 or follower_durable_term != term or follower_term == HELD:
            return
        if follower_term != leader_term and not (leader_term == HELD and follower_term >= 0):
            held = "no entry" if follower_term < 0 else f"an entry of term {follower_term}"
            raise InvariantViolation(
                "match-index", time,
                f"{leader} (term {term}) sets matchIndex {match} for {follower}, whose disk "
                f"holds {held} at {match} (the leader's is of term {leader_term})",
                nodes=(leader, follower), terms=(term,), indexes=(match,))

    # ------------------------------------------------------------ commit index (§5.3, §5.4)

    def commit_moved(self, time: float, node: str, old: int, new: int, last_index: int,
                     first: int, entries: Sequence[tuple[int, Any]]) -> None:
        """``node``'s commit index went from ``old`` to ``new`` within one incarnation; its
        log ends at ``last_index``; ``entries`` are the (term, command) of its log from index
        ``first`` to ``new`` (those newly committed that are not inside its snapshot)."""
        if new < old:
            raise InvariantViolation(
                "commit-monotonic", time, f"{node}'s commit index went back from {old} to {new}",
                nodes=(node,), indexes=(old, new))
        if new > last_index:
            raise InvariantViolation(
                "commit-bound", time,
                f"{node}'s commit index {new} is beyond its last log index {last_index}",
                nodes=(node,), indexes=(new, last_index))
        k = first - self._base
        terms, cmds = self._c_term, self._c_cmd
        for term, command in entries:
            if k >= len(terms):                     # the usual case: first to commit it
                if k > len(terms):
                    self._grow(k)
                terms.append(term)
                cmds.append(command)
                self._c_node.append(node)
                self._c_time.append(time)
            elif k >= 0:
                s_term = terms[k]
                if s_term < 0:
                    terms[k], cmds[k], self._c_node[k], self._c_time[k] = (term, command,
                                                                           node, time)
                elif s_term != term or (cmds[k] is not command and cmds[k] != command):
                    index = self._base + k
                    raise InvariantViolation(
                        "commit-matching", time,
                        f"{node} commits ({index}, term {term}, {command!r}) but "
                        f"{self._c_node[k]} committed ({index}, term {s_term}, {cmds[k]!r}) "
                        f"at t={self._c_time[k]:.3f}",
                        nodes=(node, self._c_node[k]), terms=(term, s_term), indexes=(index,))
            k += 1

    def _grow(self, k: int) -> None:
        gap = k - len(self._c_term)
        self._c_term.extend([-1] * gap)
        self._c_cmd.extend([None] * gap)
        self._c_node.extend([""] * gap)
        self._c_time.extend([0.0] * gap)

    def forget_below(self, index: int) -> None:
        """Drop the commit records below ``index``: the driver's promise that no node's log
        starts below it any more, so no node can commit there again (``RaftInvariants.
        forget_below`` says why)."""
        drop = index - self._base
        if drop > 0:
            drop = min(drop, len(self._c_term))
            del self._c_term[:drop], self._c_cmd[:drop], self._c_node[:drop]
            del self._c_time[:drop]
            self._base = index if not self._c_term else self._base + drop

    # ------------------------------------------------------------ snapshots (§7)

    def applied_moved(self, time: float, node: str, old_applied: int, new_applied: int,
                      old_start: int, new_start: int) -> None:
        """Within one incarnation, ``node``'s applied index went from ``old_applied`` to
        ``new_applied`` and its snapshot index (log start) from ``old_start`` to ``new_start``."""
        if new_applied < old_applied or new_start < old_start:
            what, old, new = (("applied index", old_applied, new_applied)
                              if new_applied < old_applied else
                              ("snapshot index", old_start, new_start))
            raise InvariantViolation(
                "applied-monotonic", time, f"{node}'s {what} went back from {old} to {new}",
                nodes=(node,), indexes=(old, new))
