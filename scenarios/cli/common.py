"""What every ``raftsim`` command shares: the argument parser that reports bad input as one line,
seed ranges, scenario lookup, writable-path checks and the exit-code rule.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Iterable, NoReturn

from scenarios.errors import (EXIT_BAD_INPUT, EXIT_FAIL, EXIT_OK, EXIT_UNKNOWN, BadInput,
                              error_line)
from scenarios.registry import Scenario, get

__all__ = ["Parser", "parse_seeds", "find_scenario", "check_writable", "exit_code", "worst",
           "print_error"]


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are ``BadInput`` (one line, exit 2), not usage + exit."""

    def error(self, message: str) -> NoReturn:
        raise BadInput(message)


def parse_seeds(text: str) -> list[int]:
    """``N`` or ``A..B`` (inclusive) or ``A..B`` written ``A-B``; seeds are non-negative."""
    text = text.strip()
    for sep in ("..", "-"):
        if sep in text and not text.startswith(sep):
            lo_s, _, hi_s = text.partition(sep)
            lo, hi = _seed(lo_s, text), _seed(hi_s, text)
            if hi < lo:
                raise BadInput(f"bad seed range {text!r}: {hi} is below {lo}")
            return list(range(lo, hi + 1))
    return [_seed(text, text)]


def _seed(part: str, whole: str) -> int:
    try:
        value = int(part.strip())
    except ValueError:
        raise BadInput(f"bad seed {whole!r}: expected an integer N or a range A..B") from None
    if value < 0:
        raise BadInput(f"bad seed {whole!r}: seeds are non-negative")
    return value


def find_scenario(name: str) -> Scenario:
    """The scenario called ``name``; an unknown name is bad input (with a hint)."""
    return get(name)


def check_writable(path: str) -> None:
    """Fail early, as bad input, if ``path`` cannot be created."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise BadInput(f"cannot write {path!r}: no such directory {folder!r}")
    if os.path.isdir(path):
        raise BadInput(f"cannot write {path!r}: it is a directory")


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
