"""Small inputs for the report tests: a hand-written trace whose every record is known (a
message delivered, one duplicated, one dropped in a partition, one never delivered, a crash, a
snapshot, and a client history that is not linearizable), and a campaign database."""

from __future__ import annotations

from typing import Any

from sim import Trace

XSS = "<script>alert(1)</script>"

RECORDS: list[tuple[Any, ...]] = [
    (0.0, "restart", "s0", 0, True), (0.0, "restart", "s1", 0, True),
    (0.0, "restart", "s10", 0, True), (0.0, "restart", "s2", 0, True),
    (0.0, "restart", "c1", 0, True), (0.0, "restart", "c0", 0, True),
    (10.0, "role", "s0", "candidate", 1),
    (12.0, "send", 1, "s0", "s1", {"type": "RequestVote", "term": 1, "candidate": 0}),
    (13.0, "deliver", 1, "s0", "s1"),
    (14.0, "send", 2, "s1", "s0", {"type": "RequestVoteReply", "term": 1, "granted": True}),
    (14.0, "dup", 2, "s1", "s0"),
    (15.0, "deliver", 2, "s1", "s0"),
    (16.0, "role", "s0", "leader", 1),
    (16.0, "role", "s1", "follower", 1),
    (20.0, "deliver", 2, "s1", "s0"),
    (20.0, "history", "c0", "invoke", ["put", "x", "1"]),
    (20.0, "send", 3, "c0", "s0", {"type": "KVRequest", "op": "put", "key": "x", "value": "1"}),
    (25.0, "fault", {"type": "Partition", "groups": [["s0"], ["s1", "s2", "s10"]]}),
    (30.0, "send", 4, "s0", "s1", {"type": "AppendEntries", "term": 1, "entries": [1, 2, 3, 4, 5]}),
    (31.0, "drop", 4, "s0", "s1", "partition"),
    (40.0, "deliver", 3, "c0", "s0"),
    (40.0, "send", 5, "s0", "c0", {"type": "KVReply", "err": "OK", "value": ""}),
    (45.0, "deliver", 5, "s0", "c0"),
    (45.0, "history", "c0", "ok", ["put", "x", "1"]),
    (50.0, "fault", {"type": "Heal"}),
    (55.0, "crash", "s2", 0, 0),
    (60.0, "history", "c1", "invoke", ["get", "x", None]),
    (70.0, "history", "c1", "ok", ["get", "x", ""]),          # stale: x was 1 since 45
    (80.0, "restart", "s2", 1, False),
    (90.0, "snapshot", "s1", 3, 1, 40, "abcd"),
    (95.0, "send", 6, "s1", "s10", {"type": "Note", "text": XSS}),
    (100.0, "result", "fail", "linearizability", "history is not linearizable " + XSS),
]


def write_trace(path: str, records: list[tuple[Any, ...]] = RECORDS, scenario: str = "random",
                seed: int = 3) -> str:
    """Write ``records`` as a trace file (header, records, footer); returns its digest."""
    trace = Trace(seed=seed, scenario=scenario, params={}, path=path)
    for record in records:
        trace.add(record)
    return trace.close()


def write_campaign(path: str) -> None:
    """A campaign of ``random`` over seeds 1..6: four passes under two fault profiles, a
    liveness failure and a linearizability failure (with a failure text to escape)."""
    import json

    from scenarios.campaign.db import CampaignDB, SeedResult
    crash = json.dumps({"profile": {"crash": 1.0, "halves": 0.0}, "net": {"reliable": True},
                        "schedule": [[1.0, {"type": "Crash", "node": "s0"}]]})
    split = json.dumps({"profile": {"crash": 0.0, "halves": 1.0}, "net": {"reliable": False},
                        "schedule": [[1.0, {"type": "Heal"}]]})
    db = CampaignDB(path, "random", create=True)
    try:
        for seed in range(1, 7):
            outcome, kind, failure = "pass", None, None
            if seed == 4:
                outcome, kind, failure = "fail", "liveness", "no progress"
            if seed == 6:
                outcome, kind, failure = "fail", "linearizability", "not linearizable " + XSS
            db.record(SeedResult(seed=seed, scenario="random", outcome=outcome,
                                 failure_kind=kind, failure=failure, digest=f"d{seed}",
                                 virtual_ms=1000.0, messages=10, bytes=100,
                                 wall_s=0.01 * seed, profile=crash if seed % 2 else split))
    finally:
        db.close()
