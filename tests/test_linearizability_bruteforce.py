"""The checker agrees with brute force on small random histories, for every built-in model.

Rule: a history is linearizable iff some order of a subset of its operations — every operation
with a known outcome, plus any of those with an unknown outcome — respects real time (if
``a.return < b.call`` then a comes before b) and is legal step by step from the initial state.
The enumerator below tries every such order, on one product state (one component per key), so
it checks P-compositionality, the unknown-outcome rules and every pruning of the search.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Hashable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkers.linearizability import (UNKNOWN, CasInput, KvInput, Model, Operation, RegisterInput,
                                      Verdict, VersionedInput, VersionedOutput, cas_register_model,
                                      check, kv_model, register_model, versioned_kv_model)

EXAMPLES = 200


def precedes(a: Operation, b: Operation) -> bool:
    """Real time: ``a`` returned before ``b`` was called. At equal times only when both carry
    their positions in a recorded history (``return_seq``, ``call_seq``) and a's return is
    listed first; otherwise touching operations are concurrent (Porcupine's rule)."""
    if a.return_ != b.call:
        return a.return_ < b.call
    return bool(a.return_seq and b.call_seq and a.return_seq < b.call_seq)


def brute_force(model: Model, ops: list[Operation]) -> bool:
    """Is there a legal real-time-respecting order of all known ops and some unknown ones?"""
    def extend(remaining: list[Operation], states: dict[Hashable, Any]) -> bool:
        if all(op.unknown for op in remaining):
            return True  # the unknown ones left out never happened
        for op in remaining:
            if any(precedes(other, op) for other in remaining if other is not op):
                continue  # something still unplaced returned before this op was called
            key = getattr(op.input, "key", None)
            legal, after = model.step(states.get(key, model.init()), op.input, op.output)
            if legal and extend([o for o in remaining if o is not op], {**states, key: after}):
                return True
        return False
    return extend(list(ops), {})


# ------------------------------------------------------------------- history generation
# A history is built from a hidden sequential run (each op takes effect at a random point of
# its interval, or never when its outcome is unknown), so most are linearizable; then some
# outputs are corrupted, so many are not.

Reference = Callable[[dict[Hashable, Any], Any], Any]  # applies an input, returns its output


def register_ref(store: dict[Hashable, Any], inp: RegisterInput) -> Any:
    if inp.op == "read":
        return store.get(inp.key)
    store[inp.key] = inp.value
    return None


def kv_ref(store: dict[Hashable, Any], inp: KvInput) -> Any:
    current = store.get(inp.key, "")
    if inp.op == "get":
        return current
    store[inp.key] = inp.value if inp.op == "put" else current + inp.value
    return None


def cas_ref(store: dict[Hashable, Any], inp: CasInput) -> Any:
    current = store.get(inp.key)
    if inp.op == "read":
        return current
    if inp.op == "write":
        store[inp.key] = inp.value
        return None
    if current == inp.value:
        store[inp.key] = inp.new
        return True
    return False


def versioned_ref(store: dict[Hashable, Any], inp: VersionedInput) -> Any:
    value, version = store.get(inp.key, ("", 0))
    if inp.op == "get":
        return VersionedOutput(value, version, "OK")
    if inp.version == version:
        store[inp.key] = (inp.value, version + 1)
        return VersionedOutput(err="OK")
    return VersionedOutput(err="ErrVersion")


KEYS = st.sampled_from([None, "x"]) | st.sampled_from(["x", "y"])
SMALL = st.sampled_from([0, 1, 2])
TEXT = st.sampled_from(["a", "b"])

INPUTS = {
    "register": st.builds(RegisterInput, st.sampled_from(["read", "write"]), st.just(None), SMALL),
    "kv": st.builds(KvInput, st.sampled_from(["get", "put", "append", "append"]), KEYS, TEXT),
    "cas-register": st.builds(CasInput, st.sampled_from(["read", "write", "cas", "cas"]),
                              st.just(None), SMALL, SMALL),
    "versioned-kv": st.builds(VersionedInput, st.sampled_from(["get", "put", "put"]), KEYS, TEXT,
                              st.sampled_from([0, 0, 1, 2])),
}
CORRUPT = {
    "register": lambda inp: st.sampled_from([None, 0, 1, 2]) if inp.op == "read" else st.just(None),
    "kv": lambda inp: st.sampled_from(["", "a", "b", "ab", "ba", "aa"]) if inp.op == "get" else st.just(None),
    "cas-register": lambda inp: (st.sampled_from([None, 0, 1, 2]) if inp.op == "read" else
                                 st.booleans() if inp.op == "cas" else st.just(None)),
    "versioned-kv": lambda inp: (st.builds(VersionedOutput, TEXT | st.just(""), SMALL, st.just("OK"))
                                 if inp.op == "get" else st.builds(VersionedOutput, st.just(None),
                                 st.just(None), st.sampled_from(["OK", "ErrVersion", "ErrMaybe"]))),
}
MODELS = {"register": (register_model, register_ref), "kv": (kv_model, kv_ref),
          "cas-register": (cas_register_model, cas_ref), "versioned-kv": (versioned_kv_model, versioned_ref)}


@st.composite
def histories(draw: st.DrawFn, name: str) -> list[Operation]:
    _, reference = MODELS[name]
    count = draw(st.integers(1, 8))
    drafts = []
    for client in range(count):
        call = draw(st.integers(0, 12))
        ret = call + draw(st.integers(0, 8))
        point = draw(st.floats(0, 1))
        unknown = draw(st.integers(0, 3)) == 0
        happened = not unknown or draw(st.booleans())
        drafts.append((call + point * (ret - call), client, call, ret, draw(INPUTS[name]), unknown, happened))
    store: dict[Hashable, Any] = {}
    outputs = {}
    for _, client, _, _, inp, _, happened in sorted(drafts, key=lambda d: (d[0], d[1])):
        if happened:
            outputs[client] = reference(store, inp)
    ops = []
    for _, client, call, ret, inp, unknown, _ in drafts:
        if unknown:
            ops.append(Operation(client, inp, call, UNKNOWN, math.inf))
            continue
        out = outputs[client]
        if draw(st.integers(0, 4)) == 0:
            out = draw(CORRUPT[name](inp))
        ops.append(Operation(client, inp, call, out, ret))
    return ops


def agrees(name: str, ops: list[Operation]) -> None:
    model, _ = MODELS[name]
    expected = brute_force(model, ops)
    for verbose in (False, True):
        result = check(model, ops, verbose=verbose)
        assert result.verdict is (Verdict.OK if expected else Verdict.ILLEGAL), (verbose, ops)


PROFILE = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROFILE
@given(histories("register"))
def test_register_agrees_with_brute_force(ops: list[Operation]) -> None:
    """Register: reads see the last write; unknown writes may happen late or never."""
    agrees("register", ops)


@PROFILE
@given(histories("kv"))
def test_kv_agrees_with_brute_force(ops: list[Operation]) -> None:
    """Key-value get/put/append, partitioned per key, agrees with a product-state enumeration."""
    agrees("kv", ops)


@PROFILE
@given(histories("cas-register"))
def test_cas_register_agrees_with_brute_force(ops: list[Operation]) -> None:
    """CAS register: a cas returns whether it swapped; unknown cas may swap or not happen."""
    agrees("cas-register", ops)


@PROFILE
@given(histories("versioned-kv"))
def test_versioned_kv_agrees_with_brute_force(ops: list[Operation]) -> None:
    """Versioned put: conditional on the version, ErrMaybe either way, gets compare values."""
    agrees("versioned-kv", ops)


def test_brute_force_itself_on_the_classic_pair() -> None:
    """The reference enumerator accepts a linearizable pair and rejects a stale read."""
    write = Operation(0, RegisterInput("write", None, 1), 0, None, 10)
    assert brute_force(register_model, [write, Operation(1, RegisterInput("read"), 5, None, 6)])
    assert not brute_force(register_model, [write, Operation(1, RegisterInput("read"), 11, None, 12)])


@st.composite
def recorded(draw: st.DrawFn, name: str) -> list[Operation]:
    """A history of ``name`` as the simulator records it: its events listed in one order that
    respects time, ties in time broken at random (an operation's own call before its return),
    each operation carrying the positions of its two events."""
    ops = draw(histories(name))
    events = [(op.call, 0, i) for i, op in enumerate(ops)]
    events += [(op.return_, 1, i) for i, op in enumerate(ops) if not op.unknown]
    shuffle = draw(st.randoms(use_true_random=False))
    shuffle.shuffle(events)
    events.sort(key=lambda e: (e[0], e[1] if ops[e[2]].call == ops[e[2]].return_ else 0))
    positions = {(kind, i): n for n, (_, kind, i) in enumerate(events, start=1)}
    return [Operation(op.client_id, op.input, op.call, op.output, op.return_, positions[0, i],
                      positions.get((1, i), 0)) for i, op in enumerate(ops)]


@PROFILE
@given(st.sampled_from(sorted(MODELS)).flatmap(lambda name: st.tuples(st.just(name),
                                                                       recorded(name))))
def test_recorded_ties_agree_with_brute_force(case: tuple[str, list[Operation]]) -> None:
    """With ties in time ordered as recorded, the checker agrees with the enumeration whose
    real time puts a return listed before a call of the same time first; and a history
    linearizable that way is linearizable with touching operations concurrent too."""
    name, ops = case
    agrees(name, ops)
    if check(MODELS[name][0], ops).ok:
        plain = [Operation(o.client_id, o.input, o.call, o.output, o.return_) for o in ops]
        assert check(MODELS[name][0], plain).ok


def test_a_read_that_misses_its_own_clients_write_of_the_same_instant() -> None:
    """An append returns at 5, the same client's get is called at 5 and reads the old value:
    linearizable when touching operations are concurrent, not when the history says the
    append returned first."""
    append = Operation("c0", KvInput("append", "k", "x"), 0, None, 5)
    get = Operation("c0", KvInput("get", "k"), 5, "", 7)
    assert check(kv_model, [append, get]).ok
    ordered = [Operation("c0", KvInput("append", "k", "x"), 0, None, 5, 1, 2),
               Operation("c0", KvInput("get", "k"), 5, "", 7, 3, 4)]
    assert not check(kv_model, ordered).ok
    assert not brute_force(kv_model, ordered) and brute_force(kv_model, [append, get])
