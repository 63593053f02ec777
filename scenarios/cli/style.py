"""Colour for verdicts on a terminal: green for a pass, red for a failure, yellow for unknown.

Only when standard output is a terminal, ``NO_COLOR`` is unset or empty (no-color.org) and
``TERM`` is not ``dumb``; piped or captured output is never coloured, so scripts and the tested
transcripts see plain text. Imports nothing of ours.
"""

from __future__ import annotations

import os
import sys

__all__ = ["verdict", "colour_enabled"]

_CODES = {"green": "32", "red": "31", "yellow": "33"}
_OF_WORD = {"PASS": "green", "FAIL": "red", "UNKNOWN": "yellow"}


def colour_enabled() -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


def verdict(text: str, colour: str | None = None) -> str:
    """``text`` in ``colour`` (default: by its first word, PASS / FAIL / UNKNOWN) when colour
    is enabled, else unchanged."""
    colour = colour or _OF_WORD.get(text.split(" ", 1)[0].rstrip(":"))
    if colour is None or not colour_enabled():
        return text
    return f"\x1b[{_CODES[colour]}m{text}\x1b[0m"
