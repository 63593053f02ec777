"""Test-suite wiring: the ``interpreted`` marker, and Ctrl-C as a terminal delivers it.

A test marked ``interpreted`` plants a bug by patching a module's functions (or its
constants) at run time. Calls inside a compiled module (tools/build_compiled.py) do not look
those names up again, so such a test runs on the interpreted code only and skips when the
compiled build is on the path.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import signal
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The Ctrl-C tests send SIGINT to this process and to campaigns it starts. A shell starts a
# background job (`pytest &`, no job control) with SIGINT ignored, and children inherit that:
# every such test would then see its Ctrl-C vanish. Take SIGINT back as a terminal run has it.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@cache
def build_script() -> ModuleType:
    """tools/build_compiled.py, loaded as a module (``tools`` is not a package)."""
    spec = importlib.util.spec_from_file_location("build_compiled",
                                                  ROOT / "tools" / "build_compiled.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def compiled_modules() -> list[str]:
    """The modules of ours imported from a compiled extension (none in the reference run)."""
    build = build_script()
    found = []
    for path in build.MODULES:
        name = build.module_name(path)
        module = importlib.util.find_spec(name)
        if module is not None and module.origin is not None and module.origin.endswith(
                tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            found.append(name)
    return found


def pytest_report_header(config: pytest.Config) -> str:
    compiled = compiled_modules()
    return (f"raftsim: compiled build on the path ({len(compiled)} modules)" if compiled
            else "raftsim: interpreted (the reference)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not compiled_modules():
        return
    skip = pytest.mark.skip(reason="plants a bug by patching module attributes, which compiled "
                                   "modules do not see: runs on the interpreted code only")
    for item in items:
        if item.get_closest_marker("interpreted"):
            item.add_marker(skip)
