"""The ``raftsim`` command line: one module per command, wired here.

    raftsim list | run | replay | check | campaign | shrink

Every command has ``add_parser(subparsers)`` (its arguments, with ``func`` set to its ``run``)
and ``run(args) -> exit code``. Exit codes and bad input are shared (``scenarios.errors``): 0
success, 1 a violation found, 2 bad input, 3 unknown; bad input is one line on stderr,
``raftsim: error: ...``, never a traceback. A new command (explore, report) is a new module here
and one line in ``COMMANDS``.
"""

from __future__ import annotations

import sys
from typing import Sequence

from scenarios.cli import campaign as campaign_cmd
from scenarios.cli import check as check_cmd
from scenarios.cli import list as list_cmd
from scenarios.cli import replay as replay_cmd
from scenarios.cli import run as run_cmd
from scenarios.cli import shrink as shrink_cmd
from scenarios.cli.common import Parser, print_error
from scenarios.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK, BadInput

__all__ = ["main", "build_parser", "COMMANDS"]

#: The commands in the order ``raftsim --help`` shows them.
COMMANDS = (list_cmd, run_cmd, replay_cmd, check_cmd, campaign_cmd, shrink_cmd)


def build_parser() -> Parser:
    parser = Parser(prog="raftsim", description="Deterministic simulation of replicated "
                    "key-value stores: run scenarios, replay traces, check histories.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (bad input is reported here, as one line)."""
    try:
        args = build_parser().parse_args(argv)
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
