"""Random faults on the KV service: workload, network, profile and fault schedule drawn from the
seed (or given as params); Raft's invariants throughout, then progress after healing and a
linearizable history.
"""

from __future__ import annotations

import msgspec
import simpy

from scenarios.harness.coverage import Coverage
from scenarios.harness.faults import (RandomKVParams, Workload, convert, draw_workload,
                                      fault_setup, hunt_setup, start_swarm, swarm_bias,
                                      validator)
from scenarios.harness.kv import Clerk, KVCluster, random_client
from scenarios.harness.liveness import check_after_heal, healed_at
from scenarios.registry import scenario
from scenarios.runner import Gen, RunContext, ScenarioFailure


@scenario("random", "random", "random faults on a KV service (workload, network, faults drawn "
          "from the seed): Raft invariants, linearizability, progress after healing",
          params=("schedule", "net", "profile", "workload", "swarm", "hunt"),
          check_params=validator(RandomKVParams, lambda p: [
              f"s{i}" for i in range(p.workload.servers if p.workload else Workload().servers)]))
def random_kv(ctx: RunContext) -> Gen:
    params = ctx.params
    bias = swarm_bias(ctx)
    work = (convert(params, "workload", Workload) if "workload" in params
            else draw_workload(ctx.world.rng("profile/workload"), bias))
    addrs = tuple(f"s{i}" for i in range(work.servers))
    net, _, schedule = fault_setup(ctx, addrs, work.duration_ms, min_delay=0.5, bias=bias)
    hunt = hunt_setup(ctx, bias)
    ctx.record_drawn(workload=msgspec.to_builtins(work))
    c = KVCluster(ctx, work.servers, maxraftstate=work.maxraftstate, net_params=net)
    start_swarm(ctx, c.net, {h.addr: h for h in c.hosts}, schedule, work.duration_ms, hunt)
    stop = [False]

    keys = [f"k{k}" for k in range(work.keys)]

    def client(i: int, clerk: Clerk) -> Gen:
        yield from random_client(ctx, clerk, keys, work.think_ms, stop, work.ops_per_client)

    clients = c.spawn_clients(work.clients, client)
    Coverage.of(ctx).attach(c.net)
    yield ctx.sleep(work.duration_ms)
    stop[0] = True
    # The schedule healed everything at its end: every client must now finish its operation.
    done = simpy.AllOf(ctx.env, clients)
    yield done | ctx.sleep(10_000)
    ctx.facts["operations"] = sum(1 for e in ctx.history if e["type"] == "invoke")
    if not done.triggered:
        raise ScenarioFailure("no progress: client operations still pending 10 s after the "
                              "workload ended (a drawn schedule has healed everything by then)",
                              kind="liveness")
    leader = c.leader()
    check_after_heal(ctx, c.observer, c.net, healed_at(schedule, work.duration_ms),
                     None if leader is None else c.addrs[leader], ctx.history)
    reader = c.make_clerk()
    for k in range(work.keys):
        yield from reader.get(f"k{k}")
    c.end()
    c.check_linearizable()
