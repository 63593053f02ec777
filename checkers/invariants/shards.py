"""The sharding invariants of a sharded KV store, checked online from plain observations.

This module owns the rules only. It imports nothing of raftsim's protocols or simulator (only
the violation type of its sibling, so that a runner treats every invariant alike): a driver
reports what each server applied as plain values (gids, configuration numbers, shard numbers,
fingerprints), and a broken rule raises ``InvariantViolation`` naming the time, groups, shard
and configuration.

- ``config-order``: each server applies configurations in order without gaps, from the one
  its last snapshot restored (a snapshot may skip some: it restores one its group applied);
  no server applies a configuration its group skipped.
- ``config-agreement``: every server that applies configuration n applies the same one.
- ``serves-own-shards``: a group accepts an operation on a shard only under a configuration
  that gives it the shard.
- ``one-group-per-shard``: no two groups accept operations on one shard under one
  configuration.
- ``serves-only-arrived``: a group that gained a shard from another group accepts operations on
  it only after it installed it.
- ``shard-moves-whole``: the shard a group installs (data and duplicate table, as one
  fingerprint) is exactly what its previous owner froze when it gave the shard up.
- ``gc-after-install``: the previous owner deletes its copy only after the new owner installed
  it.

A driver reports::

    inv = ShardInvariants()
    inv.config_applied(t, server, gid, num, shards)   # shards[s] = owning gid under config num
    inv.served(t, server, gid, num, shard)             # an operation accepted (applied, OK)
    inv.frozen(t, gid, num, shard, fingerprint)        # shard given up by gid under num
    inv.installed(t, gid, num, shard, fingerprint)     # shard pulled and installed under num
    inv.deleted(t, gid, num, shard)                    # frozen copy deleted
    inv.restored(t, server, gid, num)                  # a snapshot restored config num
    inv.restarted(t, server)                           # every boot
"""

from __future__ import annotations

from typing import Any, Sequence

from .raft import InvariantViolation

__all__ = ["ShardInvariants", "InvariantViolation"]


class ShardInvariants:
    """The sharding rules over every group of one store. O(1) per observation but for
    ``serves-only-arrived``, which walks back over the configurations a group kept a shard."""

    def __init__(self) -> None:
        self.configs: dict[int, tuple[int, ...]] = {}
        self._last: dict[str, int | None] = {}           # server -> last config since boot
        self._group_max: dict[int, int] = {}             # gid -> highest config applied
        self._serving: dict[tuple[int, int], int] = {}   # (num, shard) -> gid that served
        self._frozen: dict[tuple[int, int], tuple[int, str]] = {}
        self._installed: dict[tuple[int, int], tuple[int, str]] = {}
        self._arrived: set[tuple[int, int, int]] = set()  # (gid, shard, num) checked served

    @staticmethod
    def _fail(rule: str, time: float, detail: str, gids: Sequence[int] = (),
              nums: Sequence[int] = ()) -> InvariantViolation:
        return InvariantViolation(rule, time, detail, nodes=[f"gid {g}" for g in gids],
                                  terms=(), indexes=tuple(nums))

    def note(self, time: float, server: str, what: str, d: Any) -> None:
        """One ``shard-*`` note of ``server`` (its kind and detail, as the server emits them),
        given to the rule it feeds; other notes are not the sharding rules' business."""
        if what == "shard-config":
            self.config_applied(time, server, d[0], d[1], d[2])
        elif what == "shard-restored":
            self.restored(time, server, *d)
        elif what == "shard-served":
            self.served(time, server, *d)
        elif what == "shard-frozen":
            self.frozen(time, *d)
        elif what == "shard-installed":
            self.installed(time, *d)
        elif what == "shard-deleted":
            self.deleted(time, *d)

    def restarted(self, time: float, server: str) -> None:
        self._last[server] = None

    def restored(self, time: float, server: str, gid: int, num: int) -> None:
        """``server`` installed a snapshot holding configuration ``num``."""
        top = self._group_max.get(gid, 0)
        if num > top:
            raise self._fail("config-order", time,
                             f"{server} (gid {gid}) restored config {num}, which its group "
                             f"never applied (highest {top})", [gid], [num])
        self._last[server] = num

    def config_applied(self, time: float, server: str, gid: int, num: int,
                       shards: Sequence[int]) -> None:
        shards = tuple(shards)
        seen = self.configs.setdefault(num, shards)
        if seen != shards:
            raise self._fail("config-agreement", time,
                             f"{server} (gid {gid}) applied config {num} as {list(shards)}, "
                             f"another server as {list(seen)}", [gid], [num])
        last = self._last.get(server)
        top = self._group_max.get(gid, 0)
        if (last is not None and num != last + 1) or (last is None and num > top + 1):
            after = last if last is not None else top
            raise self._fail("config-order", time,
                             f"{server} (gid {gid}) applied config {num} after {after}",
                             [gid], [num])
        self._last[server] = num
        self._group_max[gid] = max(top, num)

    def served(self, time: float, server: str, gid: int, num: int, shard: int) -> None:
        config = self.configs.get(num)
        if config is not None and config[shard] != gid:
            raise self._fail("serves-own-shards", time,
                             f"gid {gid} ({server}) served shard {shard} under config {num}, "
                             f"which gives it to gid {config[shard]}", [gid], [num])
        other = self._serving.setdefault((num, shard), gid)
        if other != gid:
            raise self._fail("one-group-per-shard", time,
                             f"gids {other} and {gid} both served shard {shard} under config "
                             f"{num}", [other, gid], [num])
        if (gid, shard, num) not in self._arrived:
            self._check_arrived(time, gid, num, shard)
            self._arrived.add((gid, shard, num))

    def _check_arrived(self, time: float, gid: int, num: int, shard: int) -> None:
        first = num
        while first - 1 in self.configs and self.configs[first - 1][shard] == gid:
            first -= 1
        before = self.configs.get(first - 1)
        if before is None or before[shard] in (0, gid):
            return
        if (first, shard) not in self._installed or self._installed[first, shard][0] != gid:
            raise self._fail("serves-only-arrived", time,
                             f"gid {gid} served shard {shard} under config {num} before "
                             f"installing it from gid {before[shard]} (config {first})",
                             [gid, before[shard]], [first, num])

    def frozen(self, time: float, gid: int, num: int, shard: int, fingerprint: str) -> None:
        self._frozen.setdefault((num, shard), (gid, fingerprint))
        self._match(time, num, shard)

    def installed(self, time: float, gid: int, num: int, shard: int, fingerprint: str) -> None:
        seen = self._installed.setdefault((num, shard), (gid, fingerprint))
        if seen != (gid, fingerprint):
            raise self._fail("shard-moves-whole", time,
                             f"shard {shard} of config {num} installed as {fingerprint} by gid "
                             f"{gid} and as {seen[1]} by gid {seen[0]}", [gid, seen[0]], [num])
        self._match(time, num, shard)

    def _match(self, time: float, num: int, shard: int) -> None:
        frozen, installed = self._frozen.get((num, shard)), self._installed.get((num, shard))
        if frozen is None or installed is None or frozen[1] == installed[1]:
            return
        raise self._fail("shard-moves-whole", time,
                         f"gid {installed[0]} installed shard {shard} of config {num} as "
                         f"{installed[1]}, but gid {frozen[0]} froze it as {frozen[1]}",
                         [frozen[0], installed[0]], [num])

    def deleted(self, time: float, gid: int, num: int, shard: int) -> None:
        if (num, shard) not in self._installed:
            raise self._fail("gc-after-install", time,
                             f"gid {gid} deleted shard {shard} of config {num} before its new "
                             f"owner installed it", [gid], [num])
