"""Campaign throughput on Dask against the local pool, on the same seeds:

(1) seeds per minute of the local pool with 2 worker processes (``--jobs 2``);
(2) seeds per minute of a Dask ``LocalCluster`` with 2 single-threaded worker processes
    (``--scheduler local:2``), the cluster started beforehand (its start-up is printed apart);
(3) the overhead per seed of (2) against (1). Target: under 10%.

Both run the ``random`` scenario (5 servers, 5 clients, 10 virtual seconds, faults drawn per
seed) with the spot-check off, and store every result in SQLite as a campaign does; their
digests are compared. Each engine runs ``--repeat`` times, alternating, and the median is
printed with every run. The load average is printed too: on a shared machine it explains noise.

    python bench/bench_campaign_dask.py [--seeds 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scenarios.campaign import CampaignDB, run_campaign  # noqa: E402

WORKLOAD = {"workload": {"servers": 5, "clients": 5, "duration_ms": 10_000.0}}


def timed(run: object, seeds: list[int]) -> tuple[float, dict[int, str | None]]:
    with tempfile.TemporaryDirectory() as tmp:
        db = CampaignDB(os.path.join(tmp, "bench.db"), "random", create=True)
        started = time.perf_counter()
        for _ in run(db, seeds):                # type: ignore[operator]
            pass
        wall = time.perf_counter() - started
        digests = {r.seed: r.digest for r in db.results()}
        db.close()
    return wall, digests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import distributed
    from scenarios.campaign.cluster import check_workers, run_campaign_dask
    seeds = list(range(1, args.seeds + 1))
    started = time.perf_counter()
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=50)
    client = distributed.Client(cluster)
    check_workers(client, "local:2")
    print(f"LocalCluster(2 workers) start-up and version check: "
          f"{time.perf_counter() - started:.1f} s (paid once per campaign)")

    def pool(db: CampaignDB, seeds: list[int]) -> object:
        return run_campaign("random", seeds, 2, db, params=WORKLOAD)

    def dask(db: CampaignDB, seeds: list[int]) -> object:
        return run_campaign_dask(client, "random", seeds, db, params=WORKLOAD)

    walls: dict[str, list[float]] = {"pool": [], "dask": []}
    reference: dict[int, str | None] | None = None
    for _ in range(args.repeat):
        for name, run in (("pool", pool), ("dask", dask)):
            wall, digests = timed(run, seeds)
            walls[name].append(wall)
            reference = reference or digests
            assert digests == reference, f"{name}: digests differ from the first run"
    client.close()
    cluster.close()
    rate = {name: len(seeds) / statistics.median(w) * 60 for name, w in walls.items()}
    for n, (name, label) in enumerate((("pool", "local pool, --jobs 2"),
                                       ("dask", "LocalCluster, 2 workers"))):
        runs = ", ".join(f"{len(seeds) / w * 60:,.0f}" for w in walls[name])
        print(f"({n + 1}) {label}: {rate[name]:,.0f} seeds/min median of {args.repeat} "
              f"(runs: {runs}), {len(seeds)} seeds")
    overhead = (rate["pool"] / rate["dask"] - 1) * 100
    print(f"(3) Dask overhead per seed: {overhead:+.1f}% (target < 10%); digests identical; "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
