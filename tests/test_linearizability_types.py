"""Values and keys are compared as JSON compares them: by type, then by value.

Python says ``True == 1 == 1.0``; JSON says ``true``, ``1``, ``1.0`` and ``"1"`` are four values.
Each property writes a tiny history as a JSONL file (exactly as a user would), checks it, and
compares the verdict with a reference equality written from the JSON data model alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from checkers.linearizability import HistoryError, Verdict, check, load_history
from checkers.linearizability.models import Typed, typed

SCALARS = (st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([0.0, 1.0, -1.0, 2.5])
           | st.sampled_from(["", "0", "1", "true", "null", "1.0"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3), max_leaves=4)
KEYS = st.booleans() | st.integers(-2, 2) | st.sampled_from([0.0, 1.0]) | st.sampled_from(["0", "1", "true"])
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def json_equal(a: Any, b: Any) -> bool:
    """The reference: equal JSON values have the same JSON type and equal contents."""
    if isinstance(a, list) or isinstance(b, list):
        return (isinstance(a, list) and isinstance(b, list) and len(a) == len(b)
                and all(json_equal(x, y) for x, y in zip(a, b)))
    return type(a) is type(b) and a == b


def verdict(tmp_path: Path, model: str, events: list[dict[str, Any]]) -> Verdict:
    path = tmp_path / "h.jsonl"
    header = {"format": "raftsim-history", "version": 1, "model": model}
    lines = [header] + [{"t": t, **e} for t, e in enumerate(events)]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    history = load_history(path)
    return check(history.model, history.operations).verdict


def op(process: int, f: str, call: dict[str, Any], done: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"process": process, "type": "invoke", "f": f, **call},
            {"process": process, "type": "ok", "f": f, **done}]


@SETTINGS
@given(written=VALUES, read=VALUES, model=st.sampled_from(["register", "cas-register"]))
def test_a_read_sees_exactly_the_value_written(tmp_path: Path, written: Any, read: Any,
                                               model: str) -> None:
    """write(a) then read() -> b is linearizable iff b is a, as JSON."""
    events = op(0, "write", {"value": written}, {}) + op(1, "read", {}, {"value": read})
    expected = Verdict.OK if json_equal(written, read) else Verdict.ILLEGAL
    assert verdict(tmp_path, model, events) is expected


@SETTINGS
@given(written=VALUES, expected_value=VALUES)
def test_a_cas_swaps_exactly_on_the_value_written(tmp_path: Path, written: Any,
                                                  expected_value: Any) -> None:
    """write(a); cas(b, new) -> true is linearizable iff b is a, as JSON (and -> false iff not)."""
    for result in (True, False):
        events = (op(0, "write", {"value": written}, {})
                  + op(1, "cas", {"value": [expected_value, "new"]}, {"result": result}))
        hit = json_equal(written, expected_value)
        assert verdict(tmp_path, "cas-register", events) is (Verdict.OK if hit == result
                                                             else Verdict.ILLEGAL)


@SETTINGS
@given(a=KEYS, b=KEYS, model=st.sampled_from(["register", "cas-register", "kv"]))
def test_keys_are_the_same_key_only_when_equal_as_json(tmp_path: Path, a: Any, b: Any,
                                                       model: str) -> None:
    """A write to key a is seen by a read of key b iff a and b are the same JSON value."""
    write, read = ("put", "get") if model == "kv" else ("write", "read")
    events = (op(0, write, {"key": a, "value": "x"}, {})
              + op(1, read, {"key": b}, {"value": "x"}))
    assert verdict(tmp_path, model, events) is (Verdict.OK if json_equal(a, b) else Verdict.ILLEGAL)


def test_write_one_read_true_is_not_linearizable(tmp_path: Path) -> None:
    """The regression of issue 8: 1 then true (or 1.0, or "1") is a stale or invented read."""
    for read in (True, 1.0, "1"):
        events = op(0, "write", {"value": 1}, {}) + op(1, "read", {}, {"value": read})
        assert verdict(tmp_path, "register", events) is Verdict.ILLEGAL, read
    events = op(0, "write", {"value": 1}, {}) + op(1, "read", {}, {"value": 1})
    assert verdict(tmp_path, "register", events) is Verdict.OK


@pytest.mark.parametrize("events,fragment", [
    (op(0, "write", {}, {}), "a 'value' to write"),
    (op(0, "read", {}, {}), "a 'value' read"),
    (op(0, "write", {"key": None, "value": 1}, {}), "'key' to be a string or a number"),
    (op(0, "write", {"key": [1], "value": 1}, {}), "'key' to be a string or a number"),
    (op(0, "write", {"value": {"a": 1}}, {}), "not an object"),
    (op(0, "cas", {"value": [1, 2]}, {"result": None}), "'result' to be true or false"),
])
def test_null_and_missing_are_not_confused(tmp_path: Path, events: list[dict[str, Any]],
                                           fragment: str) -> None:
    """A missing value is an error (null is "no value"); a null key is not an absent key."""
    with pytest.raises(HistoryError, match=fragment):
        verdict(tmp_path, "cas-register", events)


def test_null_read_of_an_unwritten_register_is_linearizable(tmp_path: Path) -> None:
    """null is the register's initial "no value"; a missing key is the single key."""
    assert verdict(tmp_path, "register", op(0, "read", {}, {"value": None})) is Verdict.OK
    assert verdict(tmp_path, "register", op(0, "read", {}, {"value": False})) is Verdict.ILLEGAL


@given(a=VALUES, b=VALUES)
@settings(max_examples=200, deadline=None)
def test_typed_equality_and_hash_agree_with_json(a: Any, b: Any) -> None:
    """typed(a) == typed(b) iff JSON-equal; equal values hash alike (the search's memo needs it)."""
    ta, tb = typed(a), typed(b)
    assert (ta == tb) is json_equal(a, b)
    if ta == tb:
        assert hash(ta) == hash(tb)
    assert repr(Typed(True)) == "true" and repr(Typed(1.0)) == "1.0"
