"""The explorer's lossy links (``Bounds.overflow="lose-oldest"``, `raftsim explore --overflow
lose-oldest`): a link keeps its newest ``per_link`` messages and a send onto a full link loses
the oldest one, as a real network may. The rule holds on every path, the fingerprint tells
apart the orders of one link (which decide what is lost next) and not those across links,
symmetry and sleep sets keep every verdict, and the step list says what each step lost.

The planted bugs are those of tests/test_explore.py; Figure 8 from the initial state (about
six minutes of CPU) is marked slow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import msgspec
import pytest

from scenarios.explore import RaftSafety, raft_goals
from sim.cluster import InFlight
from sim.explore import (
    Bounds, BoundsError, Fingerprinter, Result, Step, Violation, XState, describe, explore,
    raft_model, successors, walk,
)
from sim.explore.por import Move, independent
from test_explore import old_term_commit, outcome, raftsim, vote_blind

LOSSY = Bounds(max_term=1, max_log=1, overflow="lose-oldest")
VOTE_LOSSY = Bounds(max_term=2, max_log=1, overflow="lose-oldest")


def search(step: Any = None, bounds: Bounds = LOSSY, symmetry: bool = False,
           **kw: Any) -> Result:
    model = raft_model(3, step)
    return explore(model, bounds, [RaftSafety(model)],
                   raft_goals(bounds.snapshots, bounds.crashes > 0), "bfs", symmetry, **kw)


def links(state: XState) -> dict[tuple[str, str], list[Any]]:
    out: dict[tuple[str, str], list[Any]] = {}
    for m in state.cluster.inflight:
        out.setdefault((m.src, m.dst), []).append(m.msg)
    return out


class LinkLoad:
    """A property: no link holds more than ``per_link`` messages after any step; counts the
    steps that lost a message (so a test can see the rule was exercised)."""
    name = "link-load"

    def __init__(self, per_link: int) -> None:
        self.per_link = per_link
        self.losses = 0

    def start(self, state: XState) -> Any:
        return None

    def check(self, ghost: Any, step: Step) -> Any:
        if step.label.lost:
            self.losses += 1
        for link, msgs in links(step.post).items():
            if len(msgs) > self.per_link:
                raise Violation("link-load", f"{link} holds {len(msgs)} messages")
        return ghost

    def rename(self, ghost: Any, names: dict[str, str]) -> Any:
        return ghost


# ---------------------------------------------------------------- the rule

@pytest.mark.parametrize("bounds, symmetry, distinct, generated", [
    (LOSSY, False, 11879, 70221),
    (LOSSY, True, 1988, 11749),
    (Bounds(max_term=2, max_log=1, per_link=2, depth=8, overflow="lose-oldest"), True,
     9826, 24117),
])
def test_golden_state_counts_of_tiny_lossy_configurations(bounds: Bounds,
                                                          symmetry: bool, distinct: int,
                                                          generated: int) -> None:
    """Fixed counts: a change to the rule, the transitions or the fingerprints shows here.
    No state is beyond --per-link under the rule, so only max-term (and depth) are hit."""
    r = search(bounds=bounds, symmetry=symmetry)
    assert (r.distinct, r.generated) == (distinct, generated)
    assert "per-link" not in r.bounds_hit and r.violation is None


def test_with_one_message_per_link_no_link_ever_holds_two() -> None:
    """Every transition of every state (each judged by ``LinkLoad``) leaves at most one
    message per link, and some of them lost one to get there; with the default overflow the
    same bounds are cut short by per-link instead."""
    model = raft_model(3)
    load = LinkLoad(1)
    r = explore(model, LOSSY, [RaftSafety(model), load])
    assert r.violation is None and load.losses > 1000
    stop = explore(model, msgspec.structs.replace(LOSSY, overflow="stop"), [LinkLoad(10)])
    assert "per-link" in stop.bounds_hit and stop.distinct < r.distinct


def test_a_send_onto_a_full_link_loses_its_oldest_message_and_says_which() -> None:
    """s0 campaigns, then campaigns again: its second RequestVote to each peer pushes the
    first (term 1) off the link; the step's description names it."""
    model = raft_model(3)
    bounds = Bounds(max_term=3, max_log=1, overflow="lose-oldest")
    state = model.initial()
    for _ in range(2):
        label, *_, state = next(o for o in successors(model, state, bounds)
                                if o[0].kind == "fire" and o[0].addr == "s0")
    assert [m.msg.term for m in state.cluster.inflight] == [2, 2]
    assert [(m.src, m.dst, m.msg.term) for m in label.lost] == [("s0", "s1", 1),
                                                                ("s0", "s2", 1)]
    line = describe(label)
    assert line.startswith("s0: timer election fires (link s0->s1 full: lost RequestVote(term=1")
    assert "; link s0->s2 full: lost RequestVote(term=1" in line


def test_overflow_is_validated() -> None:
    with pytest.raises(BoundsError, match="overflow") as bad:
        Bounds(overflow="lose-newest").validate()
    assert bad.value.bound == "overflow"
    assert Bounds(overflow="lose-oldest").validate().lossy
    assert not Bounds().validate().lossy


def test_a_duplicate_needs_room_on_its_link() -> None:
    """Under lose-oldest a duplicate onto a full link is no transition (it would be a loss
    that spends no --drops); with room it is."""
    model = raft_model(3)
    state = model.initial()
    *_, state = next(o for o in successors(model, state, LOSSY) if o[0].kind == "fire")
    for per_link, dups in ((1, 0), (2, 2)):
        bounds = Bounds(max_term=1, max_log=1, per_link=per_link, dups=1,
                        overflow="lose-oldest")
        found = [o[0] for o in successors(model, state, bounds) if o[0].kind == "dup"]
        assert len(found) == dups


def test_a_later_copy_behind_another_message_is_a_delivery_of_its_own() -> None:
    """With [a, b, a] on one link, taking the first a leaves [b, a] and the second [a, b]:
    under lose-oldest they lose different messages next, so both are transitions (the second
    labelled ``copy=1``); [a, a, b] gives one. Without the rule identical copies are one."""
    model = raft_model(3)
    state = model.initial()
    *_, state = next(o for o in successors(model, state, LOSSY) if o[0].kind == "fire")
    a, b = state.cluster.inflight            # s0's RequestVotes to s1 and s2
    b = InFlight(a.src, a.dst, msgspec.structs.replace(a.msg, term=7))
    bounds = Bounds(max_term=9, max_log=1, per_link=3, overflow="lose-oldest")

    def deliveries(wire: tuple[InFlight, ...], bounds: Bounds) -> list[Any]:
        s = XState(msgspec.structs.replace(state.cluster, inflight=wire))
        return [(o[0].copy, o[5].cluster.inflight) for o in successors(model, s, bounds)
                if o[0].kind == "deliver" and o[0].msg == a.msg and o[0].after < 0]

    got = deliveries((a, b, a), bounds)
    assert [c for c, _ in got] == [0, 1]
    assert got[0][1][:2] == (b, a) and got[1][1][:2] == (a, b)
    assert [c for c, _ in deliveries((a, a, b), bounds)] == [0]
    assert [c for c, _ in deliveries((a, b, a), msgspec.structs.replace(
        bounds, overflow="stop"))] == [0]
    label = next(o[0] for o in successors(model, XState(msgspec.structs.replace(
        state.cluster, inflight=(a, b, a))), bounds) if o[0].copy == 1)
    assert "(later copy 1) from s0" in describe(label)


# ---------------------------------------------------------------- fingerprints

def test_fingerprints_tell_apart_the_order_within_a_link_not_across_links() -> None:
    """Two RequestVotes of different terms on s0->s1 in either order are two states (the
    oldest is lost next); the order of messages on different links is not (each link keeps
    its own order), with and without symmetry; without the rule both pairs are one state."""
    model = raft_model(3)
    state = model.initial()
    *_, state = next(o for o in successors(model, state, LOSSY) if o[0].kind == "fire")
    to1, to2 = state.cluster.inflight
    newer = InFlight(to1.src, to1.dst, msgspec.structs.replace(to1.msg, term=2))

    def at(*wire: InFlight) -> XState:
        return XState(msgspec.structs.replace(state.cluster, inflight=wire))

    for symmetry in (False, True):
        ordered = Fingerprinter(model, symmetry, ordered=True)
        plain = Fingerprinter(model, symmetry)
        assert ordered(at(to1, newer, to2)) != ordered(at(newer, to1, to2))
        assert ordered(at(to1, newer, to2)) == ordered(at(to2, to1, newer))
        assert ordered(at(to1, newer, to2)) == ordered(at(to1, to2, newer))
        assert plain(at(to1, newer, to2)) == plain(at(newer, to1, to2))
    # under symmetry a renaming keeps every link's order: s0's campaign seen from s1
    sym = Fingerprinter(model, True, ordered=True)
    fires = [o[5] for o in successors(model, model.initial(), LOSSY) if o[0].kind == "fire"]
    assert len({sym(s) for s in fires}) == 1


# ---------------------------------------------------------------- verdicts

def test_bfs_finds_the_vote_bug_with_a_shortest_path_under_lossy_links() -> None:
    """The vote without the log check (§5.4.1) breaks leader completeness in 9 steps with
    one message per link (10 with the default overflow and two per link: the third
    RequestVote had to be delivered to make room); nothing shorter exists, since BFS to
    depth 8 finds nothing; the real Raft passes the same bounds; the path is taken again by
    ``walk`` and breaks the rule at its last step only."""
    r = search(vote_blind, VOTE_LOSSY, symmetry=True)
    assert r.violation is not None and r.violation.rule == "leader-completeness"
    assert len(r.violation.labels) == 9
    assert any(label.lost for label in r.violation.labels)
    shallower = search(vote_blind, msgspec.structs.replace(VOTE_LOSSY, depth=8), symmetry=True)
    assert shallower.violation is None and "depth" in shallower.bounds_hit
    assert search(None, VOTE_LOSSY, symmetry=True).violation is None
    model = raft_model(3, vote_blind)
    walk(model, VOTE_LOSSY, [RaftSafety(model)], r.violation.labels[:-1])
    with pytest.raises(Violation, match="leads term 2"):
        walk(model, VOTE_LOSSY, [RaftSafety(model)], r.violation.labels)


@pytest.mark.parametrize("strategy", ["dfs", "random"])
def test_dfs_and_random_walks_take_the_same_lossy_transitions(strategy: str) -> None:
    """DFS and seeded random walks go through ``successors`` too: they find the vote bug,
    never see a link holding two messages, and their path is taken again by ``walk``."""
    model = raft_model(3, vote_blind)
    props = [RaftSafety(model), LinkLoad(1)]
    r = explore(model, VOTE_LOSSY, props, strategy=strategy, walks=2000, seed=3)
    assert r.violation is not None and r.violation.rule == "leader-completeness"
    with pytest.raises(Violation, match="leads term"):
        walk(model, VOTE_LOSSY, props, r.violation.labels)


@pytest.mark.parametrize("step, bounds", [
    (None, LOSSY),
    (None, Bounds(max_term=2, max_log=1, per_link=2, depth=8, overflow="lose-oldest")),
    (vote_blind, VOTE_LOSSY),
    (vote_blind, msgspec.structs.replace(VOTE_LOSSY, per_link=2)),
])
def test_symmetry_changes_lossy_counts_never_verdicts(step: Any, bounds: Bounds) -> None:
    runs = [search(step, bounds, symmetry) for symmetry in (False, True)]
    off, on = runs
    assert on.distinct < off.distinct
    verdicts = [None if r.violation is None else (r.violation.rule, len(r.violation.labels))
                for r in runs]
    assert verdicts[0] == verdicts[1]
    assert off.goals == on.goals


@pytest.mark.parametrize("step, bounds, symmetry", [
    (None, LOSSY, False),
    (None, LOSSY, True),
    (None, Bounds(max_term=2, max_log=1, per_link=2, depth=8, overflow="lose-oldest"), False),
    (None, Bounds(max_term=2, max_log=1, per_link=2, depth=8, overflow="lose-oldest"), True),
    (vote_blind, VOTE_LOSSY, True),
    (vote_blind, msgspec.structs.replace(VOTE_LOSSY, per_link=2), False),
])
def test_sleep_sets_keep_every_lossy_state_and_verdict(step: Any, bounds: Bounds,
                                                       symmetry: bool) -> None:
    """Partial-order reduction under lose-oldest: the same states, depth, bounds, goals and
    verdict as plain BFS, fewer transitions taken."""
    plain, reduced = (search(step, bounds, symmetry, por=por) for por in (False, True))
    assert outcome(reduced) == outcome(plain)
    assert reduced.pruned > 0
    if plain.violation is None:
        assert reduced.generated + reduced.pruned == plain.generated


def test_independence_under_lossy_links() -> None:
    """Two steps that send on one link, or one that sends on the link the other takes
    from, are dependent under lose-oldest even when the link has room; steps on unrelated
    links stay independent."""
    from sim.explore import Label

    def move(node: str, takes: tuple[str, str] | None, *sends: tuple[str, str]) -> Move:
        return Move(Label("deliver" if takes else "fire", node), node, 0, False, takes,
                    tuple((s, 1) for s in sends))

    a = move("s1", ("s0", "s1"), ("s1", "s2"))
    b = move("s2", None, ("s2", "s0"))
    c = move("s2", ("s1", "s2"), ("s2", "s0"))
    d = move("s0", None, ("s0", "s1"))
    assert independent(a, b, {}, 5, lossy=True) and independent(b, a, {}, 5, lossy=True)
    assert not independent(a, c, {}, 5, lossy=True) and not independent(c, a, {}, 5, True)
    assert not independent(d, a, {}, 5, lossy=True) and not independent(a, d, {}, 5, True)
    # without the rule a send onto a link with room commutes with a delivery from it
    assert independent(d, a, {("s0", "s1"): 1}, 5)
    e = move("s1", None, ("s1", "s0"))
    f = move("s2", None, ("s2", "s0"))
    assert independent(e, f, {}, 5, lossy=True)       # different links to one node


# ---------------------------------------------------------------- the command line

def test_cli_lossy_counterexample_names_losses_writes_and_replays(tmp_path: Any) -> None:
    """`--overflow lose-oldest`: the header says so, the steps name what was lost, the file
    records it, and `raftsim replay` / `explore --replay` reproduce the digest and the
    violation; --json carries the same steps."""
    trace = str(tmp_path / "cex.json")
    args = ("explore", "raft", "--step", "test_explore:vote_blind", "--max-term", "2",
            "--max-log", "1", "--overflow", "lose-oldest", "--symmetry")
    p = raftsim(*args, "--trace", trace)
    assert p.returncode == 1, p.stderr
    assert "per-link 1, depth" in p.stdout and "overflow lose-oldest" in p.stdout
    assert "shortest counterexample (9 steps):" in p.stdout
    assert "full: lost " in p.stdout
    doc = json.load(open(trace))
    assert doc["config"]["bounds"]["overflow"] == "lose-oldest"
    assert any("full: lost " in s for s in doc["steps"])
    for command in (["replay", trace], ["explore", "--replay", trace]):
        again = raftsim(*command)
        assert again.returncode == 1, again.stderr
        assert f"digest matches: {doc['digest']}" in again.stdout
        assert "outcome: FAIL (leader-completeness)" in again.stdout
        assert "full: lost " in again.stdout
    js = raftsim(*args, "--json")
    out = json.loads(js.stdout)
    assert out["violation"]["steps"] == doc["steps"]
    assert out["config"]["bounds"]["overflow"] == "lose-oldest"
    # the rule is part of the path: without it the recorded choices are not enabled
    doc["config"]["bounds"]["overflow"] = "stop"
    json.dump(doc, open(trace, "w"))
    other = raftsim("replay", trace)
    assert other.returncode == 2 and "is not enabled" in other.stderr


def test_a_counterexample_written_before_the_option_still_replays(tmp_path: Any) -> None:
    """A file whose bounds have no ``overflow`` (written before it existed) replays as the
    default rule, digest and all."""
    trace = str(tmp_path / "cex.json")
    p = raftsim("explore", "raft", "--step", "test_explore:vote_blind", "--max-term", "2",
                "--max-log", "1", "--per-link", "2", "--symmetry", "--trace", trace)
    assert p.returncode == 1, p.stderr
    doc = json.load(open(trace))
    del doc["config"]["bounds"]["overflow"]
    json.dump(doc, open(trace, "w"))
    again = raftsim("replay", trace)
    assert again.returncode == 1 and f"digest matches: {doc['digest']}" in again.stdout


@pytest.mark.parametrize("args, message", [
    (["--overflow", "lose-newest"], "--overflow 'lose-newest': unknown (known: stop, "
                                    "lose-oldest)"),
    (["--overflow", ""], "--overflow '': unknown"),
])
def test_a_bad_overflow_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    p = raftsim("explore", "raft", *args)
    assert p.returncode == 2 and p.stdout == ""
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("raftsim: error: ") and message in lines[0]


def test_help_documents_the_option() -> None:
    p = raftsim("explore", "--help")
    assert p.returncode == 0 and "--overflow {stop,lose-oldest}" in p.stdout
    assert "lose-oldest" in p.stdout.split("--overflow", 1)[1][:400]


# ---------------------------------------------------------------- Figure 8 (slow)

FIGURE_8_LOSSY = Bounds(max_term=4, max_log=1, ops=2, per_link=1, depth=20,
                        states=20_000_000, overflow="lose-oldest")


@pytest.mark.slow
def test_figure_8_is_found_from_the_initial_state_at_exactly_20_steps() -> None:
    """§5.4.2, Figure 8: with lossy links of one message, BFS from the initial state finds
    the old-term commit breaking leader completeness at depth 20, so no shorter path exists
    within these bounds (about six minutes of CPU). Reference: Figure 8."""
    r = search(old_term_commit, FIGURE_8_LOSSY, symmetry=True)
    assert r.violation is not None and r.violation.rule == "leader-completeness"
    assert len(r.violation.labels) == 20
    model = raft_model(3, old_term_commit)
    with pytest.raises(Violation, match="leads term 4"):
        walk(model, FIGURE_8_LOSSY, [RaftSafety(model)], r.violation.labels)


@pytest.mark.slow
def test_the_real_raft_passes_figure_8s_bounds() -> None:
    """The real Raft (§5.4.2's rule kept) breaks nothing within the same bounds, every
    state to depth 20 explored."""
    r = search(None, FIGURE_8_LOSSY, symmetry=True)
    assert r.violation is None and "states" not in r.bounds_hit
