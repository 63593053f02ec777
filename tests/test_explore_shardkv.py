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
from sim.explore import Bounds, Result, describe, explore, successors
from sim.explore.model import Step, take
from sim.explore.targets import config_changes, kv_model, shard_key, shardkv_model, shardkv_op
from test_explore_cli import cli
from shardkv_cluster import plant_delete_before_install, plant_serving_before_arrival

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def search(bounds: Bounds, strategy: str = "bfs", walks: int = 1000, **options: Any) -> Result:
    model = shardkv_model(**options)
    return explore(model, bounds, [ShardSafety(model), Linearizable(model)],
                   shardkv_goals(model, bounds.crashes > 0, options.get("changes", 1),
                                 bounds.ops > 0), strategy, walks=walks)


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


def test_the_default_search_moves_a_shard_but_serves_nothing_after_the_move() -> None:
    """The CLI's defaults (one change, one operation, logs <= 6): a shard moves and is
    deleted at its old owner, but no operation is served by its new owner within these logs
    (the migration fills them): op-after-config-change is NOT reached, and said so."""
    r = search(Bounds(ops=1, max_log=6))
    assert r.violation is None and (r.generated, r.distinct) == (262_530, 25_676)
    assert r.goals == {"op-completed": 5, "shard-migrated": 11, "shard-deleted": 13,
                       "op-after-config-change": None, "config-change-everywhere": 8}


def test_an_operation_after_the_move_is_served_by_the_new_owner_with_logs_of_7() -> None:
    """op-after-config-change is reached on a path where gid 2, the shard's new owner, serves
    the clerk's operation under configuration 2 (a random walk to it, logs <= 7), never
    before step 15: a poll, the Join, queries, the pull and its reply come first (BFS with
    logs <= 7 finds the shortest such path at 15 steps, in about 380,000 states)."""
    model = shardkv_model()
    bounds = Bounds(ops=1, max_log=7, depth=40)
    r = explore(model, bounds, [ShardSafety(model)], shardkv_goals(model, False),
                "random", walks=200)
    assert r.violation is None and r.goals["op-after-config-change"] is not None
    assert r.goals["op-after-config-change"] >= 15


def follow(model: Any, bounds: Bounds, steps: list[str], goals: list[Any]
           ) -> tuple[Any, list[str]]:
    """Take the transitions whose descriptions start with ``steps``, in order, from the
    initial state; the state reached and the goals reached on the way."""
    state, reached = model.initial(), []
    for depth, want in enumerate(steps):
        found = [x for x in successors(model, state, bounds) if describe(x[0]).startswith(want)]
        assert found, f"step {depth + 1} not enabled: {want}"
        label, _, addr, event, effects, after = found[0]
        step = Step(label, state, after, addr, event, effects, depth + 1)
        reached += [g.name for g in goals if g.reached(step, ())]
        state = after
    return state, reached


#: A clerk's append served by gid 1 under configuration 1, whose reply arrives after the
#: clerk learned configuration 2 (the path the goal used to take for "after the change").
STALE_REPLY = [
    "c0 is asked ClientRequest(op=KVOp(kind='append'",
    "m0 receives CtrlRequest(client='c0/ctrl'", "c0 receives CtrlReply(",
    "g1s0 receives ShardKVRequest(client='c0'", "c0: timer retry fires",
    "admin is asked ClientRequest(", "m0 receives CtrlRequest(client='admin'",
    "m0 receives CtrlRequest(client='c0/ctrl'", "c0 receives CtrlReply(",
    "c0 receives ShardKVReply(seq=1, err='OK'"]


def test_a_stale_reply_after_the_clerk_learned_the_new_configuration_is_no_goal() -> None:
    model = shardkv_model()
    _, reached = follow(model, Bounds(ops=1, max_log=6), STALE_REPLY,
                        shardkv_goals(model, False))
    assert reached == ["op-completed"]


def test_op_after_crash_needs_a_clerks_operation_after_the_crashed_server_restarts() -> None:
    """A controller applying a group's poll after a crash is no operation; a clerk's
    operation completed once the crashed server is back up is."""
    model = shardkv_model()
    bounds = Bounds(ops=1, max_log=6, crashes=1)
    goals = shardkv_goals(model, True)
    state, reached = follow(model, bounds, [
        "g1s0: timer poll fires", "g2s0: timer poll fires, crashing after 1",
        "m0 receives CtrlRequest(client='g1s0'"], goals)
    assert "op-after-crash" not in reached
    state, reached = follow(model, bounds, ["g2s0 crashes", "g2s0 restarts"], goals)
    r = explore(model, bounds, [], goals, start=state)
    assert r.violation is None and r.goals["op-after-crash"] == r.goals["op-completed"]


@pytest.mark.parametrize("build_model", [shardkv_model, lambda: kv_model(2)])
def test_only_servers_crash_in_the_middle_of_a_step(build_model: Any) -> None:
    """Clerks and the administrator never crash, between steps or in the middle of one."""
    model = build_model()
    bounds = Bounds(ops=1, max_log=6, crashes=1)
    state = model.initial()
    for addr in [a for a in ("c0", "admin") if a in model.cluster.index]:
        label = next(x[0] for x in successors(model, state, bounds)
                     if x[0].kind == "request" and x[0].addr == addr)
        state = take(model, state, label, bounds)[5]
    labels = [x[0] for x in successors(model, state, bounds)]
    fired = {label.addr for label in labels if label.kind == "fire" and label.after < 0}
    assert {"c0"} <= fired
    cut = {label.addr for label in labels if label.after >= 0 or label.kind == "crash"}
    assert cut and cut <= set(model.servers)


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
    (["--groups", "1", "--changes", "1"], "--changes 1: the shardkv target takes only 0 "
                                          "with 1 group"),
    (["--changes", "-1"], "--changes -1"),
    (["--shards", "11"], "--shards 11: the shardkv target takes 1 to 10"),
    (["--nodes", "4"], "--nodes 4: the shardkv target takes 1 to 3 servers per group"),
    (["--clients", "3"], "--clients 3: the shardkv target takes 1 to 2 clients"),
    (["--property", "raft"], "property 'raft' does not apply to target 'shardkv'"),
    (["--property", "sharding"], "unknown property 'sharding'"),
    (["--property", "shards", "--property", "shards"],
     "property 'shards' is given more than once"),
    (["--snapshots"], "--snapshots applies to the raft and kv targets only"),
    (["--max-log", "-1"], "--max-log -1: must not be negative"),
    (["--ops", "99"], "--ops 99: absurd (at most 20)"),
    (["--max-log", "2"], "--max-log 2: the settled shardkv start already has a log of 3"),
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
