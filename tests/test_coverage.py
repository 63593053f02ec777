"""Coverage points: reached in runs built to reach them, absent where they cannot happen,
deterministic per seed; stored with campaign results (schema 3, schema 2 migrated); and the
coverage-guided campaign: its steering, and its results reproducible whatever the workers."""

from __future__ import annotations

import json
import sqlite3

import pytest

import scenarios.cli.campaign as campaign_cli
from scenarios.campaign import CampaignDB, CampaignError, SeedResult
from scenarios.campaign.db import coverage_summary
from scenarios.campaign.guided import EXPLORE, bias_weights, pick
from scenarios.cli import main
from scenarios.harness.coverage import POINTS
from scenarios.harness.faults import BIASES
from scenarios.runner import run_scenario

CALM = {"schedule": [], "hunt": {"p": 0.0}, "duration_ms": 3000.0,
        "net": {"reliable": True, "reliable_delay": 1.0},
        "workload": {"snapshot_interval": 0}}


def test_a_quiet_run_reaches_only_what_a_quiet_run_can() -> None:
    """No fault, a reliable network, no snapshots: one election, and none of the points that
    need a crash, a duplicate, a partition, a stale message or a snapshot."""
    r = run_scenario("random-raft", 2, params=CALM)
    assert r.passed, r.failure
    assert r.coverage.get("leader-elected") == 1
    impossible = {"crash-between-effects", "crash-persisted-not-sent", "duplicate-delivered",
                  "reboot-with-log", "reboot-with-snapshot", "snapshot-installed",
                  "stale-install-snapshot", "append-behind-snapshot", "log-compacted",
                  "follower-truncates-log", "leader-elected-under-partition",
                  "stale-reply-old-term", "leader-deposed", "client-retry-new-leader"}
    assert not impossible & set(r.coverage), r.coverage
    assert set(r.coverage) <= set(POINTS)


def test_points_reached_where_the_run_is_built_to_reach_them() -> None:
    params = {**CALM, "net": {"reliable": True, "duplicate": 1.0},
              "workload": {"snapshot_interval": 5},
              "schedule": [[800.0, {"type": "Crash", "node": "s1"}],
                           [900.0, {"type": "Partition", "groups": [["s0", "s1"],
                                                                   ["s2", "s3", "s4"]]}],
                           [1500.0, {"type": "Reboot", "node": "s1"}],
                           [1600.0, {"type": "Heal"}]]}
    r = run_scenario("random-raft", 2, params=params)
    assert r.passed, r.failure
    for point in ("duplicate-delivered", "log-compacted", "reboot-with-log",
                  "reboot-with-snapshot", "leader-elected"):
        assert r.coverage.get(point, 0) > 0, (point, r.coverage)


def test_a_crash_inside_a_step_is_seen() -> None:
    """Every crash lands after the first effect of its step (a step with more effects loses
    the rest): over a few seeds, some crash splits a step."""
    hits = 0
    for seed in range(1, 6):
        params = {**CALM, "schedule": [[t, {"type": "Crash", "node": f"s{k}",
                                            "mid_step_after": 1}]
                                       for k, t in ((0, 700.0), (1, 900.0))]
                  + [[1500.0, {"type": "Reboot", "node": "s0"}],
                     [1500.0, {"type": "Reboot", "node": "s1"}]]}
        r = run_scenario("random-raft", seed, params=params)
        hits += r.coverage.get("crash-between-effects", 0)
    assert hits > 0


def test_coverage_is_deterministic_per_seed() -> None:
    for scenario, seed in (("random", 5), ("random-raft", 6)):
        a, b = run_scenario(scenario, seed), run_scenario(scenario, seed)
        assert a.coverage == b.coverage and a.coverage
        assert list(a.coverage) == sorted(a.coverage)


def test_lab_scenarios_measure_nothing() -> None:
    assert run_scenario("InitialElection3A", 1).coverage == {}


# ---------------------------------------------------------------- storing it

def test_campaign_stores_coverage_and_summarises_it(tmp_path, capsys) -> None:
    path = str(tmp_path / "c.db")
    assert main(["campaign", "random-raft", "--seeds", "1..4", "--db", path, "--coverage",
                 "--spot-check", "0"]) == 0
    out = capsys.readouterr().out
    db = CampaignDB(path, "random-raft", create=False)
    try:
        runs, reached = coverage_summary(db)
        stored = {r.seed: json.loads(r.coverage or "null") for r in db.results()}
    finally:
        db.close()
    assert runs == 4
    for seed in (1, 3):
        assert stored[seed] == run_scenario("random-raft", seed).coverage
    for point, (nruns, hits) in reached.items():
        assert nruns == sum(1 for c in stored.values() if c.get(point))
        assert hits == sum(c.get(point, 0) for c in stored.values())
    never = [p for p in POINTS if p not in reached]
    assert f"coverage   {len(reached)} of {len(POINTS)} points reached in 4 runs" in out
    assert "never: " + ", ".join(never) in out
    assert all(p in out for p in POINTS)                  # --coverage lists every point


def _schema_2(path: str) -> None:
    """A database as schema 2 wrote it (no coverage column, no mode row), with one result."""
    CampaignDB(path, "random-raft", create=True).close()
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE results DROP COLUMN coverage")
        conn.execute("DELETE FROM meta WHERE key = 'mode'")
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
        conn.execute("INSERT INTO results (seed, scenario, outcome) VALUES (1, 'random-raft', "
                     "'pass')")


def test_a_schema_2_database_is_migrated_on_resume(tmp_path) -> None:
    path = str(tmp_path / "old.db")
    _schema_2(path)
    assert main(["campaign", "random-raft", "--seeds", "1..2", "--db", path, "--resume",
                 "--spot-check", "0"]) == 0
    with sqlite3.connect(path) as conn:
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        rows = dict(conn.execute("SELECT seed, coverage FROM results"))
    assert meta["schema_version"] == "3" and meta["mode"] == "plain"
    assert rows[1] is None and json.loads(rows[2])     # the old row: not measured


def test_guided_and_plain_databases_are_not_mixed(tmp_path) -> None:
    path = str(tmp_path / "g.db")
    CampaignDB(path, "random-raft", create=True, mode="guided").close()
    with pytest.raises(CampaignError, match="holds a guided campaign; resume it with --guided"):
        CampaignDB(path, "random-raft", create=False)
    assert main(["campaign", "random-raft", "--seeds", "1..2", "--db", path, "--resume"]) == 2


def test_guided_needs_a_swarm(capsys) -> None:
    assert main(["campaign", "InitialElection3A", "--seeds", "1..2", "--guided"]) == 2
    assert "--guided steers the swarm of the random scenarios" in capsys.readouterr().err


# ---------------------------------------------------------------- guided

def test_untried_biases_weigh_most_then_rare_points_pull() -> None:
    even = bias_weights([])
    assert set(even) == set(BIASES) and abs(sum(even.values()) - 1) < 1e-9
    assert len(set(even.values())) == 1
    # every bias tried enough; only "mid-step" reaches the rare point
    history = [(b, {"leader-elected": 1}) for b in BIASES for _ in range(EXPLORE)]
    history += [("mid-step", {"leader-elected": 1, "crash-between-effects": 2})]
    w = bias_weights(history)
    assert abs(sum(w.values()) - 1) < 1e-9
    assert w["mid-step"] == max(w.values()) and w["mid-step"] > 2 * w["uniform"]
    assert min(w.values()) > 0                          # the floor: nobody starves
    assert [pick(w, s) for s in range(50)] == [pick(w, s) for s in range(50)]
    share = sum(pick(w, s) == "mid-step" for s in range(2000)) / 2000
    assert abs(share - w["mid-step"]) < 0.05


def _guided(tmp_path, name: str, *args: str) -> dict[int, tuple]:
    path = str(tmp_path / name)
    assert main(["campaign", "random-raft", "--db", path, "--guided", "--spot-check", "0",
                 *args]) == 0
    with sqlite3.connect(path) as conn:
        return {s: (d, json.loads(p)["swarm"]["bias"]) for s, d, p in conn.execute(
            "SELECT seed, digest, profile FROM results")}


def test_a_guided_campaign_is_reproducible(tmp_path, monkeypatch, capsys) -> None:
    """The same biases and digests with one worker, with two, and when resumed; each seed
    replays alone with its bias as params."""
    monkeypatch.setattr(campaign_cli, "ROUND", 4)       # three rounds in 12 seeds
    one = _guided(tmp_path, "a.db", "--seeds", "1..12", "--jobs", "1")
    two = _guided(tmp_path, "b.db", "--seeds", "1..12", "--jobs", "2")
    _guided(tmp_path, "c.db", "--seeds", "1..6", "--jobs", "2")
    resumed = _guided(tmp_path, "c.db", "--seeds", "1..12", "--jobs", "2", "--resume")
    assert one == two == resumed and sorted(one) == list(range(1, 13))
    assert "biases     " in capsys.readouterr().out
    digest, bias = one[9]
    again = run_scenario("random-raft", 9, params={"swarm": {"bias": bias}})
    assert again.digest == digest


def test_run_json_carries_the_coverage_counts(capsys) -> None:
    """`raftsim run --json` gives the points the run reached, as `RunResult.coverage` has them."""
    import json

    from scenarios.cli import main
    assert main(["run", "random-raft", "--seed", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["coverage"] == run_scenario("random-raft", 3).coverage
    assert out["coverage"] and all(n > 0 for n in out["coverage"].values())
