"""What the explorer can explore: Raft peers, KV servers with clerks, a sharded KV store (a
controller, replica groups, clerks and an administrator), or a user's step function.

Owns the targets' knowledge of protocols: which addresses are servers, what a client request
is (a ``Propose`` to a Raft leader; a KV operation given to an idle clerk), where a server's
Raft state is (for the term and log bounds), when a server may snapshot, and how to rename
Raft peers for symmetry reduction. ``raft_model(n, step=...)`` runs another step function with
Raft's state and messages (how tests plant bugs, and how ``--step MODULE:NAME`` names a user's
own). Never reads a clock or a random source.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

import msgspec

from protocols import kv, raft, rsm, shardctrler as sc, shardkv
from protocols.core import ClientRequest, Durable, Propose, StepFn, TakeSnapshot
from protocols.kv import clerk
from protocols.rsm import clerk as rsm_clerk
from protocols.shardkv import clerk as skclerk
from sim.cluster import Cluster, ClusterState, Driver, InFlight, Node
from sim.explore.model import Model

__all__ = ["raft_model", "kv_model", "kv_op", "shardkv_model", "shardkv_op", "shard_key",
           "config_changes", "group_servers", "CONTROLLER", "ADMIN", "TARGETS"]

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


# ---------------------------------------------------------------- sharded KV

CONTROLLER = "m0"
ADMIN = "admin"


def shard_key(shard: int, nshards: int) -> str:
    """The first lower-case letter that lives in ``shard`` of a store of ``nshards``."""
    return next(chr(c) for c in range(ord("a"), ord("z") + 1)
                if shardkv.key2shard(chr(c), nshards) == shard)


def shardkv_op(k: int, nshards: int) -> clerk.KVOp:
    """Operation ``k`` of the sharded workload: as ``kv_op`` (odd ones append ``"<k>"``, even
    ones read), on the key of the highest shard: the one the first Join of a second group moves
    (``rebalance`` takes a group's highest shards away first)."""
    key = shard_key(nshards - 1, nshards)
    return clerk.append(key, str(k)) if k % 2 else clerk.get(key)


def config_changes(groups: int, per_group: int = 1) -> tuple[Any, ...]:
    """The administrator's script, in order: a Join of each group (gid 1 first, then 2...),
    then with two groups or more a Move of shard 0 to the last group, its Leave and its Join
    again. A search takes the first ``changes`` of them, one at a time."""
    gids = range(1, groups + 1)
    script: list[Any] = [sc.clerk.join({g: group_servers(g, per_group)}) for g in gids]
    if groups >= 2:
        script += [sc.clerk.move(0, groups), sc.clerk.leave([groups]),
                   sc.clerk.join({groups: group_servers(groups, per_group)})]
    return tuple(script)


def group_servers(gid: int, per_group: int) -> tuple[str, ...]:
    """The addresses of group ``gid``: ``g<gid>s0`` and on."""
    return tuple(f"g{gid}s{i}" for i in range(per_group))


def shardkv_model(groups: int = 2, per_group: int = 1, clients: int = 1, changes: int = 1,
                  nshards: int = 2, keep_sent: bool = False) -> Model:
    """A controller of one server ``m0``, ``groups`` replica groups (gids 1.. of
    ``per_group`` servers ``g<gid>s<i>``), ``clients`` clerks ``c0..`` and an administrator
    ``admin`` (a controller clerk), over a store of ``nshards`` shards.

    The search starts from a settled store (``settle``): every group has a leader, group 1
    joined (the first step of ``config_changes(groups)``) and every group applied that
    configuration 1. Then the administrator may take the next ``changes`` steps of the
    script, in order, each once the previous one completed (its own count, not ``ops``); a
    clerk's operation ``k`` is ``shardkv_op(k)`` and spends one of the ``ops`` budget. Only
    servers crash or are cut off. No symmetry: group ids order the controller's rebalancing
    and a group's servers are named in the configurations, so renaming either changes
    behaviour."""
    script = config_changes(groups, per_group)
    if not 0 <= changes < len(script):
        raise ValueError(f"{changes} configuration changes: {groups} group(s) take 0 to "
                         f"{len(script) - 1}")
    ctrlers = (CONTROLLER,)
    service = sc.server.service(nshards)
    ctrl_config = sc.server_config(0, ctrlers)
    nodes: dict[str, Any] = {CONTROLLER: (partial(rsm.step, service),
                                          lambda: rsm.init(service, ctrl_config))}
    servers = [CONTROLLER]
    for gid in range(1, groups + 1):
        peers = group_servers(gid, per_group)
        for i, a in enumerate(peers):
            cfg = shardkv.server_config(gid, i, peers, ctrlers)
            nodes[a] = (shardkv.step, lambda cfg=cfg: shardkv.init(cfg))
            servers.append(a)
    clerks = tuple(f"c{j}" for j in range(clients))
    for addr in clerks:
        cc = skclerk.ClerkConfig(addr, ctrlers)
        nodes[addr] = (skclerk.step, lambda cc=cc: skclerk.init(cc))
    admin_config = rsm_clerk.ClerkConfig(ADMIN, ctrlers)
    nodes[ADMIN] = (sc.clerk.step, lambda: sc.clerk.init(admin_config))
    # any armed timer may fire at any moment: their arming order is no part of the state
    cluster = Cluster(nodes, memo=MEMO, keep_sent=keep_sent, timer_order=False)
    clerk_set = frozenset(clerks)

    def requests(state: Any, addr: str, k: int) -> list[Any]:
        if addr in clerk_set:
            return [ClientRequest(shardkv_op(k, nshards))] if skclerk.is_idle(state) else []
        if addr == ADMIN and sc.clerk.is_idle(state) and state.seq <= changes:
            return [ClientRequest(script[state.seq])]
        return []

    def prelude(rules: Cluster) -> tuple[ClusterState, list[tuple[str, Any, Any]]]:
        return settle(rules, script[0], groups, per_group)

    return Model("shardkv", cluster, servers, requests=requests, raft_of=_service_raft,
                 snapshot=None, clients=clerks, deep_encoding=True, unmetered=(ADMIN,),
                 prelude=prelude)


def settle(rules: Cluster, first: Any, groups: int, per_group: int
           ) -> tuple[ClusterState, list[tuple[str, Any, Any]]]:
    """Boot, elect the controller's server and each group's first server, have the
    administrator make the ``first`` change, and let each group (in gid order) poll until it
    applied it; every message is delivered in FIFO order. Returns the settled state and every
    step ``(addr, event, effects)`` on the way."""
    driver = Driver(rules, record=True)
    driver.boot()
    leaders = [CONTROLLER] + [group_servers(g, per_group)[0] for g in range(1, groups + 1)]
    for addr in leaders:
        driver.fire(addr, raft.ELECTION)
        driver.deliver_all()
    driver.step(ADMIN, ClientRequest(first))
    driver.deliver_all()
    for addr in leaders[1:]:
        driver.fire(addr, shardkv.POLL)
        driver.deliver_all()
    assert driver.history is not None
    return driver.state, driver.history


def _service_raft(state: Any) -> raft.RaftState:
    """The Raft state of a controller server or a group server."""
    r: raft.RaftState = state.raft if type(state) is rsm.RSMState else state.rsm.raft
    return r


#: Target name -> builder(nodes, clients, maxraftstate, step, keep_sent, **options).
TARGETS: dict[str, Callable[..., Model]] = {
    "raft": lambda nodes, clients=0, maxraftstate=-1, step=None, keep_sent=False: raft_model(
        nodes, step, keep_sent),
    "kv": lambda nodes, clients=1, maxraftstate=-1, step=None, keep_sent=False: kv_model(
        nodes, clients, maxraftstate, keep_sent),
    "shardkv": lambda nodes, clients=1, maxraftstate=-1, step=None, keep_sent=False,
    groups=2, changes=1, shards=2: shardkv_model(groups, nodes, clients, changes, shards,
                                                 keep_sent),
}
