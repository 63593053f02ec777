"""A run's result is data: the failure with its kind, rule and message; what the seed drew
(valid params); the traffic of the world's networks (0 without one); the linearizability
verdict of a KV history. The trace records the same outcome the result carries."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from checkers.linearizability import CheckResult, Verdict
from checkers.invariants.raft import InvariantViolation
from scenarios.registry import Scenario, register, unregister
from scenarios.runner import (Failure, Gen, RunContext, ScenarioUnknown, fail, run_scenario)
from scenarios.shrink import signature


@pytest.fixture
def toy() -> Iterator[Any]:
    """Register throw-away scenarios by body; removed again after the test."""
    names: list[str] = []

    def add(body: Any, time_limit_ms: float = 120_000.0) -> str:
        name = f"test-toy-{len(names)}"
        register(Scenario(name, "test", "a toy", body, time_limit_ms=time_limit_ms))
        names.append(name)
        return name
    yield add
    for name in names:
        unregister(name)


def test_invariant_violation_carries_its_rule(toy: Any) -> None:
    def body(ctx: RunContext) -> Gen:
        yield ctx.sleep(5)
        raise InvariantViolation("log-matching", ctx.now, "s1 and s2 differ at index 3")
    r = run_scenario(toy(body), 1, keep_lines=True)
    assert r.outcome == "fail"
    assert r.failure == Failure("invariant", "t=5.000ms log-matching: s1 and s2 differ at index 3",
                                "log-matching")
    assert signature(r) == ("invariant", "log-matching")
    assert r.lines is not None                                   # the trace says the same
    assert r.lines[-1] == (b'[5.0,"result","fail","invariant",'
                           b'"t=5.000ms log-matching: s1 and s2 differ at index 3"]')


def test_lab_check_liveness_unknown_and_time_limit(toy: Any) -> None:
    def lab(ctx: RunContext) -> Gen:
        yield ctx.sleep(1)
        fail("expected one leader, got none")

    def liveness(ctx: RunContext) -> Gen:
        yield ctx.sleep(1)
        fail("no progress", kind="liveness")

    def unknown(ctx: RunContext) -> Gen:
        yield ctx.sleep(1)
        raise ScenarioUnknown("gave up")

    def slow(ctx: RunContext) -> Gen:
        yield ctx.sleep(10_000)
    assert run_scenario(toy(lab), 1).failure == Failure("check", "expected one leader, got none")
    assert run_scenario(toy(liveness), 1).failure == Failure("liveness", "no progress")
    r = run_scenario(toy(unknown), 1)
    assert (r.outcome, r.failure) == ("unknown", Failure("unknown", "gave up"))
    r = run_scenario(toy(slow, time_limit_ms=1_000), 1)
    assert r.failure == Failure("time-limit", "test took longer than 1 seconds (virtual time)")
    assert str(r.failure) == r.failure.message


def test_a_run_without_network_reports_no_traffic_and_draws_nothing(toy: Any) -> None:
    def body(ctx: RunContext) -> Gen:
        yield ctx.sleep(1)
    r = run_scenario(toy(body), 1)
    assert r.passed and r.failure is None
    assert (r.messages, r.bytes, r.drawn, r.check) == (0, 0, None, None)


def test_drawn_is_recorded_in_order(toy: Any) -> None:
    def body(ctx: RunContext) -> Gen:
        ctx.record_drawn(profile={"p": 1}, schedule=[])
        ctx.record_drawn(workload={"clients": 2})
        yield ctx.sleep(1)
    r = run_scenario(toy(body), 1)
    assert r.drawn == {"profile": {"p": 1}, "schedule": [], "workload": {"clients": 2}}
    assert list(r.drawn) == ["profile", "schedule", "workload"]


def test_random_scenarios_report_what_they_drew() -> None:
    kv = run_scenario("random", 3)
    assert kv.drawn is not None
    assert list(kv.drawn) == ["swarm", "profile", "net", "schedule", "hunt", "workload"]
    raft = run_scenario("random-raft", 5)
    assert raft.drawn is not None
    assert list(raft.drawn) == ["swarm", "profile", "net", "schedule", "hunt", "duration_ms",
                                "workload"]
    assert "profile" not in kv.facts and "profile" not in raft.facts


def test_traffic_comes_from_the_network() -> None:
    """The figures the lab's Raft tester reads from its network are the run's traffic."""
    r = run_scenario("BasicAgree3B", 1)
    assert r.messages > 0 and r.bytes > r.messages
    assert r.drawn is None and r.check is None


def test_kv_history_verdict_is_on_the_result() -> None:
    r = run_scenario("OnePartition4A", 1)
    assert r.passed and isinstance(r.check, CheckResult)
    assert r.check.verdict is Verdict.OK
    assert sum(len(p.operations) for p in r.check.partitions) == r.facts["operations"]


def test_a_non_linearizable_history_keeps_its_partial_linearizations(toy: Any) -> None:
    """A KV run whose history is not linearizable fails with kind linearizability, and its
    CheckResult keeps the longest partial linearizations for a report."""
    from scenarios.harness.kv import KVCluster

    def body(ctx: RunContext) -> Gen:
        c = KVCluster(ctx, 3)
        ck = c.make_clerk()
        yield from ck.put("k", "a")
        ctx.record_history("c9", "invoke", "get", "k", None)    # a read no write explains
        ctx.record_history("c9", "ok", "get", "k", "zzz")
        c.check_linearizable()
    r = run_scenario(toy(body), 1)
    assert r.failure is not None and r.failure.kind == "linearizability"
    assert r.check is not None and r.check.verdict is Verdict.ILLEGAL
    illegal = [p for p in r.check.partitions if p.verdict is Verdict.ILLEGAL]
    assert illegal and illegal[0].partials
