"""The explorer's properties and goals: Raft's safety invariants (the checker the simulator
uses, ``checkers.invariants.raft``), the sharding invariants (``checkers.invariants.shards``),
linearizability of the clerks' history and ``sometimes`` goals, wired into ``sim.explore``.

``RaftSafety`` keeps Raft's history in the explored state (the leader of each term, every
committed entry with the highest leader term when it was first committed) and, on every
transition that changes a log, elects a leader or applies something, replays that history
into a fresh ``RaftInvariants`` together with every node's current log, then reports the
transition's observations exactly as ``scenarios/harness/observe.py`` does for a running
cluster. Time in the explorer is the path length.
"""

from __future__ import annotations

import re

from typing import Any, Callable, Sequence

from checkers.invariants.raft import InvariantViolation, RaftInvariants
from checkers.invariants.shards import ShardInvariants
from checkers.linearizability import (
    INFINITY, UNKNOWN, KvInput, Operation, Verdict, check, kv_model as kv_spec,
)
from protocols import raft, shardkv
from protocols.core import (
    Apply, ApplySnapshot, ClientDone, ClientRequest, Note, Receive, Restart, RoleChanged,
)
from sim.explore import CHANGES, CRASHES, READS, UNSEEN, Goal, Model, Step, Violation
from sim.explore.targets import CONTROLLER

__all__ = ["RaftSafety", "Linearizable", "ShardSafety", "raft_goals", "shardkv_goals", "GOALS"]

_LEADER = raft.ROLE_NAMES[raft.LEADER]
_SNAPSHOT = ("<snapshot>",)      # a committed command known only through a snapshot
_MEMO = 200_000                   # verdicts remembered before the memo starts again
_WATCHED = frozenset((RoleChanged, Apply, ApplySnapshot))    # effects the invariants observe


#: The simulator's times in an invariant's detail ("(since t=1.000)", "at t=0.000"): the
#: explorer has no clock (its checkers are fed step numbers, and what they learn from a
#: state's history at 0), so they would mislead; the step list says when.
_TIMES = re.compile(r" \((?:since )?t=[0-9.]+\)| at t=[0-9.]+")


def _timeless(detail: str) -> str:
    return _TIMES.sub("", detail)


class RaftSafety:
    """Election safety, log matching, leader completeness and state machine safety.

    Ghost: ``(leaders, commits)``: ``leaders`` sorted ``(term, address)``; ``commits`` sorted
    ``(index, term, command, bound)`` where ``bound`` is the highest term with a leader when
    the entry was first seen committed (see checkers/invariants/raft.py)."""

    name = "raft"

    def __init__(self, model: Model) -> None:
        if model.raft_of is None:
            raise ValueError(f"target {model.name} has no Raft state")
        self.model = model
        self.raft_of: Callable[[Any], raft.RaftState] = model.raft_of
        self.servers = frozenset(model.servers)
        self._index = model.cluster.index
        self._memo: dict[Any, Any] = {}
        self._read: tuple[Any, Any] = (None, None)     # ghost and nodes a READS step passed

    def start(self, state: Any) -> Any:
        return ((), ())

    def rename(self, ghost: Any, names: dict[str, str]) -> Any:
        leaders, commits = ghost
        return (tuple(sorted((t, names.get(a, a)) for t, a in leaders)), commits)

    def observes(self, step: Step) -> int:
        """How the invariants observe ``step`` (``sim.explore.search.Property``): ``UNSEEN``
        when it is not a server's, or changes no log and elects, applies and installs
        nothing (``_check`` then returns the ghost unchanged whatever the other nodes hold,
        and the step changes nothing ``_primed`` reads of its node); ``READS`` when, besides,
        it only changes roles to a follower or candidate (``_check`` primes a checker with
        every node's log, which may fail, and returns the ghost unchanged); ``CHANGES``
        otherwise. Told from the node before and after the step (not when it booted or
        crashed in the middle: ``_states`` recomputes those)."""
        addr = step.addr
        if addr is None or addr not in self.servers:
            return UNSEEN
        seen = UNSEEN
        for effect in step.effects:
            kind = type(effect)
            if kind in _WATCHED:
                if kind is not RoleChanged or effect.role == _LEADER:
                    return CHANGES
                seen = READS
        if step.label.after >= 0 or type(step.event) is Restart:
            return CHANGES
        i = self._index[addr]
        before = step.pre.cluster.nodes[i].state
        after = step.post.cluster.nodes[i].state
        if before is after and before is not None:
            return seen                   # the same state: the same log
        if before is None or after is None:
            return CHANGES
        if type(before) is not raft.RaftState or type(after) is not raft.RaftState:
            before, after = self.raft_of(before), self.raft_of(after)
        old_log, new_log = before.hard.log, after.hard.log
        return seen if new_log is old_log or new_log == old_log else CHANGES

    def check(self, ghost: Any, step: Step) -> Any:
        seen = self.observes(step)
        if seen == UNSEEN:              # most steps: the ghost stays as it is
            return ghost
        addr = step.addr
        assert addr is not None
        nodes = step.pre.cluster.nodes
        if seen == READS and ghost is self._read[0] and nodes is self._read[1]:
            # a change of role to follower or candidate: its verdict depends on the ghost and
            # the logs only, and a state's successors are judged one after another
            return ghost
        # The verdict depends on the ghost, the nodes before the step and the step (its node,
        # event and crash point): the search meets the same ones again and again (states that
        # differ only in other messages in flight). Of the other nodes it reads only the logs
        # and applied indexes (``_primed``): a second key with just those (``_view``) is
        # looked up when the first misses. A violation is never remembered.
        key = (ghost, nodes, addr, step.event, step.label.after)
        memo = self._memo
        out = memo.get(key)
        if out is None:
            view = (ghost, self._view(nodes), addr, nodes[self._index[addr]], step.event,
                    step.label.after)
            out = memo.get(view)
            if out is None:
                out = self._check(ghost, step)
            if len(memo) >= _MEMO:
                memo.clear()
            memo[key] = memo[view] = out
        if seen == READS:
            self._read = (ghost, nodes)
        return out

    def _view(self, nodes: tuple[Any, ...]) -> tuple[Any, ...]:
        """What ``_primed`` reads of each server: its log (with where it starts) and, when it
        is up, its applied index."""
        raft_of, servers = self.raft_of, self.servers
        out: list[Any] = []
        for a, node in zip(self.model.cluster.addrs, nodes):
            if a not in servers:
                continue
            if node.state is not None:
                r = raft_of(node.state)
                out.append((r.hard.log_start, r.hard.log, r.applied))
            elif node.durable is not None:
                hard = _hard_of(node.durable.state)
                out.append(None if hard is None else (hard.log_start, hard.log))
            else:
                out.append(None)
        return tuple(out)

    def _check(self, ghost: Any, step: Step) -> Any:
        addr = step.addr
        assert addr is not None
        effects = step.effects
        raft_of = self.raft_of
        old, new = self._states(step)
        old_hard, new_hard = raft_of(old).hard, raft_of(new).hard
        log_changed = new_hard.log is not old_hard.log and new_hard.log != old_hard.log
        if not log_changed and not any(type(e) in _WATCHED for e in effects):
            return ghost
        inv, bounds = self._primed(ghost, step)
        t = float(step.depth)
        new_commits: dict[int, tuple[int, Any, int]] = {}
        try:
            if type(step.event) is Restart:
                inv.restarted(t, addr, 0)
            if log_changed and new_hard.log_start == old_hard.log_start:
                log = new_hard.log
                first = _first_difference(old_hard.log, log)
                if first < len(log):
                    inv.log_appended(t, addr, new_hard.log_start + first,
                                     [(e.term, e.command) for e in log[first:]],
                                     log[first - 1].term)
            for effect in effects:
                kind = type(effect)
                if kind is RoleChanged and effect.role == _LEADER:
                    self._leader(inv, t, addr, effect, raft_of(new))
                elif kind is Apply:
                    if effect.index not in bounds:
                        new_commits.setdefault(effect.index, (effect.term, effect.command,
                                                              inv.max_leader_term))
                    elif bounds[effect.index][1] is _SNAPSHOT:    # now known by its command
                        bound = bounds[effect.index][0]
                        new_commits.setdefault(effect.index, (effect.term, effect.command, bound))
                    inv.applied(t, addr, effect.index, effect.term, effect.command)
                elif kind is ApplySnapshot:
                    if effect.index not in bounds and effect.index > 0:
                        new_commits.setdefault(effect.index, (effect.term, _SNAPSHOT,
                                                              inv.max_leader_term))
                    inv.snapshot_applied(t, addr, effect.index, effect.term)
        except InvariantViolation as exc:
            raise Violation(exc.rule, _timeless(exc.detail)) from None
        leaders = tuple(sorted((term, who) for term, (who, _) in inv.leaders.items()))
        commits = ghost[1]
        if new_commits:
            merged = {c[0]: c for c in commits}
            for index, (term, command, bound) in new_commits.items():
                merged[index] = (index, term, command, bound)
            commits = tuple(merged[i] for i in sorted(merged))
        return (leaders, commits)

    def _states(self, step: Step) -> tuple[Any, Any]:
        """The stepping node's protocol state before and after the step (recomputed when a
        crash in the middle of the step lost it)."""
        rules = self.model.cluster
        i = rules.index[step.addr or ""]
        spec = rules.specs[i]
        before = step.pre.cluster.nodes[i].state
        if before is None or type(step.event) is Restart:
            before = spec.init()
        after_node = step.post.cluster.nodes[i]
        if after_node.up and step.label.after < 0:
            return before, after_node.state
        after, _ = spec.step(before, step.event)
        return before, after

    def _primed(self, ghost: Any, step: Step) -> tuple[RaftInvariants, dict[int, Any]]:
        """A checker that has seen the ghost's history and every node's current log."""
        inv = RaftInvariants(_LEADER)
        leaders, commits = ghost
        bounds = {}
        for index, term, command, bound in sorted(commits, key=lambda c: c[3]):
            inv.max_leader_term = bound
            inv.applied_index["a previous step"] = index - 1
            if command is _SNAPSHOT:
                inv.snapshot_applied(0.0, "a previous step", index, term)
            else:
                inv.applied(0.0, "a previous step", index, term, command)
            bounds[index] = (bound, command)
        inv.max_leader_term = 0
        for term, who in leaders:
            inv.role_changed(0.0, who, _LEADER, term)
        inv.applied_index.pop("a previous step", None)
        raft_of = self.raft_of
        for a, node in zip(self.model.cluster.addrs, step.pre.cluster.nodes):
            if a not in self.servers:
                continue
            hard: raft.HardState | None
            if node.state is not None:
                hard = raft_of(node.state).hard
                inv.applied_index[a] = raft_of(node.state).applied
            elif node.durable is not None:
                hard = _hard_of(node.durable.state)
            else:
                continue
            if hard is not None and len(hard.log) > 1:
                inv.log_appended(0.0, a, hard.log_start + 1,
                                 [(e.term, e.command) for e in hard.log[1:]], hard.log[0].term)
        return inv, bounds

    def _leader(self, inv: RaftInvariants, t: float, addr: str, effect: RoleChanged,
                state: raft.RaftState) -> None:
        hard = state.hard
        start = hard.log_start

        def entry_at(index: int) -> tuple[int, Any]:
            entry = hard.log[index - start]
            return entry.term, entry.command

        inv.role_changed(t, addr, effect.role, effect.term, last_index=raft.last_index(state),
                         entry_at=entry_at, snapshot_index=start)


def _hard_of(durable_state: Any) -> raft.HardState | None:
    if type(durable_state) is raft.HardState:
        return durable_state
    return getattr(durable_state, "hard", None)


def _first_difference(old: Any, new: Any) -> int:
    """Position of the first entry of ``new`` that differs from ``old`` (>= 1)."""
    limit = min(len(old), len(new))
    pos = 1
    while pos < limit and new[pos] == old[pos]:
        pos += 1
    return pos


class Linearizable:
    """The clerks' history is linearizable (``checkers.linearizability`` with its kv model),
    judged whenever an operation completes; an operation still in progress has an unknown
    outcome.

    Ghost: the history as a sorted tuple of ``(call, client, kind, key, value, result,
    return)``, where ``call`` and ``return`` count the history's events before them (real-time
    order is all that matters) and ``return`` is -1 while in progress."""

    name = "linearizability"

    def __init__(self, model: Model) -> None:
        self.clients = frozenset(model.clients)

    def start(self, state: Any) -> Any:
        return ()

    def rename(self, ghost: Any, names: dict[str, str]) -> Any:
        return ghost         # clients are never renamed

    def observes(self, step: Step) -> int:
        """``UNSEEN`` when ``step`` is not a clerk's, or neither invokes nor completes an
        operation (the history stays as it is); ``CHANGES`` otherwise."""
        if step.addr is None or step.addr not in self.clients:
            return UNSEEN
        if type(step.event) is ClientRequest or any(type(e) is ClientDone
                                                    for e in step.effects):
            return CHANGES
        return UNSEEN

    def check(self, ghost: Any, step: Step) -> Any:
        addr = step.addr
        if addr is None or addr not in self.clients:
            return ghost
        event = step.event
        history = ghost
        if type(event) is ClientRequest:
            op = event.op
            history = history + ((_events(history), addr, op.kind, op.key, op.value, None, -1),)
        done = [e for e in step.effects if type(e) is ClientDone]
        if not done:
            return history
        entries = list(history)
        for effect in done:
            for i, h in enumerate(entries):
                if h[1] == addr and h[6] < 0:
                    entries[i] = h[:5] + (effect.result, _events(tuple(entries)))
                    break
        history = tuple(entries)
        self._judge(history)
        return history

    def _judge(self, history: tuple[Any, ...]) -> None:
        ops = []
        for call, client, kind, key, value, result, ret in history:
            inp = KvInput(kind, key, value if kind != "get" else None)
            if ret < 0:
                ops.append(Operation(client, inp, float(call), UNKNOWN, INFINITY))
            else:
                out = result if kind == "get" else None
                ops.append(Operation(client, inp, float(call), out, float(ret)))
        verdict = check(kv_spec, ops).verdict
        if verdict is Verdict.ILLEGAL:
            shown = "; ".join(f"{c} {k} {key}{'' if k == 'get' else ' ' + repr(v)}"
                              f" -> {r!r}" if ret >= 0 else f"{c} {k} {key} (pending)"
                              for _, c, k, key, v, r, ret in history)
            raise Violation("linearizability", f"the clerks' history is not linearizable: "
                                               f"{shown}")


def _events(history: tuple[Any, ...]) -> int:
    """How many invocations and completions the history holds."""
    return len(history) + sum(1 for h in history if h[6] >= 0)


# ---------------------------------------------------------------- sometimes goals

def _leader_term_2(step: Step, ghosts: tuple[Any, ...]) -> bool:
    return any(type(e) is RoleChanged and e.role == _LEADER and e.term >= 2
               for e in step.effects)


def _committed(step: Step, ghosts: tuple[Any, ...]) -> bool:
    return any(type(e) is Apply for e in step.effects)


def _commit_then_leader_change(step: Step, ghosts: tuple[Any, ...]) -> bool:
    commits = _commits(ghosts)
    if not commits:
        return False
    first = min(c[1] for c in commits)
    return any(type(e) is RoleChanged and e.role == _LEADER and e.term > first
               for e in step.effects)


def _snapshot_installed(step: Step, ghosts: tuple[Any, ...]) -> bool:
    return (type(step.event) is Receive and type(step.event.msg) is raft.InstallSnapshot
            and any(type(e) is ApplySnapshot for e in step.effects))


def _op_completed(step: Step, ghosts: tuple[Any, ...]) -> bool:
    return any(type(e) is ClientDone for e in step.effects)


def _op_after_crash(step: Step, ghosts: tuple[Any, ...]) -> bool:
    return step.pre.spent[CRASHES] > 0 and any(type(e) in (Apply, ClientDone)
                                               for e in step.effects)


def _commits(ghosts: tuple[Any, ...]) -> tuple[Any, ...]:
    for g in ghosts:
        if isinstance(g, tuple) and len(g) == 2 and isinstance(g[1], tuple):
            return g[1]
    return ()


#: name -> Goal; which ones a target reports is chosen by ``raft_goals``.
GOALS: dict[str, Goal] = {g.name: g for g in (
    Goal("leader-term-2", "a leader is elected in a term >= 2", _leader_term_2),
    Goal("commit", "an entry is committed (applied somewhere)", _committed),
    Goal("commit-then-leader-change",
         "a leader is elected in a term above that of a committed entry",
         _commit_then_leader_change),
    Goal("snapshot-installed", "a follower installs a leader's snapshot", _snapshot_installed),
    Goal("op-after-crash", "an operation completes after a crash", _op_after_crash),
    Goal("op-completed", "a clerk's operation completes", _op_completed),
)}


def raft_goals(snapshots: bool, crashes: bool, clients: bool = False, ops: bool = True
               ) -> Sequence[Goal]:
    """The goals that can be reached under the given options (without operations, only an
    election: nothing is committed, applied, snapshotted or completed)."""
    names = ["leader-term-2"]
    if ops:
        names += ["commit", "commit-then-leader-change"]
        if clients:
            names.append("op-completed")
        if snapshots:
            names.append("snapshot-installed")
        if crashes:
            names.append("op-after-crash")
    return [GOALS[n] for n in names]


# ---------------------------------------------------------------- sharded KV

class ShardSafety:
    """The sharding invariants (``checkers.invariants.shards``, as the simulator's shardkv
    harness feeds them): every group server's observations (its boots and the ``shard-*``
    notes of what it applied) are replayed, in order, into a fresh ``ShardInvariants`` on every
    transition that adds one.

    Ghost: the observations so far, as a tuple of ``(what, server, detail)``; an operation
    served again on the same shard under the same configuration by the same server adds
    nothing (the checker's verdict on it cannot change)."""

    name = "shards"

    def __init__(self, model: Model) -> None:
        self.groups = frozenset(a for a in model.servers if a != CONTROLLER)
        self.prelude = model.prelude

    def start(self, state: Any) -> Any:
        """The observations of the steps that settled the store before the search."""
        ghost: tuple[Any, ...] = ()
        for addr, event, effects in self.prelude:
            if addr in self.groups:
                ghost += self._observations(ghost, addr, event, effects)
        return ghost

    def rename(self, ghost: Any, names: dict[str, str]) -> Any:
        return ghost         # no symmetry reduction for this target

    def check(self, ghost: Any, step: Step) -> Any:
        addr = step.addr
        if addr is None or addr not in self.groups:
            return ghost
        new = self._observations(ghost, addr, step.event, step.effects)
        if not new:
            return ghost
        inv = ShardInvariants()
        try:
            for what, server, detail in ghost:
                _observe(inv, 0.0, what, server, detail)
            for what, server, detail in new:
                _observe(inv, float(step.depth), what, server, detail)
        except InvariantViolation as exc:
            raise Violation(exc.rule, _timeless(exc.detail)) from None
        return ghost + new

    @staticmethod
    def _observations(ghost: tuple[Any, ...], addr: str, event: Any, effects: Any
                      ) -> tuple[Any, ...]:
        new: list[tuple[str, str, Any]] = []
        if type(event) is Restart:
            new.append(("restarted", addr, None))
        for e in effects:
            if type(e) is Note and e.what.startswith("shard-"):
                seen = (e.what, addr, e.detail)
                if e.what != "shard-served" or seen not in ghost:
                    new.append(seen)
        return tuple(new)


def _observe(inv: ShardInvariants, t: float, what: str, server: str, d: Any) -> None:
    """One observation, as scenarios/harness/shardkv.py reports it to the checker."""
    if what == "restarted":
        inv.restarted(t, server)
    else:
        inv.note(t, server, what, d)


def _notes(step: Step, what: str) -> list[Any]:
    return [e.detail for e in step.effects if type(e) is Note and e.what == what]


def _shard_migrated(step: Step, ghosts: tuple[Any, ...]) -> bool:
    return bool(_notes(step, "shard-installed"))


def _shard_deleted(step: Step, ghosts: tuple[Any, ...]) -> bool:
    return bool(_notes(step, "shard-deleted"))


def shardkv_goals(model: Model, crashes: bool, changes: int = 1, ops: bool = True
                  ) -> list[Goal]:
    """The ``sometimes`` goals of a sharded KV search of ``changes`` configuration changes: a
    clerk's operation completes, a shard moves between groups (installed by its new owner;
    deleted by its old one), the new owner serves an operation under a later configuration,
    the last change reaches every group (and, with crashes, an operation completes after
    one). Only those that can be reached: none of a change without one, none of an
    operation without ``ops``."""
    index = model.cluster.index
    clerks = frozenset(model.clients)
    groups = [index[a] for a in model.servers if a != CONTROLLER]
    last = max(2, 1 + changes)       # the configuration the last change makes
    servers = [index[a] for a in model.servers]
    group_addrs = frozenset(a for a in model.servers if a != CONTROLLER)

    def op_after_config_change(step: Step, ghosts: tuple[Any, ...]) -> bool:
        # served, not merely answered: a reply of gid 1 under configuration 1 may reach a
        # clerk that has meanwhile learned configuration 2 (gid 1 owns every shard in 1)
        return step.addr in group_addrs and any(d[1] >= 2 and d[0] != 1
                                                 for d in _notes(step, "shard-served"))

    def config_change_everywhere(step: Step, ghosts: tuple[Any, ...]) -> bool:
        applied = [d[1] for d in _notes(step, "shard-config")]
        if not applied or max(applied) < last:
            return False
        num = max(applied)
        nodes = step.post.cluster.nodes
        return all(nodes[i].up and shardkv.server.machine(nodes[i].state).config.num >= num
                   for i in groups)

    def op_completed(step: Step, ghosts: tuple[Any, ...]) -> bool:
        return step.addr in clerks and any(type(e) is ClientDone for e in step.effects)

    def op_after_crash(step: Step, ghosts: tuple[Any, ...]) -> bool:
        # the controller applies the groups' polls all the time: only a clerk's operation
        # counts, once every server that crashed is up again
        if step.pre.spent[CRASHES] == 0 or not op_completed(step, ghosts):
            return False
        nodes = step.post.cluster.nodes
        return all(nodes[i].up for i in servers)

    goals = [Goal("op-completed", "a clerk's operation completes", op_completed),
             Goal("shard-migrated", "a shard moves: its new owner installs it", _shard_migrated),
             Goal("shard-deleted", "a shard's previous owner deletes its copy after the move",
                  _shard_deleted),
             Goal("op-after-config-change",
                  "a clerk's operation is served by the shard's new owner, under "
                  "configuration 2 or later (after the shard moved)", op_after_config_change),
             Goal("config-change-everywhere",
                  f"every group server applies configuration {last} (that of the last change "
                  f"asked for)", config_change_everywhere)]
    if crashes:
        goals.append(Goal("op-after-crash", "a clerk's operation completes after a server "
                          "crashed, every crashed server up again", op_after_crash))
    needs_op = ("op-completed", "op-after-config-change", "op-after-crash")
    needs_change = ("shard-migrated", "shard-deleted", "op-after-config-change",
                    "config-change-everywhere")
    return [g for g in goals if (ops or g.name not in needs_op)
            and (changes or g.name not in needs_change)]
