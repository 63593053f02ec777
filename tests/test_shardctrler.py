"""The shard controller, one rule per test: rebalancing is even, minimal and deterministic
(properties over Join / Leave / Move sequences); configurations are numbered and kept;
Join / Leave / Move are applied at most once per (client, seq); Query reads any configuration;
the snapshot round-trips; and the replicated service answers its clerk through Raft."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import shardctrler as sc
from protocols.core import ClientDone, ClientRequest, TimerFired
from protocols.rsm import clerk as rsm_clerk
from protocols.shardctrler import clerk
from protocols.shardctrler.machine import decode_snapshot, empty, encode_snapshot
from sim.cluster import Cluster, Driver

from protocols import raft


def cmd(op, client: str = "c", seq: int = 1) -> sc.CtrlCommand:
    return sc.CtrlCommand(client, seq, op)


def run(ops) -> sc.CtrlMachine:
    machine = empty()
    for seq, op in enumerate(ops, 1):
        machine, _ = sc.apply_command(machine, cmd(op, seq=seq))
    return machine


def counts(config: sc.Config) -> dict[int, int]:
    return {gid: config.shards.count(gid) for gid in config.gids()}


def check_balanced(config: sc.Config) -> None:
    """The lab's check(): every shard on a member (none unassigned while there are members),
    and max - min <= 1 over the members."""
    gids = config.gids()
    if not gids:
        assert set(config.shards) == {0}
        return
    assert all(gid in gids for gid in config.shards)
    per = counts(config).values()
    if len(gids) <= sc.NSHARDS:
        assert max(per) - min(per) <= 1


# ---------------------------------------------------------------- rebalancing

def test_first_join_assigns_every_shard():
    config = sc.latest(run([clerk.join({1: ["a"]})]))
    assert config.num == 1 and config.shards == (1,) * sc.NSHARDS
    assert config.groups == ((1, ("a",)),)


def test_minimal_again():
    """TestMinimalAgain: after Join(3) only shards moved to 3 change owner, at most
    NShards/3 + 1 of them; after Leave(1) only shards of 1 move, at most 4."""
    m = run([clerk.join({1: ["a"]}), clerk.join({2: ["b"]})])
    c1 = sc.latest(m)
    m, _ = sc.apply_command(m, cmd(clerk.join({3: ["c"]}), seq=3))
    c2 = sc.latest(m)
    moved = [s for s in range(sc.NSHARDS) if c1.shards[s] != c2.shards[s]]
    assert all(c2.shards[s] == 3 for s in moved) and len(moved) <= sc.NSHARDS // 3 + 1
    m, _ = sc.apply_command(m, cmd(clerk.leave([1]), seq=4))
    c3 = sc.latest(m)
    moved = [s for s in range(sc.NSHARDS) if c2.shards[s] != c3.shards[s]]
    assert all(c2.shards[s] == 1 for s in moved) and len(moved) <= 4
    check_balanced(c3)


ops = st.lists(st.one_of(
    st.builds(lambda gids: clerk.join({g: [f"s{g}"] for g in gids}),
              st.sets(st.integers(1, 14), min_size=1, max_size=3)),
    st.builds(lambda gids: clerk.leave(gids), st.sets(st.integers(1, 14), min_size=1,
                                                      max_size=2)),
    st.builds(clerk.move, st.integers(0, sc.NSHARDS - 1), st.integers(1, 14))), max_size=12)


@settings(max_examples=200, deadline=None)
@given(ops)
def test_rebalancing_is_even_minimal_and_numbered(sequence):
    """After every Join or Leave the shards are balanced; a Join moves shards only to the
    joining groups, a Leave only away from the leaving ones; each change makes a new config
    numbered one more; a Move to a non-member changes nothing."""
    m = empty()
    for seq, op in enumerate(sequence, 1):
        before = sc.latest(m)
        m, (err, _) = sc.apply_command(m, cmd(op, seq=seq))
        after = sc.latest(m)
        if type(op) is sc.Move:
            if err == sc.ErrInvalid:
                assert op.gid not in before.gids() and after == before
            else:
                assert after.shards[op.shard] == op.gid and after.num == before.num + 1
            continue
        assert after.num == before.num + 1 and m.configs[before.num] == before
        check_balanced(after)
        moved = [s for s in range(sc.NSHARDS) if before.shards[s] != after.shards[s]]
        if type(op) is sc.Join:
            new = {gid for gid, _ in op.servers} - set(before.gids())
            stays = set(before.gids()) - new
            assert all(after.shards[s] in new or before.shards[s] not in stays
                       or before.shards[s] == 0 or _was_over(before, after, s)
                       for s in moved)
        else:
            left = set(op.gids)
            assert all(before.shards[s] in left or before.shards[s] == 0 or
                       _was_over(before, after, s) for s in moved)


def _was_over(before: sc.Config, after: sc.Config, shard: int) -> bool:
    """A shard may also leave a group that held more than its new quota (after a Move)."""
    gid = before.shards[shard]
    return counts(before).get(gid, 0) > counts(after).get(gid, 0)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 30), min_size=1, max_size=12, unique=True), st.randoms())
def test_rebalancing_does_not_depend_on_join_order(gids, rnd):
    """The same groups joined in another order give the same shard assignment."""
    shuffled = list(gids)
    rnd.shuffle(shuffled)
    a = run([clerk.join({g: ["x"] for g in gids})])
    b = run([clerk.join({g: ["x"] for g in shuffled})])
    assert sc.latest(a) == sc.latest(b)
    assert sc.rebalance((0,) * sc.NSHARDS, tuple(gids)) == \
        sc.rebalance((0,) * sc.NSHARDS, tuple(shuffled))


# ---------------------------------------------------------------- the machine

def test_duplicates_are_applied_once_and_query_reads_history():
    m = run([clerk.join({1: ["a"]})])
    again, result = sc.apply_command(m, cmd(clerk.join({2: ["b"]}), seq=1))
    assert again == m and result == (sc.OK, None)
    m, (err, config) = sc.apply_command(m, cmd(clerk.query(0), seq=2))
    assert err == sc.OK and config == sc.INITIAL
    m, (err, config) = sc.apply_command(m, cmd(clerk.query(-1), seq=3))
    assert config == sc.latest(m) and config.num == 1
    m, (_, config) = sc.apply_command(m, cmd(clerk.query(99), seq=4))
    assert config.num == 1


def test_leave_of_every_group_unassigns_every_shard():
    config = sc.latest(run([clerk.join({1: ["a"], 2: ["b"]}), clerk.leave([1, 2])]))
    assert config.groups == () and config.shards == (0,) * sc.NSHARDS


def test_snapshot_round_trips_and_is_deterministic():
    m = run([clerk.join({2: ["b"], 1: ["a"]}), clerk.move(3, 2), clerk.leave([1])])
    data = encode_snapshot(m)
    assert decode_snapshot(data) == m and decode_snapshot(b"") == empty()
    assert encode_snapshot(decode_snapshot(data)) == data


def test_malformed_requests_are_named():
    bad = [clerk.join({}), clerk.join({0: ["a"]}), clerk.leave([]), clerk.move(10, 1),
           clerk.move(0, 0)]
    for op in bad:
        assert sc.server.malformed(sc.CtrlRequest("c", 1, op)) is not None
    assert sc.server.malformed(sc.CtrlRequest("c", 1, clerk.query())) is None


# ---------------------------------------------------------------- the replicated service

def controller(n: int = 3) -> Driver:
    peers = tuple(f"s{i}" for i in range(n))
    nodes = {addr: (sc.step, lambda i=i: sc.init(sc.server_config(i, peers)))
             for i, addr in enumerate(peers)}
    nodes["c0"] = (clerk.step, lambda: clerk.init(rsm_clerk.ClerkConfig("c0", peers)))
    d = Driver(Cluster(nodes), record=True)
    d.boot()
    return d


def ask(d: Driver, op) -> object:
    """Send ``op`` through the clerk and drive the cluster until the clerk is done."""
    assert d.history is not None
    start = len(d.history)
    d.step("c0", ClientRequest(op))
    for _ in range(20):
        d.deliver_all()
        if clerk.is_idle(d.node("c0").state):
            done = [e for _, _, effects in d.history[start:] for e in effects
                    if type(e) is ClientDone]
            assert len(done) == 1 and done[0].op == op
            return done[0].result
        d.fire("c0", clerk.RETRY)
    raise AssertionError("the clerk never finished")


def test_clerk_and_servers_agree_through_raft():
    """A clerk's Join, Move and Query go through the elected leader's log, and every server
    applies the same configurations."""
    d = controller()
    d.step("s0", TimerFired(raft.ELECTION))
    d.deliver_all()
    assert sc.is_leader(d.node("s0").state)
    assert ask(d, clerk.join({1: ["a", "b"], 2: ["c"]})) is None
    assert ask(d, clerk.move(0, 2)) is None
    assert ask(d, clerk.move(0, 7)) == sc.ErrInvalid
    config = ask(d, clerk.query())
    assert isinstance(config, sc.Config) and config.num == 2 and config.shards[0] == 2
    d.fire("s0", raft.HEARTBEAT)
    d.deliver_all()
    configs = {d.node(s).state.machine.configs for s in ("s0", "s1", "s2")}
    assert len(configs) == 1 and next(iter(configs))[-1] == config
