"""The explorer's memory limit: a search stops, as at its state budget, before the process
holds more than the machine can give it (never an out-of-memory kill)."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest

import sim.explore.search as search_module
from scenarios.cli import main
from sim.explore import Bounds, explore, raft_model
from sim.explore.search import memory_limit, resident

BOUNDS = Bounds(max_term=2, max_log=2, ops=2)         # 79,083 distinct states in all


@pytest.fixture
def look_often(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_module, "MEMORY_EVERY", 50)


@pytest.mark.parametrize("strategy, por", [("bfs", False), ("bfs", True), ("dfs", False),
                                           ("random", False)])
def test_a_search_over_its_memory_limit_stops_there(look_often: None, strategy: str,
                                                    por: bool) -> None:
    """With a limit the process is already over, every strategy stops at its first look
    (50 states), says "memory" and not "states", and is not complete."""
    r = explore(raft_model(3), BOUNDS, strategy=strategy, por=por, memory=1)
    assert r.distinct == 50 and "memory" in r.bounds_hit and "states" not in r.bounds_hit
    assert not r.complete


def test_a_search_within_its_memory_limit_is_not_stopped(look_often: None) -> None:
    """The same search with room to spare runs to the end, looking every 50 states."""
    r = explore(raft_model(3), Bounds(max_term=1, max_log=1), memory=1 << 50)
    assert r.distinct == 569 and r.bounds_hit == ("max-term", "per-link")


def test_the_state_budget_comes_first_when_it_is_lower(look_often: None) -> None:
    """A budget below the first look stops the search before memory is looked at."""
    r = explore(raft_model(3), Bounds(max_term=2, max_log=2, ops=2, states=30), memory=1)
    assert r.distinct == 30 and "states" in r.bounds_hit and "memory" not in r.bounds_hit


def test_the_default_limit_is_what_the_machine_can_give() -> None:
    """On Linux: above what the process holds, and no more than it holds plus the memory
    the machine has available."""
    held, limit = resident(), memory_limit()
    if held is None or limit is None:
        pytest.skip("no /proc on this system: the search has no memory limit")
    with open("/proc/meminfo") as f:
        available = next(int(line.split()[1]) * 1024 for line in f
                         if line.startswith("MemAvailable:"))
    assert held < limit <= held + available + (64 << 20)


def cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(list(args))
    return code, out.getvalue()


def test_the_command_line_says_the_search_stopped_at_the_memory_limit(
        look_often: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_module, "memory_limit", lambda: 1)
    code, out = cli("explore", "raft", "--max-log", "2", "--ops", "2")
    assert code == 0, out
    assert "stopped at the memory limit" in out and "the search is incomplete" in out, out
    assert "no violation among the 50 distinct states explored; bounds hit: " in out, out
    assert "within the bounds" not in out and "stopped at the state budget" not in out, out
    code, out = cli("explore", "raft", "--max-log", "2", "--ops", "2", "--json")
    doc: dict[str, Any] = json.loads(out)
    assert doc["stopped_at_memory_limit"] is True and doc["stopped_at_state_budget"] is False
    assert not doc["complete"]
