"""Partial-order reduction for the breadth-first search: sleep sets (Godefroid) over
independent transitions.

Owns one rule, when two transitions are independent (``independent``), and the breadth-first
search that uses it (``bfs``). Two steps at different nodes commute: each changes its own node,
takes its own message off the wire and adds what it sent (the wire is a multiset), so taking
them in either order reaches the same state. A sleep set holds, for a state, the transitions
whose successors are reached by another path of the same length: a transition ``t`` taken
before ``u`` at some state, and independent of ``u``, need not be taken again after ``u``.
Sleep sets never skip a state: every state within the bounds is reached, at its least depth
(so BFS still reports a shortest counterexample, and the counts of distinct states are those
of the plain search); what they skip is transitions, with the invariant checks and
fingerprints they cost.

Dependent (never both in a sleep set's bargain):

- two steps of the same node, and anything that is not a node's step (faults: drop,
  duplicate, crash, crash in the middle of a step, restart, partition, heal; a message to a
  node that is down, only taken off the wire);
- two client requests (they share the operation budget, and the k-th is ``v<k>``);
- two steps of which one changes what a property keeps or reads and the other is observed
  by it (``Property.observes``: one ``CHANGES``, the other ``READS`` or ``CHANGES``): the
  invariants read every node's log when they judge a step, so taken in another order the
  second may get another verdict; a property without ``observes`` changes on every step;
- a step ``u`` that sends on a link and a delivery ``v`` from that link, when ``u`` taken
  first would put more messages on the link than ``--per-link`` allows (``u`` first is then a
  dead end, ``v`` first not). The bound is judged in the state where ``u`` would be left
  asleep after ``v``: with ``--per-link 1`` such pairs are always dependent (``v``'s message
  is on the link), with more room they commute until the link is full;
- under ``--overflow lose-oldest``, two steps that both send on one link (the order they
  send in decides which message a full link loses, and which is the oldest next), and a
  step that sends on a link and a delivery from that link (the send may lose the very
  message the delivery takes, or another one when the delivery came first).

A state's sleep set is the intersection of those it is reached with from the previous level
(all of them are known before the level is expanded); later arrivals, by longer paths, add
nothing (the argument is Godefroid's, over shortest paths: a transition asleep at a state was
taken, with the same verdict, at an ancestor, and the path that takes it first is never longer).
Under symmetry a sleep set is renamed with the state it belongs to.

Never reads a clock but to report progress, never draws from a source that is not seeded.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Iterable, NamedTuple

from sim.cluster import InFlight
from sim.explore.model import Label, Model, Step, XState, successors
from sim.explore.search import CHANGES, READS, _path

if TYPE_CHECKING:
    from sim.explore.search import Result, _Search

__all__ = ["Move", "independent", "bfs"]

#: Transitions a node takes by itself (the others are faults or network-only).
_STEPS = frozenset(("deliver", "fire", "request", "snapshot"))


class Move(NamedTuple):
    """A transition with what independence needs to know of it: the node it steps (""
    for a fault: dependent with everything), whether a property observes it, whether it is a
    client request, the link it takes a message from and the links it sends on."""
    label: Label
    node: str
    seen: int                      # Property.observes: UNSEEN, READS or CHANGES
    request: bool
    takes: tuple[str, str] | None
    sends: tuple[tuple[tuple[str, str], int], ...]     # (link, messages sent on it)


def independent(a: Move, b: Move, links: dict[tuple[str, str], int], per_link: int,
                lossy: bool = False) -> bool:
    """True when ``a`` may sleep after ``b`` is taken from a state with ``links`` messages in
    flight per link: the two commute, neither disables the other nor changes what a property
    makes of the other, and ``a`` taken first stays within ``per_link`` whenever ``b`` taken
    first does; with ``lossy`` (``overflow="lose-oldest"``), neither sends on a link the other
    sends on or takes from (see the module's rules)."""
    if not a.node or not b.node or a.node == b.node:
        return False
    if a.seen + b.seen > READS + READS or (a.request and b.request):
        return False       # one changes what the other's verdict reads (or both spend an op)
    if lossy:
        return not _shares_link(a, b) and not _shares_link(b, a)
    link = b.takes
    if link is not None:
        for sent_on, count in a.sends:
            if sent_on == link and links.get(link, 0) + count > per_link:
                return False
    return True


def _shares_link(a: Move, b: Move) -> bool:
    """True when ``a`` sends on a link ``b`` sends on or takes from."""
    for sent_on, _ in a.sends:
        if sent_on == b.takes:
            return True
        for other, _ in b.sends:
            if sent_on == other:
                return True
    return False


def move_of(state: XState, step: Step, seen: int) -> Move:
    """The move ``step`` takes from ``state`` (``seen``: how the properties observe it)."""
    label = step.label
    if label.kind not in _STEPS or label.after >= 0 or step.addr is None:
        return Move(label, "", CHANGES, False, None, ())
    before = len(state.cluster.inflight)
    takes = None
    if label.kind == "deliver":
        takes = (label.src, label.addr)
        before -= 1
    # what the step sent is at the end of the wire, less what it pushed off full links
    # (under lose-oldest; one survives on each link it sent on)
    sent = step.post.cluster.inflight[before - len(label.lost):]
    counts: dict[tuple[str, str], int] = {}
    for m in sent:
        counts[(m.src, m.dst)] = counts.get((m.src, m.dst), 0) + 1
    return Move(label, step.addr, seen, label.kind == "request", takes, tuple(counts.items()))


def _renamed(move: Move, model: Model, perm: tuple[int, ...],
             names: dict[str, str]) -> Move | None:
    """``move`` with the servers renamed (None when the model cannot rename a message)."""
    label = move.label
    lost = label.lost
    if lost:
        if model.permute_message is None:
            return None
        lost = tuple(model.permute_message(m, perm) for m in lost)
    if label.kind == "deliver":
        if model.permute_message is None:
            return None
        m = model.permute_message(InFlight(label.src, label.addr, label.msg), perm)
        label = Label("deliver", m.dst, m.src, m.msg, label.what, label.event, label.after,
                      lost, label.copy)
    else:
        label = Label(label.kind, names.get(label.addr, label.addr), label.src, label.msg,
                      label.what, label.event, label.after, lost, label.copy)
    takes = move.takes
    if takes is not None:
        takes = (names.get(takes[0], takes[0]), names.get(takes[1], takes[1]))
    return Move(label, names.get(move.node, move.node), move.seen, move.request, takes,
                tuple(((names.get(a, a), names.get(b, b)), n) for (a, b), n in move.sends))


def _mapping(servers: tuple[str, ...], src: tuple[int, ...],
             dst: tuple[int, ...]) -> tuple[tuple[int, ...], dict[str, str]]:
    """The renaming that takes a state canonicalised by ``src`` onto one canonicalised by
    ``dst`` (``perm[i]``: where server ``i`` goes), and the same as addresses."""
    back = [0] * len(dst)
    for i, p in enumerate(dst):
        back[p] = i
    perm = tuple(back[src[i]] for i in range(len(src)))
    return perm, {a: servers[perm[i]] for i, a in enumerate(servers)}


def bfs(search: "_Search") -> "Result":
    """Breadth-first search with sleep sets: the states of the plain search, at the same
    depths, with fewer transitions taken (``search.pruned`` counts those skipped)."""
    model, bounds = search.model, search.bounds
    per_link, lossy = bounds.per_link, bounds.lossy
    canonical = search.fingerprint.canonical
    servers = model.servers
    start = search.initial()
    key0, perm0 = canonical(start)
    seen: dict[int, int] = {key0: 0}                # fingerprint -> node number
    search.seen = seen
    parents: list[tuple[int, Label | None]] = [(-1, None)]
    depths = [0]
    perms = [perm0]
    sleeps: dict[int, dict[Label, Move]] = {0: {}}  # not yet expanded: node -> sleep set
    queue: deque[tuple[XState, int, int]] = deque([(start, 0, 0)])
    while queue:
        state, depth, me = queue.popleft()
        sleep = sleeps.pop(me)
        if depth >= bounds.depth:
            search.hit.add("depth")
            continue
        done: list[Move] = []
        links: dict[tuple[str, str], int] = {}
        for m in state.cluster.inflight:
            links[(m.src, m.dst)] = links.get((m.src, m.dst), 0) + 1
        for found in successors(model, state, bounds):
            label = found[0]
            asleep = sleep.get(label)
            if asleep is not None:
                # reached by another path of the same length; only its bound is looked at
                search.pruned += 1
                done.append(asleep)
                beyond = search.beyond(state, found)
                if beyond is not None:
                    search.hit.add(beyond)
                continue
            after, broken, step, beyond, observed = search.judge(state, depth, found)
            if broken is not None:
                return search.violated("bfs", len(seen), broken, depth,
                                       _path(parents, me) + (label,))
            move = move_of(state, step, observed)
            if beyond is not None:
                search.hit.add(beyond)
                done.append(move)
                continue
            key, perm = canonical(after)
            node = seen.get(key)
            if node is None:
                stop = search.full(len(seen))
                if stop is not None:
                    search.hit.add(stop)
                    return search.result("bfs", len(seen), None, False, len(queue) + 1)
                seen[key] = node = len(parents)
                parents.append((me, label))
                depths.append(depth + 1)
                perms.append(perm)
                sleeps[node] = _sleep_after(move, sleep.values(), done, links, per_link, lossy)
                search.max_depth = max(search.max_depth, depth + 1)
                queue.append((after, depth + 1, node))
            elif node in sleeps and depths[node] == depth + 1 and sleeps[node]:
                # reached again from the same level: only what both arrivals let sleep does
                mine = _sleep_after(move, sleep.values(), done, links, per_link, lossy)
                if perms[node] != perm:
                    mine = _rename_sleep(mine, model, servers, perm, perms[node])
                stored = sleeps[node]
                sleeps[node] = {lab: m for lab, m in stored.items() if lab in mine}
            done.append(move)
        search.tick(len(seen), depth, len(queue))
    return search.result("bfs", len(seen), None, not search.hit)


def _sleep_after(move: Move, sleeping: Iterable[Move], done: list[Move],
                 links: dict[tuple[str, str], int], per_link: int,
                 lossy: bool = False) -> dict[Label, Move]:
    """The sleep set of the state ``move`` leads to: what slept here or was taken before it,
    if ``independent`` lets it sleep after ``move`` (its rules, inlined: the hot path)."""
    node = move.node
    if not node:
        return {}
    room = READS + READS - move.seen
    request, link = move.request, move.takes
    out: dict[Label, Move] = {}
    for group in (sleeping, done):
        for m in group:
            if not m.node or m.node == node or m.seen > room or (request and m.request):
                continue
            if lossy:
                if (m.sends or move.sends) and not independent(m, move, links, per_link, True):
                    continue
            elif link is not None and m.sends and not independent(m, move, links, per_link):
                continue
            out[m.label] = m
    return out


def _rename_sleep(sleep: dict[Label, Move], model: Model, servers: tuple[str, ...],
                  src: tuple[int, ...], dst: tuple[int, ...]) -> dict[Label, Move]:
    perm, names = _mapping(servers, src, dst)
    out: dict[Label, Move] = {}
    for m in sleep.values():
        r = _renamed(m, model, perm, names)
        if r is None:
            return {}            # cannot be renamed: nothing sleeps (always sound)
        out[r.label] = r
    return out


def describe_reduction(pruned: int, generated: int) -> str:
    """One line for reports: how many transitions the sleep sets skipped."""
    total = pruned + generated
    share = 100.0 * pruned / total if total else 0.0
    return f"{pruned:,} transitions skipped by sleep sets ({share:.0f}% of {total:,})"
