"""The shard controller tester: 3 controller servers on a reliable network, clerks whose
Join / Leave / Move / Query are generators, and the lab's ``check(groups)`` (a port of
6.5840's shardctrler config.go and test helpers to virtual time).
"""

from __future__ import annotations

from typing import Any, Generator, Iterable, Mapping

from protocols import shardctrler as sc
from protocols.shardctrler import clerk as ctrl_clerk

from scenarios.harness.service import ServiceClerk, ServiceCluster
from scenarios.runner import RunContext, fail

__all__ = ["CtrlCluster", "CtrlClerk"]


class CtrlClerk(ServiceClerk):
    """A controller client (the lab's shardctrler Clerk)."""

    def join(self, groups: Mapping[int, Iterable[str]]) -> Generator[Any, Any, None]:
        yield from self.call(ctrl_clerk.join(groups))

    def leave(self, gids: Iterable[int]) -> Generator[Any, Any, None]:
        yield from self.call(ctrl_clerk.leave(gids))

    def move(self, shard: int, gid: int) -> Generator[Any, Any, None]:
        result = yield from self.call(ctrl_clerk.move(shard, gid))
        if result is not None:
            fail(f"Move({shard}, {gid}) answered {result}")

    def query(self, num: int = -1) -> Generator[Any, Any, sc.Config]:
        config = yield from self.call(ctrl_clerk.query(num))
        if not isinstance(config, sc.Config):
            fail(f"Query({num}) answered {config!r}, not a configuration")
        return config


class CtrlCluster(ServiceCluster):
    """``n`` controller servers ``s0..`` (no snapshots, as the lab); clerks ``c0..``."""

    clerk_class = CtrlClerk

    def __init__(self, ctx: RunContext, n: int = 3) -> None:
        super().__init__(ctx, n, sc, ctrl_clerk)

    def make_clerk(self, servers: Iterable[str] | None = None) -> CtrlClerk:
        clerk: CtrlClerk = super().make_clerk(None if servers is None else tuple(servers))
        return clerk

    def check(self, clerk: CtrlClerk, gids: Iterable[int]) -> Generator[Any, Any, sc.Config]:
        """The lab's check(): the latest configuration has exactly ``gids``; with groups, every
        shard is on one of them; max - min shards per group <= 1."""
        config = yield from clerk.query()
        want = sorted(set(gids))
        if list(config.gids()) != want:
            fail(f"wanted {len(want)} groups {want}, got {list(config.gids())}")
        if want:
            for shard, gid in enumerate(config.shards):
                if gid not in want:
                    fail(f"shard {shard} -> invalid group {gid}")
            counts = [config.shards.count(gid) for gid in want]
            if max(counts) > min(counts) + 1:
                fail(f"max {max(counts)} too much larger than min {min(counts)}")
        return config

    def end(self) -> None:
        self.ctx.facts.update(servers=self.n, max_log_size=self.log_size())
