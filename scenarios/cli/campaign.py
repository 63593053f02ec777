"""``raftsim campaign``: run a scenario over a seed range in parallel, results in SQLite.

    raftsim campaign random --seeds 1..1000 --jobs 2 --db runs.db
    raftsim campaign random --seeds 1..1000 --jobs 2 --db runs.db --resume
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections import Counter
from typing import Any

from scenarios.campaign import CampaignDB, SeedResult, run_campaign
from scenarios.cli.common import exit_code, find_scenario, parse_seeds
from scenarios.errors import EXIT_INTERRUPTED, BadInput
from scenarios.runner import replay_command

__all__ = ["add_parser", "run"]

FAILURES_SHOWN = 20


def add_parser(sub: Any) -> None:
    p = sub.add_parser("campaign", help="run a scenario over many seeds, results in SQLite")
    p.add_argument("scenario", help="a scenario name, or 'random' (a fault profile per seed)")
    p.add_argument("--seeds", "--seed", dest="seeds", required=True, help="range A..B")
    p.add_argument("--jobs", "-j", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--db", help="SQLite file (default campaign-SCENARIO.db)")
    p.add_argument("--resume", action="store_true",
                   help="continue the campaign in --db: run only seeds without a result")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    scenario = find_scenario(args.scenario).name
    seeds = parse_seeds(args.seeds)
    if args.jobs < 1:
        raise BadInput(f"--jobs must be at least 1, got {args.jobs}")
    path = args.db or f"campaign-{scenario}.db"
    db = CampaignDB(path, scenario, create=not args.resume)   # CampaignError is bad input
    done = db.done_seeds()
    todo = [s for s in seeds if s not in done]
    print(f"campaign {scenario}: seeds {seeds[0]}..{seeds[-1]} ({len(todo)} to run, "
          f"{len(seeds) - len(todo)} already in {path}), {args.jobs} worker(s)")
    progress = _Progress(len(todo))
    started = time.perf_counter()        # wall time, reported only
    interrupted = False
    runner = run_campaign(scenario, todo, args.jobs, db, progress.update)
    previous = signal.signal(signal.SIGTERM, _interrupt)   # a polite kill stops like Ctrl-C
    try:
        for _ in runner:
            pass
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGTERM, previous)
        runner.close()
        progress.finish()
    elapsed = time.perf_counter() - started
    results = db.results(seeds)
    db.close()
    _summary(scenario, results, progress.count, elapsed, args.jobs)
    if interrupted:
        print(f"interrupted: {len(results)} of {len(seeds)} seeds have results; continue with "
              f"`raftsim campaign {scenario} --seeds {args.seeds} --db {path} --resume`")
        return EXIT_INTERRUPTED
    return exit_code(r.outcome for r in results)   # a crash or an error counts as a failure


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class _Progress:
    """A one-line progress bar on stderr when it is a terminal."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.count = 0
        self.bad = 0
        self.tty = sys.stderr.isatty()
        self.started = time.perf_counter()

    def update(self, result: SeedResult) -> None:
        self.count += 1
        self.bad += result.outcome != "pass"
        if not self.tty:
            return
        width = 30
        filled = int(width * self.count / max(1, self.total))
        rate = self.count / max(1e-9, time.perf_counter() - self.started)
        eta = (self.total - self.count) / rate if rate else 0
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.count}/{self.total}"
                         f"  not passed: {self.bad}  {rate * 60:,.0f} seeds/min  "
                         f"eta {eta:,.0f} s ")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.tty and self.count:
            sys.stderr.write("\n")


def _summary(scenario: str, results: list[SeedResult], ran: int, elapsed: float,
             jobs: int) -> None:
    counts = Counter(r.outcome for r in results)
    print(f"{'outcome':<10} seeds")
    for outcome in ("pass", "fail", "unknown", "error", "crash"):
        if counts.get(outcome):
            print(f"{outcome:<10} {counts[outcome]}")
    if ran:
        print(f"wall time  {elapsed:.1f} s for {ran} seeds ({ran / elapsed * 60:,.0f} seeds/min "
              f"on {jobs} worker(s))")
    bad = [r for r in results if r.outcome != "pass"]
    if bad:
        print("not passed:")
    for r in bad[:FAILURES_SHOWN]:
        print(f"  seed {r.seed}: {r.outcome} ({r.failure_kind}): {r.failure}")
        print(f"    replay: {replay_command(scenario, r.seed)}")
    if len(bad) > FAILURES_SHOWN:
        print(f"  ... and {len(bad) - FAILURES_SHOWN} more (see the results table of the db)")
