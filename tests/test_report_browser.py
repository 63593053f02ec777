"""Reports open in a real browser (headless Chromium through Selenium and Debian's
chromedriver): no JavaScript error, the expected elements are drawn, the controls work, and a
screenshot is not blank. Skipped, with the reason, only where no browser is installed (.ci/run
installs Debian's chromium and chromium-driver when it can)."""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any, Iterator

import pytest

from report_samples import write_campaign, write_trace
from scenarios.cli import main

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,1600"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM) or not os.path.exists(DRIVER):
        pytest.skip(f"no browser: {CHROMIUM} or {DRIVER} is missing (install Debian's chromium "
                    "and chromium-driver, as .ci/run does when it runs as root)")
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="selenium is not installed (pip install -e '.[test]')")
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="raftsim-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_page(driver: Any, path: Path) -> None:
    driver.get_log("browser")                       # forget what an earlier page logged
    driver.get(path.resolve().as_uri())
    for _ in range(100):                  # the run page unpacks its data asynchronously
        if driver.execute_script("return document.body.getAttribute('data-ready')") == "1":
            break
        time.sleep(0.05)
    assert_no_errors(driver)
    assert driver.execute_script("return document.body.getAttribute('data-ready')") == "1"


def assert_no_errors(driver: Any) -> None:
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def count(driver: Any, selector: str) -> int:
    return int(driver.execute_script(f"return document.querySelectorAll({selector!r}).length"))


def value(driver: Any, element_id: str) -> float:
    return float(driver.execute_script(f"return document.getElementById({element_id!r}).value"))


def click(driver: Any, element_id: str) -> None:
    driver.execute_script(f"document.getElementById({element_id!r}).click()")


def assert_not_blank(driver: Any, element_id: str) -> None:
    """A screenshot of the element has drawing in it: several colours, none covering nearly
    everything."""
    element = driver.find_element("id", element_id)
    pixels = decode_png(element.screenshot_as_png)
    colours: dict[bytes, int] = {}
    for p in pixels:
        colours[p] = colours.get(p, 0) + 1
    assert len(colours) > 8 and max(colours.values()) < 0.98 * len(pixels)


def decode_png(png: bytes) -> list[bytes]:
    """Every pixel of an 8-bit RGB or RGBA PNG (as Chromium writes them), sampled every 7th."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        data = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", data[:10])
            assert depth == 8 and colour in (2, 6)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    raw, stride = zlib.decompress(idat), width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return [row[x:x + bpp] for row in rows[::7] for x in range(0, stride, 7 * bpp)]


def test_run_report(browser, tmp_path):
    trace, page = tmp_path / "t.jsonl", tmp_path / "t.html"
    write_trace(str(trace))
    assert main(["report", str(trace), "--html", str(page)]) == 0
    open_page(browser, page)
    # the diagram: deliveries (one duplicate), a drop with its cross, a message never delivered
    assert count(browser, "#msc line.msg") == 7
    assert count(browser, "#msc line.msg.dup") == 1 and count(browser, "#msc circle.dupmark") == 1
    assert count(browser, "#msc line.msg.drop") == 1 and count(browser, "#msc path.x") == 1
    assert count(browser, "#msc line.msg.lost") == 1
    assert count(browser, "#msc text.role") == 4          # C1, L1, F1 and s2's crash
    assert count(browser, "#msc rect.band-net") == 1 and count(browser, "#msc rect.band-crash") == 1
    assert count(browser, "#msc text.lane-label") == 6
    assert count(browser, "#ops rect.op") == 2 and count(browser, "#ops rect.op.blocked") == 1
    assert count(browser, "#latency circle.pt") == 2
    assert count(browser, "#node-table tbody tr") == 6
    assert count(browser, "#linearizability") == 1 and count(browser, ".lop.blocked") == 1
    # unticking a message type hides its arrows (the dropped AppendEntries here)
    kinds = browser.execute_script("return window.reportData.messages.types")
    click(browser, f"type-{kinds.index('AppendEntries')}")
    assert count(browser, "#msc line.msg.drop") == 0 and count(browser, "#msc line.msg") == 6
    click(browser, f"type-{kinds.index('AppendEntries')}")
    assert count(browser, "#msc line.msg.drop") == 1
    # hovering an arrow shows its message
    browser.execute_script("document.querySelector('#msc line.msg').dispatchEvent("
                           "new MouseEvent('mouseover', {bubbles: true}))")
    hover = browser.execute_script("return document.getElementById('hover').textContent")
    assert "s0 → s1" in hover and "RequestVote candidate=0 term=1" in hover
    # the failing operation's link zooms the diagram onto it (60..70 ms, padded)
    click(browser, "focus-link")
    assert (value(browser, "win-from"), value(browser, "win-to")) == (0.04, 0.09)
    assert count(browser, "#msc-focus") == 1
    assert_not_blank(browser, "msc")
    # 25..35 ms: the client's request (20 -> 40) crosses the whole window: counted, not drawn
    browser.execute_script("document.getElementById('win-from').value = '0.025';"
                           "document.getElementById('win-to').value = '0.035';")
    click(browser, "win-apply")
    assert count(browser, "#msc line.msg") == 1 and count(browser, "#msc line.msg.drop") == 1
    assert "1 in flight across the whole window" in browser.execute_script(
        "return document.getElementById('win-note').textContent")
    assert_no_errors(browser)


def test_zoom_on_a_real_run(browser, tmp_path):
    page = tmp_path / "r.html"
    assert main(["run", "random", "--seed", "7", "--report", str(page)]) in (0, 1)
    open_page(browser, page)
    lo, hi = value(browser, "win-from"), value(browser, "win-to")
    assert lo == 0 and 0 < hi
    sent = browser.execute_script(f"return reportData.messages.send.filter(s => s[0] <= {hi * 1000})"
                                  ".length")
    assert 0 < sent <= 150                    # a readable opening: 5 lanes, not cramped
    drawn = count(browser, "#msc line.msg")
    assert 0 < drawn
    click(browser, "zoom-in")
    assert value(browser, "win-to") - value(browser, "win-from") == pytest.approx((hi - lo) / 2, abs=2e-4)
    assert count(browser, "#msc line.msg") < drawn
    click(browser, "pan-right")
    click(browser, "zoom-all")
    end = float(browser.execute_script("return window.reportData.end"))
    assert value(browser, "win-to") == pytest.approx(end / 1000, abs=1e-3)
    browser.execute_script("document.querySelector('#fault-table a.jump').click()")
    assert value(browser, "win-to") < end / 1000
    # dragging across the overview strip from a quarter to the middle of the run shows that
    from selenium.webdriver.common.action_chains import ActionChains
    strip = browser.find_element("id", "overview")
    plot = strip.size["width"] - 70 - 8                  # the strip's label column, its margin
    left = -strip.size["width"] // 2 + 70 + plot // 4
    ActionChains(browser).move_to_element_with_offset(strip, left, 0).click_and_hold() \
        .move_by_offset(plot // 4, 0).release().perform()
    lo, hi = value(browser, "win-from"), value(browser, "win-to")
    assert lo == pytest.approx(end / 4000, rel=0.02) and hi == pytest.approx(end / 2000, rel=0.02)
    assert_not_blank(browser, "msc")
    assert_not_blank(browser, "latency")
    assert_no_errors(browser)


def test_campaign_report(browser, tmp_path):
    db, page = tmp_path / "runs.db", tmp_path / "c.html"
    write_campaign(str(db))
    assert main(["report", str(db), "--html", str(page)]) == 0
    open_page(browser, page)
    assert count(browser, "#time-chart circle.pt") == 6
    assert count(browser, "#time-chart circle.pt.fail") == 2
    assert count(browser, "#failing-table tbody tr") == 2
    assert count(browser, "#profile-table tbody tr") == 2
    assert count(browser, "#kind-table tbody tr") == 2
    assert_not_blank(browser, "time-chart")
    assert_no_errors(browser)


def test_a_window_of_a_run(browser, tmp_path):
    trace, page = tmp_path / "t.jsonl", tmp_path / "w.html"
    write_trace(str(trace))
    assert main(["report", str(trace), "--html", str(page), "--from", "50ms"]) == 0
    open_page(browser, page)
    assert (value(browser, "win-from"), value(browser, "win-to")) == (0.05, 0.1)
    assert count(browser, "#ops rect.op") == 1                 # c1's read; c0's write ended at 45
    assert count(browser, "#msc line.msg.lost") == 1 and count(browser, "#msc line.msg.drop") == 0
    browser.execute_script("document.querySelector('#latency circle.pt').dispatchEvent("
                           "new MouseEvent('mouseover', {bubbles: true}))")
    hover = browser.execute_script("return document.getElementById('hover').textContent")
    assert hover.startswith('c1: get x') and "completed 70.000 ms (10.000 ms)" in hover
    assert_no_errors(browser)


def test_a_window_carries_what_began_before_it(browser, tmp_path):
    trace, page = tmp_path / "t.jsonl", tmp_path / "w.html"
    write_trace(str(trace))
    assert main(["report", str(trace), "--html", str(page), "--from", "30ms", "--to", "50ms"]) == 0
    open_page(browser, page)
    assert count(browser, "#msc rect.leader") == 1       # s0 has led since 16 ms
    cx = browser.execute_script("return [...document.querySelectorAll('#latency circle.pt')]"
                                ".map(c => +c.getAttribute('cx'))")
    assert len(cx) == 1 and cx[0] >= 70                  # c0's write (20..45 ms), at the start
    assert count(browser, "#throughput rect.bar") == 1
    assert_no_errors(browser)


def test_pending_operations_and_empty_partitions_in_the_linearizability_view(browser, tmp_path):
    from report_samples import RECORDS
    records = [*RECORDS[:-1], (96.0, "history", "c1", "invoke", ["get", "y", None]),
               (98.0, "history", "c0", "invoke", ["put", "x", "3"]), RECORDS[-1]]
    trace, page = tmp_path / "t.jsonl", tmp_path / "t.html"
    write_trace(str(trace), records)
    assert main(["report", str(trace), "--html", str(page)]) == 0
    open_page(browser, page)
    # the read of y never completed: the checker drops it, leaving y no operation to draw
    assert browser.execute_script("return [...document.querySelectorAll('h3')].filter(h => "
                                  "h.textContent.startsWith('partition '))"
                                  ".map(h => h.textContent.split(' ')[1])") == ["key='x'"]
    colours = browser.execute_script(
        "return [getComputedStyle(document.querySelector('.lop.open')).backgroundColor,"
        " getComputedStyle(document.querySelector('#ops rect.op.pending')).fill]")
    assert colours[0] == colours[1]                       # one colour for a pending operation
    assert_no_errors(browser)


CLEAR_JS = """
var svg = document.getElementById(arguments[0]), w = svg.getBoundingClientRect().width, out = [];
var dots = [...svg.querySelectorAll('circle')].map(c => c.getBBox());
svg.querySelectorAll('text').forEach(function (t) {
  var b = t.getBBox();
  if (b.x < 0 || b.x + b.width > w) out.push('cut by the edge: ' + t.textContent);
  dots.forEach(function (c) {
    if (c.x < b.x + b.width && b.x < c.x + c.width && c.y < b.y + b.height && b.y < c.y + c.height)
      out.push('under a point: ' + t.textContent);
  });
});
return out;
"""


def test_chart_labels_are_clear_of_the_edges_and_of_the_points(browser, tmp_path):
    records = [(0.0, "restart", "s0", 0, True), (0.0, "history", "c0", "invoke", ["put", "x", "1"]),
               (5.0, "history", "c1", "invoke", ["get", "x", None]),
               (9.0, "history", "c1", "ok", ["get", "x", ""]),
               (1234.567, "history", "c0", "ok", ["put", "x", "1"]),
               (5000.0, "result", "pass", None, None)]
    trace, page = tmp_path / "t.jsonl", tmp_path / "t.html"
    write_trace(str(trace), records)
    assert main(["report", str(trace), "--html", str(page)]) == 0
    open_page(browser, page)
    for chart in ("latency", "throughput", "ops"):
        assert browser.execute_script(CLEAR_JS, chart) == [], chart
    from scenarios.campaign.db import CampaignDB, SeedResult
    db, cpage = tmp_path / "runs.db", tmp_path / "c.html"
    camp = CampaignDB(str(db), "random", create=True)
    for seed in (1, 2, 3):                       # the slowest first: its point at the top left
        camp.record(SeedResult(seed=seed, scenario="random", outcome="pass", failure_kind=None,
                               failure=None, digest="d", virtual_ms=1.0, messages=1, bytes=1,
                               wall_s=123.456 if seed == 1 else 0.5, profile=None))
    camp.close()
    assert main(["report", str(db), "--html", str(cpage)]) == 0
    open_page(browser, cpage)
    assert browser.execute_script(CLEAR_JS, "time-chart") == []


def test_a_big_failing_run_opens_on_its_failing_operation(browser, tmp_path):
    from report_samples import RECORDS
    beats = []
    for i in range(600):                          # more messages than the first view draws
        t, mid = round(0.1 * i, 3), 100 + i
        beats += [(t, "send", mid, "s0", "s10", {"type": "AppendEntries", "term": 1}),
                  (t + 0.05, "deliver", mid, "s0", "s10")]
    records = sorted([*RECORDS[:-1], *beats], key=lambda r: r[0]) + [RECORDS[-1]]
    trace, page = tmp_path / "t.jsonl", tmp_path / "t.html"
    write_trace(str(trace), records)
    assert main(["report", str(trace), "--html", str(page)]) == 0
    open_page(browser, page)
    assert (value(browser, "win-from"), value(browser, "win-to")) == (0.04, 0.09)
    assert count(browser, "#msc-focus") == 1
    click(browser, "zoom-all")
    assert "messages drawn" in browser.execute_script(
        "return document.getElementById('win-note').textContent")
    assert_no_errors(browser)


def test_an_explorer_counterexample(browser, tmp_path):
    """The vote bug's counterexample (10 steps, one per virtual ms) drawn as a run: its
    arrows and role marks are there, and the failure's link zooms onto the violating step and
    outlines it on s1's lane."""
    cex, page = tmp_path / "cex.json", tmp_path / "cex.html"
    assert main(["explore", "raft", "--step", "test_explore:vote_blind", "--max-term", "2",
                 "--max-log", "1", "--per-link", "2", "--symmetry", "--trace", str(cex)]) == 1
    assert main(["report", str(cex), "--html", str(page)]) == 0
    open_page(browser, page)
    assert count(browser, "#msc line.msg") == 14                # 14 sent: 7 delivered
    assert count(browser, "#msc line.msg.lost") == 7            # sent, still in flight
    assert count(browser, "#msc text.role") >= 6
    click(browser, "step-link")
    assert count(browser, "#msc-focus") == 1
    assert value(browser, "win-from") <= 0.009 and value(browser, "win-to") >= 0.01
    assert_not_blank(browser, "msc")
    assert_no_errors(browser)
