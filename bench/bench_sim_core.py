"""Raw simulator throughput: delivered messages per CPU second, toy ping-pong, 5 hosts, traced.

Every 10 ms (a heartbeat timer) each host starts a ping chain to every peer: a Ping is answered
by a Pong (a reply), and a Pong triggers the next Ping of the chain until it is ``CHAIN`` long.
So a few dozen messages are in flight at once, roughly like a busy 5-node Raft cluster. The step
function is trivial, so the figure measures the network + host + trace + SimPy loop overhead per
message, to compare with a real Raft. Figures are CPU seconds (``time.process_time``) beside
wall time, medians of ``--repeat`` runs; figures of a shared machine vary with its load: the
load average is printed with them.

    python bench/bench_sim_core.py [--sim-ms 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from protocols.core import Receive, Restart, Send, SetTimer, TimerFired  # noqa: E402
from sim import Host, NetParams, Network, Trace, World  # noqa: E402

PEERS = ("s0", "s1", "s2", "s3", "s4")
CHAIN = 10


class Ping(msgspec.Struct, frozen=True, tag=True):
    n: int


class Pong(msgspec.Struct, frozen=True, tag=True):
    IS_REPLY: ClassVar[bool] = True
    n: int


class PPState(msgspec.Struct, frozen=True):
    me: str
    pongs: int = 0
    beats: int = 0


def make_step():
    def step(state: PPState, event: Any):
        if type(event) is Receive:
            msg = event.msg
            if type(msg) is Ping:
                return state, [Send(event.src, Pong(msg.n))]
            more = [Send(event.src, Ping(msg.n + 1))] if msg.n + 1 < CHAIN else []
            return msgspec.structs.replace(state, pongs=state.pongs + 1), more
        if type(event) is TimerFired:
            sends = [Send(p, Ping(0)) for p in PEERS if p != state.me]
            return (msgspec.structs.replace(state, beats=state.beats + 1),
                    [SetTimer("beat", 10.0, 10.0), *sends])
        if type(event) is Restart:
            return state, [SetTimer("beat", 10.0, 10.0)]
        return state, []
    return step


def run_once(sim_ms: float, params: NetParams,
             seed: int = 1) -> tuple[int, int, float, float, str]:
    """One traced run; returns (delivered, sent, CPU seconds, wall seconds, digest)."""
    world = World(seed)
    trace = Trace(seed=seed, scenario="bench-pingpong")
    net = Network(world, trace, params)
    step = make_step()
    hosts = [Host(world, a, step, (lambda a=a: PPState(a)), network=net) for a in PEERS]
    for h in hosts:
        h.boot()
    c0, t0 = time.process_time(), time.perf_counter()
    world.run(until=sim_ms)
    digest = trace.digest()
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    return net.delivered, net.total_count, cpu, wall, digest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim-ms", type=float, default=2000.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    cases = {
        "reliable, 1 ms delay": NetParams(reliable=True, reliable_delay=1.0),
        "unreliable (labrpc)": NetParams(reliable=False),
    }
    print(f"toy ping-pong, 5 hosts, tracing on, {args.sim_ms:g} virtual ms, median of "
          f"{args.repeat}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus")
    for name, params in cases.items():
        cpus, walls = [], []
        for _ in range(args.repeat):
            delivered, sent, cpu, wall, digest = run_once(args.sim_ms, params)
            cpus.append(cpu)
            walls.append(wall)
        cpu, wall = statistics.median(cpus), statistics.median(walls)
        print(f"{name:22s} delivered {delivered / cpu:9,.0f} msgs per CPU s "
              f"({1e6 * cpu / delivered:.2f} CPU us/msg; {delivered / wall:,.0f}/s wall; "
              f"{delivered:,} delivered of {sent:,})  digest={digest}")


if __name__ == "__main__":
    main()
