"""A bare, hand-cranked driver of KV servers and clerks for unit and property tests.

No SimPy and no clock: a test decides which message is delivered, dropped or duplicated, which
armed timer fires, who crashes (possibly in the middle of a step's effect list). Every Persist
is kept as the node's disk; a crash drops everything else, including messages in flight.
"""

from __future__ import annotations

from typing import Any

from protocols import kv, raft
from protocols.core import (
    Durable,
    Apply, ApplySnapshot, CancelTimer, ClientDone, ClientRequest, Persist, Receive, Restart,
    Send, SetTimer, TimerFired,
)
from protocols.kv import clerk


class KVBare:
    """``n`` servers ``s0..`` and ``clerks`` clerks ``c0..``, all booted with ``Restart``."""

    def __init__(self, n: int = 3, clerks: int = 1, maxraftstate: int = -1,
                 record: bool = False) -> None:
        self.servers = tuple(f"s{i}" for i in range(n))
        self.clerks = tuple(f"c{j}" for j in range(clerks))
        self.maxraftstate = maxraftstate
        self.states: dict[str, Any] = {}
        self.disk: dict[str, tuple[Any, bytes | None] | None] = {}
        self.inflight: list[tuple[str, str, Any]] = []          # (src, dst, msg)
        self.outside: list[tuple[str, str, Any]] = []           # delivered to unknown addresses
        self.timers: dict[str, dict[str, None]] = {}            # armed kinds, in arming order
        self.done: dict[str, list[ClientDone]] = {c: [] for c in self.clerks}
        self.committed: dict[int, Any] = {}                     # index -> command, all servers
        self.last_applied: dict[str, int] = {}
        self.effects: list = []                                 # of the last step
        self.history: list[tuple[str, Any, list]] | None = [] if record else None
        for addr in self.servers + self.clerks:
            self.disk[addr] = None
            self.restart(addr)

    # ------------------------------------------------------------ stepping

    def step(self, addr: str, event: Any, crash_after: int | None = None) -> list:
        """Step ``addr``; with ``crash_after=k`` only the first k effects happen, then it crashes."""
        state = self.states[addr]
        assert state is not None, f"{addr} is down"
        module = clerk if addr in self.clerks else kv
        state, effects = module.step(state, event)
        self.states[addr] = state
        self.effects = effects
        if self.history is not None:
            self.history.append((addr, event, effects))
        performed = effects if crash_after is None else effects[:crash_after]
        for effect in performed:
            self._perform(addr, effect)
        if crash_after is not None:
            self.crash(addr)
        return effects

    def _perform(self, addr: str, effect: Any) -> None:
        kind = type(effect)
        if kind is Persist:
            old = self.disk[addr]
            self.disk[addr] = old.after(effect) if old else Durable(effect.state, effect.snapshot)
        elif kind is Send:
            self.inflight.append((addr, effect.dst, effect.msg))
        elif kind is SetTimer:
            self.timers[addr].pop(effect.kind, None)
            self.timers[addr][effect.kind] = None
        elif kind is CancelTimer:
            self.timers[addr].pop(effect.kind, None)
        elif kind is Apply:
            assert effect.index == self.last_applied[addr] + 1, f"{addr}: apply out of order"
            seen = self.committed.setdefault(effect.index, effect.command)
            assert seen == effect.command, f"index {effect.index} applied as {seen} and {effect}"
            self.last_applied[addr] = effect.index
        elif kind is ApplySnapshot:
            self.last_applied[addr] = effect.index
        elif kind is ClientDone:
            self.done[addr].append(effect)

    # ------------------------------------------------------------ life cycle

    def restart(self, addr: str) -> list:
        """Boot ``addr`` from its disk (crashing it first if it is up)."""
        if self.states.get(addr) is not None:
            self.crash(addr)
        if addr in self.clerks:
            self.states[addr] = clerk.init(clerk.ClerkConfig(addr, self.servers))
        else:
            config = kv.server_config(self.servers.index(addr), self.servers, self.maxraftstate)
            self.states[addr] = kv.init(config)
        self.timers[addr] = {}
        self.last_applied[addr] = 0
        return self.step(addr, Restart(self.disk[addr]))

    def crash(self, addr: str) -> None:
        self.states[addr] = None
        self.timers[addr] = {}
        self.inflight = [m for m in self.inflight if addr not in (m[0], m[1])]

    def up(self, addr: str) -> bool:
        return self.states.get(addr) is not None

    # ------------------------------------------------------------ network and timers

    def deliver(self, k: int = 0, crash_after: int | None = None) -> list:
        src, dst, msg = self.inflight.pop(k)
        if dst not in self.states:
            self.outside.append((src, dst, msg))     # a test playing the client by hand
            return []
        if not self.up(dst):
            return []
        return self.step(dst, Receive(src, msg), crash_after)

    def deliver_all(self, limit: int = 20_000, cut: frozenset[str] = frozenset()) -> None:
        """Deliver in FIFO order until quiet; messages to or from ``cut`` are lost."""
        for _ in range(limit):
            if not self.inflight:
                return
            src, dst, _ = self.inflight[0]
            if src in cut or dst in cut:
                self.inflight.pop(0)
            else:
                self.deliver(0)
        raise AssertionError("network did not quiesce")

    def fire(self, addr: str, kind: str, crash_after: int | None = None) -> list:
        """Fire an armed timer (disarming it first, as a driver does)."""
        assert kind in self.timers[addr], f"{addr}: timer {kind} not armed"
        del self.timers[addr][kind]
        return self.step(addr, TimerFired(kind), crash_after)

    # ------------------------------------------------------------ conveniences

    def server(self, i: int) -> Any:
        return self.states[self.servers[i]]

    def leaders(self) -> list[int]:
        return [i for i, a in enumerate(self.servers) if self.up(a) and kv.is_leader(self.states[a])]

    def elect(self, i: int, cut: frozenset[str] = frozenset()) -> None:
        self.step(self.servers[i], TimerFired(raft.ELECTION))
        self.deliver_all(cut=cut)
        assert kv.is_leader(self.server(i)), f"s{i} did not win"

    def heartbeat(self, i: int, cut: frozenset[str] = frozenset()) -> None:
        self.fire(self.servers[i], raft.HEARTBEAT)
        self.deliver_all(cut=cut)

    def request(self, c: str, op: clerk.KVOp) -> list:
        return self.step(c, ClientRequest(op))

    def busy(self) -> list[str]:
        return [c for c in self.clerks if self.up(c) and not clerk.is_idle(self.states[c])]

    def result(self, c: str) -> Any:
        return self.done[c][-1].result

    def settle(self, rounds: int = 200) -> None:
        """Heal everything and drive timers in a fixed order until every clerk is idle:
        elections while there is no leader, leader heartbeats, clerk retries."""
        for addr in self.servers:
            if not self.up(addr):
                self.restart(addr)
        turn = 0
        for _ in range(rounds):
            self.deliver_all()
            if not self.busy():
                return
            leaders = self.leaders()
            if not leaders:
                turn = (turn + 1) % len(self.servers)
                self.step(self.servers[turn], TimerFired(raft.ELECTION))
                continue
            leader = max(leaders, key=lambda i: kv.current_term(self.server(i)))
            self.step(self.servers[leader], TimerFired(raft.HEARTBEAT))
            self.deliver_all()
            for c in self.busy():
                if clerk.RETRY in self.timers[c]:
                    self.fire(c, clerk.RETRY)
        raise AssertionError(f"clerks {self.busy()} never finished")
