"""Every Raft lab scenario passes on several seeds, within the lab's virtual-time limits.

A failing scenario prints the failure and the command that reproduces it.
"""

from __future__ import annotations

import pytest

from scenarios.registry import all_scenarios
from scenarios.runner import replay_command, run_scenario

RAFT = [s.name for s in all_scenarios() if s.suite in ("3A", "3B", "3C", "3D")]
SEEDS = (1, 2, 3)


def test_all_28_lab_tests_are_ported():
    """The 2024 Raft suite has 28 tests: 3 + 10 + 8 + 7."""
    assert len(RAFT) == 28
    suites = [s.suite for s in all_scenarios() if s.name in RAFT]
    assert [suites.count(x) for x in ("3A", "3B", "3C", "3D")] == [3, 10, 8, 7]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", RAFT)
def test_raft_scenario(name: str, seed: int):
    result = run_scenario(name, seed)
    assert result.passed, f"{result.failure}\n  reproduce: {replay_command(name, seed)}"
    assert result.virtual_ms < 120_000


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4, 54))
@pytest.mark.parametrize("name", RAFT)
def test_raft_scenario_sweep(name: str, seed: int):
    result = run_scenario(name, seed)
    assert result.passed, f"{result.failure}\n  reproduce: {replay_command(name, seed)}"
