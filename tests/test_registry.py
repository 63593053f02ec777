"""The catalogue and the shape of scenarios/: every module of scenarios.suites is discovered (a
new suite needs no list to be edited), the listing puts the lab parts in order and the random
suites after them, unknown names are bad input with a hint, and the package has no import
cycle and imports no private name from another module."""

from __future__ import annotations

import ast
import itertools
import pkgutil
from pathlib import Path

import networkx as nx
import pytest

import scenarios.suites
from scenarios.errors import BadInput
from scenarios.registry import UnknownScenario, all_scenarios, get

ROOT = Path(__file__).resolve().parent.parent


def test_every_suite_module_is_discovered() -> None:
    modules = {m.name for m in pkgutil.iter_modules(scenarios.suites.__path__,
                                                    "scenarios.suites.")}
    registered = {s.body.__module__ for s in all_scenarios()}
    assert modules <= registered and len(modules) == 10


def test_listing_order_lab_parts_then_random() -> None:
    suites = [suite for suite, _ in itertools.groupby(s.suite for s in all_scenarios())]
    assert suites == ["3A", "3B", "3C", "3D", "4A", "4B", "5A", "5B", "random"]
    names = [s.name for s in all_scenarios()]
    assert names[:3] == ["InitialElection3A", "ReElection3A", "ManyElections3A"]


def test_unknown_scenario_is_bad_input_with_a_hint() -> None:
    with pytest.raises(UnknownScenario, match="did you mean BasicAgree3B") as caught:
        get("BasicAgree3b2")
    assert isinstance(caught.value, BadInput)
    assert get("basicagree3b").name == "BasicAgree3B"       # case does not matter


def _import_graph() -> tuple[nx.DiGraph, list[str]]:
    """Edges module -> scenarios module it imports (anywhere in the file); private names."""
    files = {}
    for path in (ROOT / "scenarios").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        files[name] = path
    graph, private = nx.DiGraph(), []
    for name, path in files.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("scenarios"):
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    graph.add_edge(name, target if target in files else node.module)
                    if target not in files and alias.name.startswith("_"):
                        private.append(f"{name} imports {alias.name} from {node.module}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in files:
                        graph.add_edge(name, alias.name)
    return graph, private


def test_no_import_cycles_and_no_private_imports() -> None:
    graph, private = _import_graph()
    assert list(nx.simple_cycles(graph)) == []
    assert private == []
