"""The views of a run report are plain data computed from the trace: each one is checked here
against a hand-written trace whose every record is known (tests/report_samples.py), and the
node counts against a real run's own totals."""

from __future__ import annotations

import msgspec
import pytest

from report_samples import RECORDS, XSS
from scenarios.report import views
from scenarios.report.build import history_check
from scenarios.report.views import Window, WindowError

RECS = [list(r) for r in RECORDS]
HEADER = {"scenario": "random", "seed": 3, "params": {}}


def test_lanes_servers_first_in_natural_order_then_clients():
    assert views.lanes(RECS) == ["s0", "s1", "s2", "s10", "c0", "c1"]


def test_messages_deliveries_duplicates_drops_and_lost():
    names = views.lanes(RECS)
    m = views.messages(RECS, names)
    assert m["ids"] == [1, 2, 3, 4, 5, 6]
    vote = m["send"][0]
    assert vote[:3] == [12.0, names.index("s0"), names.index("s1")]
    assert m["types"][vote[3]] == "RequestVote"
    assert m["texts"][vote[4]] == "RequestVote term=1 candidate=0"
    # message 2 was duplicated: two deliveries, the second flagged
    assert [d for d in m["deliver"] if d[0] == 1] == [[1, 15.0, 0], [1, 20.0, 1]]
    assert m["dup"] == [1]
    assert m["drop"] == [[3, 31.0, 0]] and m["reasons"] == ["partition"]
    # long lists are counted, not copied; message 6 was never delivered nor dropped
    assert m["texts"][m["send"][3][4]] == "AppendEntries term=1 entries=[5 items]"
    assert not [d for d in m["deliver"] if d[0] == 5] and not [d for d in m["drop"] if d[0] == 5]


def test_a_window_keeps_messages_that_cross_it():
    names = views.lanes(RECS)
    m = views.messages(RECS, names, 38.0, 42.0)
    # message 3 (sent at 20, delivered at 40) and message 5 (sent at 40): nothing else
    assert m["ids"] == [3, 5]
    assert sorted(d[1] for d in m["deliver"]) == [40.0, 45.0]


def test_message_text_is_cut_at_the_limit():
    text = views.describe_message({"type": "T", "a": "x" * 50, "b": "y" * 50, "c": "z" * 500,
                                   "d": "w" * 200, "e": "v" * 200})
    assert len(text) == views.MAX_TEXT and text.endswith("…")


def test_fault_periods_network_and_crash():
    periods = views.fault_periods(RECS, 100.0)
    assert periods == [
        {"kind": "network", "start": 25.0, "end": 50.0, "node": None,
         "label": "partition s0 | s1 s2 s10"},
        {"kind": "crash", "start": 55.0, "end": 80.0, "node": "s2", "label": "s2 down"}]


def test_faults_made_at_one_time_are_one_period():
    cuts = [[381.0, "fault", {"type": "Cut", "src": "s0", "dst": d}] for d in ("s1", "s2", "s3")]
    periods = views.fault_periods([*cuts, [500.0, "fault", {"type": "Heal"}]], 600.0)
    assert periods == [{"kind": "network", "start": 381.0, "end": 500.0, "node": None,
                        "label": "cut s0→s1; cut s0→s2; cut s0→s3"}]


def test_fault_periods_left_open_end_with_the_run():
    recs = [[1.0, "fault", {"type": "Cut", "src": "s0", "dst": "s1"}],
            [2.0, "fault", {"type": "Disconnect", "node": "s2"}],
            [3.0, "fault", {"type": "Uncut", "src": "s0", "dst": "s1"}],
            [4.0, "crash", "s1", 0, 0]]
    assert views.fault_periods(recs, 9.0) == [
        {"kind": "network", "start": 1.0, "end": 2.0, "node": None, "label": "cut s0→s1"},
        {"kind": "network", "start": 2.0, "end": 3.0, "node": None,
         "label": "cut s0→s1; s2 disconnected"},
        {"kind": "network", "start": 3.0, "end": 9.0, "node": None, "label": "s2 disconnected"},
        {"kind": "crash", "start": 4.0, "end": 9.0, "node": "s1", "label": "s1 down"}]


def test_role_changes_and_crashes_on_lanes():
    names = views.lanes(RECS)
    assert views.role_changes(RECS, names) == [
        [10.0, 0, "candidate", 1], [16.0, 0, "leader", 1], [16.0, 1, "follower", 1],
        [55.0, 2, "down", None]]


def test_operations_latency_and_throughput():
    ops = views.operations(RECS)
    assert [(o["client"], o["f"], o["start"], o["end"], o["type"], o["output"]) for o in ops] == [
        ("c0", "put", 20.0, 45.0, "ok", "1"), ("c1", "get", 60.0, 70.0, "ok", "")]
    lat = views.latency(ops)
    assert lat["points"] == [[20.0, 25.0, 0], [60.0, 10.0, 1]]
    assert lat["summary"] == {"count": 2, "mean": 17.5, "p50": 25.0, "p99": 25.0, "max": 25.0}
    tp = views.throughput(ops, 0.0, 100.0, buckets=10)
    assert tp["counts"] == [0, 0, 0, 0, 1, 0, 0, 1, 0, 0] and tp["per_s"] == 20.0


def test_a_window_carries_roles_and_operations_begun_before_it():
    view = views.run_view({"scenario": "random", "seed": 3}, RECS, "d", views.Window(30.0, 50.0))
    names = view["lanes"]
    assert [(t, names[lane], role) for t, lane, role, _ in view["roles"]] == [
        (16.0, "s0", "leader"), (16.0, "s1", "follower")]     # begun before the window
    assert view["latency"]["points"] == [[30.0, 25.0, 0]]      # started at 20: drawn at 30
    tp = view["throughput"]
    assert (tp["bucket_ms"], tp["counts"], tp["per_s"]) == (10.0, [0, 1], 50.0)


def test_throughput_slices_are_round_and_at_least_10_ms():
    assert [views.bucket_width(w) for w in (0.8, 10.0, 10.1, 166.7, 400.0, 501.0)] == [
        10.0, 10.0, 20.0, 200.0, 500.0, 1000.0]
    tp = views.throughput([], 0.0, 20000.0)
    assert (tp["bucket_ms"], len(tp["counts"])) == (200.0, 100)


def test_an_operation_that_never_completed_has_no_end():
    recs = [[1.0, "history", "c0", "invoke", ["get", "k", None]],
            [2.0, "history", "c1", "invoke", ["put", "k", "v"]],
            [9.0, "history", "c1", "info", ["put", "k", None]]]
    ops = views.operations(recs)
    assert [(o["type"], o["end"]) for o in ops] == [("pending", None), ("info", None)]
    assert views.latency(ops)["points"] == []


def test_node_stats():
    names = views.lanes(RECS)
    stats = {s["node"]: s for s in views.node_stats(RECS, names)}
    size = {r[2]: len(msgspec.msgpack.encode(r[5])) for r in RECS if r[1] == "send"}
    assert stats["s0"]["sent"] == 3 and stats["s0"]["sent_bytes"] == size[1] + size[4] + size[5]
    assert stats["s0"]["received"] == 3          # the vote reply twice, the client's request
    assert stats["s0"]["received_bytes"] == 2 * size[2] + size[3]
    assert (stats["s0"]["elections"], stats["s0"]["won"], stats["s0"]["term"]) == (1, 1, 1)
    assert stats["s1"]["snapshots"] == 1 and stats["s2"]["crashes"] == 1
    assert stats["s10"]["received"] == 0         # message 6 never arrived
    windowed = {s["node"]: s for s in views.node_stats(RECS, names, 30.0, 100.0)}
    assert windowed["s0"]["sent"] == 2 and windowed["s0"]["elections"] == 0


def test_window_bounds():
    assert Window().resolve(100.0) == (0.0, 100.0)
    assert Window(20.0, None).resolve(100.0) == (20.0, 100.0)
    assert Window(20.0, 500.0).resolve(100.0) == (20.0, 100.0)
    for lo, hi, why in [(200.0, None, "when the run had ended"), (100.0, None, "had ended"), (50.0, 40.0, "empty"),
                        (-1.0, None, "before the run"),
                        (None, 0.0, "when the run starts: --to must be after 0")]:
        with pytest.raises(WindowError, match=why):
            Window(lo, hi).resolve(100.0)


def test_run_view_reuses_the_checkers_view_and_finds_the_failing_operation():
    check = history_check(RECS)
    view = views.run_view(HEADER, RECS, "digest", check=check)
    assert view["meta"]["outcome"] == "fail" and view["meta"]["kind"] == "linearizability"
    assert view["meta"]["failure"].endswith(XSS)       # data stays data: escaping is the page's
    lin = view["linearizability"]
    assert lin["verdict"] == "illegal" and lin["partitions"][0]["failure"].startswith(
        "could not place get('x')")
    assert view["focus"] == {"client": "c1", "call": 60.0, "return": 70.0, "partition": "key='x'"}


def test_a_run_without_clients_has_no_history_check():
    assert history_check([r for r in RECS if r[1] != "history"]) is None


def test_node_counts_match_the_runs_own_totals():
    """Messages and bytes as the network counted them: labrpc's total adds a request's bytes
    when it is sent and a reply's when it is delivered (SnapshotInstall3D installs snapshots,
    whose data the trace holds as base64)."""
    from scenarios.runner import run_scenario
    result = run_scenario("SnapshotInstall3D", 1, keep_lines=True)
    decode = msgspec.json.decode
    records = [decode(line) for line in result.lines[1:]]
    stats = views.node_stats(records, views.lanes(records))
    assert sum(s["sent"] for s in stats) == result.messages
    assert sum(s["received"] for s in stats) == sum(r[1] == "deliver" for r in records)
    assert sum(s["won"] for s in stats) >= 1
    size = views.message_size()
    sent = {r[2]: r[5] for r in records if r[1] == "send"}
    assert any(m["type"] == "InstallSnapshot" for m in sent.values())
    replies = {m for m, msg in sent.items() if msg["type"].endswith("Reply")}
    total = (sum(size(msg) for m, msg in sent.items() if m not in replies)
             + sum(size(sent[r[2]]) for r in records if r[1] == "deliver" and r[2] in replies))
    assert total == result.bytes
    assert sum(s["sent_bytes"] for s in stats) == sum(size(msg) for msg in sent.values())


def test_shading_merges_touching_periods_of_a_kind():
    periods = [{"kind": "network", "start": 1.0, "end": 2.0}, {"kind": "network", "start": 2.0,
               "end": 3.0}, {"kind": "network", "start": 5.0, "end": 6.0},
               {"kind": "crash", "start": 1.5, "end": 4.0}, {"kind": "crash", "start": 2.0,
               "end": 2.5}]
    assert views.shading(periods) == [[1.0, 3.0, "network"], [5.0, 6.0, "network"],
                                      [1.5, 4.0, "crash"]]


def test_a_flapping_network_is_one_band_and_a_capped_table(tmp_path):
    """A cut link restored and cut again 400 times: 800 periods, one shading band, a table of
    the first rows and a note for the rest."""
    from report_samples import write_trace
    from scenarios.cli import main
    from scenarios.report.html import MAX_FAULT_ROWS
    records = [(0.0, "restart", "s0", 0, True), (0.0, "restart", "s1", 0, True)]
    for i in range(400):
        records += [(2.0 * i, "fault", {"type": "Cut", "src": "s0", "dst": "s1"}),
                    (2.0 * i + 1, "fault", {"type": "Disconnect", "node": "s1"}),
                    (2.0 * i + 2, "fault", {"type": "Heal"})]
    records.append((801.0, "result", "pass", None, None))
    view = views.run_view(HEADER, [list(r) for r in records], "d")
    assert len(view["faults"]) == 800 and view["shading"] == [[0.0, 800.0, "network"]]
    trace, page = tmp_path / "t.jsonl", tmp_path / "t.html"
    write_trace(str(trace), records)
    assert main(["report", str(trace), "--html", str(page)]) == 0
    html = page.read_text("utf-8")
    assert html.count("<tr data-from=") == MAX_FAULT_ROWS
    assert f"… and {800 - MAX_FAULT_ROWS} more fault periods" in html


def test_the_page_carries_the_drawn_views_packed():
    """The run page embeds what its script draws as zlib-compressed JSON in base64: unpacked,
    it is exactly the views (and the same views give the same text)."""
    import base64
    import json
    import zlib

    from scenarios.report.html import drawn_data, render_run
    view = views.run_view(HEADER, RECS, "d", check=history_check(RECS))
    page = render_run(view)
    assert page == render_run(view)
    packed = page.split('id="report-data">', 1)[1].split("</script>", 1)[0]
    data = json.loads(zlib.decompress(base64.b64decode(packed)))
    assert data == json.loads(json.dumps(drawn_data(view)))
    assert data["messages"]["ids"] == [1, 2, 3, 4, 5, 6] and data["focus"]["client"] == "c1"
