"""The explorer's state graph: global states and the transitions enabled in each.

Owns the rules of the graph, on top of ``sim.cluster``: an ``XState`` is a ``ClusterState``
(every node's protocol state, disk, up flag and armed timers; the messages in flight) plus what
the search must remember to stay within its budgets (faults and operations spent, the isolated
server if any) and the properties' history (``ghost``, one value per property). A ``Model``
names the cluster and what the workload may do; ``successors`` lists every enabled transition,
in a fixed order, as a ``Label`` (readable, and enough to take the same step again) with the
step it performed.

Never reads a clock or a random source; knows no protocol (targets.py does).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, NamedTuple, Sequence

import msgspec

from protocols.core import Effects, Propose, Receive, Restart, TakeSnapshot
from sim.cluster import Cluster, ClusterState, InFlight, Node
from sim.explore.links import lose_appended, lose_oldest, run_of

__all__ = [
    "Bounds", "Label", "XState", "Step", "Model", "successors", "take", "describe",
    "OPS", "CRASHES", "DROPS", "DUPS", "PARTITIONS", "SPENT_NAMES", "BoundsError",
    "OVERFLOWS", "lose_oldest",
]

_UNSEEN: Any = object()      # not in a memo

#: Positions in ``XState.spent``.
OPS, CRASHES, DROPS, DUPS, PARTITIONS = range(5)
SPENT_NAMES = ("ops", "crashes", "drops", "duplicates", "partitions")
#: What a send onto a link that already holds ``per_link`` messages does (``Bounds.overflow``):
#: ``stop``, the state is judged but not expanded; ``lose-oldest``, the oldest message on the
#: link is lost (a lossy network: the link keeps its newest ``per_link`` messages).
OVERFLOWS = ("stop", "lose-oldest")


class BoundsError(ValueError):
    """Bounds that are negative or absurd (the command line reports it as bad input):
    ``bound`` names the field, ``value`` is its value and ``why`` says what is wrong."""

    def __init__(self, message: str, bound: str = "", value: int | str = 0,
                 why: str = "") -> None:
        super().__init__(message)
        self.bound, self.value, self.why = bound, value, why


class Bounds(msgspec.Struct, frozen=True):
    """What the search may do and how far it may go.

    ``ops``, ``crashes``, ``drops``, ``dups`` and ``partitions`` are budgets for a whole path;
    ``max_term``, ``max_log`` and ``per_link`` are state constraints (a state beyond one is
    checked but not expanded, as TLC's constraints); ``depth`` bounds the path length and
    ``states`` the distinct states kept (a memory budget). ``mid_step`` lets a crash land between
    two effects of a step (each such crash spends one of ``crashes``). ``overflow`` (one of
    ``OVERFLOWS``) says what a send onto a full link does: ``stop`` makes ``per_link`` a state
    constraint like the others; ``lose-oldest`` keeps the newest ``per_link`` messages of every
    link, losing the oldest (the step says which, ``Label.lost``), so no state breaks it.
    """
    max_term: int = 2
    max_log: int = 2
    ops: int = 1
    crashes: int = 0
    drops: int = 0
    dups: int = 0
    partitions: int = 0
    per_link: int = 1
    depth: int = 100
    states: int = 2_000_000
    mid_step: bool = True
    snapshots: bool = False
    overflow: str = "stop"

    def validate(self) -> "Bounds":
        """Self, or ``BoundsError`` naming the first bound that is negative or absurd."""
        limits = {"max_term": 20, "max_log": 20, "ops": 20, "crashes": 10, "drops": 20,
                  "dups": 20, "partitions": 10, "per_link": 10, "depth": 100_000,
                  "states": 1_000_000_000}
        for name, hi in limits.items():
            value = getattr(self, name)
            if value < 0:
                raise BoundsError(f"bound {name} is negative ({value})", name, value,
                                  "must not be negative")
            if value > hi:
                raise BoundsError(f"bound {name}={value} is absurd (at most {hi})", name, value,
                                  f"absurd (at most {hi})")
        for name in ("per_link", "states"):
            if getattr(self, name) < 1:
                raise BoundsError(f"bound {name} must be at least 1", name,
                                  getattr(self, name), "must be at least 1")
        if self.overflow not in OVERFLOWS:
            raise BoundsError(f"bound overflow={self.overflow!r} is unknown (known: "
                              f"{', '.join(OVERFLOWS)})", "overflow", self.overflow,
                              f"unknown (known: {', '.join(OVERFLOWS)})")
        return self

    @property
    def lossy(self) -> bool:
        """True when a send onto a full link loses the link's oldest message."""
        return self.overflow == "lose-oldest"


class Label(msgspec.Struct, frozen=True, array_like=True):
    """One transition, as data: ``kind`` and what it acts on.

    kinds: ``deliver`` (``src`` -> ``addr`` of ``msg``), ``fire`` (timer ``what`` of ``addr``),
    ``request`` (``event`` stepped at ``addr``), ``snapshot``, ``drop``, ``dup``, ``crash``,
    ``restart``, ``partition`` (isolate ``addr``), ``heal``. ``after`` >= 0: the node crashed
    after that many effects of the step (a mid-step crash). ``lost``: under
    ``overflow="lose-oldest"``, the messages the step's sends pushed off full links (oldest
    first). ``copy`` > 0: under the same rule, the delivery takes not the oldest of identical
    copies of ``msg`` on its link but the first of its ``copy``-th run (copies apart from the
    oldest by another message: taking it leaves the link in another order).
    """
    kind: str
    addr: str = ""
    src: str = ""
    msg: Any = None
    what: str = ""
    event: Any = None
    after: int = -1
    lost: tuple[InFlight, ...] = ()
    copy: int = 0


class XState(msgspec.Struct, frozen=True, cache_hash=True):
    """A global state of the explorer: the cluster, budgets spent, the isolated server ("" when
    the network is whole) and the properties' history."""
    cluster: ClusterState
    spent: tuple[int, ...] = (0, 0, 0, 0, 0)
    cut: str = ""
    ghost: tuple[Any, ...] = ()


class Step(NamedTuple):
    """What one transition did: the states before and after, the node stepped (None for a
    network-only transition), the event it was given and the effects that happened."""
    label: Label
    pre: XState
    post: XState
    addr: str | None
    event: Any
    effects: Effects
    depth: int


class Model:
    """What to explore: a ``Cluster``, which addresses are servers (interchangeable under
    symmetry) and what the workload does.

    ``requests(state, addr, n)`` lists the client events ``addr`` may take as operation number
    ``n`` (1-based); ``raft_of(node_state)`` is the Raft state of a server, for the term and
    log bounds (None: no such bounds); ``snapshot(node_state)`` the ``TakeSnapshot`` a server
    may take now, if any; ``permute(cluster_state, perm)`` renames servers (``perm[i]`` is the
    new position of server ``i``) and ``symmetry_key(node)`` is a view of a node that no
    renaming changes (both None: no symmetry reduction); ``permute_node(node, perm)`` and
    ``permute_message(inflight, perm)`` rename one node or one message the same way (optional:
    with them, fingerprints under symmetry remember the digest of each renamed part);
    ``rotations``: only the rotations of the servers are symmetries (their behaviour depends
    on their cyclic order, as a clerk's retry order does), not every permutation.
    ``deep_encoding``: the states hold maps with keys that are not strings (fingerprints then
    take a slower canonical form). ``unmetered``: addresses whose requests spend no operation
    (``requests`` bounds them from their own state, as an administrator's script).
    ``prelude(cluster)``: a fixed, deterministic start (a settled cluster) and the steps
    ``(addr, event, effects)`` that led there from ``cluster.start()``; the search begins
    after them (properties read them from ``Model.prelude`` to start their history).
    """

    def __init__(self, name: str, cluster: Cluster, servers: Sequence[str],
                 requests: Callable[[Any, str, int], list[Any]] | None = None,
                 raft_of: Callable[[Any], Any] | None = None,
                 snapshot: Callable[[Any], Any] | None = None,
                 permute: Callable[[ClusterState, tuple[int, ...]], ClusterState] | None = None,
                 symmetry_key: Callable[[Node], Any] | None = None,
                 clients: Sequence[str] = (), deep_encoding: bool = False,
                 permute_node: Callable[[Node, tuple[int, ...]], Node] | None = None,
                 permute_message: Callable[[InFlight, tuple[int, ...]], InFlight] | None = None,
                 rotations: bool = False, unmetered: Sequence[str] = (),
                 prelude: Callable[[Cluster], tuple[ClusterState, Sequence[tuple[str, Any,
                                                                              Effects]]]]
                 | None = None) -> None:
        self.name = name
        self.cluster = cluster
        self.servers = tuple(servers)
        self.clients = tuple(clients)
        self.requests = requests
        self.raft_of = raft_of
        self.snapshot = snapshot
        self.permute = permute
        self.symmetry_key = symmetry_key
        self.deep_encoding = deep_encoding
        self.permute_node = permute_node
        self.permute_message = permute_message
        self.rotations = rotations
        self.unmetered = frozenset(unmetered)
        self._prelude = prelude
        self._start: tuple[ClusterState, tuple[tuple[str, Any, Effects], ...]] | None = None
        self._server_at = tuple(cluster.index[a] for a in self.servers)
        self._limits: dict[Node, str | None] = {}       # node -> the constraint it breaks
        self._limits_of: tuple[int, int] | None = None
        self._limits_for: Bounds | None = None

    def initial(self) -> XState:
        """Every node booted with ``Restart(None)`` (then the prelude, if any), nothing
        spent."""
        if self._prelude is None:
            return XState(self.cluster.start())
        return XState(self._started()[0])

    @property
    def prelude(self) -> tuple[tuple[str, Any, Effects], ...]:
        """The steps ``(addr, event, effects)`` from the boot to the initial state."""
        return () if self._prelude is None else self._started()[1]

    def _started(self) -> tuple[ClusterState, tuple[tuple[str, Any, Effects], ...]]:
        if self._start is None:
            assert self._prelude is not None
            state, steps = self._prelude(self.cluster)
            self._start = (state, tuple(steps))
        return self._start

    def beyond(self, state: XState, bounds: Bounds, pre: XState | None = None) -> str | None:
        """The state constraint ``state`` breaks (``max-term``, ``max-log``, ``per-link``), if
        any. Given ``pre``, a state within the constraints that ``state`` follows by a
        transition that removed at most one message and appended what it sent, only what
        changed is looked at (nodes that are not the same objects; the links of the new
        messages)."""
        if self.raft_of is not None:
            if self._limits_for is not bounds:
                self._limits_bounds(bounds)
            limits = self._limits
            nodes = state.cluster.nodes
            before = pre.cluster.nodes if pre is not None else ()
            for i in self._server_at:
                node = nodes[i]
                if before and before[i] is node:
                    continue
                broken = limits.get(node, _UNSEEN)
                if broken is _UNSEEN:
                    if len(limits) >= 400_000:
                        limits.clear()
                    broken = limits[node] = self._node_beyond(node, bounds)
                if broken is not None:
                    return broken
        inflight = state.cluster.inflight
        per_link = bounds.per_link
        if len(inflight) <= per_link or bounds.overflow != "stop":
            return None       # (a lossy link never holds more: ``successors`` trims it)
        if pre is not None:
            fresh = len(inflight) - len(pre.cluster.inflight) + 1
            if fresh <= 0:
                return None
            for m in inflight[-fresh:]:
                src, dst = m.src, m.dst
                count = 0
                for o in inflight:
                    if o.dst == dst and o.src == src:
                        count += 1
                if count > per_link:
                    return "per-link"
            return None
        seen: dict[tuple[str, str], int] = {}
        for m in inflight:
            key = (m.src, m.dst)
            seen[key] = count = seen.get(key, 0) + 1
            if count > per_link:
                return "per-link"
        return None

    def _limits_bounds(self, bounds: Bounds) -> None:
        """The remembered node constraints hold for ``bounds`` (forgotten if they differ)."""
        self._limits_for = bounds
        if self._limits_of != (bounds.max_term, bounds.max_log):
            self._limits_of = (bounds.max_term, bounds.max_log)
            self._limits.clear()

    def _node_beyond(self, node: Node, bounds: Bounds) -> str | None:
        if node.state is None:
            return None
        assert self.raft_of is not None
        hard = self.raft_of(node.state).hard
        if hard.term > bounds.max_term:
            return "max-term"
        if hard.log_start + len(hard.log) - 1 > bounds.max_log:
            return "max-log"
        return None


def _spend(spent: tuple[int, ...], which: int) -> tuple[int, ...]:
    return spent[:which] + (spent[which] + 1,) + spent[which + 1:]


def _cut(inflight: tuple[InFlight, ...], cut: str) -> tuple[InFlight, ...]:
    """The messages that cross no partition around ``cut`` (the others are lost)."""
    if not cut:
        return inflight
    return tuple(m for m in inflight if m.src != cut and m.dst != cut)


Found = tuple[Label, ClusterState, str | None, Any, Effects, XState]


def successors(model: Model, state: XState, bounds: Bounds) -> Iterator[Found]:
    """Every transition enabled in ``state``, in a fixed order: deliveries, timers, client
    requests, snapshots, then faults within budget (drop, duplicate, crash, mid-step crashes,
    restart, partition, heal). Yields ``(label, cluster_after, addr, event, effects, after)``
    where ``after`` carries the new cluster and budgets (its ghost is the old one).

    Under ``bounds.overflow == "lose-oldest"`` every link of ``after`` keeps its newest
    ``per_link`` messages: a send onto a full link loses the oldest one (``label.lost`` names
    them; ``cluster_after`` is the cluster before the loss). Every search, replay and judge
    takes its transitions from here, so all of them see the same rule."""
    if bounds.overflow == "stop":
        return _transitions(model, state, bounds)
    return _lossy(model, state, bounds)


#: Steps that take at most one message off the wire and append what they send at its end.
_APPENDS = {"deliver": 1, "fire": 0, "request": 0, "snapshot": 0, "dup": 0}


def _lossy(model: Model, state: XState, bounds: Bounds) -> Iterator[Found]:
    k = bounds.per_link
    pre = state.cluster.inflight
    # from a wire within the bound, only the links of what a step appended can overflow
    within = len(pre) <= k or not lose_oldest(pre, k)[1]
    for found in _transitions(model, state, bounds):
        after = found[5]
        inflight = after.cluster.inflight
        if len(inflight) <= k:
            yield found
            continue
        label = found[0]
        taken = _APPENDS.get(label.kind) if within and label.after < 0 else None
        if taken is not None:
            trimmed = lose_appended(inflight, len(pre) - taken, k)
            if trimmed is None:
                yield found
                continue
            kept, lost = trimmed
        else:
            kept, lost = lose_oldest(inflight, k)
        if lost:
            after = XState(ClusterState(after.cluster.nodes, kept), after.spent, after.cut,
                           after.ghost)
            found = (msgspec.structs.replace(label, lost=lost), found[1], found[2], found[3],
                     found[4], after)
        yield found


def _transitions(model: Model, state: XState, bounds: Bounds) -> Iterator[Found]:
    rules = model.cluster
    cs = state.cluster
    spent, cut = state.spent, state.cut
    nodes = cs.nodes
    ghost = state.ghost
    mid_step = spent[CRASHES] < bounds.crashes and bounds.mid_step
    servers = model.servers      # only servers crash, mid-step too (never clerks)
    # identical copies of a message are one transition (Cluster.deliveries takes the first)
    event: Any
    for k, m, event, after, effects in rules.deliveries(cs):
        stepped = event is not None
        yield (Label("deliver", m.dst, m.src, m.msg), after, m.dst if stepped else None, event,
               effects, XState(_cut_state(after, cut) if cut else after, spent, cut, ghost))
        if mid_step and stepped and m.dst in servers:
            for n in range(1, len(effects)):
                after_k, done = rules.deliver(cs, k, crash_after=n)
                yield (Label("deliver", m.dst, m.src, m.msg, after=n), after_k, m.dst, event,
                       done, XState(_cut_state(after_k, cut), _spend(spent, CRASHES), cut,
                                    ghost))
    if bounds.per_link > 1 and bounds.overflow != "stop" and len(cs.inflight) > 1:
        yield from _later_copies(model, state, mid_step)
    for addr, kind, event, after, effects in rules.firings(cs):
        yield (Label("fire", addr, what=kind), after, addr, event, effects,
               XState(_cut_state(after, cut) if cut else after, spent, cut, ghost))
        if mid_step and addr in servers:
            for n in range(1, len(effects)):
                after_k, done = rules.fire(cs, addr, kind, crash_after=n)
                yield (Label("fire", addr, what=kind, after=n), after_k, addr, event, done,
                       XState(_cut_state(after_k, cut), _spend(spent, CRASHES), cut,
                              state.ghost))
    if model.requests is not None:
        metered = spent[OPS] < bounds.ops
        unmetered = model.unmetered
        for addr, node in zip(rules.addrs, nodes):
            if not node.up:
                continue
            free = addr in unmetered
            if not (metered or free):
                continue
            for event in model.requests(node.state, addr, spent[OPS] + 1):
                after, effects = rules.step(cs, addr, event)
                yield (Label("request", addr, event=event), after, addr, event, effects,
                       XState(_cut_state(after, cut), spent if free else _spend(spent, OPS),
                              cut, state.ghost))
    if bounds.snapshots and model.snapshot is not None:
        for addr, node in zip(rules.addrs, nodes):
            if not node.up or addr not in model.servers:
                continue
            event = model.snapshot(node.state)
            if event is not None:
                after, effects = rules.step(cs, addr, event)
                yield (Label("snapshot", addr, event=event), after, addr, event, effects,
                       XState(_cut_state(after, cut), spent, cut, state.ghost))
    yield from _faults(model, state, bounds)


def _later_copies(model: Model, state: XState, mid_step: bool) -> Iterator[Found]:
    """Deliveries of a later copy of a message that leave its link in another order than
    taking the oldest copy does (another message lies between the two): they matter when the
    order of a link decides which message it loses next. ``Label.copy`` is the run of copies
    taken (a run: copies with no other message of the link between them; the oldest copy's
    run is 0, taken by the plain delivery); with mid-step crashes too."""
    rules, cs = model.cluster, state.cluster
    inflight, spent, cut, ghost = cs.inflight, state.spent, state.cut, state.ghost
    if len(set(inflight)) == len(inflight):
        return
    for k, m in enumerate(inflight):
        run = run_of(inflight, k)
        if run <= 0:
            continue
        up = _up(rules, cs, m.dst)
        event = Receive(m.src, m.msg) if up else None
        after, effects = rules.deliver(cs, k)
        yield (Label("deliver", m.dst, m.src, m.msg, copy=run), after, m.dst if up else None,
               event, effects, XState(_cut_state(after, cut), spent, cut, ghost))
        if mid_step and up and m.dst in model.servers:
            for n in range(1, len(effects)):
                after_k, done = rules.deliver(cs, k, crash_after=n)
                yield (Label("deliver", m.dst, m.src, m.msg, after=n, copy=run), after_k,
                       m.dst, event, done,
                       XState(_cut_state(after_k, cut), _spend(spent, CRASHES), cut, ghost))


def _up(rules: Cluster, cs: ClusterState, addr: str) -> bool:
    i = rules.index.get(addr)
    return i is not None and cs.nodes[i].up


def _cut_state(cs: ClusterState, cut: str) -> ClusterState:
    if not cut or not cs.inflight:
        return cs
    kept = _cut(cs.inflight, cut)
    return cs if len(kept) == len(cs.inflight) else ClusterState(cs.nodes, kept)


def _faults(model: Model, state: XState, bounds: Bounds,
            ) -> Iterator[tuple[Label, ClusterState, str | None, Any, Effects, XState]]:
    rules = model.cluster
    cs, spent, cut, ghost = state.cluster, state.spent, state.cut, state.ghost
    # under lose-oldest a duplicate needs room on its link: one that pushed the oldest
    # message off would be a loss that spends no --drops
    lossy = bounds.overflow != "stop"
    if spent[DROPS] < bounds.drops or spent[DUPS] < bounds.dups:
        seen: set[InFlight] = set()
        for k, m in enumerate(cs.inflight):
            if m in seen:
                continue
            seen.add(m)
            if spent[DROPS] < bounds.drops:
                after = rules.drop(cs, k)
                yield (Label("drop", m.dst, m.src, m.msg), after, None, None, [],
                       XState(after, _spend(spent, DROPS), cut, ghost))
            if spent[DUPS] < bounds.dups and not (lossy and _full(cs.inflight, m,
                                                                    bounds.per_link)):
                after = rules.duplicate(cs, k)
                yield (Label("dup", m.dst, m.src, m.msg), after, None, None, [],
                       XState(after, _spend(spent, DUPS), cut, ghost))
    for addr, node in zip(rules.addrs, cs.nodes):
        if node.up and spent[CRASHES] < bounds.crashes and addr in model.servers:
            after = rules.crash(cs, addr)
            yield (Label("crash", addr), after, None, None, [],
                   XState(after, _spend(spent, CRASHES), cut, ghost))
        elif not node.up:
            event = Restart(node.durable)
            after, effects = rules.restart(cs, addr)
            yield (Label("restart", addr), after, addr, event, effects,
                   XState(_cut_state(after, cut), spent, cut, ghost))
    if not cut and spent[PARTITIONS] < bounds.partitions:
        for addr in model.servers:
            after = _cut_state(cs, addr)
            yield (Label("partition", addr), after, None, None, [],
                   XState(after, _spend(spent, PARTITIONS), addr, ghost))
    if cut:
        yield (Label("heal", cut), cs, None, None, [], XState(cs, spent, "", ghost))


def _full(inflight: tuple[InFlight, ...], m: InFlight, per_link: int) -> bool:
    """True when the link of ``m`` holds ``per_link`` messages."""
    return sum(1 for o in inflight if o[0] == m[0] and o[1] == m[1]) >= per_link


def take(model: Model, state: XState, label: Label, bounds: Bounds,
         ) -> tuple[Label, ClusterState, str | None, Any, Effects, XState]:
    """The transition ``label`` from ``state`` (how a recorded path is taken again);
    ``ValueError`` if it is not enabled there."""
    for found in successors(model, state, bounds):
        if found[0] == label:
            return found
    raise ValueError(f"not enabled here: {describe(label)}")


def describe(label: Label) -> str:
    """One readable line: who received what, which timer fired, which fault."""
    line = _describe(label)
    if label.lost:
        line += " (" + "; ".join(f"link {m.src}->{m.dst} full: lost {_show(m.msg)}"
                                 for m in label.lost) + ")"
    return line


def _describe(label: Label) -> str:
    kind = label.kind
    crash = f", crashing after {label.after} of its effects" if label.after >= 0 else ""
    if kind == "deliver":
        which = f" (later copy {label.copy})" if label.copy else ""
        return f"{label.addr} receives {_show(label.msg)}{which} from {label.src}{crash}"
    if kind == "fire":
        return f"{label.addr}: timer {label.what} fires{crash}"
    if kind == "request":
        return f"{label.addr} is asked {_show(label.event)}"
    if kind == "snapshot":
        return f"{label.addr} takes {_show(label.event)}"
    if kind in ("drop", "dup"):
        verb = "lost" if kind == "drop" else "duplicated"
        return f"{_show(label.msg)} from {label.src} to {label.addr} is {verb}"
    if kind == "crash":
        return f"{label.addr} crashes"
    if kind == "restart":
        return f"{label.addr} restarts from its disk"
    if kind == "partition":
        return f"{label.addr} is cut off from every other node"
    if kind == "heal":
        return f"the partition around {label.addr} heals"
    return kind


def _show(value: Any) -> str:
    if isinstance(value, msgspec.Struct):
        fields = ", ".join(f"{f}={_short(getattr(value, f))}" for f in value.__struct_fields__)
        return f"{type(value).__name__}({fields})"
    return repr(value)


def _short(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    if isinstance(value, msgspec.Struct):
        return _show(value)
    if isinstance(value, bytes) and len(value) > 16:
        return repr(value[:16]) + "..."
    return repr(value)


# used by targets: a Propose of operation ``n``
def propose_op(n: int) -> Propose:
    return Propose(f"v{n}")


def snapshot_at(index: int) -> TakeSnapshot:
    return TakeSnapshot(index, b"s%d" % index)
