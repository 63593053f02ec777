"""``raftsim replay FILE``: re-run a recorded trace and compare digests.

Exit 0 (or the run's own 1/3) when the digest matches, 1 when the replay diverged, with the
first line that differs. ``--json`` prints one JSON object: the run's result, whether it
matched the recording and, if not, the first difference.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sim import first_difference

from scenarios.cli.common import add_verbosity, exit_code, read_trace
from scenarios.cli.style import verdict as paint
from scenarios.errors import EXIT_FAIL, printable
from scenarios.runner import run_scenario

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("replay", help="re-run a trace file and compare digests")
    p.add_argument("file", help="a trace written by `raftsim run --trace`, or a "
                                "counterexample written by `raftsim explore --trace`")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (verdict, digests, first difference, figures)")
    add_verbosity(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scenarios.cli import explore   # an explorer counterexample is replayed by the explorer
    if explore.is_counterexample(args.file):
        return explore.replay(args.file, args.verbosity, args.json)
    target = read_trace(args.file)
    loaded, name, seed = target.loaded, target.scenario.name, target.seed
    result = run_scenario(target.scenario, seed, keep_lines=True, params=target.params)
    matches = result.digest == loaded.digest
    diff = None if matches else first_difference(loaded.lines, result.lines or [])
    if args.json:
        out = result.to_json()
        out.update(file=args.file, matches=matches, recorded_digest=loaded.digest,
                   first_difference=None if diff is None else
                   {"line": diff.line, "recorded": _show_line(diff.a),
                    "replayed": _show_line(diff.b)})
        if not matches:
            out["verdict"] = "diverged"
        print(json.dumps(out))
        return EXIT_FAIL if not matches else exit_code([result.outcome])
    if args.verbosity >= 0:
        print(f"replaying {name} seed {seed} ({len(loaded.records):,} records)")
    if args.verbosity > 0 and target.params:
        print(f"  params: {printable(json.dumps(target.params, sort_keys=True))}")
    if not matches:
        print(f"{paint('REPLAY DIVERGED', 'red')}: digest {result.digest} != recorded "
              f"{loaded.digest}")
        if diff is not None:
            print(f"  first difference at line {diff.line}:")
            print(f"    recorded: {_show_line(diff.a)}")
            print(f"    replayed: {_show_line(diff.b)}")
        return EXIT_FAIL
    if args.verbosity >= 0:
        print(f"digest matches: {result.digest}")
    verdict = result.outcome.upper()
    if result.failure is not None:
        verdict += f" ({result.failure.kind}): {printable(result.failure.message)}"
    print(f"outcome: {paint(verdict)}")
    return exit_code([result.outcome])


def _show_line(line: Any) -> str:
    """A trace line for the screen: escaped, and cut at 300 characters."""
    if line is None:
        return "<end of trace>"
    text = line.decode(errors="replace") if isinstance(line, bytes) else str(line)
    text = printable(text)
    return text if len(text) <= 300 else text[:300] + "..."
