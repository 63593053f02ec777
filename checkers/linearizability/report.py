"""What a user sees of a check, computed as plain data (dicts, lists, strings, numbers).

This module owns the content of the view: which partitions and operations are shown, the
per-client timelines on a compressed time axis, the longest partial linearizations with the
state after each step, and the operation that could not be placed. It never writes HTML (see
``html.py``) and it bounds its size: failing partitions first, a window of operations around
the failure, and a summary line for what was left out.
"""

from __future__ import annotations

from typing import Any, Sequence

from .checker import CheckResult, PartitionResult, Verdict
from .model import INFINITY, Model, Operation

__all__ = ["build_view", "Limits", "describe_failure"]


class Limits:
    """Size bounds of a view: they keep the page small on huge histories."""

    def __init__(self, detailed_partitions: int = 8, ops_per_partition: int = 400,
                 steps_per_partial: int = 200, summary_rows: int = 200, partials: int = 3) -> None:
        self.detailed_partitions = detailed_partitions
        self.ops_per_partition = ops_per_partition
        self.steps_per_partial = steps_per_partial
        self.summary_rows = summary_rows
        self.partials = partials


_RANK = {Verdict.ILLEGAL: 0, Verdict.UNKNOWN: 1, Verdict.OK: 2, None: 3}


def build_view(result: CheckResult, title: str = "history", limits: Limits | None = None,
               ) -> dict[str, Any]:
    """The view of one checked history: a dict ready to be serialized."""
    limits = limits or Limits()
    parts = result.partitions
    order = sorted(range(len(parts)), key=lambda i: (_RANK[parts[i].verdict], i))
    detailed = order[:limits.detailed_partitions]
    rest = order[limits.detailed_partitions:]
    return {
        "title": title,
        "verdict": result.verdict.value,
        "model": result.model.name,
        "elapsed": result.elapsed,
        "operations": sum(len(p.operations) for p in parts),
        "counts": result.counts(),
        "partitions": [_partition_view(result.model, parts[i], limits) for i in detailed],
        "summary": [_summary_row(parts[i]) for i in rest[:limits.summary_rows]],
        "omitted": _omitted(result, rest[limits.summary_rows:]),
    }


def describe_failure(model: Model, part: PartitionResult) -> str:
    """One line for the operation that could not be placed in an illegal partition."""
    if not part.partials:
        return "no operation order satisfies the model"
    partial = part.partials[0]
    op = part.operations[partial.blocked]
    state = _replay(model, part.operations, partial.order)[-1]
    return (f"could not place {model.describe_operation(op.input, op.output)} "
            f"(client {op.client_id}, {_time(op.call)}..{_time(op.return_)}) after "
            f"{len(partial.order)} of {len(part.operations)} operations, in state "
            f"{model.describe_state(state)}")


def _partition_view(model: Model, part: PartitionResult, limits: Limits) -> dict[str, Any]:
    ops = part.operations
    first = part.partials[0] if part.partials else None
    shown, note = _window(ops, first.blocked if first else None, limits.ops_per_partition)
    steps = {op: k + 1 for k, op in enumerate(first.order)} if first else {}
    return {
        "label": part.label,
        "verdict": part.verdict.value if part.verdict else "skipped",
        "reason": part.reason,
        "operations": len(ops),
        "truncated": note,
        "timeline": _timeline(model, ops, shown, steps, first.blocked if first else None),
        "partials": [_partial_view(model, ops, p.order, p.blocked, limits.steps_per_partial)
                     for p in part.partials[:limits.partials]],
        "failure": describe_failure(model, part) if part.verdict is Verdict.ILLEGAL else "",
    }


def _window(ops: Sequence[Operation], focus: int | None, cap: int) -> tuple[list[int], str]:
    """Indices of the operations to draw: all of them, or ``cap`` around the focus."""
    if len(ops) <= cap:
        return list(range(len(ops))), ""
    center = focus if focus is not None else cap // 2
    start = max(0, min(center - cap // 2, len(ops) - cap))
    return (list(range(start, start + cap)),
            f"showing operations {start + 1}-{start + cap} of {len(ops)} (by call time)")


def _timeline(model: Model, ops: Sequence[Operation], shown: list[int], steps: dict[int, int],
              blocked: int | None) -> dict[str, Any]:
    """Per-client rows of bars on a compressed time axis (one tick per distinct timestamp)."""
    returns = {ops[i].return_ for i in shown if ops[i].return_ != INFINITY}
    times = sorted({ops[i].call for i in shown} | returns)
    tick = {t: k for k, t in enumerate(times)}
    clients: dict[str, list[dict[str, Any]]] = {}
    for i in shown:
        op = ops[i]
        clients.setdefault(str(op.client_id), []).append({
            "id": i,
            "start": tick[op.call],
            "end": tick.get(op.return_),  # None: the outcome is unknown, the bar runs to the end
            "call": _time(op.call),
            "return": _time(op.return_),
            "text": model.describe_operation(op.input, op.output),
            "step": steps.get(i),
            "blocked": i == blocked,
        })
    return {"ticks": len(times), "clients": [{"client": c, "ops": row} for c, row in clients.items()]}


def _partial_view(model: Model, ops: Sequence[Operation], order: Sequence[int], blocked: int,
                  max_steps: int) -> dict[str, Any]:
    states = _replay(model, ops, order)
    skip = max(0, len(order) - max_steps)
    steps = [{"step": k + 1, "op": i, "client": str(ops[i].client_id),
              "text": model.describe_operation(ops[i].input, ops[i].output),
              "state": model.describe_state(states[k + 1])}
             for k, i in enumerate(order) if k >= skip]
    op = ops[blocked]
    return {"length": len(order), "omitted_steps": skip, "steps": steps,
            "initial": model.describe_state(states[0]) if not skip else None,
            "blocked": {"op": blocked, "client": str(op.client_id),
                        "text": model.describe_operation(op.input, op.output),
                        "call": _time(op.call), "return": _time(op.return_),
                        "state": model.describe_state(states[-1])}}


def _replay(model: Model, ops: Sequence[Operation], order: Sequence[int]) -> list[Any]:
    """The states from the initial one through each step of ``order``."""
    states = [model.init()]
    for i in order:
        states.append(model.step(states[-1], ops[i].input, ops[i].output)[1])
    return states


def _summary_row(part: PartitionResult) -> dict[str, Any]:
    return {"label": part.label, "operations": len(part.operations),
            "verdict": part.verdict.value if part.verdict else "skipped"}


def _omitted(result: CheckResult, indices: Sequence[int]) -> dict[str, Any]:
    tally: dict[str, int] = {}
    for i in indices:
        verdict = result.partitions[i].verdict
        key = verdict.value if verdict else "skipped"
        tally[key] = tally.get(key, 0) + 1
    return {"partitions": len(indices),
            "operations": sum(len(result.partitions[i].operations) for i in indices),
            "verdicts": tally}


def _time(t: float) -> str:
    if t == INFINITY:
        return "∞"
    return str(int(t)) if float(t).is_integer() else f"{t:g}"
