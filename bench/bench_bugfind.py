"""How fast the default campaigns find classic bugs, and how clean the correct code stays.

    python3 bench/bench_bugfind.py                       # every planted bug
    python3 bench/bench_bugfind.py --bugs forget-vote-on-restart append-prepends
    python3 bench/bench_bugfind.py --correct 20000       # correct protocols, each campaign

Bug mode: for each bug of tests/planted_bugs.py (the catalogue the oracle tests use), a
campaign of its scenario (the random one it belongs to: random-raft for Raft bugs, random for
KV bugs) runs seeds 1, 2, ... on 2 worker processes with the bug planted, until the first
failing seed; then that seed is shrunk. Printed per bug: wall seconds and seeds run to the
first failure (seeds with a result when it arrived), the failing seed and its failure, and the
shrunk run's fault count (schedule entries; ``+hunt`` when the shrunk run still isolates new
leaders, whose cuts are not schedule entries; ``*`` when the shrink ran out of time and shows
the smallest failure found by then). Each bug runs in its own process, so a patch never
outlives its bug.

Correct mode: campaigns of random-raft, random and random-shardkv over seeds 1..N each, on 2
workers, with the correct protocols: the outcome counts, seeds per minute and every seed that
did not pass. The databases go to --out (default bench-bugfind/), so an interrupted run resumes
where it stopped. Long: run it in the background.

Figures depend on the machine; they are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT]

CAMPAIGNS = ("random-raft", "random", "random-shardkv")


def campaign_of(bug: Any) -> str:
    """The random scenario a bug is hunted with: its own if random, else by the layer it
    patches (a Raft bug in random-raft)."""
    if bug.scenario.startswith("random"):
        return str(bug.scenario)
    return "random-raft"


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def find_one(name: str, max_seeds: int, jobs: int, timeout_s: float,
             shrink_runs: int, shrink_s: float) -> dict[str, Any]:
    """Plant ``name``, run its campaign until the first failure, shrink it (this process)."""
    from scenarios.campaign import CampaignDB, run_campaign
    from scenarios.shrink import shrink
    from tests.planted_bugs import BUGS, planted

    scenario = campaign_of(BUGS[name])
    out: dict[str, Any] = {"bug": name, "scenario": scenario, "rule": BUGS[name].rule}
    first: list[Any] = []
    count = [0]

    def seen(result: Any) -> None:
        count[0] += 1
        if result.outcome == "fail" and not first:
            first.append((result, count[0], time.perf_counter() - started))

    with planted(name), tempfile.TemporaryDirectory() as tmp:
        db = CampaignDB(os.path.join(tmp, "c.db"), scenario, create=True)
        started = time.perf_counter()
        runner = run_campaign(scenario, range(1, max_seeds + 1), jobs, db, on_result=seen)
        try:
            for _ in runner:
                if first or time.perf_counter() - started > timeout_s:
                    break
        finally:
            runner.close()
            db.close()
        if not first:
            out.update(found=False, seeds=count[0], seconds=time.perf_counter() - started)
            return out
        result, seeds, seconds = first[0]
        out.update(found=True, seed=result.seed, seeds=seeds, seconds=seconds,
                   kind=result.failure_kind, failure=(result.failure or "")[:160])
        t0 = time.perf_counter()
        # A shrink that runs out of time stops like a Ctrl-C: with the smallest failure so far
        signal.signal(signal.SIGALRM, _interrupt)
        signal.alarm(max(1, int(shrink_s)))
        try:
            shrunk = shrink(scenario, result.seed, max_runs=shrink_runs)
        finally:
            signal.alarm(0)
        params = shrunk.params
        out.update(shrunk_faults=len(params.get("schedule", ())), cut_short=shrunk.interrupted,
                   original_faults=len((shrunk.original.drawn or {}).get("schedule", ())),
                   hunt=bool(params.get("hunt", {}).get("p")),
                   shrink_runs=shrunk.runs, shrink_seconds=time.perf_counter() - t0,
                   shrunk_failure=(shrunk.final.failure.message[:120]
                                   if shrunk.final.failure else None))
    return out


def bugs_mode(names: list[str], args: argparse.Namespace) -> None:
    from tests.planted_bugs import BUGS
    names = names or list(BUGS)
    print(f"{'bug':<30} {'campaign':<12} {'seconds':>8} {'seeds':>6} {'seed':>6}  "
          f"{'faults':>13}  failure")
    for name in names:
        cmd = [sys.executable, __file__, "--one", name, "--max-seeds", str(args.max_seeds),
               "--jobs", str(args.jobs), "--timeout", str(args.timeout),
               "--shrink-runs", str(args.shrink_runs), "--shrink-time", str(args.shrink_time)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            print(f"{name:<30} error: {proc.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        if not r["found"]:
            print(f"{name:<30} {r['scenario']:<12} {r['seconds']:>8.1f} {r['seeds']:>6} "
                  f"{'-':>6}  {'-':>13}  not found")
            continue
        faults = (f"{r['original_faults']}->{r['shrunk_faults']}" + ("+hunt" if r["hunt"] else "")
                  + ("*" if r["cut_short"] else ""))
        print(f"{name:<30} {r['scenario']:<12} {r['seconds']:>8.1f} {r['seeds']:>6} "
              f"{r['seed']:>6}  {faults:>13}  {r['kind']}: {r['failure'][:70]}", flush=True)


def correct_mode(n: int, args: argparse.Namespace) -> None:
    from scenarios.campaign import CampaignDB, run_campaign
    os.makedirs(args.out, exist_ok=True)
    for scenario in args.campaigns:
        path = os.path.join(args.out, f"correct-{scenario}.db")
        db = CampaignDB(path, scenario, create=not os.path.exists(path))
        try:
            todo = [s for s in range(1, n + 1) if s not in db.done_seeds(1, n)]
            started = time.perf_counter()
            for _ in run_campaign(scenario, todo, args.jobs, db, spot_check=0.03):
                pass
            elapsed = time.perf_counter() - started
            counts = db.counts(1, n)
            rate = f"{len(todo) / elapsed * 60:,.0f} seeds/min" if todo else "nothing to run"
            print(f"{scenario:<15} seeds 1..{n}: " + ", ".join(
                f"{k} {v}" for k, v in sorted(counts.items())) + f"  ({rate}, {elapsed:.0f} s)",
                flush=True)
            for r in db.not_passed(1, n, 20):
                print(f"  seed {r.seed}: {r.outcome} ({r.failure_kind}): {r.failure}")
        finally:
            db.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bugs", nargs="*", default=[], help="planted bugs by name (default all)")
    p.add_argument("--correct", type=int, metavar="N",
                   help="run the correct protocols over seeds 1..N of each campaign")
    p.add_argument("--campaigns", nargs="*", default=list(CAMPAIGNS))
    p.add_argument("--out", default="bench-bugfind", help="where --correct keeps its dbs")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--max-seeds", type=int, default=3000)
    p.add_argument("--timeout", type=float, default=300.0,
                   help="give up on a bug after this many seconds")
    p.add_argument("--shrink-runs", type=int, default=150)
    p.add_argument("--shrink-time", type=float, default=300.0,
                   help="stop shrinking a bug after this many seconds (smallest so far)")
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(find_one(args.one, args.max_seeds, args.jobs, args.timeout,
                                  args.shrink_runs, args.shrink_time)))
    elif args.correct:
        correct_mode(args.correct, args)
    else:
        bugs_mode(args.bugs, args)


if __name__ == "__main__":
    main()
