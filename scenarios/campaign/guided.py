"""Coverage-guided campaigns: steer the swarm toward the biases that reach rare points.

A guided campaign runs its seeds in rounds of ``ROUND`` consecutive seeds. Before a round, the
client reads what the earlier seeds of the range reached (the database's coverage column) and
gives each seed of the round a swarm bias (``scenarios.harness.faults.BIASES``) as params,
``{"swarm": {"bias": B}}``: the seed then draws everything else under that bias, and the
result stores the bias with what it drew. How a bias is weighed, as a fuzzer's power schedule:

- a bias tried fewer than ``EXPLORE`` times so far weighs 1 (every bias gets tried early);
- otherwise its weight is the sum, over the points its runs reached, of (the fraction of its
  runs that reached the point) / (the number of runs of the campaign that reached it): a bias
  that reaches what few runs reach weighs more; the weights are then normalised and mixed
  with a floor (``FLOOR`` of the total, spread evenly) so no bias starves.

The choice for a seed is a fixed function of the seed and the round's weights (a hash of the
seed placed on the cumulative weights), and the weights depend only on the stored results of
earlier rounds, which are all in before a round starts. So a guided campaign gives the same
biases, hence the same results, for any number of workers, in any order of completion, and
when resumed. A seed's run is replayed with ``raftsim run SCENARIO --seed S --params P`` where
P holds ``{"swarm": {"bias": B}}`` (the summary prints the command).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any

from scenarios.campaign.db import CampaignDB
from scenarios.harness.faults import BIASES

__all__ = ["ROUND", "EXPLORE", "FLOOR", "bias_weights", "pick", "params_for", "stored_bias",
           "Guide"]

ROUND = 40           # seeds per round
EXPLORE = 3          # runs of a bias before its coverage counts
FLOOR = 0.2          # share of the weight spread evenly over every bias


def params_for(bias: str) -> dict[str, Any]:
    """The params that make a seed draw under ``bias``."""
    return {"swarm": {"bias": bias}}


def bias_weights(history: list[tuple[str, dict[str, int]]]) -> dict[str, float]:
    """Each bias's weight (summing to 1) from ``history``: (bias, coverage) of earlier runs."""
    runs = {b: 0 for b in BIASES}
    reached_by: dict[str, dict[str, int]] = {b: {} for b in BIASES}
    reached: dict[str, int] = {}
    for bias, coverage in history:
        if bias not in runs:
            continue
        runs[bias] += 1
        for point, count in coverage.items():
            if count:
                reached[point] = reached.get(point, 0) + 1
                mine = reached_by[bias]
                mine[point] = mine.get(point, 0) + 1
    score: dict[str, float] = {}
    for bias in BIASES:
        if runs[bias] < EXPLORE:
            score[bias] = 1.0
            continue
        score[bias] = sum((n / runs[bias]) / reached[p]
                          for p, n in sorted(reached_by[bias].items()))
    total = sum(score.values())
    even = 1.0 / len(BIASES)
    if total <= 0:
        return {b: even for b in BIASES}
    return {b: FLOOR * even + (1 - FLOOR) * score[b] / total for b in BIASES}


def pick(weights: dict[str, float], seed: int) -> str:
    """The bias of ``seed``: a hash of the seed placed on the cumulative weights."""
    h = hashlib.blake2b(f"guided:{seed}".encode(), digest_size=8).digest()
    u = int.from_bytes(h, "big") / 2**64
    acc = 0.0
    for bias in BIASES:
        acc += weights[bias]
        if u < acc:
            return bias
    return BIASES[-1]


class Guide:
    """Plans the rounds of one guided campaign over seeds from ``lo``, reading each stored
    result once (rounds only move forward)."""

    def __init__(self, db: CampaignDB, lo: int) -> None:
        self.db, self.lo = db, lo
        self.read_to = lo               # results of seeds lo..read_to-1 are in history
        self.history: list[tuple[str, dict[str, int]]] = []
        self.plan: dict[int, str] = {}

    def _read(self, before: int) -> None:
        if before <= self.read_to:
            return
        try:
            rows = self.db.conn.execute(
                "SELECT json_extract(profile, '$.swarm.bias'), coverage FROM results "
                "WHERE seed BETWEEN ? AND ? AND coverage IS NOT NULL ORDER BY seed",
                (self.read_to, before - 1)).fetchall()
        except sqlite3.DatabaseError:
            raise self.db._guard("read its results") from None
        self.history += [(bias, json.loads(cov)) for bias, cov in rows if bias is not None]
        self.read_to = before

    def plan_round(self, start: int, stop: int) -> dict[int, str]:
        """The bias of each seed ``start..stop-1``, from the results of seeds before."""
        self._read(start)
        weights = bias_weights(self.history)
        self.plan = {seed: pick(weights, seed) for seed in range(start, stop)}
        return self.plan

    def params_of(self, seed: int) -> dict[str, Any]:
        """A seed's params: planned in this round, else as stored (a pending re-run)."""
        bias = self.plan.get(seed) or stored_bias(self.db, seed) or "uniform"
        return params_for(bias)


def stored_bias(db: CampaignDB, seed: int) -> str | None:
    """The bias a stored result ran with (a resumed campaign's pending re-runs need it)."""
    r = db.result(seed)
    if r is None or r.profile is None:
        return None
    bias = json.loads(r.profile).get("swarm", {}).get("bias")
    return bias if isinstance(bias, str) else None
