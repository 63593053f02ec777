"""The results of a fault campaign: one SQLite file per campaign (one scenario), one row per seed.

Every finished seed is committed at once, so a campaign killed at any moment loses nothing and
``--resume`` runs exactly the seeds that have no result yet. The file carries its application
name, schema version and scenario; any other file is refused without being touched.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from typing import Iterable

from scenarios.errors import BadInput

__all__ = ["CampaignDB", "CampaignError", "SeedResult", "SCHEMA_VERSION"]

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
    profile TEXT                      -- JSON: the run's drawn params (profile, net, schedule, ...)
);
"""


class CampaignError(BadInput):
    """A database that cannot be used (other version, corrupt, other campaign): bad input."""


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
