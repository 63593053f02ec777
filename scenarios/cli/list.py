"""``raftsim list``: the scenarios, one a line (name, suite, summary), lab parts in order."""

from __future__ import annotations

import argparse
from typing import Any

from scenarios.errors import EXIT_OK, BadInput
from scenarios.registry import all_scenarios

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("list", help="list the scenarios")
    p.add_argument("--suite", help="only this suite (3A, 3B, 3C, 3D, 4A, 4B, ...)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    scenarios = [s for s in all_scenarios() if not args.suite or s.suite == args.suite]
    if not scenarios:
        raise BadInput(f"no scenario in suite {args.suite!r}")
    width = max(len(s.name) for s in scenarios)
    for s in scenarios:
        print(f"{s.name:<{width}}  {s.suite:<6} {s.summary}")
    return EXIT_OK
