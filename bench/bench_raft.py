"""Raft figures of the foundation, on one core, tracing and safety invariants on (as always):

(a) delivered messages per wall second, 5-node cluster under client load;
(b) wall time of the whole Raft suite (28 lab tests) at seed 1;
(c) seeds per minute of ``random-raft`` (5 nodes, 10 virtual seconds, random faults).

Targets: (a) >= 150,000 msgs/s, (b) <= 10 s, (c) >= 3,000 seeds/min. The machine is shared:
the load average is printed with the figures.

    python bench/bench_raft.py [--seeds 200] [--load-ms 20000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, Generator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scenarios.harness.raft import RaftCluster  # noqa: E402
from scenarios.registry import Scenario, all_scenarios  # noqa: E402
from scenarios.runner import RunContext, run_scenario  # noqa: E402
from sim import NetParams  # noqa: E402


def client_load(duration_ms: float, every_ms: float):
    def body(ctx: RunContext) -> Generator[Any, Any, None]:
        c = RaftCluster(ctx, 5, net_params=NetParams(reliable_delay=1.0))
        leader = yield from c.check_one_leader()
        n = 0
        while ctx.now < duration_ms:
            _, _, ok = c.start(leader, n)
            if not ok:
                leader = yield from c.check_one_leader()
            n += 1
            yield ctx.sleep(every_ms)
        c.end()
    return Scenario("bench-load", "bench", "client load", body, time_limit_ms=duration_ms * 2)


def bench_load(duration_ms: float) -> None:
    best = None
    for _ in range(3):
        started = time.perf_counter()
        r = run_scenario(client_load(duration_ms, 1.0), 1)
        wall = time.perf_counter() - started
        delivered = r.messages
        rate = delivered / wall
        best = max(best or 0, rate)
        print(f"  {delivered:,} messages ({r.facts.get('committed', 0):,} entries committed) "
              f"in {wall:.2f} s: {rate:,.0f} msgs/s")
    print(f"(a) client load, 5 nodes, traced: best {best:,.0f} msgs/s (target >= 150,000)")


def bench_suite() -> None:
    names = [s.name for s in all_scenarios() if s.suite in ("3A", "3B", "3C", "3D")]
    started = time.perf_counter()
    failed = [n for n in names if not run_scenario(n, 1).passed]
    wall = time.perf_counter() - started
    print(f"(b) Raft suite, {len(names)} tests at seed 1: {wall:.2f} s wall (target <= 10 s)"
          + (f"; FAILED: {failed}" if failed else ""))


def bench_random(seeds: int) -> None:
    started = time.perf_counter()
    msgs = 0
    for seed in range(1, seeds + 1):
        r = run_scenario("random-raft", seed)
        msgs += r.messages
        if not r.passed:
            print(f"  seed {seed}: {r.outcome} {r.failure}")
    wall = time.perf_counter() - started
    print(f"(c) random-raft, {seeds} seeds: {wall / seeds * 1000:.1f} ms/seed, "
          f"{seeds / wall * 60:,.0f} seeds/min on one core, {msgs / seeds:,.0f} msgs/seed "
          f"(target >= 3,000 seeds/min)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--load-ms", type=float, default=20_000)
    parser.add_argument("--only", choices=("a", "b", "c"))
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    if args.only in (None, "a"):
        bench_load(args.load_ms)
    if args.only in (None, "b"):
        bench_suite()
    if args.only in (None, "c"):
        bench_random(args.seeds)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
