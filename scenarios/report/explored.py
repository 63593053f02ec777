"""From an explorer counterexample to the records of a simulator trace, for the run report.

``raftsim explore ... --trace CX.json`` writes a path through the state graph, not a trace. This
module takes that path again from the model its configuration names (its digest checked first:
a damaged or diverged file is bad input) and writes what each step did as the records a
simulator run writes (``sim.trace.FIELDS``), so the run report draws it with every view:

- one explorer step per virtual millisecond: step ``n`` happens at ``n`` ms, and the starting
  state (every node booted, and the settled start of a target that has one) at 0 ms;
- each message a step sends is a ``send`` with a fresh integer id; each in-flight message keeps
  its id (the same message may be on the wire twice, as two ids; a duplicate shares its
  original's), its delivery is a ``deliver`` of that id, and a message the step loses (the
  explorer drops it, a full link loses it under ``--overflow lose-oldest``, a crash or a
  partition takes it off the wire, its destination is down) is a ``drop`` with the reason;
- ``crash``/``restart`` when a node goes down or comes up, ``fault`` for partitions and heals,
  ``role`` whenever a server's role or term differs from the previous step's state;
- for KV targets, each client request and the answer its clerk gives are ``history`` records;
- the property the path breaks, judged again, is the run's ``result`` at its step.

Never writes a file; the same counterexample gives the same records.
"""

from __future__ import annotations

import hashlib
from typing import Any, Sequence

import msgspec

from protocols.core import Apply, ApplySnapshot, ClientDone, ClientRequest, Send
from protocols.raft import ROLE_NAMES
from sim.cluster import ClusterState, InFlight
from sim.explore import Violation
from sim.explore.links import run_of
from sim.explore.model import Bounds, Label, Model, Step, XState, describe, successors
from sim.trace import FIELDS, FORMAT, VERSION

__all__ = ["STEP_MS", "Explored", "counterexample_records", "convert"]

#: Virtual milliseconds per explorer step.
STEP_MS = 1.0


class Explored(msgspec.Struct, frozen=True):
    """A counterexample as a run: the trace header, its records (decoded, as ``load_trace``
    gives them), the counterexample's digest, and the violating step (1-based; None when the
    property no longer breaks) with the node it stepped."""
    header: dict[str, Any]
    records: list[list]
    digest: str
    violation_step: int | None
    violation_node: str | None


def counterexample_records(path: str) -> Explored:
    """The counterexample at ``path`` as trace records; bad input (one line) if it is damaged
    or its path no longer gives its digest."""
    from scenarios.cli.explore import retake
    config, choices, digest, model, bounds, properties = retake(path)
    return convert(model, bounds, properties, choices, config, digest)


def convert(model: Model, bounds: Bounds, properties: Sequence[Any], choices: Sequence[int],
            config: dict[str, Any], digest: str) -> Explored:
    """The path ``choices`` from ``model``'s initial state as trace records (see the module's
    docstring), judged by ``properties`` step by step; it ends at the first violation."""
    writer = _Writer(model, bounds)
    state = model.initial()
    state = XState(state.cluster, state.spent, state.cut,
                   tuple(p.start(state) for p in properties))
    writer.begin(state)
    broken: Violation | None = None
    where: tuple[int, str | None] | None = None
    for n, k in enumerate(choices, 1):
        found = list(successors(model, state, bounds))[k]
        label, _, addr, event, effects, after = found
        step = Step(label, state, after, addr, event, effects, n)
        try:
            ghost = tuple(p.check(g, step) for p, g in zip(properties, state.ghost))
        except Violation as exc:
            broken, ghost = exc, state.ghost
        writer.step(n * STEP_MS, state, found)
        state = XState(after.cluster, after.spent, after.cut, ghost)
        if broken is not None:
            where = (n, addr if addr is not None else label.addr or None)
            break
    end = len(choices) * STEP_MS if where is None else where[0] * STEP_MS
    if broken is None:
        writer.add(end, "result", "pass", None, None)
    else:
        writer.add(end, "result", "fail", broken.rule, broken.detail)
    header = _header(config, digest, len(choices))
    return Explored(header, writer.decoded(), digest, where[0] if where else None,
                    where[1] if where else None)


def _header(config: dict[str, Any], digest: str, steps: int) -> dict[str, Any]:
    params = {key: value for key, value in config.items() if value is not None}
    params["counterexample_digest"] = digest
    params["steps"] = steps
    return {"format": FORMAT, "version": VERSION, "scenario": f"explore {config['target']}",
            "seed": None, "params": params, "fields": FIELDS,
            "note": f"an explorer counterexample of {steps} steps, drawn one step per virtual "
                    f"millisecond (step n at n ms; the starting state at 0 ms)"}


class _Writer:
    """The records of a path, step by step: message ids kept beside the wire, the role, term
    and up flag last recorded for each node."""

    def __init__(self, model: Model, bounds: Bounds) -> None:
        self.model = model
        self.bounds = bounds
        self.addrs = tuple(model.cluster.addrs)
        self.servers = frozenset(model.servers)
        self.clients = frozenset(model.clients)
        self.records: list[tuple] = []
        self.wire: list[tuple[InFlight, int]] = []      # the state's inflight, with ids
        self.next_id = 0
        self.roles: dict[str, tuple[str, int] | None] = {}
        self.incarnation = {a: 0 for a in self.addrs}

    def add(self, *record: Any) -> None:
        self.records.append(record)

    def decoded(self) -> list[list]:
        """The records as a loaded trace holds them (messages and faults as JSON objects)."""
        encoder = msgspec.json.Encoder(order="deterministic")
        decoder = msgspec.json.Decoder()
        return [decoder.decode(line) for line in encoder.encode_lines(self.records).splitlines()]

    def _send(self, t: float, m: InFlight) -> int:
        mid = self.next_id
        self.next_id += 1
        self.add(t, "send", mid, m.src, m.dst, m.msg)
        return mid

    def begin(self, state: XState) -> None:
        """The starting state at 0: every node up (as booted), roles, messages in flight."""
        for addr, node in zip(self.addrs, state.cluster.nodes):
            if node.up:
                self.add(0.0, "restart", addr, 0, True)
        self._roles(0.0, state.cluster)
        self.wire = [(m, self._send(0.0, m)) for m in state.cluster.inflight]

    def step(self, t: float, pre: XState, found: Any) -> None:
        label: Label = found[0]
        addr, event, effects, post = found[2], found[3], found[4], found[5]
        cluster: ClusterState = pre.cluster
        kind = label.kind
        candidates = list(self.wire)
        if kind == "partition":
            others = [s for s in self.model.servers if s != label.addr]
            self.add(t, "fault", {"type": "Partition", "groups": [[label.addr], others]})
        elif kind == "heal":
            self.add(t, "fault", {"type": "Heal"})
        elif kind == "crash" or label.after >= 0:
            fault: dict[str, Any] = {"type": "Crash", "node": label.addr}
            if label.after >= 0:
                fault["mid_step_after"] = label.after
            self.add(t, "fault", fault)
        elif kind == "restart":
            self.add(t, "fault", {"type": "Reboot", "node": label.addr})
        if kind in ("deliver", "drop", "dup"):
            k = _taken(cluster.inflight, label)
            m, mid = candidates[k]
            if kind == "dup":
                self.add(t, "dup", mid, m.src, m.dst)
                candidates.append((m, mid))
            else:
                del candidates[k]
                if kind == "drop":
                    self.add(t, "drop", mid, m.src, m.dst, "explorer")
                elif event is None:          # its destination is down: only taken off the wire
                    self.add(t, "drop", mid, m.src, m.dst, "down")
                else:
                    self.add(t, "deliver", mid, m.src, m.dst)
        elif kind == "fire":
            self.add(t, "timer", label.addr, label.what)
        if addr in self.clients and type(event) is ClientRequest:
            self.add(t, "history", addr, "invoke", _op(event.op, None))
        for e in effects:
            if type(e) is Send:
                m = InFlight(addr, e.dst, e.msg)
                candidates.append((m, self._send(t, m)))
        self._lost(t, candidates, post, label)
        for e in effects:
            if type(e) is Apply:
                self.add(t, "apply", addr, e.index, e.term, e.command)
            elif type(e) is ApplySnapshot:
                self.add(t, "snapshot", addr, e.index, e.term, len(e.data), _digest(e.data))
        if kind == "snapshot":
            data = event.data
            self.add(t, "snapshot", addr, event.index, None, len(data), _digest(data))
        self._roles(t, post.cluster)
        if addr in self.clients:
            for e in effects:
                if type(e) is ClientDone:
                    self.add(t, "history", addr, "ok", _op(e.op, e.result))

    def _lost(self, t: float, candidates: list[tuple[InFlight, int]], post: XState,
              label: Label) -> None:
        """Record as drops the candidates the state after the step no longer holds, and keep
        the others as the wire. The wire keeps its order: what a step removes, it removes
        whole (a crash's or a partition's messages) or oldest first (a full link), so the
        newest copies of identical messages are the ones kept."""
        final = post.cluster.inflight
        kept: list[tuple[InFlight, int] | None] = [None] * len(final)
        lost: list[tuple[InFlight, int]] = []
        j = len(final) - 1
        for m, mid in reversed(candidates):
            if j >= 0 and final[j] == m:
                kept[j] = (m, mid)
                j -= 1
            else:
                lost.append((m, mid))
        if j >= 0:
            raise AssertionError(f"the wire after {describe(label)} is not what the step "
                                 f"left on it")
        up = {a: n.up for a, n in zip(self.addrs, post.cluster.nodes)}
        full = set(label.lost)
        for m, mid in reversed(lost):
            if m in full:
                reason = "link full"
            elif not up.get(m.src, True) or not up.get(m.dst, True):
                reason = "down"
            elif post.cut and post.cut in (m.src, m.dst):
                reason = "partition"
            else:
                reason = "lost"
            self.add(t, "drop", mid, m.src, m.dst, reason)
        self.wire = [x for x in kept if x is not None]

    def _roles(self, t: float, cluster: ClusterState) -> None:
        """``crash``/``restart`` for nodes that went down or came up, then ``role`` for each
        server whose role or term differs from the last one recorded."""
        for addr, node in zip(self.addrs, cluster.nodes):
            known = addr in self.roles
            was_up = self.roles.get(addr) is not None if known else None
            if was_up is True and not node.up:
                self.add(t, "crash", addr, self.incarnation[addr], 0)
                self.incarnation[addr] += 1
                self.roles[addr] = None
                continue
            if was_up is False and node.up:
                self.add(t, "restart", addr, self.incarnation[addr], node.durable is None)
            if not node.up:
                self.roles[addr] = None
                continue
            now = self._role_of(addr, node.state)
            if now is None:
                self.roles[addr] = ("", -1)    # up, with no role to draw (a clerk)
                continue
            if self.roles.get(addr) != now:
                self.add(t, "role", addr, now[0], now[1])
            self.roles[addr] = now

    def _role_of(self, addr: str, state: Any) -> tuple[str, int] | None:
        raft_of = self.model.raft_of
        if addr not in self.servers or raft_of is None or state is None:
            return None
        rs = raft_of(state)
        return ROLE_NAMES[rs.role], rs.hard.term


def _taken(inflight: tuple[InFlight, ...], label: Label) -> int:
    """The position of the message a deliver, drop or dup takes: the first copy of it, or for
    a delivery of a later copy the first of its run ``label.copy``."""
    want = InFlight(label.src, label.addr, label.msg)
    for k, m in enumerate(inflight):
        if m == want and (label.copy == 0 or run_of(inflight, k) == label.copy):
            return k
    raise AssertionError(f"not on the wire: {describe(label)}")


def _op(op: Any, result: Any) -> list[Any]:
    """``[f, key, value]`` of a history record: the value written (put, append), or the value
    read (a get's completion; None at its invocation)."""
    kind, key, value = str(op.kind), str(op.key), op.value
    if kind == "get":
        return [kind, key, result]
    return [kind, key, value]


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=8).hexdigest()
