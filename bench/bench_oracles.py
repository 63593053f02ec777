"""The cost of the oracles (docs/oracles.md): CPU seconds (``time.process_time``) of seeded runs
with every oracle on, as always, and with only Figure 3's invariants (the oracles switched off
by patching the observer inside this script), each the median of ``--repeat`` runs.

The oracles must stay cheap: O(1) per event or O(what changed). Target: at most +30% CPU on
each run measured. The machine is shared: the load average is printed with the figures.

    python bench/bench_oracles.py [--repeat 3] [--runs Basic4A:1,ReliableChurn3C:1,random:1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cpu import load  # noqa: E402

from scenarios.harness import observe  # noqa: E402
from scenarios.harness.kv import KVCluster  # noqa: E402
from scenarios.runner import run_scenario  # noqa: E402


@contextmanager
def figure3_only() -> Iterator[None]:
    """The observer as it was before the oracles: appends reach log matching, nothing else
    (no send hook, no commit / progress / applied checks, no KV fold)."""
    cls = observe.RaftObserver
    saved = cls.wrap, cls.on_send, KVCluster.kv_oracle

    def wrap(self: Any, addr: str, step: Callable[[Any, Any], tuple[Any, list]]
             ) -> Callable[[Any, Any], tuple[Any, list]]:
        invariants, env, raft_of = self.invariants, self.env, self.raft_of

        def observed(state: Any, event: Any) -> tuple[Any, list]:
            new, effects = step(state, event)
            old_hard, new_hard = raft_of(state).hard, raft_of(new).hard
            if new_hard.log is not old_hard.log and new_hard.log_start == old_hard.log_start:
                log = new_hard.log
                first = observe._first_new_position(old_hard.log, log)
                if first < len(log):
                    invariants.log_appended(
                        env._now, addr, new_hard.log_start + first,
                        [(e.term, e.command) for e in log[first:]], log[first - 1].term)
            return new, effects
        return observed

    cls.wrap = wrap                          # type: ignore[method-assign]
    cls.on_send = None                       # type: ignore[assignment]
    KVCluster.kv_oracle = False
    try:
        yield
    finally:
        cls.wrap, cls.on_send, KVCluster.kv_oracle = saved   # type: ignore[method-assign]


def cpu(name: str, seed: int, repeat: int) -> tuple[float, str]:
    times, digest = [], ""
    for _ in range(repeat):
        started = time.process_time()
        result = run_scenario(name, seed)
        times.append(time.process_time() - started)
        digest = result.digest
    return statistics.median(times), digest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--runs", default="Basic4A:1,ReliableChurn3C:1,random:1,random-raft:1")
    args = parser.parse_args()
    print(f"load average: {load()}")
    print(f"{'run':<24} {'figure 3 only':>14} {'all oracles':>12} {'cost':>7}")
    for item in args.runs.split(","):
        name, _, seed = item.partition(":")
        with figure3_only():
            base, base_digest = cpu(name, int(seed or 1), args.repeat)
        full, digest = cpu(name, int(seed or 1), args.repeat)
        same = "" if digest == base_digest else "  (digests differ!)"
        print(f"{name + ' seed ' + (seed or '1'):<24} {base:>12.3f} s {full:>10.3f} s "
              f"{(full / base - 1) * 100:>+6.1f}%{same}")


if __name__ == "__main__":
    main()
