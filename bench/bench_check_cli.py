"""Time ``raftsim check`` as a user runs it: one process per file of the external corpus.

Usage: ``python bench/bench_check_cli.py [--data DIR] [--repeat N] [--only SUBSTRING]``

Prints, per file, the median wall time of ``python -m scenarios.cli check FILE`` over N runs
(start-up, imports, parsing, search and printing included) and the exit code, then the sum of the
medians, the median of a bare ``python -c pass`` (the floor no command can beat) and the time
the whole corpus takes in one call (``check FILE...``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _wall(argv: list[str], repeat: int) -> tuple[float, int]:
    times, code = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        code = subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode
        times.append(time.perf_counter() - started)
    return statistics.median(times), code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "porcupine"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="")
    parser.add_argument("--extra", default="", help="extra check options, space separated")
    args = parser.parse_args()
    data = Path(args.data)
    if not data.is_dir():
        print(f"no corpus at {data}")
        return 2
    files = sorted(p for p in data.rglob("*") if p.is_file() and p.suffix in (".txt", ".log")
                   and args.only in str(p) and p.stat().st_size > 0)
    cli = [sys.executable, "-m", "scenarios.cli", "check", *args.extra.split()]
    total = 0.0
    for path in files:
        median, code = _wall([*cli, str(path)], args.repeat)
        total += median
        print(f"{path.relative_to(data)!s:28} {median * 1000:8.0f} ms  exit {code}")
    floor, _ = _wall([sys.executable, "-c", "pass"], max(args.repeat, 5))
    print(f"sum of medians over {len(files)} files: {total:.2f} s "
          f"(python start-up alone: {floor * 1000:.0f} ms per call)")
    whole, _ = _wall([*cli, *map(str, files)], args.repeat)
    print(f"one call over all {len(files)} files: {whole:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
