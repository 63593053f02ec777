"""What the bench scripts share: CPU and wall time of a piece of work, medians of repeats,
the messages a run delivered, and CLI start-up.

CPU seconds (``time.process_time``: this process, user + system) are the figure to compare on
a shared machine: wall time grows with the load of other processes, CPU time much less. Every
figure is the median of ``repeat`` runs, printed with its spread (min..max).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple, TypeVar

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

T = TypeVar("T")


class Timed(NamedTuple):
    """The medians (and ranges) of ``repeat`` runs of one piece of work, and its last value."""

    cpu: float
    wall: float
    cpu_range: tuple[float, float]
    wall_range: tuple[float, float]
    value: Any

    def spread(self) -> str:
        lo, hi = self.cpu_range
        return f"cpu {lo:.3f}..{hi:.3f} s, wall median {self.wall:.3f} s"


def timed(work: Callable[[], T], repeat: int) -> Timed:
    """Run ``work`` ``repeat`` times; medians of CPU and wall seconds, and the last result."""
    cpus, walls = [], []
    value: Any = None
    for _ in range(max(1, repeat)):
        c0, w0 = time.process_time(), time.perf_counter()
        value = work()
        cpus.append(time.process_time() - c0)
        walls.append(time.perf_counter() - w0)
    return Timed(statistics.median(cpus), statistics.median(walls), (min(cpus), max(cpus)),
                 (min(walls), max(walls)), value)


# ---------------------------------------------------------------- delivered messages

_worlds: list[Any] = []
#: Worlds are remembered only inside ``run_delivered``: a bench that kept every world it made
#: (hundreds of seeds) would measure its own growing heap, a collector walking it and a colder
#: cache, not what a seed costs a campaign, which keeps none.
_tracking = False


def track_worlds() -> None:
    """Let ``run_delivered`` see the ``World`` objects the scenario runner makes, so that a bench
    can read the messages its networks delivered (``RunResult.messages`` counts messages sent).
    The runner's name ``World`` is wrapped, not the class: a compiled ``World`` cannot be
    patched."""
    import scenarios.runner as runner
    if getattr(runner.World, "_bench_tracked", False):
        return
    cls = runner.World

    def make(seed: int) -> Any:
        world = cls(seed)
        if _tracking:
            _worlds.append(world)
        return world

    make._bench_tracked = True  # type: ignore[attr-defined]
    runner.World = make  # type: ignore[misc, assignment]


def run_delivered(name: Any, seed: int) -> tuple[Any, int]:
    """``run_scenario(name, seed)`` and the messages its networks delivered."""
    global _tracking
    from scenarios.runner import run_scenario
    _tracking = True
    try:
        result = run_scenario(name, seed)
        delivered = sum(net.delivered for w in _worlds for net in w.networks)
    finally:
        _tracking = False
        _worlds.clear()
    return result, delivered


# ---------------------------------------------------------------- CLI start-up

def cli_startup(args: list[str], repeat: int, cached: bool) -> tuple[float, float]:
    """Median CPU seconds (user + system of the child) and wall seconds of ``raftsim ARGS``,
    run as ``python -m scenarios.cli`` with this tree first on the path.

    ``cached``: with bytecode cached (as an installed package runs: a first run writes the
    cache, under a temporary ``PYTHONPYCACHEPREFIX`` so the tree stays clean); otherwise as
    the environment says (with ``PYTHONDONTWRITEBYTECODE`` set, every module of ours is
    compiled from source at every start)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    if cached:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "raftsim-bench-pyc")
        subprocess.run([sys.executable, "-m", "scenarios.cli", *args], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    cpus, walls = [], []
    for _ in range(max(1, repeat)):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        w0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "scenarios.cli", *args], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - w0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(cpus), statistics.median(walls)


def bare_interpreter(repeat: int) -> float:
    """Median CPU seconds of ``python -c pass``: the part of any start-up that is not ours."""
    cpus = []
    for _ in range(max(1, repeat)):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(cpus)


def load() -> str:
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus; {build()}"


def build() -> str:
    """Whether this process runs the compiled build (tools/build_compiled.py) or the sources."""
    import importlib.machinery
    ours = ("sim.", "protocols.", "checkers.", "scenarios.")
    compiled = sorted(name for name, module in list(sys.modules.items())
                      if name.startswith(ours) and str(getattr(module, "__file__", "")).endswith(
                          tuple(importlib.machinery.EXTENSION_SUFFIXES)))
    if not compiled:
        return "interpreted"
    where = Path(sys.modules[compiled[0]].__file__ or "").parents[compiled[0].count(".")]
    try:                                # how many the build holds (the rest load when needed)
        built = len(json.loads((where / "raftsim_compiled.json").read_text())["compiled"])
    except (OSError, ValueError, KeyError, TypeError):
        built = len(compiled)
    return f"compiled build ({built} modules, from {where})"
