"""The explorer's sharded KV target: a controller of one server, replica groups, clerks and an
administrator's configuration changes, judged by the sharding invariants the simulator uses
(checkers/invariants/shards.py) and by linearizability of the clerks' history.

Bugs are planted from inside the tests; breadth-first search finds each with a shortest
counterexample, which the CLI's counterexample files replay with their digest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from protocols import shardctrler as sc, shardkv
from protocols.core import Send
from protocols.shardkv import machine as skm, server
from protocols.shardkv.messages import PullReply, PullShard
from scenarios.cli.explore import build, replay, write_counterexample
from scenarios.explore import Linearizable, ShardSafety, shardkv_goals
from sim.explore import Bounds, Result, describe, explore
from sim.explore.targets import config_changes, shard_key, shardkv_model, shardkv_op
from test_explore_cli import cli
from shardkv_cluster import plant_delete_before_install, plant_serving_before_arrival

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def search(bounds: Bounds, strategy: str = "bfs", walks: int = 1000, **options: Any) -> Result:
    model = shardkv_model(**options)
    return explore(model, bounds, [ShardSafety(model), Linearizable(model)],
                   shardkv_goals(model, bounds.crashes > 0), strategy, walks=walks)


def config(**options: Any) -> dict[str, Any]:
    bounds = {f: getattr(Bounds(), f) for f in Bounds.__struct_fields__}
    bounds.update(options.pop("bounds", {}))
    return {"target": "shardkv", "nodes": 1, "clients": 1, "step": None, "properties": None,
            "keep_sent": False, "groups": 2, "changes": 1, "shards": 2, "bounds": bounds,
            **options}


# ---------------------------------------------------------------- the store

def test_a_store_of_two_shards_keeps_its_size_through_every_configuration() -> None:
    """The controller of a smaller store starts from initial(nshards); Join, Leave and Move
    keep that many shards, and keys map onto them."""
    machine = sc.machine.empty(2)
    for op in config_changes(2):
        machine, _ = sc.apply_command(machine, sc.CtrlCommand("admin", len(machine.configs),
                                                              op))
    assert [c.shards for c in machine.configs] == [
        (0, 0), (1, 1), (1, 2), (2, 2), (1, 1), (1, 2)]
    assert shardkv.key2shard(shard_key(1, 2), 2) == 1 and shardkv.key2shard("a") == 7
    assert sc.machine.empty() == sc.CtrlMachine() and len(sc.INITIAL.shards) == sc.NSHARDS


def test_the_search_starts_from_a_settled_store() -> None:
    """Every group applied configuration 1 (group 1 owns every shard); the sharding ghost
    holds those observations, and nothing is in flight."""
    model = shardkv_model()
    start = model.initial()
    nodes = dict(zip(model.cluster.addrs, start.cluster.nodes))
    for addr in ("g1s0", "g2s0"):
        machine = server.machine(nodes[addr].state)
        assert machine.config.num == 1 and machine.config.shards == (1, 1)
    assert set(server.machine(nodes["g1s0"].state).shards) == {0, 1}
    assert start.cluster.inflight == ()
    ghost = ShardSafety(model).start(start)
    assert [(what, addr) for what, addr, _ in ghost if what == "shard-config"] == [
        ("shard-config", "g1s0"), ("shard-config", "g2s0")]
    assert [shardkv_op(k, 2).key for k in (1, 2)] == [shard_key(1, 2)] * 2


@pytest.mark.parametrize("options, bounds, generated, distinct, reached", [
    (dict(changes=0), Bounds(ops=1, max_log=5), 7_002, 824, {"op-completed"}),
    (dict(changes=1), Bounds(ops=0, max_log=6), 27_514, 3_260,
     {"shard-migrated", "shard-deleted", "config-change-everywhere"}),
    (dict(groups=1, changes=0), Bounds(ops=2, max_log=4), 3_476, 548, {"op-completed"}),
])
def test_golden_state_counts_of_tiny_configurations(options: dict[str, Any], bounds: Bounds,
                                                    generated: int, distinct: int,
                                                    reached: set[str]) -> None:
    r = search(bounds, **options)
    assert r.violation is None
    assert (r.generated, r.distinct) == (generated, distinct)
    assert {g for g, depth in r.goals.items() if depth is not None} == reached
    assert set(r.bounds_hit) == {"max-log", "per-link"}


def test_the_default_search_reaches_every_goal_without_a_violation() -> None:
    """The CLI's defaults (one change, one operation, logs <= 6): a shard moves and is
    deleted at its old owner, an operation completes under the new configuration."""
    r = search(Bounds(ops=1, max_log=6))
    assert r.violation is None and (r.generated, r.distinct) == (262_530, 25_676)
    assert r.goals == {"op-completed": 5, "shard-migrated": 11, "shard-deleted": 13,
                       "op-after-config-change": 10, "config-change-everywhere": 8}


def test_the_search_is_deterministic() -> None:
    bounds = Bounds(ops=1, max_log=5)
    first, again = search(bounds, changes=1), search(bounds, changes=1)
    assert (first.generated, first.distinct, first.goals) == (
        again.generated, again.distinct, again.goals)
    walks = [search(Bounds(ops=2, max_log=6, depth=30), "random", walks=60, changes=1)
             for _ in range(2)]
    assert walks[0].distinct == walks[1].distinct and walks[0].goals == walks[1].goals
    assert walks[0].goals["shard-migrated"] is not None


# ---------------------------------------------------------------- planted bugs

@pytest.mark.interpreted
def test_bfs_finds_a_group_serving_a_shard_it_is_still_pulling(monkeypatch: Any) -> None:
    """A group serves a shard before its data arrived: serves-only-arrived, on a shortest
    path of 9 steps (no violation within 8)."""
    plant_serving_before_arrival(monkeypatch)
    r = search(Bounds(ops=1, max_log=6))
    assert r.violation is not None and r.violation.rule == "serves-only-arrived"
    steps = [describe(label) for label in r.violation.labels]
    assert len(steps) == 9
    assert steps[-1].startswith("g2s0 receives ShardKVRequest(client='c0'")
    assert search(Bounds(ops=1, max_log=6, depth=8)).violation is None


@pytest.mark.interpreted
def test_bfs_finds_a_migration_that_loses_a_write(monkeypatch: Any) -> None:
    """The old owner answers a pull without the shard's data: what gid 2 installs is not
    what gid 1 froze (shard-moves-whole), on a shortest path of 15 steps."""
    def lossy(state: Any, src: str, msg: PullShard, out: Any) -> Any:
        m = server.machine(state)
        held = m.shards.get(msg.shard)
        if m.config.num == msg.num and held is not None and held.state == skm.SENDING:
            out.append(Send(src, PullReply(msg.num, msg.shard, (),
                                           tuple(sorted(held.sessions.items())))))
        return state
    monkeypatch.setitem(server._MESSAGE_HANDLERS, PullShard, lossy)
    r = search(Bounds(ops=1, max_log=7))
    assert r.violation is not None and r.violation.rule == "shard-moves-whole"
    assert len(r.violation.labels) == 15
    steps = [describe(label) for label in r.violation.labels]
    assert any("is asked ClientRequest(op=KVOp(kind='append'" in s for s in steps)
    assert steps[-1].startswith("g2s0 receives PullReply(num=2, shard=1, data=[]")


@pytest.mark.interpreted
def test_bfs_finds_a_deletion_before_the_new_owner_installed(monkeypatch: Any) -> None:
    """The new owner asks for the deletion with the pull (two messages on its link to the
    old owner: --per-link 2): the old copy goes before the new owner has it."""
    plant_delete_before_install(monkeypatch)
    r = search(Bounds(ops=0, max_log=6, per_link=2))
    assert r.violation is not None and r.violation.rule == "gc-after-install"
    assert len(r.violation.labels) == 10
    assert search(Bounds(ops=0, max_log=6, per_link=2, depth=9)).violation is None


def test_the_real_store_passes_where_the_planted_bugs_fail() -> None:
    """The bounds of the deletion bug (those of the serving bug are the defaults, above)."""
    r = search(Bounds(ops=0, max_log=6, per_link=2))
    assert r.violation is None and r.goals["shard-deleted"] is not None


# ---------------------------------------------------------------- counterexamples

@pytest.mark.interpreted
def test_a_counterexample_replays_with_its_digest(monkeypatch: Any, tmp_path: Any,
                                                  capsys: Any) -> None:
    """Written by the CLI's writer, replayed by `raftsim replay`'s code: the same steps, the
    same digest, the same violation; the real store takes another path (its digest differs:
    gid 2 refuses the operation)."""
    plant_serving_before_arrival(monkeypatch)
    cfg = config(bounds={"ops": 1, "max_log": 6})
    model, bounds, properties, goals = build(cfg)
    r = explore(model, bounds, properties, goals)
    assert r.violation is not None
    path = str(tmp_path / "cex.json")
    write_counterexample(path, cfg, model, bounds, r.violation)
    doc = json.load(open(path))
    assert doc["config"]["groups"] == 2 and len(doc["choices"]) == 9
    capsys.readouterr()
    assert replay(path) == 1
    out = capsys.readouterr().out
    assert "digest matches" in out and "outcome: FAIL (serves-only-arrived)" in out
    monkeypatch.undo()
    assert replay(path) == 1
    assert "REPLAY DIVERGED" in capsys.readouterr().out


# ---------------------------------------------------------------- the command line

def raftsim(*args: str, hashseed: str = "0") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": ROOT, "PYTHONHASHSEED": hashseed}
    return subprocess.run([sys.executable, "-m", "scenarios.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_cli_explores_shardkv_the_same_under_any_hash_seed() -> None:
    args = ("explore", "shardkv", "--changes", "1", "--ops", "0", "--max-log", "5", "--json")
    runs = [json.loads(raftsim(*args, hashseed=seed).stdout) for seed in ("0", "1")]
    for run in runs:
        for r in run["runs"]:
            r.pop("seconds")
    assert runs[0] == runs[1]
    assert runs[0]["runs"][0]["distinct"] == 380 and runs[0]["violation"] is None
    assert runs[0]["config"]["groups"] == 2 and runs[0]["config"]["bounds"]["max_log"] == 5


@pytest.mark.parametrize("args, message", [
    (["--symmetry"], "target shardkv has no symmetry reduction"),
    (["--compare-symmetry"], "target shardkv has no symmetry reduction"),
    (["--groups", "0"], "--groups 0: the shardkv target takes 1 to 3"),
    (["--groups", "4"], "--groups 4: the shardkv target takes 1 to 3"),
    (["--changes", "5"], "--changes 5: the shardkv target takes 0 to 4 with 2 groups"),
    (["--groups", "1", "--changes", "1"], "--changes 1: the shardkv target takes 0 to 0"),
    (["--changes", "-1"], "--changes -1"),
    (["--shards", "11"], "--shards 11: the shardkv target takes 1 to 10"),
    (["--nodes", "4"], "--nodes 4: the shardkv target takes 1 to 3 servers per group"),
    (["--clients", "3"], "--clients 3: the shardkv target takes 1 to 2 clients"),
    (["--property", "raft"], "property 'raft' does not apply to target 'shardkv'"),
    (["--property", "sharding"], "unknown property 'sharding'"),
    (["--snapshots"], "--snapshots applies to the raft and kv targets only"),
    (["--max-log", "-1"], "bound max_log is negative"),
    (["--ops", "99"], "bound ops=99 is absurd"),
])
def test_bad_shardkv_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    code, out, err = cli("explore", "shardkv", *args)
    assert code == 2 and out == "", err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("raftsim: error: ") and message in lines[0]


def test_the_store_options_are_refused_for_other_targets() -> None:
    for target in ("raft", "kv"):
        for flag in ("--groups", "--changes", "--shards"):
            code, out, err = cli("explore", target, flag, "1")
            assert code == 2 and f"{flag} applies to the shardkv target only" in err, err
