"""``raftsim report`` and ``raftsim run --report``: a page per run or campaign; bad input (not a
trace nor a campaign, a window outside the run, an output that cannot be written) is one line,
exit 2 and no file left behind."""

from __future__ import annotations

import gzip
import os
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from report_samples import XSS, write_campaign, write_trace
from scenarios.cli import main


@pytest.fixture(scope="module")
def trace(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("trace") / "t.jsonl")
    write_trace(path)
    return path


def test_report_of_a_trace(trace, tmp_path, capsys):
    out = tmp_path / "t.html"
    assert main(["report", trace, "--html", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"report written to {out} (")
    html = out.read_text("utf-8")
    assert html.startswith("<!DOCTYPE html>") and 'id="msc"' in html and 'id="linearizability"' in html
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # loads nothing
    assert "https://" not in html and "<link" not in html and "src=" not in html


def test_the_same_trace_gives_the_same_page(trace, tmp_path):
    a, b = tmp_path / "a.html", tmp_path / "b.html"
    assert main(["report", trace, "--html", str(a)]) == 0
    assert main(["report", trace, "--html", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()


def test_run_report_equals_the_report_of_its_trace(tmp_path, capsys):
    t, direct, later = tmp_path / "t.jsonl", tmp_path / "run.html", tmp_path / "trace.html"
    assert main(["run", "random", "--seed", "1", "--trace", str(t), "--report",
                 str(direct)]) in (0, 1)
    assert f"  report        {direct}" in capsys.readouterr().out
    assert main(["report", str(t), "--html", str(later)]) == 0
    assert direct.read_bytes() == later.read_bytes()      # the run's check, the trace's check
    assert 'id="linearizability"' in direct.read_text("utf-8")


def test_run_report_checks_the_history_a_failed_run_left_unchecked(tmp_path, capsys):
    # seed 7 with this split fails liveness: the run stops before checking its history
    params = tmp_path / "split.json"
    params.write_text('{"schedule": [[2000, {"type": "Partition", "groups": '
                      '[["s0", "s1"], ["s2", "s3"], ["s4"]]}]]}')
    t, direct, later = tmp_path / "t.jsonl", tmp_path / "run.html", tmp_path / "trace.html"
    assert main(["run", "random", "--seed", "7", "--params", str(params), "--trace", str(t),
                 "--report", str(direct), "-q"]) == 1
    out = capsys.readouterr().out
    assert "failure (liveness)" in out and f"replay with: raftsim replay {t}\n" in out
    assert main(["report", str(t), "--html", str(later)]) == 0
    assert 'id="linearizability"' in direct.read_text("utf-8")
    assert direct.read_bytes() == later.read_bytes()


def test_run_report_with_a_seed_range_needs_seed_in_the_name(tmp_path, capsys):
    assert main(["run", "InitialElection3A", "--seed", "1..2", "--report",
                 str(tmp_path / "r.html")]) == 2
    assert "--report with a seed range needs '{seed}'" in capsys.readouterr().err
    assert main(["run", "InitialElection3A", "--seed", "1..2", "-q", "--report",
                 str(tmp_path / "r{seed}.html")]) == 0
    assert sorted(os.listdir(tmp_path)) == ["r1.html", "r2.html"]


def test_a_window(trace, tmp_path):
    out = tmp_path / "w.html"
    assert main(["report", trace, "--html", str(out), "--from", "0.03", "--to", "50ms"]) == 0
    html = out.read_text("utf-8")
    assert "0.030 s to 0.050 s (of 0 to 0.100 s)" in html


def test_report_of_a_campaign(tmp_path):
    db, out = str(tmp_path / "runs.db"), tmp_path / "c.html"
    write_campaign(db)
    before = open(db, "rb").read()
    assert main(["report", db, "--html", str(out)]) == 0
    html = out.read_text("utf-8")
    assert "raftsim shrink random --seed 6" in html and "raftsim run random --seed 4 --trace" in html
    assert XSS not in html
    assert open(db, "rb").read() == before                      # read, never changed


@pytest.mark.parametrize("mode", [0o644, 0o444])
def test_a_campaign_report_leaves_no_file_beside_the_database(tmp_path, mode):
    db, out = tmp_path / "db" / "runs.db", tmp_path / "c.html"
    db.parent.mkdir()
    write_campaign(str(db))
    assert os.listdir(db.parent) == ["runs.db"]     # closed: no -wal, no -shm
    os.chmod(db, mode)
    before = db.read_bytes(), os.stat(db).st_mtime_ns
    assert main(["report", str(db), "--html", str(out)]) == 0
    assert os.listdir(db.parent) == ["runs.db"]
    assert (db.read_bytes(), os.stat(db).st_mtime_ns) == before
    assert "6 seeds (1..6) · " in out.read_text("utf-8")     # finished: not "so far"


def test_a_campaign_report_reads_what_a_running_campaign_has_logged(tmp_path):
    from scenarios.campaign.db import CampaignDB, SeedResult
    db, out = str(tmp_path / "runs.db"), tmp_path / "c.html"
    write_campaign(db)
    live = CampaignDB(db, "random", create=False)       # open: its results are in runs.db-wal
    try:
        live.conn.execute("PRAGMA wal_autocheckpoint=0")
        live.record(SeedResult(seed=7, scenario="random", outcome="pass", failure_kind=None,
                               failure=None, digest="d7", virtual_ms=1.0, messages=1, bytes=1,
                               wall_s=0.01, profile=None))
        assert os.path.getsize(db + "-wal") > 0
        assert main(["report", db, "--html", str(out)]) == 0
    finally:
        live.close()
    assert "7 seeds (1..7) so far (a campaign may still be writing this database) · " in (
        out.read_text("utf-8"))


def _bad(args: list[str], capsys, needle: str) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("raftsim: error: ") and err.count("\n") == 1 and needle in err, err


@pytest.mark.parametrize("content, needle", [
    (b"hello\n", "neither a trace nor a campaign database (line 1: not JSON"),
    (b"{\"format\": \"raftsim-history\"}\n", "a client history, not a trace: `raftsim check"),
    (b"{\"format\": \"other\"}\n", "neither a trace nor a campaign database"),
    (b"", "empty file"),
    (b'{"format":"raftsim-trace","version":1}\n[0, "x"]', "truncated"),
    (gzip.compress(b'{"format":"raftsim-trace","version":1}\n', mtime=0),
     "bad.jsonl: gzip-compressed, not a trace: decompress it first"),
    (b'{\n "choices": [\n  0\n ],\n "format": "raftsim-explore-counterexample/1"\n}\n',
     "bad.jsonl: a damaged explorer counterexample (Object missing required field `config`)"),
])
def test_not_a_trace(tmp_path, capsys, content, needle):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(content)
    _bad(["report", str(bad), "--html", str(tmp_path / "o.html")], capsys, needle)
    assert sorted(os.listdir(tmp_path)) == ["bad.jsonl"]


def test_a_tampered_trace(trace, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(open(trace, "rb").read().replace(b'"s10"', b'"s11"', 1))
    _bad(["report", str(bad), "--html", str(tmp_path / "o.html")], capsys, "digest mismatch")
    assert sorted(os.listdir(tmp_path)) == ["bad.jsonl"]


def test_not_a_campaign_database(tmp_path, capsys):
    db = tmp_path / "other.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    _bad(["report", str(db), "--html", str(tmp_path / "o.html")], capsys,
         "not a raftsim campaign database")
    assert not (tmp_path / "o.html").exists()


@pytest.mark.parametrize("window, needle", [
    (["--from", "5"], "when the run had ended"),
    (["--from", "0.05", "--to", "0.02"], "is empty"),
    (["--from", "soon"], "bad time 'soon'"),
    (["--to", "0"], "the window ends at 0 s, when the run starts: --to must be after 0"),
    (["--from", "-1"], "bad time '-1': negative (the run starts at 0)"),
    (["--from=-0.5s"], "bad time '-0.5s': negative"),
])
def test_a_window_outside_the_run(trace, tmp_path, capsys, window, needle):
    _bad(["report", trace, "--html", str(tmp_path / "o.html"), *window], capsys, needle)
    assert os.listdir(tmp_path) == []


def test_a_window_of_a_campaign(tmp_path, capsys):
    db = str(tmp_path / "runs.db")
    write_campaign(db)
    _bad(["report", db, "--html", str(tmp_path / "o.html"), "--from", "1"], capsys,
         "a campaign report has none")


def test_outputs_that_cannot_be_written(trace, tmp_path, capsys):
    _bad(["report", trace, "--html", str(tmp_path / "no" / "o.html")], capsys, "no such directory")
    _bad(["report", trace, "--html", str(tmp_path)], capsys, "it is a directory")
    _bad(["report", trace, "--html", trace], capsys, "name the same file")
    _bad(["report", str(tmp_path / "missing.jsonl"), "--html", str(tmp_path / "o.html")], capsys,
         "no such file")
    assert os.listdir(tmp_path) == []


def test_a_failed_write_leaves_no_file(trace, tmp_path, capsys, monkeypatch):
    import scenarios.cli.common as common
    real_open = open

    def full_disk(path, mode="r", *args, **kwargs):
        if "w" in mode and str(path).endswith(".tmp"):
            f = real_open(path, mode, *args, **kwargs)
            f.write(b"<!DOCTYPE")
            f.close()
            raise OSError(28, "No space left on device")
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(common, "open", full_disk, raising=False)
    _bad(["report", trace, "--html", str(tmp_path / "o.html")], capsys, "No space left")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("record, needle", [
    ((31.0, "drop", [1], "s0", "s1", "partition"), ":3: malformed 'drop' record: field 1 should be an integer id"),
    ((10.0, "role", "s0", "candidate", "one"), ":3: malformed 'role' record: field 3 should be a term"),
    ((25.0, "fault", {"type": "Partition", "groups": "s0"}), ":3: malformed 'fault' record: Expected `array`"),
    ((20.0, "history", "c0", "invoke", "put x 1"), ":3: malformed 'history' record"),
])
def test_a_trace_with_malformed_records(tmp_path, capsys, record, needle):
    """A trace's digest can be right and its records still not what a run writes."""
    from report_samples import RECORDS
    bad = tmp_path / "bad.jsonl"
    write_trace(str(bad), [RECORDS[0], record, *RECORDS[1:]])
    _bad(["report", str(bad), "--html", str(tmp_path / "o.html")], capsys, needle)
    assert sorted(os.listdir(tmp_path)) == ["bad.jsonl"]


VALUES = [None, 1, -3, 2.5, "x", "", [], {}, [1, 2], {"type": 5}, True, "s0", ["get", "x"]]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 100), st.integers(2, 6), st.sampled_from(VALUES)),
                min_size=1, max_size=3))
def test_any_damaged_record_is_bad_input_or_a_page(tmp_path, capsys, edits):
    """Whatever a record's fields hold, the report is a page or one line of bad input."""
    from report_samples import RECORDS
    records = [list(r) for r in RECORDS]
    for index, field, value in edits:
        record = records[index % len(records)]
        record[2 + field % (len(record) - 2)] = value
    trace, out = tmp_path / "d.jsonl", tmp_path / "d.html"
    write_trace(str(trace), [tuple(r) for r in records])
    code = main(["report", str(trace), "--html", str(out)])
    err = capsys.readouterr().err
    assert code in (0, 2), err
    assert (code == 0) == out.exists() and (code == 0 or err.startswith("raftsim: error: "))
    if out.exists():
        out.unlink()
