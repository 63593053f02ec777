"""``FrozenMap``: an immutable, hashable dict for protocol state.

Owns nothing but the container; never does I/O. Updates copy: with the few dozen keys a KV
service or a client table holds, a C-level dict copy is several times faster than a persistent
hash trie written in Python (measured: pyrsistent's ``pmap.set`` dominated a KV server's step).
Iteration follows insertion order, which depends on the history of updates: encode sorted.
"""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["FrozenMap"]

class FrozenMap(dict):
    """A dict that refuses in-place change; ``set`` and ``without`` return new maps."""

    __slots__ = ("_hash",)
    _hash: int

    def set(self, key: Any, value: Any) -> "FrozenMap":
        new = FrozenMap(self)
        dict.__setitem__(new, key, value)
        return new

    def without(self, key: Any) -> "FrozenMap":
        if key not in self:
            return self
        new = FrozenMap(self)
        dict.__delitem__(new, key)
        return new

    def __hash__(self) -> int:           # type: ignore[override]
        try:
            return self._hash
        except AttributeError:
            self._hash = hash(frozenset(self.items()))
            return self._hash

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("FrozenMap is immutable: use set() or without()")

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = _refuse
    __ior__ = _refuse

    def __repr__(self) -> str:
        return f"FrozenMap({dict.__repr__(self)})"

    def __reduce__(self) -> tuple:
        return (FrozenMap, (dict(self),))

