"""The sharding invariants (checkers/invariants/shards.py): each rule holds on a clean history
of plain observations and fires, naming the groups, shard and configuration, on a broken one;
and two bugs planted into the sharded KV service are caught on the cluster driver."""

from __future__ import annotations

import pytest

from checkers.invariants.shards import InvariantViolation, ShardInvariants
from protocols.shardctrler import clerk as cc
from protocols.shardkv import clerk
from protocols.shardkv.messages import PullReply
from shardkv_cluster import (GROUPS, KEYS, ShardCluster, plant_delete_before_install,
                            plant_serving_before_arrival)

C1 = (1,) * 10
C2 = (1,) * 5 + (2,) * 5


def history() -> ShardInvariants:
    """Configs 1 and 2 applied by a server of each group; shard 5 moved whole from 1 to 2."""
    inv = ShardInvariants()
    for server_, gid in (("a0", 1), ("b0", 2)):
        inv.config_applied(1, server_, gid, 1, C1)
        inv.config_applied(2, server_, gid, 2, C2)
    inv.served(3, "a0", 1, 2, 0)
    inv.frozen(3, 1, 2, 5, "f5")
    inv.installed(4, 2, 2, 5, "f5")
    inv.served(5, "b0", 2, 2, 5)
    inv.deleted(6, 1, 2, 5)
    return inv


def fails(rule: str, call, *args) -> InvariantViolation:
    with pytest.raises(InvariantViolation) as info:
        call(*args)
    assert info.value.rule == rule
    return info.value


def test_a_clean_history_passes():
    inv = history()
    inv.restarted(7, "a0")
    inv.config_applied(8, "a0", 1, 1, C1)          # replay after a restart
    inv.config_applied(9, "a0", 1, 2, C2)


def test_config_order_and_agreement():
    inv = history()
    err = fails("config-order", inv.config_applied, 7, "a0", 1, 4, C2)
    assert "a0 (gid 1) applied config 4 after 2" in str(err)
    fails("config-agreement", inv.config_applied, 7, "a1", 1, 2, C1)
    inv.restarted(8, "a1")
    fails("config-order", inv.config_applied, 9, "a1", 1, 4, C2)   # beyond what gid 1 reached


def test_a_snapshot_restores_a_configuration_the_group_applied():
    inv = history()
    inv.restored(7, "b1", 2, 2)                    # a follower installs a snapshot at config 2
    fails("config-order", inv.config_applied, 8, "b1", 2, 2, C2)   # config 2 again: a gap
    inv.config_applied(9, "b1", 2, 3, C1)
    err = fails("config-order", inv.restored, 10, "b2", 2, 5)
    assert "never applied" in str(err)


def test_serving_rules():
    inv = history()
    err = fails("serves-own-shards", inv.served, 7, "a0", 1, 2, 7)
    assert "shard 7 under config 2" in str(err) and err.indexes == (2,)
    inv2 = ShardInvariants()
    inv2.served(1, "a0", 1, 3, 4)                  # config 3 not seen by this checker
    fails("one-group-per-shard", inv2.served, 2, "b0", 2, 3, 4)
    inv3 = ShardInvariants()
    inv3.config_applied(1, "b0", 2, 1, C1)
    inv3.config_applied(2, "b0", 2, 2, C2)
    err = fails("serves-only-arrived", inv3.served, 3, "b0", 2, 2, 6)
    assert "before installing it from gid 1" in str(err)


def test_handoff_rules():
    inv = ShardInvariants()
    inv.frozen(1, 1, 2, 5, "f5")
    fails("shard-moves-whole", inv.installed, 2, 2, 2, 5, "other")
    inv = ShardInvariants()
    fails("gc-after-install", inv.deleted, 1, 1, 2, 5)


# ---------------------------------------------------------------- planted bugs

def _moved_shard_in_flight() -> ShardCluster:
    d = ShardCluster()
    d.reconfigure(cc.join({1: GROUPS[1]}), (1,))
    for s, key in enumerate(KEYS):
        d.kv("c0", clerk.put(key, str(s)))
    d.reconfigure(cc.join({2: GROUPS[2]}), (1, 2))
    d.block = lambda m: type(m.msg) is PullReply
    d.admin(cc.move(0, 2))
    d.settle(lambda: all(d.machine(a).config.num == 3 for a in GROUPS[2]))
    return d


def test_the_unplanted_service_passes_the_same_run():
    d = _moved_shard_in_flight()
    d.start("c0", clerk.put(KEYS[0], "x"))
    for _ in range(5):
        d.round()
    d.block = lambda m: False
    d.settle(lambda: not d.busy("c0") and d.caught_up((1, 2)))


@pytest.mark.interpreted
def test_serving_a_shard_before_it_arrived_is_caught(monkeypatch):
    plant_serving_before_arrival(monkeypatch)
    d = _moved_shard_in_flight()
    d.start("c0", clerk.put(KEYS[0], "x"))
    with pytest.raises(InvariantViolation) as info:
        for _ in range(5):
            d.round()
    assert info.value.rule == "serves-only-arrived"
    assert "gid 2 served shard 0 under config 3" in str(info.value)


@pytest.mark.interpreted
def test_deleting_a_shard_before_the_new_owner_installed_it_is_caught(monkeypatch):
    """The planted bug: the new owner also asks for deletions of the shards it still pulls."""
    plant_delete_before_install(monkeypatch)
    with pytest.raises(InvariantViolation) as info:
        _moved_shard_in_flight()
    assert info.value.rule == "gc-after-install"
