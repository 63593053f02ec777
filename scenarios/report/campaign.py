"""What a campaign report shows, computed from a campaign database as plain data.

This module owns the content of ``raftsim report runs.db``: outcomes by fault profile and by
failure kind, time per seed, the seeds that did not pass with the commands that replay and
shrink them, and the coverage of interesting situations when the database holds coverage counts
(a ``coverage`` column of JSON objects in ``results``, or a ``coverage`` table of
``(seed, point, count)`` rows). The database is opened read-only and never changed; anything
that is not a raftsim campaign database is ``BadInput``. No markup here (see ``html.py``).
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from typing import Any, Iterable, NamedTuple, Sequence
from urllib.parse import quote

from scenarios.errors import BadInput

__all__ = ["Campaign", "read_campaign", "campaign_view", "profile_label", "coverage_view",
           "MAX_FAILING", "MAX_POINTS"]

#: Failing seeds listed one by one (the rest are counted): keeps huge campaigns' pages small.
MAX_FAILING = 500
#: Seeds drawn one by one in the time chart (beyond that: the histogram and the slowest only).
MAX_POINTS = 20_000
_NEEDED = ("seed", "outcome", "failure_kind", "failure", "wall_s", "profile")
_OUTCOMES = ("pass", "fail", "unknown", "error", "crash", "nondeterministic")


class Campaign(NamedTuple):
    """What the database holds: its meta table, its result rows (dicts, by seed) and the
    coverage counts per seed (empty when it has none)."""
    path: str
    meta: dict[str, str]
    rows: list[dict[str, Any]]
    coverage: dict[int, dict[str, int]]
    has_coverage: bool
    #: A write-ahead log was beside the database: a campaign may still be writing it.
    logging: bool = False


def read_campaign(path: str) -> Campaign:
    """Read the campaign database at ``path`` without changing it and without leaving any file
    beside it (``BadInput`` if it is not one).

    A database with no write-ahead log beside it (``DB-wal``) holds everything in its own file:
    it is opened immutable, which makes no ``-wal`` or ``-shm`` file even in WAL mode. One with a
    log (a campaign is writing it, or stopped without closing it) is read through the log, with
    read-only SQLite (immutable, the log unread, where even that cannot open it)."""
    base = f"file:{quote(os.path.abspath(path))}?mode=ro"
    uris = [base] if os.path.exists(path + "-wal") else []
    for uri in uris + [base + "&immutable=1"]:
        try:
            conn = sqlite3.connect(uri, uri=True)
        except sqlite3.Error as exc:
            raise BadInput(f"{path}: cannot open as a campaign database ({exc})") from None
        try:
            return _read(conn, path)._replace(logging=bool(uris))
        except sqlite3.OperationalError:
            if uri == base + "&immutable=1":
                raise BadInput(f"{path}: not a usable campaign database") from None
        except sqlite3.DatabaseError as exc:
            raise BadInput(f"{path}: not a usable campaign database ({exc})") from None
        finally:
            conn.close()
    raise AssertionError("unreachable")


def _read(conn: sqlite3.Connection, path: str) -> Campaign:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "meta" not in tables or "results" not in tables:
        raise BadInput(f"{path}: not a raftsim campaign database")
    meta = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}
    if meta.get("application") != "raftsim-campaign":
        raise BadInput(f"{path}: not a raftsim campaign database")
    columns = [r[1] for r in conn.execute("PRAGMA table_info(results)")]
    missing = [c for c in _NEEDED if c not in columns]
    if missing:
        raise BadInput(f"{path}: the results table lacks {', '.join(missing)}")
    cursor = conn.execute(f"SELECT {', '.join(columns)} FROM results ORDER BY seed")
    rows = [dict(zip(columns, row)) for row in cursor]
    for row in rows:
        if not isinstance(row["seed"], int):
            raise BadInput(f"{path}: a result whose seed is not an integer ({row['seed']!r})")
        row["outcome"] = str(row["outcome"])
        wall = row["wall_s"]
        row["wall_s"] = (float(wall) if isinstance(wall, (int, float)) and math.isfinite(wall)
                         else None)
        for key in ("failure_kind", "failure"):
            if row[key] is not None:
                row[key] = str(row[key])
    coverage: dict[int, dict[str, int]] = {}
    has = "coverage" in columns or "coverage" in tables
    if "coverage" in columns:
        for row in rows:
            counts = _json_counts(row.pop("coverage"))
            if counts is not None:
                coverage[row["seed"]] = counts
    if "coverage" in tables:
        _coverage_table(conn, coverage)
    return Campaign(path, meta, rows, coverage, has and bool(coverage))


def _json_counts(text: Any) -> dict[str, int] | None:
    if not isinstance(text, str):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return {str(k): v for k, v in data.items() if isinstance(v, int) and not isinstance(v, bool)}


def _coverage_table(conn: sqlite3.Connection, into: dict[int, dict[str, int]]) -> None:
    """Rows of a ``coverage`` table: its seed column, its first text column (the point) and
    its first other numeric column (the count, 1 when there is none)."""
    info = [(r[1], (r[2] or "").upper()) for r in conn.execute("PRAGMA table_info(coverage)")]
    names = [n for n, _ in info]
    if "seed" not in names:
        return
    point = next((n for n, t in info if n != "seed" and "TEXT" in t), None)
    count = next((n for n, t in info if n not in ("seed", point) and ("INT" in t or "REAL" in t)),
                 None)
    if point is None:
        return
    select = f"SELECT seed, {point}, {count or 1} FROM coverage"
    for seed, name, n in conn.execute(select):
        if isinstance(seed, int) and name is not None and isinstance(n, int):
            per = into.setdefault(seed, {})
            per[str(name)] = per.get(str(name), 0) + n


# ---------------------------------------------------------------- the views

def campaign_view(c: Campaign) -> dict[str, Any]:
    """Every view of the campaign: a dict ready to be rendered."""
    scenario = c.meta.get("scenario", "?")
    rows = c.rows
    outcomes = _count(r["outcome"] for r in rows)
    return {
        "meta": {"path": c.path, "scenario": scenario, "seeds": len(rows),
                 "first": rows[0]["seed"] if rows else None,
                 "last": rows[-1]["seed"] if rows else None,
                 "schema": c.meta.get("schema_version"),
                 "mode": c.meta.get("mode"),        # plain or guided (schema 3 on)
                 "logging": c.logging,
                 "outcomes": outcomes,
                 "wall_s": round(sum(r["wall_s"] or 0.0 for r in rows), 3)},
        "outcome_names": _outcome_names(outcomes),
        "by_profile": _by_profile(rows),
        "by_kind": _by_kind(rows),
        "time": _time(rows),
        "failing": _failing(rows, scenario),
        "coverage": coverage_view(rows, c.coverage) if c.has_coverage else None,
    }


def _count(values: Iterable[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out


def _outcome_names(counts: dict[str, int]) -> list[str]:
    known = [o for o in _OUTCOMES if o in counts]
    return known + sorted(o for o in counts if o not in _OUTCOMES)


#: Fault-profile weights grouped into the families a profile label names.
_FAMILIES = (
    ("crash", ("crash", "reboot")),
    ("partition", ("disconnect", "isolate", "halves", "majority_minority", "bridge",
                   "majorities_ring", "random", "cut")),
    ("flaky-net", ("flip_reliable", "flip_long_reordering")),
)


def profile_label(profile_json: Any) -> str:
    """A short name for the faults a run's drawn params allowed: its swarm bias when it drew
    one (``crashes bias``); else the fault families with a weight (crash, partition,
    flaky-net) and whether the network was unreliable, e.g. ``crash+partition, unreliable``;
    ``no faults`` for an empty schedule; ``(the scenario's own)`` for a scenario that draws
    nothing (a lab test: the row holds no params); ``(not recorded)`` for params unreadable."""
    if not isinstance(profile_json, str):
        return "(the scenario's own)"            # a lab test: it draws nothing from its seed
    try:
        drawn = json.loads(profile_json)
    except ValueError:
        return "(not recorded)"
    if not isinstance(drawn, dict):
        return "(not recorded)"
    swarm = drawn.get("swarm")
    if isinstance(swarm, dict) and isinstance(swarm.get("bias"), str):
        return f"{swarm['bias']} bias"          # a swarm run: its bias names the profile
    profile = drawn.get("profile")
    families = []
    if isinstance(profile, dict):
        families = [name for name, keys in _FAMILIES
                    if any(_weight(profile.get(k)) > 0 for k in keys)]
    if drawn.get("schedule") == []:
        families = []
    label = "+".join(families) or "no faults"
    net = drawn.get("net")
    if isinstance(net, dict) and net.get("reliable") is False:
        label += ", unreliable"
    return label


def _weight(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0


def _by_profile(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(profile_label(r.get("profile")), []).append(r)
    out = [{"profile": label, "runs": len(g), "outcomes": _count(r["outcome"] for r in g),
            "kinds": _count(r["failure_kind"] for r in g if r["failure_kind"])}
           for label, g in groups.items()]
    return sorted(out, key=lambda g: (-g["runs"], g["profile"]))


def _by_kind(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[str, list[int]] = {}
    for r in rows:
        if r["outcome"] != "pass":
            groups.setdefault(r["failure_kind"] or r["outcome"], []).append(r["seed"])
    return sorted(({"kind": k, "count": len(s), "seeds": s[:12]} for k, s in groups.items()),
                  key=lambda g: (-g["count"], g["kind"]))


def _time(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    timed = [r for r in rows if r["wall_s"] is not None]
    values = sorted(float(r["wall_s"]) for r in timed)
    summary: dict[str, Any] = {"count": len(values)}
    if values:
        summary.update(total=round(sum(values), 3), mean=round(sum(values) / len(values), 4),
                       p50=round(values[len(values) // 2], 4),
                       p95=round(values[min(len(values) - 1, int(0.95 * len(values)))], 4),
                       max=round(values[-1], 4))
    slowest = sorted(timed, key=lambda r: (-float(r["wall_s"]), r["seed"]))[:10]
    return {"summary": summary,
            "points": [[r["seed"], round(float(r["wall_s"]), 4), r["outcome"]]
                       for r in timed[:MAX_POINTS]],
            "omitted": max(0, len(timed) - MAX_POINTS),
            "slowest": [{"seed": r["seed"], "wall_s": round(float(r["wall_s"]), 4),
                         "outcome": r["outcome"]} for r in slowest]}


def _failing(rows: Sequence[dict[str, Any]], scenario: str) -> dict[str, Any]:
    bad = [r for r in rows if r["outcome"] != "pass"]
    listed = [{"seed": r["seed"], "outcome": r["outcome"], "kind": r["failure_kind"],
               "failure": r["failure"],
               "replay": f"raftsim run {scenario} --seed {r['seed']} --trace "
                         f"{scenario}-{r['seed']}.trace.jsonl",
               "shrink": f"raftsim shrink {scenario} --seed {r['seed']}"}
              for r in bad[:MAX_FAILING]]
    return {"count": len(bad), "rows": listed, "omitted": max(0, len(bad) - MAX_FAILING)}


def coverage_view(rows: Sequence[dict[str, Any]], coverage: dict[int, dict[str, int]],
                  ) -> dict[str, Any]:
    """Per coverage point: how many runs reached it (and what share of the runs with counts),
    how often in all, and how many of those runs did not pass; points no run reached are
    listed too when their names are known."""
    outcome = {r["seed"]: r["outcome"] for r in rows}
    names: set[str] = set().union(*coverage.values()) if coverage else set()
    known = _known_points()
    names |= set(known)
    runs = len(coverage)
    points: list[dict[str, Any]] = []
    for name in sorted(names):
        seeds = [s for s, c in coverage.items() if c.get(name, 0) > 0]
        points.append({"point": name, "about": known.get(name, ""), "runs": len(seeds),
                       "share": round(len(seeds) / runs, 4) if runs else 0.0,
                       "hits": sum(c.get(name, 0) for c in coverage.values()),
                       "failing": sum(1 for s in seeds if outcome.get(s, "pass") != "pass"),
                       "example": min(seeds) if seeds else None})
    points.sort(key=lambda p: (-p["runs"], p["point"]))
    return {"runs": runs, "points": points,
            "never": [p["point"] for p in points if p["runs"] == 0]}


def _known_points() -> dict[str, str]:
    try:
        from scenarios.harness.coverage import POINTS
    except ImportError:
        return {}
    return dict(POINTS)
