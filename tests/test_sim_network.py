"""Network: delivery rule, labrpc's unreliable model, statistics and partition shapes."""

from __future__ import annotations

import itertools
import random
from typing import Any, ClassVar

import msgspec
import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.core import Receive, Send
from sim import (
    Host, NetParams, Network, Trace, World, bridge, halves, isolate,
    majorities_ring, majority_minority, random_edges,
)

SERVERS = ["s0", "s1", "s2", "s3", "s4"]


class Ping(msgspec.Struct, frozen=True, tag=True):
    n: int


class Pong(msgspec.Struct, frozen=True, tag=True):
    IS_REPLY: ClassVar[bool] = True
    n: int


def echo(state: tuple, event: Any) -> tuple[tuple, list]:
    """Answers each Ping with a Pong; remembers everything it received, in order."""
    if isinstance(event, Receive):
        state = state + ((event.src, event.msg),)
        if isinstance(event.msg, Ping):
            return state, [Send(event.src, Pong(event.msg.n))]
    return state, []


def quiet(state: tuple, event: Any) -> tuple[tuple, list]:
    """Remembers what it received and never answers."""
    if isinstance(event, Receive):
        state = state + ((event.src, event.msg),)
    return state, []


def cluster(params: NetParams | None = None, seed: int = 1, step=echo,
            addrs: list[str] = SERVERS, clients: tuple[str, ...] = ()):
    world = World(seed)
    trace = Trace(seed=seed, keep=True)
    net = Network(world, trace, params or NetParams())
    hosts = {a: Host(world, a, step, tuple, network=net) for a in addrs}
    hosts.update({c: Host(world, c, step, tuple, network=net, client=True) for c in clients})
    for h in hosts.values():
        h.boot()
    return world, trace, net, hosts


def records(trace: Trace, kind: str | None = None) -> list[list]:
    trace.flush()
    recs = [msgspec.json.decode(line) for line in trace.lines[1:]]
    return [r for r in recs if kind is None or r[1] == kind]


def received(host: Host) -> list:
    return [m for src, m in host.state if src != "failed"]


# ---------------------------------------------------------------- the delivery rule

def test_message_is_delivered_when_the_edge_exists_throughout() -> None:
    """With the link up at send and at delivery, the message arrives after the delay."""
    world, trace, net, hosts = cluster(NetParams(reliable_delay=5.0))
    net.send("s0", "s1", Ping(1))
    world.run(until=100)
    assert received(hosts["s1"]) == [Ping(1)]
    assert [r[0] for r in records(trace, "deliver") if r[4] == "s1"] == [5.0]


def test_no_edge_at_send_means_no_delivery() -> None:
    """A message sent over a cut link is dropped (reason partition) even if the link is
    restored before it would have arrived."""
    world, trace, net, hosts = cluster(NetParams(reliable_delay=5.0))
    net.cut("s0", "s1")
    net.send("s0", "s1", Ping(1))
    net.uncut("s0", "s1")
    world.run(until=1000)
    assert received(hosts["s1"]) == []
    assert [r[5] for r in records(trace, "drop")] == ["partition"]


def test_no_edge_at_delivery_means_no_delivery() -> None:
    """A link cut while the message is in flight drops it at arrival time."""
    world, trace, net, hosts = cluster(NetParams(reliable_delay=5.0))
    net.send("s0", "s1", Ping(1))
    world.call_at(2.0, net.cut, "s0", "s1")
    world.run(until=100)
    assert received(hosts["s1"]) == []
    assert [(r[0], r[5]) for r in records(trace, "drop")] == [(5.0, "partition")]


def test_edge_at_send_and_at_delivery_suffices() -> None:
    """Only the two instants matter: a link cut and restored in between still delivers."""
    world, trace, net, hosts = cluster(NetParams(reliable_delay=5.0))
    net.send("s0", "s1", Ping(1))
    world.call_at(1.0, net.cut, "s0", "s1")
    world.call_at(3.0, net.uncut, "s0", "s1")
    world.run(until=100)
    assert received(hosts["s1"]) == [Ping(1)]


def test_cut_is_one_way() -> None:
    """``cut(a, b)`` blocks a -> b only."""
    world, trace, net, hosts = cluster(NetParams(reliable_delay=1.0), step=quiet)
    net.cut("s0", "s1")
    net.send("s0", "s1", Ping(1))
    net.send("s1", "s0", Ping(2))
    world.run(until=200)
    assert received(hosts["s1"]) == [] and received(hosts["s0"]) == [Ping(2)]


def test_destination_crash_in_flight_drops_the_message() -> None:
    """A destination that crashed after the send never gets the message (reason down)."""
    world, trace, net, hosts = cluster(NetParams(reliable_delay=5.0))
    net.send("s0", "s1", Ping(1))
    world.call_at(1.0, hosts["s1"].crash)
    world.run(until=100)
    assert [r[5] for r in records(trace, "drop")] == ["down"]
    assert net.delivered == 0


def test_destination_restart_in_flight_drops_the_message() -> None:
    """A destination that crashed and rebooted meanwhile is a new incarnation: no delivery."""
    world, trace, net, hosts = cluster(NetParams(reliable_delay=5.0))
    net.send("s0", "s1", Ping(1))
    world.call_at(1.0, hosts["s1"].restart)
    world.run(until=100)
    assert received(hosts["s1"]) == []
    assert [r[5] for r in records(trace, "drop")] == ["stale-incarnation"]


def test_source_restart_in_flight_drops_the_message() -> None:
    """labrpc never delivers from a server replaced since the send."""
    world, trace, net, hosts = cluster(NetParams(reliable_delay=5.0))
    net.send("s0", "s1", Ping(1))
    world.call_at(1.0, hosts["s0"].restart)
    world.run(until=100)
    assert received(hosts["s1"]) == []
    assert [r[5] for r in records(trace, "drop")] == ["stale-incarnation"]


@pytest.mark.parametrize("long_delays,bound", [(False, 100.0), (True, 7000.0)])
def test_undeliverable_fails_after_labrpc_delay(long_delays: bool, bound: float) -> None:
    """Messages to a down host fail after uniform [0, 100) ms, or [0, 7000) with long delays."""
    world, trace, net, hosts = cluster(NetParams(long_delays=long_delays), step=quiet)
    hosts["s1"].crash()
    for i in range(300):
        net.send("s0", "s1", Ping(i))
    world.run(until=10_000)
    times = [r[0] for r in records(trace, "drop")]
    assert len(times) == 300 and all(0 <= t < bound for t in times)
    assert max(times) > bound * 0.9 and {r[5] for r in records(trace, "drop")} == {"down"}


# ---------------------------------------------------------------- unreliable model

def test_unreliable_network_drops_about_ten_percent_and_delays_requests() -> None:
    """Unreliable: requests wait uniform [0, 27) ms; 10% of requests and of replies drop."""
    world, trace, net, hosts = cluster(NetParams(reliable=False))
    n = 4000
    for i in range(n):
        net.send("s0", "s1", Ping(i))
    world.run(until=1000)
    pings = len(received(hosts["s1"]))
    pongs = len(received(hosts["s0"]))
    assert 0.87 * n < pings < 0.93 * n
    assert 0.87 * pings < pongs < 0.93 * pings
    send_time = {r[2]: r[0] for r in records(trace, "send")}
    delays = [r[0] - send_time[r[2]] for r in records(trace, "deliver") if r[4] == "s1"]
    assert all(0 <= d < 27 for d in delays) and max(delays) > 25
    reply_delays = [r[0] - send_time[r[2]] for r in records(trace, "deliver") if r[4] == "s0"]
    assert set(reply_delays) == {0.0}  # labrpc delays the request only


def test_long_reordering_delays_replies_only() -> None:
    """Long reordering: about 2/3 of replies wait 200..2199 ms more; requests never do."""
    world, trace, net, hosts = cluster(NetParams(long_reordering=True))
    for i in range(900):
        net.send("s0", "s1", Ping(i))
    world.run(until=5000)
    send_time = {r[2]: r[0] for r in records(trace, "send")}
    delay = {r[4]: [] for r in records(trace, "deliver")}
    for r in records(trace, "deliver"):
        delay[r[4]].append(r[0] - send_time[r[2]])
    assert set(delay["s1"]) == {0.0}
    late = [d for d in delay["s0"] if d > 0]
    assert all(200 <= d < 2200 for d in late)
    assert 0.6 < len(late) / len(delay["s0"]) < 0.73


def test_duplicate_delivers_twice() -> None:
    """With duplicate=1 every message arrives twice and a dup record is written."""
    world, trace, net, hosts = cluster(NetParams(duplicate=1.0), step=quiet)
    net.send("s0", "s1", Ping(1))
    world.run(until=1000)
    assert received(hosts["s1"]) == [Ping(1), Ping(1)]
    assert len(records(trace, "dup")) == 1


def test_reorder_adds_extra_delay() -> None:
    """With reorder=1 each message waits an extra delay drawn from ``reorder_delay``."""
    world, trace, net, hosts = cluster(NetParams(reorder=1.0, reorder_delay=(10.0, 20.0)),
                                       step=quiet)
    for i in range(50):
        net.send("s0", "s1", Ping(i))
    world.run(until=1000)
    times = [r[0] for r in records(trace, "deliver")]
    assert len(times) == 50 and all(10 <= t <= 20 for t in times)
    assert [m.n for m in received(hosts["s1"])] != list(range(50))  # reordered


def test_fates_come_from_the_net_stream_only() -> None:
    """Adding a host with its own stream does not change the fate of server messages."""
    def fates(clients: tuple[str, ...]) -> list:
        world, trace, net, hosts = cluster(NetParams(reliable=False), seed=5, clients=clients)
        for i in range(200):
            net.send(SERVERS[i % 5], SERVERS[(i + 1) % 5], Ping(i))
        world.run(until=1000)
        return [r for r in records(trace) if r[1] in ("deliver", "drop")]
    assert fates(()) == fates(("c0", "c1"))


# ---------------------------------------------------------------- statistics

def test_statistics_follow_labrpc() -> None:
    """Every send counts; request bytes count at send, reply bytes only when delivered;
    rpc_count counts requests delivered to the address. Bytes are msgpack sizes."""
    world, trace, net, hosts = cluster(NetParams(reliable_delay=1.0))
    size = len(msgspec.msgpack.encode(Ping(1)))
    reply_size = len(msgspec.msgpack.encode(Pong(1)))
    net.send("s0", "s1", Ping(1))      # delivered, Pong delivered
    net.cut("s0", "s2")
    net.send("s0", "s2", Ping(1))      # dropped at send
    world.run(until=500)
    assert net.total_count == 3
    assert net.total_bytes == 2 * size + reply_size
    assert net.rpc_count("s1") == 1 and net.rpc_count("s2") == 0 and net.rpc_count("s0") == 0
    assert net.stats["s0"].sent == 2 and net.stats["s0"].sent_bytes == 2 * size
    assert net.stats["s0"].received == 1 and net.stats["s0"].received_bytes == reply_size
    assert net.delivered == 2 and net.dropped == 1
    assert net.stats["s0"].as_dict() == {"sent": 2, "sent_bytes": 2 * size, "received": 1,
                                         "received_bytes": reply_size, "rpcs": 0}
    assert repr(net.stats["s1"]) == (f"AddrStats({{'sent': 1, 'sent_bytes': {reply_size}, "
                                     f"'received': 1, 'received_bytes': {size}, 'rpcs': 1}})")


# ---------------------------------------------------------------- topology operations

def links(net: Network, nodes: list[str]) -> set[tuple[str, str]]:
    return {(a, b) for a in nodes for b in nodes if a != b and net.has_link(a, b)}


def test_partition_cuts_across_groups_and_leaves_clients_alone() -> None:
    """``partition(groups)`` links within groups, cuts across, and keeps client links."""
    world, trace, net, hosts = cluster(clients=("c0",))
    net.partition([["s0", "s1"], ["s2", "s3", "s4"]])
    assert links(net, SERVERS) == {("s0", "s1"), ("s1", "s0")} | {
        (a, b) for a in ("s2", "s3", "s4") for b in ("s2", "s3", "s4") if a != b}
    assert all(net.has_link("c0", s) and net.has_link(s, "c0") for s in SERVERS)


def test_disconnect_and_connect_follow_the_raft_tester() -> None:
    """disconnect(i) cuts i from all servers; connect(i) relinks i only with servers that are
    connected themselves."""
    world, trace, net, hosts = cluster()
    net.disconnect("s0")
    net.disconnect("s1")
    assert not any(net.has_link("s0", s) or net.has_link(s, "s0") for s in SERVERS[1:])
    assert net.has_link("s0", "s0")  # a host always reaches itself
    net.connect("s0")
    assert net.has_link("s0", "s2") and net.has_link("s2", "s0")
    assert not net.has_link("s0", "s1") and not net.has_link("s1", "s0")
    net.connect("s1")
    assert net.has_link("s0", "s1") and net.has_link("s1", "s0")


def test_heal_restores_every_link() -> None:
    """heal() links everyone to everyone, both ways."""
    world, trace, net, hosts = cluster(clients=("c0",))
    net.partition([["s0"], ["s1", "s2", "s3", "s4"]])
    net.cut("c0", "s1")
    net.disconnect("s2")
    net.heal()
    everyone = SERVERS + ["c0"]
    assert len(links(net, everyone)) == len(everyone) * (len(everyone) - 1)
    assert net.is_connected("s2")


# ---------------------------------------------------------------- partition shapes

def sees(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, frozenset[str]]:
    return {n: frozenset([n] + [b for a, b in edges if a == n]) for n in nodes}


@pytest.mark.parametrize("n", [3, 4, 5, 7])
def test_component_shapes(n: int) -> None:
    """isolate: one node alone; halves: len//2 and the rest; majority_minority: a smallest
    majority first. Each is a partition of the nodes."""
    nodes = [f"s{i}" for i in range(n)]
    majority = n // 2 + 1
    for groups in (isolate(nodes, nodes[2]), halves(nodes), majority_minority(nodes)):
        assert sorted(itertools.chain(*groups)) == sorted(nodes)
    assert isolate(nodes, "s2")[0] == ["s2"]
    assert [len(g) for g in halves(nodes)] == [n // 2, n - n // 2]
    assert [len(g) for g in majority_minority(nodes)] == [majority, n - majority]


@pytest.mark.parametrize("n", [3, 5, 7])
def test_bridge_shape(n: int) -> None:
    """bridge: two sides that cannot talk, one node linked to both; each side plus the
    bridge is a majority and only the bridge node sees everyone."""
    nodes = [f"s{i}" for i in range(n)]
    edges = bridge(nodes)
    view = sees(nodes, edges)
    assert set(edges) == {(b, a) for a, b in edges}  # symmetric
    full = [x for x in nodes if view[x] == frozenset(nodes)]
    assert len(full) == 1
    others = [x for x in nodes if x != full[0]]
    assert all(len(view[x]) >= n // 2 + 1 for x in nodes)
    sides = nx.Graph([e for e in edges if full[0] not in e])
    sides.add_nodes_from(others)
    assert nx.number_connected_components(sides) == 2


@pytest.mark.parametrize("n", [4, 5, 6, 7, 9])
def test_majorities_ring_shape(n: int) -> None:
    """majorities ring: every node sees a majority (itself included), no two nodes see the
    same set, and no majority-sized set is fully linked."""
    nodes = [f"s{i}" for i in range(n)]
    edges = majorities_ring(nodes)
    view = sees(nodes, edges)
    majority = n // 2 + 1
    assert set(edges) == {(b, a) for a, b in edges}
    assert all(len(v) >= majority for v in view.values())
    assert len(set(view.values())) == n
    linked = set(edges)
    for group in itertools.combinations(nodes, majority):
        assert not all((a, b) in linked for a in group for b in group if a != b)


def test_random_shape_is_deterministic_and_symmetric() -> None:
    """random_edges keeps each link with probability p, drawn from the given stream."""
    nodes = [f"s{i}" for i in range(7)]
    a = random_edges(nodes, 0.5, random.Random(4))
    assert a == random_edges(nodes, 0.5, random.Random(4))
    assert set(a) == {(y, x) for x, y in a}
    assert random_edges(nodes, 1.0, random.Random(0)) and not random_edges(nodes, 0.0,
                                                                          random.Random(0))
    many = random_edges([f"n{i}" for i in range(40)], 0.3, random.Random(1))
    assert 0.25 < len(many) / (40 * 39) < 0.35


def _set_links_pair_by_pair(links: dict[str, dict[str, None]], nodes: list[str],
                            edges: list[tuple[str, str]]) -> None:
    """The rule ``set_links`` implements, one ``_set`` at a time: among ``nodes``, a wanted
    pair is added (its source row, then its destination row, made when missing), any other
    pair is removed; nothing else changes."""
    keep = set(edges)
    for a in nodes:
        for b in nodes:
            if a == b:
                continue
            if (a, b) in keep:
                links.setdefault(a, {})
                links.setdefault(b, {})
                links[a][b] = None
            else:
                links.get(a, {}).pop(b, None)


@given(st.data())
@settings(max_examples=300, deadline=None)
def test_set_links_is_the_pair_by_pair_rule_orders_included(data: st.DataObject) -> None:
    """``set_links`` leaves the same links as setting each pair in turn, down to the order of
    the rows and of each row's successors (which the run's later choices iterate)."""
    addrs = [f"n{i}" for i in range(6)]
    pairs = st.tuples(st.sampled_from(addrs), st.sampled_from(addrs))
    rows = data.draw(st.lists(st.tuples(st.sampled_from(addrs), st.lists(st.sampled_from(addrs),
                                                                         unique=True)),
                              unique_by=lambda r: r[0]))
    nodes = data.draw(st.lists(st.sampled_from(addrs), max_size=7))
    edges = data.draw(st.lists(pairs, max_size=20))
    world, trace, net, hosts = cluster()
    net.links.clear()
    for src, dsts in rows:
        net.links[src] = dict.fromkeys(dsts)
    want = {src: dict(row) for src, row in net.links.items()}
    _set_links_pair_by_pair(want, nodes, edges)
    net.set_links(nodes, edges)
    assert list(net.links) == list(want)
    assert [(src, list(row)) for src, row in net.links.items()] == [
        (src, list(row)) for src, row in want.items()]


def test_set_links_applies_a_shape_to_the_servers() -> None:
    """``set_links(nodes, edges)`` leaves exactly ``edges`` among ``nodes``."""
    world, trace, net, hosts = cluster()
    edges = majorities_ring(SERVERS)
    net.set_links(SERVERS, edges)
    assert links(net, SERVERS) == set(edges)
