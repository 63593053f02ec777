"""What the explorer can explore: Raft peers, KV servers with clerks, or a user's step function.

Owns the targets' knowledge of protocols: which addresses are servers, what a client request
is (a ``Propose`` to a Raft leader; a KV operation given to an idle clerk), where a server's
Raft state is (for the term and log bounds), when a server may snapshot, and how to rename
Raft peers for symmetry reduction. ``raft_model(n, step=...)`` runs another step function with
Raft's state and messages (how tests plant bugs, and how ``--step MODULE:NAME`` names a user's
own). Never reads a clock or a random source.
"""

from __future__ import annotations

from typing import Any, Callable

import msgspec

from protocols import kv, raft
from protocols.core import ClientRequest, Durable, Propose, StepFn, TakeSnapshot
from protocols.kv import clerk
from sim.cluster import Cluster, ClusterState, InFlight, Node
from sim.explore.model import Model

__all__ = ["raft_model", "kv_model", "kv_op", "TARGETS"]

_replace = msgspec.structs.replace

#: Steps each target remembers (sim.cluster.Cluster(memo=...)): a bounded cache.
MEMO = 200_000


def raft_model(n: int = 3, step: StepFn | None = None, keep_sent: bool = False) -> Model:
    """``n`` Raft peers ``s0..``; operation ``k`` is ``Propose("v<k>")`` to a leader.
    ``keep_sent``: what a crashed peer sent stays on the wire (``sim.cluster.Cluster``)."""
    peers = tuple(f"s{i}" for i in range(n))
    configs = tuple(raft.RaftConfig(i, peers) for i in range(n))
    fn: StepFn = raft.step if step is None else step

    def boot(i: int) -> Callable[[], Any]:
        return lambda: raft.init(configs[i])

    cluster = Cluster({a: (fn, boot(i)) for i, a in enumerate(peers)}, memo=MEMO,
                      keep_sent=keep_sent)

    def requests(state: Any, addr: str, k: int) -> list[Any]:
        # a proposal to a follower is refused and changes nothing: only leaders are asked
        return [Propose(f"v{k}")] if state.role == raft.LEADER else []

    def snapshot(state: Any) -> Any:
        return _snapshot_of(state)

    renamer = _RaftRenamer(peers, configs, lambda s: s, lambda s, r: r)
    return Model("raft", cluster, peers, requests=requests, raft_of=lambda s: s,
                 snapshot=snapshot, permute=renamer.cluster, symmetry_key=_raft_key,
                 permute_node=renamer.node, permute_message=renamer.message)


def _snapshot_of(state: raft.RaftState) -> TakeSnapshot | None:
    """A snapshot of everything applied, when that covers more than the current one."""
    if state.applied > state.hard.log_start:
        return TakeSnapshot(state.applied, b"s%d" % state.applied)
    return None


def _raft_key(node: Node) -> Any:
    """What no renaming of the peers changes."""
    s = node.state
    if s is None:
        hard = node.durable.state if node.durable is not None else None
        if hard is None:
            return (False,)
        return (False, hard.term, tuple(hard.log), hard.log_start)
    if type(s) is not raft.RaftState:
        s = s.raft
    hard = s.hard
    return (True, node.timers, s.role, hard.term, s.commit, s.applied, s.votes.bit_count(),
            tuple(hard.log), hard.log_start, hard.voted_for < 0, s.leader < 0)


class _RaftRenamer:
    """Renames Raft peers in states, disks and messages: peer ``i`` becomes ``perm[i]``."""

    def __init__(self, peers: tuple[str, ...], configs: tuple[raft.RaftConfig, ...],
                 raft_of: Callable[[Any], raft.RaftState],
                 put: Callable[[Any, raft.RaftState], Any]) -> None:
        self.peers = peers
        self.configs = configs
        self.raft_of = raft_of
        self.put = put
        self.index = {a: i for i, a in enumerate(peers)}

    def cluster(self, cs: ClusterState, perm: tuple[int, ...]) -> ClusterState:
        peers = self.peers
        names = {a: peers[perm[i]] for i, a in enumerate(peers)}
        n = len(peers)
        nodes = list(cs.nodes)
        for i in range(n):
            nodes[perm[i]] = self.node(cs.nodes[i], perm)
        wire = tuple(InFlight(names.get(m.src, m.src), names.get(m.dst, m.dst),
                              _rename_msg(m.msg, perm)) for m in cs.inflight)
        return ClusterState(tuple(nodes), wire)

    def message(self, m: InFlight, perm: tuple[int, ...]) -> InFlight:
        peers, index = self.peers, self.index
        src, dst = index.get(m.src), index.get(m.dst)
        return InFlight(m.src if src is None else peers[perm[src]],
                        m.dst if dst is None else peers[perm[dst]], _rename_msg(m.msg, perm))

    def node(self, node: Node, perm: tuple[int, ...]) -> Node:
        durable = node.durable
        if durable is not None and type(durable.state) is raft.HardState:
            durable = Durable(_rename_hard(durable.state, perm), durable.snapshot)
        state = node.state
        if state is not None:
            r = self.raft_of(state)
            state = self.put(state, self.rename(r, perm))
        return Node(state, durable, node.up, node.timers)

    def rename(self, s: raft.RaftState, perm: tuple[int, ...]) -> raft.RaftState:
        me = perm[s.config.me]
        votes = 0
        for i, j in enumerate(perm):
            if s.votes >> i & 1:
                votes |= 1 << j
        return _replace(s, config=self.configs[me], hard=_rename_hard(s.hard, perm),
                        leader=perm[s.leader] if s.leader >= 0 else -1, votes=votes,
                        next_index=_reorder(s.next_index, perm),
                        match_index=_reorder(s.match_index, perm))


def _reorder(values: tuple[int, ...], perm: tuple[int, ...]) -> tuple[int, ...]:
    if not values:
        return values
    out = [0] * len(values)
    for i, v in enumerate(values):
        out[perm[i]] = v
    return tuple(out)


def _rename_hard(hard: raft.HardState, perm: tuple[int, ...]) -> raft.HardState:
    if hard.voted_for < 0:
        return hard
    return _replace(hard, voted_for=perm[hard.voted_for])


_PEER_FIELD: dict[type, str] = {raft.RequestVote: "candidate", raft.RequestVoteReply: "voter",
               raft.AppendEntries: "leader", raft.AppendEntriesReply: "follower",
               raft.InstallSnapshot: "leader", raft.InstallSnapshotReply: "follower"}


def _rename_msg(msg: Any, perm: tuple[int, ...]) -> Any:
    field = _PEER_FIELD.get(type(msg))
    if field is None:
        return msg
    return _replace(msg, **{field: perm[getattr(msg, field)]})


# ---------------------------------------------------------------- KV

def kv_op(k: int) -> clerk.KVOp:
    """Operation ``k`` of the KV workload: odd ones append ``"<k>"`` to key x, even ones read x."""
    return clerk.append("x", str(k)) if k % 2 else clerk.get("x")


def kv_model(n: int = 3, clients: int = 1, maxraftstate: int = -1,
             keep_sent: bool = False) -> Model:
    """``n`` KV servers ``s0..`` and ``clients`` clerks ``c0..``; operation ``k`` is
    ``kv_op(k)``, given to an idle clerk.

    Symmetry: a clerk tries the servers in a fixed cyclic order (the next after one that did
    not answer), so only the rotations of the servers map the system onto itself: symmetry
    reduction tries those, never any other renaming. Clerks are never renamed."""
    servers = tuple(f"s{i}" for i in range(n))
    configs = tuple(kv.server_config(i, servers, maxraftstate) for i in range(n))
    nodes: dict[str, Any] = {a: (kv.step, lambda i=i: kv.init(configs[i]))
                             for i, a in enumerate(servers)}
    clerks = tuple(f"c{j}" for j in range(clients))
    for addr in clerks:
        nodes[addr] = (clerk.step,
                       lambda addr=addr: clerk.init(clerk.ClerkConfig(addr, servers)))
    cluster = Cluster(nodes, memo=MEMO, keep_sent=keep_sent)

    def requests(state: Any, addr: str, k: int) -> list[Any]:
        if addr in clerks and clerk.is_idle(state):
            return [ClientRequest(kv_op(k))]
        return []

    renamer = _KVRenamer(servers, configs)
    return Model("kv", cluster, servers, requests=requests, raft_of=lambda s: s.raft,
                 snapshot=None, clients=clerks, deep_encoding=True,
                 permute=renamer.cluster, symmetry_key=_raft_key,
                 permute_node=renamer.node, permute_message=renamer.message, rotations=True)


class _KVRenamer(_RaftRenamer):
    """Renames KV servers: their Raft state and config, the clerks' leader and target."""

    def __init__(self, servers: tuple[str, ...], configs: tuple[Any, ...]) -> None:
        super().__init__(servers, tuple(c.raft for c in configs), lambda s: s.raft,
                         lambda s, r: _replace(s, raft=r, config=configs[r.config.me]))

    def cluster(self, cs: ClusterState, perm: tuple[int, ...]) -> ClusterState:
        moved = super().cluster(cs, perm)
        n = len(self.peers)
        clients = tuple(self.node(node, perm) for node in cs.nodes[n:])
        return ClusterState(moved.nodes[:n] + clients, moved.inflight)

    def node(self, node: Node, perm: tuple[int, ...]) -> Node:
        state = node.state
        if type(state) is clerk.ClerkState:
            return Node(_replace(state, leader=perm[state.leader], target=perm[state.target]),
                        node.durable, node.up, node.timers)
        return super().node(node, perm)


#: Target name -> builder(nodes, clients, maxraftstate, step, keep_sent).
TARGETS: dict[str, Callable[..., Model]] = {
    "raft": lambda nodes, clients=0, maxraftstate=-1, step=None, keep_sent=False: raft_model(
        nodes, step, keep_sent),
    "kv": lambda nodes, clients=1, maxraftstate=-1, step=None, keep_sent=False: kv_model(
        nodes, clients, maxraftstate, keep_sent),
}
