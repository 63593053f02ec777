"""Verdicts are coloured only on a terminal, and never with NO_COLOR set (no-color.org) or
TERM=dumb: piped output and the tested transcripts stay plain text."""

from __future__ import annotations

import io
from typing import Any

import pytest

from scenarios.cli import style


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("word, code", [("PASS", "32"), ("FAIL", "31"), ("UNKNOWN", "33")])
def test_verdicts_are_coloured_on_a_terminal(monkeypatch: Any, word: str, code: str) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr("sys.stdout", Terminal())
    assert style.verdict(word) == f"\x1b[{code}m{word}\x1b[0m"
    assert style.verdict("not linearizable", "red") == "\x1b[31mnot linearizable\x1b[0m"


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"TERM": "dumb"}])
def test_no_colour_when_asked_not_to(monkeypatch: Any, env: dict[str, str]) -> None:
    monkeypatch.setenv("TERM", "xterm")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("sys.stdout", Terminal())
    assert style.verdict("FAIL") == "FAIL"


def test_no_colour_when_piped(monkeypatch: Any) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert style.verdict("PASS") == "PASS"
