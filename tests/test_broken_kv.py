"""Campaigns find real bugs: a KV server broken on purpose (patched here, never by a switch in
production code) is caught by a campaign within a few hundred seeds, and the failing run shrinks
to a handful of faults that still fail the same check."""

from __future__ import annotations

import pytest

from protocols.core import Send
from protocols.kv import machine
from protocols.kv import server as kv_server
from protocols.rsm import server
from protocols.kv.messages import GET, OK, KVReply
from scenarios.campaign import CampaignDB, run_campaign
from scenarios.shrink import ddmin, shrink, signature


@pytest.fixture
def no_duplicate_suppression(monkeypatch):
    """A retried Append is applied again (in the machine's one-operation path, which every
    operation then takes: the batch form ``apply_all`` is switched off)."""
    monkeypatch.setattr(machine, "is_duplicate", lambda m, client, seq: False)
    service = kv_server.SERVICE
    object.__setattr__(service, "apply_all", None)      # a frozen record
    yield
    object.__setattr__(service, "apply_all", machine.apply_all)


@pytest.fixture
def stale_reads(monkeypatch):
    """A server that believes it leads answers Get from its own state, without the log."""
    original = server.handle_request

    def handle_request(service, state, src, msg, out):
        if msg.op == GET and server.is_leader(state):
            out.append(Send(src, KVReply(msg.seq, OK, machine.get_value(state.machine, msg.key))))
            return state
        return original(service, state, src, msg, out)
    monkeypatch.setattr(server, "handle_request", handle_request)


def first_failure(tmp_path, seeds: range) -> int:
    db = CampaignDB(str(tmp_path / "c.db"), "random", create=True)
    failing = None
    for _ in run_campaign("random", list(seeds), 2, db):
        bad = [r.seed for r in db.results() if r.outcome == "fail"]
        if bad:
            failing = min(bad)
            break
    db.close()
    assert failing is not None, "the campaign missed the bug"
    return failing


@pytest.mark.interpreted
def test_missing_dedup_caught_and_shrunk(tmp_path, no_duplicate_suppression):
    seed = first_failure(tmp_path, range(1, 301))
    result = shrink("random", seed, max_runs=150)
    # the oracle meant for it names it (an op executed twice) when it strikes first; a history
    # that shows it first fails linearizability
    assert signature(result.final) in (("invariant", "kv-at-most-once"), ("linearizability", ""))
    assert signature(result.final) == signature(result.original)
    assert len(result.params["schedule"]) <= 5
    assert len(result.params["schedule"]) < len(result.original.drawn["schedule"]) \
        or len(result.params["schedule"]) <= 2


@pytest.mark.interpreted
def test_stale_reads_caught_and_shrunk(tmp_path, stale_reads):
    seed = first_failure(tmp_path, range(1, 301))
    result = shrink("random", seed, max_runs=150)
    assert not result.final.passed
    assert signature(result.final) == ("linearizability", "")
    assert len(result.params["schedule"]) <= 5


def test_correct_server_passes_the_same_seeds():
    """Control: the unpatched server passes the seeds that expose the patched bugs."""
    from scenarios.runner import run_scenario
    for seed in (1, 2, 3, 44):
        assert run_scenario("random", seed).passed


def test_ddmin_finds_a_minimal_failing_subset():
    items = list(range(20))
    calls = []

    def fails(sub):
        calls.append(sub)
        return 3 in sub and 17 in sub
    assert ddmin(items, fails) == [3, 17]
    assert ddmin([5], lambda sub: True) == []
