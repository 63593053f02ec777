"""Explorer figures: distinct states per second on one core for 3-node Raft, and the size, time
and peak memory of the bounded configurations of docs/explorer.md.

    python3 bench/bench_explore.py            # every configuration (minutes)
    python3 bench/bench_explore.py --quick    # the rates only
    python3 bench/bench_explore.py --shardkv  # the sharded KV rows only
    python3 bench/bench_explore.py --figure8  # Figure 8 from the initial state (6+ minutes)
    python3 bench/bench_explore.py --figure8 --real   # the real Raft, same bounds

The rows: the rate (median of 3) without and with the Raft invariants, and with them under
partial-order reduction (sleep sets), then the state-space size, time and peak memory for 3
nodes, terms <= 2, logs <= 2 (2 operations) with no faults (without and with symmetry, and
with sleep sets), terms <= 2, logs <= 1 with two messages per link to depth 9 (without and
with sleep sets) and logs <= 2 with one crash and one drop allowed (docs/explorer.md shows the
figures). The shardkv rows: the CLI's default sharded store (a controller of one server, two
groups of one server, two shards, one Join after the settled start, one clerk, one operation,
logs <= 6; rate, median of 3), then the same with logs <= 7 (room for an operation before the
migration), with the sharding invariants and linearizability.

Each configuration runs in a fresh process (so its peak RSS is its own), BFS, with the Raft
safety properties unless the row says "no properties". Rates are distinct states per second of
the process's CPU time (one core), so that a loaded machine does not lower them. TLC on Ongaro's Raft spec explores
about 32,000 distinct states/s (6,425,257 distinct states for 3 servers, terms <= 2, logs <= 2,
no faults, in 3 min 22 s); the spec's state is not ours (ours holds every field of the
implementation: commit and applied indexes, next/match indexes, armed timers), so sizes are
comparable only in order of magnitude.

``--figure8`` (``--runs N``, default 1; ``--real``: raft.step instead) runs the search that finds Figure 8 from the initial
state: a leader that commits an old-term entry by counting replicas (the planted step of
tests/test_explore.py), 3 servers, terms <= 4, logs <= 1, 2 operations, one message per link
with ``overflow="lose-oldest"``, depth 20, symmetry, the Raft invariants; the same search as
``raftsim explore raft --step ... --max-term 4 --max-log 1 --ops 2 --per-link 1 --overflow
lose-oldest --depth 20 --symmetry --states 20000000``. It prints the distinct and generated
states, the CPU seconds, distinct/s and the peak RSS of each run, their medians, and the
violation with its length (leader-completeness at 20 steps).
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CONFIGS = [
    # name, bounds, symmetry, properties, partial-order reduction
    ("rate: 3 nodes, terms<=2, logs<=1, no properties", dict(max_term=2, max_log=1), False,
     False, False),
    ("rate: 3 nodes, terms<=2, logs<=1", dict(max_term=2, max_log=1), False, True, False),
    ("rate: 3 nodes, terms<=2, logs<=1, sleep sets", dict(max_term=2, max_log=1), False, True,
     True),
    ("3 nodes, terms<=2, logs<=2, 2 ops, no faults", dict(max_term=2, max_log=2, ops=2), False,
     True, False),
    ("3 nodes, terms<=2, logs<=2, 2 ops, no faults", dict(max_term=2, max_log=2, ops=2), True,
     True, False),
    ("3 nodes, terms<=2, logs<=2, 2 ops, no faults, sleep sets",
     dict(max_term=2, max_log=2, ops=2), True, True, True),
    ("3 nodes, terms<=2, logs<=1, per-link 2, depth 9",
     dict(max_term=2, max_log=1, per_link=2, depth=9), False, True, False),
    ("3 nodes, terms<=2, logs<=1, per-link 2, depth 9, sleep sets",
     dict(max_term=2, max_log=1, per_link=2, depth=9), False, True, True),
    ("3 nodes, terms<=2, logs<=2, 2 ops, 1 crash, 1 drop",
     dict(max_term=2, max_log=2, ops=2, crashes=1, drops=1), True, True, False),
]
SHARDKV = [
    ("rate: shardkv defaults, 2 groups of 1, 1 change, 1 op, logs<=6",
     dict(max_log=6, ops=1), False, True, False),
    ("shardkv 2 groups of 1, 1 change, 1 op, logs<=7", dict(max_log=7, ops=1), False, True,
     False),
]


def one(bounds: dict, symmetry: bool, properties: bool, por: bool, states: int,
        shardkv: bool = False) -> dict:
    from scenarios.explore import Linearizable, RaftSafety, ShardSafety
    from sim.explore import Bounds, explore, raft_model
    from sim.explore.targets import shardkv_model
    if shardkv:
        model = shardkv_model()
        props = [ShardSafety(model), Linearizable(model)] if properties else []
    else:
        model = raft_model(3)
        props = [RaftSafety(model)] if properties else []
    b = Bounds(**bounds, states=states)
    t0, c0 = time.perf_counter(), time.process_time()
    r = explore(model, b, props, symmetry=symmetry, por=por)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"distinct": r.distinct, "generated": r.generated, "pruned": r.pruned,
            "seconds": seconds, "cpu": cpu,
            "rate": r.distinct / cpu, "peak_mb": peak_mb, "bounds_hit": r.bounds_hit,
            "violation": None if r.violation is None else r.violation.rule}


#: Figure 8 from the initial state under lose-oldest (bounds as ``raftsim explore`` takes them).
FIGURE_8 = dict(max_term=4, max_log=1, ops=2, per_link=1, depth=20, states=20_000_000,
                overflow="lose-oldest")


def figure8(real: bool = False) -> dict:
    """One search of ``FIGURE_8`` with the planted step (``real``: with raft.step)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from scenarios.explore import RaftSafety
    from sim.explore import Bounds, explore, raft_model
    from test_explore import old_term_commit
    model = raft_model(3, None if real else old_term_commit)
    c0 = time.process_time()
    r = explore(model, Bounds(**FIGURE_8), [RaftSafety(model)], symmetry=True)
    cpu = time.process_time() - c0
    return {"distinct": r.distinct, "generated": r.generated, "cpu": cpu,
            "rate": r.distinct / cpu, "peak_mb": resource.getrusage(
                resource.RUSAGE_SELF).ru_maxrss / 1024, "bounds_hit": r.bounds_hit,
            "violation": None if r.violation is None else
            [r.violation.rule, len(r.violation.labels)]}


def main_figure8() -> None:
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 1
    real = "--real" in sys.argv
    outs = []
    for n in range(runs):
        p = subprocess.run([sys.executable, __file__, "--one-figure8"] +
                           (["--real"] if real else []),
                           capture_output=True, text=True, check=True)
        o = json.loads(p.stdout)
        outs.append(o)
        print(f"figure 8{' (real raft)' if real else ''}, run {n + 1}: {o['distinct']:,} "
              f"distinct, {o['generated']:,} generated, {o['cpu']:.1f} s CPU, "
              f"{o['rate']:,.0f} distinct/s, peak RSS {o['peak_mb']:.0f} MB; bounds hit: "
              f"{', '.join(o['bounds_hit']) or 'none'}; violation: {o['violation']}",
              flush=True)
    print(f"median of {runs}: {statistics.median(o['cpu'] for o in outs):.1f} s CPU, "
          f"{statistics.median(o['rate'] for o in outs):,.0f} distinct/s, peak RSS "
          f"{statistics.median(o['peak_mb'] for o in outs):.0f} MB")


def main() -> None:
    quick = "--quick" in sys.argv
    states = 1_000_000
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        print(json.dumps(one(*json.loads(sys.argv[2]))))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--one-figure8":
        print(json.dumps(figure8("--real" in sys.argv)))
        return
    if "--figure8" in sys.argv:
        main_figure8()
        return
    rows = [(r, False) for r in (CONFIGS[:3] if quick else CONFIGS)]
    rows += [(r, True) for r in SHARDKV[:1 if quick else 2]]
    if "--shardkv" in sys.argv:
        rows = [(r, True) for r in SHARDKV]
    for (name, bounds, symmetry, properties, por), shardkv in rows:
        runs = 3 if name.startswith("rate") else 1
        outs = []
        for _ in range(runs):
            p = subprocess.run([sys.executable, __file__, "--one",
                                json.dumps([bounds, symmetry, properties, por, states,
                                            shardkv])],
                               capture_output=True, text=True, check=True)
            outs.append(json.loads(p.stdout))
        rate = statistics.median(o["rate"] for o in outs)
        o = outs[0]
        hit = ", ".join(o["bounds_hit"]) or "none"
        skipped = f", {o['pruned']:,} skipped" if por else ""
        print(f"{name} (symmetry {'on' if symmetry else 'off'}): {o['distinct']:,} distinct, "
              f"{o['generated']:,} generated{skipped}, {o['seconds']:.1f} s "
              f"({o['cpu']:.1f} s CPU), median "
              f"{rate:,.0f} "
              f"distinct/s over {runs} run(s), peak RSS {o['peak_mb']:.0f} MB; bounds hit: "
              f"{hit}; violation: {o['violation']}", flush=True)


if __name__ == "__main__":
    main()
