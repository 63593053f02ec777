"""The sharded KV scenarios of the lab: each passes on several seeds with its assertions,
histories checked for linearizability and the sharding invariants watching; two bugs planted
into the service fail them with the invariant they break; a seed gives one digest."""

from __future__ import annotations

import pytest

from protocols.shardkv import server
from protocols.shardkv.messages import DeleteShard
from scenarios.registry import all_scenarios
from scenarios.runner import run_scenario

from shardkv_cluster import plant_delete_before_install, plant_serving_before_arrival

SHARDKV = [s.name for s in all_scenarios()
           if s.suite in ("5A", "5B") and not s.name.startswith("Controller")]
LONG = {"Concurrent2_5B", "Concurrent3_5B"}        # several seconds each: one seed by default


def test_the_lab_tests_are_all_here():
    assert len(SHARDKV) == 14


@pytest.mark.parametrize("name, seed", [
    pytest.param(name, seed, marks=[pytest.mark.slow] if name in LONG and seed != 1 else [])
    for seed in (1, 2) for name in SHARDKV])
def test_scenario_passes(name, seed):
    result = run_scenario(name, seed)
    assert result.outcome == "pass", result.failure
    assert result.facts["operations"] > 0
    assert result.check is not None


@pytest.mark.slow
@pytest.mark.parametrize("name", SHARDKV)
def test_scenario_passes_on_ten_seeds(name):
    for seed in range(1, 11):
        result = run_scenario(name, seed)
        assert result.outcome == "pass", (seed, result.failure)


def test_a_group_down_blocks_exactly_its_gets():
    assert run_scenario("StaticShards5A", 1).facts["gets_done_with_a_group_down"] == 5
    assert run_scenario("Rejection5A", 1).facts["gets_done_through_the_wrong_controller"] == 5


def test_gc_bounds_the_stored_state():
    result = run_scenario("Challenge1Delete", 1)
    assert result.facts["stored_bytes"] <= 3 * (27_000 + 6_000 + 6_000)
    assert result.facts["stored_bytes"] >= 3 * 30_000        # every value, on 3 replicas


def test_a_seed_gives_one_digest():
    assert run_scenario("JoinLeave5B", 4).digest == run_scenario("JoinLeave5B", 4).digest


PLANTED = ["StaticShards5A", "JoinLeave5B"]


@pytest.mark.interpreted
def test_serving_before_arrival_fails_the_scenarios(monkeypatch):
    plant_serving_before_arrival(monkeypatch)
    for name in PLANTED:
        result = run_scenario(name, 1)
        assert result.outcome == "fail" and result.failure is not None
        assert result.failure.rule == "serves-only-arrived", result.failure


@pytest.mark.interpreted
def test_deleting_before_the_new_owner_installed_fails_the_scenarios(monkeypatch):
    plant_delete_before_install(monkeypatch)
    for name in PLANTED:
        result = run_scenario(name, 1)
        assert result.outcome == "fail" and result.failure is not None
        assert result.failure.rule == "gc-after-install", result.failure


@pytest.mark.interpreted
def test_a_group_that_never_garbage_collects_fails_challenge1(monkeypatch):
    """Old copies never deleted (the owner ignores DeleteShard): the groups cannot move on to
    the next configuration, so the scenario cannot finish."""
    monkeypatch.setitem(server._MESSAGE_HANDLERS, DeleteShard,
                        lambda state, src, msg, out: state)
    result = run_scenario("Challenge1Delete", 1)
    assert result.outcome == "fail" and result.failure is not None
    assert "too big" in result.failure.message or result.failure.kind == "time-limit"
