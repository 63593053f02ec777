"""Swarm draws of the random scenarios: each seed enables its own subset of fault kinds at its
own rates, extremes included; everything comes from the seed's streams, is recorded in the
drawn params, replays from them, and shrinks."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import msgspec

from scenarios.harness.faults import (BIASES, draw_bias, draw_hunt, draw_profile,
                                      draw_raft_workload, draw_swarm_net, draw_workload)
from scenarios.runner import run_scenario
from scenarios.shrink import _knobs

KINDS = ("crash", "reboot", "disconnect", "connect", "isolate", "halves", "majority_minority",
         "bridge", "majorities_ring", "random", "cut", "heal", "flip_reliable",
         "flip_long_reordering")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_draws_depend_only_on_their_stream() -> None:
    for seed in range(20):
        for bias in BIASES:
            for draw in (draw_profile, draw_hunt, draw_raft_workload, draw_workload):
                assert draw(random.Random(seed), bias) == draw(random.Random(seed), bias)
            assert (draw_swarm_net(random.Random(seed), 0.5, bias)
                    == draw_swarm_net(random.Random(seed), 0.5, bias))
        assert draw_bias(random.Random(seed)) == draw_bias(random.Random(seed))


def test_each_seed_enables_its_own_subset_and_the_extremes_occur() -> None:
    """Over 200 seeds every fault kind is on in some seeds and off in others, and the extremes
    of the ranges are drawn: faults every 20 ms, every crash inside a step, most messages
    duplicated, a few held for seconds, leaders hunted at every election."""
    profiles = [draw_profile(random.Random(s)) for s in range(200)]
    nets = [draw_swarm_net(random.Random(s)) for s in range(200)]
    for kind in KINDS:
        if kind == "heal":                 # always some healing (at least 0.25)
            assert all(p.heal >= 0.25 for p in profiles)
            continue
        weights = [getattr(p, kind) for p in profiles]
        assert any(w == 0 for w in weights) and any(w > 0 for w in weights), kind
    assert len({frozenset(k for k in KINDS if getattr(p, k) > 0) for p in profiles}) > 100
    assert any(p.mean_gap_ms == 20.0 for p in profiles)
    assert any(p.mean_gap_ms == 3000.0 for p in profiles)
    assert any(p.mid_step == 1.0 for p in profiles) and any(p.mid_step == 0 for p in profiles)
    assert any(n.duplicate >= 0.6 for n in nets)
    assert any(n.reorder_delay[1] >= 5000 for n in nets)
    assert any(n.reorder >= 0.8 for n in nets)
    assert any(draw_hunt(random.Random(s)).p == 1.0 for s in range(200))
    assert any(draw_raft_workload(random.Random(s)).snapshot_interval > 0 for s in range(200))
    assert any(draw_raft_workload(random.Random(s)).burst_max >= 200 for s in range(200))


def test_a_bias_bends_its_family() -> None:
    for seed in range(30):
        assert draw_profile(random.Random(seed), "mid-step").mid_step == 1.0
        assert draw_profile(random.Random(seed), "crashes").mean_gap_ms <= 150
        assert draw_swarm_net(random.Random(seed), bias="network").duplicate >= 0.3
        assert draw_hunt(random.Random(seed), "leader").p >= 0.7
        assert draw_raft_workload(random.Random(seed), "snapshots").snapshot_interval > 0
        assert draw_workload(random.Random(seed), "snapshots").maxraftstate > 0
        assert draw_raft_workload(random.Random(seed), "bursts").burst_p > 0
        # something always happens: at least one disruptive kind is on
        p = draw_profile(random.Random(seed))
        assert sum(getattr(p, k) for k in ("crash", "disconnect", "cut", "isolate", "halves",
                                           "majority_minority", "bridge", "majorities_ring",
                                           "random")) > 0


def _summary(scenario: str, seed: int) -> dict:
    r = run_scenario(scenario, seed)
    return {"drawn": r.drawn, "coverage": r.coverage, "digest": r.digest}


def test_same_seed_same_draws_and_coverage_in_another_process() -> None:
    """Across processes with other string-hash seeds: the same params, coverage and digest."""
    here = json.loads(json.dumps(_summary("random-raft", 11)))
    code = ("import json, sys; sys.path.insert(0, %r); from tests.test_swarm import _summary; "
            "print(json.dumps(_summary('random-raft', 11)))" % REPO)
    for hashseed in ("1", "12345"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, cwd=REPO,
                             env={**os.environ, "PYTHONHASHSEED": hashseed}).stdout
        assert json.loads(out) == here
    assert here["coverage"], "a random run measures its coverage"


def test_drawn_params_replay_the_same_run() -> None:
    """What a seed drew, given back as params (what --dump-params writes and --params reads),
    runs the same thing: every new knob (bias, hunt, workload) is recorded."""
    for scenario, seed in (("random-raft", 4), ("random", 2)):
        first = run_scenario(scenario, seed)
        assert first.drawn is not None
        params = msgspec.json.decode(msgspec.json.encode(first.drawn))
        again = run_scenario(scenario, seed, params=params)
        assert again.drawn == first.drawn
        assert (again.virtual_ms, again.messages, again.coverage, again.facts) == \
            (first.virtual_ms, first.messages, first.coverage, first.facts)
        assert again.records == first.records


def test_a_hunted_leader_is_cut_off_right_after_its_election() -> None:
    """hunt.p = 1: every leader elected during the fault phase loses its links to its peers
    (Cut faults, traced) after ``after_ms``, and gets them back ``hold_ms`` later."""
    params = {"schedule": [], "hunt": {"p": 1.0, "after_ms": 10.0, "hold_ms": 300.0},
              "net": {"reliable": True}, "duration_ms": 4000.0,
              "workload": {"snapshot_interval": 0}}
    r = run_scenario("random-raft", 3, params=params, keep_lines=True)
    assert r.passed, r.failure
    records = [rec for rec in map(json.loads, r.lines or []) if isinstance(rec, list)]
    roles = [(rec[0], rec[2]) for rec in records if rec[1] == "role" and rec[3] == "leader"]
    cuts = [rec for rec in records if rec[1] == "fault" and rec[2]["type"] == "Cut"]
    uncuts = [rec for rec in records if rec[1] == "fault" and rec[2]["type"] == "Uncut"]
    t0, leader = roles[0]
    first = [c for c in cuts if c[2]["src"] == leader or c[2]["dst"] == leader]
    assert first and abs(first[0][0] - (t0 + 10.0)) < 1e-6 and len(first) >= 8
    assert uncuts and len(roles) >= 2        # restored, and a new leader was elected meanwhile
    assert all(c[0] < 2000.0 + 1e-6 for c in cuts)     # no hunt once the fault phase is over


def test_the_shrinker_lowers_the_new_knobs() -> None:
    params = {"schedule": [], "workload": {"snapshot_interval": 10, "burst_p": 0.05,
                                           "burst_max": 200, "gap_ms": [5.0, 50.0]},
              "hunt": {"p": 1.0, "after_ms": 0.0, "hold_ms": 100.0}, "net": {"reliable": True}}
    labels = {label: cands for label, cands in _knobs(params, run_scenario("random-raft", 1))}
    assert labels["bursts"] == [{"workload": {"burst_p": 0.0}}]
    assert labels["snapshots"] == [{"workload": {"snapshot_interval": 0}}]
    assert labels["leader hunt"] == [{"hunt": {"p": 0.0}}]
    assert "clients" not in labels         # random-raft's workload has no clients
