"""The lab's shard controller tests pass on several seeds, and they catch a controller that
rebalances by reassigning every shard (correct balance, but not minimal) or that answers
historical queries with the latest configuration."""

from __future__ import annotations

import dataclasses
import functools

import pytest

from protocols import rsm, shardctrler
from protocols.shardctrler import machine, server
from scenarios.registry import all_scenarios
from scenarios.runner import replay_command, run_scenario

CTRL = [s.name for s in all_scenarios() if s.suite == "5A" and s.name.startswith("Controller")]


def test_the_three_lab_tests_are_ported():
    assert CTRL == ["ControllerBasic5A", "ControllerMulti5A", "ControllerMinimalAgain5A"]


@pytest.mark.parametrize("seed", (1, 2, 3))
@pytest.mark.parametrize("name", CTRL)
def test_controller_scenario_passes(name: str, seed: int):
    result = run_scenario(name, seed)
    assert result.passed, f"{result.failure}\n  reproduce: {replay_command(name, seed)}"


@pytest.mark.interpreted
def test_non_minimal_rebalancing_is_caught(monkeypatch):
    def round_robin(shards, gids):
        members = sorted(set(gids))
        return tuple(members[i % len(members)] if members else 0 for i in range(len(shards)))
    monkeypatch.setattr(machine, "rebalance", round_robin)
    for name in CTRL:
        result = run_scenario(name, 1)
        assert result.failure is not None and result.failure.kind == "check", name
        assert "moved" in result.failure.message


@pytest.mark.interpreted
def test_wrong_historical_query_is_caught(monkeypatch):
    original = machine.apply_command

    def latest_only(m, command):
        if type(command.op) is machine.Query:
            command = machine.CtrlCommand(command.client, command.seq, machine.Query(-1))
        return original(m, command)
    wrong = dataclasses.replace(server.SERVICE, apply=latest_only)
    monkeypatch.setattr(shardctrler, "step", functools.partial(rsm.step, wrong))
    result = run_scenario("ControllerBasic5A", 1)
    assert result.failure is not None and "HistoricalQueries" in result.failure.message
