"""Determinism is the product: the same seed gives the same trace and digest in any process,
under any PYTHONHASHSEED; different seeds give different traces."""

from __future__ import annotations

import os
import subprocess
import sys

from scenarios.runner import run_scenario


def _digest_in_subprocess(name: str, seed: int, hashseed: str) -> str:
    env = dict(os.environ, PYTHONHASHSEED=hashseed)
    out = subprocess.run([sys.executable, "-m", "scenarios.cli", "run", name, "--seed", str(seed)],
                         capture_output=True, text=True, env=env, check=True).stdout
    lines = [line for line in out.splitlines() if line.startswith("digest: ")]
    assert len(lines) == 1, out
    return lines[0].split()[1]


def test_same_seed_same_digest_across_processes_and_hash_seeds():
    """Two processes with different string-hash seeds agree on the digest of a faulty run."""
    for name in ("UnreliableChurn3C", "SnapshotInstallUnCrash3D", "random"):
        digests = {_digest_in_subprocess(name, 7, h) for h in ("0", "12345")}
        assert len(digests) == 1, (name, digests)
        assert digests == {run_scenario(name, 7).digest}


def test_same_seed_same_trace_lines_in_process():
    a = run_scenario("Figure8Unreliable3C", 3, keep_lines=True)
    b = run_scenario("Figure8Unreliable3C", 3, keep_lines=True)
    assert a.lines == b.lines and a.digest == b.digest


def test_different_seeds_different_traces():
    digests = {run_scenario("ReElection3A", seed).digest for seed in range(1, 6)}
    assert len(digests) == 5
