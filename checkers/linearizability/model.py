"""The checker's vocabulary: operations, the unknown outcome, and what a model is.

This module owns the shapes only. It never reads files, clocks or random sources and imports
nothing of raftsim outside ``checkers.linearizability``. A model is a record of small functions,
as in Porcupine: ``init``, ``step``, an optional ``partition``, ``describe_*`` and ``decode``
(how to read the model's operations out of a history file).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Hashable, Mapping, Sequence, TypeVar

__all__ = [
    "UNKNOWN",
    "Unknown",
    "Operation",
    "Model",
    "partition_by_key",
    "DecodeError",
    "INFINITY",
]

S = TypeVar("S", bound=Hashable)
I = TypeVar("I")
O = TypeVar("O")

INFINITY: float = math.inf


class Unknown:
    """The output of an operation whose outcome nobody observed (timed out, crashed client).

    Such an operation returns at +infinity: it may take effect at any point after its
    invocation, or never. A model's ``step`` must accept ``UNKNOWN`` as the output in every
    state (it returns ``(True, next_state)``); the checker relies on it.
    """

    __slots__ = ()
    _instance: "Unknown | None" = None

    def __new__(cls) -> "Unknown":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Unknown = Unknown()


@dataclass(frozen=True, slots=True)
class Operation:
    """One client operation: its input, its output and the real-time interval it spanned.

    ``call`` and ``return_`` are timestamps in any unit (virtual milliseconds in our own
    histories, line numbers in Porcupine and Jepsen logs). An operation whose outcome is
    unknown has ``output=UNKNOWN`` and ``return_=INFINITY`` (an UNKNOWN output is taken to
    return at infinity whatever ``return_`` says). ``client_id`` is used only for display.

    At equal timestamps a call counts as before a return (touching operations are
    concurrent, Porcupine's rule), unless ``call_seq`` and ``return_seq`` say otherwise: they
    are the positions of the two events in a history recorded in the order things happened
    (``history_from_events(..., ties="recorded")``), and at equal timestamps the lower one
    comes first. Give them for every operation (``return_seq`` after ``call_seq``; 0 for an
    unknown outcome) or for none (0, the default: Porcupine's rule); ``check`` refuses a mix.
    """

    client_id: Any
    input: Any
    call: float
    output: Any
    return_: float = INFINITY
    call_seq: int = 0
    return_seq: int = 0

    @property
    def unknown(self) -> bool:
        """True when the outcome was never observed."""
        return self.output is UNKNOWN


class DecodeError(ValueError):
    """Raised by ``Model.decode`` when an event lacks what the model needs.

    ``expected`` says what was expected, e.g. ``"a string value for put in 'value'"``;
    ``event`` is the offending event when it is the completion (the error then names its line).
    """

    def __init__(self, expected: str, event: Mapping[str, Any] | None = None) -> None:
        super().__init__(expected)
        self.expected = expected
        self.event = event


def _no_decode(invoke: Mapping[str, Any], complete: Mapping[str, Any] | None) -> Any:
    raise DecodeError("a model that can decode history events (this one has no decode)")


def _describe_operation(inp: Any, out: Any) -> str:
    return f"{inp!r} -> {out!r}"


def _describe_state(state: Any) -> str:
    return repr(state)


@dataclass(frozen=True)
class Model(Generic[S, I, O]):
    """A sequential specification, as a record of small functions.

    - ``init()`` returns the initial state. States must be hashable and compare by value
      (str, int, tuples of those): the search caches ``(linearized set, state)`` pairs.
    - ``step(state, input, output)`` returns ``(legal, next_state)``: whether the operation
      may return ``output`` when applied in ``state``, and the state after it. It must be
      pure, and must return ``(True, ...)`` whenever ``output is UNKNOWN``.
    - ``partition(operations)`` optionally splits a history into independent sub-histories
      (P-compositionality, e.g. one per key); the history is linearizable iff each part is.
    - ``read_only(input, output)`` optionally says that the operation, with this output,
      leaves the state unchanged in every state where it is legal (a read, a compare-and-set
      that failed). The search then places such an operation as soon as it is legal without
      trying alternatives, and drops it when its outcome is unknown. When unsure leave it
      out: a wrong ``True`` can give a wrong verdict.
    - ``plain_read(input, output)`` optionally says that the operation is a plain read: it
      changes nothing and is legal exactly when ``output == state``. The search then compares
      instead of calling ``step`` (a shortcut: ``step`` must say the same).
    - ``describe_operation(input, output)`` and ``describe_state(state)`` render text for
      reports and the HTML view.
    - ``decode(invoke, complete)`` turns one invocation event of a history file and its
      completion (``None`` when the outcome is unknown) into ``(input, output)``; it returns
      ``None`` to drop an operation that carries no information (an unanswered read), and
      raises ``DecodeError("what was expected")`` on bad fields.
    - ``partition_label(operations)`` optionally names a partition in reports (by default
      ``key=...`` from the inputs' ``key``, or ``all``).
    """

    name: str
    init: Callable[[], S]
    step: Callable[[S, I, O], tuple[bool, S]]
    partition: Callable[[Sequence[Operation]], list[list[Operation]]] | None = None
    read_only: Callable[[I, O], bool] | None = None
    plain_read: Callable[[I, O], bool] | None = None
    describe_operation: Callable[[I, O], str] = _describe_operation
    describe_state: Callable[[S], str] = _describe_state
    decode: Callable[[Mapping[str, Any], Mapping[str, Any] | None], tuple[I, O] | None] = (
        field(default=_no_decode)
    )
    partition_label: Callable[[Sequence[Operation]], str] | None = None

    def __repr__(self) -> str:
        return f"Model({self.name!r})"


def partition_by_key(operations: Sequence[Operation]) -> list[list[Operation]]:
    """Split operations by ``op.input.key``, keeping each part in history order.

    Parts come out in order of each key's first appearance, so the result is deterministic.
    """
    parts: dict[Any, list[Operation]] = {}
    for op in operations:
        parts.setdefault(op.input.key, []).append(op)
    return list(parts.values())
