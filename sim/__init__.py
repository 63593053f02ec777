"""raftsim's simulator core: drives pure step functions in a seeded, deterministic SimPy world.

``World`` (time, loop, seeded streams) · ``Network`` (links, delays, drops; labrpc's model) ·
``Disk`` (what survives a crash) · ``Host`` (a step function, its timers and crashes) ·
``Nemesis`` (faults as data) · ``Trace`` (JSON lines and a running digest).
"""

from sim.disk import Disk
from sim.events import SendFailed
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
from sim.trace import (
    FIELDS, Difference, LoadedTrace, Trace, TraceError, first_difference, load_trace,
)
from sim.world import World, stream_seed

__all__ = [
    "World", "stream_seed",
    "Network", "NetParams", "AddrStats",
    "isolate", "halves", "majority_minority", "bridge", "majorities_ring", "random_edges",
    "group_edges",
    "Disk", "Host", "SendFailed",
    "Nemesis", "Fault", "AnyFault", "Schedule", "Crash", "Reboot", "Disconnect", "Connect",
    "Partition", "Links", "Heal", "Cut", "Uncut", "SetReliable", "SetLongReordering",
    "SetLongDelays", "FaultProfile", "random_schedule", "encode_schedule", "decode_schedule",
    "Trace", "TraceError", "LoadedTrace", "Difference", "FIELDS", "load_trace",
    "first_difference",
]
