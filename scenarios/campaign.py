"""Fault campaigns: one scenario over many seeds, in worker processes, with durable results.

Every finished seed is committed to a SQLite database at once, so a campaign killed at any
moment loses nothing and ``--resume`` runs exactly the seeds that have no result yet. A worker
that dies (segfault, out of memory, killed) is recorded as outcome ``crash`` for the seed it was
running and replaced; it never ends the campaign.

Workers are plain processes, one seed at a time over a pipe: the parent always knows which seed
each worker holds, and is the only writer of the database.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sqlite3
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Iterable, Iterator

__all__ = ["CampaignDB", "CampaignError", "SeedResult", "run_campaign", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1
APPLICATION = "raftsim-campaign"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE results (
    seed INTEGER PRIMARY KEY,
    scenario TEXT NOT NULL,
    outcome TEXT NOT NULL,            -- pass, fail, unknown, error, crash
    failure_kind TEXT,
    failure TEXT,
    digest TEXT,
    virtual_ms REAL,
    messages INTEGER,
    bytes INTEGER,
    wall_s REAL,
    profile TEXT                      -- JSON: what the seed drew (fault profile, workload)
);
"""


class CampaignError(Exception):
    """A database that cannot be used (other version, corrupt, other campaign)."""


@dataclass
class SeedResult:
    seed: int
    scenario: str
    outcome: str
    failure_kind: str | None = None
    failure: str | None = None
    digest: str | None = None
    virtual_ms: float | None = None
    messages: int | None = None
    bytes: int | None = None
    wall_s: float | None = None
    profile: str | None = None

    def row(self) -> tuple:
        return (self.seed, self.scenario, self.outcome, self.failure_kind, self.failure,
                self.digest, self.virtual_ms, self.messages, self.bytes, self.wall_s,
                self.profile)


class CampaignDB:
    """The results of one campaign (one scenario) in one SQLite file."""

    def __init__(self, path: str, scenario: str, create: bool) -> None:
        self.path = path
        exists = os.path.exists(path)
        if exists and os.path.isdir(path):
            raise CampaignError(f"{path}: is a directory")
        if create and exists and os.path.getsize(path) > 0:
            raise CampaignError(f"{path}: already exists (use --resume to continue it, or "
                                "choose another --db)")
        if not create and not exists:
            raise CampaignError(f"{path}: no such campaign database to resume")
        if not create:
            _check_sqlite_header(path)
        try:
            if not create:                   # judge it read-only: a refused file stays as it was
                self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
                self._check(scenario)
                self.conn.close()
            self.conn = sqlite3.connect(path, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            if create:
                self._create(scenario)
        except sqlite3.DatabaseError as exc:
            raise CampaignError(f"{path}: not a usable campaign database ({exc})") from None

    def _create(self, scenario: str) -> None:
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.executescript(_SCHEMA.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))
            self.conn.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("application", APPLICATION), ("schema_version", str(SCHEMA_VERSION)),
                ("scenario", scenario)])

    def _check(self, scenario: str) -> None:
        try:
            meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError:
            raise CampaignError(f"{self.path}: not a raftsim campaign database") from None
        if meta.get("application") != APPLICATION:
            raise CampaignError(f"{self.path}: not a raftsim campaign database")
        if meta.get("schema_version") != str(SCHEMA_VERSION):
            raise CampaignError(f"{self.path}: written by another raftsim version (schema "
                                f"{meta.get('schema_version')}, this raftsim reads "
                                f"{SCHEMA_VERSION})")
        if meta.get("scenario") != scenario:
            raise CampaignError(f"{self.path}: holds a campaign of {meta.get('scenario')!r}, "
                                f"not {scenario!r}")

    def done_seeds(self) -> set[int]:
        return {row[0] for row in self.conn.execute("SELECT seed FROM results")}

    def record(self, result: SeedResult) -> None:
        """Store one result durably (its own transaction)."""
        self.conn.execute("INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                          result.row())

    def results(self, seeds: Iterable[int] | None = None) -> list[SeedResult]:
        rows = self.conn.execute("SELECT * FROM results ORDER BY seed").fetchall()
        wanted = None if seeds is None else set(seeds)
        return [SeedResult(*row) for row in rows if wanted is None or row[0] in wanted]

    def close(self) -> None:
        self.conn.close()


def _check_sqlite_header(path: str) -> None:
    """Refuse a non-SQLite file before sqlite3 touches it (it must not be damaged)."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head and head != b"SQLite format 3\x00":
        raise CampaignError(f"{path}: not a SQLite database (corrupt or another kind of file)")


# ---------------------------------------------------------------- running one seed

def run_one(scenario: str, seed: int, params: dict[str, Any] | None = None) -> SeedResult:
    """Run one seed; turns a bug in raftsim into an ``error`` result instead of raising."""
    from scenarios.runner import run_scenario
    started = time.perf_counter()          # wall time, reported only
    try:
        r = run_scenario(scenario, seed, params=params)
    except Exception as exc:               # a bug in raftsim itself: keep going, record it
        last = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{os.path.basename(last.filename)}:{last.lineno}"
        return SeedResult(seed, scenario, "error", "error", f"{type(exc).__name__}: {exc} "
                          f"(at {where})", wall_s=time.perf_counter() - started)
    profile = r.facts.get("profile")
    return SeedResult(seed, scenario, r.outcome, r.failure_kind, r.failure, r.digest,
                      r.virtual_ms, r.messages, r.bytes, r.wall_s,
                      json.dumps(profile, sort_keys=True) if profile is not None else None)


def _worker(conn: Connection, scenario: str, params: dict[str, Any] | None,
            parent: int) -> None:
    """Run seeds received over ``conn`` until told to stop or the parent goes away.

    A forked worker holds copies of its siblings' pipe ends, so a dead parent does not always
    close the pipe: the worker also watches its parent's pid.
    """
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent handles Ctrl-C
    while True:
        try:
            while not conn.poll(0.5):
                if os.getppid() != parent:
                    return
            seed = conn.recv()
        except (EOFError, OSError):
            return
        if seed is None:
            return
        conn.send(run_one(scenario, seed, params))


# ---------------------------------------------------------------- the pool

class _Slot:
    def __init__(self, ctx: Any, scenario: str, params: dict[str, Any] | None) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, scenario, params, os.getpid()),
                                daemon=True)
        self.proc.start()
        child.close()
        self.seed: int | None = None


def run_campaign(scenario: str, seeds: list[int], jobs: int, db: CampaignDB,
                 on_result: Callable[[SeedResult], None] = lambda r: None,
                 params: dict[str, Any] | None = None) -> Iterator[None]:
    """Run ``seeds`` on ``jobs`` workers, storing each result as it arrives.

    ``params`` (the same for every seed) override what the scenario would draw.

    A generator so the caller controls interruption: closing it (or Ctrl-C) stops the workers;
    everything already stored stays stored.
    """
    if jobs <= 1:
        for seed in seeds:
            result = run_one(scenario, seed, params)
            db.record(result)
            on_result(result)
            yield
        return
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    pending = list(reversed(seeds))
    slots = [_Slot(ctx, scenario, params) for _ in range(min(jobs, len(seeds)))]
    try:
        for slot in slots:
            _dispatch(slot, pending)
        while any(slot.seed is not None for slot in slots):
            busy = [s for s in slots if s.seed is not None]
            ready = wait([s.conn for s in busy] + [s.proc.sentinel for s in busy])
            for slot in busy:
                result = _collect(slot, ready, scenario)
                if result is None:
                    continue
                db.record(result)
                on_result(result)
                if result.outcome == "crash":
                    slot.proc.join(timeout=1)
                    slots[slots.index(slot)] = slot = _Slot(ctx, scenario, params)
                _dispatch(slot, pending)
                yield
    finally:
        for slot in slots:
            _stop(slot)


def _dispatch(slot: _Slot, pending: list[int]) -> None:
    slot.seed = pending.pop() if pending else None
    if slot.seed is not None:
        slot.conn.send(slot.seed)


def _collect(slot: _Slot, ready: list, scenario: str) -> SeedResult | None:
    """The result a worker sent, a ``crash`` result if it died, or None if still busy."""
    if slot.conn in ready:
        try:
            return slot.conn.recv()
        except (EOFError, OSError):
            pass
    elif slot.proc.sentinel not in ready:
        return None
    slot.proc.join(timeout=1)
    return SeedResult(slot.seed, scenario, "crash", "crash",
                      f"worker process died (exit code {slot.proc.exitcode})")


def _stop(slot: _Slot) -> None:
    try:
        slot.conn.send(None)
    except (OSError, ValueError):
        pass
    slot.proc.join(timeout=0.5)
    if slot.proc.is_alive():
        slot.proc.terminate()
        slot.proc.join(timeout=1)
    slot.conn.close()
