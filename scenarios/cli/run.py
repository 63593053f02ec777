"""``raftsim run NAME --seed N|A..B``: run a scenario, print its outcome, figures and digest.

A failing run prints the command that reproduces it. ``--trace``, ``--history`` and
``--dump-params`` write files (with a seed range, the name holds ``{seed}``); ``--params`` gives
a random scenario what to use instead of drawing it from the seed.
"""

from __future__ import annotations

import argparse
from typing import Any

import msgspec

from scenarios.cli.common import check_writable, exit_code, find_scenario, parse_seeds
from scenarios.errors import BadInput
from scenarios.runner import RunResult, replay_command, run_scenario

__all__ = ["add_parser", "run", "load_params"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("run", help="run a scenario with a seed or a seed range")
    p.add_argument("name", help="scenario name (see `raftsim list`)")
    p.add_argument("--seed", "--seeds", dest="seed", default="1",
                   help="a seed N or an inclusive range A..B (default 1)")
    p.add_argument("--trace", help="write the trace (JSON lines) to this file; with a range, "
                   "put {seed} in the name")
    p.add_argument("--history", help="write the client history (JSONL, for `raftsim check`)")
    p.add_argument("--params", help="JSON file overriding what a random scenario draws from "
                   "the seed: schedule, net, profile, workload (see docs/scenarios.md)")
    p.add_argument("--dump-params", help="write what a random scenario drew from the seed "
                   "(schedule, net, profile, workload) as JSON, to edit and pass to --params")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    scenario = find_scenario(args.name)
    seeds = parse_seeds(args.seed)
    for option, path in (("--trace", args.trace), ("--history", args.history),
                         ("--dump-params", args.dump_params)):
        if path and len(seeds) > 1 and "{seed}" not in path:
            raise BadInput(f"{option} with a seed range needs '{{seed}}' in the file name")
        if path:
            check_writable(path.replace("{seed}", str(seeds[0])))
    params = load_params(args.params) if args.params else None
    if args.dump_params and not scenario.params:
        raise BadInput(f"{scenario.name} draws nothing from its seed: no params to dump")
    results = []
    for seed in seeds:
        trace = args.trace.replace("{seed}", str(seed)) if args.trace else None
        history = args.history.replace("{seed}", str(seed)) if args.history else None
        result = run_scenario(scenario, seed, trace_path=trace, history_path=history,
                              params=params)
        if len(seeds) == 1:
            _print_result(result, trace)
        else:
            _print_result_line(result)
        results.append(result)
        if args.dump_params:
            _dump_params(result, args.dump_params.replace("{seed}", str(seed)))
    if len(seeds) > 1:
        failed = sum(r.outcome == "fail" for r in results)
        unknown = sum(r.outcome == "unknown" for r in results)
        print(f"{len(results) - failed - unknown} passed, {failed} failed"
              + (f", {unknown} unknown" if unknown else ""))
    return exit_code(r.outcome for r in results)


def load_params(path: str) -> dict[str, Any]:
    """A JSON object of scenario overrides; validated by the scenario when it runs."""
    try:
        with open(path, "rb") as f:
            data = msgspec.json.decode(f.read())
    except OSError as exc:
        raise BadInput(f"cannot read params {path!r}: {exc.strerror}") from None
    except msgspec.DecodeError as exc:
        raise BadInput(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a JSON object of overrides")
    return data


def _dump_params(result: RunResult, path: str) -> None:
    drawn = result.drawn
    if drawn is None:
        raise BadInput(f"{result.scenario} draws nothing from its seed: no params to dump")
    with open(path, "wb") as f:
        f.write(msgspec.json.format(msgspec.json.encode(drawn), indent=2) + b"\n")
    print(f"  params        {path}")


def _print_result(r: RunResult, trace: str | None) -> None:
    print(f"{r.scenario} seed {r.seed}: {r.outcome.upper()}")
    if r.failure is not None:
        print(f"  failure ({r.failure.kind}): {r.failure.message}")
    print(f"  virtual time  {r.virtual_ms / 1000:.3f} s")
    print(f"  messages      {r.messages:,} ({r.bytes:,} bytes)")
    if r.drawn is not None:
        print(f"  {'faults':<13} {len(r.drawn.get('schedule', ()))} scheduled")
    for key, value in r.facts.items():
        print(f"  {key:<13} {value}")
    print(f"  wall time     {r.wall_s:.2f} s")
    if trace:
        print(f"  trace         {trace} ({r.records:,} records)")
    print(f"digest: {r.digest}")
    if not r.passed:
        _print_reproduce(r, trace)


def _print_result_line(r: RunResult) -> None:
    print(f"{r.scenario} seed {r.seed}: {r.outcome.upper()}  {r.virtual_ms / 1000:.3f} s virtual  "
          f"{r.messages:,} msgs  {r.bytes:,} bytes  digest: {r.digest}")
    if r.failure is not None:
        print(f"  failure ({r.failure.kind}): {r.failure.message}")
        _print_reproduce(r, None)


def _print_reproduce(r: RunResult, trace: str | None) -> None:
    if trace:
        print(f"replay with: raftsim replay {trace}")
    else:
        print(f"reproduce with: {replay_command(r.scenario, r.seed)}")
