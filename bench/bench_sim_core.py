"""Raw simulator throughput: delivered messages per wall second, toy ping-pong, 5 hosts, traced.

Every 10 ms (a heartbeat timer) each host starts a ping chain to every peer: a Ping is answered
by a Pong (a reply), and a Pong triggers the next Ping of the chain until it is ``CHAIN`` long.
So a few dozen messages are in flight at once, roughly like a busy 5-node Raft cluster. The step
function is trivial, so the figure measures the network + host + trace + SimPy loop overhead per
message, to compare with a real Raft later. Figures of a shared machine vary with its load: the
load average is printed with them.

    python bench/bench_sim_core.py [--sim-ms 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
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


def run_once(sim_ms: float, params: NetParams, seed: int = 1) -> tuple[int, int, float, str]:
    """One traced run; returns (delivered, sent, wall seconds, digest)."""
    world = World(seed)
    trace = Trace(seed=seed, scenario="bench-pingpong")
    net = Network(world, trace, params)
    step = make_step()
    hosts = [Host(world, a, step, (lambda a=a: PPState(a)), network=net) for a in PEERS]
    for h in hosts:
        h.boot()
    t0 = time.perf_counter()
    world.run(until=sim_ms)
    digest = trace.digest()
    wall = time.perf_counter() - t0
    return net.delivered, net.total_count, wall, digest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim-ms", type=float, default=2000.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    cases = {
        "reliable, 1 ms delay": NetParams(reliable=True, reliable_delay=1.0),
        "unreliable (labrpc)": NetParams(reliable=False),
    }
    print(f"toy ping-pong, 5 hosts, tracing on, {args.sim_ms:g} virtual ms, best of "
          f"{args.repeat}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus")
    for name, params in cases.items():
        walls = []
        for _ in range(args.repeat):
            delivered, sent, wall, digest = run_once(args.sim_ms, params)
            walls.append(wall)
        best = min(walls)
        print(f"{name:22s} delivered {delivered / best:9,.0f} msgs/s wall "
              f"({1e6 * best / delivered:.2f} us/msg; sent {sent / best:,.0f}/s; "
              f"{delivered:,} delivered of {sent:,})  digest={digest}")


if __name__ == "__main__":
    main()
