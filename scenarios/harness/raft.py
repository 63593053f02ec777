"""The Raft tester: a cluster of Raft hosts on the lab's network, with the lab's appliers and
checks (a port of 6.5840's raft/config.go to virtual time).

Methods that wait are generators (``yield from cluster.one(...)``); the rest act at once. Every
host's step is wrapped so that Raft's safety invariants see each role change, append and apply;
a violation ends the run. The lab's applier checks ("apply out of order", conflicting commits)
fail the scenario like the lab's log.Fatalf.
"""

from __future__ import annotations

from typing import Any, Generator

import msgspec

from protocols import raft
from protocols.core import TakeSnapshot
from sim import Host, NetParams, Network

from scenarios.harness.observe import RaftObserver
from scenarios.runner import RunContext, ScenarioFailure

__all__ = ["RaftCluster", "ELECTION_TIMEOUT", "SNAPSHOT_INTERVAL", "MAX_LOG_SIZE"]

ELECTION_TIMEOUT = 1000.0      # the tester's RaftElectionTimeout, ms
SNAPSHOT_INTERVAL = 10         # applierSnap snapshots after every 10th entry
MAX_LOG_SIZE = 2000            # 3D: persisted Raft state must stay below this many bytes

_encode = msgspec.msgpack.encode
_decode = msgspec.msgpack.decode


class RaftCluster:
    """``n`` Raft peers ``s0..s{n-1}`` with the lab's tester around them."""

    def __init__(self, ctx: RunContext, n: int, *, reliable: bool = True,
                 snapshot: bool = False, long_reordering: bool = False,
                 net_params: NetParams | None = None,
                 snapshot_interval: int = SNAPSHOT_INTERVAL) -> None:
        self.ctx = ctx
        self.world = ctx.world
        self.env = ctx.world.env
        self.n = n
        self.snapshot = snapshot
        self.snapshot_interval = snapshot_interval
        self.rng = ctx.world.rng("workload")
        self.fault_rng = ctx.world.rng("faults")
        params = net_params or NetParams(reliable=reliable, long_delays=True,
                                         long_reordering=long_reordering)
        self.net = Network(ctx.world, ctx.trace, params)
        self.observer = RaftObserver(self.env)
        self._applied = self.observer.invariants.applied
        self.addrs = tuple(f"s{i}" for i in range(n))
        # What each server applied: ``logs[i][index]`` for 0 < index < len (position 0 is
        # unused). A server applies in index order from 1 (or from a snapshot that holds every
        # command up to its index), so a list is dense: 8 bytes an entry, not a dict's ~100.
        self.logs: list[list[Any]] = [[None] for _ in range(n)]
        # The per-apply cross-check in O(1): every server's log agrees with ``_first`` (the
        # first command applied at each index by anyone, a list like ``logs[i]``) except at
        # the indexes of ``_mixed``, where an installed snapshot may have put another value;
        # only there, or on a disagreement with ``_first``, are all the logs compared (the
        # lab's loop, its message).
        self._first: list[Any] = [None]
        self._mixed: set[int] = set()
        self._server = {addr: i for i, addr in enumerate(self.addrs)}
        self.last_applied = [0] * n
        self.max_index = 0
        self.hosts = [self._make_host(i) for i in range(n)]
        for i in range(n):
            self.hosts[i].boot()
        for i in range(n):
            self.connect(i)

    # ------------------------------------------------------------ construction

    def _make_host(self, i: int) -> Host:
        config = raft.RaftConfig(i, self.addrs)
        return Host(self.world, self.addrs[i], self.observer.wrap(self.addrs[i], raft.step),
                    lambda: raft.init(config), network=self.net,
                    on_apply=self._on_apply, on_apply_snapshot=self._on_apply_snapshot,
                    on_role=self.observer.on_role, on_boot=self._on_boot,
                    on_send=self.observer.on_send)

    # ------------------------------------------------------------ hooks (the lab's appliers)

    def _index(self, host: Host) -> int:
        return self._server[host.addr]

    def _on_boot(self, host: Host) -> None:
        self.last_applied[self._index(host)] = 0
        self.observer.on_boot(host)

    def _on_apply(self, host: Host, effect: Any) -> None:
        i = self._server[host.addr]
        index, command = effect.index, effect.command
        # the observer's on_apply, without its frame (bare Raft: no KV fold)
        self._applied(self.world._now, host.addr, index, effect.term, command)
        first = self._first
        if index < len(first):
            if index in self._mixed or first[index] != command:
                self._compare_logs(i, index, command)
        elif index == len(first):
            first.append(command)           # no log holds this index yet
        # (past the end: no log holds ``index - 1`` either, so the order check below fails)
        log = self.logs[i]
        if self.snapshot and index != self.last_applied[i] + 1:
            raise ScenarioFailure(f"server {i} apply out of order, expected index "
                                  f"{self.last_applied[i] + 1}, got {index}")
        if not self.snapshot and index > 1 and index - 1 >= len(log):
            raise ScenarioFailure(f"server {i} apply out of order {index}")
        if index < len(log):
            log[index] = command
        else:
            log.append(command)             # index == len(log): the order checks hold
        self.last_applied[i] = index
        if index > self.max_index:
            self.max_index = index
        if self.snapshot and (index + 1) % self.snapshot_interval == 0:
            data = _encode([index, log[1:index + 1]])
            host.defer(TakeSnapshot(index, data))

    def _compare_logs(self, i: int, index: int, command: Any) -> None:
        """The lab's check: no server applied another command at ``index``."""
        for j, log in enumerate(self.logs):
            if index < len(log) and log[index] != command:
                raise ScenarioFailure(f"commit index={index} server={i} {command!r} != "
                                      f"server={j} {log[index]!r}")

    def _on_apply_snapshot(self, host: Host, effect: Any) -> None:
        i = self._index(host)
        index, commands = _decode(effect.data)
        if index != effect.index:
            raise ScenarioFailure(f"server {i} snapshot index {effect.index} but its data "
                                  f"says {index}")
        self.observer.on_apply_snapshot(host, effect)
        self.logs[i] = log = [None, *commands]
        first, mixed = self._first, self._mixed
        for k in range(1, len(log)):
            c = log[k]
            if k >= len(first):
                first.append(c)
            elif k not in mixed and first[k] != c:
                mixed.add(k)
        self.last_applied[i] = index

    # ------------------------------------------------------------ faults (connect, crash)

    def connect(self, i: int) -> None:
        self.net.connect(self.addrs[i])

    def disconnect(self, i: int) -> None:
        self.net.disconnect(self.addrs[i])

    def connected(self, i: int) -> bool:
        return self.net.is_connected(self.addrs[i])

    def crash1(self, i: int) -> None:
        """Disconnect and crash ``i``; only its disk survives."""
        self.disconnect(i)
        self.hosts[i].crash()

    def start1(self, i: int) -> None:
        """Crash if needed, then boot ``i`` from its disk (left disconnected, as the lab)."""
        self.crash1(i)
        self.hosts[i].boot()

    def up(self, i: int) -> bool:
        return self.hosts[i].up

    # ------------------------------------------------------------ observations

    def get_state(self, i: int) -> tuple[int, bool]:
        state = self.hosts[i].state
        return (state.hard.term, state.role == raft.LEADER) if state is not None else (0, False)

    def first_leader(self) -> int:
        """The first server, in index order, that is up and believes it leads; -1 if none
        (the first ``i`` with ``up(i) and get_state(i)[1]``, without a tuple per server)."""
        leader = raft.LEADER
        for i, host in enumerate(self.hosts):
            state = host.state
            if host.up and state is not None and state.role == leader:
                return i
        return -1

    def start(self, i: int, command: Any) -> tuple[int, int, bool]:
        """Raft's Start on server ``i``: (index, term, is_leader)."""
        got = self.hosts[i].propose(command)
        if got is None:
            return -1, -1, False
        return got.index, got.term, got.is_leader

    def n_committed(self, index: int) -> tuple[int, Any]:
        count, command = 0, None
        for i, log in enumerate(self.logs):
            if 0 < index < len(log):
                if count > 0 and log[index] != command:
                    raise ScenarioFailure(f"committed values do not match: index {index}, "
                                          f"{command!r}, {log[index]!r}")
                count += 1
                command = log[index]
        return count, command

    def log_size(self) -> int:
        """Largest persisted Raft state over the servers, in encoded bytes (LogSize)."""
        sizes = [raft.hard_state_size(d.state) for d in (h.disk.read() for h in self.hosts)
                 if d is not None]
        return max(sizes, default=0)

    def rpc_total(self) -> int:
        return sum(self.net.rpc_count(a) for a in self.addrs)

    def bytes_total(self) -> int:
        return self.net.total_bytes

    # ------------------------------------------------------------ checks that wait

    def check_one_leader(self) -> Generator[Any, Any, int]:
        for _ in range(10):
            yield self.ctx.sleep(450 + self.rng.randrange(100))
            leaders: dict[int, list[int]] = {}
            for i in range(self.n):
                if self.connected(i) and self.up(i):
                    term, leader = self.get_state(i)
                    if leader:
                        leaders.setdefault(term, []).append(i)
            for term, who in leaders.items():
                if len(who) > 1:
                    raise ScenarioFailure(f"term {term} has {len(who)} (>1) leaders")
            if leaders:
                return leaders[max(leaders)][0]
        raise ScenarioFailure("expected one leader, got none")

    def check_terms(self) -> int:
        term = -1
        for i in range(self.n):
            if self.connected(i) and self.up(i):
                t, _ = self.get_state(i)
                if term == -1:
                    term = t
                elif t != term:
                    raise ScenarioFailure("servers disagree on term")
        return term

    def check_no_leader(self) -> None:
        for i in range(self.n):
            if self.connected(i) and self.up(i) and self.get_state(i)[1]:
                raise ScenarioFailure(f"expected no leader among connected servers, but {i} "
                                      "claims to be leader")

    def one(self, command: Any, expected: int, retry: bool) -> Generator[Any, Any, int]:
        """Agree on ``command`` on at least ``expected`` servers within 10 s (the lab's one())."""
        t0 = self.env.now
        starts = 0
        while self.env.now - t0 < 10_000:
            index = -1
            for _ in range(self.n):
                starts = (starts + 1) % self.n
                if self.connected(starts) and self.up(starts):
                    got, _, ok = self.start(starts, command)
                    if ok:
                        index = got
                        break
            if index != -1:
                t1 = self.env.now
                while self.env.now - t1 < 2000:
                    count, got_cmd = self.n_committed(index)
                    if count > 0 and count >= expected and got_cmd == command:
                        return index
                    yield self.ctx.sleep(20)
                if not retry:
                    raise ScenarioFailure(f"one({command!r}) failed to reach agreement")
            else:
                yield self.ctx.sleep(50)
        raise ScenarioFailure(f"one({command!r}) failed to reach agreement")

    def wait(self, index: int, n: int, start_term: int) -> Generator[Any, Any, Any]:
        """Wait for ``n`` servers to commit ``index``; -1 if a term moves past ``start_term``."""
        to = 10
        for _ in range(30):
            count, _ = self.n_committed(index)
            if count >= n:
                break
            yield self.ctx.sleep(to)
            if to < 1000:
                to *= 2
            if start_term > -1:
                for i in range(self.n):
                    if self.up(i) and self.get_state(i)[0] > start_term:
                        return -1
        count, command = self.n_committed(index)
        if count < n:
            raise ScenarioFailure(f"only {count} decided for index {index}; wanted {n}")
        return command

    def random_command(self) -> int:
        return self.rng.randrange(1 << 31)

    def end(self) -> None:
        """Record the figures the lab prints at the end of a test."""
        self.ctx.facts.update(peers=self.n, rpcs=self.rpc_total(), committed=self.max_index)

