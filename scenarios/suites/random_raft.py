"""Random faults on bare Raft: five peers under a fault schedule, network and profile drawn from
the seed (or given as params), a client proposing to whoever leads (now and then a burst),
snapshots on some seeds; Raft's safety invariants throughout, then a leader and agreement once
the faults stop.
"""

from __future__ import annotations

import msgspec

from scenarios.harness.coverage import Coverage
from scenarios.harness.faults import (RandomRaftParams, RaftWorkload, convert,
                                      draw_raft_workload, fault_setup, hunt_setup, start_swarm,
                                      swarm_bias, validator)
from scenarios.harness.liveness import check_after_heal, healed_at
from scenarios.harness.raft import RaftCluster
from scenarios.registry import scenario
from scenarios.runner import BadParams, Gen, RunContext, ScenarioFailure


#: A random-raft seed sends at most 4,418 messages over seeds 1..20,000 of the correct protocol
#: (bench/bench_bugfind.py --correct 20000): twenty times that is a flood, a failure of kind
#: ``budget`` found in seconds rather than at the runner's 2,000,000.
RANDOM_RAFT_MAX_MESSAGES = 100_000


@scenario("random-raft", "random", "random faults on 5 Raft peers for 10 s: safety invariants, "
          "then a leader and agreement once the faults stop",
          params=("schedule", "net", "profile", "duration_ms", "swarm", "hunt", "workload"),
          check_params=validator(RandomRaftParams, lambda _: [f"s{i}" for i in range(5)]),
          max_messages=RANDOM_RAFT_MAX_MESSAGES)
def random_raft(ctx: RunContext) -> Gen:
    n = 5
    try:
        duration = float(ctx.params.get("duration_ms", 10_000))
    except (TypeError, ValueError):
        raise BadParams(f"bad params: duration_ms must be a number of milliseconds, not "
                        f"{ctx.params.get('duration_ms')!r}") from None
    addrs = tuple(f"s{i}" for i in range(n))
    bias = swarm_bias(ctx)
    work = (convert(ctx.params, "workload", RaftWorkload) if "workload" in ctx.params
            else draw_raft_workload(ctx.world.rng("profile/workload"), bias))
    net, _, schedule = fault_setup(ctx, addrs, duration / 2, bias=bias)
    hunt = hunt_setup(ctx, bias)
    ctx.record_drawn(duration_ms=duration, workload=msgspec.to_builtins(work))
    c = RaftCluster(ctx, n, net_params=net, snapshot=work.snapshot_interval > 0,
                    snapshot_interval=work.snapshot_interval or 1)
    start_swarm(ctx, c.net, {h.addr: h for h in c.hosts}, schedule, duration / 2, hunt)
    Coverage.of(ctx).attach(c.net)
    rng = ctx.world.rng("workload")
    lo, hi = work.gap_ms
    env = ctx.env
    while env.now < duration:                  # a client proposing to whoever leads
        i = c.first_leader()
        if i >= 0:
            burst = (1 + rng.randrange(work.burst_max)
                     if work.burst_p and rng.random() < work.burst_p else 1)
            for _ in range(burst):
                c.start(i, rng.randrange(1 << 31))
        yield env.timeout(lo + (hi - lo) * rng.random())
    try:                                       # liveness once the faults are over
        yield from c.one(rng.randrange(1 << 31), n, True)
    except ScenarioFailure as exc:
        raise ScenarioFailure(f"no progress after the faults stopped: {exc}",
                              kind="liveness") from None
    first = c.first_leader()
    leader = c.addrs[first] if first >= 0 else None
    check_after_heal(ctx, c.observer, c.net, healed_at(schedule, duration / 2), leader)
    c.end()
