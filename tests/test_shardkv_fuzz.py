"""Hypothesis drives a sharded KV store on the synchronous cluster driver: messages delivered,
dropped or duplicated in any order, timers fired at any moment, servers of the controller and
of the groups crashing (also in the middle of a step) and restarting, joins, leaves and moves,
while two clerks append unique tokens to keys in different shards. The sharding invariants are
checked at every step; at every step each replica's value of a key is a prefix of what its
clerk appended (nothing lost, nothing applied twice across migrations); once the faults stop,
everything finishes and every key reads exactly what was appended."""

from __future__ import annotations

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from protocols.shardctrler import clerk as cc
from protocols.shardkv import clerk
from shardkv_cluster import CTRLERS, GROUPS, KEYS, ShardCluster

WHO = {"c0": KEYS[2], "c1": KEYS[7]}
SERVERS = CTRLERS + tuple(a for peers in GROUPS.values() for a in peers)


class ShardFuzz(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.c = ShardCluster(clerks=2)
        self.c.reconfigure(cc.join({1: GROUPS[1]}), (1,))
        self.members = [1]
        self.appended: dict[str, list[str]] = {who: [] for who in WHO}
        self.n = 0

    # ------------------------------------------------------------ workload

    @rule(who=st.sampled_from(sorted(WHO)))
    def append(self, who: str) -> None:
        if not self.c.up(who) or self.c.busy(who):
            return
        self.n += 1
        token = f"{who}.{self.n};"
        self.appended[who].append(token)
        self.c.start(who, clerk.append(WHO[who], token))

    @rule(data=st.data())
    def reconfigure(self, data) -> None:
        if self.c.busy("admin"):
            return
        outside = [g for g in GROUPS if g not in self.members]
        choices = ["move"] + (["join"] if outside else []) + (
            ["leave"] if len(self.members) > 1 else [])
        kind = data.draw(st.sampled_from(choices))
        if kind == "join":
            gid = data.draw(st.sampled_from(outside))
            self.members.append(gid)
            op = cc.join({gid: GROUPS[gid]})
        elif kind == "leave":
            gid = data.draw(st.sampled_from(self.members))
            self.members.remove(gid)
            op = cc.leave([gid])
        else:
            op = cc.move(data.draw(st.integers(0, 9)), data.draw(st.sampled_from(self.members)))
        self.c.start("admin", op)

    # ------------------------------------------------------------ the network and timers

    @rule(data=st.data())
    @precondition(lambda self: bool(self.c.inflight))
    def deliver(self, data) -> None:
        self.c.deliver(data.draw(st.integers(0, len(self.c.inflight) - 1)))

    @rule(data=st.data())
    @precondition(lambda self: bool(self.c.inflight))
    def drop(self, data) -> None:
        self.c.drop(data.draw(st.integers(0, len(self.c.inflight) - 1)))

    @rule(data=st.data())
    @precondition(lambda self: bool(self.c.inflight))
    def duplicate(self, data) -> None:
        self.c.duplicate(data.draw(st.integers(0, len(self.c.inflight) - 1)))

    @rule(data=st.data(), rounds=st.integers(1, 30))
    @precondition(lambda self: bool(self.c.inflight))
    def deliver_many(self, data, rounds: int) -> None:
        for _ in range(rounds):
            if not self.c.inflight:
                return
            self.c.deliver(0)

    @rule(data=st.data())
    def fire(self, data) -> None:
        armed = self.c.armed()
        if armed:
            addr, kind = data.draw(st.sampled_from(armed))
            self.c.fire(addr, kind)

    @rule()
    def round(self) -> None:
        """A round of elections, heartbeats, polls and retries (progress between faults)."""
        self.c.round()

    # ------------------------------------------------------------ crashes

    @rule(addr=st.sampled_from(SERVERS))
    def crash(self, addr: str) -> None:
        self.c.crash(addr)

    @rule(addr=st.sampled_from(SERVERS))
    def restart(self, addr: str) -> None:
        if not self.c.up(addr):
            self.c.restart(addr)

    @rule(data=st.data(), after=st.integers(0, 6))
    @precondition(lambda self: any(dst in SERVERS for _, dst, _ in self.c.inflight))
    def deliver_then_crash(self, data, after: int) -> None:
        ks = [k for k, (_, dst, _) in enumerate(self.c.inflight) if dst in SERVERS]
        self.c.deliver(data.draw(st.sampled_from(ks)), crash_after=after)

    # ------------------------------------------------------------ invariants

    @invariant()
    def values_are_prefixes_of_what_was_appended(self) -> None:
        if not hasattr(self, "c"):
            return
        for who, key in WHO.items():
            want = "".join(self.appended[who])
            shard = KEYS.index(key)
            for peers in GROUPS.values():
                for addr in peers:
                    if not self.c.up(addr):
                        continue
                    held = self.c.machine(addr).shards.get(shard)
                    if held is not None:
                        value = held.data.get(key, "")
                        assert want.startswith(value), f"{addr}: {key}={value!r}, want {want!r}"

    def teardown(self) -> None:
        if not hasattr(self, "c"):
            return
        c = self.c
        for addr in SERVERS:
            if not c.up(addr):
                c.restart(addr)
        c.settle(lambda: not any(c.busy(w) for w in (*WHO, "admin"))
                 and c.caught_up(tuple(GROUPS)), rounds=300)
        for who, key in WHO.items():
            assert c.kv(who, clerk.get(key)) == "".join(self.appended[who])
        assert all(not c.busy(w) for w in WHO)


ShardFuzz.TestCase.settings = settings(
    max_examples=40, stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestShardFuzz = ShardFuzz.TestCase
