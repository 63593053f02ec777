"""Canonical fingerprints of explorer states, with or without symmetry reduction.

Owns one rule: two states that differ only in the order of the messages in flight (a multiset)
get the same fingerprint, and so do two states that differ only by a renaming of the servers
when symmetry is on. A fingerprint is the sum modulo 2^64 of 64-bit digests of the state's
parts (each node at its position, each message in flight, the rest), a digest being the first
8 bytes of BLAKE2b over a canonical msgpack encoding (sorted maps; persistent vectors, sets and
FrozenMaps as sorted sequences), read as an int: the same in every process, under any
PYTHONHASHSEED.

Two distinct states differ in at least one part, so their fingerprints differ by a sum of
digests that is uniform over 2^64 values (over 2^63 when every differing part differs an even
number of times): they collide with probability about n^2 / 2^64 for n distinct states (TLC's
estimate for its 64-bit fingerprints is n^2 / 2^65): 5.4e-8 for a million states, 5.4e-6 for
ten million. A collision would make the search skip a state it never saw.

Never reads a clock or a random source.
"""

from __future__ import annotations

import hashlib
from itertools import permutations
from typing import Any, Callable

import msgspec
from pyrsistent import PVector

from sim.cluster import ClusterState
from sim.explore.model import Model, XState

__all__ = ["Fingerprinter", "encode_state", "link_ranks"]


def _enc_hook(value: Any) -> Any:
    if isinstance(value, PVector):
        return list(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=_encode)
    raise NotImplementedError(f"cannot fingerprint a {type(value).__name__}")


_encoder = msgspec.msgpack.Encoder(enc_hook=_enc_hook, order="deterministic")
_encode = _encoder.encode


def _canon(value: Any) -> Any:
    """``value`` with every mapping as its items sorted by encoding (any key type), every
    Struct as its type name and fields: for states whose maps have non-string keys."""
    if isinstance(value, msgspec.Struct):
        return (type(value).__name__, *(_canon(getattr(value, f))
                                        for f in value.__struct_fields__))
    if isinstance(value, dict):
        return sorted(((_canon(k), _canon(v)) for k, v in value.items()), key=_encode)
    if isinstance(value, (tuple, list, PVector)):
        return [_canon(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_canon(v) for v in value), key=_encode)
    return value


def encode_state(state: XState, deep: bool = False, ordered: bool = False) -> bytes:
    """The canonical encoding of ``state``: messages in flight sorted by their encoding; with
    ``deep``, maps with keys of any type sorted too (slower); with ``ordered``, each message
    with its rank on its link (the order within a link counts, across links not)."""
    ranks = link_ranks(state.cluster.inflight) if ordered else None
    if deep:
        state = XState(ClusterState(_canon(state.cluster.nodes),
                                    tuple(_canon(m) for m in state.cluster.inflight)),
                       state.spent, state.cut, _canon(state.ghost))
    cs = state.cluster
    if ranks is not None:
        wire = sorted(_encode((m, r)) for m, r in zip(cs.inflight, ranks))
    else:
        wire = sorted(map(_encode, cs.inflight)) if len(cs.inflight) > 1 else \
            [_encode(m) for m in cs.inflight]
    return _encode((cs.nodes, wire, state.spent, state.cut, state.ghost))


def link_ranks(inflight: tuple[Any, ...]) -> list[int]:
    """The rank of each message among those on its link (0: the oldest)."""
    seen: dict[tuple[str, str], int] = {}
    ranks = []
    for m in inflight:
        link = (m[0], m[1])
        r = seen.get(link, 0)
        seen[link] = r + 1
        ranks.append(r)
    return ranks


def _digest(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


_MASK = (1 << 64) - 1
_CACHE = 400_000         # digests remembered per kind before the cache starts again


class Fingerprinter:
    """``fingerprint(state) -> int`` for one model; with ``symmetry`` the least fingerprint
    over every renaming of the servers that sorts them by the model's ``symmetry_key`` (a view
    no renaming changes, so symmetric states get the same set of candidates).

    A fingerprint is the sum modulo 2^64 of the digests of the state's parts: each node with
    its position, each message in flight (a sum does not depend on the order: the wire is a
    multiset), and the budgets spent with the cut and the ghost. Each part's digest is
    remembered, so a state costs a few dictionary look-ups: a transition changes one node and
    a few messages, and the search meets the same parts again and again. Under symmetry the
    digest of a part is remembered per renaming, when the model renames one node and one
    message at a time (``Model.permute_node`` and ``permute_message``); otherwise the whole
    state is renamed and encoded again.

    ``ordered`` (for ``overflow="lose-oldest"``, where the order of a link decides which of
    its messages is lost next): a message's part is the message with its rank on its link, so
    two wires with the same messages in another order on one link differ, while the order
    across links still does not count. A renaming keeps every link's order, so ranks are the
    same in every renamed state."""

    def __init__(self, model: Model, symmetry: bool = False,
                 permute_ghost: Callable[[tuple[Any, ...], dict[str, str]], tuple[Any, ...]]
                 | None = None, ordered: bool = False) -> None:
        if symmetry and (model.permute is None or model.symmetry_key is None):
            raise ValueError(f"target {model.name} has no symmetry reduction")
        self.model = model
        self.symmetry = symmetry
        self.permute_ghost = permute_ghost
        self.servers = model.servers
        self.deep = model.deep_encoding
        self._at = [model.cluster.index[a] for a in model.servers]
        self._server_of = {pos: k for k, pos in enumerate(self._at)}
        # part -> digest; the keys never meet: (position, node), a message (a tuple of two
        # addresses and a message), (spent, cut, ghost), each of them with a renaming after it
        self._parts: dict[Any, int] = {}
        self._keys: dict[Any, bytes] = {}         # node -> its encoded symmetry key
        self._orders: dict[tuple[bytes, ...], list[tuple[int, ...]]] = {}
        self._fast = model.permute_node is not None and model.permute_message is not None
        self.ordered = ordered
        if ordered:
            self._sum = self._sum_ordered         # type: ignore[method-assign]

    @property
    def function(self) -> Callable[[XState], int]:
        """The fingerprint as a plain function (the search's hot path: without symmetry, the
        sum of the parts' digests without a call in between)."""
        return self._sum if not self.symmetry else self.__call__

    def __call__(self, state: XState) -> int:
        if not self.symmetry:
            return self._sum(state)
        perms = self._candidates(state)
        if not self._fast:
            return min(self._sum(self._rename(state, p)) for p in perms)
        return min(self._sum_renamed(state, p) for p in perms)

    def canonical(self, state: XState) -> tuple[int, tuple[int, ...]]:
        """The fingerprint and the first renaming (``perm[i]``: the new position of server
        ``i``) that gives it (the identity without symmetry)."""
        n = len(self.servers)
        if not self.symmetry:
            return self._sum(state), tuple(range(n))
        best: tuple[int, tuple[int, ...]] | None = None
        for p in self._candidates(state):
            f = self._sum_renamed(state, p) if self._fast else self._sum(self._rename(state, p))
            if best is None or f < best[0]:
                best = (f, p)
        assert best is not None
        return best

    # ------------------------------------------------------------ parts

    def _part(self, key: Any, value: Any) -> int:
        parts = self._parts
        if len(parts) >= _CACHE:
            parts.clear()
        if self.deep:
            value = _canon(value)
        parts[key] = d = _digest(_encode(value))
        return d

    def _fixed(self, state: XState) -> int:
        """The parts of ``state`` other than its messages in flight: nodes and the rest."""
        parts = self._parts
        total = 0
        for i, node in enumerate(state.cluster.nodes):
            at: Any = (i, node)
            d = parts.get(at)
            total += d if d is not None else self._part(at, at)
        rest = (state.spent, state.cut, state.ghost)
        d = parts.get(rest)
        return total + (d if d is not None else self._part(rest, ("r",) + rest))

    def _sum(self, state: XState) -> int:
        parts = self._parts
        total = self._fixed(state)
        for m in state.cluster.inflight:
            d = parts.get(m)
            total += d if d is not None else self._part(m, ("m", m))
        return total & _MASK

    def _sum_ordered(self, state: XState) -> int:
        """``_sum`` with each message's part keyed by its rank on its link too."""
        parts = self._parts
        total = self._fixed(state)
        inflight = state.cluster.inflight
        if len(inflight) > 1:
            pairs: Any = zip(inflight, link_ranks(inflight))
        else:
            pairs = ((m, 0) for m in inflight)
        for mr in pairs:
            d = parts.get(mr)
            total += d if d is not None else self._part(mr, ("m",) + mr)
        return total & _MASK

    def _sum_renamed(self, state: XState, perm: tuple[int, ...]) -> int:
        if perm == tuple(range(len(perm))):
            return self._sum(state)
        model, parts, server_of, at = self.model, self._parts, self._server_of, self._at
        assert model.permute_node is not None and model.permute_message is not None
        total = 0
        key: Any
        for i, node in enumerate(state.cluster.nodes):
            key = (i, node, perm)
            d = parts.get(key)
            if d is None:
                k = server_of.get(i)
                where = i if k is None else at[perm[k]]
                d = self._part(key, (where, model.permute_node(node, perm)))
            total += d
        inflight = state.cluster.inflight
        if self.ordered:
            for m, r in zip(inflight, link_ranks(inflight)):
                key = ((m, r), perm)
                d = parts.get(key)
                total += d if d is not None else self._part(
                    key, ("m", model.permute_message(m, perm), r))
        else:
            for m in inflight:
                key = (m, perm)
                d = parts.get(key)
                total += d if d is not None else self._part(
                    key, ("m", model.permute_message(m, perm)))
        key = (state.spent, state.cut, state.ghost, perm)
        d = parts.get(key)
        if d is None:
            names = {a: self.servers[perm[i]] for i, a in enumerate(self.servers)}
            ghost = state.ghost
            if self.permute_ghost is not None:
                ghost = self.permute_ghost(ghost, names)
            d = self._part(key, ("r", state.spent, names.get(state.cut, state.cut), ghost))
        return (total + d) & _MASK

    # ------------------------------------------------------------ renamings

    def _candidates(self, state: XState) -> list[tuple[int, ...]]:
        """The renamings (``perm[i]``: the new position of server ``i``) that sort the servers
        by their symmetry keys, trying every order within a group of equal keys (or, when only
        rotations are symmetries, the rotations that make the keys' sequence least)."""
        key = self.model.symmetry_key
        assert key is not None
        nodes, keys = state.cluster.nodes, self._keys
        if len(keys) >= _CACHE:
            keys.clear()
        view = []
        for i in self._at:
            node = nodes[i]
            k = keys.get(node)
            if k is None:
                keys[node] = k = _encode(key(node))
            view.append(k)
        signature = tuple(view)
        perms = self._orders.get(signature)
        if perms is None:
            rotate = self.model.rotations
            perms = self._orders[signature] = _rotations(view) if rotate else _orders(view)
        return perms

    def renamings(self, state: XState) -> list[XState]:
        """The renamings of ``state`` among which the canonical one is chosen."""
        return [self._rename(state, p) for p in self._candidates(state)]

    def _rename(self, state: XState, perm: tuple[int, ...]) -> XState:
        if perm == tuple(range(len(perm))):
            return state
        model = self.model
        assert model.permute is not None
        cs = model.permute(state.cluster, perm)
        names = {a: self.servers[perm[i]] for i, a in enumerate(self.servers)}
        ghost = state.ghost
        if self.permute_ghost is not None:
            ghost = self.permute_ghost(ghost, names)
        return XState(cs, state.spent, names.get(state.cut, state.cut), ghost)


def _rotations(keys: list[bytes]) -> list[tuple[int, ...]]:
    """The rotations (server ``i`` to position ``(i + r) % n``) that make the sequence of keys
    least: the same renamed states for every state of one orbit."""
    n = len(keys)
    seqs = {r: [keys[(p - r) % n] for p in range(n)] for r in range(n)}
    least = min(seqs.values())
    return [tuple((i + r) % n for i in range(n)) for r in range(n) if seqs[r] == least]


def _orders(keys: list[bytes]) -> list[tuple[int, ...]]:
    n = len(keys)
    order = sorted(range(n), key=keys.__getitem__)
    # groups of servers with equal keys: only renamings within a group are tried
    groups: list[list[int]] = []
    for i in order:
        if groups and keys[groups[-1][0]] == keys[i]:
            groups[-1].append(i)
        else:
            groups.append([i])
    out = []
    for choice in _products([list(permutations(g)) for g in groups]):
        flat = [i for g in choice for i in g]        # flat[new position] = old server
        perm = [0] * n
        for new, old in enumerate(flat):
            perm[old] = new
        out.append(tuple(perm))
    return out


def _products(options: list[list[Any]]) -> list[list[Any]]:
    out: list[list[Any]] = [[]]
    for opts in options:
        out = [prefix + [o] for prefix in out for o in opts]
    return out


def renamed_cluster(cs: ClusterState, perm: tuple[int, ...], at: list[int]) -> ClusterState:
    """Helper for targets: nodes at positions ``at`` reordered by ``perm`` (others stay)."""
    nodes = list(cs.nodes)
    for i, pos in enumerate(at):
        nodes[at[perm[i]]] = cs.nodes[pos]
    return ClusterState(tuple(nodes), cs.inflight)
