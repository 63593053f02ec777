"""Random faults on bare Raft: five peers under a fault schedule, network and profile drawn from
the seed (or given as params), a client proposing to whoever leads; Raft's safety invariants
throughout, then a leader and agreement once the faults stop.
"""

from __future__ import annotations

from sim import Nemesis

from scenarios.harness.faults import RandomRaftParams, fault_setup, validator
from scenarios.harness.liveness import check_after_heal, healed_at
from scenarios.harness.raft import RaftCluster
from scenarios.registry import scenario
from scenarios.runner import BadParams, Gen, RunContext, ScenarioFailure


@scenario("random-raft", "random", "random faults on 5 Raft peers for 10 s: safety invariants, "
          "then a leader and agreement once the faults stop",
          params=("schedule", "net", "profile", "duration_ms"),
          check_params=validator(RandomRaftParams, lambda _: [f"s{i}" for i in range(5)]))
def random_raft(ctx: RunContext) -> Gen:
    n = 5
    try:
        duration = float(ctx.params.get("duration_ms", 10_000))
    except (TypeError, ValueError):
        raise BadParams(f"bad params: duration_ms must be a number of milliseconds, not "
                        f"{ctx.params.get('duration_ms')!r}") from None
    addrs = tuple(f"s{i}" for i in range(n))
    net, _, schedule = fault_setup(ctx, addrs, duration / 2)
    ctx.record_drawn(duration_ms=duration)
    c = RaftCluster(ctx, n, net_params=net)
    Nemesis(ctx.world, c.net, {h.addr: h for h in c.hosts}).run(schedule)
    rng = ctx.world.rng("workload")
    while ctx.now < duration:                  # a client proposing to whoever leads
        for i in range(n):
            if c.up(i) and c.get_state(i)[1]:
                c.start(i, rng.randrange(1 << 31))
                break
        yield ctx.sleep(5 + rng.randrange(45))
    try:                                       # liveness once the faults are over
        yield from c.one(rng.randrange(1 << 31), n, True)
    except ScenarioFailure as exc:
        raise ScenarioFailure(f"no progress after the faults stopped: {exc}",
                              kind="liveness") from None
    leader = next((c.addrs[i] for i in range(n) if c.up(i) and c.get_state(i)[1]), None)
    check_after_heal(ctx, c.observer, c.net, healed_at(schedule, duration / 2), leader)
    c.end()
