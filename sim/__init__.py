"""raftsim's drivers of pure step functions.

SimPy-free, imported at once: ``Cluster`` (a synchronous cluster whose every choice is the
caller's: tests and fuzzers) · ``Disk`` (what survives a crash) · ``sim.effects``
(the effect semantics both drivers share) · ``Trace`` (JSON lines and a running digest).

The SimPy driver, imported on first use so that the synchronous cluster never loads simpy:
``World`` (time, loop, seeded streams) · ``Network`` (links, delays, drops; labrpc's model) ·
``Host`` (a step function, its timers and crashes) · ``Nemesis`` (faults as data).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sim.cluster import (
    OBSERVATIONS, Cluster, ClusterState, Driver, InFlight, Node, NodeSpec, proposed,
)
from sim.disk import Disk
from sim.effects import perform, perform_until_crash, persisted
from sim.trace import (
    FIELDS, Difference, LoadedTrace, Trace, TraceError, first_difference, load_trace,
)

if TYPE_CHECKING:
    from sim.host import Host
    from sim.nemesis import (
        AnyFault, Connect, Crash, Cut, Disconnect, Fault, FaultProfile, Heal, Links, Nemesis,
        Partition, Reboot, Schedule, SetLongDelays, SetLongReordering, SetReliable, Uncut,
        decode_schedule, encode_schedule, random_schedule,
    )
    from sim.network import (
        AddrStats, NetParams, Network, bridge, group_edges, halves, isolate, majorities_ring,
        majority_minority, random_edges,
    )
    from sim.world import World, stream_seed

_SIMPY_MODULES = {
    "sim.world": ("World", "stream_seed"),
    "sim.network": ("Network", "NetParams", "AddrStats", "isolate", "halves",
                    "majority_minority", "bridge", "majorities_ring", "random_edges",
                    "group_edges"),
    "sim.host": ("Host",),
    "sim.nemesis": ("Nemesis", "Fault", "AnyFault", "Schedule", "Crash", "Reboot",
                    "Disconnect", "Connect", "Partition", "Links", "Heal", "Cut", "Uncut",
                    "SetReliable", "SetLongReordering", "SetLongDelays", "FaultProfile",
                    "random_schedule", "encode_schedule", "decode_schedule"),
}
_LAZY = {name: module for module, names in _SIMPY_MODULES.items() for name in names}

__all__ = [
    "World", "stream_seed",
    "Network", "NetParams", "AddrStats",
    "isolate", "halves", "majority_minority", "bridge", "majorities_ring", "random_edges",
    "group_edges",
    "Disk", "Host",
    "Nemesis", "Fault", "AnyFault", "Schedule", "Crash", "Reboot", "Disconnect", "Connect",
    "Partition", "Links", "Heal", "Cut", "Uncut", "SetReliable", "SetLongReordering",
    "SetLongDelays", "FaultProfile", "random_schedule", "encode_schedule", "decode_schedule",
    "Trace", "TraceError", "LoadedTrace", "Difference", "FIELDS", "load_trace",
    "first_difference",
    "Cluster", "ClusterState", "Node", "NodeSpec", "InFlight", "Driver", "OBSERVATIONS",
    "proposed", "persisted", "perform", "perform_until_crash",
]


def __getattr__(name: str) -> Any:
    """Import the SimPy driver's modules on first use of one of their names."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
