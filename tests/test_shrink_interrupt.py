"""Ctrl-C during a shrink keeps what was found: the smallest run so far that fails the same
check is printed, written as a replayable trace, and the command exits 130."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import scenarios.shrink as shrinking
from scenarios.cli import main
from scenarios.runner import run_scenario
from scenarios.shrink import shrink, signature

SPLIT = {"schedule": [[2000, {"type": "Partition",
                              "groups": [["s0", "s1"], ["s2", "s3"], ["s4"]]}]]}


def interrupt_after(monkeypatch: Any, runs: int) -> None:
    """The shrinker's ``runs``-th candidate run is interrupted (as Ctrl-C would)."""
    real = shrinking.run_scenario
    count = [0]

    def run(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        if count[0] == runs:
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    monkeypatch.setattr(shrinking, "run_scenario", run)


def test_an_interrupted_shrink_returns_the_smallest_failure_so_far(monkeypatch: Any) -> None:
    interrupt_after(monkeypatch, 6)
    result = shrink("random", 7, SPLIT)
    assert result.interrupted and result.runs == 6
    again = run_scenario("random", 7, params=result.params)
    assert not again.passed and signature(again) == signature(result.original)
    assert len(result.params["schedule"]) <= len(result.original.drawn["schedule"])


def test_the_command_prints_and_writes_it_then_exits_130(monkeypatch: Any,
                                                         tmp_path: Path) -> None:
    params = tmp_path / "split.json"
    params.write_text(json.dumps(SPLIT))
    trace = tmp_path / "t.jsonl"
    assert main(["run", "random", "--seed", "7", "--params", str(params), "--trace",
                 str(trace), "-q"]) == 1
    interrupt_after(monkeypatch, 4)
    out, err = io.StringIO(), io.StringIO()
    shrunk = tmp_path / "s.jsonl"
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["shrink", str(trace), "--out", str(shrunk)])
    assert code == 130, err.getvalue()
    assert "interrupted after 4 runs" in out.getvalue()
    assert shrunk.exists() and f"replay with: raftsim replay {shrunk}" in out.getvalue()
    replay = io.StringIO()
    with contextlib.redirect_stdout(replay):
        assert main(["replay", str(shrunk)]) == 1             # still fails ...
    assert "digest matches" in replay.getvalue()               # ... and replays identically
