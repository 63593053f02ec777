"""Time ``raftsim check`` as a user runs it: one process per file of the external corpus.

Usage: ``python bench/bench_check_cli.py [--data DIR] [--repeat N] [--only SUBSTRING]``

Prints, per file, the median CPU time (user + system, of the child process: less sensitive to
other load on the machine than wall time) and wall time of ``python -m scenarios.cli check FILE``
over N runs (start-up, imports, parsing, search and printing included) and the exit code, then
the sums of the medians, the medians of a bare ``python -c pass`` (the floor no command can beat)
and the time the whole corpus takes in one call (``check FILE...``). ``--root`` runs another
checkout (e.g. an older commit in a git worktree) for a before/after comparison.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _timed(argv: list[str], repeat: int, root: Path) -> tuple[float, float, int]:
    """Median CPU seconds and median wall seconds of ``argv`` over ``repeat`` runs; its exit code."""
    cpu, wall, code = [], [], 0
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        code = subprocess.run(argv, cwd=root, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode
        wall.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(cpu), statistics.median(wall), code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "porcupine"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="")
    parser.add_argument("--extra", default="", help="extra check options, space separated")
    parser.add_argument("--root", default=str(ROOT), help="the checkout to run (default: this one)")
    args = parser.parse_args()
    data, root = Path(args.data).resolve(), Path(args.root).resolve()
    if not data.is_dir():
        print(f"no corpus at {data}")
        return 2
    files = sorted(p for p in data.rglob("*") if p.is_file() and p.suffix in (".txt", ".log")
                   and args.only in str(p) and p.stat().st_size > 0)
    cli = [sys.executable, "-m", "scenarios.cli", "check", *args.extra.split()]
    cpu_total = wall_total = 0.0
    for path in files:
        cpu, wall, code = _timed([*cli, str(path)], args.repeat, root)
        cpu_total, wall_total = cpu_total + cpu, wall_total + wall
        print(f"{path.relative_to(data)!s:28} cpu {cpu * 1000:6.0f} ms  wall {wall * 1000:6.0f} ms"
              f"  exit {code}")
    cpu_floor, wall_floor, _ = _timed([sys.executable, "-c", "pass"], max(args.repeat, 5), root)
    print(f"sum of medians over {len(files)} files: cpu {cpu_total:.2f} s, wall {wall_total:.2f} s "
          f"(python start-up alone: cpu {cpu_floor * 1000:.0f} ms, wall {wall_floor * 1000:.0f} ms "
          "per call)")
    cpu, wall, _ = _timed([*cli, *map(str, files)], args.repeat, root)
    print(f"one call over all {len(files)} files: cpu {cpu:.2f} s, wall {wall:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
