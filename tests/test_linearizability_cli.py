"""``raftsim check``: verdict, per-partition counts and times on stdout; the exit code says it all.

Rule: exit 0 when every file is linearizable, 1 when one is not, 3 when one is undecided, 2 on
bad input (worst first: 2, 1, 3); bad input is exactly one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from scenarios.cli import main
from scenarios.cli.check import add_parser

ROOT = Path(__file__).resolve().parent.parent
HEADER = '{"format":"raftsim-history","version":1,"model":"kv"}'


def history(tmp_path: Path, name: str, read: str) -> Path:
    lines = [HEADER,
             '{"t":0,"process":"c0","type":"invoke","f":"put","key":"k","value":"v"}',
             '{"t":1,"process":"c0","type":"ok","f":"put","key":"k"}',
             '{"t":2,"process":"c1","type":"invoke","f":"get","key":"k"}',
             f'{{"t":3,"process":"c1","type":"ok","f":"get","key":"k","value":"{read}"}}']
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def hard_history(tmp_path: Path) -> Path:
    """Fourteen concurrent puts and a read of a value nobody wrote: illegal, but only after
    an exhaustive search of about a hundred thousand configurations."""
    lines = [HEADER]
    for c in range(14):
        lines.append(f'{{"t":0,"process":{c},"type":"invoke","f":"put","key":"k","value":"v{c}"}}')
    lines.append('{"t":0,"process":99,"type":"invoke","f":"get","key":"k"}')
    for c in range(14):
        lines.append(f'{{"t":100,"process":{c},"type":"ok","f":"put","key":"k"}}')
    lines.append('{"t":100,"process":99,"type":"ok","f":"get","key":"k","value":"nobody"}')
    path = tmp_path / "hard.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_linearizable_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A good history: 'linearizable', counts and times, exit 0."""
    code, out, err = run(capsys, str(history(tmp_path, "good.jsonl", "v")))
    assert code == 0 and err == ""
    assert "good.jsonl: linearizable" in out
    assert "2 operations in 1 partitions (1 ok)" in out and " ms" in out


def test_not_linearizable_exits_1_and_names_the_operation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A stale read: 'NOT linearizable', the operation that could not be placed, exit 1."""
    code, out, _ = run(capsys, str(history(tmp_path, "bad.jsonl", "")))
    assert code == 1
    assert "NOT linearizable" in out and "could not place get('k') -> ''" in out


def test_unknown_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A search stopped by its budget is UNKNOWN, exit 3."""
    code, out, _ = run(capsys, str(hard_history(tmp_path)), "--max-cache", "100")
    assert code == 3 and "UNKNOWN" in out and "cache budget" in out
    code, out, _ = run(capsys, str(hard_history(tmp_path)), "--timeout", "0.05")
    assert code == 3 and "timeout" in out


def test_worst_file_decides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Several files: every one is reported; bad input beats illegal, illegal beats ok."""
    good, bad = history(tmp_path, "good.jsonl", "v"), history(tmp_path, "bad.jsonl", "")
    assert run(capsys, str(good), str(bad))[0] == 1
    code, out, err = run(capsys, str(good), str(tmp_path / "missing.jsonl"), str(bad))
    assert code == 2 and "good.jsonl: linearizable" in out and "bad.jsonl: NOT" in out
    assert err.count("\n") == 1


@pytest.mark.parametrize("argv,fragment", [
    (["--model", "nope"], "unknown model 'nope'"),
    (["--format", "nope"], "unknown format 'nope'"),
    (["--model", "no_such_module:x"], "cannot load model"),
    (["--timeout", "0"], "--timeout"),
])
def test_bad_options_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          argv: list[str], fragment: str) -> None:
    """Unknown --model / --format values: one line on stderr, exit 2."""
    code, out, err = run(capsys, str(history(tmp_path, "good.jsonl", "v")), *argv)
    assert code == 2 and out == ""
    assert err.startswith("raftsim: error: ") and err.count("\n") == 1 and fragment in err


@pytest.mark.parametrize("make,fragment", [
    (lambda p: p / "missing.jsonl", "readable file"),
    (lambda p: p, "not a directory"),
    (lambda p: (p / "empty.txt", (p / "empty.txt").write_text(""))[0], "empty"),
    (lambda p: (p / "junk.txt", (p / "junk.txt").write_text("garbage\n"))[0], ":1: expected"),
    (lambda p: (p / "kv.txt", (p / "kv.txt").write_text("{:process 0, :type :ok}\n"))[0], ":1: expected {:process"),
    (lambda p: (p / "j.log", (p / "j.log").write_text("INFO  jepsen.util - 0 :invoke :read\n"))[0], ":1: expected"),
])
def test_bad_files_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        make: object, fragment: str) -> None:
    """Missing file, directory, empty file, malformed lines of each format: one line, exit 2."""
    path = make(tmp_path)  # type: ignore[operator]
    code, _, err = run(capsys, str(path))
    assert code == 2
    assert err.count("\n") == 1 and fragment in err and "Traceback" not in err


def test_custom_model_by_module_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--model MODULE:ATTRIBUTE loads a user's own model."""
    code, out, _ = run(capsys, str(history(tmp_path, "good.jsonl", "v")),
                       "--model", "checkers.linearizability.models:kv_model")
    assert code == 0 and "model kv" in out


def test_add_parser_wires_a_subcommand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The lead's CLI adds the subcommand with add_parser and dispatches to run via func."""
    parser = argparse.ArgumentParser(prog="raftsim")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["check", str(history(tmp_path, "good.jsonl", "v")), "--timeout", "5"])
    assert args.func(args) == 0
    assert "linearizable" in capsys.readouterr().out


def test_module_entry_point_in_a_subprocess(tmp_path: Path) -> None:
    """``python -m scenarios.cli check`` works end to end and never prints a traceback."""
    bad = tmp_path / "bad.txt"
    bad.write_text('{:process 0, :type :invoke, :f :get, :key "0", :value nil}\n{oops}\n')
    done = subprocess.run([sys.executable, "-m", "scenarios.cli", "check", str(bad)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == f"raftsim: error: {bad}:2: expected {{:process N, :type :invoke|:ok|:fail|:info, :f :get|:put|:append, :key \"K\", :value nil|\"V\"}}\n"


def test_the_tie_rule_is_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A history recorded in order (header "ties": "recorded") says so in the text, the JSON
    and the page; a get that missed its own client's append of the same instant fails there
    and passes under the default rule."""
    events = ['{"t":0,"process":"c0","type":"invoke","f":"append","key":"k","value":"x"}',
              '{"t":5,"process":"c0","type":"ok","f":"append","key":"k","value":"x"}',
              '{"t":5,"process":"c0","type":"invoke","f":"get","key":"k"}',
              '{"t":7,"process":"c0","type":"ok","f":"get","key":"k","value":""}']
    recorded = tmp_path / "rec.jsonl"
    recorded.write_text('{"format":"raftsim-history","version":1,"model":"kv","ties":"recorded"}\n'
                        + "\n".join(events) + "\n")
    plain = tmp_path / "plain.jsonl"
    plain.write_text('{"format":"raftsim-history","version":1,"model":"kv"}\n'
                     + "\n".join(events) + "\n")
    code, out, _ = run(capsys, str(recorded), "--html", str(tmp_path / "v.html"))
    assert code == 1 and "model kv, format raftsim, ties recorded;" in out
    assert "rec.jsonl (ties recorded)" in (tmp_path / "v.html").read_text()
    code, out, _ = run(capsys, str(plain))
    assert code == 0 and "ties" not in out
    code, out, _ = run(capsys, str(recorded), str(plain), "--json")
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["ties"], r["verdict"]) for r in records] == [("recorded", "illegal"),
                                                              ("concurrent", "ok")]


def test_a_bad_tie_rule_is_one_line_and_exit_2(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A header whose "ties" is neither concurrent nor recorded: one line naming the file, the
    line and the value, exit 2, nothing on stdout."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format":"raftsim-history","version":1,"model":"kv","ties":"Recorded"}\n')
    code, out, err = run(capsys, str(bad))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"{bad}:1: expected" in err and '"Recorded"' in err
