"""``raftsim replay FILE``: re-run a recorded trace and compare digests.

Exit 0 (or the run's own 1/3) when the digest matches, 1 when the replay diverged, with the
first line that differs.
"""

from __future__ import annotations

import argparse
from typing import Any

from sim import TraceError, first_difference, load_trace

from scenarios.cli.common import exit_code, find_scenario
from scenarios.errors import EXIT_FAIL, BadInput
from scenarios.runner import BadParams, run_scenario

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("replay", help="re-run a trace file and compare digests")
    p.add_argument("file", help="a trace written by `raftsim run --trace`")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        loaded = load_trace(args.file)
    except TraceError as exc:
        raise BadInput(str(exc)) from None
    header = loaded.header
    name, seed = header.get("scenario"), header.get("seed")
    if not isinstance(name, str) or not isinstance(seed, int):
        raise BadInput(f"{args.file}:1: header lacks a scenario name and an integer seed")
    scenario = find_scenario(name)
    params = header.get("params") or {}
    try:
        result = run_scenario(scenario, seed, keep_lines=True, params=params)
    except BadParams as exc:
        raise BadInput(f"{args.file}:1: {exc}") from None
    print(f"replaying {name} seed {seed} ({len(loaded.records):,} records)")
    if result.digest != loaded.digest:
        diff = first_difference(loaded.lines, result.lines or [])
        print(f"REPLAY DIVERGED: digest {result.digest} != recorded {loaded.digest}")
        if diff is not None:
            print(f"  first difference at line {diff.line}:")
            print(f"    recorded: {_show_line(diff.a)}")
            print(f"    replayed: {_show_line(diff.b)}")
        return EXIT_FAIL
    print(f"digest matches: {result.digest}")
    verdict = result.outcome.upper()
    if result.failure is not None:
        verdict += f" ({result.failure.kind}): {result.failure.message}"
    print(f"outcome: {verdict}")
    return exit_code([result.outcome])


def _show_line(line: Any) -> str:
    if line is None:
        return "<end of trace>"
    text = line.decode() if isinstance(line, bytes) else str(line)
    return text if len(text) <= 300 else text[:300] + "..."
