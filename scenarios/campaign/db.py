"""The results of a fault campaign: one SQLite file per campaign (one scenario), one row per seed.

Every finished seed is committed at once, so a campaign killed at any moment loses nothing and
``--resume`` runs exactly the seeds that have no result yet. The file carries its application
name, schema version, scenario and mode (``plain``, or ``guided`` for a coverage-guided
campaign); any other file is refused without being touched. A database of schema 2 (before
coverage) is migrated when resumed: its rows keep a NULL coverage (not measured).

``coverage_summary(db)`` is the read side of the coverage column: for each point reached, in
how many runs and how many times in all.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from urllib.parse import quote

from scenarios.errors import BadInput

__all__ = ["CampaignDB", "CampaignError", "SeedResult", "SCHEMA_VERSION", "coverage_summary",
           "MODES"]

SCHEMA_VERSION = 3        # 2: outcome nondeterministic, columns recheck_digest and worker
#                           3: column coverage, meta row mode (2 is migrated on resume)
MIGRATABLE = "2"
MODES = ("plain", "guided")
APPLICATION = "raftsim-campaign"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE results (
    seed INTEGER PRIMARY KEY,
    scenario TEXT NOT NULL,
    outcome TEXT NOT NULL,            -- pass, fail, unknown, error, crash, nondeterministic
    failure_kind TEXT,
    failure TEXT,
    digest TEXT,
    virtual_ms REAL,
    messages INTEGER,
    bytes INTEGER,
    wall_s REAL,
    profile TEXT,                     -- JSON: the run's drawn params (profile, net, schedule, ...)
    recheck_digest TEXT,              -- digest of the spot-check re-run (NULL: not re-run)
    worker TEXT,                      -- where the seed ran: a Dask worker's address or pid N
    coverage TEXT                     -- JSON: coverage point -> times reached (NULL: not measured)
);
"""
COLUMNS = ("seed", "scenario", "outcome", "failure_kind", "failure", "digest", "virtual_ms",
           "messages", "bytes", "wall_s", "profile", "recheck_digest", "worker", "coverage")


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
    recheck_digest: str | None = None
    worker: str | None = None
    coverage: str | None = None         # JSON object: point -> count

    def row(self) -> tuple:
        return tuple(getattr(self, name) for name in COLUMNS)


class CampaignDB:
    """The results of one campaign (one scenario) in one SQLite file, locked while open: one
    campaign at a time per database (an advisory lock, released when the process ends)."""

    def __init__(self, path: str, scenario: str, create: bool, mode: str = "plain") -> None:
        self.path = path
        self.mode = mode
        self._migrate = False
        self._lock_fd: int | None = None
        if os.path.isdir(path):
            raise CampaignError(f"{path}: is a directory")
        if create:
            self._claim_new(path)
        else:
            self._open_existing(path)
        try:
            if not create:                   # judge it read-only: a refused file stays as it was
                self._judge(scenario)
            self.conn = sqlite3.connect(path, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            if create:
                self._create(scenario)
            elif self._migrate:
                self._migrate_2()
        except BaseException as exc:
            self._unlock()
            if create:                       # ours, just made: leave nothing behind
                _remove_quietly(path)
            if isinstance(exc, sqlite3.DatabaseError):
                raise CampaignError(f"{path}: not a usable campaign database ({exc})") from None
            raise

    def _claim_new(self, path: str) -> None:
        """Create the file, refusing any that exists (even empty: it may be someone's)."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise CampaignError(f"{path}: already exists (use --resume to continue it, or "
                                "choose another --db)") from None
        except OSError as exc:
            raise CampaignError(f"{path}: cannot create ({exc.strerror})") from None
        self._lock(fd)

    def _open_existing(self, path: str) -> None:
        if not os.path.exists(path):
            raise CampaignError(f"{path}: no such campaign database to resume")
        try:
            _check_sqlite_header(path)
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise CampaignError(f"{path}: cannot read ({exc.strerror})") from None
        self._lock(fd)

    def _lock(self, fd: int) -> None:
        try:
            import fcntl
        except ImportError:                  # no advisory locks on this platform
            os.close(fd)
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise CampaignError(f"{self.path}: another campaign is running on this database "
                                "(it is locked); wait for it to finish or stop it") from None
        self._lock_fd = fd
        _HELD.add(fd)

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            _HELD.discard(self._lock_fd)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _judge(self, scenario: str) -> None:
        """Check the file through a read-only connection; then that it can be written."""
        writable = _writable(self.path)
        uri = f"file:{quote(os.path.abspath(self.path))}?mode=ro"
        if not writable:                     # SQLite could not make its WAL files here
            uri += "&immutable=1"
        conn = sqlite3.connect(uri, uri=True)
        try:
            self._check(conn, scenario)
        finally:
            conn.close()
        if not writable:
            raise CampaignError(f"{self.path}: read-only (the file or its directory cannot be "
                                "written): cannot record results")

    def _create(self, scenario: str) -> None:
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.executescript(_SCHEMA.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))
            self.conn.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("application", APPLICATION), ("schema_version", str(SCHEMA_VERSION)),
                ("scenario", scenario), ("mode", self.mode)])

    def _migrate_2(self) -> None:
        """Schema 2 -> 3: add the coverage column (NULL: not measured) and the mode row."""
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.execute("ALTER TABLE results ADD COLUMN coverage TEXT")
            self.conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                              (str(SCHEMA_VERSION),))
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('mode', 'plain')")

    def _check(self, conn: sqlite3.Connection, scenario: str) -> None:
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except (sqlite3.DatabaseError, ValueError):
            raise CampaignError(f"{self.path}: not a raftsim campaign database") from None
        if meta.get("application") != APPLICATION:
            raise CampaignError(f"{self.path}: not a raftsim campaign database")
        version = meta.get("schema_version")
        self._migrate = version == MIGRATABLE
        if version != str(SCHEMA_VERSION) and not self._migrate:
            raise CampaignError(f"{self.path}: written by another raftsim version (schema "
                                f"{meta.get('schema_version')}, this raftsim reads "
                                f"{SCHEMA_VERSION})")
        if meta.get("scenario") != scenario:
            raise CampaignError(f"{self.path}: holds a campaign of {meta.get('scenario')!r}, "
                                f"not {scenario!r}")
        mode = meta.get("mode", "plain")
        if mode != self.mode:
            raise CampaignError(f"{self.path}: holds a {mode} campaign; resume it "
                                f"{'with' if mode == 'guided' else 'without'} --guided")
        columns = tuple(row[1] for row in conn.execute("PRAGMA table_info(results)"))
        if columns != (COLUMNS[:-1] if self._migrate else COLUMNS):
            found = ", ".join(columns) if columns else "no results table"
            raise CampaignError(f"{self.path}: the results table is damaged or was changed "
                                f"(found: {found})")

    def _guard(self, what: str) -> CampaignError:
        return CampaignError(f"{self.path}: cannot {what} (the database is damaged or locked "
                             "by another program)")

    def done_seeds(self, lo: int, hi: int, redo: tuple[str, ...] = ()) -> set[int]:
        """The seeds in ``lo..hi`` that have a result (not counting outcomes in ``redo``)."""
        marks = ",".join("?" * len(redo))
        query = "SELECT seed FROM results WHERE seed BETWEEN ? AND ?" + (
            f" AND outcome NOT IN ({marks})" if redo else "")
        try:
            return {row[0] for row in self.conn.execute(query, (lo, hi, *redo))}
        except sqlite3.DatabaseError:
            raise self._guard("read its results") from None

    def record(self, result: SeedResult) -> None:
        """Store one result durably (its own transaction)."""
        try:
            self.conn.execute(f"INSERT OR REPLACE INTO results VALUES "
                              f"({','.join('?' * len(COLUMNS))})", result.row())
        except sqlite3.DatabaseError:
            raise self._guard(f"record the result of seed {result.seed}") from None

    def result(self, seed: int) -> SeedResult | None:
        rows = self._select("WHERE seed = ?", (seed,))
        return rows[0] if rows else None

    def results(self, lo: int | None = None, hi: int | None = None) -> list[SeedResult]:
        """Every result (of seeds ``lo..hi``), by seed."""
        if lo is None or hi is None:
            return self._select("ORDER BY seed", ())
        return self._select("WHERE seed BETWEEN ? AND ? ORDER BY seed", (lo, hi))

    def counts(self, lo: int, hi: int) -> dict[str, int]:
        """How many seeds of ``lo..hi`` have each outcome."""
        try:
            return dict(self.conn.execute(
                "SELECT outcome, count(*) FROM results WHERE seed BETWEEN ? AND ? "
                "GROUP BY outcome", (lo, hi)).fetchall())
        except sqlite3.DatabaseError:
            raise self._guard("read its results") from None

    def not_passed(self, lo: int, hi: int, limit: int) -> list[SeedResult]:
        return self._select("WHERE seed BETWEEN ? AND ? AND outcome != 'pass' ORDER BY seed "
                            "LIMIT ?", (lo, hi, limit))

    def pending_rechecks(self, lo: int, hi: int) -> list[SeedResult]:
        """Seeds of ``lo..hi`` with a digest but no re-run yet (the spot-check chooses)."""
        return self._select("WHERE seed BETWEEN ? AND ? AND digest IS NOT NULL AND "
                            "recheck_digest IS NULL AND outcome != 'nondeterministic' "
                            "ORDER BY seed", (lo, hi))

    def _select(self, where: str, args: tuple) -> list[SeedResult]:
        try:
            rows = self.conn.execute(f"SELECT {', '.join(COLUMNS)} FROM results {where}",
                                     args).fetchall()
        except sqlite3.DatabaseError:
            raise self._guard("read its results") from None
        return [SeedResult(*row) for row in rows]

    def close(self) -> None:
        self.conn.close()
        self._unlock()


def coverage_summary(db: CampaignDB, lo: int | None = None, hi: int | None = None
                     ) -> tuple[int, dict[str, tuple[int, int]]]:
    """Coverage over the results (of seeds ``lo..hi``) that measured it: the number of such
    runs, and for each point reached ``name -> (runs that reached it, total hits)``, by name.
    Points never reached are absent (``scenarios.harness.coverage.POINTS`` lists them all)."""
    where = "WHERE coverage IS NOT NULL"
    args: tuple[int, ...] = ()
    if lo is not None and hi is not None:
        where, args = where + " AND seed BETWEEN ? AND ?", (lo, hi)
    try:
        runs = db.conn.execute(f"SELECT count(*) FROM results {where}", args).fetchone()[0]
        rows = db.conn.execute(f"SELECT coverage FROM results {where}", args).fetchall()
    except sqlite3.DatabaseError:
        raise db._guard("read its results") from None
    reached: dict[str, list[int]] = {}
    for (text,) in rows:
        for name, count in json.loads(text).items():
            if count:
                pair = reached.setdefault(name, [0, 0])
                pair[0] += 1
                pair[1] += count
    return runs, {name: (r, h) for name, (r, h) in sorted(reached.items())}


#: Lock descriptors this process holds; a forked child drops its copies, so a worker that
#: outlives a killed parent does not keep the database locked.
_HELD: set[int] = set()


def _close_held_in_child() -> None:
    for fd in list(_HELD):
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_held_in_child)


def _writable(path: str) -> bool:
    folder = os.path.dirname(os.path.abspath(path))
    return os.access(path, os.W_OK) and os.access(folder, os.W_OK)


def _remove_quietly(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except OSError:
            pass


def _check_sqlite_header(path: str) -> None:
    """Refuse a non-SQLite file before sqlite3 touches it (it must not be damaged)."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head and head != b"SQLite format 3\x00":
        raise CampaignError(f"{path}: not a SQLite database (corrupt or another kind of file)")
