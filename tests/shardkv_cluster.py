"""A sharded KV store on the synchronous cluster driver, for tests: a controller of three
servers ``m0..m2``, replica groups of three servers (gid 1: ``a0..a2``, gid 2: ``b0..b2``, gid 3:
``d0..d2``), clerks ``c0..`` and an administrator ``admin`` (a controller clerk).

Every step feeds the sharding invariants (``checkers.invariants.shards``) from the servers'
observations; ``settle`` drives timers in a fixed order (elections where a group has no
leader, heartbeats, the groups' polls, clerk retries) and may block messages to hold a
migration in flight.
"""

from __future__ import annotations

from typing import Any, Callable

from checkers.invariants.shards import ShardInvariants
from protocols import raft, shardctrler as sc, shardkv
from protocols.core import ClientDone, ClientRequest, Effects, Note, Restart, TimerFired
from protocols.rsm import clerk as rsm_clerk
from protocols.shardkv import clerk
from sim.cluster import Cluster, Driver, InFlight

CTRLERS = ("m0", "m1", "m2")
GROUPS = {1: ("a0", "a1", "a2"), 2: ("b0", "b1", "b2"), 3: ("d0", "d1", "d2")}

#: One key per shard: KEYS[s] lives in shard s.
KEYS = tuple(next(chr(c) for c in range(ord("a"), ord("z")) if shardkv.key2shard(chr(c)) == s)
             for s in range(10))


def nodes(clerks: int, maxraftstate: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        a: (sc.step, lambda i=i: sc.init(sc.server_config(i, CTRLERS)))
        for i, a in enumerate(CTRLERS)}
    for gid, peers in GROUPS.items():
        for i, a in enumerate(peers):
            out[a] = (shardkv.step, lambda gid=gid, i=i, peers=peers: shardkv.init(
                shardkv.server_config(gid, i, peers, CTRLERS, maxraftstate)))
    for j in range(clerks):
        c = f"c{j}"
        out[c] = (clerk.step, lambda c=c: clerk.init(clerk.ClerkConfig(c, CTRLERS)))
    out["admin"] = (sc.clerk.step,
                    lambda: sc.clerk.init(rsm_clerk.ClerkConfig("admin", CTRLERS)))
    return out


class ShardCluster(Driver):
    def __init__(self, clerks: int = 2, maxraftstate: int = -1) -> None:
        super().__init__(Cluster(nodes(clerks, maxraftstate)))
        self.clerks = tuple(f"c{j}" for j in range(clerks))
        self.inv = ShardInvariants()
        self.time = 0.0
        self.done: dict[str, list[ClientDone]] = {c: [] for c in self.clerks + ("admin",)}
        self.notes: list[tuple[str, Note]] = []
        self.block: Callable[[InFlight], bool] = lambda m: False
        self.turn = 0
        self.boot()

    def observe(self, addr: str, event: Any, effects: Effects) -> None:
        super().observe(addr, event, effects)
        self.time += 1.0
        t, inv = self.time, self.inv
        if type(event) is Restart:
            inv.restarted(t, addr)
        for e in effects:
            if type(e) is ClientDone:
                self.done[addr].append(e)
            elif type(e) is Note and e.what.startswith("shard-"):
                self.notes.append((addr, e))
                d = e.detail
                if e.what == "shard-config":
                    inv.config_applied(t, addr, d[0], d[1], d[2])
                elif e.what == "shard-restored":
                    inv.restored(t, addr, *d)
                elif e.what == "shard-served":
                    inv.served(t, addr, *d)
                elif e.what == "shard-frozen":
                    inv.frozen(t, *d)
                elif e.what == "shard-installed":
                    inv.installed(t, *d)
                elif e.what == "shard-deleted":
                    inv.deleted(t, *d)

    # ------------------------------------------------------------ views

    def group(self, gid: int) -> tuple[str, ...]:
        return GROUPS[gid]

    def machine(self, addr: str) -> shardkv.ShardKVMachine:
        return shardkv.server.machine(self.node(addr).state)

    def leader(self, peers: tuple[str, ...]) -> str | None:
        up = [a for a in peers if self.up(a) and raft.is_leader(self._raft(a))]
        return max(up, key=lambda a: raft.current_term(self._raft(a))) if up else None

    def _raft(self, addr: str) -> raft.RaftState:
        state = self.node(addr).state
        return state.raft if addr in CTRLERS else state.rsm.raft

    def latest(self) -> sc.Config:
        leader = self.leader(CTRLERS) or "m0"
        return sc.latest(self.node(leader).state.machine)

    def caught_up(self, gids: tuple[int, ...]) -> bool:
        """Every up server of ``gids`` applied the latest configuration and holds nothing in
        flight."""
        num = self.latest().num
        return all(self.machine(a).config.num == num and shardkv.is_stable(self.machine(a))
                   for gid in gids for a in GROUPS[gid] if self.up(a))

    def busy(self, c: str) -> bool:
        state = self.node(c).state
        return not (sc.clerk.is_idle(state) if c == "admin" else clerk.is_idle(state))

    # ------------------------------------------------------------ driving

    def flush(self, limit: int = 50_000) -> None:
        """Deliver in FIFO order until nothing is in flight; blocked messages are lost."""
        for _ in range(limit):
            if not self.inflight:
                return
            if self.block(self.inflight[0]):
                self.drop(0)
            else:
                self.deliver(0)
        raise RuntimeError("network did not quiesce")

    def round(self) -> None:
        """One round of timers: elections, heartbeats, polls, clerk retries."""
        self.flush()
        for peers in (CTRLERS,) + tuple(GROUPS.values()):
            up = [a for a in peers if self.up(a)]
            if not up:
                continue
            leader = self.leader(peers)
            if leader is None:
                self.turn += 1
                self.step(up[self.turn % len(up)], TimerFired(raft.ELECTION))
                self.flush()
                continue
            self.step(leader, TimerFired(raft.HEARTBEAT))
            self.flush()
            if peers != CTRLERS:
                self.step(leader, TimerFired(shardkv.POLL))
                self.flush()
        for c in self.clerks + ("admin",):
            if self.up(c) and self.busy(c):
                for kind in (clerk.RETRY, clerk.CTRL_RETRY):
                    if kind in self.timers(c):
                        self.fire(c, kind)
                        self.flush()

    def settle(self, until: Callable[[], bool], rounds: int = 100) -> None:
        for _ in range(rounds):
            self.round()
            if until():
                return
        raise AssertionError("did not settle")

    def admin(self, op: Any) -> Any:
        self.step("admin", ClientRequest(op))
        self.settle(lambda: not self.busy("admin"))
        return self.done["admin"][-1].result

    def start(self, c: str, op: Any) -> None:
        self.step(c, ClientRequest(op))

    def kv(self, c: str, op: Any, rounds: int = 100) -> Any:
        self.start(c, op)
        self.settle(lambda: not self.busy(c), rounds)
        return self.done[c][-1].result

    def reconfigure(self, op: Any, gids: tuple[int, ...]) -> sc.Config:
        """Ask the controller for ``op`` and settle until ``gids`` caught up."""
        self.admin(op)
        self.settle(lambda: self.caught_up(gids))
        return self.latest()


# ---------------------------------------------------------------- two planted bugs

def plant_serving_before_arrival(monkeypatch: Any) -> None:
    """A group serves a shard it is still pulling (before the data arrived)."""
    from protocols.shardkv import machine as skm
    monkeypatch.setattr(skm, "SERVES", frozenset((skm.SERVING, skm.GCING, skm.PULLING)))


def plant_delete_before_install(monkeypatch: Any) -> None:
    """The new owner also asks the old one to delete the shards it is still pulling."""
    from protocols.core import Send
    from protocols.shardkv import machine as skm, server
    from protocols.shardkv.messages import DeleteShard
    honest = server.handle_poll

    def eager(state: Any, out: Effects) -> Any:
        state = honest(state, out)
        m = server.machine(state)
        if server.is_leader(state):
            for s, held in sorted(m.shards.items()):
                if held.state == skm.PULLING:
                    out.extend(Send(a, DeleteShard(m.config.num, s))
                               for a in m.prev.servers(m.prev.shards[s]))
        return state
    monkeypatch.setattr(server, "handle_poll", eager)
