"""The searches: breadth-first (shortest counterexamples), depth-bounded depth-first, and seeded
random walks, over the state graph of ``sim.explore.model``.

Owns the visited set (canonical fingerprints, ``sim.explore.fingerprint``), the queue, the
bounds bookkeeping and the counts. Properties come from outside as ``Property`` objects (the
explorer imports no checker): each keeps its own history value in the state's ghost and raises
``Violation`` from ``check`` when a transition breaks it. ``Goal``s are things that should
happen at least once (``sometimes``): reported reached (with the depth) or not.

Deterministic: the order of transitions is fixed by the model, random walks draw from a
``random.Random(seed)`` of their own, and wall time is only read to report progress.
"""

from __future__ import annotations

import os
import random
import time
from collections import deque
from typing import Any, Callable, Iterable, NamedTuple, Protocol, Sequence, Sized

from sim.explore.fingerprint import Fingerprinter
from sim.explore.model import Bounds, Label, Model, Step, XState, describe, successors

__all__ = [
    "UNSEEN", "READS", "CHANGES", "Property", "Goal", "Violation", "Counterexample", "Progress", "Result", "Interrupted",
    "explore", "walk", "STRATEGIES", "memory_limit", "resident",
]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

STRATEGIES = ("bfs", "dfs", "random")

#: New distinct states between two looks at the process's resident memory.
MEMORY_EVERY = 1 << 14
#: The share of the memory the machine could still give when a search starts that it may take.
MEMORY_SHARE = 0.85


def resident() -> int | None:
    """The process's resident memory in bytes (``/proc/self/statm``), or None without /proc."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def memory_limit() -> int | None:
    """The resident memory a search starting now may grow to: what it holds plus
    ``MEMORY_SHARE`` of what the machine could still give it (``MemAvailable``, and the
    cgroup's ``memory.max`` less its use when lower); None where that cannot be read."""
    held = resident()
    free: list[int] = []
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    free.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max", "rb") as f:
            cap = f.read().strip()
        with open("/sys/fs/cgroup/memory.current", "rb") as f:
            used = int(f.read())
        if cap != b"max":
            free.append(max(0, int(cap) - used))
    except (OSError, ValueError):
        pass
    if held is None or not free:
        return None
    return held + int(MEMORY_SHARE * min(free))
#: How a property observes a step (``Property.observes``).
UNSEEN, READS, CHANGES = 0, 1, 2
_WHOLE = frozenset(("crash", "restart"))      # transitions whose successor is judged whole


class Violation(Exception):
    """A broken property: ``rule`` names it, ``detail`` says what happened."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(f"{rule}: {detail}")
        self.rule = rule
        self.detail = detail


class Property(Protocol):
    """A safety property judged on every transition.

    ``start(state)`` is its history value in the initial state; ``check(ghost, step)`` the
    value after ``step`` (``step.post.ghost`` is still the old one), raising ``Violation`` when
    the transition breaks the property; ``rename(ghost, names)`` the value after the servers
    are renamed (``names`` old -> new address), for symmetry reduction.

    Optionally ``observes(step) -> int``, for partial-order reduction (``sim.explore.por``):
    ``UNSEEN`` when ``step`` neither changes the ghost nor can break the property, whatever
    the other nodes hold, and changes nothing the property reads of its node when it judges
    another node's step; ``READS`` when it changes neither the ghost nor anything the property
    reads, but its verdict may depend on what the other nodes hold; ``CHANGES`` otherwise (the
    answer for every step of a property without the method). Two steps of different nodes
    commute for the property unless one ``CHANGES`` and the other is not ``UNSEEN``."""

    name: str

    def start(self, state: XState) -> Any: ...

    def check(self, ghost: Any, step: Step) -> Any: ...

    def rename(self, ghost: Any, names: dict[str, str]) -> Any: ...


class Goal(NamedTuple):
    """A ``sometimes`` goal: ``reached(step, ghosts)`` on a transition (with the ghosts after
    it; on a step that breaks a property, the ghosts before it) says it happened."""
    name: str
    describe: str
    reached: Callable[[Step, tuple[Any, ...]], bool]


class Counterexample(NamedTuple):
    """The path from the initial state to a violation (its last step breaks ``rule``)."""
    rule: str
    detail: str
    labels: tuple[Label, ...]


class Progress(NamedTuple):
    """Counts so far (TLC's progress line)."""
    generated: int
    distinct: int
    depth: int
    queue: int
    seconds: float


class Result(NamedTuple):
    """What a search found. ``bounds_hit`` names the bounds that cut the search (depth, a
    state constraint, the state budget, walks); ``complete`` is True when every state within
    the bounds was explored."""
    strategy: str
    symmetry: bool
    generated: int
    distinct: int
    depth: int
    seconds: float
    violation: Counterexample | None
    bounds_hit: tuple[str, ...]
    goals: dict[str, int | None]          # goal -> depth first reached (None: never)
    complete: bool
    pruned: int = 0                       # transitions skipped by partial-order reduction


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a search: ``result`` holds the counts and goals so far (no violation,
    not complete)."""

    def __init__(self, result: Result) -> None:
        super().__init__()
        self.result = result


class _Search:
    def __init__(self, model: Model, bounds: Bounds, properties: Sequence[Property],
                 goals: Sequence[Goal], symmetry: bool,
                 progress: Callable[[Progress], None] | None, every: float) -> None:
        self.model = model
        self.bounds = bounds
        self.properties = tuple(properties)
        self.goals = list(goals)
        self.reached: dict[str, int | None] = {g.name: None for g in goals}
        # under lose-oldest the order within a link decides what is lost next (with room
        # for one message per link there is no order to tell)
        self.fingerprint = Fingerprinter(model, symmetry, self._rename_ghost,
                                         ordered=bounds.lossy and bounds.per_link > 1)
        self.symmetry = symmetry
        self.progress = progress
        self.every = every
        self.generated = 0
        self.pruned = 0
        self.max_depth = 0
        self.hit: set[str] = set()
        self.start: XState | None = None
        self.seen: Sized = ()                # the states kept so far (their count: distinct)
        self.memory: int | None = None       # the resident bytes the search may grow to
        self.next_look = min(MEMORY_EVERY, bounds.states)
        self.over_memory = False
        self.t0 = time.perf_counter()      # wall time: progress and rates reported only
        self.next_report = self.t0 + every
        found = [getattr(p, "observes", None) for p in self.properties]
        self._observes: list[Callable[[Step], int]] | None = (
            None if None in found else [f for f in found if f is not None])

    def _rename_ghost(self, ghost: tuple[Any, ...], names: dict[str, str]) -> tuple[Any, ...]:
        return tuple(p.rename(g, names) for p, g in zip(self.properties, ghost))

    def initial(self) -> XState:
        if self.start is not None:
            return self.start
        state = self.model.initial()
        ghost = tuple(p.start(state) for p in self.properties)
        return XState(state.cluster, state.spent, state.cut, ghost)

    def expand(self, state: XState, depth: int,
               ) -> Iterable[tuple[Label, XState, Violation | None, str | None]]:
        """Each successor of ``state`` (at ``depth``) with its ghosts updated, the violation
        it shows (if any) and the state constraint it breaks (if any)."""
        model, bounds, props, goals = self.model, self.bounds, self.properties, self.goals
        beyond = model.beyond
        ghost0 = state.ghost
        only = props[0].check if len(props) == 1 else None
        first = ghost0[0] if only is not None else None
        depth1 = depth + 1
        for label, _, addr, event, effects, after in successors(model, state, bounds):
            self.generated += 1
            broken: Violation | None = None
            if props or goals:
                step = Step(label, state, after, addr, event, effects, depth1)
                ghost = ghost0
                try:
                    if only is not None:
                        value = only(first, step)
                        if value is not first:
                            ghost = (value,)
                    elif props:
                        ghost = tuple(p.check(g, step) for p, g in zip(props, ghost0))
                except Violation as exc:
                    broken = exc
                if ghost is not ghost0 and ghost != ghost0:
                    after = XState(after.cluster, after.spent, after.cut, ghost)
                if goals:
                    # a goal reached by the violating step itself counts too (its ghosts are
                    # those before it: the step has no state after it)
                    self._goals(step, ghost, depth1)
            # a crash or a restart may drop several messages (and send some): judged whole
            yield label, after, broken, beyond(
                after, bounds, state if label.after < 0 and label.kind not in _WHOLE else None)

    def judge(self, state: XState, depth: int,
              found: tuple[Label, Any, str | None, Any, Any, XState],
              ) -> tuple[XState, Violation | None, Step, str | None, int]:
        """One successor of ``successors(state)`` judged as ``expand`` judges it: the state
        after it (ghosts updated), the violation (if any), the step, the state constraint it
        breaks (if any) and how the properties observe it (``observes``; a step no property
        observes is not given to them: their ghosts stay as they are)."""
        label, _, addr, event, effects, after = found
        self.generated += 1
        step = Step(label, state, after, addr, event, effects, depth + 1)
        broken: Violation | None = None
        ghost = state.ghost
        seen = self.observes(step)
        if seen != UNSEEN:
            try:
                ghost = tuple(p.check(g, step) for p, g in zip(self.properties, ghost))
            except Violation as exc:
                broken, ghost = exc, state.ghost
            if ghost != state.ghost:
                after = XState(after.cluster, after.spent, after.cut, ghost)
        if self.goals:
            self._goals(step, ghost, depth + 1)
        return after, broken, step, self.beyond(state, found), seen

    def beyond(self, state: XState, found: tuple[Label, Any, str | None, Any, Any, XState],
               ) -> str | None:
        """The state constraint the successor ``found`` of ``state`` breaks, if any."""
        label = found[0]
        return self.model.beyond(found[5], self.bounds, state if label.after < 0 and
                                 label.kind not in _WHOLE else None)

    def observes(self, step: Step) -> int:
        """How the properties observe ``step``: the most any of them does
        (``Property.observes``)."""
        checks = self._observes
        if checks is None:
            return CHANGES
        if len(checks) == 1:
            return checks[0](step)
        return max((f(step) for f in checks), default=UNSEEN)

    def _goals(self, step: Step, ghost: tuple[Any, ...], depth: int) -> None:
        for goal in list(self.goals):
            if goal.reached(step, ghost):
                self.reached[goal.name] = depth
                self.goals.remove(goal)

    def full(self, distinct: int) -> str | None:
        """Before keeping a new state when ``distinct`` are kept: ``"states"`` at the state
        budget, ``"memory"`` when the process holds more than its memory limit (looked at
        every ``MEMORY_EVERY`` new states), else None."""
        if distinct < self.next_look:
            return None
        if self.over_memory:
            return "memory"         # random walks go on past it: it stays stopped
        if distinct >= self.bounds.states:
            return "states"
        self.next_look = min(distinct + MEMORY_EVERY, self.bounds.states)
        if self.memory is not None:
            held = resident()
            if held is not None and held > self.memory:
                self.over_memory, self.next_look = True, 0
                return "memory"
        return None

    def tick(self, distinct: int, depth: int, queue: int) -> None:
        if self.progress is None:
            return
        now = time.perf_counter()           # wall time: when to report progress, nothing else
        if now >= self.next_report:
            self.next_report = now + self.every
            self.progress(Progress(self.generated, distinct, depth, queue, now - self.t0))

    def violated(self, strategy: str, distinct: int, broken: Any, depth: int,
                 labels: tuple[Label, ...]) -> Result:
        """The result of a search whose step at ``depth`` broke a property: ``labels`` lead
        from the start to the state that broke it."""
        self.max_depth = max(self.max_depth, depth + 1)
        return self.result(strategy, distinct, Counterexample(broken.rule, broken.detail, labels),
                           False)

    def result(self, strategy: str, distinct: int, violation: Counterexample | None,
               complete: bool, queue: int = 0) -> Result:
        """``queue``: the states left unexplored (when the state budget stopped the search)."""
        seconds = time.perf_counter() - self.t0   # reported only (rates), never a verdict
        if self.progress is not None:
            self.progress(Progress(self.generated, distinct, self.max_depth, queue, seconds))
        return Result(strategy, self.symmetry, self.generated, distinct, self.max_depth,
                      seconds, violation, tuple(sorted(self.hit)), dict(self.reached),
                      complete and violation is None, self.pruned)


def explore(model: Model, bounds: Bounds, properties: Sequence[Property] = (),
            goals: Sequence[Goal] = (), strategy: str = "bfs", symmetry: bool = False,
            seed: int = 0, walks: int = 1000,
            progress: Callable[[Progress], None] | None = None, every: float = 10.0,
            start: XState | None = None, por: bool = False, memory: int | None = None,
            ) -> Result:
    """Search ``model`` within ``bounds`` and judge ``properties`` on every transition.

    ``bfs`` explores level by level and stops at the first violation, whose path is then a
    shortest one; ``dfs`` goes deep first (to ``bounds.depth``); ``random`` takes ``walks``
    seeded random walks of at most ``bounds.depth`` steps. ``progress`` is called about every
    ``every`` seconds and once at the end. ``start`` (from ``walk``) searches from that state
    instead of the initial one: depths and paths then count from it. ``por`` (BFS only):
    partial-order reduction by sleep sets (``sim.explore.por``): the same states at the same
    depths, fewer transitions taken (``Result.pruned`` counts those skipped). The search
    stops, as at the state budget (``"memory"`` in ``bounds_hit``), when the process holds
    more than ``memory`` resident bytes (default ``memory_limit()``, what the machine can
    give when it starts), so it never runs the machine out of memory."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}")
    if por and strategy != "bfs":
        raise ValueError(f"partial-order reduction applies to bfs only (not {strategy})")
    search = _Search(model, bounds, properties, goals, symmetry, progress, every)
    search.start = start
    search.memory = memory_limit() if memory is None else memory
    try:
        if strategy == "bfs" and por:
            from sim.explore import por as reduction
            return reduction.bfs(search)
        if strategy == "bfs":
            return _bfs(search)
        if strategy == "dfs":
            return _dfs(search)
        return _random(search, seed, walks)
    except KeyboardInterrupt:
        search.progress = None
        raise Interrupted(search.result(strategy, len(search.seen), None, False)) from None


def walk(model: Model, bounds: Bounds, properties: Sequence[Property],
         labels: Sequence[Label]) -> XState:
    """The state ``labels`` lead to from the initial state, with the properties' ghosts (a
    crafted starting point for ``explore(start=...)``). ``Violation`` if a step breaks a
    property, ``ValueError`` if a transition is not enabled."""
    search = _Search(model, bounds, properties, (), False, None, 1.0)
    state = search.initial()
    for depth, label in enumerate(labels):
        for found, after, broken, _ in search.expand(state, depth):
            if found == label:
                if broken is not None:
                    raise broken
                state = after
                break
        else:
            raise ValueError(f"step {depth + 1} is not enabled: {describe(label)}")
    return state


def _path(parents: list[tuple[int, Label | None]], at: int) -> tuple[Label, ...]:
    labels: list[Label] = []
    while at >= 0:
        parent, label = parents[at]
        if label is not None:
            labels.append(label)
        at = parent
    return tuple(reversed(labels))


def _bfs(search: _Search) -> Result:
    bounds = search.bounds
    fp = search.fingerprint.function
    start = search.initial()
    seen: dict[int, int] = {fp(start): 0}          # fingerprint -> node number
    search.seen = seen
    parents: list[tuple[int, Label | None]] = [(-1, None)]
    queue: deque[tuple[XState, int, int]] = deque([(start, 0, 0)])
    hit = search.hit.add
    budget_hit = False
    while queue:
        state, depth, me = queue.popleft()
        if depth >= bounds.depth:
            search.hit.add("depth")
            continue
        for label, after, broken, beyond in search.expand(state, depth):
            if broken is not None:
                return search.violated("bfs", len(seen), broken, depth,
                                       _path(parents, me) + (label,))
            if beyond is not None:
                hit(beyond)
                continue
            key = fp(after)
            if key in seen:
                continue
            stop = search.full(len(seen))
            if stop is not None:
                budget_hit = True
                search.hit.add(stop)
                break
            seen[key] = len(parents)
            parents.append((me, label))
            if depth + 1 > search.max_depth:
                search.max_depth = depth + 1
            queue.append((after, depth + 1, len(parents) - 1))
        if budget_hit:
            break
        search.tick(len(seen), depth, len(queue))
    # the state whose expansion the budget cut short is left too
    return search.result("bfs", len(seen), None, not search.hit, len(queue) + budget_hit)


def _dfs(search: _Search) -> Result:
    bounds = search.bounds
    fp = search.fingerprint.function
    start = search.initial()
    seen: dict[int, int] = {fp(start): 0}       # fingerprint -> shallowest depth seen
    search.seen = seen
    stack: list[tuple[XState, int, tuple[Label, ...]]] = [(start, 0, ())]
    while stack:
        state, depth, path = stack.pop()
        if depth >= bounds.depth:
            search.hit.add("depth")
            continue
        children = []
        for label, after, broken, beyond in search.expand(state, depth):
            if broken is not None:
                return search.violated("dfs", len(seen), broken, depth, path + (label,))
            if beyond is not None:
                search.hit.add(beyond)
                continue
            key = fp(after)
            old = seen.get(key)
            if old is not None and old <= depth + 1:
                continue     # seen at this depth or shallower: nothing new below it
            stop = search.full(len(seen)) if old is None else None
            if stop is not None:
                search.hit.add(stop)
                return search.result("dfs", len(seen), None, False, len(stack) + 1)
            seen[key] = depth + 1
            search.max_depth = max(search.max_depth, depth + 1)
            children.append((after, depth + 1, path + (label,)))
        stack.extend(reversed(children))     # the first transition is explored first
        search.tick(len(seen), depth, len(stack))
    return search.result("dfs", len(seen), None, not search.hit)


def _random(search: _Search, seed: int, walks: int) -> Result:
    bounds = search.bounds
    fp = search.fingerprint.function
    rng = random.Random(seed)
    start = search.initial()
    seen: set[int] = {fp(start)}
    search.seen = seen
    for _ in range(walks):
        state, path = start, ()  # type: tuple[XState, tuple[Label, ...]]
        for depth in range(bounds.depth + 1):
            if depth == bounds.depth:
                search.hit.add("depth")
                break
            options = []
            for label, after, broken, beyond in search.expand(state, depth):
                if broken is not None:
                    return search.violated("random", len(seen), broken, depth,
                                           path + (label,))
                if beyond is not None:
                    search.hit.add(beyond)
                    continue
                options.append((label, after))
            if not options:
                break
            label, state = options[rng.randrange(len(options))]
            path = path + (label,)
            search.max_depth = max(search.max_depth, depth + 1)
            stop = search.full(len(seen))
            if stop is None:
                seen.add(fp(state))
            else:
                search.hit.add(stop)
            search.tick(len(seen), depth, 0)
    search.hit.add("walks")        # every walk taken (not when interrupted before)
    return search.result("random", len(seen), None, False)
