"""One workload, for counting the instructions it executes: deterministic where timings are not.

Everything a run needs is imported first, so the count of ``none`` (imports only) can be
subtracted from the count of a workload. Run under valgrind, with the real interpreter binary
(not a shell shim), and compare two versions of the code with the same workload:

    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \\
        python3.11 bench/instructions.py load       # prints "I refs: ..." on stderr

Workloads: ``none``; ``load`` (the 5-node Raft load of bench_raft.py, 2 virtual seconds);
``random-raft`` (seeds 1 and 2); or any scenario name (seed 1). See docs/performance.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_raft  # noqa: E402
import checkers.linearizability  # noqa: E402,F401  (imported lazily by KV runs)
import sim.host  # noqa: E402,F401
import sim.nemesis  # noqa: E402,F401
import sim.network  # noqa: E402,F401
from scenarios.registry import all_scenarios  # noqa: E402
from scenarios.runner import run_scenario  # noqa: E402


def main() -> None:
    what = sys.argv[1] if len(sys.argv) > 1 else "none"
    all_scenarios()
    if what == "none":
        return
    if what == "load":
        run_scenario(bench_raft.client_load(2000, 1.0), 1)
    elif what == "random-raft":
        for seed in (1, 2):
            run_scenario("random-raft", seed)
    else:
        run_scenario(what, 1)


if __name__ == "__main__":
    main()
