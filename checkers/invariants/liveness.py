"""Liveness once the faults are over, judged from plain observations at the end of a run.

This module owns the rules only; it imports nothing of raftsim and reads no clock. A driver
gives the time the last fault healed, the bound, and what happened after (elections, client
operations); a broken rule comes back as ``(rule, message)`` (None when it holds), and the
driver fails the run with kind ``liveness`` and that rule.

- ``leader-stable`` (§5.2, §9.3 "Raft will be able to elect and maintain a steady leader as
  long as broadcastTime << electionTimeout << MTBF"): on a healthy network, the elections that
  follow the last heal (a node that was cut off comes back with a higher term and forces one)
  are over within the election bound; after it, no node stands for election again and a
  leader is in place until the end of the run. A cluster that keeps re-electing, even one that
  makes progress between elections, breaks it.
- ``client-progress`` (§8; the lab's liveness checks): on a healthy network every client
  operation that was pending at the heal, or invoked after it, completes within the operation
  bound of the heal or of its invocation, whichever is later.

Both bounds are derived from the protocol's timeouts by the driver (scenarios/harness/
liveness.py); the rules only compare times.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

__all__ = ["stable_leader", "client_progress"]

Problem = tuple[str, str]


def stable_leader(healed_at: float, bound_ms: float, end: float,
                  elections: Iterable[tuple[float, str, str, int]],
                  leader_at_end: str | None) -> Problem | None:
    """``elections``: every (time, node, role, term) at which a node became candidate or
    leader. After ``healed_at + bound_ms`` there must be none, and a leader at ``end``."""
    settled = healed_at + bound_ms
    if end <= settled:
        return None                              # the run ended before the bound: no verdict
    late = [e for e in elections if e[0] > settled]
    if late:
        t, node, role, term = late[0]
        return ("leader-stable",
                f"{node} became {role} of term {term} at t={t:.3f}ms, {t - healed_at:.0f} ms "
                f"after the last fault healed (t={healed_at:.3f}ms): on a healthy network the "
                f"elections must be over within {bound_ms:.0f} ms and the leader must stay "
                f"({len(late)} elections after the bound)")
    if leader_at_end is None:
        return ("leader-stable",
                f"no leader at t={end:.3f}ms, {end - healed_at:.0f} ms after the last fault "
                f"healed (t={healed_at:.3f}ms); the election bound is {bound_ms:.0f} ms")
    return None


def client_progress(healed_at: float, bound_ms: float, end: float,
                    history: Sequence[dict[str, Any]]) -> Problem | None:
    """``history``: invocations and completions (``t``, ``process``, ``type`` invoke / ok) in
    time order, one operation at a time per process. Each operation pending at ``healed_at``
    or invoked later completes within ``bound_ms`` of the later of the two; one still pending
    at ``end`` must not have been pending for longer."""
    invoked: dict[str, float] = {}
    worst: tuple[float, str, float, float] | None = None
    for event in history:
        process = event["process"]
        if event["type"] == "invoke":
            invoked[process] = event["t"]
            continue
        start = invoked.pop(process, None)
        if start is None or event["t"] <= healed_at:
            continue
        took = event["t"] - max(start, healed_at)
        if took > bound_ms and (worst is None or took > worst[0]):
            worst = (took, process, start, event["t"])
    for process, start in invoked.items():            # still pending when the run ended
        took = end - max(start, healed_at)
        if took > bound_ms and (worst is None or took > worst[0]):
            worst = (took, process, start, float("inf"))
    if worst is None:
        return None
    took, process, start, done = worst
    finished = "is still pending" if done == float("inf") else f"completed at t={done:.3f}ms"
    return ("client-progress",
            f"{process}'s operation invoked at t={start:.3f}ms {finished}, {took:.0f} ms after "
            f"the last fault healed or it was invoked (t={healed_at:.3f}ms heal); the bound on "
            f"a healthy network is {bound_ms:.0f} ms")
