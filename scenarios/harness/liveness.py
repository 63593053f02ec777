"""Liveness after the last fault, as the random scenarios' end-of-run check: a leader within
the election bound that then stays, and every client operation within the operation bound
(the rules are ``checkers.invariants.liveness``; this module derives the bounds from the
protocols' timeouts and feeds the rules what the run observed).

The check is passive: it reads the observer's record of elections, the run's history and the
network's settings once the body is done, so it draws nothing and writes nothing to the trace
(a passing run keeps its digest). It judges only a healthy network: reliable (no loss), no
reordering and no long reordering of replies. On a lossy network elections after the heal
are legitimate, and the random scenarios' own "no progress" checks are all that applies.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from checkers.invariants.liveness import client_progress, stable_leader
from protocols import raft
from protocols.rsm.clerk import ClerkConfig

from scenarios.runner import RunContext, ScenarioFailure

__all__ = ["ELECTION_BOUND_MS", "OP_BOUND_MS", "healed_at", "healthy", "check_after_heal"]

_RAFT = raft.RaftConfig(0, ("s0",))
_CLERK = ClerkConfig("c", ("s0",))

#: Election rounds allowed after the heal: one forced by a node that comes back with a higher
#: term, and split votes after it (each round ends within one election timeout).
ELECTION_ROUNDS = 4
#: Elections after the last heal are over within this (4 x the longest election timeout, ms).
ELECTION_BOUND_MS = ELECTION_ROUNDS * _RAFT.election_hi
#: Clerk retries allowed for one operation once a leader is in place.
OP_RETRIES = 20
#: A client operation completes within this of the heal or of its invocation (ms): the
#: election bound, then up to OP_RETRIES retry timeouts of the clerk.
OP_BOUND_MS = ELECTION_BOUND_MS + OP_RETRIES * _CLERK.retry_hi


def healed_at(schedule: Iterable[tuple[float, Any]], fault_ms: float) -> float:
    """When the last fault healed: the schedule's last entry (its finale), or ``fault_ms``."""
    return max([float(fault_ms)] + [float(t) for t, _ in schedule])


def healthy(net: Any) -> bool:
    """The network now delivers everything, promptly and in order (what "healthy" means)."""
    p = net.params
    return bool(p.reliable and not p.long_reordering and p.reorder == 0)


def check_after_heal(ctx: RunContext, observer: Any, net: Any, healed: float,
                     leader: str | None, history: Sequence[dict[str, Any]] | None = None
                     ) -> None:
    """Fail the run (kind ``liveness``) if, on a healthy network, elections went on after the
    election bound or an operation took longer than the operation bound. ``leader``: who leads
    now (None: nobody); ``history``: the run's client operations, if it has clients."""
    if not healthy(net):
        return
    now = ctx.now
    problem = stable_leader(healed, ELECTION_BOUND_MS, now, observer.elections, leader)
    if problem is None and history is not None:
        problem = client_progress(healed, OP_BOUND_MS, now, history)
    if problem is not None:
        rule, message = problem
        raise ScenarioFailure(message, kind="liveness", rule=rule)
