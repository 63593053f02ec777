"""Bad input to run, replay, shrink and list: one line on stderr and exit 2, never a traceback,
never a hang, never a lost file. Params are checked by a schema (the error names the file and
the JSON path), seeds are streamed and bounded, output files are checked before any work and
written atomically, an unexpected exception exits 4 with its traceback in a named file, and
names read from files reach the terminal escaped."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from scenarios.cli import main
from scenarios.cli.common import MAX_SEED, parse_seeds
from scenarios.errors import EXIT_CODES, EXIT_CRASH
from scenarios.registry import Scenario, register, unregister
from scenarios.runner import Gen, RunContext, replay_command, run_scenario
from sim import Trace


def cli(*args: str) -> tuple[int, str, str]:
    """Run the command line in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def assert_bad_input(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("raftsim: error: "), err
    for needle in needles:
        assert needle in err, err


@pytest.fixture
def toy() -> Iterator[Any]:
    """Register throw-away scenarios by body; removed again after the test."""
    names: list[str] = []

    def add(body: Any) -> str:
        name = f"test-input-{len(names)}"
        register(Scenario(name, "test", "a toy", body))
        names.append(name)
        return name
    yield add
    for name in names:
        unregister(name)


# ---------------------------------------------------------------- params: schema and JSON path

@pytest.mark.parametrize("scenario, params, where", [
    ("random", {"workload": {"servers": 0}}, "$.workload.servers"),
    ("random", {"workload": {"clients": 0}}, "$.workload.clients"),
    ("random", {"workload": {"keys": 0}}, "$.workload.keys"),
    ("random", {"workload": {"think_ms": [-50, -10]}}, "$.workload.think_ms[0]"),
    ("random", {"workload": {"think_ms": [50, 10]}}, "$.workload.think_ms"),
    ("random", {"workload": {"duration_ms": 1e300}}, "$.workload.duration_ms"),
    ("random", {"workload": {"ops_per_client": 0}}, "$.workload.ops_per_client"),
    ("random", {"profile": {"mean_gap_ms": 0}}, "$.profile.mean_gap_ms"),
    ("random", {"profile": {"mid_step": 1.5}}, "$.profile.mid_step"),
    ("random", {"profile": {"crash": -1}}, "$.profile.crash"),
    ("random", {"net": {"drop_request": 5}}, "$.net.drop_request"),
    ("random", {"net": {"reorder_delay": [10, 1]}}, "$.net.reorder_delay"),
    ("random", {"net": None}, "$.net"),
    ("random", {"schedule": [[-5, {"type": "Heal"}]]}, "$.schedule[0][0]"),
    ("random", {"schedule": [[5, {"type": "Crash", "node": "s1", "mid": 3}]]},
     "$.schedule[0][1]"),
    ("random", {"schedule": [[5, {"type": "Crash", "node": "s7"}]]},
     "$.schedule[0][1]: the fault names 's7'"),
    ("random", {"workload": {"servers": 3}, "schedule": [[5, {"type": "Crash", "node": "s4"}]]},
     "$.schedule[0][1]: the fault names 's4'"),
    ("random", {"schedule": [[5, {"type": "Partition", "groups": [["s0", "s1"], ["s1"]]}]]},
     "$.schedule[0][1].groups"),
    ("random", {"schedule": [[5, {"type": "Heal"}], [6, {"type": "Cut", "src": "s0", "dst": "x"}]]},
     "$.schedule[1][1]: the fault names 'x'"),
    ("random-raft", {"duration_ms": 0}, "$.duration_ms"),
    ("random-raft", {"duration_ms": "abc"}, "$.duration_ms"),
])
def test_bad_params_name_the_file_and_json_path(tmp_path: Path, scenario: str,
                                                params: dict, where: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(params))
    code, out, err = cli("run", scenario, "--params", str(path))
    assert_bad_input(code, err, f"{path}: bad params at {where}")
    assert out == ""


def test_bad_params_never_touch_an_existing_file(tmp_path: Path) -> None:
    params, keep = tmp_path / "bad.json", tmp_path / "keep.jsonl"
    params.write_text('{"workload": {"servers": 0}}')
    keep.write_text("precious\n")
    code, _, err = cli("run", "random", "--params", str(params), "--trace", str(keep),
                       "--history", str(tmp_path / "h.jsonl"))
    assert_bad_input(code, err, "$.workload.servers")
    assert keep.read_text() == "precious\n"
    assert sorted(os.listdir(tmp_path)) == ["bad.json", "keep.jsonl"]


def test_trace_ceiling_is_a_failure_of_its_own(toy: Any) -> None:
    def chatty(ctx: RunContext) -> Gen:
        while True:                        # never ends by itself
            ctx.trace.add((ctx.now, "fault", "x"))
            yield ctx.sleep(0)
    r = run_scenario(toy(chatty), 1, max_records=10_000)
    assert r.outcome == "fail" and r.failure is not None
    assert r.failure.kind == "trace-limit" and "10,000" in r.failure.message
    assert 10_000 < r.records < 20_000


# ---------------------------------------------------------------- seeds

def test_seed_ranges_are_streamed() -> None:
    seeds = parse_seeds("0..9999999999")
    assert isinstance(seeds, range) and len(seeds) == 10_000_000_000
    assert parse_seeds(f"{MAX_SEED}") == range(MAX_SEED, MAX_SEED + 1)


@pytest.mark.parametrize("text", ["9223372036854775808", "0..9223372036854775808", "-1",
                                  "1..-1", "1e3", ""])
def test_seeds_outside_the_stored_range_are_refused(text: str) -> None:
    code, _, err = cli("run", "InitialElection3A", "--seed", text)
    assert_bad_input(code, err, "seed")


def test_a_huge_seed_range_runs_without_a_list_and_summarizes(monkeypatch: Any) -> None:
    """Interrupted after three seeds of ten billion: the summary says what ran."""
    from scenarios.cli import run as run_cmd
    real, ran = run_cmd.run_scenario, []

    def counting(*args: Any, **kwargs: Any) -> Any:
        if len(ran) == 3:
            raise KeyboardInterrupt
        ran.append(args[1])
        return real(*args, **kwargs)
    monkeypatch.setattr(run_cmd, "run_scenario", counting)
    code, out, err = cli("run", "InitialElection3A", "--seed", "0..9999999999")
    assert code == 130 and ran == [0, 1, 2]
    assert "3 passed, 0 failed (3 of 10,000,000,000 seeds) before the interruption" in out


def test_a_trace_with_a_seed_the_cli_refuses_is_not_replayed(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with Trace(seed=-1, scenario="InitialElection3A", path=str(path)) as trace:
        trace.add((0.0, "fault", "x"))
    code, _, err = cli("replay", str(path))
    assert_bad_input(code, err, f"{path}:1: the seed must be an integer in [0, 2**63)")


# ---------------------------------------------------------------- output files

@pytest.mark.parametrize("options", [
    ["--trace", "{d}/x", "--history", "{d}/x"],
    ["--trace", "{d}/x", "--dump-params", "{d}/./x"],
    ["--history", "{d}/x", "--dump-params", "{d}/x"],
])
def test_two_outputs_may_not_be_one_file(tmp_path: Path, options: list[str]) -> None:
    args = [o.replace("{d}", str(tmp_path)) for o in options]
    code, out, err = cli("run", "random", *args)
    assert_bad_input(code, err, "name the same file")
    assert out == "" and os.listdir(tmp_path) == []


@pytest.mark.parametrize("target, needle", [
    ("{d}", "it is a directory"),
    ("{d}/no/such/t.jsonl", "no such directory"),
    ("/dev/null", "not a regular file"),
])
def test_unwritable_outputs_are_refused_before_work(tmp_path: Path, target: str,
                                                    needle: str) -> None:
    code, out, err = cli("run", "random", "--trace", target.replace("{d}", str(tmp_path)))
    assert_bad_input(code, err, needle)
    assert out == ""


def test_history_of_a_scenario_without_clients_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    code, _, err = cli("run", "InitialElection3A", "--history", str(path))
    assert_bad_input(code, err, "has no clients")
    assert not path.exists()


def test_a_crash_exits_4_names_its_traceback_and_leaves_files_alone(
        toy: Any, tmp_path: Path) -> None:
    def buggy(ctx: RunContext) -> Gen:
        yield ctx.sleep(5)
        raise ZeroDivisionError("a bug in raftsim")
    keep = tmp_path / "keep.jsonl"
    keep.write_text("precious\n")
    code, out, err = cli("run", toy(buggy), "--trace", str(keep))
    assert code == EXIT_CRASH and len(err.strip().splitlines()) == 1
    assert "ZeroDivisionError" in err and "please report it" in err
    report = err.strip().rsplit(" ", 1)[1]
    try:
        text = Path(report).read_text()
        assert "Traceback" in text and "a bug in raftsim" in text and "--trace" in text
    finally:
        os.remove(report)
    assert keep.read_text() == "precious\n" and os.listdir(tmp_path) == ["keep.jsonl"]


# ---------------------------------------------------------------- review findings

def test_reproduce_command_keeps_the_params() -> None:
    assert "--params my/p.json" in replay_command("random", 3, "my/p.json")
    assert "--params 'a b.json'" in replay_command("random", 3, "a b.json")


@pytest.mark.interpreted
def test_failing_run_with_params_reproduces_with_them(tmp_path: Path, monkeypatch: Any) -> None:
    from protocols.raft import node
    monkeypatch.setattr(node, "vote_won", lambda votes, n: False)   # nobody ever wins
    params = tmp_path / "p.json"
    params.write_text('{"duration_ms": 500}')
    code, out, _ = cli("run", "random-raft", "--seed", "1", "--params", str(params))
    assert code == 1
    assert f"reproduce with: raftsim run random-raft --seed 1 --params {params}" in out


def test_shrink_and_replay_report_missing_files_plainly(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.jsonl")
    for command in ("shrink", "replay"):
        code, _, err = cli(command, missing)
        assert_bad_input(code, err, f"{missing}: cannot read: No such file")
        assert ":0" not in err


def test_shrink_of_a_trace_refuses_a_seed(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    assert cli("run", "InitialElection3A", "--trace", str(path))[0] == 0
    code, _, err = cli("shrink", str(path), "--seed", "3")
    assert_bad_input(code, err, "--seed goes with a scenario name")
    code, _, err = cli("shrink", str(path), "--out", str(path))
    assert_bad_input(code, err, "name the same file")


def test_nothing_to_shrink_says_it_once(tmp_path: Path) -> None:
    params = tmp_path / "p.json"
    params.write_text('{"duration_ms": 300}')
    path = tmp_path / "t.jsonl"
    assert cli("run", "random-raft", "--params", str(params), "--trace", str(path))[0] == 0
    code, out, _ = cli("shrink", str(path), "--out", str(tmp_path / "s.jsonl"))
    assert code == 0 and out.count("nothing to shrink") == 1 and "None" not in out


def test_list_suite_is_case_insensitive() -> None:
    code, out, _ = cli("list", "--suite", "3a")
    assert code == 0 and "InitialElection3A" in out and "BasicAgree3B" not in out
    code, out, _ = cli("list", "-q", "--suite", "3A")
    assert code == 0 and out.splitlines()[0] == "InitialElection3A"


# ---------------------------------------------------------------- terminal safety, usage, json

def test_names_from_files_are_printed_escaped(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with Trace(seed=1, scenario="\x1b[2J\x1b[31mEvil\x07", path=str(path)) as trace:
        trace.add((0.0, "fault", "x"))
    code, _, err = cli("replay", str(path))
    assert_bad_input(code, err, "\\x1b[2J")
    assert "\x1b" not in err and "\x07" not in err
    code, _, err = cli("run", "\x1b[31mred")
    assert_bad_input(code, err, "\\x1b[31mred")


def test_usage_errors_show_the_usage_line_and_a_hint() -> None:
    code, _, err = cli("run")
    assert_bad_input(code, err, "required: name", "usage: raftsim run", "raftsim run --help")


def test_version(capsys: Any) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("raftsim ")


def test_run_and_replay_json(tmp_path: Path) -> None:
    path = tmp_path / "t{seed}.jsonl"
    code, out, _ = cli("run", "InitialElection3A", "--seed", "1..2", "--json",
                       "--trace", str(path))
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["seed"] for r in rows] == [1, 2]
    assert all(r["verdict"] == "pass" and r["failure"] is None and len(r["digest"]) == 32
               for r in rows)
    code, out, _ = cli("replay", str(tmp_path / "t2.jsonl"), "--json")
    replayed = json.loads(out)
    assert code == 0 and replayed["matches"] and replayed["digest"] == rows[1]["digest"]


def test_quiet_prints_only_what_did_not_pass() -> None:
    code, out, _ = cli("run", "InitialElection3A", "--seed", "1..3", "-q")
    assert code == 0 and out.splitlines() == ["3 passed, 0 failed (3 seeds)"]


def test_exit_codes_are_documented() -> None:
    text = (Path(__file__).parent.parent / "docs" / "cli.md").read_text()
    for code in EXIT_CODES:
        assert f"| {code} " in text, code


def test_a_full_disk_is_bad_input_and_leaves_no_half_file(tmp_path: Path,
                                                          monkeypatch: Any) -> None:
    import errno
    from sim import trace as trace_module
    real = trace_module.Trace._emit

    def full(self: Any, chunk: bytes) -> None:
        if self._file is not None and self.count > 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, chunk)
    monkeypatch.setattr(trace_module.Trace, "_emit", full)
    keep = tmp_path / "t.jsonl"
    keep.write_text("precious\n")
    code, _, err = cli("run", "random", "--trace", str(keep))
    assert_bad_input(code, err, "No space left on device")
    assert keep.read_text() == "precious\n" and os.listdir(tmp_path) == ["t.jsonl"]


@pytest.mark.parametrize("args", [["run", "random", "--params", "/dev/zero"],
                                  ["replay", "/dev/zero"], ["shrink", "/dev/zero"],
                                  ["replay", "{d}"]])
def test_endless_or_odd_input_files_are_refused_unread(tmp_path: Path, args: list[str]) -> None:
    code, _, err = cli(*[a.replace("{d}", str(tmp_path)) for a in args])
    assert_bad_input(code, err, "not a regular file")


def test_deeply_nested_json_is_bad_input(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    params, trace = tmp_path / "p.json", tmp_path / "t.jsonl"
    params.write_text('{"schedule": ' + deep + "}")
    code, _, err = cli("run", "random", "--params", str(params))
    assert_bad_input(code, err, "nested too deeply")
    assert cli("run", "InitialElection3A", "--trace", str(trace))[0] == 0
    lines = trace.read_text().splitlines()
    trace.write_text("\n".join([lines[0], deep, *lines[1:]]) + "\n")
    code, _, err = cli("replay", str(trace))
    assert_bad_input(code, err, "nested too deeply")
