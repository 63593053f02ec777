"""Hand-made histories whose verdicts are known: the classic register pair, unknown outcomes,
P-compositionality, and the corners the search's pruning must respect.

Each test states the rule; times are arbitrary integers, ``INF`` is an unknown return.
"""

from __future__ import annotations

import dataclasses
import math

from checkers.linearizability import (UNKNOWN, CasInput, KvInput, Operation, RegisterInput, Verdict,
                                      cas_register_model, check, kv_model, register_model)

INF = math.inf
REGISTER_FROM_0 = dataclasses.replace(register_model, init=lambda: 0)


def write(client: int, value: int, call: float, ret: float) -> Operation:
    return Operation(client, RegisterInput("write", None, value), call, None, ret)


def read(client: int, value: object, call: float, ret: float) -> Operation:
    return Operation(client, RegisterInput("read"), call, value, ret)


def test_classic_register_history_is_linearizable() -> None:
    """write(100) over [0,100]; read 100 over [25,75]; read 0 over [30,60]: read 0, write, read 100."""
    ops = [write(0, 100, 0, 100), read(1, 100, 25, 75), read(2, 0, 30, 60)]
    assert check(REGISTER_FROM_0, ops).verdict is Verdict.OK


def test_classic_register_history_is_not_linearizable() -> None:
    """write(200) over [0,100]; read 200 over [10,30]; read 0 over [40,90]: a stale read."""
    ops = [write(0, 200, 0, 100), read(1, 200, 10, 30), read(2, 0, 40, 90)]
    result = check(REGISTER_FROM_0, ops, verbose=True)
    assert result.verdict is Verdict.ILLEGAL
    [part] = result.partitions
    blocked = part.operations[part.partials[0].blocked]
    assert blocked.output == 0  # the stale read is the operation that could not be placed


def test_linearization_witness_respects_real_time_and_the_model() -> None:
    """An OK result carries an order in which every step is legal."""
    ops = [write(0, 1, 0, 10), read(1, 1, 5, 20), write(2, 2, 21, 30), read(3, 2, 31, 40)]
    [part] = check(register_model, ops).partitions
    state = None
    for i in part.linearization:
        legal, state = register_model.step(state, part.operations[i].input, part.operations[i].output)
        assert legal
    assert sorted(part.linearization) == list(range(4))


def test_equal_times_are_concurrent() -> None:
    """a.return == b.call does not order them: only a.return < b.call does."""
    ops = [read(0, 1, 0, 5), write(1, 1, 5, 8)]
    assert check(register_model, ops).verdict is Verdict.OK
    assert check(register_model, [read(0, 1, 0, 5), write(1, 1, 6, 8)]).verdict is Verdict.ILLEGAL


def test_unknown_write_may_take_effect_long_after_its_call() -> None:
    """An op with unknown outcome may happen at any point after its invocation."""
    lost = Operation(0, RegisterInput("write", None, 1), 0, UNKNOWN, INF)
    ops = [lost, read(1, None, 10, 11), read(2, 1, 50, 51)]
    assert check(register_model, ops).verdict is Verdict.OK


def test_unknown_write_may_never_happen() -> None:
    """... or never."""
    lost = Operation(0, RegisterInput("write", None, 1), 0, UNKNOWN, INF)
    assert check(register_model, [lost, read(1, None, 10, 11)]).verdict is Verdict.OK


def test_unknown_write_cannot_happen_before_its_call() -> None:
    """... but not before it was invoked."""
    lost = Operation(0, RegisterInput("write", None, 1), 20, UNKNOWN, INF)
    assert check(register_model, [read(1, 1, 10, 11), lost]).verdict is Verdict.ILLEGAL


def test_unknown_write_happens_at_most_once() -> None:
    """An unknown op cannot be used twice: 1, 2, 1 needs two writes of 1."""
    ops = [Operation(0, RegisterInput("write", None, 1), 0, UNKNOWN, INF), write(1, 2, 0, 15),
           read(2, 1, 10, 11), read(3, 2, 20, 21), read(4, 1, 30, 31)]
    assert check(register_model, ops).verdict is Verdict.ILLEGAL


def test_unknown_ops_spent_in_a_failed_branch_remain_available() -> None:
    """Pruning by failed configurations compares sets of unknown ops placed the right way round:
    spending both unknown writes early fails, writing 2 first and 1 later succeeds."""
    ops = [Operation(0, RegisterInput("write", None, 1), 0, UNKNOWN, INF),
           Operation(1, RegisterInput("write", None, 2), 0, UNKNOWN, INF),
           read(2, 2, 10, 11), read(3, 1, 12, 13)]
    assert check(register_model, ops).verdict is Verdict.OK
    assert check(register_model, ops[:3] + [read(3, 1, 12, 13), read(4, 2, 14, 15)]).verdict is Verdict.ILLEGAL


def test_unknown_cas_may_swap_or_not() -> None:
    """A cas with unknown outcome either swapped (when the value matched) or never happened."""
    cas = Operation(0, CasInput("cas", None, None, 5), 0, UNKNOWN, INF)
    assert check(cas_register_model, [cas, Operation(1, CasInput("read"), 10, 5, 11)]).ok
    assert check(cas_register_model, [cas, Operation(1, CasInput("read"), 10, None, 11)]).ok
    assert not check(cas_register_model, [cas, Operation(1, CasInput("read"), 10, 6, 11)]).ok


def test_failed_cas_is_an_observation() -> None:
    """A cas that returned False saw another value: it is illegal when the value matched."""
    ops = [Operation(0, CasInput("write", None, 3), 0, None, 1), Operation(1, CasInput("cas", None, 3, 4), 2, False, 3)]
    assert check(cas_register_model, ops).verdict is Verdict.ILLEGAL
    ops[1] = Operation(1, CasInput("cas", None, 2, 4), 2, False, 3)
    assert check(cas_register_model, ops).verdict is Verdict.OK


def test_keys_are_independent() -> None:
    """P-compositionality: each key is checked alone, one bad key makes the history illegal."""
    ops = [Operation(0, KvInput("put", "a", "1"), 0, None, 1), Operation(1, KvInput("get", "a"), 2, "1", 3),
           Operation(0, KvInput("put", "b", "2"), 4, None, 5), Operation(1, KvInput("get", "b"), 6, "", 7)]
    result = check(kv_model, ops, verbose=True)
    assert result.verdict is Verdict.ILLEGAL
    assert [(p.label, p.verdict) for p in result.partitions] == [("key='a'", Verdict.OK), ("key='b'", Verdict.ILLEGAL)]


def test_non_verbose_check_stops_at_the_first_illegal_partition() -> None:
    """Without verbose, partitions after the first illegal one are left unsearched."""
    ops = [Operation(0, KvInput("get", k), i, "x", i + 1) for i, k in enumerate("abc")]
    result = check(kv_model, ops)
    assert result.verdict is Verdict.ILLEGAL
    assert result.counts()["skipped"] == 2


def test_empty_history_is_linearizable() -> None:
    """Nothing happened: trivially linearizable."""
    assert check(kv_model, []).verdict is Verdict.OK
    assert check(register_model, []).verdict is Verdict.OK


def test_unanswered_gets_are_dropped() -> None:
    """A get with unknown outcome constrains nothing, whatever the state."""
    ops = [Operation(0, KvInput("get", "k"), 0, UNKNOWN, INF), Operation(1, KvInput("append", "k", "x"), 1, None, 2)]
    result = check(kv_model, ops)
    assert result.ok and len(result.partitions[0].operations) == 1


def test_checks_are_deterministic() -> None:
    """Same history, same result: verdicts, witnesses and partial linearizations."""
    ops = [write(c, c % 3, c, c + 4) for c in range(12)] + [read(20, 7, 30, 31)]
    first, second = check(register_model, ops, verbose=True), check(register_model, ops, verbose=True)
    assert first.partitions == second.partitions
