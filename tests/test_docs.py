"""The transcripts in README.md and docs/*.md run, and print what the pages show.

A transcript is a code block (fenced, or indented by four spaces) with lines that start with
``$ ``. Each such line is a command; the lines after it, up to the next command or the end of
the block, are its output (stdout and stderr together, in the order written). The rules:

- ``...`` alone on a line (at any indentation) matches any number of lines, none included;
  ``...`` inside a line matches any text on that line. The rest is compared exactly, trailing
  blanks and trailing empty lines aside.
- Each page runs in a fresh temporary directory, its commands one after another: a file one
  command writes (a trace, a database) is there for the next.
- ``$ cat FILE`` followed by the file's content defines FILE for the commands that follow.
- ``$ echo $?`` shows the exit status of the command before it. A command that exits non-zero
  must be followed by one; any other command must exit 0.
- The commands understood: ``raftsim ...`` (run in this process through ``scenarios.cli.main``),
  ``python3 FILE ...`` (this interpreter, in a subprocess), ``sqlite3 DB "SQL"`` (run with
  Python's sqlite3, rows printed as the sqlite3 shell prints them: ``|`` between columns),
  ``cat FILE`` and ``echo $?``. Any other command fails the test: no transcript goes unchecked.
- ``../shared/data/`` is the external corpus next to the repository. A command naming it is
  skipped when the corpus is absent; the page then reports as skipped if everything else matched.

Long runs do not belong in a transcript: show them in a block without ``$`` (see docs/cli.md).
The table of scenarios in docs/scenarios.md is checked against ``raftsim list`` too.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


@dataclass
class Command:
    line: int                  # 1-based line of the command in its page
    text: str                  # after "$ "
    output: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- reading the pages

def code_blocks(text: str) -> list[tuple[int, list[str]]]:
    """Fenced and indented code blocks as (line number of their first line, lines)."""
    lines = text.splitlines()
    blocks: list[tuple[int, list[str]]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith("```"):
            indent = len(line) - len(stripped)
            j = i + 1
            while j < len(lines) and not lines[j].lstrip().startswith("```"):
                j += 1
            blocks.append((i + 2, [_dedent(s, indent) for s in lines[i + 1:j]]))
            i = j + 1
        elif line.startswith("    ") and (i == 0 or not lines[i - 1].strip()):
            j = i
            while j < len(lines) and (lines[j].startswith("    ") or not lines[j].strip()):
                j += 1
            blocks.append((i + 1, [s[4:] for s in lines[i:j]]))
            i = j
        else:
            i += 1
    return blocks


def _dedent(line: str, indent: int) -> str:
    return line[indent:] if not line[:indent].strip() else line.lstrip()


def transcripts(text: str) -> list[list[Command]]:
    """The commands of every transcript of a page, with the output each one shows."""
    found = []
    for first, lines in code_blocks(text):
        if not any(s.startswith("$ ") for s in lines):
            continue
        commands: list[Command] = []
        i = 0
        while i < len(lines):
            s = lines[i]
            if s.startswith("$ "):
                command = s[2:]
                start = i
                while _unbalanced(command) and i + 1 < len(lines):   # a quoted newline
                    i += 1
                    command += "\n" + lines[i]
                commands.append(Command(first + start, command))
            elif commands:
                commands[-1].output.append(s)
            elif s.strip():
                raise AssertionError(f"line {first + i}: text before the first command of a "
                                     f"transcript: {s!r}")
            i += 1
        found.append(commands)
    return found


def _unbalanced(command: str) -> bool:
    try:
        shlex.split(command)
    except ValueError:
        return True
    return False


# ---------------------------------------------------------------- comparing

def line_matches(expected: str, actual: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.rstrip().split("..."))
    return re.fullmatch(pattern, actual.rstrip()) is not None


def output_matches(expected: list[str], actual: list[str]) -> bool:
    """``expected`` against ``actual`` line by line, a line ``...`` standing for any lines."""
    exp, act = _trim(expected), _trim(actual)
    # reach[j]: the first i expected lines can match the first j actual lines
    reach = [True] + [False] * len(act)
    for e in exp:
        if e.strip() == "...":
            for j in range(1, len(act) + 1):
                reach[j] = reach[j] or reach[j - 1]
        else:
            reach = [False] + [reach[j] and line_matches(e, act[j])
                               for j in range(len(act))]
    return reach[len(act)]


def _trim(lines: list[str]) -> list[str]:
    lines = [s.rstrip() for s in lines]
    while lines and not lines[-1]:
        lines.pop()
    return lines


# ---------------------------------------------------------------- running

def run_raftsim(argv: list[str]) -> tuple[int, str]:
    from scenarios.cli import main
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = main(argv)
        except SystemExit as exc:                # --help, or a parser that exits
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return code, out.getvalue()


def run_python(argv: list[str], cwd: Path) -> tuple[int, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, *argv], cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)
    return proc.returncode, proc.stdout


def run_sqlite(argv: list[str], cwd: Path) -> tuple[int, str]:
    assert len(argv) == 2, f"sqlite3 takes a database and one statement here: {argv}"
    with contextlib.closing(sqlite3.connect(f"file:{cwd / argv[0]}?mode=ro", uri=True)) as db:
        rows = db.execute(argv[1]).fetchall()
    return 0, "".join("|".join("" if v is None else str(v) for v in row) + "\n" for row in rows)


def run_command(argv: list[str], cwd: Path) -> tuple[int, str]:
    if any(token in ("|", ">", ">>", "<", "&&", "||", ";") for token in argv):
        raise AssertionError("no shell syntax in transcripts (pipes, redirections, lists)")
    program, args = argv[0], argv[1:]
    if program == "raftsim":
        return run_raftsim(args)
    if program == "python3":
        return run_python(args, cwd)
    if program == "sqlite3":
        return run_sqlite(args, cwd)
    raise AssertionError(f"a transcript command this test cannot run: {program!r}")


def check_page(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """Run every transcript of ``page``; returns (commands run, commands skipped)."""
    work = tmp_path / "page"
    work.mkdir()
    if DATA.is_dir():                              # ../shared/data as seen from the page's dir
        (tmp_path / "shared").mkdir()
        (tmp_path / "shared" / "data").symlink_to(DATA)
    monkeypatch.chdir(work)
    problems: list[str] = []
    ran = skipped = 0
    name = page.relative_to(REPO)
    for commands in transcripts(page.read_text()):
        status: int | None = None                  # exit status of the command before
        unshown = ""                               # that command, if it failed unshown
        for cmd in commands:
            where = f"{name}:{cmd.line}: $ {cmd.text}"
            argv = shlex.split(cmd.text)
            if argv == ["echo", "$?"]:
                if status is not None and not output_matches(cmd.output, [str(status)]):
                    problems.append(f"{where}\n  shows {cmd.output}, but the status was {status}")
                unshown = ""
                continue
            if unshown:
                problems.append(unshown)
            status, unshown = 0, ""
            if argv[0] == "cat":
                assert len(argv) == 2, where
                (work / argv[1]).write_text("\n".join(cmd.output) + "\n")
            elif "../shared/data/" in cmd.text and not DATA.is_dir():
                status = None
                skipped += 1
            else:
                status, text = run_command(argv, work)
                ran += 1
                actual = text.splitlines()
                if not output_matches(cmd.output, actual):
                    problems.append(f"{where}\n--- the page shows\n" + "\n".join(cmd.output)
                                    + "\n--- the command printed\n" + "\n".join(actual))
                if status != 0:
                    unshown = f"{where}\n  exited {status}: show it with `$ echo $?`"
        if unshown:
            problems.append(unshown)
    assert not problems, "\n\n".join(problems)
    return ran, skipped


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_transcripts_print_what_the_page_shows(page, tmp_path, monkeypatch):
    ran, skipped = check_page(page, tmp_path, monkeypatch)
    if skipped:
        pytest.skip(f"{ran} commands matched; {skipped} skipped: {DATA} is absent")


def test_scenario_table_is_raftsim_list():
    """The table of docs/scenarios.md shows every scenario as `raftsim list` does, in order."""
    from scenarios.registry import all_scenarios
    text = (REPO / "docs" / "scenarios.md").read_text()
    section = text.split("## All scenarios", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| (\S+) \| (.*) \|$", section, re.M)
    assert rows == [(sc.name, sc.suite, sc.summary) for sc in all_scenarios()]


def test_wildcards():
    """``...`` on its own line stands for any lines; inside a line, for any text."""
    assert output_matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert output_matches(["a", "  ...", "b"], ["a", "b"])
    assert output_matches(["digest: ..."], ["digest: 0123"])
    assert output_matches(["x {...} y"], ["x {1, 2} y   "])
    assert not output_matches(["digest: 0124"], ["digest: 0123"])
    assert not output_matches(["a", "b"], ["a", "b", "c"])
    assert not output_matches(["a ... c"], ["a b", "c"])


def test_transcript_parsing():
    page = ("text\n\n    $ cat f.json\n    {}\n    $ raftsim list\n    ...\n\n"
            "```\n$ sqlite3 x.db \"SELECT 1,\n   2;\"\n1|2\n```\n\n```sh\nraftsim list\n```\n")
    found = transcripts(page)
    assert [[(c.line, c.text, c.output) for c in t] for t in found] == [
        [(3, "cat f.json", ["{}"]), (5, "raftsim list", ["...", ""])],
        [(9, 'sqlite3 x.db "SELECT 1,\n   2;"', ["1|2"])]]
