"""A synchronous cluster of step functions, without SimPy or a clock: every choice is the caller's.

Owns one rule book, ``Cluster``: given the step function and initial state of each address, it
maps a ``ClusterState`` and a choice (step a node, deliver / drop / duplicate the k-th message
in flight, fire an armed timer, crash, restart) to the next ``ClusterState`` and the effects
that happened. A ``ClusterState`` is an immutable, hashable value: per node its protocol state,
its disk (``Durable`` or None), whether it is up and its armed timers in arming order; and the
messages in flight as a tuple of ``InFlight(src, dst, msg)``. So a search can hash it,
deduplicate it and branch from it for free; ``Driver`` is a mutable handle for tests.

Effects are performed as the SimPy ``Host`` performs them, by the same code (``sim.effects``):
``Persist`` by the persist rule, a crash after ``k`` effects loses the rest. ``Send`` appends
to the messages in flight (a message to a known node that is down is lost at once, as on the
SimPy network); ``SetTimer`` arms (re-arming moves the kind to the end), ``CancelTimer``
disarms; everything else (``Apply``, ``ApplySnapshot``, ``ClientDone``, ``Proposed``,
``RoleChanged``, ``Note`` and any type given as ``observe``) is returned to the caller.

A crash drops the node's protocol state, its timers and every message to or from it (sent by
or owed to the old incarnation, as the SimPy network does); only its disk survives. With
``keep_sent`` the messages it sent stay on the wire: a network where what was sent outlives its
sender. A restart runs ``step(init(), Restart(durable))``.

Never imports simpy, never reads a clock or a random source; knows no protocol.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple

import msgspec

from protocols.core import (
    Apply, ApplySnapshot, CancelTimer, ClientDone, Durable, Effects, Note, Persist, Propose,
    Proposed, Receive, Restart, RoleChanged, Send, SetTimer, StepFn, TimerFired,
)
from sim.effects import perform, perform_until_crash, persisted

__all__ = [
    "NodeSpec", "Node", "InFlight", "ClusterState", "Cluster", "Driver", "OBSERVATIONS",
    "proposed",
]

#: Effects the cluster does not perform but hands back to the caller.
OBSERVATIONS: tuple[type, ...] = (Apply, ApplySnapshot, ClientDone, Proposed, RoleChanged, Note)


class NodeSpec(NamedTuple):
    """How to run one address: its step function and a fresh state before ``Restart``."""
    step: StepFn
    init: Callable[[], Any]


class Node(msgspec.Struct, frozen=True, cache_hash=True):
    """One node's part of a ``ClusterState``. Down: ``state`` None, no timers."""
    state: Any = None
    durable: Durable | None = None
    up: bool = False
    timers: tuple[str, ...] = ()


class InFlight(NamedTuple):
    """A message on the wire from ``src`` to ``dst``."""
    src: str
    dst: str
    msg: Any


class ClusterState(msgspec.Struct, frozen=True, cache_hash=True):
    """The whole cluster: ``nodes`` in the order of ``Cluster.addrs``, messages in flight."""
    nodes: tuple[Node, ...]
    inflight: tuple[InFlight, ...] = ()


def proposed(effects: Iterable[Any]) -> Proposed | None:
    """The ``Proposed`` effect among ``effects``, if any (the answer to ``Propose``)."""
    return next((e for e in effects if type(e) is Proposed), None)


def _position(inflight: tuple[InFlight, ...], k: int) -> int:
    """``k`` as a position in ``inflight`` (negative counts from the end); IndexError if none."""
    return range(len(inflight))[k]


def _without(timers: tuple[str, ...], kind: str) -> tuple[str, ...]:
    return tuple(t for t in timers if t != kind) if kind in timers else timers


def _all_up(nodes: tuple[Node, ...]) -> bool:
    for node in nodes:
        if not node.up:
            return False
    return True


def _ignore(effect: Any) -> None:
    """An observation: the caller gets it in the returned effects."""


class _Performer:
    """Performs one step's effects of node ``addr`` into fresh values."""

    __slots__ = ("addr", "durable", "timers", "sent", "ordered")

    def __init__(self, addr: str, durable: Durable | None, timers: tuple[str, ...],
                 ordered: bool = True) -> None:
        self.addr = addr
        self.durable = durable
        self.timers = timers
        self.sent: list[InFlight] = []
        self.ordered = ordered

    def handlers(self, observe: Mapping[type, Callable[[Any], None]]) -> dict[type, Any]:
        return {**observe, Persist: self.persist, Send: self.send,
                SetTimer: self.set_timer, CancelTimer: self.cancel_timer}

    def persist(self, effect: Persist) -> None:
        self.durable = persisted(self.durable, effect)

    def send(self, effect: Send) -> None:
        self.sent.append(InFlight(self.addr, effect.dst, effect.msg))

    def set_timer(self, effect: SetTimer) -> None:
        if self.ordered:
            self.timers = _without(self.timers, effect.kind) + (effect.kind,)
        elif effect.kind not in self.timers:
            self.timers = tuple(sorted(self.timers + (effect.kind,)))

    def cancel_timer(self, effect: CancelTimer) -> None:
        self.timers = _without(self.timers, effect.kind)


#: What a step does to its node: the node after it (down after a crash), every message it
#: sent (before those to a node that is down are lost) and the effects that happened.
_Outcome = tuple[Node, tuple[InFlight, ...], Effects]


class Cluster:
    """The rule book of a synchronous cluster: which step function runs at each address.

    Holds no state: every operation takes a ``ClusterState`` and returns a new one (the old
    one is unchanged, so branching is free). Choices the caller must not make (stepping a
    node that is down, firing a timer that is not armed) raise ``ValueError``.

    ``keep_sent``: the messages a node sent before it crashed stay on the wire (only those to
    it are lost). By default they are lost too, as on the SimPy network, which never delivers
    a message from or to an incarnation that has ended.

    ``memo=N`` remembers what a step did to a node (step functions are deterministic: the
    same node and event always give the same node, messages and effects), for up to N steps
    at a time, and shares equal nodes: a search that meets the same node again and again (the
    explorer) then runs its step function once. The effects returned are shared with later
    calls: read them, never change them.

    ``timer_order=False`` keeps a node's armed timers sorted by kind instead of in arming order
    (re-arming an armed timer changes nothing): for a search that may fire any armed timer at
    any moment, the order carries no information, and states that differ only in it are one.
    """

    def __init__(self, nodes: Mapping[str, NodeSpec | tuple[StepFn, Callable[[], Any]]],
                 observe: Iterable[type] = OBSERVATIONS, *, keep_sent: bool = False,
                 memo: int = 0, timer_order: bool = True) -> None:
        self.addrs: tuple[str, ...] = tuple(nodes)
        self.specs: tuple[NodeSpec, ...] = tuple(NodeSpec(*nodes[a]) for a in self.addrs)
        self.index: dict[str, int] = {a: i for i, a in enumerate(self.addrs)}
        self.keep_sent = keep_sent
        self.timer_order = timer_order
        self._observe: dict[type, Callable[[Any], None]] = {t: _ignore for t in observe}
        self._memo_limit = max(0, memo)
        self._memo: dict[Any, _Outcome] = {}
        self._shared: dict[Node, Node] = {}
        self._fired: dict[str, TimerFired] = {}

    # ------------------------------------------------------------ states

    def blank(self) -> ClusterState:
        """Every node down with a blank disk; nothing in flight."""
        return ClusterState(tuple(Node() for _ in self.addrs))

    def start(self) -> ClusterState:
        """``blank()`` then every node restarted, in address order."""
        state = self.blank()
        for addr in self.addrs:
            state, _ = self.restart(state, addr)
        return state

    def node(self, state: ClusterState, addr: str) -> Node:
        """The node at ``addr``."""
        return state.nodes[self._at(addr)]

    def armed(self, state: ClusterState) -> list[tuple[str, str]]:
        """Every ``(addr, kind)`` that ``fire`` accepts, in address then arming order."""
        return [(a, kind) for a, node in zip(self.addrs, state.nodes) for kind in node.timers]

    # ------------------------------------------------------------ transitions

    def step(self, state: ClusterState, addr: str, event: Any,
             crash_after: int | None = None) -> tuple[ClusterState, Effects]:
        """Feed ``event`` to ``addr`` and perform the effects; with ``crash_after=k`` only the
        first ``k`` happen and the node crashes. Returns the effects that happened. (Any event
        goes, e.g. a ``TimerFired`` for a timer that is not armed; the armed timers change only
        by effects: ``fire`` is the timer transition.)"""
        i = self._up(state, addr)
        node = state.nodes[i]
        out = self._outcome(i, node, event, crash_after, None)
        return self._apply(state.nodes, state.inflight, i, out)

    def deliver(self, state: ClusterState, k: int,
                crash_after: int | None = None) -> tuple[ClusterState, Effects]:
        """Take the ``k``-th message off the wire and step its destination with ``Receive``.
        A message to an address outside the cluster is only taken off the wire."""
        inflight = state.inflight
        k = _position(inflight, k)
        src, dst, msg = inflight[k]
        rest = inflight[:k] + inflight[k + 1:]
        i = self.index.get(dst)
        if i is None or not state.nodes[i].up:
            return ClusterState(state.nodes, rest), []
        node = state.nodes[i]
        out = self._outcome(i, node, Receive(src, msg), crash_after, None)
        return self._apply(state.nodes, rest, i, out)

    def drop(self, state: ClusterState, k: int) -> ClusterState:
        """Lose the ``k``-th message in flight."""
        inflight = state.inflight
        k = _position(inflight, k)
        return ClusterState(state.nodes, inflight[:k] + inflight[k + 1:])

    def duplicate(self, state: ClusterState, k: int) -> ClusterState:
        """Put a copy of the ``k``-th message in flight at the end of the wire."""
        inflight = state.inflight
        return ClusterState(state.nodes, inflight + (inflight[_position(inflight, k)],))

    def fire(self, state: ClusterState, addr: str, kind: str,
             crash_after: int | None = None) -> tuple[ClusterState, Effects]:
        """Fire the armed timer ``kind`` of ``addr``: disarm it and step ``TimerFired``."""
        i = self._up(state, addr)
        node = state.nodes[i]
        if kind not in node.timers:
            raise ValueError(f"{addr}: timer {kind!r} is not armed")
        out = self._outcome(i, node, TimerFired(kind), crash_after, kind)
        return self._apply(state.nodes, state.inflight, i, out)

    def deliveries(self, state: ClusterState,
                   ) -> Iterator[tuple[int, InFlight, Receive | None, ClusterState, Effects]]:
        """``deliver(state, k)`` for every message in flight, identical copies once (the
        first): ``(k, message, event, state after, effects)``, ``event`` None when the message
        is only taken off the wire (its destination is down or outside the cluster). The
        explorer's hot path: the same results as ``deliver``, fewer steps to get them."""
        nodes, inflight, index = state.nodes, state.inflight, self.index
        whole = _all_up(nodes)
        for k, m in enumerate(inflight):
            if k and m in inflight[:k]:
                continue
            src, dst, msg = m
            rest = inflight[:k] + inflight[k + 1:]
            i = index.get(dst)
            if i is None or not nodes[i].up:
                yield k, m, None, ClusterState(nodes, rest), []
                continue
            event = Receive(src, msg)
            out = self._outcome(i, nodes[i], event, None, None)
            after, effects = self._apply(nodes, rest, i, out, whole)
            yield k, m, event, after, effects

    def firings(self, state: ClusterState,
                ) -> Iterator[tuple[str, str, TimerFired, ClusterState, Effects]]:
        """``fire`` of every armed timer, in ``armed`` order: ``(addr, kind, event, state
        after, effects)`` (the explorer's hot path, as ``deliveries``)."""
        nodes, inflight, events = state.nodes, state.inflight, self._fired
        whole = _all_up(nodes)
        for i, node in enumerate(nodes):
            for kind in node.timers:
                event = events.get(kind)
                if event is None:
                    event = events[kind] = TimerFired(kind)
                out = self._outcome(i, node, event, None, kind)
                after, effects = self._apply(nodes, inflight, i, out, whole)
                yield self.addrs[i], kind, event, after, effects

    def crash(self, state: ClusterState, addr: str) -> ClusterState:
        """Crash ``addr`` (no-op if down): it keeps only its disk; its timers and the messages
        to it are gone, and so are those it sent unless ``keep_sent``."""
        i = self._at(addr)
        node = state.nodes[i]
        if not node.up:
            return state
        return self._crashed(state.nodes, state.inflight, i, Node(None, node.durable))

    def restart(self, state: ClusterState, addr: str,
                crash_after: int | None = None) -> tuple[ClusterState, Effects]:
        """Crash ``addr`` if up, then boot it: ``step(init(), Restart(durable))``."""
        state = self.crash(state, addr)
        i = self.index[addr]
        durable = state.nodes[i].durable
        out = self._run(i, self.specs[i].init(), durable, (), Restart(durable), crash_after)
        return self._apply(state.nodes, state.inflight, i, out)

    def put_state(self, state: ClusterState, addr: str, proto: Any) -> ClusterState:
        """The same cluster with ``proto`` as the protocol state of the up node ``addr``."""
        i = self._up(state, addr)
        node = msgspec.structs.replace(state.nodes[i], state=proto)
        return ClusterState(state.nodes[:i] + (node,) + state.nodes[i + 1:], state.inflight)

    def propose(self, state: ClusterState, addr: str,
                command: Any) -> tuple[ClusterState, Effects]:
        """Step ``Propose(command)`` (Raft's Start); ``proposed(effects)`` is the answer."""
        return self.step(state, addr, Propose(command))

    # ------------------------------------------------------------ mechanics

    def _at(self, addr: str) -> int:
        try:
            return self.index[addr]
        except KeyError:
            raise ValueError(f"no node at {addr!r}") from None

    def _up(self, state: ClusterState, addr: str) -> int:
        i = self._at(addr)
        if not state.nodes[i].up:
            raise ValueError(f"{addr} is down")
        return i

    def _outcome(self, i: int, node: Node, event: Any, crash_after: int | None,
                 fired: str | None) -> _Outcome:
        """What stepping ``event`` does to ``node`` (remembered with ``memo``); ``fired``: the
        armed timer that fired (disarmed before the step)."""
        key: tuple[Any, ...] | None
        if self._memo_limit:
            key = (i, node, event, crash_after, fired is not None)
            try:
                return self._memo[key]
            except KeyError:
                pass
            except TypeError:      # a state that cannot be hashed: nothing is remembered
                key = None
        else:
            key = None
        timers = node.timers if fired is None else _without(node.timers, fired)
        out = self._run(i, node.state, node.durable, timers, event, crash_after)
        if key is None:
            return out
        memo, shared = self._memo, self._shared
        if len(memo) >= self._memo_limit:
            memo.clear()
            shared.clear()
        after = shared.setdefault(out[0], out[0])
        memo[key] = out = (after, out[1], out[2])
        return out

    def _run(self, i: int, proto: Any, durable: Durable | None, timers: tuple[str, ...],
             event: Any, crash_after: int | None) -> _Outcome:
        addr = self.addrs[i]
        proto, effects = self.specs[i].step(proto, event)
        if type(effects) is not list:
            effects = list(effects)
        out = _Performer(addr, durable, timers, self.timer_order)
        handlers = out.handlers(self._observe)
        if crash_after is not None:
            lost = perform_until_crash(handlers, effects, crash_after, addr)
            return (Node(None, out.durable), tuple(out.sent) if self.keep_sent else (),
                    effects[:len(effects) - lost])
        perform(handlers, effects, addr)
        return Node(proto, out.durable, True, out.timers), tuple(out.sent), effects

    def _apply(self, nodes: tuple[Node, ...], inflight: tuple[InFlight, ...], i: int,
               out: _Outcome, whole: bool = False) -> tuple[ClusterState, Effects]:
        """The cluster after node ``i`` stepped with outcome ``out``; ``whole``: every node
        is up (no message it sent is lost at once)."""
        node, sent, effects = out
        if sent and not whole:
            index = self.index
            for m in sent:
                j = index.get(m.dst)
                if j is not None and j != i and not nodes[j].up:
                    # to a node that is down: lost (the SimPy network drops it at send)
                    sent = tuple(m for m in sent if self._reaches(m, i, nodes))
                    break
        if not node.up:
            return self._crashed(nodes, inflight + sent, i, node), effects
        if sent:
            inflight = inflight + sent
        return ClusterState(nodes[:i] + (node,) + nodes[i + 1:], inflight), effects

    def _reaches(self, m: InFlight, i: int, nodes: tuple[Node, ...]) -> bool:
        """``m``, sent by node ``i``, goes on the wire: its destination is up, is ``i`` itself
        or is outside the cluster."""
        j = self.index.get(m.dst)
        return j is None or j == i or nodes[j].up

    def _crashed(self, nodes: tuple[Node, ...], inflight: tuple[InFlight, ...], i: int,
                 down: Node) -> ClusterState:
        addr = self.addrs[i]
        if self.keep_sent:
            kept = tuple(m for m in inflight if m.dst != addr)
        else:
            kept = tuple(m for m in inflight if m.src != addr and m.dst != addr)
        return ClusterState(nodes[:i] + (down,) + nodes[i + 1:], kept)


class Driver:
    """A mutable handle on a ``Cluster`` for tests: the current ``state``, the steps taken.

    Every step (including boots) calls ``observe(addr, event, effects)`` with the effects that
    happened: it appends to ``history`` when recording and calls ``on_step``; subclasses that
    know a protocol extend it. Messages delivered to addresses outside the cluster (a test
    playing a client by hand) are kept in ``outside``.
    """

    def __init__(self, cluster: Cluster, state: ClusterState | None = None, *,
                 record: bool = False,
                 on_step: Callable[[str, Any, Effects], None] | None = None) -> None:
        self.cluster = cluster
        self.state = cluster.blank() if state is None else state
        self.history: list[tuple[str, Any, Effects]] | None = [] if record else None
        self.outside: list[InFlight] = []
        self.on_step = on_step

    def observe(self, addr: str, event: Any, effects: Effects) -> None:
        """Called after every step with the effects that happened."""
        if self.history is not None:
            self.history.append((addr, event, effects))
        if self.on_step is not None:
            self.on_step(addr, event, effects)

    # ------------------------------------------------------------ views

    @property
    def inflight(self) -> tuple[InFlight, ...]:
        return self.state.inflight

    def node(self, addr: str) -> Node:
        return self.cluster.node(self.state, addr)

    def up(self, addr: str) -> bool:
        return self.node(addr).up

    def timers(self, addr: str) -> tuple[str, ...]:
        """Armed timer kinds of ``addr``, in arming order."""
        return self.node(addr).timers

    def armed(self) -> list[tuple[str, str]]:
        return self.cluster.armed(self.state)

    def put_state(self, addr: str, proto: Any) -> None:
        """Replace the protocol state of the up node ``addr`` (a test's crafted situation)."""
        self.state = self.cluster.put_state(self.state, addr, proto)

    # ------------------------------------------------------------ transitions

    def boot(self) -> None:
        """Restart every node, in address order."""
        for addr in self.cluster.addrs:
            self.restart(addr)

    def step(self, addr: str, event: Any, crash_after: int | None = None) -> Effects:
        self.state, effects = self.cluster.step(self.state, addr, event, crash_after)
        self.observe(addr, event, effects)
        return effects

    def deliver(self, k: int = 0, crash_after: int | None = None) -> Effects:
        src, dst, msg = m = self.state.inflight[k]
        known = dst in self.cluster.index
        stepped = known and self.up(dst)
        self.state, effects = self.cluster.deliver(self.state, k, crash_after)
        if not known:
            self.outside.append(m)
        if stepped:
            self.observe(dst, Receive(src, msg), effects)
        return effects

    def drop(self, k: int = 0) -> InFlight:
        m = self.state.inflight[k]
        self.state = self.cluster.drop(self.state, k)
        return m

    def drop_all(self, where: Callable[[InFlight], bool] | None = None) -> None:
        """Lose every message in flight (or every one ``where`` accepts)."""
        keep = () if where is None else tuple(m for m in self.state.inflight if not where(m))
        self.state = ClusterState(self.state.nodes, keep)

    def duplicate(self, k: int = 0) -> None:
        self.state = self.cluster.duplicate(self.state, k)

    def fire(self, addr: str, kind: str, crash_after: int | None = None) -> Effects:
        self.state, effects = self.cluster.fire(self.state, addr, kind, crash_after)
        self.observe(addr, TimerFired(kind), effects)
        return effects

    def crash(self, addr: str) -> None:
        self.state = self.cluster.crash(self.state, addr)

    def restart(self, addr: str, crash_after: int | None = None) -> Effects:
        event = Restart(self.node(addr).durable)
        self.state, effects = self.cluster.restart(self.state, addr, crash_after)
        self.observe(addr, event, effects)
        return effects

    def propose(self, addr: str, command: Any) -> Proposed | None:
        """Raft's Start at ``addr``: the ``Proposed`` answer, or None if there was none."""
        return proposed(self.step(addr, Propose(command)))

    def deliver_all(self, limit: int = 20_000, cut: Iterable[str] = ()) -> None:
        """Deliver in FIFO order until nothing is in flight; messages to or from an address
        in ``cut`` are lost. Raises RuntimeError after ``limit`` messages."""
        cut = frozenset(cut)
        for _ in range(limit):
            if not self.state.inflight:
                return
            src, dst, _ = self.state.inflight[0]
            if src in cut or dst in cut:
                self.drop(0)
            else:
                self.deliver(0)
        raise RuntimeError(f"network did not quiesce after {limit} messages")
