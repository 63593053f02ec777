"""Edges of the explorer: its memory limit (a search stops, as at its state budget, before
the process holds more than the machine can give it: never an out-of-memory kill), and the
command line's less travelled paths (long counterexample files, unwritable outputs, cut-short
comparisons, budgets of random walks, searches without operations, step names)."""

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
from step_files import VOTEBUG, VOTEBUG_ARGS

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


# ---------------------------------------------------------------- command-line edges



def test_a_counterexample_is_known_by_its_head_whatever_its_length(tmp_path: Any) -> None:
    """The format comes first in the file; a file written with sorted keys (the format after
    a long path) is recognised too, by `raftsim replay` and `raftsim report`."""
    from scenarios.cli.explore import FORMAT, is_counterexample
    deep = tmp_path.joinpath(*[c * 200 for c in "abcdefghijklmnopqrs"])   # past 4 KiB
    deep.mkdir(parents=True)
    (deep / "votebug.py").write_text(VOTEBUG)
    cx = tmp_path / "cx.json"
    code, out = cli("explore", "raft", "--step", f"{deep}/votebug.py:step", *VOTEBUG_ARGS,
                    "--trace", str(cx))
    assert code == 1, out
    text = cx.read_text()
    assert text.startswith('{\n "format": "%s"' % FORMAT) and is_counterexample(str(cx))
    doc = json.loads(text)
    old = tmp_path / "old.json"                 # as files were written before: sorted keys
    old.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    assert old.read_text().index(FORMAT) > 4096
    assert is_counterexample(str(old))
    code, out = cli("replay", str(old))
    assert code == 1 and "digest matches" in out, out
    trace = tmp_path / "t.jsonl"
    assert cli("run", "InitialElection3A", "--seed", "1", "--trace", str(trace))[0] == 0
    assert not is_counterexample(str(trace))


def test_an_unwritable_trace_is_bad_input_after_the_steps(tmp_path: Any,
                                                          capsys: Any) -> None:
    (tmp_path / "votebug.py").write_text(VOTEBUG)
    target = tmp_path / "ro" / "cx.json"
    target.parent.mkdir()
    import builtins
    real_open = builtins.open

    def refusing(file: Any, mode: str = "r", *a: Any, **kw: Any) -> Any:
        if str(file) == str(target) and "w" in mode:
            raise PermissionError(13, "Permission denied")
        return real_open(file, mode, *a, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(builtins, "open", refusing)
        code = main(["explore", "raft", "--step", f"{tmp_path}/votebug.py:step", *VOTEBUG_ARGS,
                     "--trace", str(target)])
    out, err = capsys.readouterr()
    assert code == 2 and "shortest counterexample (" in out, out
    assert err.strip().count("\n") == 0 and "cannot write it (Permission denied)" in err, err
    assert not target.exists()


def test_compare_symmetry_says_when_the_first_run_was_cut_short() -> None:
    code, out = cli("explore", "raft", "--compare-symmetry", "--states", "300")
    assert code == 0
    assert "the search without symmetry was cut short (states)" in out, out
    code, out = cli("explore", "raft", "--compare-symmetry", "--states", "300", "--json")
    assert json.loads(out)["stopped_at_state_budget"] is True


def test_random_walks_say_that_the_budget_only_stopped_the_count() -> None:
    code, out = cli("explore", "raft", "--strategy", "random", "--walks", "20", "--states",
                    "50")
    assert code == 0 and "only the count of distinct states stopped" in out, out


@pytest.mark.parametrize("target", ["raft", "kv"])
def test_without_operations_only_an_election_is_a_goal(target: str) -> None:
    code, out = cli("explore", target, "--ops", "0", "--max-term", "1", "--max-log", "1",
                    "--crashes", "1", "--json")
    assert code == 0
    assert list(json.loads(out)["goals"]) == ["leader-term-2"]


def test_a_step_module_that_is_a_file_here_gets_a_hint(tmp_path: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "votebug.py").write_text(VOTEBUG)
    monkeypatch.chdir(tmp_path)
    for spec, hint in (("votebug:step", "a file? name it votebug.py:step"),
                       ("nowhere:step", "a file is FILE.py:NAME")):
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(["explore", "raft", "--step", spec])
        assert code == 2 and hint in err.getvalue() and err.getvalue().count("\n") == 1


def test_violation_details_carry_no_simulator_time() -> None:
    """The explorer has no clock: the times the simulator's checkers write into a detail
    ("since t=...") are taken out; the rest of the detail stays."""
    from checkers.invariants.raft import InvariantViolation, RaftInvariants
    from scenarios.explore import _timeless
    inv = RaftInvariants()
    inv.role_changed(3.0, "s0", "leader", 1)
    with pytest.raises(InvariantViolation) as broken:
        inv.role_changed(7.0, "s2", "leader", 1)
    assert "t=3.000" in broken.value.detail
    assert _timeless(broken.value.detail) == "term 1 has two leaders: s0 and s2"
