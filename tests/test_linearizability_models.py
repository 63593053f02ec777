"""The built-in models follow their specifications step by step.

Each test quotes the rule it checks. Models are also required to accept an UNKNOWN output in
every state (the checker relies on it) and to declare read-only only what never changes state.
"""

from __future__ import annotations

import pytest

from checkers.linearizability import (MODELS, UNKNOWN, CasInput, KvInput, Operation, RegisterInput,
                                      VersionedInput, VersionedOutput, cas_register_model, get_model,
                                      kv_model, register_model, versioned_kv_model)

V = VersionedOutput


def test_register_reads_the_last_write() -> None:
    """Register: a read is legal iff it returns the state; a write sets it. Starts with no value."""
    assert register_model.init() is None
    assert register_model.step(None, RegisterInput("read"), None) == (True, None)
    assert register_model.step(None, RegisterInput("read"), 1)[0] is False
    assert register_model.step(None, RegisterInput("write", None, 4), None) == (True, 4)


def test_kv_get_put_append() -> None:
    """KV: state "" at first; get legal iff equal; put sets; append concatenates."""
    assert kv_model.init() == ""
    assert kv_model.step("ab", KvInput("get", "k"), "ab") == (True, "ab")
    assert kv_model.step("ab", KvInput("get", "k"), "a")[0] is False
    assert kv_model.step("ab", KvInput("put", "k", "x"), None) == (True, "x")
    assert kv_model.step("ab", KvInput("append", "k", "x"), None) == (True, "abx")


def test_kv_partitions_by_key_in_order_of_appearance() -> None:
    """KV histories split into one sub-history per key, each in history order."""
    ops = [Operation(i, KvInput("get", k), i, "", i + 1) for i, k in enumerate("baba")]
    parts = kv_model.partition(ops)
    assert [[op.client_id for op in part] for part in parts] == [[0, 2], [1, 3]]


def test_cas_register() -> None:
    """CAS: cas(a, b) returns True and sets b iff the value is a, else returns False and keeps it."""
    init = cas_register_model.init()
    assert init is None
    assert cas_register_model.step(3, CasInput("cas", None, 3, 4), True) == (True, 4)
    assert cas_register_model.step(3, CasInput("cas", None, 3, 4), False)[0] is False
    assert cas_register_model.step(2, CasInput("cas", None, 3, 4), False) == (True, 2)
    assert cas_register_model.step(2, CasInput("cas", None, 3, 4), True)[0] is False
    assert cas_register_model.step(None, CasInput("read"), None) == (True, None)


def test_versioned_put_matching_version() -> None:
    """Put with inp.version == st.version must have err in {OK, ErrMaybe}; moves to (v, ver+1)."""
    st = ("a", 2)
    put = VersionedInput("put", "k", "b", 2)
    assert versioned_kv_model.step(st, put, V(err="OK")) == (True, ("b", 3))
    assert versioned_kv_model.step(st, put, V(err="ErrMaybe")) == (True, ("b", 3))
    assert versioned_kv_model.step(st, put, V(err="ErrVersion"))[0] is False


def test_versioned_put_other_version() -> None:
    """Put with another version must have err in {ErrVersion, ErrMaybe}; state unchanged."""
    st = ("a", 2)
    put = VersionedInput("put", "k", "b", 1)
    assert versioned_kv_model.step(st, put, V(err="ErrVersion")) == (True, st)
    assert versioned_kv_model.step(st, put, V(err="ErrMaybe")) == (True, st)
    assert versioned_kv_model.step(st, put, V(err="OK"))[0] is False


def test_versioned_get_compares_the_value_only() -> None:
    """Get is legal iff out.value == st.value; the version it returns is not compared."""
    assert versioned_kv_model.init() == ("", 0)
    assert versioned_kv_model.step(("a", 2), VersionedInput("get", "k"), V("a", 7, "OK")) == (True, ("a", 2))
    assert versioned_kv_model.step(("a", 2), VersionedInput("get", "k"), V("b", 2, "OK"))[0] is False


SAMPLES = {
    "register": ([None, 1], [RegisterInput("read"), RegisterInput("write", None, 2)]),
    "kv": (["", "ab"], [KvInput("get", "k"), KvInput("put", "k", "x"), KvInput("append", "k", "y")]),
    "cas-register": ([None, 3], [CasInput("read"), CasInput("write", None, 1), CasInput("cas", None, 3, 4)]),
    "versioned-kv": ([("", 0), ("a", 1)], [VersionedInput("get", "k"), VersionedInput("put", "k", "b", 1)]),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_unknown_output_is_legal_in_every_state(name: str) -> None:
    """Contract: step(state, input, UNKNOWN) is legal whatever the state."""
    model = get_model(name)
    states, inputs = SAMPLES[name]
    for state in states:
        for inp in inputs:
            assert model.step(state, inp, UNKNOWN)[0] is True


@pytest.mark.parametrize("name", list(MODELS))
def test_read_only_operations_never_change_the_state(name: str) -> None:
    """Contract: when read_only(input, output) holds, a legal step leaves the state unchanged."""
    model = get_model(name)
    states, inputs = SAMPLES[name]
    outputs = [None, "", "ab", 1, 3, True, False, V("a", 1, "OK"), V(err="ErrVersion"), V(err="OK")]
    for state in states:
        for inp in inputs:
            for out in outputs:
                try:
                    legal, after = model.step(state, inp, out)
                except (AttributeError, TypeError):
                    continue  # an output of another model's shape
                if legal and model.read_only(inp, out):
                    assert after == state


@pytest.mark.parametrize("name", list(MODELS))
def test_plain_reads_agree_with_step(name: str) -> None:
    """Contract: when plain_read(input, output) holds, step is legal iff output == state, and
    changes nothing (the search compares instead of stepping)."""
    model = get_model(name)
    if model.plain_read is None:
        return
    states, inputs = SAMPLES[name]
    for state in states:
        for inp in inputs:
            for out in [None, "", "ab", 1, 3, *states]:
                if model.plain_read(inp, out):
                    assert model.step(state, inp, out) == (out == state, state)
                    assert model.read_only(inp, out)


def test_get_model_names_the_choices() -> None:
    """An unknown model name is a KeyError listing the built-in names."""
    with pytest.raises(KeyError, match="kv"):
        get_model("nope")


def test_descriptions_are_short_and_readable() -> None:
    """describe_operation / describe_state render what a user needs, truncating long values."""
    assert kv_model.describe_operation(KvInput("get", "k"), "xy") == "get('k') -> 'xy'"
    assert kv_model.describe_operation(KvInput("append", "k", "x"), UNKNOWN) == "append('k', 'x') -> ?"
    assert register_model.describe_operation(RegisterInput("read"), None) == "read() -> (no value)"
    assert "…" in kv_model.describe_state("x" * 1000) and len(kv_model.describe_state("x" * 1000)) < 260
