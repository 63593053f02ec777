"""An unknown argument is said with the usage of the command it was given to."""

from __future__ import annotations

import contextlib
import io

import pytest

from scenarios.cli import main
from scenarios.errors import EXIT_BAD_INPUT


@pytest.mark.parametrize("args, command", [
    (["explore", "raft", "--bogus"], "explore"),
    (["run", "Basic4A", "--bogus"], "run"),
    (["list", "extra"], "list"),
])
def test_an_unknown_argument_points_at_its_commands_help(args: list[str], command: str) -> None:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(args)
    line = err.getvalue()
    assert code == EXIT_BAD_INPUT and line.count("\n") == 1, line
    assert "unrecognized arguments: " in line and f"usage: raftsim {command} " in line, line
    assert f"see `raftsim {command} --help`" in line, line
