"""The KV state machine on its own: Get / Put / Append semantics, at-most-once execution per
(client, seq), and the deterministic snapshot encoding."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from protocols.kv.machine import (
    apply_all, apply_op, decode_snapshot, empty, encode_snapshot, get_value,
)
from protocols.kv.messages import APPEND, GET, PUT, Op


def run(ops, m=None):
    m = m if m is not None else empty()
    results = []
    for op in ops:
        m, result = apply_op(m, op)
        results.append(result)
    return m, results


def test_get_of_missing_key_is_empty():
    """Get of a key never written returns "" (the lab's kvraft answers "" with OK)."""
    m, results = run([Op("c", 1, GET, "nope")])
    assert results == [""]
    assert get_value(m, "nope") == ""


def test_put_replaces_and_append_concatenates():
    """Put sets the value, Append adds to its end, Append to a missing key starts from ""."""
    m, results = run([Op("c", 1, APPEND, "k", "a"), Op("c", 2, APPEND, "k", "b"),
                      Op("c", 3, GET, "k"), Op("c", 4, PUT, "k", "z"), Op("c", 5, GET, "k")])
    assert results == ["", "", "ab", "", "z"]


def test_retried_write_applies_at_most_once():
    """A Put/Append whose (client, seq) was already applied (a retry committed twice, or an
    older seq arriving late) leaves the data unchanged."""
    m, _ = run([Op("c", 1, APPEND, "k", "a"), Op("c", 1, APPEND, "k", "a"),
                Op("c", 2, PUT, "j", "x"), Op("c", 1, APPEND, "k", "a"),
                Op("c", 2, PUT, "j", "x")])
    assert get_value(m, "k") == "a" and get_value(m, "j") == "x"


def test_duplicate_get_reads_current_value():
    """A retried Get is not suppressed: it reads the value at its own apply, which is still
    inside the operation's interval."""
    m, results = run([Op("a", 1, GET, "k"), Op("b", 1, PUT, "k", "v"), Op("a", 1, GET, "k")])
    assert results == ["", "", "v"]


def test_get_advances_the_session():
    """A Get records its seq, so a delayed copy of an earlier write of that client that is
    committed after it is still suppressed."""
    m, _ = run([Op("c", 1, PUT, "k", "old"), Op("c", 2, GET, "k"), Op("c", 1, PUT, "k", "old"),
                Op("d", 1, PUT, "k", "new"), Op("c", 1, PUT, "k", "old")])
    assert get_value(m, "k") == "new"
    assert m.sessions["c"] == 2


def test_sessions_are_per_client():
    """Seq numbers of different clients never suppress each other."""
    m, _ = run([Op("a", 5, APPEND, "k", "a"), Op("b", 1, APPEND, "k", "b")])
    assert get_value(m, "k") == "ab"


def test_unknown_operation_is_a_bug():
    """Servers only propose get/put/append, so anything else applied is an error."""
    with pytest.raises(ValueError):
        apply_op(empty(), Op("c", 1, "delete", "k"))


def test_snapshot_round_trip():
    """decode(encode(m)) == m, data and sessions included; empty bytes give the empty machine."""
    m, _ = run([Op("a", 1, PUT, "x", "1"), Op("b", 3, APPEND, "y", "2"), Op("a", 2, GET, "z")])
    assert decode_snapshot(encode_snapshot(m)) == m
    assert decode_snapshot(b"") == empty()


def test_snapshot_encoding_is_independent_of_insertion_order():
    """Equal machines encode to equal bytes, whatever order the keys were written in."""
    keys = [f"k{i}" for i in range(40)]
    one, _ = run([Op(f"c{i}", 1, PUT, k, k) for i, k in enumerate(keys)])
    other, _ = run([Op(f"c{i}", 1, PUT, k, k) for i, k in reversed(list(enumerate(keys)))])
    assert one == other
    assert encode_snapshot(one) == encode_snapshot(other)


def test_snapshot_of_overwritten_key_stays_small():
    """200 x (Put x=0, Put x=1) leaves a snapshot far below the lab's 500 bytes
    (TestSnapshotSize): nothing grows with the number of operations."""
    ops = []
    for i in range(200):
        ops += [Op("c", 2 * i + 1, PUT, "x", "0"), Op("c", 2 * i + 2, PUT, "x", "1")]
    m, _ = run(ops)
    assert len(encode_snapshot(m)) <= 500
    assert len(encode_snapshot(m)) < 30


ops_strategy = st.lists(st.tuples(st.sampled_from("ab"), st.integers(1, 6),
                                  st.sampled_from([GET, PUT, APPEND]), st.sampled_from("xy"),
                                  st.sampled_from(["", "1", "22"])), max_size=30)


@settings(max_examples=100, deadline=None)
@given(ops_strategy)
def test_matches_a_plain_dict_reference(raw):
    """Against a dict reference: a write applies iff its seq exceeds every seq seen from its
    client; a Get reads the current value. Snapshots preserve everything at every point."""
    ref: dict[str, str] = {}
    last: dict[str, int] = {}
    m = empty()
    for client, seq, kind, key, value in raw:
        m, result = apply_op(m, Op(client, seq, kind, key, value))
        fresh = seq > last.get(client, 0)
        if kind == GET:
            assert result == ref.get(key, "")
        elif fresh and kind == PUT:
            ref[key] = value
        elif fresh:
            ref[key] = ref.get(key, "") + value
        if fresh:
            last[client] = seq
        assert dict(m.data) == ref and dict(m.sessions) == last
        assert decode_snapshot(encode_snapshot(m)) == m


@settings(max_examples=100, deadline=None)
@given(ops_strategy, st.lists(st.integers(0, 30), max_size=6))
def test_apply_all_is_apply_op_in_turn(raw, cuts):
    """A batch (what a follower applies when it learns of several commits at once) gives the
    machine and the results of apply_op over its operations one by one, cut anywhere; the
    machine it started from is left as it was, and its maps keep the same order."""
    ops = [Op(*fields) for fields in raw]
    want, want_results = run(ops)
    bounds = sorted({0, len(ops), *(c for c in cuts if c <= len(ops))})
    m, results = empty(), []
    for lo, hi in zip(bounds, bounds[1:]):
        before, snapshot = m, encode_snapshot(m)
        m, got = apply_all(m, ops[lo:hi])
        results += got
        assert encode_snapshot(before) == snapshot
    assert (m, results) == (want, want_results)
    assert list(m.data.items()) == list(want.data.items())
    assert list(m.sessions.items()) == list(want.sessions.items())
    assert encode_snapshot(m) == encode_snapshot(want)


def test_apply_all_of_duplicates_only_changes_nothing():
    """A batch of retries already applied returns the very machine it was given."""
    m, _ = run([Op("c", 1, PUT, "k", "a"), Op("c", 2, GET, "k")])
    same, results = apply_all(m, [Op("c", 1, PUT, "k", "b"), Op("c", 2, GET, "k")])
    assert same is m and results == ["", "a"]


def test_apply_all_refuses_an_unknown_operation():
    with pytest.raises(ValueError, match="unknown KV operation"):
        apply_all(empty(), [Op("c", 1, PUT, "k", "a"), Op("c", 2, "delete", "k")])


def test_apply_all_declines_a_batch_with_a_foreign_command():
    """A command that is not an Op (the server notes it) makes the batch decline as a whole:
    None, so the server applies entry by entry."""
    assert apply_all(empty(), [Op("c", 1, PUT, "k", "a"), "not an op"]) is None
