"""The checkers' per-index records are compact and forgotten once no node can need them, and
every rule still catches what it catches at and above the point forgotten.

The rule for forgetting (``RaftInvariants.forget_below``, ``RaftOracles.forget_below``,
``KVReference.forget_below``, driven by ``RaftObserver``): below the lowest log start of every
node, in memory and on disk, no node can append, commit, apply or install anything again
without first breaking applied-monotonic (a log start going back). The index at that point is
kept: a snapshot there is still compared with its record.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from checkers.invariants.kv import KVReference
from checkers.invariants.oracles import RaftOracles
from checkers.invariants.raft import InvariantViolation, RaftInvariants
from planted_bugs import BUGS, planted
from protocols.core import Durable
from scenarios.harness import observe
from scenarios.runner import run_scenario

N = 1000


def committed(n: int = N) -> RaftInvariants:
    """s1 leads term 1 and commits (i, term 1, i) for i in 1..n; s1 and s2 hold the log."""
    inv = RaftInvariants()
    inv.role_changed(0.0, "s1", "leader", 1)
    for node in ("s1", "s2"):
        inv.log_appended(1.0, node, 1, [(1, i) for i in range(1, n + 1)], 0)
    for i in range(1, n + 1):
        inv.applied(2.0, "s1", i, 1, i)
    return inv


def test_forgetting_keeps_only_the_records_from_the_point_on() -> None:
    inv = committed()
    inv.forget_below(600)
    assert inv.commits.keys() == set(range(600, N + 1))
    assert len(inv._lm_term) == len(inv._c_term) == N - 600 + 1
    inv.forget_below(500)                      # going back is a no-op
    assert min(inv.commits) == 600


def test_rules_still_catch_a_violation_at_the_boundary_and_above() -> None:
    """The index forgotten up to is kept: a snapshot there with another term is caught; so
    are an apply and an append above it, naming the node and time of the first record."""
    inv = committed()
    inv.forget_below(600)
    with pytest.raises(InvariantViolation) as err:
        inv.snapshot_applied(5.0, "s3", 600, 2)
    assert err.value.rule == "state-machine-safety" and err.value.indexes == (600,)
    inv.snapshot_applied(5.0, "s2", 600, 1)
    with pytest.raises(InvariantViolation) as err:
        inv.applied(6.0, "s2", 601, 1, "other")
    assert err.value.rule == "state-machine-safety" and "s1" in err.value.nodes
    with pytest.raises(InvariantViolation) as err:
        inv.log_appended(7.0, "s3", 700, [(1, "other")], 1)
    assert err.value.rule == "log-matching"
    assert "on s1 (t=1.000)" in str(err.value)


def test_leader_completeness_keeps_what_it_may_read() -> None:
    """A node that boots blank after everything was forgotten and wins a later term with an
    empty log is still caught: the highest committed index per term bound is kept."""
    inv = committed()
    inv.forget_below(N + 1)
    assert not inv._c_term
    with pytest.raises(InvariantViolation) as err:
        inv.role_changed(9.0, "s9", "leader", 2, last_index=0, entry_at=lambda i: (0, None),
                         snapshot_index=0)
    assert err.value.rule == "leader-completeness" and err.value.indexes == (N,)


def test_commit_records_are_forgotten_and_still_judge_above() -> None:
    o = RaftOracles()
    o.commit_moved(1.0, "s0", 0, N, N, 1, [(1, i) for i in range(1, N + 1)])
    o.forget_below(800)
    assert min(o.committed) == 800 and len(o.committed) == N - 800 + 1
    o.commit_moved(2.0, "s1", 799, 800, N, 800, [(1, 800)])      # the same entry: fine
    with pytest.raises(InvariantViolation) as err:
        o.commit_moved(3.0, "s2", 799, 801, N, 800, [(1, 800), (2, 801)])
    assert err.value.rule == "commit-matching" and err.value.indexes == (801,)
    assert "s0 committed (801, term 1, 801) at t=1.000" in str(err.value)


def test_kv_references_below_the_point_are_dropped() -> None:
    ref = KVReference()
    ref.restarted("s0")
    for i in range(1, 31):
        ref.applied(float(i), "s0", i, "c0", i, "put", "k", str(i))
        if i % 10 == 0:
            ref.snapshot_taken("s0", i)
    ref.forget_below(20)
    assert sorted(ref.at_index) == [20, 30]
    ref.restarted("s1")
    with pytest.raises(InvariantViolation) as err:
        ref.snapshot_installed(40.0, "s1", 20, {"k": "19"}, {"c0": 20})
    assert err.value.rule == "kv-fold"


# ---------------------------------------------------------------- the observer's floor

def _host(disk_start: int | None, memory_start: int | None) -> Any:
    """A host whose disk holds a log starting at ``disk_start`` (None: blank) and whose
    memory one starting at ``memory_start`` (None: down)."""
    durable = (Durable(SimpleNamespace(log_start=disk_start), None)
               if disk_start is not None else None)
    state = (SimpleNamespace(hard=SimpleNamespace(log_start=memory_start))
             if memory_start is not None else None)
    return SimpleNamespace(disk=SimpleNamespace(read=lambda: durable), state=state)


class _Env:
    _now = now = 0.0


def _floor_after(hosts: dict[str, Any]) -> int:
    o = observe.RaftObserver(_Env())
    for i in range(1, 2 * N):
        o.invariants.applied(1.0, "s0", i, 1, i)
    o.hosts = hosts
    o._log_start_moved()
    return o.forgotten


@pytest.mark.interpreted                            # fake hosts: compiled, a Host is checked
def test_the_floor_is_the_lowest_log_start_in_memory_and_on_disk() -> None:
    up = {f"s{i}": _host(1000 + i, 1000 + i) for i in range(3)}
    assert _floor_after(up) == 1000
    # a node whose disk lags its memory (its Persist comes after the step) holds it back
    assert _floor_after({**up, "s1": _host(700, 1200)}) == 700
    # so does a crashed node with an old disk, and a blank disk keeps everything
    assert _floor_after({**up, "s2": _host(500, None)}) == 500
    assert _floor_after({**up, "s2": _host(None, None)}) == 0
    # and nothing is forgotten for less than a chunk
    assert _floor_after({f"s{i}": _host(observe.FORGET_CHUNK - 1, None)
                         for i in range(3)}) == 0


def _observers(monkeypatch: Any, chunk: int) -> list[observe.RaftObserver]:
    """Every observer made from now on (in a list), forgetting every ``chunk`` indexes."""
    made: list[observe.RaftObserver] = []
    original = observe.RaftObserver.__init__

    def init(self: observe.RaftObserver, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(observe.RaftObserver, "__init__", init)
    monkeypatch.setattr(observe.RaftObserver, "forget_chunk", chunk)
    return made


@pytest.mark.interpreted
def test_a_snapshotting_run_forgets_as_it_goes(monkeypatch) -> None:
    """A KV run that snapshots every few entries forgets the records below its nodes' log
    starts while it runs, and passes with the same digest."""
    bug = BUGS["stale-snapshot-accepted"]
    before = run_scenario(bug.scenario, bug.seed, params=bug.params)
    made = _observers(monkeypatch, 1)
    result = run_scenario(bug.scenario, bug.seed, params=bug.params)
    assert result.passed and result.digest == before.digest
    assert made and made[-1].forgotten > 0
    assert len(made[-1].invariants._c_term) < made[-1].forgotten
    assert min(made[-1].oracles.committed) >= made[-1].forgotten


@pytest.mark.interpreted
@pytest.mark.parametrize("name", [n for n, b in BUGS.items() if b.kind == "invariant"])
def test_planted_bugs_are_caught_alike_when_forgetting_at_every_snapshot(monkeypatch,
                                                                         name: str) -> None:
    """Each planted bug's catalogue run fails the same way (rule, message, time, digest)
    whether the observer forgets at every snapshot or never."""
    bug = BUGS[name]
    results = []
    for chunk in (10**12, 1):
        _observers(monkeypatch, chunk)
        with planted(name):
            results.append(run_scenario(bug.scenario, bug.seed, params=bug.params or None))
    never, always = results
    assert str(always.failure) == str(never.failure) and always.digest == never.digest
