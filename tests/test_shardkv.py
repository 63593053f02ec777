"""The sharded KV service on the synchronous cluster driver: configurations applied in order,
shards pulled through Raft on both sides, garbage collection, duplicates across a migration,
crashes in the middle of one, and the per-shard state table. Every step of every cluster test
feeds the sharding invariants (tests/shardkv_cluster.py)."""

from __future__ import annotations

import pytest

from protocols import shardctrler as sc, shardkv
from protocols.core import Note
from protocols.fmap import FrozenMap
from protocols.shardctrler import clerk as cc
from protocols.shardkv import clerk, machine as skm
from protocols.shardkv.messages import (
    ConfigCmd, DropCmd, InstallCmd, PullReply, ShardKVReply, ShardOp,
)
from shardkv_cluster import GROUPS, KEYS, ShardCluster


def loaded(clerks: int = 2, maxraftstate: int = -1) -> ShardCluster:
    """Group 1 joined and holding KEYS[s] = str(s) in every shard."""
    d = ShardCluster(clerks, maxraftstate)
    d.reconfigure(cc.join({1: GROUPS[1]}), (1,))
    for s, key in enumerate(KEYS):
        assert d.kv("c0", clerk.put(key, str(s))) == ""
    return d


def held(d: ShardCluster, gid: int) -> dict[int, str]:
    """shard -> state on every up server of ``gid`` (checked equal)."""
    views = [{s: sh.state for s, sh in d.machine(a).shards.items()}
             for a in GROUPS[gid] if d.up(a)]
    assert all(v == views[0] for v in views), views
    return views[0]


def values(d: ShardCluster, c: str = "c1") -> list[str]:
    return [d.kv(c, clerk.get(key)) for key in KEYS]


def owned(config: sc.Config, gid: int) -> set[int]:
    return {s for s, g in enumerate(config.shards) if g == gid}


# ---------------------------------------------------------------- the state table

def test_key2shard_is_the_labs_and_keys_cover_every_shard():
    assert shardkv.key2shard("") == 0
    assert shardkv.key2shard("a") == ord("a") % 10
    assert [shardkv.key2shard(k) for k in KEYS] == list(range(10))


def test_illegal_shard_transitions_raise():
    """Only the table's changes happen: installing into a serving shard, or dropping a shard
    that is being served, is a bug."""
    m = skm.ShardKVMachine(1, shards=FrozenMap({0: skm.Shard(skm.SERVING)}))
    with pytest.raises(skm.IllegalShardTransition):
        skm._move(m.shards, 1, 0, skm.GCING)
    with pytest.raises(skm.IllegalShardTransition):
        skm._move(m.shards, 1, 0, skm.ABSENT)
    assert skm._move(m.shards, 1, 0, skm.SENDING)[0].state == skm.SENDING
    assert set(skm.ALLOWED_SHARD_TRANSITIONS) == {
        (skm.ABSENT, skm.SERVING), (skm.ABSENT, skm.PULLING), (skm.PULLING, skm.GCING),
        (skm.GCING, skm.SERVING), (skm.SERVING, skm.SENDING), (skm.SENDING, skm.ABSENT)}


def _config(num: int, shards: tuple[int, ...]) -> sc.Config:
    return sc.Config(num, shards, tuple((g, GROUPS[g]) for g in sorted(set(shards) - {0})))


def test_configurations_apply_one_at_a_time_and_only_when_stable():
    m = skm.empty(1)
    c2 = _config(2, (1,) * 10)
    assert skm.apply_internal(m, ConfigCmd(c2)) == (m, [])            # a gap: ignored
    m, notes = skm.apply_internal(m, ConfigCmd(_config(1, (1,) * 10)))
    assert m.config.num == 1 and all(sh.state == skm.SERVING for sh in m.shards.values())
    assert notes[0] == Note("shard-config", (1, 1, (1,) * 10))
    m, _ = skm.apply_internal(m, ConfigCmd(_config(2, (1,) * 5 + (2,) * 5)))
    assert {s: sh.state for s, sh in m.shards.items() if sh.state != skm.SERVING} == {
        s: skm.SENDING for s in range(5, 10)}
    c3 = _config(3, (2,) * 10)
    assert skm.apply_internal(m, ConfigCmd(c3)) == (m, [])            # shards still sending
    assert skm.apply_internal(m, DropCmd(1, 5)) == (m, [])            # stale: ignored
    m, notes = skm.apply_internal(m, DropCmd(2, 5))
    assert 5 not in m.shards and notes == [Note("shard-deleted", (1, 2, 5))]


def test_operations_on_shards_not_served_answer_wrong_group():
    m = skm.empty(2)
    m, _ = skm.apply_internal(m, ConfigCmd(_config(1, (1,) * 10)))
    m, _ = skm.apply_internal(m, ConfigCmd(_config(2, (1,) * 5 + (2,) * 5)))
    key = KEYS[5]
    assert skm.apply_op(m, ShardOp("c", 1, "put", key, "x"))[1] == (shardkv.ErrWrongGroup, "")
    assert skm.apply_op(m, ShardOp("c", 1, "put", KEYS[0], "x"))[1][0] == shardkv.ErrWrongGroup
    m, notes = skm.apply_internal(m, InstallCmd(2, 5, ((key, "v"),), (("c", 1),)))
    assert m.shards[5].state == skm.GCING and notes[0].what == "shard-installed"
    assert skm.apply_op(m, ShardOp("c", 2, "get", key))[1] == (shardkv.OK, "v")
    # the duplicate table came with the data: seq 1 of "c" is not applied again
    m2, result = skm.apply_op(m, ShardOp("c", 1, "append", key, "y"))
    assert result == (shardkv.OK, "") and m2.shards[5].data[key] == "v"


def test_snapshot_round_trips_shard_states():
    m = skm.empty(2)
    m, _ = skm.apply_internal(m, ConfigCmd(_config(1, (1,) * 10)))
    m, _ = skm.apply_internal(m, ConfigCmd(_config(2, (1,) * 5 + (2,) * 5)))
    m, _ = skm.apply_internal(m, InstallCmd(2, 5, (("f", "v"),), (("c", 3),)))
    data = skm.encode_snapshot(m)
    assert skm.decode_snapshot(2, data) == m
    assert skm.encode_snapshot(skm.decode_snapshot(2, data)) == data


# ---------------------------------------------------------------- groups on the cluster driver

def test_join_moves_shards_with_their_data_and_gc_frees_the_old_copies():
    d = loaded()
    config = d.reconfigure(cc.join({2: GROUPS[2]}), (1, 2))
    assert held(d, 1) == {s: skm.SERVING for s in owned(config, 1)}
    assert held(d, 2) == {s: skm.SERVING for s in owned(config, 2)}
    assert len(owned(config, 2)) == 5
    assert values(d) == [str(s) for s in range(10)]
    # every key stored once: the old copies are gone from every replica
    stored = sum(shardkv.shard_bytes(d.machine(a)) for g in (1, 2) for a in GROUPS[g])
    assert stored == 3 * sum(len(k) + len(str(s)) for s, k in enumerate(KEYS))
    deleted = {n.detail[2] for addr, n in d.notes if n.what == "shard-deleted"}
    assert deleted == owned(config, 2)


def test_leave_hands_every_shard_over_and_the_leaver_keeps_nothing():
    d = loaded()
    d.reconfigure(cc.join({2: GROUPS[2], 3: GROUPS[3]}), (1, 2, 3))
    for s, key in enumerate(KEYS):
        assert d.kv("c0", clerk.append(key, "+")) == ""
    config = d.reconfigure(cc.leave([1]), (1, 2, 3))
    assert owned(config, 1) == set() and held(d, 1) == {}
    assert values(d) == [f"{s}+" for s in range(10)]
    config = d.reconfigure(cc.join({1: GROUPS[1]}), (1, 2, 3))
    assert held(d, 1) == {s: skm.SERVING for s in owned(config, 1)} and owned(config, 1)
    assert values(d) == [f"{s}+" for s in range(10)]


def test_clerks_follow_moves_through_wrong_group():
    """A clerk with an old configuration is told ErrWrongGroup and asks the controller again."""
    d = loaded()
    for gid in (2, 3):
        d.reconfigure(cc.join({gid: GROUPS[gid]}), (1, 2, 3))
    for step in range(6):
        d.reconfigure(cc.move(step % 10, 1 + step % 3), (1, 2, 3))
        assert d.kv("c0", clerk.append(KEYS[step % 10], "m")) == ""
    assert values(d)[:6] == [f"{s}m" for s in range(6)]


def test_a_write_applied_before_a_move_is_not_applied_again_after_it():
    """The reply of an Append is lost; the shard moves; the clerk's retry reaches the new
    owner, whose duplicate table (moved with the shard) recognises it."""
    d = loaded()
    d.reconfigure(cc.join({2: GROUPS[2]}), (1, 2))
    key = KEYS[0]
    d.block = lambda m: m.dst == "c0" and type(m.msg) is ShardKVReply
    d.start("c0", clerk.append(key, "x"))
    d.settle(lambda: all(d.machine(a).shards[0].data[key] == "0x" for a in GROUPS[1]))
    d.block = lambda m: False
    assert d.busy("c0")
    d.reconfigure(cc.move(0, 2), (1, 2))
    d.settle(lambda: not d.busy("c0"))
    assert d.kv("c1", clerk.get(key)) == "0x"
    assert held(d, 2)[0] == skm.SERVING and 0 not in held(d, 1)


def test_a_shard_in_flight_is_served_by_nobody_while_the_others_are_served():
    """Challenge 2: while shard 0 cannot arrive, both groups keep serving their other shards,
    and nobody serves shard 0; once it arrives it is served with its data."""
    d = loaded()
    d.reconfigure(cc.join({2: GROUPS[2]}), (1, 2))
    d.block = lambda m: type(m.msg) is PullReply
    d.admin(cc.move(0, 2))
    d.settle(lambda: all(d.machine(a).config.num == d.latest().num
                         for g in (1, 2) for a in GROUPS[g]))
    assert held(d, 2)[0] == skm.PULLING and held(d, 1)[0] == skm.SENDING
    assert [d.kv("c1", clerk.get(KEYS[s])) for s in range(1, 10)] == [
        str(s) for s in range(1, 10)]
    d.start("c0", clerk.put(KEYS[0], "new"))
    for _ in range(10):
        d.round()
    assert d.busy("c0")                  # asked both groups, refused by both, still asking
    served = {(n.detail[0], n.detail[2]) for _, n in d.notes if n.what == "shard-served"}
    assert all(shard != 0 or gid == 1 for gid, shard in served)
    d.block = lambda m: False
    d.settle(lambda: not d.busy("c0"))
    assert d.kv("c1", clerk.get(KEYS[0])) == "new"


def test_shards_received_are_served_while_others_are_still_missing():
    """Challenge 2, partial: group 3 gains shards from groups 1 and 2; the pulls from group 2
    are blocked, yet the shards from group 1 are served."""
    d = loaded()
    d.reconfigure(cc.join({2: GROUPS[2]}), (1, 2))
    before = d.latest()
    d.block = lambda m: type(m.msg) is PullReply and m.src in GROUPS[2]
    d.admin(cc.join({3: GROUPS[3]}))
    after = d.latest()
    from1 = {s for s in owned(after, 3) if before.shards[s] == 1}
    from2 = {s for s in owned(after, 3) if before.shards[s] == 2}
    assert from1 and from2
    d.settle(lambda: all(held(d, 3).get(s) == skm.GCING for s in from1) or all(
        held(d, 3).get(s) == skm.SERVING for s in from1))
    assert all(held(d, 3)[s] == skm.PULLING for s in from2)
    assert [d.kv("c1", clerk.get(KEYS[s])) for s in sorted(from1)] == [
        str(s) for s in sorted(from1)]
    d.block = lambda m: False
    d.settle(lambda: d.caught_up((1, 2, 3)))
    assert values(d) == [str(s) for s in range(10)]


@pytest.mark.parametrize("victim", ["old owner", "new owner"])
def test_a_whole_group_crashing_mid_migration_loses_nothing(victim):
    """Every server of one group crashes while shards are in flight and comes back from its
    disk; the migration completes and every write survives."""
    d = loaded()
    d.block = lambda m: type(m.msg) is PullReply
    d.admin(cc.join({2: GROUPS[2]}))
    d.settle(lambda: all(d.machine(a).config.num == 2 for g in (1, 2) for a in GROUPS[g]))
    gid = 1 if victim == "old owner" else 2
    for a in GROUPS[gid]:
        d.crash(a)
    d.block = lambda m: False
    for _ in range(3):
        d.round()
    for a in GROUPS[gid]:
        d.restart(a)
    d.settle(lambda: d.caught_up((1, 2)))
    assert values(d) == [str(s) for s in range(10)]
    assert set(held(d, 1)) | set(held(d, 2)) == set(range(10))


def test_leader_crashes_right_after_proposing_an_install():
    """The new owner's leader crashes in the middle of the step that proposed InstallCmd; a
    new leader pulls again and installs exactly once."""
    d = loaded()
    d.reconfigure(cc.join({2: GROUPS[2]}), (1, 2))
    d.block = lambda m: type(m.msg) is PullReply
    d.admin(cc.move(0, 2))
    d.settle(lambda: all(d.machine(a).config.num == 3 for a in GROUPS[2]))
    leader = d.leader(GROUPS[2])
    assert leader is not None
    d.block = lambda m: False
    d.step(leader, shardkv.server.TimerFired(shardkv.POLL))    # sends the pulls
    while d.inflight:
        m = d.inflight[0]
        if type(m.msg) is PullReply and m.dst == leader:
            d.deliver(0, crash_after=1)                        # its Persist, then the crash
            break
        d.deliver(0)
    assert not d.up(leader)
    d.restart(leader)
    d.settle(lambda: d.caught_up((1, 2)))
    installs = {n.detail for _, n in d.notes if n.what == "shard-installed"}
    assert {(g, num, s) for g, num, s, _ in installs if num == 3} == {(2, 3, 0)}
    assert values(d) == [str(s) for s in range(10)]


def test_snapshots_carry_shard_states_across_restarts():
    d = loaded(maxraftstate=400)
    config = d.reconfigure(cc.join({2: GROUPS[2]}), (1, 2))
    for s, key in enumerate(KEYS * 3):
        d.kv("c0", clerk.append(key, "."))
    assert any(d.node(a).durable.snapshot for a in GROUPS[1] + GROUPS[2])
    for a in GROUPS[1] + GROUPS[2]:
        d.restart(a)
    d.settle(lambda: d.caught_up((1, 2)))
    assert held(d, 2) == {s: skm.SERVING for s in owned(config, 2)}
    assert values(d) == [f"{s}..." for s in range(10)]


def test_a_new_leader_commits_its_predecessors_entries_with_a_noop():
    """The old leader's last entry reached every follower but was never committed; it crashes.
    The new leader cannot commit an entry of an earlier term by counting (Raft §5.4.2) and no
    client asks anything: on its poll it proposes a NoopCmd, which commits both."""
    from protocols import raft
    from protocols.core import TimerFired
    from protocols.raft.messages import AppendEntriesReply
    from protocols.shardkv.messages import NoopCmd
    d = loaded()
    old = d.leader(GROUPS[1])
    assert old is not None
    d.block = lambda m: type(m.msg) is AppendEntriesReply and m.dst == old
    d.start("c0", clerk.put(KEYS[1], "late"))
    d.flush()
    d.block = lambda m: False
    assert all(d.machine(a).shards[1].data[KEYS[1]] == "1" for a in GROUPS[1])
    d.crash(old)
    new = next(a for a in GROUPS[1] if a != old)
    d.step(new, TimerFired(raft.ELECTION))
    d.flush()
    assert d.leader(GROUPS[1]) == new
    d.step(new, TimerFired(shardkv.POLL))
    d.flush()
    d.step(new, TimerFired(raft.HEARTBEAT))
    d.flush()
    up = [a for a in GROUPS[1] if d.up(a)]
    assert all(d.machine(a).shards[1].data[KEYS[1]] == "late" for a in up)
    log = d.node(new).state.rsm.raft.hard.log
    assert type(log[-1].command) is NoopCmd
