"""Hypothesis mutates valid params files and traces and runs the command line on them, in this
process: the exit code is always a documented one and never the crash code (4); bad input is
one line on stderr and writes nothing; a run that goes ahead stays within its ceilings (the
scenario's time limit in virtual time, the trace-record limit)."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import tempfile
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenarios.cli import main
from scenarios.errors import EXIT_CODES, EXIT_CRASH, EXIT_INTERRUPTED
from scenarios.registry import get
from scenarios.runner import MAX_RECORDS, run_scenario
from sim import Trace, load_trace

FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])

#: Values a mutation puts in place of another: boundaries, wrong types, names, escapes.
VALUES = st.sampled_from([
    None, True, False, 0, 1, 2, 3, 7, -1, 100, 10**6, 2**63, -2**63, 0.0, 0.5, 1.0, 1.5, -0.5,
    1e3, 1e9, 1e300, -1e300, "", "s0", "s4", "s9", "Heal", "Crash", "\x1b[31m", [], [0, 0],
    [5, 1], [[0, {"type": "Heal"}]], {}, {"type": "Crash", "node": "s0"}]).map(copy.deepcopy)
KEYS = st.sampled_from(["schedule", "net", "profile", "workload", "duration_ms", "type", "node",
                        "servers", "mean_gap_ms", "drop_request", "x", "\x1b"])


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def base_params(scenario: str) -> dict[str, Any]:
    """What a seed drew, made short: valid params whose runs take a fraction of a second."""
    drawn = dict(run_scenario(scenario, 3, params={"duration_ms": 300} if scenario ==
                              "random-raft" else {"workload": {"duration_ms": 300,
                                                               "clients": 2, "keys": 2}}
                              ).drawn or {})
    if scenario == "random":
        drawn["workload"] = {**drawn["workload"], "think_ms": [20.0, 100.0]}
    drawn["schedule"] = [                  # a short run draws none: faults to mutate
        [100.0, {"type": "Crash", "node": "s1", "mid_step_after": 2}],
        [120.0, {"type": "Partition", "groups": [["s0", "s1"], ["s2", "s3", "s4"]]}],
        [150.0, {"type": "Cut", "src": "s2", "dst": "s3"}],
        [200.0, {"type": "Heal"}], [200.0, {"type": "Reboot", "node": "s1"}]]
    return drawn


BASES = {name: base_params(name) for name in ("random", "random-raft")}


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a JSON value, as a path of keys and indexes (the root is ())."""
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths(v, prefix + (i,))
    return out


@st.composite
def mutated(draw: Any, value: Any) -> Any:
    """``value`` with one or two places replaced, scaled (numbers: most such runs go ahead),
    removed or given an extra key."""
    value = json.loads(json.dumps(value))
    for _ in range(draw(st.integers(1, 2))):
        where = draw(st.sampled_from(paths(value)))
        if not where:
            value = draw(VALUES)
            continue
        parent = value
        try:
            for step in where[:-1]:
                parent = parent[step]
        except (KeyError, IndexError, TypeError):
            continue                               # an earlier mutation moved it
        last = where[-1]
        action = draw(st.sampled_from(["replace", "scale", "scale", "remove", "add"]))
        try:
            old = parent[last]
            if action == "scale" and type(old) in (int, float):
                factor = draw(st.sampled_from([0, 0.5, 2, 3, 10, -1]))
                parent[last] = type(old)(old * factor)
            elif action == "replace" or action == "scale":
                parent[last] = draw(VALUES)
            elif action == "remove":
                del parent[last]
            elif isinstance(parent[last], dict):
                parent[last][draw(KEYS)] = draw(VALUES)
            else:
                parent[last] = draw(VALUES)
        except (KeyError, IndexError, TypeError):
            continue
    return value


def assert_documented_outcome(code: int, out: str, err: str, scenario: str,
                              files: list[str]) -> None:
    assert code in EXIT_CODES and code not in (EXIT_CRASH, EXIT_INTERRUPTED), (code, err)
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and err.startswith("raftsim: error: "), err
        assert "\x1b" not in err
        return
    assert err == "", err
    result = json.loads(out.splitlines()[-1])
    assert result["virtual_ms"] <= get(scenario).time_limit_ms
    assert result["records"] <= MAX_RECORDS + 10_000      # checked per batch of records


@FUZZ
@given(data=st.data(), scenario=st.sampled_from(["random", "random-raft"]))
def test_mutated_params_never_crash_or_run_away(data: Any, scenario: str) -> None:
    params = data.draw(mutated(BASES[scenario]))
    with tempfile.TemporaryDirectory() as folder:
        path, trace = os.path.join(folder, "p.json"), os.path.join(folder, "t.jsonl")
        with open(path, "w") as f:
            json.dump(params, f)
        code, out, err = cli("run", scenario, "--params", path, "--trace", trace, "--json")
        assert_documented_outcome(code, out, err, scenario, [trace])
        assert os.path.exists(trace) == (code != 2)
        assert sorted(os.listdir(folder)) == (["p.json"] if code == 2 else ["p.json", "t.jsonl"])


def _trace_of(scenario: str, seed: int, params: dict[str, Any]) -> tuple[dict, list[bytes]]:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "t.jsonl")
        run_scenario(scenario, seed, trace_path=path, params=params or None)
        loaded = load_trace(path)
        return loaded.header, [bytes(line) for line in loaded.lines[1:]]


TRACES = {"InitialElection3A": _trace_of("InitialElection3A", 2, {}),
          "random-raft": _trace_of("random-raft", 3, {"duration_ms": 300})}


@FUZZ
@given(data=st.data(), scenario=st.sampled_from(sorted(TRACES)))
def test_mutated_traces_never_crash(data: Any, scenario: str) -> None:
    """Either the header is mutated and the file rewritten whole (a valid footer and digest, so
    the header's contents are what gets judged), or the bytes of the file are damaged."""
    header, lines = TRACES[scenario]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "t.jsonl")
        if data.draw(st.booleans()):
            new = data.draw(mutated({k: header[k] for k in ("scenario", "seed", "params")}))
            if not isinstance(new, dict):
                new = {"scenario": new}
            records = [tuple(msgspec.json.decode(line)) for line in lines]
            with Trace(seed=new.get("seed", 0), scenario=new.get("scenario", ""),
                       params=new.get("params"), path=path) as trace:
                for record in records:
                    trace.add(record)
        else:
            blob = b"\n".join([msgspec.json.encode(header), *lines]) + b"\n"
            cut = data.draw(st.integers(0, len(blob)))
            how = data.draw(st.sampled_from(["truncate", "flip", "drop-line", "garbage"]))
            if how == "truncate":
                blob = blob[:cut]
            elif how == "flip":
                blob = blob[:cut] + bytes([data.draw(st.integers(0, 255))]) + blob[cut + 1:]
            elif how == "drop-line":
                rows = blob.split(b"\n")
                del rows[data.draw(st.integers(0, len(rows) - 1))]
                blob = b"\n".join(rows)
            else:
                blob = blob[:cut] + b"\x1b[2J\xff\x00{]" + blob[cut:]
            with open(path, "wb") as f:
                f.write(blob)
        code, out, err = cli("replay", path, "--json")
        assert code in EXIT_CODES and code not in (EXIT_CRASH, EXIT_INTERRUPTED), (code, err)
        if code == 2:
            assert len(err.strip().splitlines()) == 1 and err.startswith("raftsim: error: ")
            assert "\x1b" not in err
        else:
            result = json.loads(out)
            assert result["virtual_ms"] <= get(result["scenario"]).time_limit_ms
        assert os.listdir(folder) == ["t.jsonl"]
