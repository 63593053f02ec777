"""The KV service's state machine judged against a reference fold of the committed log.

This module owns a tiny key-value model of its own, written apart from ``protocols/kv`` (a bug
there must not be shared by its judge), and two rules checked online from plain values:

- ``kv-fold`` (§5.4.3 state machine safety; the lab's kvraft): every replica's state equals
  the fold of the committed commands in log order. Checked per apply on the key the command
  touches, and in full whenever a replica installs a snapshot (against the reference at the
  snapshot's index, kept when some replica took a snapshot there).
- ``kv-at-most-once`` (Raft paper §8, client interaction): a (client, seq) operation is
  executed at most once, across snapshots, restarts and leader changes: a write whose
  (client, seq) was already applied changes nothing, and the duplicate table (client -> highest
  seq applied) travels with every snapshot.

The model: ``data`` maps key -> value (a missing key reads ""), ``sessions`` maps client ->
highest seq applied. A command (client, seq, op, key, value) with op get / put / append is a
duplicate when seq <= sessions[client]; a duplicate changes nothing; otherwise put sets,
append concatenates, and every op (get too) records its seq.

Cost: O(1) per apply (one key, one client compared); O(keys + clients) per snapshot taken or
installed. Memory: one fold per replica and one per snapshot index, dropped once every
replica's log starts after it (``forget_below``).
"""

from __future__ import annotations

from typing import Any, Mapping

from .raft import InvariantViolation

__all__ = ["KVReference"]


class _Fold:
    """One replica's reference state: the fold of what it applied, and its applied index."""

    __slots__ = ("data", "sessions", "index", "duplicates")

    def __init__(self, data: dict[str, str] | None = None,
                 sessions: dict[str, int] | None = None, index: int = 0) -> None:
        self.data: dict[str, str] = dict(data or {})
        self.sessions: dict[str, int] = dict(sessions or {})
        self.index = index
        self.duplicates: set[str] = set()    # keys of duplicates applied since the last check

    def copy(self) -> "_Fold":
        return _Fold(self.data, self.sessions, self.index)


class KVReference:
    """Per replica, the reference fold of the commands it applied; one hook per observation."""

    def __init__(self) -> None:
        self.folds: dict[str, _Fold] = {}
        self.at_index: dict[int, _Fold] = {}     # snapshot index -> reference state there

    def restarted(self, node: str) -> None:
        """``node`` rebooted: its machine is empty until its snapshot and replay."""
        self.folds[node] = _Fold()

    def applied(self, time: float, node: str, index: int, client: str, seq: int, op: str,
                key: str, value: str) -> None:
        """``node`` applied command ``(client, seq, op, key, value)`` at ``index``: fold it."""
        fold = self.folds.get(node)
        if fold is None:
            fold = self.folds[node] = _Fold()
        fold.index = index
        sessions, data = fold.sessions, fold.data
        if seq <= sessions.get(client, 0):
            if op != "get":
                fold.duplicates.add(key)         # a duplicate write: nothing changes
            return
        sessions[client] = seq
        if op == "put":
            data[key] = value
        elif op == "append":
            data[key] = data.get(key, "") + value

    def check_key(self, time: float, node: str, key: str, value: str, client: str,
                  seq: int) -> None:
        """After its applies, ``node``'s machine holds ``value`` at ``key`` and ``seq`` as
        ``client``'s highest applied seq; they must match the reference."""
        fold = self.folds[node]
        want_seq = fold.sessions.get(client, 0)
        if seq != want_seq:
            raise InvariantViolation(
                "kv-at-most-once", time,
                f"{node}'s duplicate table says {client} is at seq {seq} after index "
                f"{fold.index}; the committed log says {want_seq}",
                nodes=(node,), indexes=(fold.index,))
        want = fold.data.get(key, "")
        duplicates = fold.duplicates
        if value != want:
            again = key in duplicates or _repeats(want, value)
            rule = "kv-at-most-once" if again else "kv-fold"
            raise InvariantViolation(
                rule, time,
                f"{node} holds {key}={_short(value)} after index {fold.index}; the fold of the "
                f"committed log gives {_short(want)}"
                f"{' (a duplicate write was executed)' if again else ''}",
                nodes=(node,), indexes=(fold.index,))
        if duplicates:
            duplicates.discard(key)

    def snapshot_taken(self, node: str, index: int) -> None:
        """``node`` took a snapshot at ``index`` (its fold is there): keep the reference."""
        fold = self.folds.get(node)
        if fold is not None and fold.index == index and index not in self.at_index:
            self.at_index[index] = fold.copy()

    def forget_below(self, index: int) -> None:
        """Drop the references kept at snapshot indexes below ``index``: the driver's promise
        that every replica's log starts at or after it, so no replica installs a snapshot
        below it without first breaking applied-monotonic (a log start going back)."""
        if any(i < index for i in self.at_index):
            self.at_index = {i: fold for i, fold in self.at_index.items() if i >= index}

    def snapshot_installed(self, time: float, node: str, index: int,
                           data: Mapping[str, str], sessions: Mapping[str, int]) -> None:
        """``node``'s machine became (``data``, ``sessions``) from a snapshot at ``index``."""
        ref = self.at_index.get(index)
        if ref is None:
            self.folds[node] = _Fold(dict(data), dict(sessions), index)   # cannot judge
            return
        self.folds[node] = ref.copy()
        if dict(sessions) != ref.sessions:
            diff = _first_difference(ref.sessions, sessions)
            raise InvariantViolation(
                "kv-at-most-once", time,
                f"{node} installed a snapshot at index {index} whose duplicate table differs "
                f"from the committed log's: {diff}", nodes=(node,), indexes=(index,))
        if dict(data) != ref.data:
            diff = _first_difference(ref.data, data)
            raise InvariantViolation(
                "kv-fold", time,
                f"{node} installed a snapshot at index {index} that differs from the fold of "
                f"the committed log: {diff}", nodes=(node,), indexes=(index,))


def _repeats(want: str, got: str) -> bool:
    """``got`` is ``want`` with a suffix of it appended again (an append executed twice)."""
    if len(got) <= len(want) or not got.startswith(want):
        return False
    extra = got[len(want):]
    return want.endswith(extra)


def _first_difference(want: Mapping[str, Any], got: Mapping[str, Any]) -> str:
    for key in sorted(set(want) | set(got)):
        if want.get(key) != got.get(key):
            return (f"{key}: {_short(got.get(key))} (the committed log gives "
                    f"{_short(want.get(key))})")
    return "none"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:28] + "..." + text[-28:]
