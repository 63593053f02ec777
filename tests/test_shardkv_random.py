"""random-shardkv: seeds pass; what a seed draws replays from params; bad params (a group or
server that does not exist, a Move to a non-member, a shard out of range) are one-line bad
input; two planted bugs are caught within a few seeds and the shrinker cuts their fault
schedule down."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from scenarios.runner import BadParams, run_scenario
from scenarios.shrink import shrink

from shardkv_cluster import plant_delete_before_install, plant_serving_before_arrival

NAME = "random-shardkv"


@pytest.mark.parametrize("seed", range(1, 9))
def test_seeds_pass(seed):
    result = run_scenario(NAME, seed)
    assert result.outcome == "pass", result.failure
    assert set(result.drawn) >= {"shardkv", "reconfig", "schedule", "net", "profile"}


@pytest.mark.slow
def test_two_hundred_seeds_pass():
    bad = [(seed, r.failure) for seed in range(1, 201)
           for r in [run_scenario(NAME, seed)] if r.outcome != "pass"]
    assert not bad


def _digest_in_subprocess(name: str, seed: int, hashseed: str) -> str:
    env = dict(os.environ, PYTHONHASHSEED=hashseed)
    out = subprocess.run([sys.executable, "-m", "scenarios.cli", "run", name, "--seed", str(seed)],
                         capture_output=True, text=True, env=env, check=True).stdout
    return next(line.split()[1] for line in out.splitlines() if line.startswith("digest: "))


def test_same_seed_same_digest_across_hash_seeds():
    """Groups, shards and sessions live in maps: nothing may depend on string hashing."""
    digests = {_digest_in_subprocess(NAME, 5, h) for h in ("0", "4242")}
    assert digests == {run_scenario(NAME, 5).digest}


def test_drawn_params_replay_the_run():
    first = run_scenario(NAME, 3)
    again = run_scenario(NAME, 3, params=first.drawn)
    assert again.outcome == first.outcome
    assert again.facts["operations"] == first.facts["operations"]
    assert (again.virtual_ms, again.messages, again.bytes) == (
        first.virtual_ms, first.messages, first.bytes)


@pytest.mark.parametrize("params, message", [
    ({"shardkv": {"groups": 2}, "reconfig": [[0, {"type": "join", "gid": 107}]]},
     "no group 107"),
    ({"shardkv": {"groups": 2}, "reconfig": [[0, {"type": "join", "gid": 100}],
                                            [5, {"type": "move", "shard": 3, "gid": 101}]]},
     "not a member"),
    ({"reconfig": [[0, {"type": "join", "gid": 100}],
                   [5, {"type": "move", "shard": 10, "gid": 100}]]},
     "shard 10 out of range"),
    ({"reconfig": [[0, {"type": "join", "gid": 100}], [5, {"type": "leave", "gid": 100}]]},
     "cannot leave"),
    ({"shardkv": {"groups": 2}, "schedule": [[10, {"type": "Crash", "node": "102s0"}]]},
     "102s0"),
    ({"shardkv": {"groups": 9}}, "$.shardkv.groups"),
])
def test_bad_params_are_bad_input(params, message):
    with pytest.raises(BadParams, match=message.replace("$", r"\$").replace(".", r"\.")):
        run_scenario(NAME, 1, params=params)


@pytest.mark.parametrize("plant, rule", [(plant_serving_before_arrival, "serves-only-arrived"),
                                         (plant_delete_before_install, "gc-after-install")])
@pytest.mark.interpreted
def test_planted_bugs_are_caught_and_shrunk(monkeypatch, plant, rule):
    plant(monkeypatch)
    seed = next(seed for seed in range(1, 50)
                if run_scenario(NAME, seed).outcome == "fail")
    result = shrink(NAME, seed, max_runs=60)
    assert result.final.failure is not None and result.final.failure.rule == rule
    assert len(result.params["schedule"]) <= 5


@pytest.mark.interpreted
def test_the_reconfiguration_schedule_shrinks_too(monkeypatch):
    """Serving a shard before it arrived needs one migration: the shrinker keeps the initial
    Join and the operation that moves a shard, and drops the rest."""
    plant_serving_before_arrival(monkeypatch)
    seed = next(seed for seed in range(1, 50)
                if run_scenario(NAME, seed).outcome == "fail"
                and len(run_scenario(NAME, seed).drawn["reconfig"]) >= 4)
    result = shrink(NAME, seed, max_runs=80)
    assert result.final.failure is not None
    assert result.final.failure.rule == "serves-only-arrived"
    assert len(result.params["reconfig"]) <= 3 < len(result.original.drawn["reconfig"])
