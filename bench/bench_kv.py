"""KV figures, tracing, safety invariants and linearizability checks on (as always):

(1) seeds per minute of a KV campaign with 2 workers: 5 servers, 5 clients, 10 virtual seconds,
    random faults (profile, network and schedule drawn per seed), every history checked;
(2) wall time of the whole kvraft suite (23 lab tests) at seed 1, one core.

Targets: (1) >= 600 seeds/min, (2) <= 10 s. The load average is printed with the figures.

    python bench/bench_kv.py [--seeds 200] [--jobs 2] [--only 1|2]
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

WORKLOAD = {"workload": {"servers": 5, "clients": 5, "duration_ms": 10_000.0}}


def bench_campaign(seeds: int, jobs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = CampaignDB(os.path.join(tmp, "bench.db"), "random", create=True)
        started = time.perf_counter()
        for _ in run_campaign("random", list(range(1, seeds + 1)), jobs, db, params=WORKLOAD):
            pass
        wall = time.perf_counter() - started
        results = db.results()
        db.close()
    outcomes = Counter(r.outcome for r in results)
    msgs = sum(r.messages or 0 for r in results) / max(1, len(results))
    print(f"(1) KV campaign, {seeds} seeds, {jobs} workers: {wall:.1f} s, "
          f"{seeds / wall * 60:,.0f} seeds/min (target >= 600); {msgs:,.0f} msgs/seed; "
          f"outcomes {dict(outcomes)}")


def bench_suite() -> None:
    names = [s.name for s in all_scenarios() if s.suite in ("4A", "4B")]
    started = time.perf_counter()
    slowest = []
    for name in names:
        t = time.perf_counter()
        r = run_scenario(name, 1)
        slowest.append((time.perf_counter() - t, name, r.messages, r.outcome))
    wall = time.perf_counter() - started
    slowest.sort(reverse=True)
    print(f"(2) kvraft suite, {len(names)} tests at seed 1: {wall:.1f} s wall (target <= 10 s)")
    for t, name, msgs, outcome in slowest[:5]:
        print(f"    {name:<48} {t:6.2f} s  {msgs:>8,} msgs  {outcome}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", choices=("1", "2"))
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    if args.only in (None, "1"):
        bench_campaign(args.seeds, args.jobs)
    if args.only in (None, "2"):
        bench_suite()
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
