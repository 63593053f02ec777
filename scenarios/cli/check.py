"""``raftsim check FILE...``: check recorded histories for linearizability.

This module owns the command line of the checker: arguments, the text (or JSON) printed per
file, the HTML page and the exit code (0 linearizable, 1 not linearizable, 2 bad input, 3
unknown; the worst file decides, bad input first). A file that cannot be read is reported as one
line, ``raftsim: error: ...``, and the other files are still checked. It imports only the
checker (never the simulator), so that a check costs what its search costs.

Once one partition of a history is illegal the verdict is final: the other partitions are not
searched unless ``--all-partitions`` asks for them. Output files are checked before any work
starts and written atomically; no report is written when an input is bad.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import time
from typing import Any, Callable

from checkers.linearizability import (DEFAULT_MAX_CACHE, FORMATS, MODELS, CheckResult, HistoryError,
                                      Model, PartitionResult, Verdict, check, load_history)
from checkers.linearizability.report import describe_failure

from scenarios.cli.common import (add_verbosity, check_outputs, print_error, worst,
                                   write_atomically)
from scenarios.cli.style import verdict as paint
from scenarios.errors import (EXIT_BAD_INPUT, EXIT_FAIL, EXIT_OK, EXIT_UNKNOWN, BadInput,
                              printable)

__all__ = ["add_parser", "run"]

_SHOWN_PARTITIONS = 12
_HEADLINE = {Verdict.OK: "linearizable", Verdict.ILLEGAL: "NOT linearizable",
             Verdict.UNKNOWN: "UNKNOWN (gave up before deciding)"}
_EXIT = {Verdict.OK: EXIT_OK, Verdict.ILLEGAL: EXIT_FAIL, Verdict.UNKNOWN: EXIT_UNKNOWN}
_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_ATTRIBUTE = re.compile(r"[A-Za-z_]\w*")
_PROGRESS_AFTER_S = 0.5  # a check shows progress (on a terminal) once it has run this long


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
                        help="give up after N cached configurations in one partition "
                             f"(default {DEFAULT_MAX_CACHE})")
    parser.add_argument("--all-partitions", action="store_true",
                        help="search every partition, even after one was found illegal")
    parser.add_argument("--html", default=None, metavar="OUT", help="write an HTML report")
    add_verbosity(parser)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per file (one line each) instead of text")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check every file; print a report per file; return the exit code."""
    model = _model(args.model)
    if args.format != "auto" and args.format not in FORMATS:
        raise BadInput(f"unknown format {args.format!r} (choose from auto, {', '.join(FORMATS)})")
    if args.timeout is not None and not 0 < args.timeout < float("inf"):
        raise BadInput("--timeout must be a positive number of seconds")
    if args.max_cache is not None and args.max_cache < 1:
        raise BadInput(f"--max-cache must be a positive number of configurations, not {args.max_cache}")
    if args.html:  # before any work: writable, and not one of the histories
        check_outputs([("--html", args.html)], [(path, path) for path in args.files])
    codes, views = [], []
    for index, path in enumerate(args.files):
        code, view = _check_file(path, model, args, f"{index + 1}/{len(args.files)}")
        codes.append(code)
        if view is not None:
            views.append(view)
    if len(args.files) > 1 and not args.json:
        print(_summary(codes))
    if args.html and EXIT_BAD_INPUT not in codes:  # a report of bad input would claim too much
        from checkers.linearizability.html import render_html
        try:
            write_atomically(args.html, render_html(views).encode("utf-8"))
        except OSError as err:
            raise BadInput(f"cannot write {args.html!r}: {err.strerror or err}") from None
        if not args.json:  # stdout holds JSON lines only
            print(f"report written to {printable(args.html)}")
    return worst(codes)


def _check_file(path: str, model: Model | None, args: argparse.Namespace,
                position: str) -> tuple[int, dict[str, Any] | None]:
    started = time.perf_counter()  # for the times printed only
    try:
        history = load_history(path, format=args.format, model=model)
    except HistoryError as err:
        print_error(str(err))
        if args.json:
            _print_json({"file": path, "verdict": "bad-input", "exit": EXIT_BAD_INPUT,
                         "error": str(err)})
        return EXIT_BAD_INPUT, None
    parsed = time.perf_counter()
    options = {} if args.max_cache is None else {"max_cache": args.max_cache}
    progress = _progress(path, position, started) if sys.stderr.isatty() else None
    try:
        result = check(history.model, history.operations, args.timeout, verbose=args.all_partitions,
                       explain=True, progress=progress, **options)
    finally:
        if progress is not None:
            progress(-1, 0)
    checked = time.perf_counter()
    code = _EXIT[result.verdict]
    if args.json:
        _print_json(_json_record(path, history.format, history.ties, result, code,
                                 parsed - started, checked - parsed))
    else:
        _print_result(path, history.format, history.ties, result, parsed - started,
                      checked - parsed, args.verbosity)
    view = None
    if args.html:
        from checkers.linearizability.report import build_view
        view = build_view(result, title=path + (" (ties recorded)" if history.ties == "recorded"
                                                else ""))
    return code, view


def _progress(path: str, position: str, started: float) -> Callable[[int, int], None]:
    """A callback showing ``checking FILE: partition i/n`` on stderr once a check runs long."""
    shown = [False]

    def show(done: int, total: int) -> None:
        if done < 0:  # the end: erase the line if one was shown
            if shown[0]:
                sys.stderr.write("\r\x1b[K")
                sys.stderr.flush()
            return
        if time.perf_counter() - started < _PROGRESS_AFTER_S:
            return
        shown[0] = True
        sys.stderr.write(f"\r\x1b[Kchecking {printable(path)} ({position}): "
                         f"partition {done + 1}/{total}")
        sys.stderr.flush()

    return show


def _print_result(path: str, fmt: str, ties: str, result: CheckResult, parse_s: float,
                  check_s: float, verbosity: int = 0) -> None:
    """The verdict of one file; ``-q``: the verdict line and the failure only; ``-v``: every
    partition, not only the first few."""
    counts = ", ".join(f"{n} {'not searched' if name == 'skipped' else name}"
                       for name, n in result.counts().items() if n) or "none"
    ops = sum(len(p.operations) for p in result.partitions)
    colour = {Verdict.OK: "green", Verdict.ILLEGAL: "red"}.get(result.verdict, "yellow")
    lines = [f"{path}: {paint(_HEADLINE[result.verdict], colour)}",
             f"  model {result.model.name}, format {fmt}"
             f"{', ties recorded' if ties == 'recorded' else ''}; {ops} operations in "
             f"{len(result.partitions)} partitions ({counts})",
             f"  parse {parse_s * 1000:.1f} ms, check {check_s * 1000:.1f} ms"]
    rank = {Verdict.ILLEGAL: 0, Verdict.UNKNOWN: 1, Verdict.OK: 2, None: 3}
    order = sorted(result.partitions, key=lambda p: rank[p.verdict])
    if verbosity < 0:
        lines = lines[:1] + [f"  partition {p.label}: {describe_failure(result.model, p)}"
                             for p in order if p.verdict is Verdict.ILLEGAL]
        print("\n".join(printable(line) for line in lines))
        return
    shown = len(order) if verbosity > 0 else _SHOWN_PARTITIONS
    for part in order[:shown]:
        verdict = part.verdict.value if part.verdict else "not searched"
        extra = f" ({part.reason})" if part.reason else ""
        lines.append(f"  partition {part.label}: {len(part.operations)} ops, {verdict}{extra}")
        if part.verdict is Verdict.ILLEGAL:
            lines.append(f"    {describe_failure(result.model, part)}")
    if len(order) > shown:
        lines.append(f"  ... {len(order) - shown} more partitions (-v shows them all)")
    if result.counts()["skipped"]:
        lines.append("  (the verdict was settled by an illegal partition; --all-partitions "
                     "searches the others too)")
    print("\n".join(printable(line) for line in lines))


def _json_record(path: str, fmt: str, ties: str, result: CheckResult, code: int,
                 parse_s: float, check_s: float) -> dict[str, Any]:
    illegal = next((p for p in result.partitions if p.verdict is Verdict.ILLEGAL), None)
    return {
        "file": path, "verdict": result.verdict.value, "exit": code,
        "model": result.model.name, "format": fmt, "ties": ties,
        "operations": sum(len(p.operations) for p in result.partitions),
        "partitions": {"total": len(result.partitions), **result.counts()},
        "parse_s": round(parse_s, 6), "check_s": round(check_s, 6),
        "failure": None if illegal is None else _failure(result.model, illegal),
        "gave_up": sorted({p.reason for p in result.partitions if p.reason}),
    }


def _failure(model: Model, part: PartitionResult) -> dict[str, Any]:
    return {"partition": part.label, "operations": len(part.operations),
            "explanation": describe_failure(model, part)}


def _print_json(record: dict[str, Any]) -> None:
    import json
    print(json.dumps(record, sort_keys=False))  # ensure_ascii: no control character gets out


def _summary(codes: list[int]) -> str:
    names = ((EXIT_OK, "linearizable"), (EXIT_FAIL, "NOT linearizable"),
             (EXIT_UNKNOWN, "unknown"), (EXIT_BAD_INPUT, "bad input"))
    parts = [f"{codes.count(code)} {name}" for code, name in names if codes.count(code)]
    return f"{len(codes)} files: {', '.join(parts)}"


def _model(name: str) -> Model | None:
    if name == "auto":
        return None
    if name in MODELS:
        return MODELS[name]
    module, colon, attribute = name.partition(":")
    if not colon:
        raise BadInput(f"unknown model {name!r} (choose from auto, {', '.join(MODELS)}, "
                       "or MODULE:ATTRIBUTE)")
    if not _MODULE.fullmatch(module) or not _ATTRIBUTE.fullmatch(attribute):
        raise BadInput(f"bad model {name!r}: expected MODULE:ATTRIBUTE, e.g. mymodels:counter_model")
    try:
        found = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as err:
        raise BadInput(f"cannot load model {name!r}: {err}") from None
    except Exception as err:  # the user's module failed while importing: their input, not our bug
        raise BadInput(f"cannot load model {name!r}: importing {module} raised "
                       f"{type(err).__name__}: {err}") from None
    if not isinstance(found, Model):
        raise BadInput(f"{name!r} is not a checkers.linearizability.Model")
    return found
