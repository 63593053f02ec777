"""``raftsim check FILE...``: check recorded histories for linearizability.

This module owns the command line of the checker: arguments, the text printed per file, the
HTML page and the exit code (0 linearizable, 1 not linearizable, 2 bad input, 3 unknown).
Bad input is one line on stderr, ``raftsim check: error: ...``, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from typing import Any, Sequence

from checkers.linearizability import (FORMATS, MODELS, CheckResult, HistoryError, Model, Verdict,
                                      check, load_history)
from checkers.linearizability.html import render_html
from checkers.linearizability.report import build_view, describe_failure

__all__ = ["add_parser", "run", "main", "EXIT_OK", "EXIT_ILLEGAL", "EXIT_BAD_INPUT", "EXIT_UNKNOWN"]

EXIT_OK, EXIT_ILLEGAL, EXIT_BAD_INPUT, EXIT_UNKNOWN = 0, 1, 2, 3
_SHOWN_PARTITIONS = 12
_HEADLINE = {Verdict.OK: "linearizable", Verdict.ILLEGAL: "NOT linearizable",
             Verdict.UNKNOWN: "UNKNOWN (gave up before deciding)"}


class _BadInput(Exception):
    """A problem with the command line or its files, reported as one line."""


def add_parser(subparsers: Any) -> None:
    """Add the ``check`` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "check", help="check histories for linearizability",
        description="Check each history FILE for linearizability. Exit 0 if all are "
                    "linearizable, 1 if one is not, 3 if one could not be decided in time, "
                    "2 on bad input.")
    _add_arguments(parser)
    parser.set_defaults(func=run)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="history files")
    parser.add_argument("--model", default="auto",
                        help=f"auto (the file's), {', '.join(MODELS)}, or MODULE:ATTRIBUTE")
    parser.add_argument("--format", default="auto", help=f"auto, {', '.join(FORMATS)}")
    parser.add_argument("--timeout", type=float, default=None, metavar="S",
                        help="give up (verdict unknown) after S seconds per file")
    parser.add_argument("--max-cache", type=int, default=None, metavar="N",
                        help="give up after N cached configurations in one partition")
    parser.add_argument("--html", default=None, metavar="OUT", help="write an HTML report")


def run(args: argparse.Namespace) -> int:
    """Check every file; print a report per file; return the exit code."""
    try:
        model = _model(args.model)
        if args.format != "auto" and args.format not in FORMATS:
            raise _BadInput(f"unknown format {args.format!r} (choose from auto, {', '.join(FORMATS)})")
        if args.timeout is not None and not args.timeout > 0:
            raise _BadInput("--timeout must be a positive number of seconds")
    except _BadInput as err:
        return _error(str(err))
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
            return _error(f"cannot write {args.html}: {err.strerror or err}")
        print(f"report written to {args.html}")
    return _worst(codes)


def _check_file(path: str, model: Model | None,
                args: argparse.Namespace) -> tuple[int, dict[str, Any] | None]:
    started = time.perf_counter()  # for the times printed only
    try:
        history = load_history(path, format=args.format, model=model)
    except HistoryError as err:
        _error(str(err))
        return EXIT_BAD_INPUT, None
    parsed = time.perf_counter()
    options = {} if args.max_cache is None else {"max_cache": args.max_cache}
    result = check(history.model, history.operations, args.timeout, verbose=True, **options)
    checked = time.perf_counter()
    _print_result(path, history.format, result, parsed - started, checked - parsed)
    view = build_view(result, title=path) if args.html else None
    return {Verdict.OK: EXIT_OK, Verdict.ILLEGAL: EXIT_ILLEGAL,
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
        raise _BadInput(f"unknown model {name!r} (choose from auto, {', '.join(MODELS)}, "
                        "or MODULE:ATTRIBUTE)")
    module, _, attribute = name.partition(":")
    try:
        found = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as err:
        raise _BadInput(f"cannot load model {name!r}: {err}") from None
    if not isinstance(found, Model):
        raise _BadInput(f"{name!r} is not a checkers.linearizability.Model")
    return found


def _worst(codes: Sequence[int]) -> int:
    for code in (EXIT_BAD_INPUT, EXIT_ILLEGAL, EXIT_UNKNOWN):
        if code in codes:
            return code
    return EXIT_OK


def _error(message: str) -> int:
    print(f"raftsim check: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m scenarios.check_cmd FILE...``."""
    parser = argparse.ArgumentParser(prog="raftsim check", description=__doc__.splitlines()[0])
    _add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
