"""World: virtual time, seeded named streams, cheap callbacks and early stop."""

from __future__ import annotations

import random
from typing import Any, Generator

import heapq

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.world import World, _heap_pop, heap_push, stream_seed


def test_stream_seed_is_a_fixed_function_of_seed_and_name() -> None:
    """A stream's seed is blake2b("{seed}/{name}") truncated to 64 bits: stable across runs,
    processes and versions (golden values)."""
    assert stream_seed(42, "net") == 8959653387847668413
    assert stream_seed(42, "faults") == 15458157574652185794


def test_same_seed_and_name_give_the_same_draws() -> None:
    """Two worlds with one seed produce identical draws on every stream."""
    a, b = World(7), World(7)
    for name in ("net", "faults", "node/s0", "client/c1", "workload"):
        assert [a.rng(name).random() for _ in range(5)] == [b.rng(name).random() for _ in range(5)]


def test_streams_are_independent_of_each_other() -> None:
    """Creating or drawing from one stream does not change another: adding a client keeps
    the network's draws."""
    plain = World(3)
    net_alone = [plain.rng("net").random() for _ in range(10)]
    busy = World(3)
    busy.rng("client/c9").random()
    busy.rng("node/s0").random()
    assert [busy.rng("net").random() for _ in range(10)] == net_alone
    assert World(3).rng("net").random() != World(3).rng("faults").random()


def test_rng_returns_one_object_per_name_so_draws_continue() -> None:
    """``rng(name)`` is the same Random on every call: draws continue, never restart."""
    w = World(1)
    first = w.rng("net").random()
    second = w.rng("net").random()
    assert w.rng("net") is w.rng("net")
    assert first != second
    assert first == random.Random(stream_seed(1, "net")).random()


def test_different_seeds_give_different_streams() -> None:
    """Different run seeds give different draws on a stream."""
    assert World(1).rng("net").random() != World(2).rng("net").random()


def test_callbacks_run_in_time_order_and_fifo_on_ties() -> None:
    """Callbacks run by virtual time; those scheduled for the same time run in the order
    they were scheduled."""
    w = World(0)
    seen: list[tuple[float, str]] = []
    w.call_later(5.0, lambda: seen.append((w.now, "late")))
    for tag in "abc":
        w.call_later(1.0, lambda tag=tag: seen.append((w.now, tag)))
    w.call_at(3.0, lambda: seen.append((w.now, "at3")))
    w.run()
    assert seen == [(1.0, "a"), (1.0, "b"), (1.0, "c"), (3.0, "at3"), (5.0, "late")]


def test_plain_calls_and_simpy_events_share_one_order() -> None:
    """Callbacks are plain calls on SimPy's own queue: a SimPy timeout and a process
    scheduled between two callbacks of the same time run between them (insertion order),
    and a process sees the time its timeout fired."""
    w = World(0)
    seen: list[tuple[float, str]] = []
    w.call_later(1.0, lambda: seen.append((w.now, "first")))
    w.env.timeout(1.0).callbacks.append(lambda _: seen.append((w.now, "simpy timeout")))

    def proc() -> Generator[Any, Any, None]:
        yield w.env.timeout(1.0)
        seen.append((w.now, "process"))

    w.env.process(proc())                  # its start is an event at time 0
    w.call_later(1.0, lambda: seen.append((w.now, "second")))
    w.run()
    assert seen == [(1.0, "first"), (1.0, "simpy timeout"), (1.0, "second"),
                    (1.0, "process")]


def test_time_is_a_float_in_ms_starting_at_zero() -> None:
    """Virtual time starts at 0.0 and is a float."""
    w = World(0)
    assert w.now == 0.0 and isinstance(w.now, float)
    w.call_later(0, lambda: None)
    w.run()
    assert isinstance(w.now, float)


def test_call_at_in_the_past_is_refused() -> None:
    """Scheduling at an absolute time before now is an error."""
    w = World(0)
    w.call_later(10.0, lambda: None)
    w.run()
    with pytest.raises(ValueError):
        w.call_at(5.0, lambda: None)


def test_run_until_stops_before_the_bound_and_can_continue() -> None:
    """``run(until=t)`` processes events strictly before t; a later ``run`` continues."""
    w = World(0)
    seen: list[float] = []
    for t in (1.0, 2.0, 3.0):
        w.call_at(t, lambda: seen.append(w.now))
    w.run(until=2.0)
    assert seen == [1.0] and w.now == 2.0
    w.run(until=10.0)
    assert seen == [1.0, 2.0, 3.0] and w.now == 10.0
    assert w.run(until=5.0) is None  # a bound in the past does nothing


def test_stop_ends_the_run_and_no_later_event_runs() -> None:
    """``stop(reason)`` inside a callback abandons it; nothing later runs; ``run`` returns the
    reason, and further runs return it at once."""
    w = World(0)
    seen: list[str] = []

    def violate() -> None:
        seen.append("before")
        w.stop("invariant broken")
        seen.append("after")  # never reached

    w.call_at(1.0, violate)
    w.call_at(1.0, lambda: seen.append("same time, later"))
    w.call_at(2.0, lambda: seen.append("later"))
    assert w.run(until=100.0) == "invariant broken"
    assert seen == ["before"]
    assert w.stopped and w.stop_reason == "invariant broken"
    assert w.run(until=200.0) == "invariant broken"
    assert seen == ["before"]


def test_stop_outside_run_prevents_the_next_run() -> None:
    """A stop requested between runs is honoured by the next ``run``."""
    w = World(0)
    seen: list[int] = []
    w.call_at(1.0, lambda: seen.append(1))
    w.stop("aborted")
    assert w.run(until=10.0) == "aborted"
    assert seen == []


def test_callback_exceptions_propagate() -> None:
    """A bug in a callback is not swallowed by the loop."""
    w = World(0)
    w.call_at(1.0, lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        w.run()


_OPS = st.lists(st.one_of(
    st.tuples(st.sampled_from(["push", "heappush"]), st.sampled_from([0.0, 1.0, 1.5, 2.0, 7.25]),
              st.sampled_from([-1, 0, 1])),
    st.tuples(st.sampled_from(["pop", "heappop"]), st.just(0.0), st.just(0))), max_size=80)


@given(_OPS)
@settings(max_examples=300, deadline=None)
def test_the_loops_heap_functions_keep_heapqs_order(ops: list[tuple[str, float, int]]) -> None:
    """The event loop's own push and pop, mixed with heapq's (SimPy pushes with heapq), take
    the queue's entries in heapq's order: by time, then priority, then the unique eid, ties
    in time and priority included, and never compare the events themselves."""
    ours: list[Any] = []
    theirs: list[Any] = []
    eid = 0
    for op, time, priority in ops:
        if op in ("push", "heappush"):
            eid += 1                # unique, not increasing: the order may not rest on that
            entry = (time, priority, eid * 7919 % 1009, object())   # events are not orderable
            (heap_push if op == "push" else heapq.heappush)(ours, entry)
            heapq.heappush(theirs, entry)
        elif theirs:
            pop = _heap_pop if op == "pop" else heapq.heappop
            assert pop(ours)[3] is heapq.heappop(theirs)[3]
        else:
            with pytest.raises(IndexError):
                _heap_pop(ours)
    while theirs:
        assert _heap_pop(ours)[3] is heapq.heappop(theirs)[3]
    assert not ours
