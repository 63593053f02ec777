"""checkClntAppends (``scenarios.harness.kv.check_appends``): every "x c j y" for j < count
appears exactly once and in order. Checked against the lab's formulation (a find and an rfind
per element) on random values: the same verdict and the same message, or both pass."""

from __future__ import annotations

import random

import pytest

from scenarios.harness.kv import check_appends
from scenarios.runner import ScenarioFailure


def _lab(clerk_index: int, value: str, count: int) -> None:
    last = -1
    for j in range(count):
        wanted = f"x {clerk_index} {j} y"
        off = value.find(wanted)
        if off < 0:
            raise ScenarioFailure(f"{clerk_index} missing element {wanted!r} in Append result")
        if value.rfind(wanted) != off:
            raise ScenarioFailure(f"duplicate element {wanted!r} in Append result")
        if off <= last:
            raise ScenarioFailure(f"wrong order for element {wanted!r} in Append result")
        last = off


def _verdict(check, clerk_index: int, value: str, count: int) -> str | None:
    try:
        check(clerk_index, value, count)
    except ScenarioFailure as failure:
        return str(failure)
    return None


def _mangled(rng: random.Random, ci: int) -> tuple[str, int]:
    """A run of appends, perhaps with elements lost, repeated, swapped, foreign or garbled."""
    k = rng.randrange(14)
    parts = [f"x {ci} {j} y" for j in range(k)]
    for _ in range(rng.randrange(4)):
        what = rng.randrange(5)
        if what == 0 and parts:
            parts.pop(rng.randrange(len(parts)))
        elif what == 1 and parts:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(parts))
        elif what == 2 and len(parts) > 1:
            i, j = rng.randrange(len(parts)), rng.randrange(len(parts))
            parts[i], parts[j] = parts[j], parts[i]
        elif what == 3:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(
                ["x", "y", " ", f"x {ci} 1", f"x {ci} 01 y", f"x {ci} 1 yy", "xx",
                 f"x {ci + 1} 2 y"]))
    value = "".join(parts)
    if value and rng.random() < 0.3:
        i = rng.randrange(len(value))
        value = value[:i] + rng.choice("xy 0123") + value[i:]
    return value, rng.randrange(k + 2)


def test_same_verdicts_as_the_labs_formulation() -> None:
    rng = random.Random(13)
    failures = 0
    for _ in range(5000):
        ci = rng.choice([0, 1, 3, 12])
        value, count = _mangled(rng, ci)
        want = _verdict(_lab, ci, value, count)
        assert _verdict(check_appends, ci, value, count) == want, (ci, value, count)
        failures += want is not None
    assert 1000 < failures < 4000          # both outcomes are well represented


@pytest.mark.parametrize("value, count, message", [
    ("x 0 0 yx 0 1 y", 2, None),
    ("x 0 0 y", 2, "0 missing element 'x 0 1 y' in Append result"),
    ("x 0 0 yx 0 0 yx 0 1 y", 2, "duplicate element 'x 0 0 y' in Append result"),
    ("x 0 1 yx 0 0 y", 2, "wrong order for element 'x 0 1 y' in Append result"),
    ("x 0 00 yx 0 1 y", 2, "0 missing element 'x 0 0 y' in Append result"),
])
def test_each_failure(value: str, count: int, message: str | None) -> None:
    assert _verdict(check_appends, 0, value, count) == message
