"""The exit codes and the bad-input error of every ``raftsim`` command (one set for all).

A command returns ``EXIT_OK`` when everything it judged passed, ``EXIT_FAIL`` when it found a
violation (or a replay diverged), ``EXIT_UNKNOWN`` when a run could not be judged (a
linearizability search that gave up), ``EXIT_BAD_INPUT`` when the user asked for something that
cannot be done, ``EXIT_CRASH`` when raftsim itself raised an unexpected exception (a bug: never
a verdict; the traceback goes to a file, see ``write_crash_report``). Bad input is a ``BadInput`` raised anywhere below the command line (runner,
shrinker, campaign database, the commands themselves); the command line prints it as one line,
``raftsim: error: MESSAGE``, never a traceback. This module imports nothing of ours.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from typing import Sequence

__all__ = ["EXIT_OK", "EXIT_FAIL", "EXIT_BAD_INPUT", "EXIT_UNKNOWN", "EXIT_CRASH",
           "EXIT_INTERRUPTED", "EXIT_CODES", "ERROR_PREFIX", "BadInput", "error_line", "printable",
           "write_crash_report"]

EXIT_OK = 0
EXIT_FAIL = 1            # a check failed, a history is not linearizable, a replay diverged
EXIT_BAD_INPUT = 2       # arguments, files or params the user can fix
EXIT_UNKNOWN = 3         # no failure found, but something could not be judged
EXIT_CRASH = 4           # an unexpected exception: a bug in raftsim, reported with a traceback file
EXIT_INTERRUPTED = 130   # Ctrl-C or SIGTERM (the shell's 128 + SIGINT)

#: Every code a command may return (tests assert nothing else ever comes out).
EXIT_CODES = (EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT, EXIT_UNKNOWN, EXIT_CRASH, EXIT_INTERRUPTED)

ERROR_PREFIX = "raftsim: error: "


class BadInput(Exception):
    """Input the user can fix (an argument, a file, a param); reported as one line, exit 2."""


def error_line(message: str) -> str:
    """How every command shows bad input: one line with the common prefix."""
    return ERROR_PREFIX + printable(" ".join(message.splitlines()))


def printable(text: str) -> str:
    """``text`` with every control character escaped (``\\x1b``), so that names read from input
    files can never send escape sequences to the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def write_crash_report(exc: BaseException, argv: Sequence[str], version: str) -> str:
    """Write ``exc``'s traceback, the command and the version to a new file; return its path."""
    fd, path = tempfile.mkstemp(prefix="raftsim-crash-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f"raftsim {version}, Python {sys.version.split()[0]}\n")
        f.write("command: raftsim " + " ".join(argv) + "\n\n")
        f.write("".join(traceback.format_exception(exc)))
    return path
