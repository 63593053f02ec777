"""What every ``raftsim`` command shares: the argument parser that reports bad input as one line,
seed ranges, scenario lookup, writable-path checks and the exit-code rule.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Iterable, NamedTuple, NoReturn, Sequence

from scenarios.errors import (EXIT_BAD_INPUT, EXIT_FAIL, EXIT_OK, EXIT_UNKNOWN, BadInput,
                              error_line)
from scenarios.registry import Scenario, get

__all__ = ["Parser", "MAX_SEED", "parse_seeds", "check_seed", "find_scenario", "check_writable",
           "check_outputs", "write_atomically", "read_trace", "TraceTarget", "add_verbosity", "exit_code", "worst",
           "print_error"]


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are ``BadInput`` (one line, exit 2): the message, the
    command's usage line and where to read more."""

    def error(self, message: str) -> NoReturn:
        usage = " ".join(self.format_usage().split())
        raise BadInput(f"{message} ({usage}; see `{self.prog} --help`)")


#: Seeds are stored as SQLite integers and in trace headers: 0 <= seed < 2**63.
MAX_SEED = 2**63 - 1


def parse_seeds(text: str) -> range:
    """``N`` or ``A..B`` (inclusive) or ``A..B`` written ``A-B``; seeds are in [0, 2**63).

    The result is a ``range``: a range of any width is streamed, never built as a list.
    """
    text = text.strip()
    for sep in ("..", "-"):
        if sep in text and not text.startswith(sep):
            lo_s, _, hi_s = text.partition(sep)
            lo, hi = _seed(lo_s, text), _seed(hi_s, text)
            if hi < lo:
                raise BadInput(f"bad seed range {text!r}: {hi} is below {lo}")
            return range(lo, hi + 1)
    seed = _seed(text, text)
    return range(seed, seed + 1)


def _seed(part: str, whole: str) -> int:
    try:
        value = int(part.strip())
    except ValueError:
        raise BadInput(f"bad seed {whole!r}: expected an integer N or a range A..B") from None
    if value < 0:
        raise BadInput(f"bad seed {whole!r}: seeds are non-negative")
    if value > MAX_SEED:
        raise BadInput(f"bad seed {whole!r}: seeds are below 2**63 ({MAX_SEED + 1})")
    return value


def check_seed(seed: object, where: str) -> int:
    """A seed read from a file (a trace header): an integer in [0, 2**63), else bad input."""
    if type(seed) is not int or not 0 <= seed <= MAX_SEED:
        raise BadInput(f"{where}: the seed must be an integer in [0, 2**63), not {seed!r}")
    return seed


class TraceTarget(NamedTuple):
    """What a trace file asks to run again: its scenario, seed and params, and the trace."""
    scenario: Scenario
    seed: int
    params: dict[str, Any]
    loaded: Any                  # sim.LoadedTrace


def read_trace(path: str) -> TraceTarget:
    """Load and verify the trace at ``path`` and the run its header names, or raise
    ``BadInput`` (``FILE:LINE: what``): a seed the command line would refuse, an unknown
    scenario or params that scenario does not accept are refused here too."""
    from sim import TraceError, load_trace
    from scenarios.runner import BadParams, validate_params
    if os.path.exists(path) and not os.path.isfile(path):
        raise BadInput(f"{path}: not a regular file")
    try:
        loaded = load_trace(path)
    except TraceError as exc:
        where = f"{exc.path}:{exc.line}" if exc.line > 0 else exc.path
        raise BadInput(f"{where}: {exc.what}") from None
    except RecursionError:
        raise BadInput(f"{path}: JSON nested too deeply to be a trace") from None
    header = loaded.header
    name, params = header.get("scenario"), header.get("params") or {}
    if not isinstance(name, str):
        raise BadInput(f"{path}:1: the header names no scenario")
    seed = check_seed(header.get("seed"), f"{path}:1")
    if not isinstance(params, dict):
        raise BadInput(f"{path}:1: the header's params are not a JSON object")
    try:
        scenario = find_scenario(name)
    except BadInput as exc:
        raise BadInput(f"{path}:1: {exc}") from None
    try:
        validate_params(scenario, params)
    except BadParams as exc:
        raise BadInput(f"{path}:1: {exc}") from None
    return TraceTarget(scenario, seed, params, loaded)


def find_scenario(name: str) -> Scenario:
    """The scenario called ``name``; an unknown name is bad input (with a hint)."""
    return get(name)


def check_writable(path: str) -> None:
    """Fail early, as bad input, if ``path`` cannot be written (created or replaced)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise BadInput(f"cannot write {path!r}: no such directory {folder!r}")
    if os.path.isdir(path):
        raise BadInput(f"cannot write {path!r}: it is a directory")
    if os.path.exists(path) and not os.path.isfile(path):
        raise BadInput(f"cannot write {path!r}: it is not a regular file")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BadInput(f"cannot write {path!r}: the directory {folder!r} is not writable")


def check_outputs(outputs: Sequence[tuple[str, str | None]],
                  inputs: Sequence[tuple[str, str | None]] = ()) -> None:
    """Before any work: every output (option, path) is writable, and no two outputs, nor an
    output and an input, are the same file (one would overwrite the other)."""
    seen: dict[str, str] = {}
    for option, path in inputs:
        if path:
            seen[os.path.realpath(path)] = option
    for option, path in outputs:
        if path is None:
            continue
        if not path:
            raise BadInput(f"{option}: the file name is empty")
        check_writable(path)
        real = os.path.realpath(path)
        if real in seen:
            raise BadInput(f"{option} and {seen[real]} name the same file {path!r}")
        seen[real] = option


def write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it onto ``path``: a
    failure never leaves a half-written file, nor harms one that was there."""
    folder, base = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{base}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def add_verbosity(parser: argparse.ArgumentParser) -> None:
    """``-q`` (less output) and ``-v`` (more), as pytest has them; ``args.verbosity`` is -1..1."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=-1,
                       default=0, help="print less: only the verdict (and failures)")
    group.add_argument("-v", "--verbose", dest="verbosity", action="store_const", const=1,
                       help="print more")


def exit_code(outcomes: Iterable[str]) -> int:
    """The rule for runs: 1 if any failed, else 3 if any could not be judged, else 0.

    Outcomes are a run's (pass, fail, unknown) or a campaign row's, where a worker that crashed
    or a run that hit a bug in raftsim (crash, error) counts as a failure.
    """
    seen = set(outcomes)
    if seen & {"fail", "error", "crash"}:
        return EXIT_FAIL
    if "unknown" in seen:
        return EXIT_UNKNOWN
    return EXIT_OK


def worst(codes: Iterable[int]) -> int:
    """The exit code of several judged items: bad input, then a failure, then unknown."""
    seen = set(codes)
    for code in (EXIT_BAD_INPUT, EXIT_FAIL, EXIT_UNKNOWN):
        if code in seen:
            return code
    return EXIT_OK


def print_error(message: str) -> None:
    """Report bad input that does not stop the command (one line on stderr)."""
    print(error_line(message), file=sys.stderr)
