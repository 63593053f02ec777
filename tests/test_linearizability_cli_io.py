"""``raftsim check`` as scripts and hostile inputs use it: early verdicts, --json, summaries,
output files checked first and written atomically, options validated, names printed escaped."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from checkers.linearizability import check, load_history
from scenarios.cli import check as check_cmd
from scenarios.cli import main

HEADER = '{"format":"raftsim-history","version":1,"model":"kv"}'


def keyed_history(tmp_path: Path, name: str = "keys.jsonl", bad_key: str | None = "k3",
                  keys: int = 5) -> Path:
    """A put then a get per key; the get of ``bad_key`` reads a value nobody wrote."""
    lines, t = [HEADER], 0
    for k in range(keys):
        key = f"k{k}"
        read = "nobody" if key == bad_key else "v"
        for event in (f'"type":"invoke","f":"put","key":"{key}","value":"v"',
                      f'"type":"ok","f":"put","key":"{key}"',
                      f'"type":"invoke","f":"get","key":"{key}"',
                      f'"type":"ok","f":"get","key":"{key}","value":"{read}"'):
            lines.append(f'{{"t":{t},"process":"c{k}",{event}}}')
            t += 1
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_an_illegal_partition_settles_the_verdict(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Default: the other partitions are not searched, and the illegal one is explained."""
    path = keyed_history(tmp_path, keys=5, bad_key="k0")
    code, out, _ = run(capsys, str(path))
    assert code == 1
    assert "10 operations in 5 partitions (1 illegal, 4 not searched)" in out
    assert "could not place get('k0') -> 'nobody'" in out
    assert "--all-partitions" in out
    code, out, _ = run(capsys, str(path), "--all-partitions")
    assert code == 1 and "(4 ok, 1 illegal)" in out and "not searched" not in out


def test_check_api_searches_no_further_partition_after_an_illegal_one(tmp_path: Path) -> None:
    history = load_history(keyed_history(tmp_path, keys=5, bad_key="k0"))
    seen: list[tuple[int, int]] = []
    result = check(history.model, history.operations, explain=True,
                   progress=lambda done, total: seen.append((done, total)))
    illegal = [p for p in result.partitions if p.verdict is not None and p.verdict.value == "illegal"]
    assert len(illegal) == 1 and illegal[0].partials  # explained
    assert result.counts()["skipped"] == 5 - len(seen) and seen[0] == (0, 5)
    assert [done for done, _ in seen] == list(range(len(seen)))


def test_json_is_one_object_per_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = keyed_history(tmp_path, "good.jsonl", bad_key=None, keys=2)
    bad = keyed_history(tmp_path, "bad.jsonl", bad_key="k1", keys=2)
    missing = tmp_path / "missing.jsonl"
    code, out, err = run(capsys, str(good), str(bad), str(missing), "--json")
    assert code == 2 and err.count("\n") == 1 and err.startswith("raftsim: error: ")
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["verdict"] for r in records] == ["ok", "illegal", "bad-input"]
    assert [r["exit"] for r in records] == [0, 1, 2]
    assert records[0]["operations"] == 4 and records[0]["partitions"]["ok"] == 2
    assert records[0]["failure"] is None and records[0]["check_s"] >= 0
    assert records[1]["failure"]["partition"] == "key='k1'"
    assert "could not place get('k1')" in records[1]["failure"]["explanation"]
    assert "missing.jsonl" in records[2]["error"]


def test_several_files_end_with_a_summary_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    good = keyed_history(tmp_path, "good.jsonl", bad_key=None, keys=1)
    bad = keyed_history(tmp_path, "bad.jsonl", keys=4)
    code, out, _ = run(capsys, str(good), str(bad), str(good))
    assert code == 1
    assert out.splitlines()[-1] == "3 files: 2 linearizable, 1 NOT linearizable"
    code, out, _ = run(capsys, str(good))
    assert "files:" not in out


def test_html_is_not_written_when_an_input_is_bad(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    good = keyed_history(tmp_path, "good.jsonl", bad_key=None, keys=1)
    report = tmp_path / "view.html"
    code, out, _ = run(capsys, str(good), str(tmp_path / "missing.jsonl"), "--html", str(report))
    assert code == 2 and not report.exists() and "report written" not in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.jsonl"]


@pytest.mark.parametrize("target,fragment", [
    (lambda p: p, "it is a directory"),
    (lambda p: p / "no" / "such" / "view.html", "no such directory"),
    (lambda p: p / "good.jsonl", "name the same file"),
])
def test_bad_html_targets_are_refused_before_any_work(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      target: object, fragment: str) -> None:
    good = keyed_history(tmp_path, "good.jsonl", bad_key=None, keys=1)
    before = good.read_bytes()
    code, out, err = run(capsys, str(good), "--html", str(target(tmp_path)))  # type: ignore[operator]
    assert code == 2 and out == "" and err.count("\n") == 1 and fragment in err
    assert good.read_bytes() == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused_before_any_work(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    good = keyed_history(tmp_path, "good.jsonl", bad_key=None, keys=1)
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        code, out, err = run(capsys, str(good), "--html", str(folder / "v.html"))
    finally:
        folder.chmod(0o700)
    assert code == 2 and out == "" and "not writable" in err


def test_html_replaces_a_report_atomically(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = keyed_history(tmp_path, "good.jsonl", bad_key=None, keys=1)
    report = tmp_path / "view.html"
    report.write_text("old report")
    code, out, _ = run(capsys, str(good), "--html", str(report))
    assert code == 0 and "report written to" in out
    assert report.read_text().startswith("<!DOCTYPE html>") or "<html" in report.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.jsonl", "view.html"]  # no temp left
    code, out, _ = run(capsys, str(good), "--html", str(report), "--json")
    assert code == 0 and [json.loads(line)["verdict"] for line in out.splitlines()] == ["ok"]


@pytest.mark.parametrize("argv,fragment", [
    (["--max-cache", "0"], "--max-cache must be a positive"),
    (["--max-cache", "-5"], "--max-cache must be a positive"),
    (["--timeout", "inf"], "--timeout"),
    (["--timeout", "nan"], "--timeout"),
    (["--model", ":x"], "expected MODULE:ATTRIBUTE"),
    (["--model", ".foo:x"], "expected MODULE:ATTRIBUTE"),
    (["--model", "os:"], "expected MODULE:ATTRIBUTE"),
    (["--model", "os:path"], "is not a checkers.linearizability.Model"),
    (["--format", "edn"], "unknown format"),
])
def test_bad_options_are_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         argv: list[str], fragment: str) -> None:
    good = keyed_history(tmp_path, "good.jsonl", bad_key=None, keys=1)
    code, out, err = run(capsys, str(good), *argv)
    assert code == 2 and out == ""
    assert err.startswith("raftsim: error: ") and err.count("\n") == 1 and fragment in err


def test_names_from_input_files_are_printed_escaped(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """File names, process names and keys carrying escape sequences reach no terminal raw."""
    evil = "\x1b]0;owned\x07\x1b[2J"
    name = tmp_path / f"h{evil}.jsonl"
    lines = [HEADER,
             json.dumps({"t": 0, "process": f"p{evil}", "type": "invoke", "f": "put",
                         "key": f"k{evil}", "value": "v"}),
             json.dumps({"t": 1, "process": f"p{evil}", "type": "ok", "f": "put", "key": f"k{evil}"}),
             json.dumps({"t": 2, "process": f"q{evil}", "type": "invoke", "f": "get", "key": f"k{evil}"}),
             json.dumps({"t": 3, "process": f"q{evil}", "type": "ok", "f": "get", "key": f"k{evil}",
                         "value": f"x{evil}"})]
    name.write_text("\n".join(lines) + "\n")
    for extra in ([], ["--json"], ["--all-partitions"]):
        code, out, err = run(capsys, str(name), *extra)
        assert code == 1
        assert "\x1b" not in out and "\x07" not in out and "\\x1b" in out
    broken = tmp_path / f"b{evil}.jsonl"
    broken.write_text(HEADER + "\n" + json.dumps({"t": 0, "process": f"p{evil}", "type": "ok",
                                                  "f": "get", "key": "k"}) + "\n")
    code, out, err = run(capsys, str(broken))
    assert code == 2 and "\x1b" not in err and "\x07" not in err and err.count("\n") == 1


@pytest.mark.parametrize("line,fragment", [
    ('{"t":1' + "0" * 400 + ',"process":0,"type":"invoke","f":"put","key":"k","value":"v"}',
     "a finite number 't'"),
    ('{"t":0,"process":0,"type":"invoke","f":"put","key":"k","value":' + "[" * 5000 + "]" * 5000 + "}",
     "a JSON object of reasonable depth"),
])
def test_extreme_numbers_and_nesting_are_bad_input(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   line: str, fragment: str) -> None:
    """Found by the fuzz tests: an integer no float holds, JSON nested beyond the stack."""
    path = tmp_path / "h.jsonl"
    path.write_text(HEADER + "\n" + line + "\n")
    code, out, err = run(capsys, str(path))
    assert code == 2 and out == "" and err.count("\n") == 1 and fragment in err


def test_values_nested_too_deep_are_bad_input(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    deep = "[" * 200 + "]" * 200
    path = tmp_path / "h.jsonl"
    path.write_text('{"format":"raftsim-history","version":1,"model":"register"}\n'
                    f'{{"t":0,"process":0,"type":"invoke","f":"write","value":{deep}}}\n')
    code, _, err = run(capsys, str(path))
    assert code == 2 and "nested at most" in err and err.count("\n") == 1


def test_a_model_module_that_fails_to_import_is_bad_input(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "broken_model_mod.py").write_text("raise RuntimeError('half written')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    good = keyed_history(tmp_path, "good.jsonl", bad_key=None, keys=1)
    code, out, err = run(capsys, str(good), "--model", "broken_model_mod:m")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "RuntimeError: half written" in err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_only_and_is_erased(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = keyed_history(tmp_path, keys=3, bad_key=None)
    code, _, err = run(capsys, str(path))
    assert code == 0 and err == ""  # not a terminal: nothing
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(check_cmd, "_PROGRESS_AFTER_S", 0.0)
    assert main(["check", str(path)]) == 0
    shown = terminal.getvalue()
    assert "partition 1/3" in shown and "partition 3/3" in shown and "(1/1)" in shown
    assert shown.endswith("\r\x1b[K")  # the line is erased before the report


def test_check_imports_nothing_of_the_simulator(tmp_path: Path) -> None:
    """``raftsim check`` costs its own work: no simulator, protocol, harness or simpy import."""
    path = keyed_history(tmp_path, keys=2, bad_key=None)
    code = ("import sys\nfrom scenarios.cli import main\n"
            f"assert main(['check', {str(path)!r}]) == 0\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('sim', 'protocols', 'harness', 'simpy', 'scenarios') and m not in "
            "('scenarios', 'scenarios.cli', 'scenarios.cli.check', 'scenarios.cli.common', "
            "'scenarios.errors', 'scenarios.registry', 'scenarios.cli.style')))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


def test_quiet_and_verbose(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """-q: the verdict line, and for an illegal history the failure; -v: every partition
    (the default shows the first dozen and says how many more there are)."""
    bad = keyed_history(tmp_path, "bad.jsonl", keys=3, bad_key="k1")
    code, out, _ = run(capsys, str(bad), "-q")
    assert code == 1 and out.splitlines()[0].endswith("NOT linearizable")
    assert len(out.splitlines()) == 2 and "could not place get('k1')" in out
    many = keyed_history(tmp_path, "many.jsonl", keys=20, bad_key=None)
    code, out, _ = run(capsys, str(many), "-q")
    assert code == 0 and out.splitlines() == [f"{many}: linearizable"]
    code, out, _ = run(capsys, str(many))
    assert out.count("partition key=") == 12 and "8 more partitions (-v shows them all)" in out
    code, out, _ = run(capsys, str(many), "-v")
    assert code == 0 and out.count("partition key=") == 20 and "more partitions" not in out
