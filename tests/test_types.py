"""The type checker runs with the tests: mypy over every package (configured in pyproject.toml)
must report no error, so annotations stay true as the code changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api", reason="mypy is installed with the test extras")

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_reports_no_error(tmp_path: Path) -> None:
    """`mypy` (pyproject's [tool.mypy]: protocols, checkers, sim, scenarios) is clean."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        out, err, status = api.run(["--cache-dir", str(tmp_path / "cache")])
    finally:
        os.chdir(cwd)
    assert status == 0, f"mypy found problems:\n{out}{err}"
