"""The sharded KV scenarios of the lab: each passes on several seeds with its assertions,
histories checked for linearizability and the sharding invariants watching; two bugs planted
into the service fail them with the invariant they break; a seed gives one digest."""

from __future__ import annotations

import pytest

from protocols.core import Send
from protocols.shardkv import machine as skm, server
from protocols.shardkv.messages import DeleteShard
from scenarios.runner import run_scenario

SCENARIOS = ["StaticShards5A", "JoinLeave5B"]


@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_scenario_passes(name, seed):
    result = run_scenario(name, seed)
    assert result.outcome == "pass", result.failure
    assert result.facts["operations"] > 0
    assert result.check is not None


def test_static_shards_blocks_exactly_the_dead_groups_gets():
    result = run_scenario("StaticShards5A", 1)
    assert result.facts["gets_done_with_a_group_down"] == 5


def test_a_seed_gives_one_digest():
    assert run_scenario("JoinLeave5B", 4).digest == run_scenario("JoinLeave5B", 4).digest


def test_serving_before_arrival_fails_the_scenarios(monkeypatch):
    monkeypatch.setattr(skm, "SERVES", frozenset((skm.SERVING, skm.GCING, skm.PULLING)))
    for name in SCENARIOS:
        result = run_scenario(name, 1)
        assert result.outcome == "fail" and result.failure is not None
        assert result.failure.rule == "serves-only-arrived", result.failure


def test_deleting_before_the_new_owner_installed_fails_the_scenarios(monkeypatch):
    honest = server.handle_poll

    def eager(state, out):
        state = honest(state, out)
        m = server.machine(state)
        if server.is_leader(state):
            for s, held in sorted(m.shards.items()):
                if held.state == skm.PULLING:
                    out.extend(Send(a, DeleteShard(m.config.num, s))
                               for a in m.prev.servers(m.prev.shards[s]))
        return state

    monkeypatch.setattr(server, "handle_poll", eager)
    for name in SCENARIOS:
        result = run_scenario(name, 1)
        assert result.outcome == "fail" and result.failure is not None
        assert result.failure.rule == "gc-after-install", result.failure
