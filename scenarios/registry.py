"""The catalogue of named scenarios: what ``raftsim list`` shows and ``raftsim run`` runs.

A scenario is a generator function taking a ``RunContext`` and yielding SimPy events (sleeps,
waits): it builds its cluster, drives a workload and faults, and raises ``ScenarioFailure`` when
one of its assertions does not hold. Suites register scenarios with ``@scenario`` when imported;
every module of the ``scenarios.suites`` package is discovered and imported on first use, so a
new suite is a new module there and nothing else.

Listing order: the lab parts in order (3A, 3B, ..., 4B), then the other suites (the random
ones) in module order; within a suite, registration order.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
import re
from dataclasses import dataclass
from typing import Any, Callable, Generator

from scenarios.errors import BadInput

__all__ = ["Scenario", "Body", "scenario", "register", "unregister", "get", "all_scenarios",
           "UnknownScenario"]

#: A scenario body: a generator function of a ``RunContext``, yielding SimPy events.
Body = Callable[[Any], Generator[Any, Any, None]]

_LAB_PART = re.compile(r"(\d+)([A-Z])")


@dataclass(frozen=True)
class Scenario:
    name: str
    suite: str
    summary: str
    body: Body
    time_limit_ms: float = 120_000.0     # the lab's per-test limit, in virtual time
    params: tuple[str, ...] = ()         # the overrides it accepts (random scenarios)
    #: validates given params before the run (raises BadInput naming the JSON path); None: none
    check_params: Callable[[dict[str, Any]], None] | None = None
    #: its own message budget, when tighter than the runner's (a flood is found sooner)
    max_messages: int | None = None


_REGISTRY: dict[str, Scenario] = {}
_discovered = False


class UnknownScenario(BadInput, LookupError):
    """No scenario has this name (with the closest names as a hint)."""

    def __init__(self, name: str) -> None:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(close)}?)" if close else " (see `raftsim list`)"
        super().__init__(f"unknown scenario {name!r}{hint}")


def register(sc: Scenario) -> Scenario:
    """Add ``sc`` to the catalogue; a name is registered once."""
    if sc.name in _REGISTRY:
        raise ValueError(f"scenario {sc.name!r} registered twice")
    _REGISTRY[sc.name] = sc
    return sc


def unregister(name: str) -> None:
    """Remove the scenario called ``name`` (for scenarios registered by tests)."""
    del _REGISTRY[name]


def scenario(name: str, suite: str, summary: str, **options: Any) -> Callable[[Body], Body]:
    """Register the decorated generator function under ``name``."""
    def decorate(body: Body) -> Body:
        register(Scenario(name, suite, summary, body, **options))
        return body
    return decorate


def _discover() -> None:
    """Import every module of ``scenarios.suites`` once; importing registers its scenarios."""
    global _discovered
    if _discovered:
        return
    import scenarios.suites as package
    for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
    _discovered = True


def _listing_rank(sc: Scenario) -> tuple[int, int, str]:
    """Lab parts first, by number and letter; every other suite after them, in place."""
    part = _LAB_PART.fullmatch(sc.suite)
    return (0, int(part[1]), part[2]) if part else (1, 0, "")


def all_scenarios() -> list[Scenario]:
    """Every scenario, in listing order."""
    _discover()
    return sorted(_REGISTRY.values(), key=_listing_rank)


def get(name: str) -> Scenario:
    """The scenario called ``name`` (case-insensitive if no exact match); else UnknownScenario."""
    _discover()
    found = _REGISTRY.get(name)
    if found is None:
        lowered = {k.lower(): v for k, v in _REGISTRY.items()}
        found = lowered.get(name.lower())
    if found is None:
        raise UnknownScenario(name)
    return found
