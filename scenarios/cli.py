"""The ``raftsim`` command line: list, run, replay, check (and campaign, shrink).

Exit codes everywhere: 0 success, 1 a check failed (or a replay diverged), 2 bad input, 3 the
outcome is unknown (a linearizability search that gave up). Bad input is one line on stderr
naming the problem, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, Sequence

from scenarios.registry import UnknownScenario, all_scenarios, get

__all__ = ["main", "BadInput", "parse_seeds"]

EXIT_OK, EXIT_FAIL, EXIT_BAD, EXIT_UNKNOWN = 0, 1, 2, 3


class BadInput(Exception):
    """Input the user can fix; reported as one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:          # one line, exit 2 (argparse prints usage)
        raise BadInput(message)


def parse_seeds(text: str) -> list[int]:
    """``N`` or ``A..B`` (inclusive) or ``A..B`` written ``A-B``; seeds are non-negative."""
    text = text.strip()
    for sep in ("..", "-"):
        if sep in text and not text.startswith(sep):
            lo_s, _, hi_s = text.partition(sep)
            lo, hi = _seed(lo_s, text), _seed(hi_s, text)
            if hi < lo:
                raise BadInput(f"bad seed range {text!r}: {hi} is below {lo}")
            return list(range(lo, hi + 1))
    return [_seed(text, text)]


def _seed(part: str, whole: str) -> int:
    try:
        value = int(part.strip())
    except ValueError:
        raise BadInput(f"bad seed {whole!r}: expected an integer N or a range A..B") from None
    if value < 0:
        raise BadInput(f"bad seed {whole!r}: seeds are non-negative")
    return value


# ---------------------------------------------------------------- list

def cmd_list(args: argparse.Namespace) -> int:
    scenarios = [s for s in all_scenarios() if not args.suite or s.suite == args.suite]
    if not scenarios:
        raise BadInput(f"no scenario in suite {args.suite!r}")
    width = max(len(s.name) for s in scenarios)
    for s in scenarios:
        print(f"{s.name:<{width}}  {s.suite:<6} {s.summary}")
    return EXIT_OK


# ---------------------------------------------------------------- run

def cmd_run(args: argparse.Namespace) -> int:
    from scenarios.runner import BadParams, run_scenario
    scenario = _scenario(args.name)
    seeds = parse_seeds(args.seed)
    for option, path in (("--trace", args.trace), ("--history", args.history),
                         ("--dump-params", args.dump_params)):
        if path and len(seeds) > 1 and "{seed}" not in path:
            raise BadInput(f"{option} with a seed range needs '{{seed}}' in the file name")
        if path:
            _check_writable(path.replace("{seed}", str(seeds[0])))
    params = _load_params(args.params) if args.params else None
    if args.dump_params and not scenario.params:
        raise BadInput(f"{scenario.name} draws nothing from its seed: no params to dump")
    results = []
    for seed in seeds:
        trace = args.trace.replace("{seed}", str(seed)) if args.trace else None
        history = args.history.replace("{seed}", str(seed)) if args.history else None
        try:
            result = run_scenario(scenario, seed, trace_path=trace, history_path=history,
                                  params=params)
        except BadParams as exc:
            raise BadInput(str(exc)) from None
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
    return _exit_code(results)


def _exit_code(results: list) -> int:
    """1 if any run failed, else 3 if any could not be judged, else 0."""
    if any(r.outcome == "fail" for r in results):
        return EXIT_FAIL
    if any(r.outcome == "unknown" for r in results):
        return EXIT_UNKNOWN
    return EXIT_OK


def _scenario(name: str) -> Any:
    try:
        return get(name)
    except UnknownScenario as exc:
        raise BadInput(str(exc.args[0])) from None


def _dump_params(result: Any, path: str) -> None:
    import msgspec
    drawn = result.facts.get("profile")
    if drawn is None:
        raise BadInput(f"{result.scenario} draws nothing from its seed: no params to dump")
    with open(path, "wb") as f:
        f.write(msgspec.json.format(msgspec.json.encode(drawn), indent=2) + b"\n")
    print(f"  params        {path}")


def _load_params(path: str) -> dict[str, Any]:
    """A JSON object of scenario overrides; validated by the scenario when it runs."""
    import msgspec
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


def _check_writable(path: str) -> None:
    """Fail early, as bad input, if ``path`` cannot be created."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise BadInput(f"cannot write {path!r}: no such directory {folder!r}")
    if os.path.isdir(path):
        raise BadInput(f"cannot write {path!r}: it is a directory")


def _print_result(r: Any, trace: str | None) -> None:
    print(f"{r.scenario} seed {r.seed}: {r.outcome.upper()}")
    if r.failure:
        print(f"  failure ({r.failure_kind}): {r.failure}")
    print(f"  virtual time  {r.virtual_ms / 1000:.3f} s")
    print(f"  messages      {r.messages:,} ({r.bytes:,} bytes)")
    for key, value in r.facts.items():
        if key == "profile":
            faults = len(value.get("schedule", ()))
            print(f"  {'faults':<13} {faults} scheduled")
        else:
            print(f"  {key:<13} {value}")
    print(f"  wall time     {r.wall_s:.2f} s")
    if trace:
        print(f"  trace         {trace} ({r.records:,} records)")
    print(f"digest: {r.digest}")
    if not r.passed:
        _print_reproduce(r, trace)


def _print_result_line(r: Any) -> None:
    print(f"{r.scenario} seed {r.seed}: {r.outcome.upper()}  {r.virtual_ms / 1000:.3f} s virtual  "
          f"{r.messages:,} msgs  {r.bytes:,} bytes  digest: {r.digest}")
    if r.failure:
        print(f"  failure ({r.failure_kind}): {r.failure}")
        _print_reproduce(r, None)


def _print_reproduce(r: Any, trace: str | None) -> None:
    if trace:
        print(f"replay with: raftsim replay {trace}")
    else:
        print(f"reproduce with: raftsim run {r.scenario} --seed {r.seed} "
              f"--trace {r.scenario}-{r.seed}.trace.jsonl")


# ---------------------------------------------------------------- replay

def cmd_replay(args: argparse.Namespace) -> int:
    from sim import TraceError, first_difference, load_trace
    from scenarios.runner import run_scenario
    try:
        loaded = load_trace(args.file)
    except TraceError as exc:
        raise BadInput(str(exc)) from None
    header = loaded.header
    name, seed = header.get("scenario"), header.get("seed")
    if not isinstance(name, str) or not isinstance(seed, int):
        raise BadInput(f"{args.file}:1: header lacks a scenario name and an integer seed")
    scenario = _scenario(name)
    params = header.get("params") or {}
    from scenarios.runner import BadParams
    try:
        result = run_scenario(scenario, seed, keep_lines=True, params=params)
    except BadParams as exc:
        raise BadInput(f"{args.file}:1: {exc}") from None
    print(f"replaying {name} seed {seed} ({len(loaded.records):,} records)")
    if result.digest != loaded.digest:
        diff = first_difference(loaded.lines, result.lines)
        print(f"REPLAY DIVERGED: digest {result.digest} != recorded {loaded.digest}")
        if diff is not None:
            print(f"  first difference at line {diff.line}:")
            print(f"    recorded: {_show_line(diff.a)}")
            print(f"    replayed: {_show_line(diff.b)}")
        return EXIT_FAIL
    print(f"digest matches: {result.digest}")
    verdict = result.outcome.upper()
    if result.failure:
        verdict += f" ({result.failure_kind}): {result.failure}"
    print(f"outcome: {verdict}")
    return _exit_code([result])


def _show_line(line: Any) -> str:
    if line is None:
        return "<end of trace>"
    text = line.decode() if isinstance(line, bytes) else str(line)
    return text if len(text) <= 300 else text[:300] + "..."


# ---------------------------------------------------------------- wiring

def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="raftsim", description="Deterministic simulation of replicated "
                     "key-value stores: run scenarios, replay traces, check histories.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="list the scenarios")
    p.add_argument("--suite", help="only this suite (3A, 3B, 3C, 3D, 4A, 4B, ...)")
    p.set_defaults(func=cmd_list)

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
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("replay", help="re-run a trace file and compare digests")
    p.add_argument("file", help="a trace written by `raftsim run --trace`")
    p.set_defaults(func=cmd_replay)

    _add_optional(sub, "scenarios.check_cmd")
    _add_optional(sub, "scenarios.campaign_cmd")
    _add_optional(sub, "scenarios.shrink_cmd")
    return parser


def _add_optional(sub: Any, module: str) -> None:
    """Subcommands living in their own modules register themselves here."""
    import importlib
    import importlib.util
    if importlib.util.find_spec(module) is None:
        return
    mod = importlib.import_module(module)
    mod.add_parser(sub)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        func: Callable[[argparse.Namespace], int] = args.func if hasattr(args, "func") else \
            _runner_of(args)
        return func(args)
    except BadInput as exc:
        print(f"raftsim: error: {exc}", file=sys.stderr)
        return EXIT_BAD
    except KeyboardInterrupt:
        print("raftsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


def _runner_of(args: argparse.Namespace) -> Callable[[argparse.Namespace], int]:
    import importlib
    module = importlib.import_module(f"scenarios.{args.command}_cmd")
    return module.run


if __name__ == "__main__":
    sys.exit(main())
