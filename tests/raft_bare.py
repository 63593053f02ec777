"""A bare, hand-cranked driver of the Raft step function for unit and property tests.

No SimPy and no clock: a test decides which message is delivered, which timer fires, who
crashes. Every Persist is kept as the node's disk; a crash drops everything else.
"""

from __future__ import annotations

from typing import Any

from protocols import raft
from protocols.core import (
    Durable,
    Apply, ApplySnapshot, Persist, Propose, Proposed, Receive, Restart, Send, TakeSnapshot,
    TimerFired,
)


class BareCluster:
    def __init__(self, n: int) -> None:
        self.peers = tuple(f"s{i}" for i in range(n))
        self.disk: list[tuple[Any, bytes | None] | None] = [None] * n
        self.states: list[raft.RaftState | None] = [None] * n
        self.inflight: list[tuple[int, int, Any]] = []   # (src, dst, msg)
        self.applied: list[dict[int, Any]] = [dict() for _ in range(n)]
        self.last_applied: list[int] = [0] * n
        self.effects: list[list] = [[] for _ in range(n)]
        for i in range(n):
            self.restart(i)

    @property
    def n(self) -> int:
        return len(self.peers)

    def step(self, i: int, event: Any) -> list:
        state = self.states[i]
        assert state is not None, f"s{i} is down"
        state, effects = raft.step(state, event)
        self.states[i] = state
        self.effects[i] = effects
        for effect in effects:
            self._perform(i, effect)
        return effects

    def _perform(self, i: int, effect: Any) -> None:
        if type(effect) is Persist:
            old = self.disk[i]
            self.disk[i] = old.after(effect) if old else Durable(effect.state, effect.snapshot)
        elif type(effect) is Send:
            self.inflight.append((i, self.peers.index(effect.dst), effect.msg))
        elif type(effect) is Apply:
            assert effect.index == self.last_applied[i] + 1, "apply out of order"
            self.applied[i][effect.index] = effect.command
            self.last_applied[i] = effect.index
        elif type(effect) is ApplySnapshot:
            self.last_applied[i] = effect.index

    def restart(self, i: int) -> list:
        self.states[i] = raft.init(raft.RaftConfig(i, self.peers))
        self.last_applied[i] = 0
        self.inflight = [m for m in self.inflight if m[1] != i]
        return self.step(i, Restart(self.disk[i]))

    def crash(self, i: int) -> None:
        self.states[i] = None
        self.inflight = [m for m in self.inflight if m[0] != i and m[1] != i]

    def timeout(self, i: int) -> list:
        return self.step(i, TimerFired(raft.ELECTION))

    def heartbeat(self, i: int) -> list:
        return self.step(i, TimerFired(raft.HEARTBEAT))

    def propose(self, i: int, command: Any) -> Proposed:
        effects = self.step(i, Propose(command))
        return next(e for e in effects if type(e) is Proposed)

    def snapshot(self, i: int, index: int, data: bytes) -> list:
        return self.step(i, TakeSnapshot(index, data))

    def deliver(self, k: int = 0) -> list:
        src, dst, msg = self.inflight.pop(k)
        if self.states[dst] is None:
            return []
        return self.step(dst, Receive(self.peers[src], msg))

    def deliver_all(self, limit: int = 10_000, drop_to: set[int] = frozenset()) -> None:
        """Deliver in FIFO order until quiet; messages to or from ``drop_to`` are lost."""
        for _ in range(limit):
            if not self.inflight:
                return
            src, dst, _ = self.inflight[0]
            if src in drop_to or dst in drop_to:
                self.inflight.pop(0)
                continue
            self.deliver(0)
        raise AssertionError("network did not quiesce")

    def elect(self, i: int) -> None:
        self.timeout(i)
        self.deliver_all()
        assert self.states[i].role == raft.LEADER

    def leaders(self) -> list[int]:
        return [i for i, s in enumerate(self.states) if s is not None and s.role == raft.LEADER]
