"""A scripted node for driver tests: it does exactly what the test tells it, so a test of a
driver (the SimPy Host, the synchronous cluster) checks the driver's rules and nothing else."""

from __future__ import annotations

from typing import Any

import msgspec

from protocols.core import Event, Propose, Proposed


class Do(Event, frozen=True):
    """Test input: the scripted node answers with exactly these effects."""
    effects: tuple


class Ping(msgspec.Struct, frozen=True, tag=True):
    n: int


def scripted(state: tuple, event: Any) -> tuple[tuple, list]:
    """Remembers every event; a ``Do`` returns its effects; a Propose is accepted at index
    len(log)."""
    log = state + (event,)
    if isinstance(event, Do):
        return log, list(event.effects)
    if isinstance(event, Propose):
        return log, [Proposed(len(log), 1, True)]
    return log, []
