"""Raft figures, on one core, tracing and safety invariants on (as always), in CPU seconds
(``time.process_time``) beside wall time, each the median of ``--repeat`` runs:

(a) delivered messages per CPU second, 5-node cluster under client load;
(b) ReliableChurn3C at seed 1: delivered messages per CPU second;
(c) CPU seconds of the whole Raft suite (the 3A-3D lab tests) at seed 1;
(d) seeds per CPU minute of ``random-raft`` (5 nodes, 10 virtual seconds, random faults);
(e) CLI start-up: CPU seconds of ``raftsim list`` (a fresh interpreter each time);
(f) memory of the 5-node load over ``--mem-seconds`` virtual seconds (a fresh process per
    figure, no message or trace-record budget): peak RSS, and the tracemalloc peak (what the
    run's Python objects reached), each also per virtual second. Not part of the default set
    (it takes a while): ask for it with ``--only f``.

Targets: (a), (b) >= 150,000 msgs/s, (c) <= 1 s, (d) >= 5,000 seeds/min, (e) <= 0.15 s,
(f) a 10-minute load run in a few hundred MB.
The machine is shared: the load average is printed with the figures. See docs/performance.md.

    python bench/bench_raft.py [--repeat 3] [--seeds 200] [--load-ms 20000] [--only a|b|c|d|e|f]
                               [--mem-seconds 30,120]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any, Generator

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cpu import (bare_interpreter, cli_startup, load, run_delivered, timed,  # noqa: E402
                  track_worlds)

from scenarios.harness.raft import RaftCluster  # noqa: E402
from scenarios.registry import Scenario, all_scenarios  # noqa: E402
from scenarios.runner import RunContext, run_scenario  # noqa: E402
from sim import NetParams  # noqa: E402


def client_load(duration_ms: float, every_ms: float) -> Scenario:
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


def bench_rate(label: str, scenario: Any, repeat: int) -> None:
    t = timed(lambda: run_delivered(scenario, 1), repeat)
    result, delivered = t.value
    print(f"{label}: {delivered / t.cpu:,.0f} delivered msgs per CPU s (target >= 150,000); "
          f"{delivered:,} delivered, {t.spread()}, {result.outcome}, digest {result.digest}")


def bench_suite(repeat: int) -> None:
    names = [s.name for s in all_scenarios() if s.suite in ("3A", "3B", "3C", "3D")]
    t = timed(lambda: [n for n in names if not run_scenario(n, 1).passed], repeat)
    print(f"(c) Raft suite, {len(names)} tests at seed 1: {t.cpu:.2f} CPU s (target <= 1 s); "
          f"{t.spread()}" + (f"; FAILED: {t.value}" if t.value else ""))


def bench_random(seeds: int, repeat: int) -> None:
    def work() -> tuple[int, list[str]]:
        msgs, bad = 0, []
        for seed in range(1, seeds + 1):
            r = run_scenario("random-raft", seed)
            msgs += r.messages
            if not r.passed:
                bad.append(f"seed {seed}: {r.outcome} {r.failure}")
        return msgs, bad
    t = timed(work, repeat)
    msgs, bad = t.value
    print(f"(d) random-raft, {seeds} seeds: {seeds / t.cpu * 60:,.0f} seeds per CPU minute "
          f"(target >= 5,000); {t.cpu / seeds * 1000:.1f} CPU ms/seed, {msgs / seeds:,.0f} "
          f"msgs sent/seed; {t.spread()}")
    for line in bad:
        print("   ", line)
    # What a seed costs before and after its messages: world, network, hosts, streams,
    # scenario objects, the first election and the final checks, with no virtual time between.
    short = {"duration_ms": 0.001}
    fixed = timed(lambda: [run_scenario("random-raft", s, params=short)
                           for s in range(1, seeds + 1)], repeat)
    print(f"    fixed cost of a seed (duration_ms=0.001: set-up, one election, the checks): "
          f"{fixed.cpu / seeds * 1000:.2f} CPU ms/seed, "
          f"{fixed.cpu / t.cpu:.1%} of a 10-virtual-second seed")


def bench_cli(repeat: int) -> None:
    cpu, wall = cli_startup(["list"], max(repeat, 5), cached=True)
    cold, _ = cli_startup(["list"], max(repeat, 5), cached=False)
    bare = bare_interpreter(max(repeat, 5))
    print(f"(e) CLI start-up, raftsim list: {cpu:.3f} CPU s with cached bytecode (target <= "
          f"0.15 s), wall {wall:.3f} s; {cold:.3f} CPU s compiling every module "
          f"(PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}); "
          f"the bare interpreter: {bare:.3f} CPU s")


def memory_child(seconds: float, traced: bool) -> None:
    """In a fresh process: run ``seconds`` virtual seconds of the load and print, as JSON,
    the peak RSS (MB) and, with ``traced``, the tracemalloc peak (MB)."""
    from scenarios.runner import run_scenario
    if traced:
        tracemalloc.start()
    if seconds > 0:
        result = run_scenario(client_load(seconds * 1000, 1.0), 1, max_messages=None,
                              max_records=10**10)
        assert result.passed, result.failure
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if traced else None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024     # KB on Linux
    print(json.dumps({"rss_mb": rss, "traced_mb": peak}))


def _child(seconds: float, traced: bool) -> dict[str, float]:
    args = [sys.executable, __file__, "--memory-child", str(seconds)]
    out = subprocess.run(args + (["--traced"] if traced else []), check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def bench_memory(seconds: list[float]) -> None:
    base = _child(0, False)["rss_mb"]
    print(f"(f) memory of the 5-node load (no budgets); imports alone: {base:.1f} MB RSS")
    for s in seconds:
        rss = _child(s, False)["rss_mb"]
        traced = _child(s, True)["traced_mb"]
        print(f"    {s:g} virtual s: peak RSS {rss:.1f} MB ({(rss - base) / s:.3f} MB per "
              f"virtual s above imports); tracemalloc peak {traced:.1f} MB "
              f"({traced / s:.3f} MB per virtual s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--load-ms", type=float, default=20_000)
    parser.add_argument("--only", choices=("a", "b", "c", "d", "e", "f"))
    parser.add_argument("--mem-seconds", default="30,120",
                        help="virtual seconds of load for (f), comma-separated")
    parser.add_argument("--memory-child", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child is not None:
        memory_child(args.memory_child, args.traced)
        return
    track_worlds()
    print(f"medians of {args.repeat} runs; {load()}")
    if args.only in (None, "a"):
        bench_rate(f"(a) client load, 5 nodes, {args.load_ms:g} virtual ms",
                   client_load(args.load_ms, 1.0), args.repeat)
    if args.only in (None, "b"):
        bench_rate("(b) ReliableChurn3C seed 1", "ReliableChurn3C", args.repeat)
    if args.only in (None, "c"):
        bench_suite(args.repeat)
    if args.only in (None, "d"):
        bench_random(args.seeds, args.repeat)
    if args.only in (None, "e"):
        bench_cli(args.repeat)
    if args.only == "f":
        bench_memory([float(x) for x in args.mem_seconds.split(",")])
    print(load())


if __name__ == "__main__":
    main()
