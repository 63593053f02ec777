"""The command line: outcomes and exit codes (0 pass, 1 failure, 2 bad input), one-line errors
for bad input, traces that replay to the same digest and tampered traces rejected."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scenarios.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scenarios.cli", *args],
                          capture_output=True, text=True)


def test_list_names_every_raft_test(capsys):
    assert main(["list", "--suite", "3D"]) == 0
    out = capsys.readouterr().out
    assert "SnapshotInit3D" in out and "SnapshotBasic3D" in out and "BasicAgree3B" not in out


def test_run_prints_outcome_and_digest(capsys):
    assert main(["run", "BasicAgree3B", "--seed", "4"]) == 0
    out = capsys.readouterr().out
    assert "BasicAgree3B seed 4: PASS" in out
    assert "virtual time" in out and "messages" in out
    assert out.strip().splitlines()[-1].startswith("digest: ")


def test_run_seed_range(capsys):
    assert main(["run", "InitialElection3A", "--seed", "1..3"]) == 0
    out = capsys.readouterr().out
    assert out.count("digest: ") == 3 and "3 passed, 0 failed" in out


@pytest.mark.parametrize("args, needle", [
    (["run", "NoSuchTest"], "unknown scenario 'NoSuchTest'"),
    (["run", "BasicAgree3b2"], "unknown scenario"),
    (["run", "BasicAgree3B", "--seed", "abc"], "bad seed 'abc'"),
    (["run", "BasicAgree3B", "--seed", "5..2"], "bad seed range"),
    (["run", "BasicAgree3B", "--seed", "1..x"], "bad seed"),
    (["run", "BasicAgree3B", "--seed", "1..3", "--trace", "t.jsonl"], "{seed}"),
    (["run", "BasicAgree3B", "--trace", "/no/such/dir/t.jsonl"], "no such directory"),
    (["replay", "/no/such/file.jsonl"], "cannot read"),
    (["frobnicate"], "invalid choice"),
    (["run"], "required"),
])
def test_bad_input_is_one_line_exit_2(args, needle):
    proc = run_cli(*args)
    assert proc.returncode == 2, proc
    assert needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr


def test_trace_replays_to_same_digest(tmp_path):
    path = tmp_path / "run.jsonl"
    proc = run_cli("run", "SnapshotInstallUnreliable3D", "--seed", "2", "--trace", str(path))
    assert proc.returncode == 0, proc.stdout
    digest = proc.stdout.strip().splitlines()[-1].split()[1]
    replay = run_cli("replay", str(path))
    assert replay.returncode == 0, replay.stdout
    assert f"digest matches: {digest}" in replay.stdout


@pytest.mark.parametrize("damage", ["edit", "truncate", "garbage", "empty"])
def test_tampered_trace_rejected(tmp_path, damage):
    path = tmp_path / "run.jsonl"
    assert main(["run", "BasicAgree3B", "--seed", "1", "--trace", str(path)]) == 0
    data = path.read_bytes()
    lines = data.split(b"\n")
    if damage == "edit":
        lines[5] = lines[5].replace(b"1", b"7", 1)
        data = b"\n".join(lines)
    elif damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = b"not a trace\n"
    else:
        data = b""
    path.write_bytes(data)
    proc = run_cli("replay", str(path))
    assert proc.returncode == 2 and str(path) in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.interpreted
def test_failing_run_exits_1_and_prints_reproduce_command(monkeypatch, capsys):
    """A protocol bug (patched in here, never a switch in production code) fails the run."""
    from protocols.raft import node
    monkeypatch.setattr(node, "vote_won", lambda votes, n: False)   # nobody ever wins
    assert main(["run", "InitialElection3A", "--seed", "1"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "expected one leader, got none" in out
    assert "raftsim run InitialElection3A --seed 1 --trace" in out


def test_dumped_params_reproduce_the_run(tmp_path):
    """What a seed drew, dumped as JSON and given back with --params, replays the same events
    (the header differs: it records the params so that `raftsim replay` can use them)."""
    drawn, a, b = tmp_path / "p.json", tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert main(["run", "random", "--seed", "3", "--dump-params", str(drawn),
                 "--trace", str(a)]) == 0
    assert main(["run", "random", "--seed", "3", "--params", str(drawn),
                 "--trace", str(b)]) == 0
    body = lambda p: p.read_bytes().split(b"\n")[1:-2]     # without header and footer
    assert body(a) == body(b) and len(body(a)) > 100
    assert run_cli("replay", str(b)).returncode == 0


def test_dump_params_of_a_lab_scenario_is_bad_input(tmp_path):
    proc = run_cli("run", "Basic4A", "--dump-params", str(tmp_path / "p.json"))
    assert proc.returncode == 2 and "draws nothing from its seed" in proc.stderr


@pytest.mark.parametrize("params, needle", [
    ('{"duration_ms": "abc"}', "at $.duration_ms: Expected `float`, got `str`"),
    ('{"schedule": [[5, {"type": "Crash", "node": "s9", "mid_step_after": null}]]}', "s9"),
    ('{"net": {"relaible": true}}', "unknown field"),
    ('{"schedul": []}', "does not take 'schedul'"),
    ('[1', "not valid JSON"),
])
def test_bad_params_one_line_and_no_trace_left(tmp_path, params, needle):
    path, trace = tmp_path / "p.json", tmp_path / "t.jsonl"
    path.write_text(params)
    proc = run_cli("run", "random-raft", "--params", str(path), "--trace", str(trace))
    assert proc.returncode == 2 and needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not trace.exists()
