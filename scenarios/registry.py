"""The catalogue of named scenarios: what ``raftsim list`` shows and ``raftsim run`` runs.

A scenario is a generator function taking a ``RunContext`` and yielding SimPy events (sleeps,
waits): it builds its cluster, drives a workload and faults, and raises ``ScenarioFailure`` when
one of its assertions does not hold. Registration order is the listing order.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Callable, Generator

__all__ = ["Scenario", "scenario", "get", "all_scenarios", "UnknownScenario"]

Body = Callable[[Any], Generator]


@dataclass(frozen=True)
class Scenario:
    name: str
    suite: str
    summary: str
    body: Body
    time_limit_ms: float = 120_000.0     # the lab's per-test limit, in virtual time
    params: tuple[str, ...] = ()         # the overrides it accepts (random scenarios)


_REGISTRY: dict[str, Scenario] = {}


class UnknownScenario(LookupError):
    def __init__(self, name: str) -> None:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(close)}?)" if close else " (see `raftsim list`)"
        super().__init__(f"unknown scenario {name!r}{hint}")


def scenario(name: str, suite: str, summary: str, **options: Any) -> Callable[[Body], Body]:
    """Register the decorated generator function under ``name``."""
    def register(body: Body) -> Body:
        if name in _REGISTRY:
            raise ValueError(f"scenario {name!r} registered twice")
        _REGISTRY[name] = Scenario(name, suite, summary, body, **options)
        return body
    return register


SUITES = ("scenarios.raft_suite", "scenarios.raft_suite_persist", "scenarios.kv_suite",
          "scenarios.random_suite")


def _load_suites() -> None:
    """Import every suite module once; importing registers its scenarios."""
    import importlib
    import importlib.util
    for module in SUITES:
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)


def all_scenarios() -> list[Scenario]:
    _load_suites()
    return list(_REGISTRY.values())


def get(name: str) -> Scenario:
    _load_suites()
    found = _REGISTRY.get(name)
    if found is None:
        lowered = {k.lower(): v for k, v in _REGISTRY.items()}
        found = lowered.get(name.lower())
    if found is None:
        raise UnknownScenario(name)
    return found
