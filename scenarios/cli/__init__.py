"""The ``raftsim`` command line: one module per command, wired here.

    raftsim list | run | replay | check | campaign | shrink | explore | report

Every command has ``add_parser(subparsers)`` (its arguments, with ``func`` set to its ``run``)
and ``run(args) -> exit code``. Exit codes and bad input are shared (``scenarios.errors``): 0
success, 1 a violation found, 2 bad input, 3 unknown; bad input is one line on stderr,
``raftsim: error: ...``, never a traceback. An unexpected exception (a bug in raftsim) exits 4
with one line naming the file that holds its traceback. A new command (explore, report) is a
new module here and one line in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from scenarios.cli.common import Parser, print_error
from scenarios.errors import (EXIT_BAD_INPUT, EXIT_CRASH, EXIT_INTERRUPTED, EXIT_OK, BadInput,
                              write_crash_report)

__all__ = ["main", "build_parser", "COMMANDS"]

#: The commands (modules of this package) in the order ``raftsim --help`` shows them. A command
#: module is imported only when needed: ``raftsim check`` never imports the simulator.
COMMANDS = ("list", "run", "replay", "check", "campaign", "shrink", "explore", "report")


def build_parser(only: str | None = None) -> Parser:
    """The parser of every command, or of the command ``only`` alone (the others not imported)."""
    parser = Parser(prog="raftsim", description="Deterministic simulation of replicated "
                    "key-value stores: run scenarios, replay traces, check histories.")
    if only is None:
        parser.add_argument("--version", action="version", version=f"raftsim {version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in COMMANDS:
        if only is None or name == only:
            importlib.import_module(f"scenarios.cli.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (bad input is reported here, as one line)."""
    argv = [*(sys.argv[1:] if argv is None else argv)]   # (``list`` is the command module here)
    try:
        parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
        args, extra = parser.parse_known_args(argv)
        if extra:         # said by the command's own parser: its usage, its --help
            sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            sub.choices[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
        code: int = args.func(args)
        return code
    except BadInput as exc:
        print_error(str(exc))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("raftsim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:                 # a bug in raftsim: never a verdict
        path = write_crash_report(exc, argv, version())
        print(f"raftsim: internal error ({type(exc).__name__}); this is a bug in raftsim: "
              f"please report it with the traceback written to {path}", file=sys.stderr)
        return EXIT_CRASH


def version() -> str:
    """The installed version of raftsim."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed
    try:
        return installed("raftsim")
    except PackageNotFoundError:
        return "unknown"
