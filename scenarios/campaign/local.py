"""Running a campaign on this machine: one scenario over many seeds, in worker processes.

A worker that dies (segfault, out of memory, killed) is recorded as outcome ``crash`` for the
seed it was running and replaced; it never ends the campaign. Workers are plain processes, one
seed at a time over a pipe: the parent always knows which seed each worker holds, and is the
only writer of the database.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
import traceback
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Generator

from scenarios.campaign.db import CampaignDB, SeedResult
from scenarios.runner import run_scenario

__all__ = ["run_campaign", "run_one"]


# ---------------------------------------------------------------- running one seed

def run_one(scenario: str, seed: int, params: dict[str, Any] | None = None) -> SeedResult:
    """Run one seed; turns a bug in raftsim into an ``error`` result instead of raising."""
    started = time.perf_counter()          # wall time, reported only
    try:
        r = run_scenario(scenario, seed, params=params)
    except Exception as exc:               # a bug in raftsim itself: keep going, record it
        last = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{os.path.basename(last.filename)}:{last.lineno}"
        return SeedResult(seed, scenario, "error", "error", f"{type(exc).__name__}: {exc} "
                          f"(at {where})", wall_s=time.perf_counter() - started)
    kind, message = (r.failure.kind, r.failure.message) if r.failure is not None else (None, None)
    drawn = json.dumps(r.drawn, sort_keys=True) if r.drawn is not None else None
    return SeedResult(seed, scenario, r.outcome, kind, message, r.digest, r.virtual_ms,
                      r.messages, r.bytes, r.wall_s, drawn)


def _worker(conn: Connection, scenario: str, params: dict[str, Any] | None,
            parent: int) -> None:
    """Run seeds received over ``conn`` until told to stop or the parent goes away.

    A forked worker holds copies of its siblings' pipe ends, so a dead parent does not always
    close the pipe: the worker also watches its parent's pid.
    """
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent handles Ctrl-C
    while True:
        try:
            while not conn.poll(0.5):
                if os.getppid() != parent:
                    return
            seed = conn.recv()
        except (EOFError, OSError):
            return
        if seed is None:
            return
        conn.send(run_one(scenario, seed, params))


# ---------------------------------------------------------------- the pool

class _Slot:
    def __init__(self, ctx: Any, scenario: str, params: dict[str, Any] | None) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, scenario, params, os.getpid()),
                                daemon=True)
        self.proc.start()
        child.close()
        self.seed: int | None = None


def run_campaign(scenario: str, seeds: list[int], jobs: int, db: CampaignDB,
                 on_result: Callable[[SeedResult], None] = lambda r: None,
                 params: dict[str, Any] | None = None) -> Generator[None, None, None]:
    """Run ``seeds`` on ``jobs`` workers, storing each result as it arrives.

    ``params`` (the same for every seed) override what the scenario would draw.

    A generator so the caller controls interruption: closing it (or Ctrl-C) stops the workers;
    everything already stored stays stored.
    """
    if jobs <= 1:
        for seed in seeds:
            done = run_one(scenario, seed, params)
            db.record(done)
            on_result(done)
            yield
        return
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    pending = list(reversed(seeds))
    slots = [_Slot(ctx, scenario, params) for _ in range(min(jobs, len(seeds)))]
    try:
        for slot in slots:
            _dispatch(slot, pending)
        while any(slot.seed is not None for slot in slots):
            busy = [s for s in slots if s.seed is not None]
            ready = wait([s.conn for s in busy] + [s.proc.sentinel for s in busy])
            for slot in busy:
                result = _collect(slot, ready, scenario)
                if result is None:
                    continue
                db.record(result)
                on_result(result)
                if result.outcome == "crash":
                    slot.proc.join(timeout=1)
                    slots[slots.index(slot)] = slot = _Slot(ctx, scenario, params)
                _dispatch(slot, pending)
                yield
    finally:
        for slot in slots:
            _stop(slot)


def _dispatch(slot: _Slot, pending: list[int]) -> None:
    slot.seed = pending.pop() if pending else None
    if slot.seed is not None:
        slot.conn.send(slot.seed)


def _collect(slot: _Slot, ready: list, scenario: str) -> SeedResult | None:
    """The result a worker sent, a ``crash`` result if it died, or None if still busy."""
    if slot.conn in ready:
        try:
            return slot.conn.recv()
        except (EOFError, OSError):
            pass
    elif slot.proc.sentinel not in ready:
        return None
    assert slot.seed is not None, "only a busy slot has a result to collect"
    slot.proc.join(timeout=1)
    return SeedResult(slot.seed, scenario, "crash", "crash",
                      f"worker process died (exit code {slot.proc.exitcode})")


def _stop(slot: _Slot) -> None:
    try:
        slot.conn.send(None)
    except (OSError, ValueError):
        pass
    slot.proc.join(timeout=0.5)
    if slot.proc.is_alive():
        slot.proc.terminate()
        slot.proc.join(timeout=1)
    slot.conn.close()
