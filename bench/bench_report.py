"""Report figures: a 60-virtual-second KV run with 5 servers and 5 clients (random, seed 7,
snapshots at maxraftstate 1000, the faults the seed draws), its trace, then its report:

(1) the size of the HTML page (target: under 5 MB);
(2) the seconds ``raftsim report`` takes to write it (reading the trace, checking the history,
    computing the views, rendering);
(3) the seconds headless Chromium takes to open it: navigation start to the page's script
    having drawn every chart (target: under 1 s). Skipped when no Chromium is installed.

    python bench/bench_report.py [--seed 7] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scenarios.cli import main  # noqa: E402


def browser_load_s(page: Path) -> float | None:
    """Seconds from navigation start until the page's script marked the body ready."""
    chromium, driver = "/usr/bin/chromium", "/usr/bin/chromedriver"
    if not (os.path.exists(chromium) and os.path.exists(driver)):
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(driver), options=options)
    try:
        browser.get(page.resolve().as_uri())
        ready = None
        for _ in range(600):              # the page unpacks its data, then draws: wait for it
            ready = browser.execute_script("return document.body.getAttribute('data-ready-ms')")
            if ready is not None:
                break
            time.sleep(0.01)
        assert ready is not None, "the page never finished drawing"
        return float(ready) / 1000        # ms from navigation start to every chart drawn
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


def run() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp())
    params = work / "p.json"
    params.write_text(json.dumps({"workload": {
        "servers": 5, "clients": 5, "keys": 5, "duration_ms": args.seconds * 1000,
        "think_ms": [0.0, 20.0], "maxraftstate": 1000}}))
    trace, page = work / "t.jsonl", work / "t.html"
    main(["run", "random", "--seed", str(args.seed), "--params", str(params), "--trace",
          str(trace), "-q"])
    started = time.perf_counter()
    main(["report", str(trace), "--html", str(page)])
    report_s = time.perf_counter() - started
    size = page.stat().st_size
    print(f"trace                 {trace.stat().st_size / 2**20:.2f} MiB")
    print(f"(1) report size       {size / 2**20:.2f} MiB ({size:,} bytes; target < 5 MB)")
    print(f"(2) raftsim report    {report_s:.2f} s")
    load = browser_load_s(page)
    if load is None:
        print("(3) browser load      skipped: no /usr/bin/chromium and chromedriver")
    else:
        print(f"(3) browser load      {load:.3f} s (target < 1 s)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    run()
