"""The exit codes and the bad-input error of every ``raftsim`` command (one set for all).

A command returns ``EXIT_OK`` when everything it judged passed, ``EXIT_FAIL`` when it found a
violation (or a replay diverged), ``EXIT_UNKNOWN`` when a run could not be judged (a
linearizability search that gave up), ``EXIT_BAD_INPUT`` when the user asked for something that
cannot be done. Bad input is a ``BadInput`` raised anywhere below the command line (runner,
shrinker, campaign database, the commands themselves); the command line prints it as one line,
``raftsim: error: MESSAGE``, never a traceback. This module imports nothing of ours.
"""

from __future__ import annotations

__all__ = ["EXIT_OK", "EXIT_FAIL", "EXIT_BAD_INPUT", "EXIT_UNKNOWN", "EXIT_INTERRUPTED",
           "ERROR_PREFIX", "BadInput", "error_line"]

EXIT_OK = 0
EXIT_FAIL = 1            # a check failed, a history is not linearizable, a replay diverged
EXIT_BAD_INPUT = 2       # arguments, files or params the user can fix
EXIT_UNKNOWN = 3         # no failure found, but something could not be judged
EXIT_INTERRUPTED = 130   # Ctrl-C or SIGTERM (the shell's 128 + SIGINT)

ERROR_PREFIX = "raftsim: error: "


class BadInput(Exception):
    """Input the user can fix (an argument, a file, a param); reported as one line, exit 2."""


def error_line(message: str) -> str:
    """How every command shows bad input: one line with the common prefix."""
    return ERROR_PREFIX + " ".join(message.splitlines())
