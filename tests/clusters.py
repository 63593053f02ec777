"""Test conveniences that know Raft or KV, as thin layers over the synchronous ``sim.cluster``.

The driver decides nothing: a test picks which message is delivered, dropped or duplicated,
which timer fires, who crashes (possibly in the middle of a step's effect list). What these
classes add is bookkeeping a test asserts on (what each node applied, what each clerk was
told) and a few scripted rounds (an election, a heartbeat, a settled network).
"""

from __future__ import annotations

from typing import Any, Iterable

from protocols import kv, raft
from protocols.core import (
    Apply, ApplySnapshot, ClientDone, ClientRequest, Effects, Proposed, Restart, TakeSnapshot,
    TimerFired,
)
from protocols.kv import clerk
from sim.cluster import Cluster, Driver


def raft_peers(n: int) -> Cluster:
    """``n`` Raft peers ``s0..``."""
    peers = tuple(f"s{i}" for i in range(n))
    return Cluster({addr: (raft.step, lambda i=i: raft.init(raft.RaftConfig(i, peers)))
                    for i, addr in enumerate(peers)})


class RaftCluster(Driver):
    """``n`` booted Raft peers. Peer ``i`` is at address ``s{i}``; every method that takes a
    node accepts either. ``applied[i]`` maps index -> command of every Apply peer ``i`` ever
    performed (checked to come in order, without gaps, since its last boot)."""

    def __init__(self, n: int) -> None:
        super().__init__(raft_peers(n))
        self.peers = self.cluster.addrs
        self.applied: list[dict[int, Any]] = [dict() for _ in range(n)]
        self.last_applied: list[int] = [0] * n
        self.boot()

    @property
    def n(self) -> int:
        return len(self.peers)

    @property
    def states(self) -> tuple[raft.RaftState | None, ...]:
        """Each peer's state by index (None while down)."""
        return tuple(node.state for node in self.state.nodes)

    @property
    def disk(self) -> tuple[Any, ...]:
        """Each peer's ``Durable`` (or None) by index."""
        return tuple(node.durable for node in self.state.nodes)

    def _addr(self, who: int | str) -> str:
        return self.peers[who] if isinstance(who, int) else who

    def observe(self, addr: str, event: Any, effects: Effects) -> None:
        super().observe(addr, event, effects)
        i = self.cluster.index[addr]
        if type(event) is Restart:
            self.last_applied[i] = 0
        for effect in effects:
            if type(effect) is Apply:
                assert effect.index == self.last_applied[i] + 1, "apply out of order"
                self.applied[i][effect.index] = effect.command
                self.last_applied[i] = effect.index
            elif type(effect) is ApplySnapshot:
                self.last_applied[i] = effect.index

    # the driver's operations, also by peer index
    def step(self, who: int | str, event: Any, crash_after: int | None = None) -> Effects:
        return super().step(self._addr(who), event, crash_after)

    def crash(self, who: int | str) -> None:
        super().crash(self._addr(who))

    def restart(self, who: int | str, crash_after: int | None = None) -> Effects:
        return super().restart(self._addr(who), crash_after)

    def propose(self, who: int | str, command: Any) -> Proposed:
        got = super().propose(self._addr(who), command)
        assert got is not None, "Propose without a Proposed answer"
        return got

    # Raft's rounds
    def timeout(self, i: int) -> Effects:
        """The election timer of peer ``i`` goes off (whether or not it is armed)."""
        return self.step(i, TimerFired(raft.ELECTION))

    def heartbeat(self, i: int) -> Effects:
        """The heartbeat timer of peer ``i`` goes off (whether or not it is armed)."""
        return self.step(i, TimerFired(raft.HEARTBEAT))

    def snapshot(self, i: int, index: int, data: bytes) -> Effects:
        return self.step(i, TakeSnapshot(index, data))

    def deliver_all(self, limit: int = 10_000, cut: Iterable[str] = ()) -> None:
        super().deliver_all(limit, cut)

    def elect(self, i: int) -> None:
        self.timeout(i)
        self.deliver_all()
        state = self.states[i]
        assert state is not None and state.role == raft.LEADER

    def leaders(self) -> list[int]:
        return [i for i, s in enumerate(self.states) if s is not None and s.role == raft.LEADER]


def kv_nodes(n: int, clerks: int, maxraftstate: int) -> Cluster:
    """``n`` KV servers ``s0..`` and ``clerks`` clerks ``c0..``."""
    servers = tuple(f"s{i}" for i in range(n))
    nodes: dict[str, Any] = {
        addr: (kv.step, lambda i=i: kv.init(kv.server_config(i, servers, maxraftstate)))
        for i, addr in enumerate(servers)}
    for j in range(clerks):
        addr = f"c{j}"
        nodes[addr] = (clerk.step, lambda addr=addr: clerk.init(clerk.ClerkConfig(addr, servers)))
    return Cluster(nodes)


class KVCluster(Driver):
    """``n`` KV servers ``s0..`` and ``clerks`` clerks ``c0..``, all booted with ``Restart``.

    Checks every Apply: in index order on each server, and one command per index across all
    servers (``committed``). ``done[c]`` lists the ``ClientDone`` answers clerk ``c`` gave.
    """

    def __init__(self, n: int = 3, clerks: int = 1, maxraftstate: int = -1,
                 record: bool = False) -> None:
        super().__init__(kv_nodes(n, clerks, maxraftstate), record=record)
        self.servers = tuple(f"s{i}" for i in range(n))
        self.clerks = tuple(f"c{j}" for j in range(clerks))
        self.maxraftstate = maxraftstate
        self.done: dict[str, list[ClientDone]] = {c: [] for c in self.clerks}
        self.committed: dict[int, Any] = {}                     # index -> command, all servers
        self.last_applied: dict[str, int] = {}
        self.boot()

    def observe(self, addr: str, event: Any, effects: Effects) -> None:
        super().observe(addr, event, effects)
        if type(event) is Restart:
            self.last_applied[addr] = 0
        for effect in effects:
            kind = type(effect)
            if kind is Apply:
                assert effect.index == self.last_applied[addr] + 1, f"{addr}: apply out of order"
                seen = self.committed.setdefault(effect.index, effect.command)
                assert seen == effect.command, (
                    f"index {effect.index} applied as {seen} and {effect}")
                self.last_applied[addr] = effect.index
            elif kind is ApplySnapshot:
                self.last_applied[addr] = effect.index
            elif kind is ClientDone:
                self.done[addr].append(effect)

    # ------------------------------------------------------------ conveniences

    def server(self, i: int) -> Any:
        return self.node(self.servers[i]).state

    def leaders(self) -> list[int]:
        return [i for i, a in enumerate(self.servers)
                if self.up(a) and kv.is_leader(self.server(i))]

    def elect(self, i: int, cut: Iterable[str] = ()) -> None:
        self.step(self.servers[i], TimerFired(raft.ELECTION))
        self.deliver_all(cut=cut)
        assert kv.is_leader(self.server(i)), f"s{i} did not win"

    def heartbeat(self, i: int, cut: Iterable[str] = ()) -> None:
        self.fire(self.servers[i], raft.HEARTBEAT)
        self.deliver_all(cut=cut)

    def request(self, c: str, op: clerk.KVOp) -> Effects:
        return self.step(c, ClientRequest(op))

    def busy(self) -> list[str]:
        return [c for c in self.clerks if self.up(c) and not clerk.is_idle(self.node(c).state)]

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
                if clerk.RETRY in self.timers(c):
                    self.fire(c, clerk.RETRY)
        raise AssertionError(f"clerks {self.busy()} never finished")
