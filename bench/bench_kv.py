"""KV figures, tracing, safety invariants and linearizability checks on (as always), in CPU
seconds (``time.process_time``) beside wall time, each the median of ``--repeat`` runs:

(1) seeds per minute of a KV campaign with 2 workers: 5 servers, 5 clients, 10 virtual seconds,
    random faults (profile, network and schedule drawn per seed), every history checked
    (wall time: the workers are other processes);
(2) CPU seconds of the whole kvraft suite (the 4A and 4B lab tests) at seed 1, one core;
(3) Basic4A at seed 1: delivered messages per CPU second.

Targets: (1) >= 600 seeds/min, (2) <= 8 s, (3) >= 150,000 msgs/s. The load average is printed
with the figures. See docs/performance.md.

    python bench/bench_kv.py [--repeat 3] [--seeds 200] [--jobs 2] [--only 1|2|3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cpu import load, run_delivered, timed, track_worlds  # noqa: E402

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
    print(f"(1) KV campaign, {seeds} seeds, {jobs} workers: {wall:.1f} s wall, "
          f"{seeds / wall * 60:,.0f} seeds/min (target >= 600); {msgs:,.0f} msgs/seed; "
          f"outcomes {dict(outcomes)}")


def bench_suite(repeat: int) -> None:
    names = [s.name for s in all_scenarios() if s.suite in ("4A", "4B")]
    cpu: dict[str, list[float]] = {n: [] for n in names}
    info: dict[str, tuple[int, str]] = {}

    def work() -> None:
        for name in names:
            t = time.process_time()
            r = run_scenario(name, 1)
            cpu[name].append(time.process_time() - t)
            info[name] = (r.messages, r.outcome)
    t = timed(work, repeat)
    print(f"(2) kvraft suite, {len(names)} tests at seed 1: {t.cpu:.2f} CPU s (target <= 8 s); "
          f"{t.spread()}")
    slowest = sorted(((statistics.median(c), n) for n, c in cpu.items()), reverse=True)
    for c, name in slowest[:5]:
        msgs, outcome = info[name]
        print(f"    {name:<48} {c:6.2f} CPU s  {msgs:>8,} msgs sent  {outcome}")


def bench_basic(repeat: int) -> None:
    t = timed(lambda: run_delivered("Basic4A", 1), repeat)
    result, delivered = t.value
    print(f"(3) Basic4A seed 1: {delivered / t.cpu:,.0f} delivered msgs per CPU s "
          f"(target >= 150,000); {delivered:,} delivered, {t.spread()}, {result.outcome}, "
          f"digest {result.digest}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", choices=("1", "2", "3"))
    args = parser.parse_args()
    track_worlds()
    print(f"medians of {args.repeat} runs; {load()}")
    if args.only in (None, "1"):
        bench_campaign(args.seeds, args.jobs)
    if args.only in (None, "2"):
        bench_suite(args.repeat)
    if args.only in (None, "3"):
        bench_basic(args.repeat)
    print(load())


if __name__ == "__main__":
    main()
