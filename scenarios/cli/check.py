"""``raftsim check FILE...``: check recorded histories for linearizability.

This module owns the command line of the checker: arguments, the text printed per file, the
HTML page and the exit code (0 linearizable, 1 not linearizable, 2 bad input, 3 unknown; the
worst file decides, bad input first). A file that cannot be read is reported as one line,
``raftsim: error: ...``, and the other files are still checked.
"""

from __future__ import annotations

import argparse
import importlib
import time
from typing import Any

from checkers.linearizability import (FORMATS, MODELS, CheckResult, HistoryError, Model, Verdict,
                                      check, load_history)
from checkers.linearizability.html import render_html
from checkers.linearizability.report import build_view, describe_failure

from scenarios.cli.common import print_error, worst
from scenarios.errors import EXIT_BAD_INPUT, EXIT_FAIL, EXIT_OK, EXIT_UNKNOWN, BadInput

__all__ = ["add_parser", "run"]

_SHOWN_PARTITIONS = 12
_HEADLINE = {Verdict.OK: "linearizable", Verdict.ILLEGAL: "NOT linearizable",
             Verdict.UNKNOWN: "UNKNOWN (gave up before deciding)"}


def add_parser(subparsers: Any) -> None:
    """Add the ``check`` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "check", help="check histories for linearizability",
        description="Check each history FILE for linearizability. Exit 0 if all are "
                    "linearizable, 1 if one is not, 3 if one could not be decided in time, "
                    "2 on bad input.")
    parser.add_argument("files", nargs="+", metavar="FILE", help="history files")
    parser.add_argument("--model", default="auto",
                        help=f"auto (the file's), {', '.join(MODELS)}, or MODULE:ATTRIBUTE")
    parser.add_argument("--format", default="auto", help=f"auto, {', '.join(FORMATS)}")
    parser.add_argument("--timeout", type=float, default=None, metavar="S",
                        help="give up (verdict unknown) after S seconds per file")
    parser.add_argument("--max-cache", type=int, default=None, metavar="N",
                        help="give up after N cached configurations in one partition")
    parser.add_argument("--html", default=None, metavar="OUT", help="write an HTML report")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check every file; print a report per file; return the exit code."""
    model = _model(args.model)
    if args.format != "auto" and args.format not in FORMATS:
        raise BadInput(f"unknown format {args.format!r} (choose from auto, {', '.join(FORMATS)})")
    if args.timeout is not None and not args.timeout > 0:
        raise BadInput("--timeout must be a positive number of seconds")
    codes, views = [], []
    for path in args.files:
        code, view = _check_file(path, model, args)
        codes.append(code)
        if view is not None:
            views.append(view)
    if args.html:
        try:
            with open(args.html, "w", encoding="utf-8") as out:
                out.write(render_html(views))
        except OSError as err:
            raise BadInput(f"cannot write {args.html}: {err.strerror or err}") from None
        print(f"report written to {args.html}")
    return worst(codes)


def _check_file(path: str, model: Model | None,
                args: argparse.Namespace) -> tuple[int, dict[str, Any] | None]:
    started = time.perf_counter()  # for the times printed only
    try:
        history = load_history(path, format=args.format, model=model)
    except HistoryError as err:
        print_error(str(err))
        return EXIT_BAD_INPUT, None
    parsed = time.perf_counter()
    options = {} if args.max_cache is None else {"max_cache": args.max_cache}
    result = check(history.model, history.operations, args.timeout, verbose=True, **options)
    checked = time.perf_counter()
    _print_result(path, history.format, result, parsed - started, checked - parsed)
    view = build_view(result, title=path) if args.html else None
    return {Verdict.OK: EXIT_OK, Verdict.ILLEGAL: EXIT_FAIL,
            Verdict.UNKNOWN: EXIT_UNKNOWN}[result.verdict], view


def _print_result(path: str, fmt: str, result: CheckResult, parse_s: float, check_s: float) -> None:
    counts = ", ".join(f"{n} {name}" for name, n in result.counts().items() if n) or "none"
    ops = sum(len(p.operations) for p in result.partitions)
    print(f"{path}: {_HEADLINE[result.verdict]}")
    print(f"  model {result.model.name}, format {fmt}; {ops} operations in "
          f"{len(result.partitions)} partitions ({counts})")
    print(f"  parse {parse_s * 1000:.1f} ms, check {check_s * 1000:.1f} ms")
    rank = {Verdict.ILLEGAL: 0, Verdict.UNKNOWN: 1, Verdict.OK: 2, None: 3}
    order = sorted(result.partitions, key=lambda p: rank[p.verdict])
    for part in order[:_SHOWN_PARTITIONS]:
        verdict = part.verdict.value if part.verdict else "skipped"
        extra = f" ({part.reason})" if part.reason else ""
        print(f"  partition {part.label}: {len(part.operations)} ops, {verdict}{extra}")
        if part.verdict is Verdict.ILLEGAL:
            print(f"    {describe_failure(result.model, part)}")
    if len(order) > _SHOWN_PARTITIONS:
        print(f"  ... {len(order) - _SHOWN_PARTITIONS} more partitions")


def _model(name: str) -> Model | None:
    if name == "auto":
        return None
    if name in MODELS:
        return MODELS[name]
    if ":" not in name:
        raise BadInput(f"unknown model {name!r} (choose from auto, {', '.join(MODELS)}, "
                        "or MODULE:ATTRIBUTE)")
    module, _, attribute = name.partition(":")
    try:
        found = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as err:
        raise BadInput(f"cannot load model {name!r}: {err}") from None
    if not isinstance(found, Model):
        raise BadInput(f"{name!r} is not a checkers.linearizability.Model")
    return found
