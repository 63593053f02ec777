"""Running a campaign on this machine: one scenario over many seeds, in worker processes.

Every seed runs in a worker process, even with one job: a worker that dies (segfault, out of
memory, killed) is recorded as outcome ``crash`` for the seed it was running and replaced; it
never ends the campaign. Workers are plain processes, one task at a time over a pipe: the parent
always knows which task each worker holds, and is the only writer of the database. Workers ignore
Ctrl-C and die quietly on SIGTERM: only the parent reports an interruption.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from collections import deque
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Generator, Iterable, Iterator

from scenarios.campaign.db import CampaignDB, SeedResult
from scenarios.campaign.work import Ledger, Task, perform, run_one

__all__ = ["run_campaign", "run_one"]


def _worker(conn: Connection, scenario: str, params: dict[str, Any] | None,
            parent: int) -> None:
    """Run tasks received over ``conn`` until told to stop or the parent goes away.

    A forked worker holds copies of its siblings' pipe ends, so a dead parent does not always
    close the pipe: the worker also watches its parent's pid.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # the parent handles Ctrl-C
    signal.signal(signal.SIGTERM, signal.SIG_DFL)   # not the parent's handler: die quietly
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    while True:
        try:
            while not conn.poll(0.5):
                if os.getppid() != parent:
                    return
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        conn.send(perform(scenario, params, task))


class _Slot:
    def __init__(self, ctx: Any, scenario: str, params: dict[str, Any] | None) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, scenario, params, os.getpid()),
                                daemon=True)
        # Signals wait until the child has set its own handlers: a Ctrl-C during the fork
        # must not raise KeyboardInterrupt (and print a traceback) in the child.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            self.proc.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        child.close()
        self.task: Task | None = None
        self.name = f"pid {self.proc.pid}"


def run_campaign(scenario: str, seeds: Iterable[int], jobs: int, db: CampaignDB,
                 on_result: Callable[[SeedResult], None] = lambda r: None,
                 params: dict[str, Any] | None = None, spot_check: float = 0.0,
                 rechecks: Iterable[SeedResult] = (),
                 ledger: Ledger | None = None) -> Generator[None, None, None]:
    """Run ``seeds`` on ``jobs`` worker processes, storing each result as it arrives.

    ``params`` (the same for every seed) override what the scenario would draw. A fraction
    ``spot_check`` of the seeds (a fixed sample) is run a second time on another worker where
    there is one, and a different digest makes the seed ``nondeterministic``; ``rechecks`` are
    stored results whose re-run is still due (a resumed campaign).

    A generator so the caller controls interruption: closing it (or Ctrl-C) stops the workers;
    everything already stored stays stored.
    """
    ledger = ledger or Ledger(db, scenario, params, spot_check, on_result)
    todo: Iterator[int] = iter(seeds)
    again: deque[tuple[Task, str | None]] = deque(
        (ledger.task(r.seed, r.digest), r.worker) for r in rechecks if r.digest is not None)
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    slots = [_Slot(ctx, scenario, params) for _ in range(max(1, jobs))]
    try:
        _fill(slots, todo, again, ledger)
        while any(slot.task is not None for slot in slots):
            busy = [s for s in slots if s.task is not None]
            ready = wait([s.conn for s in busy] + [s.proc.sentinel for s in busy])
            for slot in busy:
                answer = _collect(slot, ready)
                if answer is None:
                    continue
                task = slot.task
                assert task is not None
                slot.task = None
                if isinstance(answer, str):          # the worker died
                    ledger.lost(task, answer)
                    slot.proc.join(timeout=1)
                    slots[slots.index(slot)] = _Slot(ctx, scenario, params)
                else:
                    follow = ledger.accept(answer)
                    if follow is not None:
                        again.append((follow, slot.name))
                _fill(slots, todo, again, ledger)
                yield
    finally:
        for slot in slots:
            _stop(slot)


def _fill(slots: list[_Slot], todo: Iterator[int],
          again: deque[tuple[Task, str | None]], ledger: Ledger) -> None:
    """Give each idle worker its next task: a due re-run that another worker ran first, else a
    seed. A re-run waits for another worker while one is busy; it runs where it ran first only
    when there is no other worker, or nothing else is left to run."""
    for slot in slots:
        if slot.task is not None:
            continue
        task: Task | None = None
        for i, (recheck, first) in enumerate(again):
            if first != slot.name or len(slots) == 1:
                task = recheck
                del again[i]
                break
        if task is None:
            seed = next(todo, None)
            if seed is not None:
                task = ledger.task(seed)
        if task is None and again and not any(s.task is not None for s in slots):
            task = again.popleft()[0]
        slot.task = task
        if task is not None:
            slot.conn.send(task)


def _collect(slot: _Slot, ready: list) -> Any:
    """The answer a worker sent, why it died (a str), or None if it is still busy."""
    if slot.conn in ready:
        try:
            return slot.conn.recv()
        except (EOFError, OSError):
            pass
    elif slot.proc.sentinel not in ready:
        return None
    slot.proc.join(timeout=1)
    return f"worker process died (exit code {slot.proc.exitcode})"


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
