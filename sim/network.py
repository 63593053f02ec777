"""The network: links, delays, drops, duplicates and reordering of one run (labrpc's model).

The topology is a directed graph over host addresses (adjacency dicts, ``links``: cheap to
build per run and to test per message); a message from ``src`` to ``dst`` is delivered iff the
edge ``src -> dst`` exists both when it is sent and when it arrives, the destination is up,
and neither endpoint crashed (changed incarnation) in between. Everything else is a drop,
traced with its reason: ``partition``, ``unreliable``, ``down`` or ``stale-incarnation``.

Per message, the ``net`` stream is drawn in this fixed order (only the draws that apply):

1. undeliverable at send (no host, host down, no edge): the failure delay, then stop;
2. unreliable: the short delay (requests only, unless ``short_delay_replies``), then the drop
   draw (``drop_request`` or ``drop_reply``); a dropped message stops here;
3. a reply under ``long_reordering``: the 600/900 draw, then ``randrange(2000)`` and
   ``randrange(1 + that)`` for the extra delay;
4. ``reorder > 0``: the reorder draw, then the extra delay;
5. ``duplicate > 0``: the duplicate draw, then the copy's own extra delay.

A message whose class has ``IS_REPLY = True`` is a reply; anything else is a request. Counting
follows labrpc: ``total_count`` counts every send; ``total_bytes`` adds request bytes at send
and reply bytes only on delivery; ``rpc_count(addr)`` counts requests delivered to ``addr``.
Bytes are ``len(msgspec.msgpack.encode(msg))``.

This module never reads a clock and draws randomness only from the world's ``net`` stream.
"""

from __future__ import annotations

import random
from heapq import heappush as _heappush
from typing import TYPE_CHECKING, Any, Final, Iterable, Sequence

import msgspec
from simpy.events import NORMAL as _NORMAL

from protocols.core import Receive, Send, is_reply
from sim.network_types import NetParams
from sim.trace import Trace
from sim.world import COMPILED, World, heap_push

# Final: C statics in the compiled build, where a plain module-level name is a dict lookup.
NORMAL: Final = _NORMAL
_PUSH: Final = _heappush
_Receive: Final = Receive

if TYPE_CHECKING:
    from sim.host import Host

__all__ = [
    "NetParams", "Network", "AddrStats",
    "isolate", "halves", "majority_minority", "bridge", "majorities_ring", "random_edges",
    "group_edges",
]

Edge = tuple[str, str]


_ADDR_STATS: Final = ("sent", "sent_bytes", "received", "received_bytes", "rpcs")


class AddrStats:
    """Traffic counters of one address."""

    __slots__ = _ADDR_STATS

    def __init__(self) -> None:
        self.sent = self.sent_bytes = self.received = self.received_bytes = self.rpcs = 0

    def as_dict(self) -> dict[str, int]:
        # (not ``self.__slots__``: a class compiled by mypyc has none)
        return {k: getattr(self, k) for k in _ADDR_STATS}

    def __repr__(self) -> str:
        return f"AddrStats({self.as_dict()})"


class Network:
    """Carries messages between hosts under ``params`` and the current topology."""

    def __init__(self, world: World, trace: Trace, params: NetParams | None = None) -> None:
        self.world = world
        self.trace = trace
        #: The topology: ``links[src]`` holds every ``dst`` that ``src`` can reach now, in the
        #: order the links were made (address -> None); addresses in the order they were added.
        self.links: dict[str, dict[str, None]] = {}
        self._succ = self.links
        self.hosts: dict[str, Host] = {}
        self.servers: list[str] = []
        self.clients: list[str] = []
        self._connected: dict[str, bool] = {}
        self.stats: dict[str, AddrStats] = {}
        self.total_count = 0
        self.total_bytes = 0
        self.delivered = 0
        self.dropped = 0
        self._next_id = 0
        self._rng: random.Random = world.rng("net")
        # labrpc's byte counts: the msgpack length, encoded into one reused buffer (no bytes
        # object a message); ``encode_into`` leaves the buffer exactly the encoding's length.
        self._size_into = msgspec.msgpack.Encoder().encode_into
        self._size_buf: bytearray = bytearray()
        self._reply_types: dict[type, bool] = {}
        self._queue = world.queue          # pushed onto as ``env.schedule`` does: hot path
        self._eid = world.eid
        self._add = trace.add
        self._buffer, self._batch, self._flush = trace.buffer, trace.batch, trace.flush
        # A message in flight is one plain call on the world's queue (``sim.world``): its
        # arrival ``(_arrive, (mid, src, dst, msg, size, reply, sh, sinc, dh, dinc))``, with
        # both hosts and their incarnations at send time, or, when its fate is sealed at send,
        # its drop ``(_fail, (mid, src, dst, reason))``. No event object per message.
        self._arrive_call = self._arrive
        self._fail_call = self._fail
        self.set_params(params or NetParams())
        world.networks.append(self)       # the run reports its traffic from the world

    # ------------------------------------------------------------ configuration

    def set_params(self, params: NetParams) -> None:
        """Replace the behaviour parameters; applies to messages sent from now on."""
        self.params = params
        lo, hi = params.short_delay
        self._short_lo, self._short_span = lo, hi - lo
        self._short_replies = params.short_delay_replies
        self._drop_request, self._drop_reply = params.drop_request, params.drop_reply
        self._reliable = params.reliable
        self._reliable_delay = params.reliable_delay
        self._extras = bool(params.long_reordering or params.reorder or params.duplicate)
        #: Whether messages may be delivered twice (``params.duplicate > 0``), read per step.
        self.duplicating = bool(params.duplicate)

    def attach(self, host: "Host", server: bool = True) -> None:
        """Add ``host`` to the topology, linked both ways to every attached address (and to
        itself: no shape ever cuts a self-link)."""
        addr = host.addr
        if addr in self.hosts:
            raise ValueError(f"address {addr!r} is already attached")
        others = list(self.links)
        self.hosts[addr] = host
        (self.servers if server else self.clients).append(addr)
        self._connected[addr] = True
        self.stats[addr] = AddrStats()
        self._add_edge(addr, addr)  # a host can always reach itself
        for other in others:
            self._add_edge(addr, other)
            self._add_edge(other, addr)

    # ------------------------------------------------------------ sending

    def send(self, src: str, dst: str, msg: Any) -> None:
        """Send ``msg`` from host ``src`` to ``dst`` (hosts use ``transmit`` directly)."""
        self.transmit(self.hosts[src], Send(dst, msg))

    def _is_reply(self, msg: Any) -> bool:
        reply = self._reply_types[type(msg)] = is_reply(msg)
        return reply

    def transmit(self, sh: "Host", effect: Send) -> None:
        """The send path of a ``Send`` effect of host ``sh``: count, trace, draw
        the fate of the message and schedule it."""
        dst = effect.dst
        msg = effect.msg
        cls = type(msg)
        reply = self._reply_types.get(cls)
        if reply is None:
            reply = self._is_reply(msg)
        buf = self._size_buf
        self._size_into(msg, buf)
        size = len(buf)
        src = sh.addr
        st = self.stats[src]
        st.sent += 1
        st.sent_bytes += size
        self.total_count += 1
        if not reply:
            self.total_bytes += size
        mid = self._next_id = self._next_id + 1
        now = self.world._now                                    # env.now without its call
        self._buffer.append((now, "send", mid, src, dst, msg))   # flushed by what follows
        dh = self.hosts.get(dst)
        if dh is None or not dh.up or dst not in self._succ[src]:
            self._undeliverable(mid, src, dst, dh)
            return
        if self._reliable:
            delay = self._reliable_delay
        else:  # labrpc's unreliable network: short delay (requests), then the drop draw
            rng = self._rng
            delay = 0.0
            if not reply or self._short_replies:
                delay = self._short_lo + self._short_span * rng.random()
            if rng.random() < (self._drop_reply if reply else self._drop_request):
                self._lost(mid, src, dst, "unreliable", delay)
                return
        args = (mid, src, dst, msg, size, reply, sh, sh.incarnation, dh, dh.incarnation)
        if self._extras:
            delay = self._extra_fates(mid, src, dst, reply, args, delay)
        entry = (now + delay, NORMAL, next(self._eid), (self._arrive_call, args))
        heap_push(self._queue, entry) if COMPILED else _PUSH(self._queue, entry)

    def _lost(self, mid: int, src: str, dst: str, reason: str, delay: float) -> None:
        """The message is lost: its drop is recorded ``delay`` ms from now."""
        entry = (self.world._now + delay, NORMAL, next(self._eid),
                 (self._fail_call, (mid, src, dst, reason)))
        heap_push(self._queue, entry) if COMPILED else _PUSH(self._queue, entry)

    def _undeliverable(self, mid: int, src: str, dst: str, dh: "Host | None") -> None:
        """labrpc: no server or no link; the failure shows after a delay, the message is lost."""
        reason = "partition" if dh is not None and dh.up else "down"
        p = self.params
        wait = (p.long_fail_delay if p.long_delays else p.fail_delay) * self._rng.random()
        self._lost(mid, src, dst, reason, wait)

    def _extra_fates(self, mid: int, src: str, dst: str, reply: bool, args: tuple,
                     delay: float) -> float:
        """Long reordering, reordering and duplication (a copy arriving with the same
        ``_arrive`` arguments); returns the (longer) delay."""
        p = self.params
        rng = self._rng
        if reply and p.long_reordering and rng.random() < 600 / 900:
            delay += 200 + rng.randrange(1 + rng.randrange(2000))
        if p.reorder and rng.random() < p.reorder:
            delay += self._extra_delay()
        if p.duplicate and rng.random() < p.duplicate:
            self._buffer.append((self.world._now, "dup", mid, src, dst))
            copy_delay = delay + self._extra_delay()
            entry = (self.world._now + copy_delay, NORMAL, next(self._eid),
                     (self._arrive_call, args))
            heap_push(self._queue, entry) if COMPILED else _PUSH(self._queue, entry)
        return delay

    def _extra_delay(self) -> float:
        lo, hi = self.params.reorder_delay
        return lo + (hi - lo) * self._rng.random()

    # ------------------------------------------------------------ arriving

    def _arrive(self, mid: int, src: str, dst: str, msg: Any, size: int, reply: bool,
                sh: "Host", sinc: int, dh: "Host", dinc: int) -> None:
        if dh.incarnation != dinc or sh.incarnation != sinc or dst not in self._succ[src]:
            self._fail(mid, src, dst, self._reason(sh, sinc, dh, dinc))
            return
        self.delivered += 1
        st = self.stats[dst]
        st.received += 1
        st.received_bytes += size
        if reply:
            self.total_bytes += size
        else:
            st.rpcs += 1
        buf = self._buffer                    # trace.add, without its frame
        buf.append((self.world._now, "deliver", mid, src, dst))
        if len(buf) >= self._batch:
            self._flush()
        dh._run(_Receive(src, msg))           # Host.receive, without its frame

    @staticmethod
    def _reason(sh: "Host", sinc: int, dh: "Host", dinc: int) -> str:
        if not dh.up:
            return "down"
        if dh.incarnation != dinc or sh.incarnation != sinc:
            return "stale-incarnation"
        return "partition"

    def _fail(self, mid: int, src: str, dst: str, reason: str) -> None:
        self.dropped += 1
        self._add((self.world._now, "drop", mid, src, dst, reason))

    # ------------------------------------------------------------ statistics

    def rpc_count(self, addr: str) -> int:
        """Requests delivered to ``addr`` (labrpc's ``GetCount``)."""
        return self.stats[addr].rpcs

    # ------------------------------------------------------------ topology

    def has_link(self, src: str, dst: str) -> bool:
        """True if messages from ``src`` to ``dst`` can currently pass."""
        return dst in self._succ.get(src, ())

    def _add_edge(self, src: str, dst: str) -> None:
        links = self.links
        if src not in links:
            links[src] = {}
        if dst not in links:
            links[dst] = {}
        links[src][dst] = None

    def _set(self, src: str, dst: str, up: bool) -> None:
        if up:
            self._add_edge(src, dst)
        else:
            self.links.get(src, {}).pop(dst, None)

    def set_links(self, nodes: Sequence[str], edges: Iterable[Edge]) -> None:
        """Among ``nodes``, keep exactly the directed ``edges``; other links are untouched.

        Each pair is set as ``_set`` would, in the same order (so ``links`` and its rows keep
        the same order), with a row's wanted successors found in a set by address: faults
        change the links every few virtual milliseconds in a random campaign."""
        keep: dict[str, set[str]] = {}
        for src, dst in edges:
            wanted = keep.get(src)
            if wanted is None:
                keep[src] = {dst}
            else:
                wanted.add(dst)
        links = self.links
        none: set[str] = set()
        for a in nodes:
            wanted = keep.get(a, none)
            row = links.get(a)
            for b in nodes:
                if a == b:
                    continue
                if b in wanted:                     # _add_edge(a, b)
                    if row is None:
                        row = links[a] = {}
                    if b not in links:
                        links[b] = {}
                    row[b] = None
                elif row is not None:               # _set(a, b, False)
                    row.pop(b, None)

    def partition(self, groups: Sequence[Sequence[str]]) -> None:
        """Link nodes of the same group both ways and cut links across groups."""
        nodes = [n for g in groups for n in g]
        self.set_links(nodes, group_edges(groups))

    def disconnect(self, node: str, peers: Sequence[str] | None = None) -> None:
        """Cut every link between ``node`` and ``peers`` (default: the other servers)."""
        self._connected[node] = False
        for peer in self.servers if peers is None else peers:
            if peer != node:
                self._set(node, peer, False)
                self._set(peer, node, False)

    def connect(self, node: str, peers: Sequence[str] | None = None) -> None:
        """Restore links between ``node`` and the connected ones among ``peers`` (default:
        the servers), as the Raft tester's ``connect(i)`` does."""
        self._connected[node] = True
        for peer in self.servers if peers is None else peers:
            if peer != node and self._connected.get(peer, False):
                self._set(node, peer, True)
                self._set(peer, node, True)

    def is_connected(self, node: str) -> bool:
        """False between ``disconnect(node)`` and ``connect(node)`` / ``heal()``."""
        return self._connected[node]

    def cut(self, src: str, dst: str) -> None:
        """Remove the one-way link ``src -> dst``."""
        self._set(src, dst, False)

    def uncut(self, src: str, dst: str) -> None:
        """Restore the one-way link ``src -> dst``."""
        self._set(src, dst, True)

    def heal(self) -> None:
        """Link every attached address to every other, both ways; everyone is connected."""
        nodes = list(self.links)
        for a in nodes:
            self._connected[a] = True
            for b in nodes:
                if a != b:
                    self._add_edge(a, b)


# ---------------------------------------------------------------- partition shapes
# Each shape is a pure function of the node order it is given; shuffle first for variety.

def group_edges(groups: Sequence[Sequence[str]]) -> list[Edge]:
    """The directed edges linking every pair inside each group."""
    return [(a, b) for g in groups for a in g for b in g if a != b]


def isolate(nodes: Sequence[str], node: str) -> list[list[str]]:
    """``node`` alone; everyone else together."""
    return [[node], [n for n in nodes if n != node]]


def halves(nodes: Sequence[str]) -> list[list[str]]:
    """Two sides of ``len // 2`` and the rest: no majority on either side when even."""
    k = len(nodes) // 2
    return [list(nodes[:k]), list(nodes[k:])]


def majority_minority(nodes: Sequence[str]) -> list[list[str]]:
    """A smallest majority (first) and the minority that remains."""
    k = len(nodes) // 2 + 1
    return [list(nodes[:k]), list(nodes[k:])]


def bridge(nodes: Sequence[str]) -> list[Edge]:
    """Two minorities and one node linked to both: each side plus the bridge is a majority,
    and only the bridge node sees everyone. Needs at least 3 nodes."""
    if len(nodes) < 3:
        raise ValueError("bridge needs at least 3 nodes")
    k = (len(nodes) - 1) // 2
    mid = nodes[k]
    left, right = list(nodes[:k]), list(nodes[k + 1:])
    edges = group_edges([left, right])
    edges += [e for n in list(left) + right for e in ((mid, n), (n, mid))]
    return edges


def majorities_ring(nodes: Sequence[str]) -> list[Edge]:
    """Each node linked to its ring neighbours so that it sees a majority (itself included),
    yet no two nodes see the same majority and no majority is fully linked. Needs >= 4 nodes."""
    n = len(nodes)
    if n < 4:
        raise ValueError("majorities_ring needs at least 4 nodes")
    reach = (n // 2 + 1) // 2  # neighbours on each side: 1 + 2*reach >= majority
    edges = []
    for i, a in enumerate(nodes):
        for d in range(1, reach + 1):
            edges += [(a, nodes[(i + d) % n]), (a, nodes[(i - d) % n])]
    return list(dict.fromkeys(edges))


def random_edges(nodes: Sequence[str], p: float, rng: random.Random,
                 directed: bool = False) -> list[Edge]:
    """Each link kept with probability ``p`` (both directions together unless ``directed``)."""
    edges = []
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            if directed:
                edges += [e for e in ((a, b), (b, a)) if rng.random() < p]
            elif rng.random() < p:
                edges += [(a, b), (b, a)]
    return edges
