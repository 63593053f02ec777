"""The public entry point: ``check(model, history, timeout)`` and what it returns.

This module owns the verdict: it splits the history with the model's ``partition``, searches
each part (smallest first, stopping at the first illegal one unless ``verbose``), and combines
the parts. A history is linearizable iff every part is (P-compositionality); one illegal part
makes it illegal even when others timed out; otherwise a timed-out part makes it UNKNOWN.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .model import Model, Operation
from .search import GAVE_UP, ILLEGAL, LINEARIZABLE, SearchResult, search

__all__ = ["Verdict", "PartialLinearization", "PartitionResult", "CheckResult", "check",
           "DEFAULT_MAX_CACHE"]

DEFAULT_MAX_CACHE = 1_000_000  # failed configurations remembered per partition (~150 B + state)


class Verdict(enum.Enum):
    """OK: linearizable. ILLEGAL: not linearizable. UNKNOWN: the search gave up (timeout or
    memory budget) before deciding; it is never a wrong verdict."""

    OK = "ok"
    ILLEGAL = "illegal"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class PartialLinearization:
    """A longest order the search could build, and the operation it could not place next.

    ``order`` and ``blocked`` are indices into the partition's ``operations``. The blocked
    operation had returned, so it had to come before anything not yet placed, and no order of
    the remaining operations allowed it.
    """

    order: tuple[int, ...]
    blocked: int


@dataclass(frozen=True, slots=True)
class PartitionResult:
    """One independent part of the history (e.g. one key), with its operations in call order.

    ``verdict`` is None when the part was not searched because another part was already
    illegal (non-verbose checks stop there). ``linearization`` is a witness order when OK.
    """

    label: str
    operations: tuple[Operation, ...]
    verdict: Verdict | None
    linearization: tuple[int, ...] = ()
    partials: tuple[PartialLinearization, ...] = ()
    cache_entries: int = 0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The verdict on a whole history, with one result per partition (in partition order)."""

    verdict: Verdict
    model: Model
    partitions: tuple[PartitionResult, ...]
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.OK

    def counts(self) -> dict[str, int]:
        """How many partitions are ok / illegal / unknown / not searched."""
        tally = {"ok": 0, "illegal": 0, "unknown": 0, "skipped": 0}
        for part in self.partitions:
            tally[part.verdict.value if part.verdict else "skipped"] += 1
        return tally


_VERDICTS = {LINEARIZABLE: Verdict.OK, ILLEGAL: Verdict.ILLEGAL, GAVE_UP: Verdict.UNKNOWN}


def check(model: Model, history: Sequence[Operation], timeout: float | None = None, *,
          verbose: bool = False, max_cache: int = DEFAULT_MAX_CACHE, explain: bool = False,
          progress: Callable[[int, int], None] | None = None) -> CheckResult:
    """Decide whether ``history`` is linearizable with respect to ``model``.

    ``timeout`` (seconds, wall clock) and ``max_cache`` (cache entries per partition) bound the
    work; exceeding either yields UNKNOWN. ``verbose`` searches every partition and records,
    for illegal ones, the longest partial linearizations and the operation that failed.
    ``explain`` records those for the illegal partition without searching the others (once a
    partition is illegal the verdict is final). ``progress(done, total)``, if given, is called
    before each partition is searched, with the number of partitions searched so far.
    """
    started = time.monotonic()  # used only for the timeout and the elapsed time reported
    deadline = None if timeout is None else started + timeout
    parts = model.partition(history) if model.partition else [list(history)]
    results: list[SearchResult | None] = [None] * len(parts)
    for done, i in enumerate(sorted(range(len(parts)), key=lambda i: (len(parts[i]), i))):
        if progress is not None:
            progress(done, len(parts))
        results[i] = search(model.step, model.init(), parts[i], read_only=model.read_only,
                            plain_read=model.plain_read, deadline=deadline, max_cache=max_cache,
                            track=verbose or explain)
        if results[i].outcome == ILLEGAL and not verbose:  # type: ignore[union-attr]
            break
    partitions = tuple(_partition_result(model, part, res) for part, res in zip(parts, results))
    verdicts = {p.verdict for p in partitions}
    verdict = next(v for v in (Verdict.ILLEGAL, Verdict.UNKNOWN, Verdict.OK)
                   if v in verdicts or v is Verdict.OK)
    return CheckResult(verdict, model, partitions, time.monotonic() - started)  # elapsed: reported only


def _partition_result(model: Model, part: Sequence[Operation],
                      res: SearchResult | None) -> PartitionResult:
    label = _label(model, part)
    if res is None:
        ops = tuple(sorted(part, key=lambda op: (op.call, op.call_seq)))
        return PartitionResult(label, ops, None)
    partials = tuple(PartialLinearization(order, blocked) for order, blocked in res.partials)
    return PartitionResult(label, res.ops, _VERDICTS[res.outcome], res.linearization, partials,
                           res.cache_entries, res.reason)


def _label(model: Model, part: Sequence[Operation]) -> str:
    if model.partition_label is not None:
        return model.partition_label(part)
    key: Any = getattr(part[0].input, "key", None) if part else None
    return "all" if key is None else f"key={key!r}"
