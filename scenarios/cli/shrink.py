"""``raftsim shrink``: reduce a failing run to a small schedule and workload that still fail.

    raftsim shrink random --seed N             a failing seed of a random scenario
    raftsim shrink FAILING.trace.jsonl         a trace of a failing run (its params included)

A target with a ``/`` or a ``.`` in it, or naming an existing file, is a trace file; anything
else is a scenario name. The output file is checked before the first run and written
atomically; it may not be the input trace.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import msgspec

from scenarios.cli.common import check_outputs, exit_code, find_scenario, parse_seeds, read_trace
from scenarios.errors import EXIT_INTERRUPTED, EXIT_OK, BadInput, printable
from scenarios.runner import RunResult, run_scenario
from scenarios.shrink import NothingToShrink, shrink

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("shrink", help="shrink a failing run to a minimal fault schedule")
    p.add_argument("target", help="a scenario name (with --seed) or a trace file")
    p.add_argument("--seed", help="the failing seed (with a scenario name)")
    p.add_argument("--out", help="trace of the shrunk run (default shrunk-SCENARIO-SEED"
                   ".trace.jsonl)")
    p.add_argument("--max-runs", type=int, default=300, help="candidate runs at most")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    name, seed, params = _target(args)
    if args.max_runs < 1:
        raise BadInput(f"--max-runs must be at least 1, got {args.max_runs}")
    out = args.out or f"shrunk-{name}-{seed}.trace.jsonl"
    check_outputs([("--out", out)], inputs=[("the trace to shrink", _trace_path(args))])
    print(f"shrinking {name} seed {seed}")
    try:
        result = shrink(name, seed, params, max_runs=args.max_runs,
                        progress=lambda step: print(f"  {step}", flush=True))
    except NothingToShrink as exc:                # the run passes
        print(f"nothing to shrink: {exc}")     # e.g. "random seed 3 passes"
        return EXIT_OK
    if result.interrupted:
        print(f"interrupted after {result.runs} runs: the smallest failing run so far follows")
    print(f"original failure {_failure(result.original)}")
    count = len(result.params["schedule"])
    print(f"{result.runs} runs; minimal schedule ({count} fault{'s' if count != 1 else ''}):")
    for t, fault in result.params["schedule"]:
        print(f"  t={t:>10.3f} ms  {_fault(fault)}")
    for section in ("workload", "net"):
        if section in result.params:
            print(f"{section}: {_compact(result.params[section])}")
    replayed = run_scenario(name, seed, trace_path=out, params=result.params)
    print(f"shrunk failure {_failure(replayed)}")
    print(f"trace: {out}")
    print(f"replay with: raftsim replay {out}")
    return EXIT_INTERRUPTED if result.interrupted else exit_code([replayed.outcome])


def _trace_path(args: argparse.Namespace) -> str | None:
    target = args.target
    if os.path.exists(target) or "/" in target or "." in target or os.sep in target:
        return str(target)
    return None


def _target(args: argparse.Namespace) -> tuple[str, int, dict[str, Any] | None]:
    path = _trace_path(args)
    if path is not None:
        if args.seed is not None:
            raise BadInput(f"--seed goes with a scenario name; the trace {path!r} names its own "
                           f"seed")
        target = read_trace(path)
        return target.scenario.name, target.seed, target.params or None
    if args.seed is None:
        raise BadInput(f"shrink {args.target!r} needs --seed (or give a trace file)")
    seeds = parse_seeds(args.seed)
    if len(seeds) != 1:
        raise BadInput("shrink takes one seed, not a range")
    return find_scenario(args.target).name, seeds[0], None


def _failure(result: RunResult) -> str:
    failure = result.failure
    if failure is None:
        return "none: the run passes"
    return f"({failure.kind}): {printable(failure.message)}"


def _fault(fault: dict[str, Any]) -> str:
    kind = fault.get("type", "?")
    rest = " ".join(f"{k}={_compact(v)}" for k, v in fault.items() if k != "type"
                    and v is not None)
    return printable(f"{kind} {rest}".strip())


def _compact(value: Any) -> str:
    return msgspec.json.encode(value).decode()
