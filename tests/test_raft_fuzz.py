"""Hypothesis drives the bare Raft step function, on the synchronous cluster (sim.cluster),
through arbitrary interleavings of delivery, loss, duplication, timeouts, crashes, restarts,
proposals and snapshots; Raft's safety properties (§5.2, §5.3, §5.4, Figure 3) must hold after
every rule.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from protocols import raft

from clusters import RaftCluster

NODES = 3


class RaftMachine(RuleBasedStateMachine):
    @initialize(n=st.sampled_from([3, 5]))
    def setup(self, n: int) -> None:
        self.c = RaftCluster(n)
        self.leader_of_term: dict[int, int] = {}
        self.committed: dict[int, tuple[object, int]] = {}   # index -> (command, max term then)
        self.next_cmd = 0

    def _live(self) -> list[int]:
        return [i for i, s in enumerate(self.c.states) if s is not None]

    @rule(data=st.data())
    @precondition(lambda self: self.c.inflight)
    def deliver(self, data) -> None:
        k = data.draw(st.integers(0, len(self.c.inflight) - 1))
        self.c.deliver(k)
        self._observe()

    @rule(data=st.data())
    @precondition(lambda self: self.c.inflight)
    def drop(self, data) -> None:
        self.c.drop(data.draw(st.integers(0, len(self.c.inflight) - 1)))

    @rule(data=st.data())
    @precondition(lambda self: self.c.inflight)
    def duplicate(self, data) -> None:
        k = data.draw(st.integers(0, len(self.c.inflight) - 1))
        self.c.duplicate(k)

    @rule(isolated=st.sets(st.integers(0, 4), max_size=2))
    def settle(self, isolated) -> None:
        """Deliver everything in flight, losing what crosses a partition around ``isolated``."""
        cut = {f"s{i}" for i in isolated}
        for _ in range(2000):
            if not self.c.inflight:
                return
            src, dst, _ = self.c.inflight[0]
            if src in cut or dst in cut:
                self.c.drop(0)
            else:
                self.c.deliver(0)
                self._observe()

    @rule(i=st.integers(0, 4), isolated=st.sets(st.integers(0, 4), max_size=2))
    def campaign(self, i: int, isolated) -> None:
        """An election timeout followed by a settled network (a whole election round)."""
        self.election_timeout(i)
        self.settle(isolated)

    @rule(i=st.integers(0, 4))
    def election_timeout(self, i: int) -> None:
        if i < self.c.n and self.c.states[i] is not None:
            self.c.timeout(i)
            self._observe()

    @rule(i=st.integers(0, 4))
    def heartbeat(self, i: int) -> None:
        if i < self.c.n and self.c.states[i] is not None:
            self.c.heartbeat(i)

    @rule(i=st.integers(0, 4))
    def crash(self, i: int) -> None:
        if i < self.c.n and self.c.states[i] is not None:
            self.c.crash(i)

    @rule(i=st.integers(0, 4))
    def restart(self, i: int) -> None:
        if i < self.c.n and self.c.states[i] is None:
            self.c.restart(i)
            self._observe()

    @rule(i=st.integers(0, 4))
    def propose(self, i: int) -> None:
        if i < self.c.n and self.c.states[i] is not None:
            self.next_cmd += 1
            self.c.propose(i, self.next_cmd)
            self._observe()

    @rule(i=st.integers(0, 4))
    def snapshot(self, i: int) -> None:
        if i < self.c.n and self.c.states[i] is not None:
            index = self.c.last_applied[i]
            self.c.snapshot(i, index, b"snap%d" % index)

    def _observe(self) -> None:
        """Record leaders per term and newly committed entries (= applied somewhere)."""
        live = self._live()
        max_term = max(self.c.states[i].hard.term for i in live) if live else 0
        for i in live:
            s = self.c.states[i]
            if s.role == raft.LEADER:
                other = self.leader_of_term.setdefault(s.hard.term, i)
                assert other == i, f"election safety: s{other} and s{i} lead term {s.hard.term}"
        for i in range(self.c.n):
            for index, cmd in self.c.applied[i].items():
                seen = self.committed.setdefault(index, (cmd, max_term))
                assert seen[0] == cmd, (f"state machine safety: index {index} applied as "
                                        f"{seen[0]!r} and {cmd!r}")

    @invariant()
    def log_matching(self) -> None:
        """If two logs hold an entry with the same index and term, the logs are identical up to
        that index. Reference: §5.3 (Log Matching Property)."""
        logs = [s.hard for s in self.c.states if s is not None]
        for a in logs:
            for b in logs:
                if a is b:
                    continue
                lo = max(a.log_start, b.log_start)
                hi = min(a.log_start + len(a.log), b.log_start + len(b.log)) - 1
                agree = None
                for index in range(hi, lo, -1):
                    ea, eb = a.log[index - a.log_start], b.log[index - b.log_start]
                    if agree is None and ea.term == eb.term:
                        agree = index
                    if agree is not None:
                        assert ea == eb, f"log matching broken at index {index} (<= {agree})"

    @invariant()
    def leader_completeness(self) -> None:
        """A leader of a later term holds every entry committed before it. Reference: §5.4."""
        for i in self._live():
            s = self.c.states[i]
            if s.role != raft.LEADER:
                continue
            for index, (cmd, term_then) in self.committed.items():
                if s.hard.term > term_then and index > s.hard.log_start:
                    entry = raft.entry_at(s, index)
                    assert entry is not None and entry.command == cmd, (
                        f"leader s{i} (term {s.hard.term}) lacks committed index {index}")

    @invariant()
    def commit_never_exceeds_log(self) -> None:
        for i in self._live():
            s = self.c.states[i]
            assert s.hard.log_start <= s.applied <= s.commit <= raft.last_index(s)


RaftMachine.TestCase.settings = settings(
    max_examples=300, stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestRaftMachine = RaftMachine.TestCase


@given(st.lists(st.integers(0, 50), min_size=1, max_size=9))
def test_committed_index_is_the_highest_index_a_majority_holds(match: list[int]) -> None:
    """``committed_index`` is the largest index that at least ``majority(n)`` members hold
    (§5.3), checked against its definition."""
    from protocols.raft.quorum import committed_index, majority
    index = committed_index(match)
    assert sum(m >= index for m in match) >= majority(len(match))
    assert all(sum(m >= i for m in match) < majority(len(match))
               for i in range(index + 1, max(match) + 2))
