"""``raftsim campaign``: run a scenario over a seed range in parallel, results in SQLite.

    raftsim campaign random --seeds 1..1000 --jobs 2 --db runs.db
    raftsim campaign random --seeds 1..1000 --jobs 2 --db runs.db --resume
    raftsim campaign random --seeds 1..100000 --scheduler tcp://10.0.0.5:8786 --db runs.db
    raftsim campaign random --seeds 1..2000 --jobs 2 --guided --coverage

The summary ends with the coverage of the random scenarios (``--coverage``: point by point);
``--guided`` steers each round of seeds toward the swarm biases that reach rare points
(scenarios/campaign/guided.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import signal
import sys
import time
from typing import Any, Callable, Iterator

from scenarios.campaign import MAX_SEED, CampaignDB, Ledger, SeedResult, run_campaign, sampled
from scenarios.campaign.db import coverage_summary
from scenarios.campaign.guided import ROUND, Guide
from scenarios.cli.common import exit_code, find_scenario, parse_seeds
from scenarios.errors import EXIT_INTERRUPTED, BadInput
from scenarios.runner import replay_command

__all__ = ["add_parser", "run"]

FAILURES_SHOWN = 20
OUTCOMES = ("pass", "fail", "unknown", "error", "crash", "nondeterministic")
DEFAULT_SPOT_CHECK = 0.03
CHUNK = 65536          # seeds whose stored results are looked up at a time


def add_parser(sub: Any) -> None:
    p = sub.add_parser("campaign", help="run a scenario over many seeds, results in SQLite")
    p.add_argument("scenario", help="a scenario name, or 'random' (a fault profile per seed)")
    p.add_argument("--seeds", "--seed", dest="seeds", required=True, help="range A..B")
    p.add_argument("--jobs", "-j", type=int, default=None,
                   help="worker processes on this machine (default 1)")
    p.add_argument("--scheduler", metavar="ADDR",
                   help="run on Dask: tcp://HOST:PORT of a running scheduler, or local:N to "
                        "start N local workers")
    p.add_argument("--db", help="SQLite file (default campaign-SCENARIO.db)")
    p.add_argument("--resume", action="store_true",
                   help="continue the campaign in --db: run only seeds without a result")
    p.add_argument("--retry-crashed", action="store_true",
                   help="with --resume: also run again the seeds recorded as crash")
    p.add_argument("--spot-check", type=float, default=None, metavar="FRACTION",
                   help=f"re-run this fraction of the seeds on another worker and compare "
                        f"digests (default {DEFAULT_SPOT_CHECK}; 0 turns it off)")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per seed on stdout (the rest goes to stderr)")
    p.add_argument("--guided", action="store_true",
                   help="coverage-guided: give each round of seeds the swarm biases that "
                        "reach rarely covered points (random scenarios)")
    p.add_argument("--coverage", action="store_true",
                   help="end with every coverage point: in how many runs it was reached")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    sc = find_scenario(args.scenario)
    scenario = sc.name
    if args.guided and "swarm" not in sc.params:
        raise BadInput(f"--guided steers the swarm of the random scenarios (random, "
                       f"random-raft, random-shardkv); {scenario} draws none")
    seeds = parse_seeds(args.seeds)
    lo, hi = seeds[0], seeds[-1]
    if hi > MAX_SEED:
        raise BadInput(f"bad seed range {args.seeds!r}: a campaign stores seeds up to "
                       f"2^63-1 = {MAX_SEED}")
    jobs = 1 if args.jobs is None else args.jobs
    if jobs < 1:
        raise BadInput(f"--jobs must be at least 1, got {jobs}")
    if args.scheduler is not None and args.jobs is not None:
        raise BadInput("--jobs and --scheduler exclude each other (the Dask workers are the "
                       "jobs)")
    fraction = DEFAULT_SPOT_CHECK if args.spot_check is None else args.spot_check
    if not 0 <= fraction <= 1:
        raise BadInput(f"--spot-check must be a fraction in [0, 1], got {args.spot_check}")
    if args.retry_crashed and not args.resume:
        raise BadInput("--retry-crashed needs --resume (it re-runs seeds of an existing --db)")
    path = args.db or f"campaign-{scenario}.db"
    out = sys.stderr if args.json else sys.stdout
    with _engine(args.scheduler) as start:               # an unusable cluster: before any file
        db = CampaignDB(path, scenario, create=not args.resume,   # CampaignError: bad input
                        mode="guided" if args.guided else "plain")
        try:
            return _campaign(args, scenario, range(lo, hi + 1), jobs, fraction, db, path, out,
                             start)
        finally:
            db.close()


def _campaign(args: argparse.Namespace, scenario: str, seeds: range, jobs: int,
              fraction: float, db: CampaignDB, path: str, out: Any, start: "Starter") -> int:
    redo = ("crash",) if args.retry_crashed else ()
    stored = sum(db.counts(seeds[0], seeds[-1]).values())
    retried = db.counts(seeds[0], seeds[-1]).get("crash", 0) if redo else 0
    count = len(seeds) - stored + retried
    due = [r for r in db.pending_rechecks(seeds[0], seeds[-1]) if sampled(r.seed, fraction)]
    again = f", {retried} crashed to retry" if retried else ""
    where = (f"Dask scheduler {args.scheduler}" if args.scheduler else
             f"{min(jobs, max(1, count))} worker(s)")
    print(f"campaign {scenario}: seeds {seeds[0]}..{seeds[-1]} ({count} to run{again}, "
          f"{stored - retried} already in {path}), {where}", file=out)
    progress = _Progress(count, args.json)
    guide = Guide(db, seeds[0]) if args.guided else None
    ledger = Ledger(db, scenario, None, fraction, progress.update,
                    params_of=guide.params_of if guide is not None else None)
    started = time.perf_counter()        # wall time, reported only
    interrupted = False
    previous = signal.signal(signal.SIGTERM, _interrupt)   # a polite kill stops like Ctrl-C
    try:
        for part in _rounds(seeds, guide):
            todo = _todo(db, part, redo)
            runner = start(scenario, todo, min(jobs, max(1, count)), db, ledger, due)
            due = []
            try:
                for _ in runner:
                    pass
            finally:
                runner.close()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGTERM, previous)
        progress.finish()
    _summary(scenario, db, seeds, progress.count, time.perf_counter() - started, where,
             ledger, out, guided=args.guided)
    _coverage(db, seeds, args.coverage, args.guided, out)
    counts = db.counts(seeds[0], seeds[-1])
    if interrupted:
        print(f"interrupted: {sum(counts.values())} of {len(seeds)} seeds have results; "
              f"continue with `{_resume_command(args, scenario, path)}`", file=out)
        return EXIT_INTERRUPTED
    # a crash, an error or a nondeterministic seed counts as a failure
    return exit_code("fail" if o == "nondeterministic" else o for o in counts)


def _rounds(seeds: range, guide: Guide | None) -> Iterator[range]:
    """The whole range at once; guided, one round at a time, each planned from the results of
    the rounds before it (which are all stored by then)."""
    if guide is None:
        yield seeds
        return
    for start in range(seeds[0], seeds[-1] + 1, ROUND):
        part = range(start, min(start + ROUND, seeds[-1] + 1))
        guide.plan_round(part[0], part[-1] + 1)
        yield part


def _todo(db: CampaignDB, seeds: range, redo: tuple[str, ...]) -> Iterator[int]:
    """The seeds without a result (or with an outcome in ``redo``), looked up a chunk at a
    time: a range of millions of seeds is never held in memory."""
    for start in range(seeds[0], seeds[-1] + 1, CHUNK):
        chunk = range(start, min(start + CHUNK, seeds[-1] + 1))
        done = db.done_seeds(chunk[0], chunk[-1], redo)
        yield from (s for s in chunk if s not in done)


Starter = Callable[..., Any]


@contextlib.contextmanager
def _engine(scheduler: str | None) -> Iterator[Starter]:
    """How seeds are run: the local pool, or a Dask client (imported only when asked for)."""
    if scheduler is None:
        def local(scenario: str, todo: Iterator[int], jobs: int, db: CampaignDB,
                  ledger: Ledger, due: list[SeedResult]) -> Any:
            return run_campaign(scenario, todo, jobs, db, ledger=ledger, rechecks=due)
        yield local
        return
    from scenarios.campaign.cluster import connect, run_campaign_dask
    with connect(scheduler) as client:
        def dask(scenario: str, todo: Iterator[int], jobs: int, db: CampaignDB,
                 ledger: Ledger, due: list[SeedResult]) -> Any:
            return run_campaign_dask(client, scenario, todo, db, ledger=ledger, rechecks=due)
        yield dask


def _resume_command(args: argparse.Namespace, scenario: str, path: str) -> str:
    """The command that continues this campaign, with the options that were given."""
    words = ["raftsim", "campaign", scenario, "--seeds", args.seeds]
    if args.jobs is not None:
        words += ["--jobs", str(args.jobs)]
    if args.scheduler is not None:
        words += ["--scheduler", args.scheduler]
    if args.spot_check is not None:
        words += ["--spot-check", f"{args.spot_check:g}"]
    if args.json:
        words.append("--json")
    if args.guided:
        words.append("--guided")
    words += ["--db", path, "--resume"]
    return " ".join(shlex.quote(w) for w in words)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class _Progress:
    """Progress on stderr when it is a terminal (rich's bar: seeds done, not passed, rate,
    time left; NO_COLOR honoured); with ``--json``, one JSON object per result on stdout."""

    def __init__(self, total: int, as_json: bool) -> None:
        self.total = total
        self.count = 0
        self.bad = 0
        self.json = as_json
        self.bar: Any = None
        if sys.stderr.isatty() and not as_json and total:
            self.bar = _rich_bar(total)

    def update(self, result: SeedResult) -> None:
        if self.json:
            print(json.dumps(_as_json(result)), flush=True)
        if result.outcome == "nondeterministic":   # a second word on a seed already counted
            self.bad += 1
        else:
            self.count += 1
            self.bad += result.outcome != "pass"
        if self.bar is not None:
            progress, task = self.bar
            progress.update(task, completed=self.count, bad=self.bad)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar[0].stop()


def _rich_bar(total: int) -> tuple[Any, Any]:
    """rich is imported here only: not on a pipe, not under --json."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn,
                               TextColumn, TimeRemainingColumn)
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text("" if speed is None else f"{speed * 60:,.0f} seeds/min")

    progress = Progress(BarColumn(), MofNCompleteColumn(),
                        TextColumn("not passed: {task.fields[bad]}"), Rate(),
                        TimeRemainingColumn(), console=Console(stderr=True))
    task = progress.add_task("seeds", total=total, bad=0)
    progress.start()
    return progress, task


def _as_json(r: SeedResult) -> dict[str, Any]:
    failure = None if r.failure_kind is None else {"kind": r.failure_kind,
                                                   "message": r.failure}
    return {"seed": r.seed, "outcome": r.outcome, "digest": r.digest,
            "figures": {"virtual_ms": r.virtual_ms, "messages": r.messages, "bytes": r.bytes,
                        "wall_s": r.wall_s},
            "failure": failure, "recheck_digest": r.recheck_digest, "worker": r.worker}


def _summary(scenario: str, db: CampaignDB, seeds: range, ran: int, elapsed: float,
             where: str, ledger: Ledger, out: Any, guided: bool = False) -> None:
    counts = db.counts(seeds[0], seeds[-1])
    print(f"{'outcome':<10} seeds", file=out)
    for outcome in OUTCOMES + tuple(sorted(set(counts) - set(OUTCOMES))):
        if counts.get(outcome):
            print(f"{outcome:<10} {counts[outcome]}", file=out)
    if ran:
        print(f"wall time  {elapsed:.1f} s for {ran} seeds ({ran / elapsed * 60:,.0f} seeds/min "
              f"on {where})", file=out)
    if ledger.rechecks:
        verdict = ("digests equal" if not ledger.mismatches else
                   f"{ledger.mismatches} mismatch(es): outcome nondeterministic")
        print(f"spot-check {ledger.rechecks} seed(s) run twice: {verdict}", file=out)
    bad = db.not_passed(seeds[0], seeds[-1], FAILURES_SHOWN + 1)
    if bad:
        print("not passed:", file=out)
    for r in bad[:FAILURES_SHOWN]:
        print(f"  seed {r.seed}: {r.outcome} ({r.failure_kind}): {r.failure}", file=out)
        print(f"    replay: {_replay(scenario, r, guided)}", file=out)
    if len(bad) > FAILURES_SHOWN:
        more = sum(n for o, n in counts.items() if o != "pass") - FAILURES_SHOWN
        print(f"  ... and {more} more (see the results table of the db)", file=out)


def _replay(scenario: str, r: SeedResult, guided: bool) -> str:
    """The command that runs a seed again; a guided seed needs its bias as params."""
    if not guided or r.profile is None:
        return replay_command(scenario, r.seed)
    bias = json.loads(r.profile).get("swarm", {}).get("bias", "uniform")
    path = f"{scenario}-{r.seed}.params.json"
    swarm = json.dumps({"swarm": {"bias": bias}})
    return f"echo '{swarm}' > {path} && {replay_command(scenario, r.seed, path)}"


def _coverage(db: CampaignDB, seeds: range, detail: bool, guided: bool, out: Any) -> None:
    """Which coverage points the runs of the range reached, and which never (a line; with
    ``detail``, one line per point); guided, how often each bias ran."""
    from scenarios.harness.coverage import POINTS
    runs, reached = coverage_summary(db, seeds[0], seeds[-1])
    if not runs:
        return
    never = [p for p in POINTS if p not in reached]
    print(f"coverage   {len(reached)} of {len(POINTS)} points reached in {runs} runs"
          + (f"; never: {', '.join(never)}" if never else ""), file=out)
    if guided:
        rows = db.conn.execute(
            "SELECT json_extract(profile, '$.swarm.bias') AS b, count(*) FROM results "
            "WHERE seed BETWEEN ? AND ? AND b IS NOT NULL GROUP BY b ORDER BY b",
            (seeds[0], seeds[-1])).fetchall()
        print("biases     " + ", ".join(f"{b} {n}" for b, n in rows), file=out)
    if not detail:
        return
    print(f"{'point':<32} {'runs':>7} {'hits':>9}", file=out)
    for point in sorted(POINTS, key=lambda p: (reached.get(p, (0, 0))[0], p)):
        r, h = reached.get(point, (0, 0))
        print(f"{point:<32} {r:>7,} {h:>9,}", file=out)
