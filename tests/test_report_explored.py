"""An explorer counterexample drawn as a run report (scenarios/report/explored.py,
``raftsim report CX.json --html OUT``).

The converter takes the recorded path again and writes what each step did as the records of a
simulator trace, one step per virtual millisecond. The rules checked here, each against the
states of the path taken independently: every message sent is delivered, still in flight at
the end, or dropped (ids kept per in-flight message, a duplicate sharing its original's); the
roles and terms recorded are those of the states; a KV path's history records form a history
the linearizability checker accepts; the violated rule is the run's failure, at its step.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from typing import Any

import msgspec
import pytest

from protocols.core import ClientDone
from protocols.raft import ROLE_NAMES
from scenarios.cli import main
from scenarios.cli.explore import build, write_counterexample
from scenarios.report.build import history_check
from scenarios.report.explored import counterexample_records
from sim.explore import Counterexample, successors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOTE_BUG = ["explore", "raft", "--step", "test_explore:vote_blind", "--max-term", "2",
            "--max-log", "1", "--per-link", "2", "--symmetry"]


def states_along(path: str) -> list[Any]:
    """The explorer states of the counterexample's path, taken here independently of the
    converter: the initial one, then the state after each step."""
    doc = json.load(open(path))
    config = doc["config"]
    model, bounds, _, _ = build(config, origin=path)
    state = model.initial()
    out = [state]
    for k in doc["choices"]:
        state = list(successors(model, state, bounds))[k][5]
        out.append(state)
    return out


def assert_messages_accounted(records: list[list], final: Any) -> None:
    """Messages sent = delivered + still in flight at the end + dropped; the ids still in
    flight carry exactly the messages the last state holds."""
    sent = {r[2]: r for r in records if r[1] == "send"}
    assert len(sent) == sum(1 for r in records if r[1] == "send")     # fresh ids
    delivered = Counter(r[2] for r in records if r[1] == "deliver")
    dropped = Counter(r[2] for r in records if r[1] == "drop")
    dups = Counter(r[2] for r in records if r[1] == "dup")
    for counts in (delivered, dropped, dups):
        assert set(counts) <= set(sent)
    copies = Counter({mid: 1 + dups[mid] for mid in sent})
    left = copies - delivered - dropped
    assert all(copies[m] >= delivered[m] + dropped[m] for m in sent)
    on_wire = Counter()
    for mid, n in left.items():
        s = sent[mid]
        on_wire[(s[3], s[4], msgspec.json.encode(s[5]))] += n
    want = Counter((m.src, m.dst, msgspec.json.encode(m.msg)) for m in final.cluster.inflight)
    assert on_wire == want
    assert sum(copies.values()) == (sum(delivered.values()) + sum(left.values())
                                    + sum(dropped.values()))


def assert_roles_match(records: list[list], states: list[Any], raft_of: Any,
                       servers: tuple[str, ...], addrs: tuple[str, ...]) -> None:
    """After each step ``n`` (at ``n`` ms), the last role record of each up server is its
    role and term in the state; a down one's last record is its crash."""
    for n, state in enumerate(states):
        for addr, node in zip(addrs, state.cluster.nodes):
            if addr not in servers:
                continue
            last = [r for r in records if r[0] <= n and r[2:3] == [addr]
                    and r[1] in ("role", "crash")][-1]
            if not node.up:
                assert last[1] == "crash", (n, addr)
            else:
                rs = raft_of(node.state)
                assert last[1:5] == ["role", addr, ROLE_NAMES[rs.role], rs.hard.term], (n, last)


@pytest.fixture(scope="module")
def vote_bug(tmp_path_factory: Any) -> str:
    path = str(tmp_path_factory.mktemp("cx") / "cex.json")
    assert main([*VOTE_BUG, "--trace", path]) == 1
    return path


def test_the_vote_bug_as_records(vote_bug: str) -> None:
    """The 10 steps of the vote bug: one step per ms, messages accounted for, roles and terms
    those of the states, leader-completeness the failure at step 10, the header naming the
    target, the bounds and the counterexample's digest."""
    run = counterexample_records(vote_bug)
    doc = json.load(open(vote_bug))
    states = states_along(vote_bug)
    model, _, _, _ = build(doc["config"], origin=vote_bug)
    assert len(states) == 11
    assert {r[0] for r in run.records} == {float(n) for n in range(11)}
    assert_messages_accounted(run.records, states[-1])
    assert_roles_match(run.records, states, model.raft_of, model.servers, model.cluster.addrs)
    assert [r[1:] for r in run.records if r[1] == "timer"] == [["timer", "s0", "election"],
                                                                ["timer", "s1", "election"]]
    assert sum(1 for r in run.records if r[1] == "deliver") == 7      # steps 2-4 and 7-10
    assert run.records[-1] == [10.0, "result", "fail", "leader-completeness",
                               doc["detail"]]
    assert (run.violation_step, run.violation_node) == (10, "s1")
    assert run.digest == doc["digest"]
    params = run.header["params"]
    assert (run.header["scenario"], params["target"]) == ("explore raft", "raft")
    assert params["bounds"]["max_term"] == 2 and params["bounds"]["per_link"] == 2
    assert params["counterexample_digest"] == doc["digest"] and params["steps"] == 10


def test_the_cli_draws_a_counterexample(vote_bug: str, tmp_path: Any, capsys: Any) -> None:
    """`raftsim report CX --html OUT`: exit 0, the page names the rule and links to the
    step; the same file gives the same bytes, here and in another process under another
    hash seed."""
    out, again = tmp_path / "cx.html", tmp_path / "again.html"
    assert main(["report", vote_bug, "--html", str(out)]) == 0
    assert "report written to" in capsys.readouterr().out
    page = out.read_text("utf-8")
    assert "leader-completeness" in page and "explore raft" in page
    assert 'id="step-link"' in page and "show step 10" in page
    assert "one step per virtual millisecond" in page
    assert " seed None" not in page
    env = {**os.environ, "PYTHONHASHSEED": "123",
           "PYTHONPATH": os.pathsep.join([ROOT, os.path.join(ROOT, "tests")])}
    done = subprocess.run([sys.executable, "-m", "scenarios.cli", "report", vote_bug,
                           "--html", str(again)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert again.read_bytes() == out.read_bytes()


@pytest.mark.parametrize("damage, needle", [
    (lambda d: d["choices"].__setitem__(-1, 99), "a damaged explorer counterexample (step 10: "
                                                 "transition 99 is not enabled)"),
    (lambda d: d.__setitem__("digest", "0" * 32), "the path diverged (digest "),
    (lambda d: d.pop("config"), "a damaged explorer counterexample (Object missing required "
                                "field `config`)"),
])
def test_a_damaged_counterexample_is_one_line_and_no_file(vote_bug: str, tmp_path: Any,
                                                          capsys: Any, damage: Any,
                                                          needle: str) -> None:
    doc = json.load(open(vote_bug))
    damage(doc)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    assert main(["report", str(bad), "--html", str(tmp_path / "o.html")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("raftsim: error: ") and err.count("\n") == 1 and needle in err, err
    assert sorted(os.listdir(tmp_path)) == ["bad.json"]


def test_a_full_link_and_a_mid_step_crash_as_records(tmp_path: Any) -> None:
    """Under --overflow lose-oldest a second election pushes the first RequestVotes off their
    full links: drops "link full" of the first two ids. A crash inside a step (after one
    effect) is the step's delivery, a Crash fault and the node down; its restart brings it
    back as a follower; every message stays accounted for."""
    config: dict[str, Any] = {
        "target": "raft", "nodes": 3, "clients": 0, "step": None, "properties": None,
        "bounds": {"max_term": 3, "max_log": 1, "crashes": 1, "per_link": 1,
                   "overflow": "lose-oldest"}}
    model, bounds, _, _ = build(config)
    config["bounds"] = {f: getattr(bounds, f) for f in bounds.__struct_fields__}
    wanted = [lambda l: l.kind == "fire" and l.addr == "s0" and l.after < 0,
              lambda l: l.kind == "fire" and l.addr == "s0" and l.after < 0,
              lambda l: l.kind == "deliver" and l.addr == "s1" and l.after == 1,
              lambda l: l.kind == "restart" and l.addr == "s1",
              lambda l: l.kind == "deliver" and l.addr == "s2" and l.after < 0]
    state, labels = model.initial(), []
    for want in wanted:
        found = next(o for o in successors(model, state, bounds) if want(o[0]))
        labels.append(found[0])
        state = found[5]
    path = str(tmp_path / "lossy.json")
    write_counterexample(path, config, model, bounds,
                         Counterexample("none", "a path", tuple(labels)))
    run = counterexample_records(path)
    states = states_along(path)
    assert_messages_accounted(run.records, states[-1])
    assert_roles_match(run.records, states, model.raft_of, model.servers, model.cluster.addrs)
    at = {t: [r[1:] for r in run.records if r[0] == t] for t in (2.0, 3.0, 4.0)}
    assert ["drop", 0, "s0", "s1", "link full"] in at[2.0]
    assert ["drop", 1, "s0", "s2", "link full"] in at[2.0]
    assert at[3.0][0] == ["fault", {"mid_step_after": 1, "node": "s1", "type": "Crash"}]
    assert ["deliver", 2, "s0", "s1"] in at[3.0] and ["crash", "s1", 0, 0] in at[3.0]
    assert ["restart", "s1", 1, False] in at[4.0] and ["role", "s1", "follower", 2] in at[4.0]


# ---------------------------------------------------------------- KV: a path with faults

def kv_path(path: str, plan: dict[int, str], steps: int) -> None:
    """Write a path of 3 KV servers and a clerk as a counterexample file: the transition kind
    ``plan`` names at a step, else the first delivery, request or timer (a leader is elected,
    the clerk's append and get complete)."""
    config: dict[str, Any] = {
        "target": "kv", "nodes": 3, "clients": 1, "step": None, "properties": None,
        "bounds": {"max_term": 2, "max_log": 3, "ops": 2, "crashes": 1, "drops": 1,
                   "dups": 1, "partitions": 1, "per_link": 2}}
    model, bounds, _, _ = build(config)
    config["bounds"] = {f: getattr(bounds, f) for f in bounds.__struct_fields__}
    state, labels = model.initial(), []
    for n in range(steps):
        options = [o for o in successors(model, state, bounds) if o[0].after < 0]
        kinds = (plan[n],) if n in plan else ("deliver", "request", "fire", "restart")
        pick = next(o for kind in kinds for o in options if o[0].kind == kind)
        labels.append(pick[0])
        state = pick[5]
    write_counterexample(path, config, model, bounds,
                         Counterexample("none", "a walk", tuple(labels)))


def test_a_kv_path_with_faults_as_records(tmp_path: Any) -> None:
    """Both operations complete; the history records form a linearizable history; the
    duplicated AppendEntries is delivered twice under one id; the partition, heal, crash and
    restart are recorded; the property holds, so the run passes."""
    from checkers.linearizability import Verdict
    path = str(tmp_path / "kv.json")
    kv_path(path, {0: "fire", 11: "dup", 26: "partition", 28: "heal", 29: "crash",
                   31: "drop", 33: "restart"}, 36)
    run = counterexample_records(path)
    states = states_along(path)
    model, _, _, _ = build(json.load(open(path))["config"], origin=path)
    assert_messages_accounted(run.records, states[-1])
    assert_roles_match(run.records, states, model.raft_of, model.servers, model.cluster.addrs)
    history = [r[2:] for r in run.records if r[1] == "history"]
    assert history == [["c0", "invoke", ["append", "x", "1"]], ["c0", "ok", ["append", "x", "1"]],
                       ["c0", "invoke", ["get", "x", None]], ["c0", "ok", ["get", "x", "1"]]]
    check = history_check(run.records)
    assert check is not None and check.verdict is Verdict.OK
    dup = next(r for r in run.records if r[1] == "dup")
    assert sum(1 for r in run.records if r[1] == "deliver" and r[2] == dup[2]) == 2
    kinds = [r[1] for r in run.records]
    assert kinds.count("crash") == 1 and kinds.count("restart") == 5   # 4 boots, 1 restart
    faults = [r[2]["type"] for r in run.records if r[1] == "fault"]
    assert faults == ["Partition", "Heal", "Crash", "Reboot"]
    assert {r[5] for r in run.records if r[1] == "drop"} >= {"explorer"}
    assert run.records[-1][1:] == ["result", "pass", None, None]
    assert run.violation_step is None


def test_a_kv_path_renders(tmp_path: Any) -> None:
    """Its page has the operations and the linearizability view."""
    path = str(tmp_path / "kv.json")
    kv_path(path, {0: "fire"}, 23)
    out = tmp_path / "kv.html"
    assert main(["report", path, "--html", str(out)]) == 0
    page = out.read_text("utf-8")
    assert 'id="linearizability"' in page and 'id="ops"' in page
    assert "history of explore kv" in page


# ---------------------------------------------------------------- shardkv: a planted bug

@pytest.mark.interpreted
def test_a_shardkv_counterexample_renders(monkeypatch: Any, tmp_path: Any) -> None:
    """A group that serves a shard it is still pulling (serves-only-arrived, 9 steps): the
    page names the rule; the settled start's messages are sent at 0 and accounted for."""
    from shardkv_cluster import plant_serving_before_arrival
    from sim.explore import explore
    plant_serving_before_arrival(monkeypatch)
    config = {"target": "shardkv", "nodes": 1, "clients": 1, "step": None,
              "properties": None, "keep_sent": False, "groups": 2, "changes": 1, "shards": 2,
              "bounds": {"ops": 1, "max_log": 6}}
    model, b, props, goals = build(config)
    config["bounds"] = {f: getattr(b, f) for f in b.__struct_fields__}
    r = explore(model, b, props, goals)
    assert r.violation is not None
    path = str(tmp_path / "skv.json")
    write_counterexample(path, config, model, b, r.violation)
    run = counterexample_records(path)
    assert_messages_accounted(run.records, states_along(path)[-1])
    assert run.records[-1][1:4] == ["result", "fail", "serves-only-arrived"]
    out = tmp_path / "skv.html"
    assert main(["report", path, "--html", str(out)]) == 0
    assert "serves-only-arrived" in out.read_text("utf-8")
