"""Hard histories end cleanly: a timeout or a cache budget gives UNKNOWN, never a wrong verdict.

Rule: ``check(..., timeout=S)`` returns UNKNOWN once S seconds have passed, and ``max_cache``
bounds the configurations remembered per partition (memory) the same way. A partition found
illegal still makes the whole history illegal, whatever happened to the others.
"""

from __future__ import annotations

import time

from checkers.linearizability import KvInput, Operation, Verdict, check, kv_model


def hard_partition(key: str = "k", writers: int = 16) -> list[Operation]:
    """Concurrent puts and a read of a value nobody wrote: illegal, found only by exhausting
    about writers * 2**(writers - 1) configurations."""
    ops = [Operation(c, KvInput("put", key, f"v{c}"), 0, None, 100) for c in range(writers)]
    return ops + [Operation(99, KvInput("get", key), 0, "nobody", 100)]


def test_timeout_gives_unknown_quickly() -> None:
    """A search that cannot finish in time stops soon after the deadline with UNKNOWN."""
    started = time.monotonic()
    result = check(kv_model, hard_partition(), timeout=0.2)
    assert result.verdict is Verdict.UNKNOWN
    assert result.partitions[0].reason == "timeout"
    assert time.monotonic() - started < 2.0


def test_cache_budget_gives_unknown() -> None:
    """A search that would remember more configurations than allowed stops with UNKNOWN."""
    result = check(kv_model, hard_partition(), max_cache=5000)
    assert result.verdict is Verdict.UNKNOWN
    assert result.partitions[0].reason == "cache budget"
    assert result.partitions[0].cache_entries < 5000 + 5000  # overshoot bounded by one round


def test_small_budgets_never_flip_a_verdict() -> None:
    """Whatever the budget, the answer is the true verdict or UNKNOWN."""
    easy_bad = [Operation(0, KvInput("put", "k", "a"), 0, None, 1), Operation(1, KvInput("get", "k"), 2, "b", 3)]
    for budget in (1, 10, 100, 10_000):
        for ops, truth in ((hard_partition(writers=8), Verdict.ILLEGAL), (easy_bad, Verdict.ILLEGAL),
                           (hard_partition(writers=8)[:-1], Verdict.OK)):
            assert check(kv_model, ops, max_cache=budget).verdict in (truth, Verdict.UNKNOWN)


def test_illegal_partition_wins_over_a_timed_out_one() -> None:
    """One illegal partition decides the history even if another partition gave up."""
    ops = hard_partition("hard") + [Operation(5, KvInput("get", "easy"), 0, "x", 1)]
    result = check(kv_model, ops, timeout=0.2, verbose=True)
    assert result.verdict is Verdict.ILLEGAL
    assert {p.label: p.verdict for p in result.partitions} == {
        "key='hard'": Verdict.UNKNOWN, "key='easy'": Verdict.ILLEGAL}


def test_exhaustive_search_finishes_when_given_the_time() -> None:
    """The same kind of history, smaller, is decided (illegal) without a timeout."""
    assert check(kv_model, hard_partition(writers=10)).verdict is Verdict.ILLEGAL
