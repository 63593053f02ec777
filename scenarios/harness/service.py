"""The tester of any replicated service over Raft (a port of the common part of 6.5840's
kvraft and shardctrler config.go to virtual time): ``n`` servers of one service on the lab's
network, clerks made on demand, the lab's partitions, shutdowns and restarts, and Raft's
safety invariants on every server.

A service is named by its protocol module (``step``, ``init``, ``server_config``,
``is_leader``) and its clerk module (``step``, ``init``, ``ClerkConfig``). Clerk operations
are generators: ``result = yield from clerk.call(op)``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Generator, Sequence

import simpy

from protocols import raft
from protocols.core import ClientDone, ClientRequest
from sim import Host, NetParams, Network

from scenarios.harness.observe import RaftObserver, raft_field
from scenarios.runner import RunContext

__all__ = ["ServiceCluster", "ServiceClerk", "ClientHost", "ELECTION_TIMEOUT", "RELIABLE_DELAY"]

ELECTION_TIMEOUT = 1000.0
RELIABLE_DELAY = 1.0            # ms per message on the "reliable" network (see docs/scenarios.md)


class ClientHost:
    """A client host (a clerk's step function on the network) plus the application loop that
    waits for its answers: ``result = yield from client.call(op)``."""

    def __init__(self, cluster: Any, name: str, step: Any, init: Any) -> None:
        self.cluster = cluster
        self.name = name
        self.env = cluster.env
        self.host = Host(cluster.world, name, step, init, network=cluster.net, client=True)
        self.host.handle(ClientDone, self._done)
        self.host.boot()
        self._waiting: simpy.Event | None = None

    def _done(self, host: Host, effect: ClientDone) -> None:
        event, self._waiting = self._waiting, None
        if event is not None:
            event.succeed(effect.result)

    def call(self, op: Any) -> Generator[Any, Any, Any]:
        """Ask the service for ``op`` and wait (in virtual time) for its result."""
        if self._waiting is not None:
            raise RuntimeError(f"{self.name}: one operation at a time")
        self._waiting = event = self.env.event()
        self.host.call(ClientRequest(op))
        return (yield event)


class ServiceClerk(ClientHost):
    """A clerk of the cluster's service, trying the servers in a permutation of its own."""

    def __init__(self, cluster: "ServiceCluster", name: str, servers: Sequence[str]) -> None:
        order = list(cluster.addrs)
        cluster.rng.shuffle(order)          # the lab hands clerks a random permutation
        module = cluster.clerk_module
        config = module.ClerkConfig(name, tuple(order))
        super().__init__(cluster, name, module.step, lambda: module.init(config))
        self.connect_only(servers)

    def connect_only(self, servers: Sequence[str]) -> None:
        """Links to ``servers`` only (the lab's makeClient(to) / ConnectClient)."""
        for addr in self.cluster.addrs:
            up = addr in servers
            for a, b in ((self.name, addr), (addr, self.name)):
                (self.cluster.net.uncut if up else self.cluster.net.cut)(a, b)


class ServiceCluster:
    """``n`` servers ``s0..`` of ``service`` with the lab's tester; clerks ``c0..`` on demand."""

    clerk_class: type[ServiceClerk] = ServiceClerk
    kv_oracle = False           # fold applied commands into the KV reference (KVCluster)

    def __init__(self, ctx: RunContext, n: int, service: ModuleType, clerk: ModuleType, *,
                 unreliable: bool = False, maxraftstate: int = -1,
                 net_params: NetParams | None = None) -> None:
        self.ctx = ctx
        self.world = ctx.world
        self.env = ctx.world.env
        self.n = n
        self.service = service
        self.clerk_module = clerk
        self.maxraftstate = maxraftstate
        self.rng = ctx.world.rng("workload")
        self.fault_rng = ctx.world.rng("faults")
        params = net_params or NetParams(reliable=not unreliable, reliable_delay=RELIABLE_DELAY)
        self.net = Network(ctx.world, ctx.trace, params)
        # raft_field: the observer reads ``state.raft`` itself (no call, twice per step)
        self.observer = RaftObserver(self.env, raft_of=raft_field, kv=self.kv_oracle)
        self.addrs = tuple(f"s{i}" for i in range(n))
        self.hosts = [self._make_host(i) for i in range(n)]
        for host in self.hosts:
            host.boot()
        self.connect_all()
        self.clerks = 0

    def _make_host(self, i: int) -> Host:
        service = self.service
        config = service.server_config(i, self.addrs, self.maxraftstate)
        o = self.observer
        return Host(self.world, self.addrs[i], o.wrap(self.addrs[i], service.step),
                    lambda: service.init(config), network=self.net, on_apply=o.on_apply,
                    on_apply_snapshot=o.on_apply_snapshot, on_role=o.on_role,
                    on_boot=o.on_boot, on_send=o.on_send)

    # ------------------------------------------------------------ clients

    def make_clerk(self, servers: Sequence[str] | None = None) -> Any:
        name = f"c{self.clerks}"
        self.clerks += 1
        return self.clerk_class(self, name, self.addrs if servers is None else servers)

    def spawn_clients(self, n: int, body: Any) -> list[simpy.Process]:
        """Start ``body(index, clerk)`` for ``n`` fresh clerks (spawn_clients_and_wait)."""
        return [self.env.process(body(i, self.make_clerk())) for i in range(n)]

    # ------------------------------------------------------------ faults

    def connect_all(self) -> None:
        self.partition(self.addrs, ())

    def partition(self, p1: Sequence[str], p2: Sequence[str]) -> None:
        """Servers talk within p1 and within p2 only; clerks' links are untouched."""
        self.net.partition([list(p1), list(p2)])

    def shutdown(self, i: int) -> None:
        """ShutdownServer: the server crashes; only its persisted state survives."""
        self.hosts[i].crash()

    def start(self, i: int) -> None:
        """StartServer: boot from the persisted state."""
        self.hosts[i].restart()

    def leader(self) -> int | None:
        for i, host in enumerate(self.hosts):
            if host.up and self.service.is_leader(host.state):
                return i
        return None

    # ------------------------------------------------------------ measurements

    def log_size(self) -> int:
        """Largest persisted Raft state over the servers, encoded bytes (LogSize)."""
        sizes = [raft.hard_state_size(d.state) for d in (h.disk.read() for h in self.hosts)
                 if d is not None]
        return max(sizes, default=0)

    def snapshot_size(self) -> int:
        sizes = [len(d.snapshot) for d in (h.disk.read() for h in self.hosts)
                 if d is not None and d.snapshot]
        return max(sizes, default=0)
