"""Golden digests: a few seeded runs must keep producing exactly the same trace.

A change here means the simulation behaves differently: intended (a protocol or simulator
change: regenerate with ``RAFTSIM_REWRITE_GOLDEN=1 python3 -m pytest tests/test_golden.py`` and
say why in the commit) or not (nondeterminism, an accidental behaviour change: find it with
``raftsim replay`` on a trace written before the change).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from scenarios.runner import run_scenario

GOLDEN = Path(__file__).parent / "golden" / "digests.json"
RUNS = [("BasicAgree3B", 1), ("Figure8Unreliable3C", 2), ("SnapshotInstallUnCrash3D", 3),
        ("UnreliableOneKey4A", 1), ("SnapshotUnreliableRecoverConcurrentPartition4B", 1),
        ("ControllerBasic5A", 1), ("random", 3), ("random-raft", 5)]


def _key(name: str, seed: int) -> str:
    return f"{name}@{seed}"


@pytest.fixture(scope="module")
def golden() -> dict[str, str]:
    if os.environ.get("RAFTSIM_REWRITE_GOLDEN"):
        digests = {_key(n, s): run_scenario(n, s).digest for n, s in RUNS}
        GOLDEN.write_text(json.dumps(digests, indent=2, sort_keys=True) + "\n")
    return json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("name, seed", RUNS)
def test_digest_unchanged(golden, name: str, seed: int):
    assert run_scenario(name, seed).digest == golden[_key(name, seed)], (
        f"{name} seed {seed} behaves differently (see this file's docstring)")
