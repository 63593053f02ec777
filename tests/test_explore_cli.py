"""`raftsim explore` at its argument boundary, in this process: bad input is one line
`raftsim: error: ...` on stderr with exit 2 and nothing on stdout, for flags (Hypothesis draws
them) and for files given to `--replay` that are not counterexamples written by the explorer
(Hypothesis damages a real one); never a traceback or the crash code."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import tempfile
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenarios.cli import main
from scenarios.cli.explore import build, write_counterexample
from scenarios.errors import EXIT_BAD_INPUT, EXIT_CODES, EXIT_CRASH
from sim.explore import Counterexample, successors
from step_files import VOTEBUG, VOTEBUG_ARGS

FUZZ = settings(max_examples=120, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def assert_judged(code: int, out: str, err: str) -> None:
    """A documented exit code, never the crash code; bad input is one line and prints
    nothing else."""
    assert code in EXIT_CODES and code != EXIT_CRASH, err
    if code == EXIT_BAD_INPUT:
        assert out == ""
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("raftsim: error: "), err


# ---------------------------------------------------------------- flags

#: Flags and the values drawn for them: boundaries, wrong types, names. Every search is kept
#: tiny by the flags appended last (--states, --depth), and no valid --walks value is large.
FLAGS: dict[str, list[str | None]] = {
    "--nodes": ["-1", "0", "1", "2", "3", "5", "7", "8", "x"],
    "--clients": ["-1", "0", "1", "2", "3", "4", "x"],
    "--groups": ["-1", "0", "1", "2", "3", "4", "x"],
    "--changes": ["-1", "0", "1", "4", "5", "x"],
    "--shards": ["-1", "0", "1", "2", "10", "11", "x"],
    "--strategy": ["bfs", "dfs", "random", "best", ""],
    "--seed": ["-1", "0", "5", str(2**63 - 1), str(2**63), "x"],
    "--walks": ["-1", "0", "1", "3", "10000001", "x"],
    "--property": ["raft", "linearizability", "shards", "liveness", ""],
    "--step": ["protocols.raft:step", "nowhere:step", "protocols.raft", ":", "x.py:step"],
    "--max-term": ["-1", "0", "1", "2", "21", "x"],
    "--max-log": ["-1", "0", "1", "2", "21"],
    "--ops": ["-1", "0", "1", "2", "21"],
    "--crashes": ["-1", "0", "1", "11"],
    "--drops": ["-1", "0", "1", "21"],
    "--dups": ["-1", "0", "1", "21"],
    "--partitions": ["-1", "0", "1", "11"],
    "--per-link": ["-1", "0", "1", "2", "11"],
    "--overflow": ["stop", "lose-oldest", "lose-newest", ""],
    "--progress": ["-1", "0", "0.5", "x"],
    "--snapshots": [None], "--symmetry": [None], "--compare-symmetry": [None],
    "--keep-sent": [None], "--no-mid-step": [None], "--json": [None], "--por": [None],
}
TARGETS = ["raft", "kv", "shardkv", "paxos", "", "--replay"]


@st.composite
def argv(draw: Any) -> list[str]:
    args = ["explore"]
    target = draw(st.sampled_from(TARGETS))
    if target == "--replay":
        args += ["--replay", draw(st.sampled_from(["/nonexistent.json", os.devnull, "/"]))]
    elif target:
        args.append(target)
    for flag in draw(st.lists(st.sampled_from(sorted(FLAGS)), max_size=4)):
        value = draw(st.sampled_from(FLAGS[flag]))
        args += [flag] if value is None else [flag, value]
    return args + ["--states", "60", "--depth", "6"]


@FUZZ
@given(argv())
def test_any_flags_get_a_verdict_or_one_line_of_bad_input(args: list[str]) -> None:
    assert_judged(*cli(*args))


def test_the_flags_of_random_walks_are_refused_elsewhere_and_checked() -> None:
    for args, message in (
            (["--walks", "5"], "--walks applies to --strategy random only (not bfs)"),
            (["--strategy", "dfs", "--seed", "1"], "--seed applies to --strategy random only"),
            (["--strategy", "random", "--seed", "-1"], "--seed -1: expected 0 to 2**63-1"),
            (["--strategy", "random", "--walks", "0"], "--walks 0: expected 1 to 10,000,000"),
            (["--strategy", "dfs", "--por"], "--por applies to --strategy bfs only (not dfs)"),
            (["--strategy", "random", "--por"], "--por applies to --strategy bfs only")):
        code, out, err = cli("explore", "raft", *args)
        assert code == EXIT_BAD_INPUT and out == "" and message in err, err


# ---------------------------------------------------------------- --replay FILE

def counterexample(path: str) -> dict[str, Any]:
    """A real counterexample file (a 4-step path of 3 Raft peers), as JSON."""
    config = {"target": "raft", "nodes": 3, "clients": 0, "step": None, "properties": None,
              "keep_sent": False, "bounds": {"max_term": 1, "max_log": 1}}
    model, bounds, _, _ = build(config)
    config["bounds"] = {f: getattr(bounds, f) for f in bounds.__struct_fields__}
    state, labels = model.initial(), []
    for _ in range(4):
        label, *_, state = next(iter(successors(model, state, bounds)))
        labels.append(label)
    write_counterexample(path, config, model, bounds, Counterexample("x", "y", tuple(labels)))
    with open(path, encoding="utf-8") as f:
        return json.load(f)


with tempfile.TemporaryDirectory() as _tmp:
    GOOD = counterexample(os.path.join(_tmp, "cex.json"))

VALUES = st.sampled_from([None, True, 0, 1, -1, 3, 7, 40, 10**6, 2**63, 0.5, "", "x", "raft",
                          "kv", "paxos", "nowhere:step", [], [0], [-1], ["raft"], {},
                          {"max_term": -1}, {"states": 0}, {"x": 1}]).map(copy.deepcopy)


def places(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += places(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += places(v, prefix + (i,))
    return out


@st.composite
def damaged(draw: Any) -> Any:
    doc = copy.deepcopy(GOOD)
    for _ in range(draw(st.integers(1, 2))):
        where = draw(st.sampled_from(places(doc)))
        if not where:
            return draw(VALUES)
        parent = doc
        for key in where[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[where[-1]]
        else:
            parent[where[-1]] = draw(VALUES)
    return doc


@FUZZ
@given(damaged())
def test_a_damaged_counterexample_is_replayed_or_refused_in_one_line(doc: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cex.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        assert_judged(*cli("explore", "--replay", path))


def test_files_that_are_not_counterexamples_are_bad_input(tmp_path: Any) -> None:
    """Text, binary, other JSON, a damaged field: one line naming the file and what is
    wrong, exit 2; a real counterexample replays."""
    cases = {"text.txt": (b"hello\n", "is not an explorer counterexample (not JSON)"),
             "binary.bin": (b"\xff\xfe\x00", "is not an explorer counterexample (not JSON)"),
             "list.json": (b"[1, 2]", 'is not an explorer counterexample (no "format"'),
             "bounds.json": (json.dumps({**GOOD, "config": {**GOOD["config"], "bounds": {
                 "max_term": "x"}}}).encode(), "at `$.config.bounds.max_term`"),
             "negative.json": (json.dumps({**GOOD, "config": {**GOOD["config"], "bounds": {
                 "crashes": -1}}}).encode(), "bound crashes is negative")}
    for name, (data, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        code, out, err = cli("explore", "--replay", str(path))
        assert code == EXIT_BAD_INPUT and out == "" and message in err, (name, err)
        assert err.count("\n") == 1
    good = tmp_path / "good.json"
    good.write_text(json.dumps(GOOD))
    code, out, _ = cli("explore", "--replay", str(good))
    assert code == 0 and "digest matches" in out


# ---------------------------------------------------------------- a user's step function

STEPS = {  # module source -> what the one line of bad input says
    "def step(state, event): raise ValueError('boom')\n":
        "--step 'user.py:step' raised ValueError: boom on ",
    "def step(state): return state\n": "--step 'user.py:step' raised TypeError: ",
    "def step(state, event): return None\n":
        "--step 'user.py:step' returned None on Restart: expected (RaftState, list of effects)",
    "def step(state, event): return ('garbage', [])\n":
        "--step 'user.py:step' returned ('garbage', []) on Restart: expected (RaftState",
    "import sys; sys.exit(3)\n": "--step 'user.py:step': importing user.py raised SystemExit: 3",
    "x = undefined_name\n":
        "--step 'user.py:step': importing user.py raised NameError: name 'undefined_name'",
    "from protocols import raft\ndef step(s, e):\n    if type(e).__name__ == 'Receive':\n"
    "        raise KeyError('late')\n    return raft.step(s, e)\n":
        "--step 'user.py:step' raised KeyError: 'late' on Receive",
}


def test_a_users_step_function_that_fails_is_bad_input_naming_it(tmp_path: Any,
                                                                  monkeypatch: Any) -> None:
    """What a user's step function (or its module, at import) raises, even SystemExit, or a
    return that is not (state, effects): one line naming the step function and the exception,
    exit 2; never the crash code (a bug in raftsim)."""
    monkeypatch.chdir(tmp_path)
    for source, message in STEPS.items():
        (tmp_path / "user.py").write_text(source)
        code, _, err = cli("explore", "raft", "--step", "user.py:step", "--max-term", "1",
                           "--max-log", "1")
        assert code == EXIT_BAD_INPUT and err.count("\n") == 1 and message in err, (source, err)
    code, _, err = cli("explore", "raft", "--step", "os:getcwd", "--max-term", "1")
    assert code == EXIT_BAD_INPUT and "--step 'os:getcwd' raised TypeError" in err, err


def test_trace_never_overwrites_the_step_source(tmp_path: Any, monkeypatch: Any) -> None:
    """--trace naming the file (or module) --step runs: one line naming both options, exit 2,
    before any search; the source is left as it was."""
    monkeypatch.chdir(tmp_path)
    source = "from protocols import raft\ndef step(s, e): return raft.step(s, e)\n"
    (tmp_path / "mine.py").write_text(source)
    for trace in ("mine.py", "./mine.py", str(tmp_path / "mine.py")):
        code, out, err = cli("explore", "raft", "--step", "mine.py:step", "--trace", trace,
                             "--max-term", "1", "--max-log", "1")
        assert code == EXIT_BAD_INPUT and out == "", err
        assert "--trace and --step name the same file" in err and err.count("\n") == 1, err
        assert (tmp_path / "mine.py").read_text() == source
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, err = cli("explore", "raft", "--step", "mine:step", "--trace", "mine.py",
                         "--max-term", "1", "--max-log", "1")
    assert code == EXIT_BAD_INPUT and "--trace and --step name the same file" in err, err
    assert (tmp_path / "mine.py").read_text() == source


# ---------------------------------------------------------------- replaying with a step file



def test_a_counterexample_finds_its_step_file_from_anywhere(tmp_path: Any,
                                                           monkeypatch: Any) -> None:
    """The step file is recorded relative to the counterexample and found from there, from
    any directory; a missing one is named as the counterexample's, with the file; -q prints
    the verdict alone, --json one object."""
    (tmp_path / "bug").mkdir()
    (tmp_path / "bug" / "votebug.py").write_text(VOTEBUG)
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path / "bug")
    code, _, err = cli("explore", "raft", "--step", "votebug.py:step", *VOTEBUG_ARGS,
                       "--trace", "../out/cex.json")
    assert code == 1, err
    assert json.loads((tmp_path / "out" / "cex.json").read_text())["config"]["step"] == \
        os.path.join("..", "bug", "votebug.py") + ":step"
    for where in (tmp_path, tmp_path / "out", tmp_path / "bug"):
        monkeypatch.chdir(where)
        path = os.path.relpath(tmp_path / "out" / "cex.json")
        code, out, err = cli("replay", path)
        assert code == 1 and "digest matches" in out and "outcome: FAIL" in out, err
        code, out, _ = cli("replay", path, "-q")
        assert code == 1 and out.startswith("outcome: FAIL (leader-completeness)"), out
        assert out.count("\n") == 1
        code, out, _ = cli("replay", path, "--json")
        doc = json.loads(out)
        assert code == 1 and doc["verdict"] == "fail" and doc["matches"] is True
        assert doc["violation"]["rule"] == "leader-completeness" and len(doc["steps"]) == 10
    (tmp_path / "bug" / "votebug.py").unlink()
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("replay", "out/cex.json")
    assert code == EXIT_BAD_INPUT and out == "", err
    assert err.startswith("raftsim: error: out/cex.json: the counterexample's step function "
                          "'../bug/votebug.py:step': no file out/../bug/votebug.py"), err


def test_a_damaged_counterexample_names_its_file(tmp_path: Any) -> None:
    """A bound, a size or a path choice that the file records wrongly: one line naming the
    file, exit 2 (a transition that is not enabled is damage too, not a divergence)."""
    cases = {"negbound.json": ({"config": {**GOOD["config"], "bounds": {
                 **GOOD["config"]["bounds"], "max_term": -5}}}, "bound max_term is negative"),
             "nodes.json": ({"config": {**GOOD["config"], "nodes": 100}},
                            "nodes 100: the raft target takes 1 to 7 servers"),
             "choice.json": ({"choices": [0, 999]}, "a damaged explorer counterexample "
                             "(step 2: transition 999 is not enabled)")}
    for name, (change, message) in cases.items():
        path = tmp_path / name
        path.write_text(json.dumps({**GOOD, **change}))
        for command in (("replay", str(path)), ("explore", "--replay", str(path))):
            code, out, err = cli(*command)
            assert code == EXIT_BAD_INPUT and out == "", (name, out, err)
            assert err.startswith(f"raftsim: error: {path}: ") and message in err, (name, err)
            assert err.count("\n") == 1


def test_options_without_effect_are_refused_and_replay_honours_json(tmp_path: Any) -> None:
    """--replay with a target, a bound or --trace (the file fixes them): refused, nothing
    written; --json prints one object. --clients outside kv and --dups without room for a
    second copy on a link (--per-link 1): refused."""
    path = tmp_path / "cex.json"
    path.write_text(json.dumps(GOOD))
    other = tmp_path / "other.json"
    for extra, named in ((["raft"], "TARGET"), (["--max-term", "5"], "--max-term"),
                         (["--trace", str(other)], "--trace"), (["--symmetry"], "--symmetry"),
                         (["--strategy", "dfs"], "--strategy"), (["--por"], "--por")):
        code, out, err = cli("explore", *extra, "--replay", str(path))
        assert code == EXIT_BAD_INPUT and out == "" and f"--replay takes no {named}" in err, err
    assert not other.exists()
    code, out, err = cli("explore", "--replay", str(path), "--json")
    assert code == 0 and json.loads(out)["verdict"] == "pass", err
    for args, message in ((["raft", "--clients", "2"], "--clients applies to the kv and shardkv targets"),
                          (["raft", "--dups", "1"], "--dups 1 needs --per-link 2 or more"),
                          (["kv", "--dups", "2", "--per-link", "1"], "--dups 2 needs")):
        code, out, err = cli("explore", *args)
        assert code == EXIT_BAD_INPUT and out == "" and message in err, (args, err)
    code, _, err = cli("explore", "raft", "--dups", "1", "--per-link", "2", "--max-term", "1",
                       "--states", "50")
    assert code == 0, err


def test_the_report_speaks_plainly(tmp_path: Any, monkeypatch: Any) -> None:
    """Singular counts; goals of a search a violation ended are said to be so; depths of a
    search other than BFS are first seen, not least; a comma list of properties is explained."""
    code, out, _ = cli("explore", "raft", "--nodes", "1", "--max-term", "1", "--strategy", "dfs")
    assert code == 0 and out.startswith("exploring raft (1 server) by dfs"), out
    assert "  commit: first seen at depth " in out, out
    code, out, _ = cli("explore", "kv", "--nodes", "1", "--clients", "1", "--states", "5")
    assert out.startswith("exploring kv (1 server, 1 client) by bfs"), out
    monkeypatch.chdir(tmp_path)
    (tmp_path / "votebug.py").write_text(VOTEBUG)
    code, out, _ = cli("explore", "raft", "--step", "votebug.py:step", *VOTEBUG_ARGS)
    assert code == 1, out
    assert "sometimes goals (up to the violating step, which ended the search):" in out, out
    code, _, err = cli("explore", "kv", "--property", "raft,linearizability")
    assert code == EXIT_BAD_INPUT and "repeat --property for several" in err, err


def test_ctrl_c_reports_what_was_explored(monkeypatch: Any) -> None:
    """Ctrl-C during a search (here: raised by the first progress call) prints the counts and
    goals so far, says it was interrupted (no verdict), and exits 130; --json prints the same
    as one object with "interrupted": true."""
    import scenarios.cli.explore as command
    from scenarios.errors import EXIT_INTERRUPTED
    real = command.explore

    def stop(progress: Any) -> None:
        raise KeyboardInterrupt

    def interrupted(*args: Any, **kw: Any) -> Any:
        return real(*args[:8], stop, 1e-9, **kw)

    monkeypatch.setattr(command, "explore", interrupted)
    code, out, err = cli("explore", "kv", "--max-term", "1")
    assert code == EXIT_INTERRUPTED and err == "raftsim: interrupted\n", err
    assert "states generated" in out and "distinct (symmetry off)" in out, out
    assert "sometimes goals (so far):" in out and "  commit: " in out, out
    assert out.endswith("interrupted: no violation among the states explored so far\n"), out
    assert "no violation within the bounds" not in out
    code, out, err = cli("explore", "kv", "--max-term", "1", "--json")
    doc = json.loads(out)
    assert code == EXIT_INTERRUPTED and doc["interrupted"] is True and not doc["complete"]
    assert doc["violation"] is None and doc["runs"][0]["distinct"] >= 1, doc


# ---------------------------------------------------------------- what a search says

def test_a_state_budget_stop_says_the_search_is_incomplete() -> None:
    """Stopped by --states: a plain line (and a --json field), and the last progress line
    shows the states left in the queue, not 0; a search that ran out of states says
    nothing of a budget."""
    code, out, _ = cli("explore", "raft", "--states", "100")
    assert code == 0 and ("stopped at the state budget (--states 100): the search is "
                          "incomplete\n") in out, out
    assert "no violation among the " in out and "within the bounds" not in out, out
    last = [line for line in out.splitlines() if "generated," in line and "queue" in line][-1]
    assert not last.endswith("queue 0"), last
    code, out, _ = cli("explore", "raft", "--states", "100", "--json")
    assert json.loads(out)["stopped_at_state_budget"] is True
    code, out, _ = cli("explore", "raft", "--nodes", "1", "--json")
    doc = json.loads(out)
    assert doc["complete"] and doc["stopped_at_state_budget"] is False


def test_interrupted_random_walks_do_not_list_walks_as_a_bound_hit() -> None:
    from sim.explore import Bounds, Interrupted, explore, raft_model

    def stop(progress: Any) -> None:
        raise KeyboardInterrupt

    model = raft_model(3)
    try:
        explore(model, Bounds(max_term=1, max_log=1), strategy="random", walks=1000,
                progress=stop, every=1e-9)
    except Interrupted as exc:
        assert "walks" not in exc.result.bounds_hit, exc.result.bounds_hit
    else:
        raise AssertionError("not interrupted")
    done = explore(model, Bounds(max_term=1, max_log=1), strategy="random", walks=3)
    assert "walks" in done.bounds_hit


def test_bounds_below_the_settled_shardkv_start_are_refused() -> None:
    """The settled store already has a controller log of 3 and leaders of term 1: lower
    bounds would search an arbitrary fringe. Refused, naming the least that works."""
    for args, message in ((["--max-log", "2"], "--max-log 2: the settled shardkv start "
                           "already has a log of 3 (give 3 or more)"),
                          (["--max-term", "0"], "--max-term 0: the settled shardkv start "
                           "already has a term of 1 (give 1 or more)"),
                          (["--groups", "3", "--max-log", "3"], "a log of 4")):
        code, out, err = cli("explore", "shardkv", *args)
        assert_judged(code, out, err)
        assert code == EXIT_BAD_INPUT and message in err, err
    code, _, err = cli("explore", "shardkv", "--max-log", "3", "--ops", "0", "--json")
    assert code == 0, err


def test_one_group_takes_no_change_by_default() -> None:
    """--groups 1 alone is a store without configuration changes (not refused for the
    --changes default); the header says "1 group of 1 server"; the change goals, which no
    search of it could reach, are not listed."""
    code, out, err = cli("explore", "shardkv", "--groups", "1", "--max-log", "4")
    assert code == 0, err
    assert "1 group of 1 server, 2 shards, 0 configuration changes" in out, out
    assert "shard-migrated" not in out and "op-completed: reached" in out, out
    code, out, err = cli("explore", "shardkv", "--groups", "1", "--changes", "1")
    assert code == EXIT_BAD_INPUT and "--changes 1: the shardkv target takes only 0 with 1 " \
        "group (one group allows no configuration change)\n" in err, err


def test_a_change_the_logs_cannot_reach_is_reported_not_reached() -> None:
    """Two changes under the default logs: the second is never applied, so the last
    configuration (3) reaches no group: config-change-everywhere is NOT reached, with a hint
    naming the bound to raise (one change reaches it)."""
    code, out, err = cli("explore", "shardkv", "--changes", "2", "--ops", "0")
    assert code == 0, err
    assert "config-change-everywhere: NOT reached" in out, out
    assert ("goals not reached within these bounds: config-change-everywhere (raising "
            "--max-log or --per-link may reach them)") in out, out
    code, out, err = cli("explore", "shardkv", "--ops", "0")
    assert "config-change-everywhere: reached at depth 8" in out, out


def test_bad_bounds_and_progress_name_the_option() -> None:
    for args, message in ((["--max-log", "-1"], "--max-log -1: must not be negative"),
                          (["--per-link", "0"], "--per-link 0: must be at least 1"),
                          (["--max-term", "99"], "--max-term 99: absurd (at most 20)"),
                          (["--progress", "nan"], "--progress nan"),
                          (["--progress", "inf"], "--progress inf")):
        code, out, err = cli("explore", "raft", *args)
        assert_judged(code, out, err)
        assert code == EXIT_BAD_INPUT and message in err, err


def test_trace_without_a_violation_says_nothing_was_written(tmp_path: Any) -> None:
    path = tmp_path / "cex.json"
    code, out, _ = cli("explore", "raft", "--nodes", "1", "--trace", str(path))
    assert code == 0 and f"no counterexample to write: {path} left as it was" in out, out
    assert not path.exists()


def test_help_says_shardkv_refuses_symmetry_and_gives_one_ops_default() -> None:
    code, out, _ = help_text()
    flat = " ".join(out.split())
    assert "shardkv has none and refuses it" in flat, flat
    assert "per path (default 1) " in flat and "(default 2; shardkv: 6)" in flat, flat


def help_text() -> tuple[int, str, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main(["explore", "--help"])
        except SystemExit as exc:
            return int(exc.code or 0), out.getvalue(), ""
    return 0, out.getvalue(), ""


def test_the_readme_layout_lists_every_protocol_and_invariant_module() -> None:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    rows = {line.split("|")[1].strip(): line for line in readme.splitlines()
            if line.startswith("| `")}
    for name in sorted(os.listdir(os.path.join(root, "protocols"))):
        if os.path.isdir(os.path.join(root, "protocols", name)) and not name.startswith("_"):
            assert f"`{name}`" in rows["`protocols/`"], name
    for name in sorted(os.listdir(os.path.join(root, "checkers", "invariants"))):
        if name.endswith(".py") and not name.startswith("_"):
            assert f"`{name}`" in rows["`checkers/`"], name
