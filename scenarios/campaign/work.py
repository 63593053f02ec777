"""What a campaign worker does, whichever engine hands it seeds (the local pool or Dask), and what
the client does with each answer.

A task is ``(seed, expect)`` or ``(seed, expect, params)`` (a guided campaign gives each seed
its own params): ``expect`` None runs the seed (a ``SeedResult``); a digest runs it
again for the determinism spot-check (a ``Recheck``, carrying the re-run's trace lines only when
its digest differs). ``Ledger`` is the client's side: it stores every answer in the database the
moment it arrives, decides which seeds to re-run (a fixed sample, the same on every machine and
every resume) and turns a mismatch into outcome ``nondeterministic``. Nothing here imports Dask.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Callable

from scenarios.campaign.db import CampaignDB, SeedResult
from scenarios.runner import run_scenario

#: The wall-clock budget of one seed in a campaign: a seed that takes longer fails with kind
#: ``budget``, rule ``wall-time`` (recorded like any failure), so a pathological seed never
#: holds a worker for ever. Far above any correct seed (the slowest lab scenario takes ~10 s).
SEED_WALL_BUDGET_S = 120.0

__all__ = ["Task", "Recheck", "run_one", "perform", "perform_batch", "sampled", "fingerprint",
           "Ledger",
           "MAX_SEED"]

#: Seeds are stored as SQLite integers (signed 64-bit): larger ones are refused up front.
MAX_SEED = 2**63 - 1

Task = tuple[Any, ...]     # (seed, digest or None[, the seed's own params as JSON text])


@dataclass
class Recheck:
    """The answer of a spot-check re-run: its digest, where it ran, and (on a mismatch, or if
    it did not finish) its trace lines or what went wrong."""
    seed: int
    expect: str
    digest: str | None
    worker: str
    lines: list[bytes] | None = None
    problem: str | None = None


def worker_name() -> str:
    """Who is running this task: the Dask worker's address, else ``pid N`` on this host."""
    dask = sys.modules.get("distributed")     # loaded where Dask runs the task, never here
    if dask is not None:
        try:
            return str(dask.get_worker().address)
        except ValueError:                    # not inside a Dask task
            pass
    return f"pid {os.getpid()}"


def run_one(scenario: str, seed: int, params: dict[str, Any] | None = None) -> SeedResult:
    """Run one seed; turns a bug in raftsim into an ``error`` result instead of raising."""
    started = time.perf_counter()          # wall time, reported only
    try:
        r = run_scenario(scenario, seed, params=params, wall_budget_s=SEED_WALL_BUDGET_S)
    except Exception as exc:               # a bug in raftsim itself: keep going, record it
        return SeedResult(seed, scenario, "error", "error", _describe(exc),
                          wall_s=time.perf_counter() - started, worker=worker_name())
    kind, message = (r.failure.kind, r.failure.message) if r.failure is not None else (None, None)
    drawn = json.dumps(r.drawn, sort_keys=True) if r.drawn is not None else None
    # coverage is measured by the random scenarios (those that draw): NULL for the others
    coverage = json.dumps(r.coverage, sort_keys=True) if r.drawn is not None else None
    return SeedResult(seed, scenario, r.outcome, kind, message, r.digest, r.virtual_ms,
                      r.messages, r.bytes, r.wall_s, drawn, worker=worker_name(),
                      coverage=coverage)


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def perform(scenario: str, params: dict[str, Any] | None, task: Task,
            source: str | None = None) -> SeedResult | Recheck:
    """Run one task on a worker. ``source`` is the client's ``fingerprint()``: a worker whose
    code differs refuses to run (the client reports it as bad input), since its digests would
    differ for no fault of the seed."""
    if source is not None and source != fingerprint():
        raise RuntimeError(f"raftsim source differs: worker {fingerprint()}, client {source}")
    seed, expect = task[0], task[1]
    if len(task) > 2:                      # the seed's own params, as JSON text (hashable)
        params = json.loads(task[2])
    if expect is None:
        return run_one(scenario, seed, params)
    try:
        r = run_scenario(scenario, seed, params=params, keep_lines=True)
    except Exception as exc:
        return Recheck(seed, expect, None, worker_name(), problem=_describe(exc))
    lines = r.lines if r.digest != expect else None     # send the lines only when needed
    return Recheck(seed, expect, r.digest, worker_name(), lines)


def perform_batch(scenario: str, params: dict[str, Any] | None, batch: tuple[Task, ...],
                  source: str | None = None) -> list[SeedResult | Recheck]:
    """``perform`` each task of ``batch`` in order: one Dask task for several seeds, so the
    scheduler's cost per task is shared by them."""
    return [perform(scenario, params, task, source) for task in batch]


def sampled(seed: int, fraction: float) -> bool:
    """Whether ``seed`` is in the spot-check sample: a fixed function of the seed, so the
    sample is the same whatever the order, the engine or the number of workers."""
    if fraction <= 0:
        return False
    h = hashlib.blake2b(str(seed).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") < fraction * 2**64


@lru_cache(maxsize=1)
def fingerprint() -> str:
    """raftsim's version and a hash of its source files: two processes with the same
    fingerprint run the same code, so their digests must agree."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        ver = version("raftsim")
    except PackageNotFoundError:
        ver = "unknown"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    h = hashlib.blake2b(digest_size=6)
    for package in ("protocols", "sim", "checkers", "scenarios"):
        for folder, dirs, files in os.walk(os.path.join(root, package)):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    h.update(os.path.relpath(path, root).encode() + b"\0")
                    with open(path, "rb") as f:
                        h.update(f.read())
    return f"{ver}+{h.hexdigest()}"


class Ledger:
    """The client's bookkeeping: store each answer at once, schedule and judge re-runs."""

    def __init__(self, db: CampaignDB, scenario: str, params: dict[str, Any] | None,
                 spot_check: float, on_result: Callable[[SeedResult], None],
                 params_of: Callable[[int], dict[str, Any] | None] | None = None) -> None:
        self.params_of = params_of      # a guided campaign: the params of each seed
        self.db = db
        self.scenario = scenario
        self.params = params
        self.spot_check = spot_check
        self.on_result = on_result
        self.rechecks = 0        # spot-check re-runs done
        self.mismatches = 0

    def accept(self, answer: SeedResult | Recheck) -> Task | None:
        """Record ``answer``; the re-run it calls for, if any (its digest is the expectation)."""
        if isinstance(answer, Recheck):
            self._judge(answer)
            return None
        self.db.record(answer)
        self.on_result(answer)
        if answer.digest is not None and sampled(answer.seed, self.spot_check):
            return self.task(answer.seed, answer.digest)
        return None

    def task(self, seed: int, expect: str | None = None) -> Task:
        """The task that runs ``seed`` (with its own params in a guided campaign)."""
        if self.params_of is None:
            return (seed, expect)
        return (seed, expect, json.dumps(self.params_of(seed), sort_keys=True))

    def lost(self, task: Task, why: str) -> None:
        """A task whose worker died: a crash for a seed, a mismatch for a re-run."""
        seed, expect = task[0], task[1]
        if expect is None:
            self.accept(SeedResult(seed, self.scenario, "crash", "crash", why))
        else:
            self._judge(Recheck(seed, expect, None, "?", problem=why))

    def _judge(self, answer: Recheck) -> None:
        self.rechecks += 1
        first = self.db.result(answer.seed)
        if first is None:                     # cannot happen: the first run is stored first
            return
        if answer.digest == answer.expect:
            self.db.record(replace(first, recheck_digest=answer.digest))
            return
        self.mismatches += 1
        found = replace(first, outcome="nondeterministic", failure_kind="nondeterministic",
                        recheck_digest=answer.digest, failure=self._explain(first, answer))
        self.db.record(found)
        self.on_result(found)

    def _explain(self, first: SeedResult, answer: Recheck) -> str:
        head = (f"digest {first.digest} (first run, {first.worker}) != "
                f"{answer.digest} (re-run, {answer.worker})")
        if answer.lines is None:
            return f"{head}: the re-run did not finish: {answer.problem}"
        # The first run's lines were not kept: a third run here stands in for them when it
        # reproduces the first digest.
        from sim import first_difference
        params = self.params_of(first.seed) if self.params_of is not None else self.params
        third = run_scenario(self.scenario, first.seed, params=params, keep_lines=True)
        diff = first_difference(third.lines or [], answer.lines)
        if diff is None:
            return f"{head}; a third run (client) agrees with the re-run"
        note = "" if third.digest == first.digest else f" (a third run gave {third.digest})"
        return (f"{head}{note}; first difference at trace line {diff.line}: "
                f"{_show(diff.a)} vs {_show(diff.b)}")


def _show(line: bytes | str | None) -> str:
    if line is None:
        return "<end of trace>"
    text = line.decode() if isinstance(line, bytes) else line
    return text if len(text) <= 300 else text[:300] + "..."
