"""Campaigns: every result is durable as it finishes, a killed campaign resumes without losing
or repeating seeds, a dying worker is recorded and replaced, results are deterministic, and bad
databases are refused without being damaged."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from scenarios.campaign import CampaignDB, CampaignError, SeedResult, run_campaign
from scenarios.cli import main
from scenarios.registry import Scenario, register, unregister
from scenarios.runner import run_scenario


def rows(path: str) -> dict[int, tuple]:
    with sqlite3.connect(path) as conn:
        return {r[0]: r[1:] for r in conn.execute(
            "SELECT seed, outcome, digest, profile FROM results")}


def test_campaign_results_match_single_runs(tmp_path):
    """The same seeds give the same outcomes and digests in a 2-worker campaign as alone."""
    db_path = str(tmp_path / "c.db")
    assert main(["campaign", "random-raft", "--seeds", "1..6", "--jobs", "2",
                 "--db", db_path]) == 0
    stored = rows(db_path)
    assert sorted(stored) == [1, 2, 3, 4, 5, 6]
    for seed in (1, 4):
        r = run_scenario("random-raft", seed)
        assert stored[seed][:2] == ("pass", r.digest)
        assert '"schedule"' in stored[seed][2]          # the drawn profile is stored


def test_killed_campaign_resumes_without_loss_or_repeat(tmp_path):
    """SIGKILL the campaign mid-way; --resume runs exactly the missing seeds."""
    db_path = str(tmp_path / "c.db")
    cmd = [sys.executable, "-m", "scenarios.cli", "campaign", "random-raft", "--seeds",
           "1..80", "--jobs", "2", "--db", db_path]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.2)
        if os.path.exists(db_path):
            try:
                if len(rows(db_path)) >= 4:
                    break
            except sqlite3.Error:
                pass
    workers = _children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)                 # the parent only: workers must notice
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.1)
    assert workers and not any(_alive(pid) for pid in workers), "orphaned workers"
    before = rows(db_path)
    assert 4 <= len(before) < 80
    out = subprocess.run(cmd + ["--resume"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"({80 - len(before)} to run, {len(before)} already in" in out.stdout
    after = rows(db_path)
    assert sorted(after) == list(range(1, 81))
    for seed, row in before.items():                  # nothing stored was touched
        assert after[seed] == row


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(x) for x in f.read().split()]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_sigterm_stops_cleanly_and_keeps_results(tmp_path):
    """A polite kill stops the campaign like Ctrl-C: exit 130, results kept, resume hinted."""
    db_path = str(tmp_path / "c.db")
    proc = subprocess.Popen([sys.executable, "-m", "scenarios.cli", "campaign", "random-raft",
                             "--seeds", "1..400", "--jobs", "2", "--db", db_path],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (os.path.exists(db_path) and _count(db_path) >= 3):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert f"--jobs 2 --db {db_path} --resume`" in out and _count(db_path) >= 3
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err


def test_ctrl_c_to_the_whole_group_prints_no_worker_traceback(tmp_path):
    """Ctrl-C on a terminal reaches every process of the group: workers stay silent."""
    db_path = str(tmp_path / "c.db")
    proc = subprocess.Popen([sys.executable, "-m", "scenarios.cli", "campaign", "random-raft",
                             "--seeds", "1..400", "--jobs", "2", "--db", db_path],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (os.path.exists(db_path) and _count(db_path) >= 3):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert err == "", err


def _count(path: str) -> int:
    try:
        return len(rows(path))
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("jobs", [1, 2])
def test_dying_worker_is_recorded_not_fatal(tmp_path, jobs):
    """A worker process that dies is recorded as a crash for its seed; the others finish (with
    one job too: seeds never run in the parent)."""
    def body(ctx):
        if ctx.seed == 3:
            os._exit(7)                               # a hard crash of the worker
        yield ctx.sleep(1)
    register(Scenario("test-crashy", "test", "crashes on seed 3", body))
    try:
        db = CampaignDB(str(tmp_path / "c.db"), "test-crashy", create=True)
        for _ in run_campaign("test-crashy", [1, 2, 3, 4, 5], jobs, db):
            pass
        results = {r.seed: r for r in db.results()}
        db.close()
    finally:
        unregister("test-crashy")
    assert sorted(results) == [1, 2, 3, 4, 5]
    assert results[3].outcome == "crash" and "exit code 7" in results[3].failure
    assert all(results[s].outcome == "pass" for s in (1, 2, 4, 5))


def test_existing_db_needs_resume(tmp_path, capsys):
    db_path = str(tmp_path / "c.db")
    assert main(["campaign", "random-raft", "--seeds", "1..1", "--db", db_path]) == 0
    assert main(["campaign", "random-raft", "--seeds", "1..2", "--db", db_path]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("content, needle", [
    (b"this is not sqlite at all", "not a SQLite database"),
    (b"SQLite format 3\x00" + b"\x00" * 200, "not a"),
    (None, "not a raftsim campaign database"),
])
def test_corrupt_db_refused_and_untouched(tmp_path, capsys, content, needle):
    path = tmp_path / "bad.db"
    if content is None:                               # a SQLite file of another application
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE notes (body TEXT)")
        content = path.read_bytes()
    path.write_bytes(content)
    assert main(["campaign", "random-raft", "--seeds", "1..2", "--db", str(path),
                 "--resume"]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1
    assert path.read_bytes() == content


def test_db_from_another_version_refused(tmp_path, capsys):
    path = str(tmp_path / "old.db")
    CampaignDB(path, "random-raft", create=True).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    with pytest.raises(CampaignError, match="another raftsim version"):
        CampaignDB(path, "random-raft", create=False)
    assert main(["campaign", "random-raft", "--seeds", "1..2", "--db", path, "--resume"]) == 2


def test_db_of_another_scenario_refused(tmp_path):
    path = str(tmp_path / "c.db")
    CampaignDB(path, "random-raft", create=True).close()
    with pytest.raises(CampaignError, match="holds a campaign of 'random-raft'"):
        CampaignDB(path, "random", create=False)


@pytest.mark.parametrize("args, needle", [
    (["campaign", "nope", "--seeds", "1..3"], "unknown scenario"),
    (["campaign", "random", "--seeds", "3..1"], "bad seed range"),
    (["campaign", "random", "--seeds", "1..3", "--jobs", "0"], "--jobs"),
    (["campaign", "random", "--seeds", "1..3", "--resume", "--db", "/nonexistent.db"],
     "no such campaign"),
    (["campaign", "random", "--seeds", "1..3", "--retry-crashed"], "needs --resume"),
    (["campaign", "random", "--seeds", "1..3", "--spot-check", "1.5"], "--spot-check"),
    (["campaign", "random", "--seeds", "1..3", "--spot-check", "nan"], "--spot-check"),
    (["campaign", "random", "--seeds", "1..3", "--jobs", "2", "--scheduler", "local:2"],
     "exclude each other"),
])
def test_bad_campaign_input(args, needle, capsys):
    assert main(args) == 2
    assert needle in capsys.readouterr().err


def test_headline_counts_the_workers_that_run(tmp_path, capsys):
    assert main(["campaign", "random-raft", "--seeds", "1..3", "--jobs", "1000",
                 "--db", str(tmp_path / "c.db")]) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert "(3 to run, 0 already in" in head and head.endswith(", 3 worker(s)")


def test_existing_empty_file_is_not_taken_over(tmp_path, capsys):
    path = tmp_path / "c.db"
    path.write_bytes(b"")
    assert main(["campaign", "random-raft", "--seeds", "1..2", "--db", str(path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert path.read_bytes() == b""


def test_seeds_beyond_sqlite_integers_are_bad_input(tmp_path, capsys):
    path = tmp_path / "c.db"
    assert main(["campaign", "random-raft", "--seeds", f"{2**63 - 1}..{2**63}",
                 "--db", str(path)]) == 2
    err = capsys.readouterr().err
    assert "2^63" in err.replace("**", "^") and len(err.strip().splitlines()) == 1
    assert not path.exists()


def test_second_campaign_on_a_database_is_refused(tmp_path, capsys):
    """One campaign at a time per database: the second gets a clear line, the file is kept."""
    path = str(tmp_path / "c.db")
    first = CampaignDB(path, "random-raft", create=True)
    try:
        assert main(["campaign", "random-raft", "--seeds", "1..2", "--db", path,
                     "--resume"]) == 2
        assert "another campaign is running on this database" in capsys.readouterr().err
    finally:
        first.close()
    assert main(["campaign", "random-raft", "--seeds", "1..2", "--db", path, "--resume"]) == 0


def test_read_only_database_is_reported_as_read_only(tmp_path, capsys, monkeypatch):
    """A valid campaign that cannot be written is called read-only, and stays as it was."""
    path = str(tmp_path / "c.db")
    assert main(["campaign", "random-raft", "--seeds", "1..2", "--db", path]) == 0
    before = open(path, "rb").read()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if mode == os.W_OK
                        else real_access(p, mode, **kw))       # as a read-only mount answers
    capsys.readouterr()
    assert main(["campaign", "random-raft", "--seeds", "1..3", "--db", path, "--resume"]) == 2
    err = capsys.readouterr().err
    assert "read-only" in err and "not a" not in err and len(err.strip().splitlines()) == 1
    assert open(path, "rb").read() == before


@pytest.mark.parametrize("damage", [
    "ALTER TABLE results DROP COLUMN worker",
    "ALTER TABLE results RENAME COLUMN digest TO hash",
    "DROP TABLE results",
])
def test_reshaped_results_table_is_one_line(tmp_path, capsys, damage):
    path = str(tmp_path / "c.db")
    CampaignDB(path, "random-raft", create=True).close()
    with sqlite3.connect(path) as conn:
        conn.execute(damage)
    assert main(["campaign", "random-raft", "--seeds", "1..2", "--db", path, "--resume"]) == 2
    err = capsys.readouterr().err
    assert "results table is damaged or was changed" in err
    assert len(err.strip().splitlines()) == 1


def test_retry_crashed_runs_crashed_seeds_again(tmp_path, capsys):
    path = str(tmp_path / "c.db")
    assert main(["campaign", "random-raft", "--seeds", "1..3", "--db", path]) == 0
    db = CampaignDB(path, "random-raft", create=False)
    db.record(SeedResult(2, "random-raft", "crash", "crash", "worker process died"))
    db.close()
    assert main(["campaign", "random-raft", "--seeds", "1..3", "--db", path, "--resume"]) == 1
    capsys.readouterr()
    assert main(["campaign", "random-raft", "--seeds", "1..3", "--db", path, "--resume",
                 "--retry-crashed"]) == 0
    assert "(1 to run, 1 crashed to retry, 2 already in" in capsys.readouterr().out
    assert rows(path)[2][:2] == ("pass", run_scenario("random-raft", 2).digest)


def test_json_prints_one_object_per_seed(tmp_path, capsys):
    path = str(tmp_path / "c.db")
    assert main(["campaign", "random-raft", "--seeds", "1..4", "--jobs", "2", "--db", path,
                 "--json"]) == 0
    captured = capsys.readouterr()
    objects = [json.loads(line) for line in captured.out.splitlines()]
    assert sorted(o["seed"] for o in objects) == [1, 2, 3, 4]
    stored = rows(path)
    for o in objects:
        assert (o["outcome"], o["digest"]) == stored[o["seed"]][:2]
        assert o["failure"] is None and o["figures"]["messages"] > 0
    assert "outcome    seeds" in captured.err                # the summary goes to stderr


def test_spot_check_agrees_on_a_deterministic_scenario(tmp_path):
    db = CampaignDB(str(tmp_path / "c.db"), "random-raft", create=True)
    for _ in run_campaign("random-raft", [1, 2, 3, 4], 2, db, spot_check=1.0):
        pass
    results = db.results()
    db.close()
    assert [r.outcome for r in results] == ["pass"] * 4
    assert all(r.recheck_digest == r.digest is not None for r in results)


def test_spot_check_reports_a_nondeterministic_seed(tmp_path):
    """A run whose trace depends on the process it runs in: the re-run on the other worker
    differs, and the seed becomes 'nondeterministic' with both digests and the first line."""
    def body(ctx):
        ctx.record_history(f"p{os.getpid()}", "invoke", "get", "k", None)   # not from the seed
        yield ctx.sleep(1)
    register(Scenario("test-nondet", "test", "traces its pid", body))
    try:
        db = CampaignDB(str(tmp_path / "c.db"), "test-nondet", create=True)
        for _ in run_campaign("test-nondet", [1, 2], 2, db, spot_check=1.0):
            pass
        results = db.results()
        db.close()
    finally:
        unregister("test-nondet")
    for r in results:
        assert r.outcome == "nondeterministic"
        assert r.recheck_digest is not None and r.recheck_digest != r.digest
        assert r.digest in r.failure and r.recheck_digest in r.failure
        assert "first difference at trace line 2" in r.failure and '"history"' in r.failure


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_only(tmp_path, monkeypatch, capsys):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["campaign", "random-raft", "--seeds", "1..3", "--db",
                 str(tmp_path / "a.db")]) == 0
    drawn = terminal.getvalue()
    assert "3/3" in drawn and "not passed: 0" in drawn and "seeds/min" in drawn
    monkeypatch.setattr(sys, "stderr", io.StringIO())     # a pipe or a file: nothing drawn
    assert main(["campaign", "random-raft", "--seeds", "1..3", "--db",
                 str(tmp_path / "b.db")]) == 0
    assert sys.stderr.getvalue() == ""
