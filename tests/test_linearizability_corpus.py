"""The external corpus: every Porcupine / Jepsen history gets the verdict EXPECTED.csv gives.

The files live outside the repository (``../shared/data/porcupine/`` from the project root, or
``$RAFTSIM_PORCUPINE_DATA``); the tests skip cleanly when the folder is absent.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from checkers.linearizability import Verdict, check, load_history

ROOT = Path(__file__).resolve().parent.parent


def corpus_dir() -> Path | None:
    """Where the corpus is, or None."""
    env = os.environ.get("RAFTSIM_PORCUPINE_DATA")
    for candidate in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "data" / "porcupine"]:
        if (candidate / "EXPECTED.csv").is_file():
            return candidate
    return None


def expected_rows() -> list[tuple[str, str]]:
    folder = corpus_dir()
    if folder is None:
        return []
    with open(folder / "EXPECTED.csv", newline="") as f:
        return [(row["file"], row["linearizable"]) for row in csv.DictReader(f)]


ROWS = expected_rows()


@pytest.mark.skipif(not ROWS, reason="external corpus not found (set RAFTSIM_PORCUPINE_DATA)")
@pytest.mark.parametrize("name,expected", ROWS or [("-", "-")], ids=[r[0] for r in ROWS] or ["absent"])
def test_corpus_file_gets_expected_verdict(name: str, expected: str) -> None:
    """A history is linearizable iff EXPECTED.csv says so (``none``: no verdict to compare)."""
    folder = corpus_dir()
    assert folder is not None
    if expected == "none":
        pytest.skip("no verdict for this file")
    history = load_history(folder / name)
    result = check(history.model, history.operations, timeout=60)
    assert result.verdict is (Verdict.OK if expected == "true" else Verdict.ILLEGAL)


@pytest.mark.skipif(not ROWS, reason="external corpus not found (set RAFTSIM_PORCUPINE_DATA)")
def test_corpus_verbose_verdicts_agree_and_explain() -> None:
    """A verbose check gives the same verdicts, and every illegal partition names an operation."""
    folder = corpus_dir()
    assert folder is not None
    for name, expected in ROWS:
        if expected == "none" or name.endswith("c50-ok.txt"):
            continue
        history = load_history(folder / name)
        result = check(history.model, history.operations, timeout=60, verbose=True)
        assert result.ok == (expected == "true"), name
        for part in result.partitions:
            if part.verdict is Verdict.ILLEGAL:
                assert part.partials, name
                for partial in part.partials:
                    assert partial.blocked not in partial.order


@pytest.mark.skipif(not ROWS, reason="external corpus not found (set RAFTSIM_PORCUPINE_DATA)")
def test_corpus_formats_are_detected() -> None:
    """Porcupine kv logs read as kv histories, Jepsen logs as CAS-register histories."""
    folder = corpus_dir()
    assert folder is not None
    kv = load_history(folder / "kv" / "c01-ok.txt")
    jepsen = load_history(folder / "jepsen" / "etcd_000.log")
    assert (kv.format, kv.model.name) == ("porcupine-kv", "kv")
    assert (jepsen.format, jepsen.model.name) == ("jepsen", "cas-register")
    assert any(op.unknown for op in jepsen.operations)  # the :info operations
