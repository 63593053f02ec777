"""``raftsim run NAME --seed N|A..B``: run a scenario, print its outcome, figures and digest.

A failing run prints the command that reproduces it. ``--trace``, ``--history``,
``--dump-params`` and ``--report`` (an HTML report of the run) write files (with a seed range,
the name holds ``{seed}``); ``--params`` gives a random scenario what to use instead of drawing
it from the seed. Everything is checked before the first run: the params against the
scenario's schema, the output files (writable, distinct).
A seed range is streamed (any width; never built as a list) and closes with a summary line;
``--json`` prints one JSON object per seed instead.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
from typing import Any

import msgspec

from scenarios.cli.common import (add_verbosity, check_outputs, exit_code, find_scenario,
                                  parse_seeds, write_atomically)
from scenarios.cli.style import verdict
from scenarios.errors import BadInput, printable
from scenarios.runner import BadParams, RunResult, replay_command, run_scenario, validate_params

__all__ = ["add_parser", "run", "load_params"]

#: A params file larger than this is refused unread (a drawn one is a few kilobytes).
MAX_PARAMS_BYTES = 64 * 2**20

#: Why writing an output can fail after the checks passed: the user's to fix, not a bug.
_CANNOT_WRITE = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}


def add_parser(sub: Any) -> None:
    p = sub.add_parser("run", help="run a scenario with a seed or a seed range")
    p.add_argument("name", help="scenario name (see `raftsim list`)")
    p.add_argument("--seed", "--seeds", dest="seed", default="1",
                   help="a seed N or an inclusive range A..B (default 1); 0 <= seed < 2**63")
    p.add_argument("--trace", help="write the trace (JSON lines) to this file; with a range, "
                   "put {seed} in the name")
    p.add_argument("--history", help="write the client history (JSONL, for `raftsim check`; "
                   "KV scenarios only)")
    p.add_argument("--params", help="JSON file overriding what a random scenario draws from "
                   "the seed: schedule, net, profile, workload (see docs/scenarios.md)")
    p.add_argument("--dump-params", help="write what a random scenario drew from the seed "
                   "(schedule, net, profile, workload) as JSON, to edit and pass to --params")
    p.add_argument("--report", metavar="OUT", help="write an HTML report of the run (as "
                   "`raftsim report TRACE --html OUT` does); with a range, put {seed} in the name")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per seed (verdict, failure, digest, figures)")
    p.add_argument("--coverage", action="store_true",
                   help="print the coverage points the run reached, with their counts "
                        "(random scenarios; see docs/campaigns.md)")
    add_verbosity(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    scenario = find_scenario(args.name)
    seeds = parse_seeds(args.seed)
    params = load_params(args.params) if args.params is not None else None
    if params is not None:
        try:
            validate_params(scenario, params)
        except BadParams as exc:
            raise BadInput(f"{args.params}: {exc}") from None
    if args.dump_params and not scenario.params:
        raise BadInput(f"{scenario.name} draws nothing from its seed: no params to dump")
    outputs = [("--trace", args.trace), ("--history", args.history),
               ("--dump-params", args.dump_params), ("--report", args.report)]
    for option, path in outputs:
        if path and len(seeds) > 1 and "{seed}" not in path:
            raise BadInput(f"{option} with a seed range needs '{{seed}}' in the file name")
    first = str(seeds[0])
    check_outputs([(o, p.replace("{seed}", first) if p is not None else None)
                   for o, p in outputs],
                  inputs=[("--params", args.params)])
    counts = {"pass": 0, "fail": 0, "unknown": 0}
    try:
        _run_seeds(args, scenario, seeds, params, counts)
    except KeyboardInterrupt:
        if len(seeds) > 1 and not args.json:
            print(_summary(counts, len(seeds)) + " before the interruption")
        raise
    if len(seeds) > 1 and not args.json:
        print(_summary(counts, len(seeds)))
    return exit_code(outcome for outcome, n in counts.items() if n)


def _summary(counts: dict[str, int], seeds: int) -> str:
    ran = sum(counts.values())
    return (f"{counts['pass']} passed, {counts['fail']} failed"
            + (f", {counts['unknown']} unknown" if counts["unknown"] else "")
            + (f" ({seeds:,} seeds)" if ran == seeds else f" ({ran:,} of {seeds:,} seeds)"))


def _run_seeds(args: argparse.Namespace, scenario: Any, seeds: range, params: Any,
               counts: dict[str, int]) -> None:
    for seed in seeds:                           # a range object: streamed, never a list
        trace = args.trace.replace("{seed}", str(seed)) if args.trace else None
        history = args.history.replace("{seed}", str(seed)) if args.history else None
        dumped = args.dump_params.replace("{seed}", str(seed)) if args.dump_params else None
        report = args.report.replace("{seed}", str(seed)) if args.report else None
        try:
            result = run_scenario(scenario, seed, trace_path=trace, history_path=history,
                                  params=params, keep_lines=report is not None)
            if dumped:
                _dump_params(result, dumped)
            if report:
                _write_report(result, report)
        except OSError as exc:
            if exc.errno not in _CANNOT_WRITE:
                raise
            raise BadInput(f"cannot write the files of seed {seed}: {exc.strerror} (nothing "
                           f"was left half-written)") from None
        counts[result.outcome] += 1
        if args.json:
            print(json.dumps(result.to_json()), flush=True)
        elif len(seeds) == 1 or args.verbosity > 0:
            _print_result(result, trace, dumped, args)
        elif args.verbosity == 0 or not result.passed:   # -q on a range: what did not pass
            _print_result_line(result, trace, args)


def load_params(path: str) -> dict[str, Any]:
    """A JSON object of scenario overrides (validated against the scenario's schema later)."""
    if os.path.exists(path) and not os.path.isfile(path):
        raise BadInput(f"cannot read params {path!r}: not a regular file")
    try:
        if os.path.getsize(path) > MAX_PARAMS_BYTES:
            raise BadInput(f"{path}: larger than {MAX_PARAMS_BYTES // 2**20} MiB: not a params "
                           f"file")
        with open(path, "rb") as f:
            data = msgspec.json.decode(f.read())
    except OSError as exc:
        raise BadInput(f"cannot read params {path!r}: {exc.strerror}") from None
    except msgspec.DecodeError as exc:
        raise BadInput(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise BadInput(f"{path}: JSON nested too deeply to be params") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a JSON object of overrides")
    return data


def _write_report(result: RunResult, path: str) -> None:
    from scenarios.cli.report import write_report
    from scenarios.report.build import result_report
    write_report(path, result_report(result))
    result.lines = None                 # the report is written: let the run's lines go


def _dump_params(result: RunResult, path: str) -> None:
    drawn = result.drawn
    if drawn is None:
        raise BadInput(f"{result.scenario} draws nothing from its seed: no params to dump")
    write_atomically(path, msgspec.json.format(msgspec.json.encode(drawn), indent=2) + b"\n")


def _print_result(r: RunResult, trace: str | None, dumped: str | None,
                  args: argparse.Namespace) -> None:
    if args.verbosity < 0:
        _print_result_line(r, trace, args)
        return
    print(f"{r.scenario} seed {r.seed}: {verdict(r.outcome.upper())}")
    if r.failure is not None:
        print(f"  failure ({r.failure.kind}): {printable(r.failure.message)}")
    print(f"  virtual time  {r.virtual_ms / 1000:.3f} s")
    print(f"  messages      {r.messages:,} ({r.bytes:,} bytes)")
    if r.drawn is not None:
        print(f"  {'faults':<13} {len(r.drawn.get('schedule', ()))} scheduled")
    for key, value in r.facts.items():
        print(f"  {key:<13} {printable(str(value))}")
    print(f"  wall time     {r.wall_s:.2f} s")
    if args.coverage:
        _print_coverage(r)
    if trace:
        print(f"  trace         {trace} ({r.records:,} records)")
    if dumped:
        print(f"  params        {dumped}")
    if args.report:
        print(f"  report        {args.report.replace('{seed}', str(r.seed))}")
    if args.verbosity > 0 and r.drawn is not None:
        for section, value in r.drawn.items():
            if section != "schedule":
                print(f"  {section:<13} {printable(msgspec.json.encode(value).decode())}")
    print(f"digest: {r.digest}")
    if not r.passed:
        _print_reproduce(r, trace, args.params)


def _print_coverage(r: RunResult) -> None:
    """``coverage`` and the points reached, a few per line (``name=count``)."""
    from scenarios.harness.coverage import POINTS
    items = [f"{name}={count}" for name, count in r.coverage.items()]
    head = f"  {'coverage':<13} {len(items)} of {len(POINTS)} points"
    print(head + ("" if items else " (this scenario measures none)"))
    for i in range(0, len(items), 3):
        print(f"  {'':<13} {'  '.join(items[i:i + 3])}")


def _print_result_line(r: RunResult, trace: str | None, args: argparse.Namespace) -> None:
    print(f"{r.scenario} seed {r.seed}: {verdict(r.outcome.upper())}  {r.virtual_ms / 1000:.3f} s virtual  "
          f"{r.messages:,} msgs  {r.bytes:,} bytes  digest: {r.digest}")
    if r.failure is not None:
        print(f"  failure ({r.failure.kind}): {printable(r.failure.message)}")
        _print_reproduce(r, trace, args.params)


def _print_reproduce(r: RunResult, trace: str | None, params: str | None) -> None:
    if trace:
        print(f"replay with: raftsim replay {trace}")
    else:
        print(f"reproduce with: {replay_command(r.scenario, r.seed, params)}")
