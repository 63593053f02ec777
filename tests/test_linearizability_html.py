"""The HTML view: one self-contained page, the failure shown, its size bounded.

Rules: the view is pure data first (``build_view``) and only then HTML (``render_html``); the
page loads nothing over the network; when a history is illegal it shows the operation that could
not be placed and the longest partial linearizations with the state after each step; on a huge
history it draws the failing partitions (a window of them) and summarizes the rest.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from checkers.linearizability import KvInput, Operation, check, kv_model
from checkers.linearizability.html import render_html
from checkers.linearizability.report import build_view
from scenarios.cli import main


def stale_read_history() -> list[Operation]:
    return [Operation("c0", KvInput("put", "k", "new"), 0, None, 10),
            Operation("c1", KvInput("get", "k"), 12, "old-value-nobody-wrote", 14),
            Operation("c2", KvInput("append", "j", "x"), 1, None, 3)]


def large_history(keys: int = 300, per_key: int = 100, bad_key: int = 7, bad_ops: int = 2000) -> list[Operation]:
    """Sequential appends and gets on many keys; one get on one (long) key reads a wrong value."""
    ops = []
    for k in range(keys):
        value, t = "", float(k)
        count = bad_ops if k == bad_key else per_key
        for i in range(count // 2):
            client = f"c{(k + i) % 9}"
            ops.append(Operation(client, KvInput("append", f"k{k}", f"<{i % 10}>"), t, None, t + 0.5))
            value += f"<{i % 10}>"
            seen = "wrong" if (k == bad_key and i == count // 4) else value
            ops.append(Operation(client, KvInput("get", f"k{k}"), t + 1, seen, t + 1.5))
            t += keys * 2
    return ops


def test_view_is_plain_data() -> None:
    """build_view returns JSON-serializable data naming the failing operation."""
    view = build_view(check(kv_model, stale_read_history(), verbose=True), title="stale")
    text = json.dumps(view)
    assert view["verdict"] == "illegal" and "old-value-nobody-wrote" in text
    [bad, good] = view["partitions"]
    assert bad["verdict"] == "illegal" and good["verdict"] == "ok"
    partial = bad["partials"][0]
    assert partial["steps"][0]["state"] == "'new'"
    assert "old-value-nobody-wrote" in partial["blocked"]["text"]


def test_page_is_self_contained_and_shows_the_failure(tmp_path: Path) -> None:
    """No network resources; the failing op is highlighted; states after each step are listed."""
    page = render_html([build_view(check(kv_model, stale_read_history(), verbose=True), title="stale")])
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"""(src|href)\s*=""", page)
    assert "old-value-nobody-wrote" in page and "class='op blocked'" in page
    assert "could not be placed in &#x27;new&#x27;" in page
    assert page.count("<style>") == 1 and page.count("<script>") == 1


def test_open_operations_run_to_the_end() -> None:
    """An operation with unknown outcome is drawn as an open bar ending at the right edge."""
    from checkers.linearizability import UNKNOWN
    ops = [Operation("c0", KvInput("put", "k", "a"), 0, UNKNOWN, float("inf")),
           Operation("c1", KvInput("get", "k"), 1, "b", 2)]
    page = render_html([build_view(check(kv_model, ops, verbose=True))])
    bar = re.search(r"<div class='op open[^>]*>", page)
    assert bar is not None
    left, width = map(float, re.search(r"left:([\d.]+)%;width:([\d.]+)%", bar.group(0)).groups())
    assert left + width == pytest.approx(100.0)


def test_page_size_is_bounded_on_a_large_history() -> None:
    """32 000 operations on 300 keys: the bad key is drawn, the rest summarized, under 1.5 MB."""
    ops = large_history()
    result = check(kv_model, ops, verbose=True)
    assert result.verdict.value == "illegal" and result.counts()["illegal"] == 1
    page = render_html([build_view(result, title="large")])
    assert len(page.encode()) < 1_500_000
    assert "key=&#x27;k7&#x27;" in page and "&#x27;wrong&#x27;" in page
    assert "more partitions" in page  # what was left out is said
    assert "showing operations" in page  # the failing partition is windowed around the failure


def test_cli_writes_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--html OUT writes one page for all the files checked."""
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join([
        '{"format":"raftsim-history","version":1,"model":"kv"}',
        '{"t":0,"process":"c0","type":"invoke","f":"put","key":"k","value":"v"}',
        '{"t":1,"process":"c0","type":"ok","f":"put","key":"k"}',
        '{"t":2,"process":"c1","type":"invoke","f":"get","key":"k"}',
        '{"t":3,"process":"c1","type":"ok","f":"get","key":"k","value":"w"}']) + "\n")
    out = tmp_path / "report.html"
    assert main(["check", str(path), "--html", str(out)]) == 1
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "get(&#x27;k&#x27;) -&gt; &#x27;w&#x27;" in page
    assert f"report written to {out}" in capsys.readouterr().out
