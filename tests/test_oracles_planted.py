"""Each planted bug of tests/planted_bugs.py is caught, in a real scenario run, by the oracle
meant for it; and the correct protocols pass every oracle.

A bug is hunted from its catalogue seed on, over a few seeds at most (the first failing run
must name the bug's rule: another rule firing first is a test failure, not a pass). The sweeps
of correct code run a few dozen seeds by default and a few hundred under ``-m slow``.
"""

from __future__ import annotations

from typing import Any

import pytest

from scenarios.runner import RunResult, run_scenario
from planted_bugs import BUGS, PlantedBug, planted

#: Seeds tried per bug, from its catalogue seed on.
TRIES = 40
#: A message budget small enough for a storm to hit it in well under a second.
SMALL_BUDGET = 20_000


def _hunt(bug: PlantedBug, **kwargs: Any) -> RunResult:
    """The first failing run of ``bug``'s scenario, from its seed on (or the last run)."""
    result = None
    with planted(bug.name):
        for seed in range(bug.seed, bug.seed + TRIES):
            result = run_scenario(bug.scenario, seed, params=bug.params or None, **kwargs)
            if not result.passed:
                return result
    assert result is not None
    return result


@pytest.mark.interpreted
@pytest.mark.parametrize("name", [n for n, b in BUGS.items() if b.kind != "budget"])
def test_planted_bug_is_caught_by_its_oracle(name: str) -> None:
    bug = BUGS[name]
    result = _hunt(bug)
    assert result.failure is not None, f"{name}: {TRIES} seeds of {bug.scenario} passed"
    assert (result.failure.kind, result.failure.rule) == (bug.kind, bug.rule), (
        f"{name} (seed {result.seed}) was caught as {result.failure.kind}/"
        f"{result.failure.rule}: {result.failure}")


@pytest.mark.interpreted
def test_message_storm_ends_on_the_message_budget() -> None:
    """A storm that would run to the trace ceiling stops at the run's message budget, with
    its own failure kind (budget, rule messages): recorded and shrinkable like any failure."""
    bug = BUGS["append-storm"]
    result = _hunt(bug, max_messages=SMALL_BUDGET)
    assert result.failure is not None
    assert (result.failure.kind, result.failure.rule) == ("budget", "messages")
    assert SMALL_BUDGET < result.messages < SMALL_BUDGET + 5_000   # within a trace batch
    again = _hunt(bug, max_messages=SMALL_BUDGET)
    assert again.digest == result.digest                            # deterministic


@pytest.mark.interpreted
def test_random_raft_has_its_own_tighter_message_budget() -> None:
    """random-raft's own budget (far above what a correct seed sends) ends a storm at once,
    under the runner's default budget, and a correct seed is far below it."""
    from scenarios.suites.random_raft import RANDOM_RAFT_MAX_MESSAGES
    with planted("append-storm"):
        result = run_scenario("random-raft", 2)
    assert result.failure is not None
    assert (result.failure.kind, result.failure.rule) == ("budget", "messages")
    assert RANDOM_RAFT_MAX_MESSAGES < result.messages < RANDOM_RAFT_MAX_MESSAGES + 5_000
    assert run_scenario("random-raft", 2).messages < RANDOM_RAFT_MAX_MESSAGES // 10


def test_wall_budget_is_a_budget_failure() -> None:
    """A wall-clock budget (campaigns give each seed one) ends a run with kind budget."""
    result = run_scenario("random-raft", 1, wall_budget_s=0.0)
    assert result.failure is not None
    assert (result.failure.kind, result.failure.rule) == ("budget", "wall-time")


@pytest.mark.interpreted
def test_planting_restores_the_protocol() -> None:
    """Leaving a planted bug's block restores the correct protocol (same digest as before)."""
    before = run_scenario("BasicAgree3B", 1).digest
    with planted("send-before-persist"):
        assert run_scenario("BasicAgree3B", 1).digest != before
    assert run_scenario("BasicAgree3B", 1).digest == before


def _sweep(name: str, seeds: range) -> None:
    failed = [(r.seed, r.failure) for r in (run_scenario(name, s) for s in seeds)
              if not r.passed]
    assert not failed, f"{name}: correct code failed {failed[:3]}"


@pytest.mark.parametrize("name", ["random-raft", "random"])
def test_correct_code_passes_every_oracle(name: str) -> None:
    _sweep(name, range(1000, 1025))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["random-raft", "random"])
def test_correct_code_passes_every_oracle_many_seeds(name: str) -> None:
    _sweep(name, range(2000, 2400))


@pytest.mark.interpreted
def test_shrinking_keeps_the_oracle_rule() -> None:
    """A failure names its rule, so the shrinker keeps only candidates that break the same one:
    a run caught by match-index shrinks to fewer faults, still caught by match-index."""
    from scenarios.shrink import shrink, signature
    bug = BUGS["match-index-from-next-index"]
    found = _hunt(bug)
    assert found.failure is not None
    with planted(bug.name):
        result = shrink(bug.scenario, found.seed, max_runs=60)
    assert signature(result.final) == ("invariant", "match-index")
    assert found.drawn is not None
    assert len(result.params["schedule"]) < len(found.drawn["schedule"])
