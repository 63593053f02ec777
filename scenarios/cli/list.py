"""``raftsim list``: the scenarios, one a line (name, suite, summary), lab parts in order."""

from __future__ import annotations

import argparse
from typing import Any

from scenarios.cli.common import add_verbosity
from scenarios.errors import EXIT_OK, BadInput
from scenarios.registry import all_scenarios

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("list", help="list the scenarios")
    p.add_argument("--suite", help="only this suite (3A, 3B, 3C, 3D, 4A, 4B, random; any case)")
    add_verbosity(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    wanted = args.suite.casefold() if args.suite else None
    everything = all_scenarios()
    scenarios = [s for s in everything if wanted is None or s.suite.casefold() == wanted]
    if not scenarios:
        suites = ", ".join(dict.fromkeys(s.suite for s in everything))
        raise BadInput(f"no scenario in suite {args.suite!r} (the suites: {suites})")
    width = max(len(s.name) for s in scenarios)
    for s in scenarios:
        if args.verbosity < 0:
            print(s.name)
            continue
        print(f"{s.name:<{width}}  {s.suite:<6} {s.summary}")
        if args.verbosity > 0:
            accepts = ", ".join(s.params) if s.params else "none"
            print(f"{'':<{width}}  {'':<6} time limit {s.time_limit_ms / 1000:g} s (virtual); "
                  f"params: {accepts}")
    return EXIT_OK
