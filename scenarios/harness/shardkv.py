"""The shardkv tester (a port of 6.5840's shardkv/config.go to virtual time): a 3-server
controller, replica groups of 3 servers (gids 100, 101, 102, as the lab), one network for all of
them, clerks whose operations are generators recorded in the run's history, the lab's
``join`` / ``leave`` / ``ShutdownGroup`` / ``StartGroup`` and ``checklogs``.

Raft's safety invariants watch every group (one observer per group: terms are per group) and
the sharding invariants (checkers/invariants/shards.py) watch every group's observations.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Generator, Sequence

from checkers.invariants.shards import ShardInvariants
from protocols import raft, shardctrler as sc, shardkv
from protocols.core import Note
from protocols.rsm import clerk as rsm_clerk
from protocols.shardkv import clerk as kv_clerk
from sim import Host, NetParams, Network

from scenarios.harness.kv import KVOps, check_kv_history
from scenarios.harness.observe import RaftObserver, raft_field
from scenarios.harness.service import RELIABLE_DELAY, ClientHost
from scenarios.runner import RunContext, fail

__all__ = ["ShardKVCluster", "ShardClerk", "GIDS", "keys"]

GIDS = (100, 101, 102)


class ShardClerk(KVOps):
    """A sharded KV client: get / put / append, each recorded in the run's history."""

    op_type = kv_clerk.KVOp


class ShardKVCluster:
    """A controller ``ctl0..2`` and ``ngroups`` groups of ``n`` servers ``{gid}s{i}``."""

    def __init__(self, ctx: RunContext, ngroups: int = 3, n: int = 3, *,
                 maxraftstate: int = -1, unreliable: bool = False,
                 net_params: NetParams | None = None, gids: Sequence[int] = GIDS) -> None:
        self.ctx, self.world, self.env = ctx, ctx.world, ctx.world.env
        self.maxraftstate = maxraftstate
        params = net_params or NetParams(reliable=not unreliable, reliable_delay=RELIABLE_DELAY)
        self.net = Network(ctx.world, ctx.trace, params)
        self.shards = ShardInvariants()
        self.ctrlers = tuple(f"ctl{i}" for i in range(3))
        self.gids = tuple(gids[:ngroups])
        self.groups = {gid: tuple(f"{gid}s{i}" for i in range(n)) for gid in self.gids}
        self.hosts: dict[str, Host] = {}
        self._make_group(self.ctrlers, sc.step,
                         lambda i: sc.init(sc.server_config(i, self.ctrlers)))
        for gid, peers in self.groups.items():
            self._make_group(peers, shardkv.step, self._group_init(gid, peers),
                             raft_of=_group_raft)
        self.clerks = 0
        self.admin = ClientHost(self, "admin", sc.clerk.step, lambda: sc.clerk.init(
            rsm_clerk.ClerkConfig("admin", self.ctrlers)))

    def _group_init(self, gid: int, peers: tuple[str, ...]) -> Callable[[int], Any]:
        def init(i: int) -> Any:
            return shardkv.init(shardkv.server_config(gid, i, peers, self.ctrlers,
                                                      self.maxraftstate))
        return init

    def _make_group(self, peers: tuple[str, ...], step: Any, init: Callable[[int], Any],
                    raft_of: Callable[[Any], Any] = raft_field) -> None:
        o = RaftObserver(self.env, raft_of=raft_of)
        for i, addr in enumerate(peers):
            host = Host(self.world, addr, o.wrap(addr, step), partial(init, i),
                        network=self.net, on_apply=o.on_apply,
                        on_apply_snapshot=o.on_apply_snapshot, on_role=o.on_role,
                        on_boot=partial(self._booted, o), on_note=self._note,
                        on_send=o.on_send)
            self.hosts[addr] = host
            host.boot()

    def _booted(self, observer: RaftObserver, host: Host) -> None:
        observer.on_boot(host)
        self.shards.restarted(self.env.now, host.addr)

    def _note(self, host: Host, note: Note) -> None:
        self.shards.note(self.env.now, host.addr, note.what, note.detail)

    # ------------------------------------------------------------ the lab's helpers

    def make_clerk(self, ctrlers: tuple[str, ...] | None = None) -> ShardClerk:
        name = f"c{self.clerks}"
        self.clerks += 1
        config = kv_clerk.ClerkConfig(name, self.ctrlers if ctrlers is None else ctrlers)
        return ShardClerk(self, name, kv_clerk.step, lambda: kv_clerk.init(config))

    def join(self, *gis: int) -> Generator[Any, Any, None]:
        """Join the groups with these indexes (the lab's join(gi), joinm)."""
        yield from self.admin.call(sc.clerk.join({self.gids[gi]: self.groups[self.gids[gi]]
                                                  for gi in gis}))

    def leave(self, *gis: int) -> Generator[Any, Any, None]:
        yield from self.admin.call(sc.clerk.leave([self.gids[gi] for gi in gis]))

    def query(self) -> Generator[Any, Any, sc.Config]:
        config: sc.Config = yield from self.admin.call(sc.clerk.query())
        return config

    def second_controller(self, prefix: str) -> tuple[str, ...]:
        """Another 3-server controller ``{prefix}0..2``, unknown to the groups (Rejection5A)."""
        ctrlers = tuple(f"{prefix}{i}" for i in range(3))
        self._make_group(ctrlers, sc.step, lambda i: sc.init(sc.server_config(i, ctrlers)))
        return ctrlers

    def controller_clerk(self, ctrlers: tuple[str, ...]) -> "ClientHost":
        name = f"admin{len(self.hosts)}"
        config = rsm_clerk.ClerkConfig(name, ctrlers)
        return ClientHost(self, name, sc.clerk.step, lambda: sc.clerk.init(config))

    def shutdown_server(self, gi: int, i: int) -> None:
        self.hosts[self.groups[self.gids[gi]][i]].crash()

    def start_server(self, gi: int, i: int) -> None:
        self.hosts[self.groups[self.gids[gi]][i]].restart()

    def reliable(self) -> None:
        """The lab's cfg.net.Reliable(true)."""
        self.net.set_params(NetParams(reliable=True, reliable_delay=RELIABLE_DELAY))

    def shutdown_group(self, gi: int) -> None:
        for addr in self.groups[self.gids[gi]]:
            self.hosts[addr].crash()

    def start_group(self, gi: int) -> None:
        for addr in self.groups[self.gids[gi]]:
            self.hosts[addr].restart()

    def servers(self) -> tuple[str, ...]:
        """Every server address: the controller's, then each group's."""
        return self.ctrlers + tuple(a for peers in self.groups.values() for a in peers)

    def latest(self) -> sc.Config:
        """The latest configuration as the most advanced up controller server knows it."""
        configs = [sc.latest(h.state.machine) for a in self.ctrlers
                   for h in [self.hosts[a]] if h.up]
        return max(configs, key=lambda config: config.num, default=sc.INITIAL)

    def caught_up(self) -> bool:
        """Every group server is up, at the latest configuration, with nothing in flight."""
        num = self.latest().num
        for peers in self.groups.values():
            for addr in peers:
                host = self.hosts[addr]
                if not host.up:
                    return False
                m = shardkv.server.machine(host.state)
                if m.config.num != num or not shardkv.is_stable(m):
                    return False
        return True

    def misplaced(self) -> list[str]:
        """Shards held where the latest configuration does not put them (after GC: none)."""
        config = self.latest()
        out = []
        for gid, peers in self.groups.items():
            want = {s for s, g in enumerate(config.shards) if g == gid}
            for addr in peers:
                held = set(shardkv.server.machine(self.hosts[addr].state).shards)
                if held != want:
                    out.append(f"{addr} holds shards {sorted(held)}, config {config.num} "
                               f"gives gid {gid} {sorted(want)}")
        return out

    def checklogs(self) -> None:
        """Every group server's Raft state within 8x maxraftstate; no snapshot without one."""
        for gid, peers in self.groups.items():
            for addr in peers:
                disk = self.hosts[addr].disk.read()
                if disk is None:
                    continue
                size = raft.hard_state_size(disk.state)
                if self.maxraftstate >= 0 and size > 8 * self.maxraftstate:
                    fail(f"persister.RaftStateSize() {size}, but maxraftstate "
                         f"{self.maxraftstate} ({addr})")
                if self.maxraftstate < 0 and disk.snapshot:
                    fail(f"maxraftstate is -1, but snapshot is non-empty ({addr})")

    def stored_bytes(self) -> int:
        """Raft state plus snapshot over every group server (Challenge1Delete's measure)."""
        total = 0
        for peers in self.groups.values():
            for addr in peers:
                disk = self.hosts[addr].disk.read()
                if disk is not None:
                    total += raft.hard_state_size(disk.state) + len(disk.snapshot or b"")
        return total

    def check_linearizable(self) -> None:
        check_kv_history(self.ctx)

    def end(self) -> None:
        self.ctx.facts.update(groups=len(self.gids), servers=sum(map(len, self.groups.values())))


def _group_raft(state: Any) -> Any:
    return state.rsm.raft


def keys(n: int) -> Sequence[str]:
    """The lab's keys "0", "1", ... (key2shard: first byte mod 10)."""
    return [str(i) for i in range(n)]
