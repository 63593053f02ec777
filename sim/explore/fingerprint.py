"""Canonical fingerprints of explorer states, with or without symmetry reduction.

Owns one rule: two states that differ only in the order of the messages in flight (a multiset)
get the same fingerprint, and so do two states that differ only by a renaming of the servers
when symmetry is on. A fingerprint is the first 8 bytes of BLAKE2b over a canonical msgpack
encoding (sorted maps; persistent vectors, sets and FrozenMaps as sorted sequences), read as
an int: the same in every process, under any PYTHONHASHSEED.

Two distinct states share a fingerprint with probability about n^2 / 2^65 for n distinct states
(TLC's estimate for its 64-bit fingerprints): 2.7e-8 for a million states, 2.7e-6 for ten
million. A collision would make the search skip a state it never saw.

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

__all__ = ["Fingerprinter", "encode_state"]


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


def encode_state(state: XState, deep: bool = False) -> bytes:
    """The canonical encoding of ``state``: messages in flight sorted by their encoding; with
    ``deep``, maps with keys of any type sorted too (slower)."""
    if deep:
        state = XState(ClusterState(_canon(state.cluster.nodes),
                                    tuple(_canon(m) for m in state.cluster.inflight)),
                       state.spent, state.cut, _canon(state.ghost))
    cs = state.cluster
    wire = sorted(map(_encode, cs.inflight)) if len(cs.inflight) > 1 else \
        [_encode(m) for m in cs.inflight]
    return _encode((cs.nodes, wire, state.spent, state.cut, state.ghost))


def _digest(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


class Fingerprinter:
    """``fingerprint(state) -> int`` for one model; with ``symmetry`` the least encoding over
    every renaming of the servers that sorts them by the model's ``symmetry_key`` (a view no
    renaming changes, so symmetric states get the same set of candidates)."""

    def __init__(self, model: Model, symmetry: bool = False,
                 permute_ghost: Callable[[tuple[Any, ...], dict[str, str]], tuple[Any, ...]]
                 | None = None) -> None:
        if symmetry and (model.permute is None or model.symmetry_key is None):
            raise ValueError(f"target {model.name} has no symmetry reduction")
        self.model = model
        self.symmetry = symmetry
        self.permute_ghost = permute_ghost
        self.servers = model.servers
        self._at = [model.cluster.index[a] for a in model.servers]

    def __call__(self, state: XState) -> int:
        deep = self.model.deep_encoding
        if not self.symmetry:
            return _digest(encode_state(state, deep))
        return _digest(min(encode_state(s, deep) for s in self.renamings(state)))

    def renamings(self, state: XState) -> list[XState]:
        """The renamings of ``state`` among which the canonical one is chosen."""
        model = self.model
        key = model.symmetry_key
        assert key is not None and model.permute is not None
        nodes = state.cluster.nodes
        keys = [_encode(key(nodes[i])) for i in self._at]
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
            out.append(self._rename(state, tuple(perm)))
        return out

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
