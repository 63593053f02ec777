"""The views of a campaign report: outcomes by fault profile and failure kind, time per seed,
the failing seeds with their replay and shrink commands, and the coverage section, which
appears only when the database holds coverage counts (a column or a table)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from report_samples import write_campaign
from scenarios.errors import BadInput
from scenarios.report.campaign import campaign_view, profile_label, read_campaign


@pytest.fixture
def db(tmp_path) -> str:
    path = str(tmp_path / "runs.db")
    write_campaign(path)
    return path


def test_profile_labels():
    assert profile_label(None) == "(the scenario's own)"
    assert profile_label("{") == "(not recorded)"
    assert profile_label(json.dumps({"profile": {"crash": 1, "cut": 0.5, "flip_reliable": 0},
                                     "net": {"reliable": True}})) == "crash+partition"
    assert profile_label(json.dumps({"profile": {"crash": 0, "flip_reliable": 1},
                                     "net": {"reliable": False}})) == "flaky-net, unreliable"
    assert profile_label(json.dumps({"profile": {"crash": 1}, "schedule": []})) == "no faults"
    assert profile_label(json.dumps({"profile": {"crash": 1}, "swarm": {"bias": "leader"}})
                         ) == "leader bias"


def test_outcomes_kinds_time_and_failing_seeds(db):
    view = campaign_view(read_campaign(db))
    assert view["meta"]["outcomes"] == {"pass": 4, "fail": 2}
    assert (view["meta"]["first"], view["meta"]["last"], view["meta"]["seeds"]) == (1, 6, 6)
    assert view["outcome_names"] == ["pass", "fail"]
    assert view["by_profile"] == [
        {"profile": "crash", "runs": 3, "outcomes": {"pass": 3}, "kinds": {}},
        {"profile": "partition, unreliable", "runs": 3, "outcomes": {"pass": 1, "fail": 2},
         "kinds": {"liveness": 1, "linearizability": 1}}]
    assert view["by_kind"] == [{"kind": "linearizability", "count": 1, "seeds": [6]},
                               {"kind": "liveness", "count": 1, "seeds": [4]}]
    time = view["time"]
    assert time["summary"]["count"] == 6 and time["summary"]["max"] == 0.06
    assert [p[0] for p in time["points"]] == [1, 2, 3, 4, 5, 6]
    assert time["slowest"][0] == {"seed": 6, "wall_s": 0.06, "outcome": "fail"}
    rows = view["failing"]["rows"]
    assert [r["seed"] for r in rows] == [4, 6]
    assert rows[0]["replay"] == "raftsim run random --seed 4 --trace random-4.trace.jsonl"
    assert rows[0]["shrink"] == "raftsim shrink random --seed 4"
    assert view["coverage"] is None          # this database holds no coverage counts


def test_coverage_from_a_column(db):
    conn = sqlite3.connect(db)
    if "coverage" not in [r[1] for r in conn.execute("PRAGMA table_info(results)")]:
        conn.execute("ALTER TABLE results ADD COLUMN coverage TEXT")   # before schema 3
    for seed, counts in [(1, {"leader-elected": 2, "snapshot-installed": 1}),
                         (4, {"leader-elected": 3}), (5, {})]:
        conn.execute("UPDATE results SET coverage = ? WHERE seed = ?", (json.dumps(counts), seed))
    conn.commit()
    conn.close()
    cov = campaign_view(read_campaign(db))["coverage"]
    assert cov["runs"] == 3
    points = {p["point"]: p for p in cov["points"]}
    assert points["leader-elected"] | {"about": ""} == {
        "point": "leader-elected", "about": "", "runs": 2, "share": 0.6667, "hits": 5,
        "failing": 1, "example": 1}
    assert points["snapshot-installed"]["runs"] == 1
    assert cov["points"][0]["point"] == "leader-elected"          # most runs first
    assert all(points[name]["runs"] == 0 for name in cov["never"])


def test_coverage_from_a_table(db):
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE coverage (seed INTEGER, point TEXT, count INTEGER)")
    conn.executemany("INSERT INTO coverage VALUES (?, ?, ?)",
                     [(2, "duplicate-delivered", 4), (6, "duplicate-delivered", 1),
                      (6, "crash-between-effects", 1)])
    conn.commit()
    conn.close()
    cov = campaign_view(read_campaign(db))["coverage"]
    points = {p["point"]: p for p in cov["points"]}
    assert cov["runs"] == 2
    assert (points["duplicate-delivered"]["runs"], points["duplicate-delivered"]["hits"],
            points["duplicate-delivered"]["failing"]) == (2, 5, 1)
    assert points["crash-between-effects"]["example"] == 6


def test_a_database_that_is_not_a_campaign(tmp_path):
    path = tmp_path / "x.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE meta (key TEXT, value TEXT)")
    conn.execute("CREATE TABLE results (seed INTEGER)")
    conn.execute("INSERT INTO meta VALUES ('application', 'raftsim-campaign')")
    conn.commit()
    conn.close()
    with pytest.raises(BadInput, match="the results table lacks outcome"):
        read_campaign(str(path))


VALUES = [None, 1, -3, 2.5, "x", "", float("inf"), b"\x00\xff", "{", '{"a": 1e999}',
          '{"swarm": 3}', '{"profile": [1]}', '{"net": 5, "profile": {"crash": "x"}}', '{"a": true}']
COLUMNS = ["scenario", "outcome", "failure_kind", "failure", "wall_s", "profile", "coverage"]


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(COLUMNS), st.sampled_from(VALUES), st.integers(1, 6)),
                min_size=1, max_size=4))
def test_any_damaged_row_is_bad_input_or_a_page(tmp_path_factory, edits):
    """Whatever a campaign's rows hold, the report is a page or one line of bad input."""
    from scenarios.cli import main
    path = str(tmp_path_factory.mktemp("db") / "runs.db")
    write_campaign(path)
    conn = sqlite3.connect(path)
    if "coverage" not in [r[1] for r in conn.execute("PRAGMA table_info(results)")]:
        conn.execute("ALTER TABLE results ADD COLUMN coverage TEXT")
    for column, value, seed in edits:
        try:
            conn.execute(f"UPDATE results SET {column} = ? WHERE seed = ?", (value, seed))
        except sqlite3.IntegrityError:            # a NOT NULL column
            pass
    conn.commit()
    conn.close()
    assert main(["report", path, "--html", path + ".html"]) in (0, 2)
