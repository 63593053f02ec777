"""The Wing–Gong search with Lowe's memoization, over one partition of a history.

This module owns the search only: no partitioning, no formats, no clock other than the deadline
handed in. The algorithm is Porcupine's: call and return entries sorted by time (ties: see
``_link``) in a doubly-linked list; an operation is linearized by lifting its entries out of the list, and
backtracking puts them back; configurations (linearized set, state) already explored are not
explored again. Four refinements keep it fast in Python, each sound on its own:

- A read (``Model.read_only``) that is legal now is placed at once, without alternatives:
  placing it later can only constrain the rest more, since it changes no state. A plain read
  (``Model.plain_read``: legal iff its output is the state) is checked without calling ``step``.
- An operation with an unknown outcome has no return entry and is tried only after the known
  ones; once every known operation is placed, the unknown ones left never happened. One whose
  step changes nothing is not placed at all.
- The memo stores configurations that failed, keyed by (known ops placed, state), with the set
  of unknown-outcome ops placed: a configuration is pruned when a failed one placed a subset of
  its unknown ops (those left unplaced may still happen later, or never).
- Two searches trying candidates in opposite orders take turns and share the failed
  configurations (facts about the history, whoever found them); the first to decide answers.

The search proper, ``_dfs``, is one function of about 90 lines, as in Porcupine: its loop is the
hot path, and helper calls inside it would slow it measurably.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from .model import UNKNOWN, Operation

__all__ = ["SearchResult", "search", "LINEARIZABLE", "ILLEGAL", "GAVE_UP"]

LINEARIZABLE, ILLEGAL, GAVE_UP = "ok", "illegal", "gave-up"
_MAX_PARTIALS = 3
_SLICE = 32  # configurations a search enters per turn
_TURNS = ((False, 7), (True, 1))  # (earliest call first?, turns per round): latest first mostly
Predicate = Callable[[Any, Any], bool]  # of (input, output)
_PLAIN, _MAYBE, _READ, _PEEK = 0, 1, 2, 3  # kinds of operation; _PEEK is a _READ too


@dataclass(frozen=True, slots=True)
class SearchResult:
    """What ``search`` found. Indices refer to ``ops``: the operations searched, in call order.

    ``linearization`` is a witness order when ``outcome`` is LINEARIZABLE (operations with
    unknown outcome left out of it never happened). When ILLEGAL and ``track`` was set,
    ``partials`` holds the longest partial linearizations reached, as ``(order, blocked)``:
    after ``order``, operation ``blocked`` had to come next (its return had passed) and no
    order of the remaining operations let it be placed. ``reason`` says why the search gave up.
    """

    outcome: str
    ops: tuple[Operation, ...]
    linearization: tuple[int, ...] = ()
    partials: tuple[tuple[tuple[int, ...], int], ...] = ()
    cache_entries: int = 0
    reason: str = ""


def search(step: Callable[[Any, Any, Any], tuple[bool, Any]], init: Any,
           operations: Sequence[Operation], *, read_only: Predicate | None = None,
           plain_read: Predicate | None = None, deadline: float | None = None,
           max_cache: int = 0, track: bool = False) -> SearchResult:
    """Decide whether ``operations`` (one partition) are linearizable from state ``init``.

    Two depth-first searches take turns, trying a configuration's candidates in opposite orders
    (latest call first, earliest call first): each order has histories on which it wanders.
    They share the failed configurations, which are facts about the history, so neither
    repeats what the other refuted. The first to decide gives the verdict.
    """
    ops = _prepare(operations, read_only, plain_read)
    kinds = _kinds(ops, read_only, plain_read)
    inputs, outputs = [op.input for op in ops], [op.output for op in ops]
    failed = _Failed()
    partials: list[tuple[tuple[int, ...], int]] = []
    runs = [(_dfs(step, init, ops, kinds, inputs, outputs, failed, partials, forward, track), turns)
            for forward, turns in _TURNS]
    while True:
        for run, turns in runs:
            reason = _should_stop(deadline, max_cache, failed.entries)
            if reason:
                return SearchResult(GAVE_UP, ops, cache_entries=failed.entries, reason=reason)
            for _ in range(turns):
                result = next(run)
                if result is not None:
                    return result


def _dfs(step: Callable[[Any, Any, Any], tuple[bool, Any]], init: Any, ops: tuple[Operation, ...],
         kinds: list[int], inputs: list[Any], outputs: list[Any], failed: _Failed,
         partials: list[tuple[tuple[int, ...], int]], forward: bool, track: bool,
         ) -> Iterator[SearchResult | None]:
    """One depth-first search; yields None every _SLICE configurations, then its result."""
    n = len(ops)
    nxt, prv, rank = _link(ops, kinds)
    advance = nxt if forward else prv  # the order in which a window's known calls are tried
    bits, lookup, remember = [1 << i for i in range(n)], failed.get, failed.setdefault
    head, tail, maybe_head, maybe_tail, dead = 2 * n, 2 * n + 1, 2 * n + 2, 2 * n + 3, 2 * n + 4
    stack: list[tuple[int, Any, int, int, int]] = []  # (entry, state, known, maybe, bound) before
    state, known, maybe, limit, countdown = init, 0, 0, math.inf, _SLICE
    bound = _next_return(nxt, head, n)  # the first return entry still listed: it bounds the window
    if bound == tail:
        yield SearchResult(LINEARIZABLE, ops)
        return
    entry = nxt[head] if forward else prv[bound]
    while True:
        if entry < n:  # a call entry: try to linearize its operation now
            kind = kinds[entry]
            if kind == _PEEK:  # a plain read: legal iff it saw this state
                if outputs[entry] != state:
                    entry = advance[entry]
                    continue
                legal, new_state = True, state
            elif kind == _MAYBE and rank[entry] > limit:  # called after the return to meet
                entry = maybe_tail
                continue
            else:
                legal, new_state = step(state, inputs[entry], outputs[entry])
            if legal:
                if kind != _MAYBE:
                    new_known, new_maybe = known | bits[entry], maybe
                elif new_state == state:  # a no-op that may as well never have happened
                    entry = nxt[entry]
                    continue
                else:
                    new_known, new_maybe = known, maybe | bits[entry]
                seen = lookup((new_known, new_state))
                if seen is None or (seen & new_maybe != seen if seen.__class__ is int
                                    else all(s & new_maybe != s for s in seen)):
                    stack.append((entry, state, known, maybe, bound))
                    state, known, maybe = new_state, new_known, new_maybe
                    before, after = prv[entry], nxt[entry]  # lift the call entry
                    nxt[before], prv[after] = after, before
                    if kind != _MAYBE:  # and its return entry
                        ret = entry + n
                        before, after = prv[ret], nxt[ret]
                        nxt[before], prv[after] = after, before
                        if ret == bound:  # the next return entry bounds the window
                            bound = nxt[ret]
                            while bound < n:
                                bound = nxt[bound]
                            if bound == tail:  # every known op is placed: the rest never happened
                                yield SearchResult(LINEARIZABLE, ops, tuple(f[0] for f in stack),
                                                   (), failed.entries)
                                return
                    entry = nxt[head] if forward else prv[bound]
                    countdown -= 1
                    if not countdown:  # give the other search its turn
                        countdown = _SLICE
                        yield None
                    continue
                if kind >= _READ:  # placing this read was the only move worth trying here
                    entry = dead
                    continue
            entry = nxt[entry] if kind == _MAYBE else advance[entry]
        elif entry <= head:  # known calls exhausted (at the bound or the head): the unknown ones
            limit, entry = rank[bound], nxt[maybe_head]
        else:  # a dead end: nothing more to try from this configuration; backtrack
            if track and entry != dead:
                _record_partial(partials, stack, bound - n)
            while True:
                key = (known, state)
                # The usual case: a configuration failed for the first time (one look-up).
                # Otherwise it failed before with other unknown ops placed (an equal set is
                # the same object here, or _remember_failure keeps it as it is).
                if remember(key, maybe) is not maybe:
                    _remember_failure(failed, key, maybe)
                if not stack:
                    yield SearchResult(ILLEGAL, ops, (), tuple(partials), failed.entries)
                    return
                entry, state, known, maybe, bound = stack.pop()
                kind = kinds[entry]
                if kind != _MAYBE:  # unlift, return entry first (reverse of the lift)
                    ret = entry + n
                    nxt[prv[ret]] = prv[nxt[ret]] = ret
                nxt[prv[entry]] = prv[nxt[entry]] = entry
                if kind < _READ:  # a read was placed without alternatives: backtrack further
                    break
            if kind == _MAYBE:
                limit, entry = rank[bound], nxt[entry]
            else:
                entry = advance[entry]


def _prepare(operations: Sequence[Operation], *reads: Predicate | None) -> tuple[Operation, ...]:
    """Operations in call order, without reads whose outcome is unknown (they change nothing)."""
    ops = []
    recorded = {op.call_seq > 0 for op in operations}
    if len(recorded) > 1:
        raise ValueError("call_seq is given for some operations and not others: give the "
                         "positions of every operation's events, or of none")
    for op in sorted(operations, key=lambda op: (op.call, op.call_seq)):
        if op.return_ < op.call:
            raise ValueError(f"operation returns before its call: {op}")
        if op.call_seq and op.output is not UNKNOWN and op.return_seq <= op.call_seq:
            raise ValueError(f"operation's return is not listed after its call: {op}")
        if not (op.output is UNKNOWN and any(r is not None and r(op.input, op.output) for r in reads)):
            ops.append(op)
    return tuple(ops)


def _kinds(ops: Sequence[Operation], read_only: Predicate | None,
           plain_read: Predicate | None) -> list[int]:
    """Per operation: _MAYBE (unknown outcome), _PEEK (legal iff its output is the state),
    _READ (changes no state) or _PLAIN."""
    kinds = []
    for op in ops:
        if op.output is UNKNOWN:
            kinds.append(_MAYBE)
        elif plain_read is not None and plain_read(op.input, op.output):
            kinds.append(_PEEK)
        elif read_only is not None and read_only(op.input, op.output):
            kinds.append(_READ)
        else:
            kinds.append(_PLAIN)
    return kinds


def _link(ops: Sequence[Operation], kinds: list[int]) -> tuple[list[int], list[int], list[float]]:
    """Two doubly-linked entry lists as next/prev index arrays, and each entry's rank.

    Entry i is the call of op i, entry n + i its return. The main list (head 2n, tail 2n + 1)
    holds the calls and returns of ops with a known outcome, sorted by time, then on ties by
    the events' recorded positions if given (``call_seq``, ``return_seq``), else calls before
    returns; the second list (head 2n + 2, tail 2n + 3) holds the calls of ops with an
    unknown outcome (they return at infinity). ``rank`` is an entry's place in the merged
    order: an unknown op is eligible iff its call ranks before the first return still listed.
    """
    n = len(ops)
    entries = [(op.call, op.call_seq, 0, i) for i, op in enumerate(ops)]
    entries += [(op.return_, op.return_seq, 1, n + i) for i, op in enumerate(ops)
                if kinds[i] != _MAYBE]
    entries.sort()
    rank = [math.inf] * (2 * n + 5)
    for position, (_, _, _, e) in enumerate(entries):
        rank[e] = position
    main = [e for _, _, _, e in entries if e >= n or kinds[e] != _MAYBE]
    unknown = [e for _, _, _, e in entries if e < n and kinds[e] == _MAYBE]
    nxt, prv = [0] * (2 * n + 5), [0] * (2 * n + 5)
    for chain in ([2 * n, *main, 2 * n + 1], [2 * n + 2, *unknown, 2 * n + 3]):
        for a, b in zip(chain, chain[1:]):
            nxt[a], prv[b] = b, a
    return nxt, prv, rank


class _Failed(dict):
    """Failed configurations: (known ops placed, state) -> unknown-outcome ops placed with them,
    one bitset (int) or several (list); ``entries`` counts the bitsets, for the memory budget."""

    extra = 0

    @property
    def entries(self) -> int:
        return len(self) + self.extra


def _remember_failure(failed: _Failed, key: tuple[int, Any], maybe: int) -> None:
    """Record that (key, maybe) failed too, next to other sets of unknown-outcome ops."""
    seen = failed[key]
    if seen.__class__ is int:
        if seen & maybe == maybe:  # the new set is smaller: it says more
            failed[key] = maybe
            return
        failed[key] = [seen, maybe]
    else:
        seen.append(maybe)
    failed.extra += 1


def _should_stop(deadline: float | None, max_cache: int, cache_size: int) -> str:
    if max_cache and cache_size >= max_cache:
        return "cache budget"
    # The clock is read only to honour the caller's timeout; it never influences a verdict.
    if deadline is not None and time.monotonic() > deadline:
        return "timeout"
    return ""


def _next_return(nxt: list[int], entry: int, n: int) -> int:
    """The first return entry (or the tail) after ``entry`` in the main list."""
    entry = nxt[entry]
    while entry < n:
        entry = nxt[entry]
    return entry


def _record_partial(partials: list[tuple[tuple[int, ...], int]],
                    stack: list[tuple[int, Any, int, int, int]], blocked: int) -> None:
    """Keep the first few longest dead ends (prefix, op that could not be placed after it)."""
    depth = len(stack)
    best = len(partials[0][0]) if partials else -1
    if depth > best:
        partials.clear()
    elif depth < best or len(partials) >= _MAX_PARTIALS:
        return
    partials.append((tuple(frame[0] for frame in stack), blocked))
