"""Shrinking a failing run: a smaller fault schedule and workload that fail the same check.

A random scenario records everything it drew (fault schedule, network, workload) as params;
every candidate here is those params made smaller, run with the same seed. Delta debugging
(ddmin, Zeller) removes faults from the schedule (and reconfiguration operations from the
reconfiguration schedule of random-shardkv); then the workload (clients, operations per
client, keys; random-raft's bursts and snapshots), the leader hunt and the network knobs
(reliable delivery, duplication, reordering, long reordering) are lowered one at a time, and
the whole is repeated while it makes progress. A
candidate is kept only if the run fails with the same signature (failure kind, and the rule for
a Raft invariant), so the result still shows the bug that was found, not another one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from scenarios.errors import BadInput
from scenarios.runner import RunResult, run_scenario

__all__ = ["ShrinkResult", "shrink", "signature", "ddmin", "NothingToShrink", "NotShrinkable"]


class NothingToShrink(Exception):
    """The run passes: there is no failure to keep."""


class NotShrinkable(BadInput):
    """The scenario draws no fault schedule that could be shrunk (bad input)."""


@dataclass
class ShrinkResult:
    scenario: str
    seed: int
    original: RunResult
    final: RunResult
    params: dict[str, Any]
    runs: int
    steps: list[str] = field(default_factory=list)
    interrupted: bool = False          # Ctrl-C: ``params`` is the smallest failure found so far


def signature(result: RunResult) -> tuple[str, str]:
    """What "the same check" means: the failure kind, plus the rule it broke (if named)."""
    failure = result.failure
    if failure is None:
        return "", ""
    return failure.kind, failure.rule or ""


def ddmin(items: list, fails: Callable[[list], bool]) -> list:
    """A 1-minimal sublist of ``items`` for which ``fails`` still holds (complements first)."""
    n = 2
    while len(items) >= 2:
        chunk = -(-len(items) // n)
        for start in range(0, len(items), chunk):
            candidate = items[:start] + items[start + chunk:]
            if fails(candidate):
                items = candidate
                n = max(n - 1, 2)
                break
        else:
            if n >= len(items):
                break
            n = min(len(items), n * 2)
    if len(items) == 1 and fails([]):
        return []
    return items


class _Shrinker:
    def __init__(self, scenario: str, seed: int, max_runs: int,
                 progress: Callable[[str], None]) -> None:
        self.scenario, self.seed, self.max_runs = scenario, seed, max_runs
        self.progress = progress
        self.runs = 0
        self.target: tuple[str, str] | None = None
        self.best: RunResult | None = None
        self.best_params: dict[str, Any] = {}

    def run(self, params: dict[str, Any] | None) -> RunResult:
        self.runs += 1
        return run_scenario(self.scenario, self.seed, params=params)

    def fails(self, params: dict[str, Any]) -> bool:
        if self.runs >= self.max_runs:
            return False
        try:
            result = self.run(params)
        except BadInput:        # a candidate the scenario refuses (a Leave of a group whose
            return False        # Join was removed): not the same failure
        same = not result.passed and signature(result) == self.target
        if same:
            self.best, self.best_params = result, params
        return same


def shrink(scenario: str, seed: int, params: dict[str, Any] | None = None,
           max_runs: int = 300, progress: Callable[[str], None] = lambda s: None
           ) -> ShrinkResult:
    """Shrink the failing run of ``scenario`` at ``seed`` (starting from ``params`` if given)."""
    s = _Shrinker(scenario, seed, max_runs, progress)
    original = s.run(params)
    if original.passed:
        raise NothingToShrink(f"{scenario} seed {seed} passes")
    drawn = original.drawn
    if not isinstance(drawn, dict) or "schedule" not in drawn:
        raise NotShrinkable(f"{scenario} draws no fault schedule: shrinking works on the "
                            "random scenarios (random, random-raft)")
    s.target = signature(original)
    s.best = original
    current = {k: v for k, v in drawn.items()}
    s.best_params = current
    steps: list[str] = []
    try:
        _reduce(s, current, steps, original, max_runs, progress)
    except KeyboardInterrupt:       # keep what was found: the last candidate that failed alike
        return ShrinkResult(scenario, seed, original, s.best or original, s.best_params,
                            s.runs, steps, interrupted=True)
    final = s.best if s.best is not None else original
    return ShrinkResult(scenario, seed, original, final, s.best_params, s.runs, steps)


def _reduce(s: _Shrinker, current: dict[str, Any], steps: list[str], original: RunResult,
            max_runs: int, progress: Callable[[str], None]) -> None:
    """Reduce until nothing more fails alike; the result is ``s.best_params``."""
    changed = True
    while changed and s.runs < max_runs:      # a smaller workload often lets more faults go
        changed = False
        before = len(current["schedule"])
        current["schedule"] = ddmin(list(current["schedule"]),
                                    lambda sched: s.fails({**current, "schedule": sched}))
        if len(current["schedule"]) < before:
            steps.append(f"schedule: {before} -> {len(current['schedule'])} faults")
            progress(steps[-1])
        if "reconfig" in current:               # random-shardkv: joins, leaves, moves, crashes
            before = len(current["reconfig"])
            current["reconfig"] = ddmin(list(current["reconfig"]),
                                        lambda ops: s.fails({**current, "reconfig": ops}))
            if len(current["reconfig"]) < before:
                steps.append(f"reconfig: {before} -> {len(current['reconfig'])} operations")
                progress(steps[-1])
        for label, candidates in _knobs(current, s.best or original):
            for candidate in candidates:
                trial = _apply(current, candidate)
                if trial != current and s.fails(trial):
                    current = trial
                    changed = True
                    steps.append(f"{label}: {_describe(candidate)}")
                    progress(steps[-1])
                    break


def _knobs(params: dict[str, Any], original: RunResult) -> list[tuple[str, list[dict]]]:
    """Reductions to try, each a list of candidates from smallest to largest."""
    knobs: list[tuple[str, list[dict]]] = []
    work = params.get("workload")
    if work is not None and "clients" in work:          # a KV workload (random)
        knobs.append(("clients", [{"workload": {"clients": k}}
                                  for k in range(1, work["clients"])]))
        done = _ops_per_client(original)
        if done:
            limit = work.get("ops_per_client") or done
            knobs.append(("operations per client",
                          [{"workload": {"ops_per_client": k}}
                           for k in sorted({max(1, limit // d) for d in (16, 8, 4, 2)})
                           if k < limit]))
        knobs.append(("keys", [{"workload": {"keys": k}} for k in range(1, work["keys"])]))
    if work is not None and work.get("burst_p"):         # random-raft's proposer
        knobs.append(("bursts", [{"workload": {"burst_p": 0.0}}]))
    if work is not None and work.get("snapshot_interval"):
        knobs.append(("snapshots", [{"workload": {"snapshot_interval": 0}}]))
    if params.get("hunt", {}).get("p"):
        knobs.append(("leader hunt", [{"hunt": {"p": 0.0}}]))
    net = params.get("net", {})
    knobs.append(("network", [{"net": {"reliable": True}}] if not net.get("reliable") else []))
    for knob in ("duplicate", "reorder"):
        if net.get(knob):
            knobs.append((knob, [{"net": {knob: 0.0}}]))
    if net.get("long_reordering"):
        knobs.append(("long reordering", [{"net": {"long_reordering": False}}]))
    return knobs


def _ops_per_client(result: RunResult) -> int:
    return int(result.facts.get("operations", 0) / max(1, _clients(result)))


def _clients(result: RunResult) -> int:
    work = (result.drawn or {}).get("workload") or {}
    return int(work.get("clients", 1))


def _apply(params: dict[str, Any], change: dict[str, dict]) -> dict[str, Any]:
    out = dict(params)
    for section, values in change.items():
        out[section] = {**params.get(section, {}), **values}
    return out


def _describe(change: dict[str, dict]) -> str:
    return ", ".join(f"{k}={v}" for values in change.values() for k, v in values.items())
