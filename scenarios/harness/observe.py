"""Wiring Raft's safety invariants into a running cluster, whatever service sits above Raft.

``RaftObserver`` wraps a node's step function so every append reaches the log-matching check,
and supplies the host hooks for role changes, applies, snapshots and reboots. ``raft_of`` maps
a node's state to its Raft state (identity for bare Raft, ``state.raft`` for a KV server).
"""

from __future__ import annotations

from typing import Any, Callable

from checkers.invariants.raft import RaftInvariants
from protocols import raft

__all__ = ["RaftObserver"]


class RaftObserver:
    def __init__(self, env: Any, raft_of: Callable[[Any], raft.RaftState] = lambda s: s,
                 invariants: RaftInvariants | None = None) -> None:
        self.env = env
        self.raft_of = raft_of
        self.invariants = invariants or RaftInvariants()

    def wrap(self, addr: str, step: Callable[[Any, Any], tuple[Any, list]]
             ) -> Callable[[Any, Any], tuple[Any, list]]:
        """``step`` plus a report of every entry appended to the node's log."""
        invariants, env, raft_of = self.invariants, self.env, self.raft_of

        def observed(state: Any, event: Any) -> tuple[Any, list]:
            new, effects = step(state, event)
            old_hard, new_hard = raft_of(state).hard, raft_of(new).hard
            if new_hard.log is not old_hard.log and new_hard.log_start == old_hard.log_start:
                log = new_hard.log
                first = _first_new_position(old_hard.log, log)
                if first < len(log):
                    invariants.log_appended(
                        env._now, addr, new_hard.log_start + first,
                        [(e.term, e.command) for e in log[first:]], log[first - 1].term)
            return new, effects
        return observed

    # Host hooks --------------------------------------------------------------------------

    def on_boot(self, host: Any) -> None:
        self.invariants.restarted(self.env.now, host.addr, 0)

    def on_role(self, host: Any, effect: Any) -> None:
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
        self.invariants.applied(self.env.now, host.addr, effect.index, effect.term,
                                effect.command)

    def on_apply_snapshot(self, host: Any, effect: Any) -> None:
        self.invariants.snapshot_applied(self.env.now, host.addr, effect.index, effect.term)


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
