"""Sharded KV figures, with Raft's and the sharding invariants and linearizability checks on:

(1) wall time of the shardctrler and shardkv suites (the Controller*5A scenarios and the 14
    shardkv tests) at seed 1, one core; the lab's own shardkv suite takes about 174 s of real
    time;
(2) seeds per minute of a ``random-shardkv`` campaign with 2 workers (2-4 groups, joins,
    leaves, moves, group crashes and random faults drawn per seed).

Targets: (1) <= 15 s, (2) >= 300 seeds/min. The load average is printed with the figures.

    python bench/bench_shardkv.py [--seeds 200] [--jobs 2] [--only 1|2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scenarios.campaign import CampaignDB, run_campaign  # noqa: E402
from scenarios.registry import all_scenarios  # noqa: E402
from scenarios.runner import run_scenario  # noqa: E402


def bench_suites() -> None:
    names = [s.name for s in all_scenarios() if s.suite in ("5A", "5B")]
    started = time.perf_counter()
    timings = []
    for name in names:
        t = time.perf_counter()
        r = run_scenario(name, 1)
        timings.append((time.perf_counter() - t, name, r.messages, r.outcome))
    wall = time.perf_counter() - started
    timings.sort(reverse=True)
    print(f"(1) shardctrler + shardkv suites, {len(names)} tests at seed 1: {wall:.1f} s wall "
          f"(target <= 15 s; the lab's shardkv alone: ~174 s)")
    for t, name, msgs, outcome in timings[:5]:
        print(f"    {name:<28} {t:6.2f} s  {msgs:>8,} msgs  {outcome}")


def bench_campaign(seeds: int, jobs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = CampaignDB(os.path.join(tmp, "bench.db"), "random-shardkv", create=True)
        started = time.perf_counter()
        for _ in run_campaign("random-shardkv", list(range(1, seeds + 1)), jobs, db):
            pass
        wall = time.perf_counter() - started
        results = db.results()
        db.close()
    outcomes = Counter(r.outcome for r in results)
    print(f"(2) random-shardkv campaign, {seeds} seeds, {jobs} workers: {wall:.1f} s, "
          f"{seeds / wall * 60:,.0f} seeds/min (target >= 300); outcomes {dict(outcomes)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", choices=("1", "2"))
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    if args.only in (None, "1"):
        bench_suites()
    if args.only in (None, "2"):
        bench_campaign(args.seeds, args.jobs)


if __name__ == "__main__":
    main()
