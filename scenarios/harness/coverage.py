"""Coverage of interesting situations: named "sometimes" points, counted per run.

A point is a situation worth reaching because bugs hide there (a stale reply reaching a leader,
a follower truncating its log, a crash between two effects of one step, ...). They are
observed from outside the protocols, the way ``observe.py`` watches the invariants: each
node's step function is wrapped so that every ``(old state, event, new state, effects)`` is
looked at, and the crash hook of the host is read. The counts go to ``RunContext.coverage``
and from there to ``RunResult.coverage`` (name -> count, sorted by name, deterministic: no
clock, no hash order, no randomness). ``POINTS`` is the catalogue, with what each one means.

Cheap by design: one extra call per step, a dispatch on the event's type (and on a received
message's type), and work only for the few events that can reach a point (replies at a
leader, elections, restarts, crashes, log changes at a follower). Part of the optional
compiled build (``tools/build_compiled.py``): hosts and networks are typed, so their
attributes are read directly there.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Final

from protocols import raft
from protocols.core import Persist, Receive, Restart, Send, TimerFired
from protocols.raft import (AppendEntries, AppendEntriesReply, InstallSnapshot,
                            InstallSnapshotReply, RequestVote)
from sim.host import Host
from sim.network import Network

from scenarios.runner import RunContext

__all__ = ["POINTS", "Coverage", "raft_of"]

LEADER: Final = raft.LEADER
CANDIDATE: Final = raft.CANDIDATE
# Final: C statics in the compiled build, where a plain module-level name is a dict lookup.
_Receive: Final = Receive
_Restart: Final = Restart
_TimerFired: Final = TimerFired
_AppendEntries: Final = AppendEntries
_AppendEntriesReply: Final = AppendEntriesReply
_InstallSnapshot: Final = InstallSnapshot
_InstallSnapshotReply: Final = InstallSnapshotReply
_RequestVote: Final = RequestVote

#: Every point, with the situation it names (docs/campaigns.md lists them too).
POINTS: dict[str, str] = {
    "append-behind-snapshot": "a follower gets an AppendEntries whose prev index is below its "
                              "snapshot (a snapshot and an AppendEntries raced)",
    "client-retry-new-leader": "a clerk sends an operation again, to another server, which "
                               "is leader then",
    "crash-between-effects": "a crash lands between two effects of one step (some performed, "
                             "the rest lost)",
    "crash-persisted-not-sent": "a crash lands after a step's Persist and before one of its "
                                "Sends",
    "duplicate-delivered": "the same message object delivered twice to a node",
    "election-retry": "a candidate's election timer fires again (a split or lost vote)",
    "follower-far-behind": "a leader holds more than two full batches a follower lacks",
    "follower-truncates-log": "a follower's log loses entries to a conflicting AppendEntries",
    "leader-deposed": "a leader steps down",
    "leader-elected": "a node becomes leader",
    "leader-elected-under-partition": "a node becomes leader while a link among its peers is "
                                      "cut",
    "log-compacted": "a node compacts its own log into a snapshot",
    "old-term-entry-committed": "a leader's commit index moves over an entry of an older term "
                                "(committed by one of its own term, §5.4.2)",
    "old-term-entry-on-majority": "an entry of an older term is on a majority but not committed "
                                  "(the Figure 8 situation, §5.4.2)",
    "reboot-with-log": "a node reboots with entries in its persisted log",
    "reboot-with-snapshot": "a node reboots from a persisted snapshot",
    "snapshot-installed": "a follower installs a leader's snapshot",
    "stale-install-snapshot": "a follower gets an InstallSnapshot older than its commit index",
    "stale-reply-old-term": "a leader gets a reply sent in an earlier term",
    "stale-success-reply": "a leader gets a success reply older than what it knows the "
                           "follower holds",
    "vote-request-less-up-to-date": "a node gets a vote request of its current term from a "
                                    "candidate whose log is less up to date",
}

#: How many recent messages per node the duplicate detector remembers.
_RECENT = 32


def raft_of(state: Any) -> Any:
    """The Raft state inside a node's state (bare Raft, a service over Raft, a shard group)."""
    while not isinstance(state, raft.RaftState):
        inner = getattr(state, "raft", None)
        state = inner if inner is not None else state.rsm
    return state


def _same(state: Any) -> Any:
    return state


def _accessor(state: Any) -> Callable[[Any], Any]:
    """How to reach the Raft state inside states shaped like ``state`` (found once a node)."""
    if isinstance(state, raft.RaftState):
        return _same
    if isinstance(getattr(state, "raft", None), raft.RaftState):
        return lambda s: s.raft
    return raft_of


def _last(hard: Any) -> int:
    return hard.log_start + len(hard.log) - 1


class Coverage:
    """Counts the points a run reaches into ``counts`` (a run's ``ctx.coverage``)."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts
        self._wrapped: set[str] = set()
        self._last_send: dict[str, tuple[int, str]] = {}

    @classmethod
    def of(cls, ctx: RunContext) -> "Coverage":
        return cls(ctx.coverage)

    def hit(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1

    def attach(self, net: Network) -> None:
        """Watch every host of ``net`` (servers and clients) not watched yet."""
        clients = set(net.clients)
        for addr in sorted(net.hosts):
            if addr in self._wrapped:
                continue
            self._wrapped.add(addr)
            host = net.hosts[addr]
            if addr in clients:
                host.step = self._wrap_client(host, host.step, net)
            else:
                host.step = self._wrap_server(host, host.step, net)

    # ------------------------------------------------------------ servers

    def _wrap_server(self, host: Host, step: Callable[[Any, Any], tuple[Any, list]],
                     net: Network) -> Callable[[Any, Any], tuple[Any, list]]:
        recent: deque[Any] = deque(maxlen=_RECENT)
        get: Callable[[Any], Any] | None = None    # the node's Raft state, found once
        bare = False                               # the node's state is its Raft state

        def covered(state: Any, event: Any) -> tuple[Any, list]:
            nonlocal get, bare
            crash_after = host._crash_after
            new, effects = step(state, event)
            if crash_after is not None:
                self._crashed(crash_after, effects)
            if type(event) is _Receive and net.duplicating:   # only a duplicating net
                msg = event.msg
                for m in recent:
                    if m is msg:
                        self.hit("duplicate-delivered")
                        break
                recent.append(msg)
            if state is not None and new is not None:
                if bare:
                    self._watch(state, event, new, net)
                    return new, effects
                if get is None:
                    get = _accessor(state)
                    bare = get is _same
                self._watch(get(state), event, get(new), net)
            return new, effects
        return covered

    def _crashed(self, crash_after: int, effects: list) -> None:
        if 0 < crash_after < len(effects):
            self.hit("crash-between-effects")
            done, lost = effects[:crash_after], effects[crash_after:]
            if (any(type(e) is Persist for e in done) and any(type(e) is Send for e in lost)):
                self.hit("crash-persisted-not-sent")

    def _watch(self, old: Any, event: Any, new: Any, net: Network) -> None:
        kind = type(event)
        if kind is _Receive:
            msg = event.msg
            got = type(msg)                 # what a received message can reach, by its type
            if got is _AppendEntries:       # (the two usual cases inline: one frame a step)
                oh = old.hard
                if msg.term >= oh.term:
                    start = oh.log_start
                    if msg.prev_index < start:
                        self.hit("append-behind-snapshot")
                    nh = new.hard
                    if nh is not oh:
                        ol, nl = oh.log, nh.log
                        if nl is not ol and nh.log_start == start and _truncated(ol, nl):
                            self.hit("follower-truncates-log")
            elif got is _AppendEntriesReply or got is _InstallSnapshotReply:
                if old.role == LEADER:      # a reply reached a leader
                    old_match = old.match_index
                    if msg.term < old.hard.term:
                        self.hit("stale-reply-old-term")
                    elif (got is _AppendEntriesReply and msg.success
                          and msg.match_index < old_match[msg.follower]):
                        self.hit("stale-success-reply")
                    if new is not old:
                        match = new.match_index
                        if match is not old_match and new.role == LEADER:
                            self._majority(new, match)
            elif got is _RequestVote:
                self._got_vote_request(old, msg, new)
            elif got is _InstallSnapshot:
                self._got_snapshot(old, msg, new)
            if new is old:              # most messages change nothing: nothing more to see
                return
            role, old_role = new.role, old.role
            if role != old_role:
                self._role_changed(old_role, role, new, net)
            elif role == LEADER and new.commit > old.commit:
                self._leader_committed(old, new)
            return                      # (a received snapshot is no compaction of one's own)
        if kind is _Restart:
            if event.durable is not None:
                if len(new.hard.log) > 1:
                    self.hit("reboot-with-log")
                if new.hard.log_start > 0:
                    self.hit("reboot-with-snapshot")
        elif kind is _TimerFired:
            if old.role == CANDIDATE and new.role == CANDIDATE:
                self.hit("election-retry")
        if new is old:
            return
        role, old_role = new.role, old.role
        if role != old_role:
            self._role_changed(old_role, role, new, net)
        if new.hard.log_start > old.hard.log_start:
            self.hit("log-compacted")
        if role == LEADER and old_role == LEADER and new.commit > old.commit:
            self._leader_committed(old, new)

    def _role_changed(self, old_role: int, role: int, new: Any, net: Network) -> None:
        if role == LEADER:
            self.hit("leader-elected")
            if _partitioned(net, new.config.peers):
                self.hit("leader-elected-under-partition")
        elif old_role == LEADER:
            self.hit("leader-deposed")

    def _leader_committed(self, old: Any, new: Any) -> None:
        """A leader's commit index moved: over an entry of an older term?"""
        hard = new.hard
        start, commit = hard.log_start, new.commit
        first = max(old.commit + 1, start + 1)
        if first <= commit and hard.log[first - start].term < hard.term:
            self.hit("old-term-entry-committed")

    # What a received message can reach (the rarer types; ``_watch`` has the usual two).

    def _got_vote_request(self, old: Any, msg: Any, new: Any) -> None:
        if msg.term >= old.hard.term:
            hard = old.hard
            mine = (hard.log[-1].term, _last(hard))
            if (msg.last_log_term, msg.last_log_index) < mine:
                self.hit("vote-request-less-up-to-date")

    def _got_snapshot(self, old: Any, msg: Any, new: Any) -> None:
        if msg.term < old.hard.term:
            return
        if msg.last_index <= old.commit:
            self.hit("stale-install-snapshot")
        elif new.hard.log_start > old.hard.log_start:
            self.hit("snapshot-installed")

    def _majority(self, state: Any, match_index: Any) -> None:
        """After a reply at a leader (``match_index``: its matchIndex): an older-term entry on
        a majority, not committed; a follower more than two batches behind."""
        hard, config = state.hard, state.config
        start, log = hard.log_start, hard.log
        last = start + len(log) - 1
        matches = list(match_index)
        matches[config.me] = last
        matches.sort()
        index = matches[(len(matches) - 1) // 2]      # held by a majority
        if (state.commit < index <= last and index > start
                and log[index - start].term < hard.term):
            self.hit("old-term-entry-on-majority")
        if last - matches[0] > 2 * config.max_batch:
            self.hit("follower-far-behind")

    # ------------------------------------------------------------ clients

    def _wrap_client(self, host: Host, step: Callable[[Any, Any], tuple[Any, list]],
                     net: Network) -> Callable[[Any, Any], tuple[Any, list]]:
        addr = host.addr

        def covered(state: Any, event: Any) -> tuple[Any, list]:
            new, effects = step(state, event)
            for effect in effects:
                if type(effect) is Send:
                    self._client_sent(addr, effect, net)
            return new, effects
        return covered

    def _client_sent(self, addr: str, effect: Any, net: Network) -> None:
        seq = getattr(effect.msg, "seq", None)
        if seq is None:
            return
        before = self._last_send.get(addr)
        self._last_send[addr] = (seq, effect.dst)
        if before is not None and before[0] == seq and before[1] != effect.dst:
            target = net.hosts.get(effect.dst)
            if target is not None and target.up and target.state is not None:
                if raft_of(target.state).role == LEADER:
                    self.hit("client-retry-new-leader")




def _partitioned(net: Network, peers: tuple[str, ...]) -> bool:
    has = net.has_link
    return any(a != b and not has(a, b) for a in peers for b in peers)


def _truncated(ol: Any, nl: Any) -> bool:
    """Whether log ``nl`` dropped or replaced an entry of log ``ol`` (both from the same
    start). A conflict replaces a suffix, so by log matching the last position both hold
    tells."""
    k = len(ol)
    if len(nl) < k:
        return True
    return nl[k - 1].term != ol[k - 1].term
