"""``raftsim report TRACE|CX|DB --html OUT``: one self-contained HTML page about a run or a
campaign.

A trace file gives the run report (message-sequence diagram, client operations, latency and
throughput, linearizability, per-node counts), restricted to ``--from``/``--to`` when given; an
explorer counterexample gives the same page of the path it records (one step per virtual
millisecond, ``scenarios/report/explored.py``); a campaign database (SQLite) gives the campaign
report. The output is checked before any work and written atomically: bad input (a file that
is none of these, a window outside the run, an output that cannot be written) is one line and
exit 2, and leaves no file behind.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

from scenarios.cli.common import check_outputs, write_atomically
from scenarios.errors import EXIT_OK, BadInput, printable

__all__ = ["add_parser", "run", "parse_time", "write_report"]

#: A page this large loads slowly: the command suggests a time window.
_LARGE = 20 * 2**20
_TIME = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(ms|s)?\s*")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("report", help="write an HTML report of a trace, a counterexample or "
                       "a campaign database",
                       description="Write one self-contained HTML page: the report of the run "
                       "a trace records, of the path an explorer counterexample records (one "
                       "step per virtual millisecond), or of the campaign a database holds.")
    p.add_argument("input", metavar="TRACE|CX|DB", help="a trace (raftsim run --trace), an "
                   "explorer counterexample (raftsim explore --trace) or a campaign database "
                   "(raftsim campaign --db)")
    p.add_argument("--html", required=True, metavar="OUT", help="the HTML file to write")
    add_window(p)
    p.set_defaults(func=run)


def add_window(p: argparse.ArgumentParser) -> None:
    """``--from`` and ``--to``: the time window of a run report (``run --report`` has them too)."""
    p.add_argument("--from", dest="time_from", metavar="T", type=parse_time, default=None,
                   help="start of the time window (virtual seconds, or e.g. 2500ms)")
    p.add_argument("--to", dest="time_to", metavar="T", type=parse_time, default=None,
                   help="end of the time window (virtual seconds, or e.g. 2500ms)")


def parse_time(text: str) -> float:
    """``2.5`` or ``2.5s`` (seconds) or ``2500ms``: virtual milliseconds."""
    match = _TIME.fullmatch(text)
    if match is None and _TIME.fullmatch(text.strip().removeprefix("-")) is not None:
        raise argparse.ArgumentTypeError(f"bad time {text!r}: negative (the run starts at 0)")
    if match is None:
        raise argparse.ArgumentTypeError(f"bad time {text!r}: expected seconds (2.5) or "
                                         "milliseconds (2500ms)")
    value = float(match.group(1))
    return value if match.group(2) == "ms" else value * 1000


def window(args: argparse.Namespace) -> Any:
    from scenarios.report.views import Window
    return Window(args.time_from, args.time_to)


def run(args: argparse.Namespace) -> int:
    path = args.input
    if not os.path.exists(path):
        raise BadInput(f"{path}: no such file")
    if not os.path.isfile(path):
        raise BadInput(f"{path}: not a regular file")
    check_outputs([("--html", args.html)], inputs=[("input", path)])
    from scenarios.report import build
    if _is_sqlite(path):
        if args.time_from is not None or args.time_to is not None:
            raise BadInput("--from/--to choose a window of a run: a campaign report has none")
        html = build.campaign_report(path)
    else:
        html = build.trace_report(path, window(args))
    write_report(args.html, html)
    size = len(html.encode("utf-8"))
    print(f"report written to {printable(args.html)} ({size:,} bytes)")
    if size > _LARGE:
        print("  a large page: --from/--to write a time window of the run only")
    return EXIT_OK


def write_report(path: str, html: str) -> None:
    """Write the page atomically; a failure to write is bad input, and leaves no file."""
    try:
        write_atomically(path, html.encode("utf-8"))
    except OSError as exc:
        raise BadInput(f"cannot write {path!r}: {exc.strerror or exc}") from None


def _is_sqlite(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError as exc:
        raise BadInput(f"{path}: cannot read ({exc.strerror})") from None
