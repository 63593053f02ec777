"""Time the linearizability checker over the external corpus, parse and check apart, on one core.

Usage: ``python bench/bench_checker.py [--data DIR] [--repeat N] [--cpu K]``

Prints, per file, the operations, the parse time and the check time (best of N runs, CPU time
of this process, so other load on the machine inflates the figures less), whether the verdict
matches EXPECTED.csv, then the totals and the ratio of the check total to the Go reference:
Porcupine v1.3.0 checks the same files in 0.52 s on one core of this kind of machine (parsing
excluded); its c50-ok.txt, with per-key partitioning, takes about 0.29 s.
"""

from __future__ import annotations

import argparse
import csv
import gc
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checkers.linearizability import check, load_history  # noqa: E402

GO_REFERENCE_S = 0.52
GO_C50_S = 0.29


def corpus(explicit: str | None) -> Path:
    candidates = [explicit, os.environ.get("RAFTSIM_PORCUPINE_DATA"), ROOT.parent / "shared" / "data" / "porcupine"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "EXPECTED.csv").is_file():
            return Path(candidate)
    sys.exit("corpus not found: pass --data DIR or set RAFTSIM_PORCUPINE_DATA")


def best_of(repeat: int, work) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    """Smallest CPU time of ``repeat`` runs (collecting garbage before each), and the result."""
    best, value = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        started = time.process_time()  # CPU time of this process: the benchmark's clock
        value = work()
        best = min(best, time.process_time() - started)
    return best, value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="corpus folder (with EXPECTED.csv)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per file; the best counts")
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU (default: the last)")
    args = parser.parse_args()
    folder = corpus(args.data)
    if hasattr(os, "sched_setaffinity"):
        cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        print(f"pinned to cpu {cpu}; load average {os.getloadavg()[0]:.2f}; best of {args.repeat}")
    with open(folder / "EXPECTED.csv", newline="") as f:
        rows = [(r["file"], r["linearizable"]) for r in csv.DictReader(f)]
    print(f"{'file':24} {'ops':>6} {'parse ms':>9} {'check ms':>9}  verdict")
    parse_total = check_total = 0.0
    mismatches, c50 = [], None
    for name, expected in rows:
        parse_s, history = best_of(args.repeat, lambda: load_history(folder / name))
        check_s, result = best_of(args.repeat, lambda: check(history.model, history.operations))  # type: ignore[attr-defined]
        parse_total += parse_s
        check_total += check_s
        got = result.verdict.value  # type: ignore[attr-defined]
        ok = expected == "none" or (got == "ok") == (expected == "true")
        if not ok:
            mismatches.append(name)
        if name.endswith("c50-ok.txt"):
            c50 = check_s
        print(f"{name:24} {len(history.operations):6d} {parse_s * 1000:9.1f} {check_s * 1000:9.1f}  "  # type: ignore[attr-defined]
              f"{got}{'' if ok else '  MISMATCH (expected ' + expected + ')'}")
    print(f"\nfiles {len(rows)}; parse total {parse_total:.3f} s; check total {check_total:.3f} s")
    print(f"check total / Go reference ({GO_REFERENCE_S} s): {check_total / GO_REFERENCE_S:.2f}")
    if c50 is not None:
        print(f"c50-ok.txt check {c50:.3f} s (Go with per-key partitioning: ~{GO_C50_S} s; "
              f"ratio {c50 / GO_C50_S:.2f})")
    if mismatches:
        print(f"VERDICT MISMATCHES: {', '.join(mismatches)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
