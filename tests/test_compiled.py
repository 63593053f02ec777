"""The optional compiled build (tools/build_compiled.py, mypyc) behaves exactly as the
interpreted code: the golden runs and every lab suite at seed 1 give the same digests both
ways, with every module of the build loaded compiled. A build is cached under pytest's cache
directory by a hash of the sources, so it is rebuilt only when the code changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from test_golden import GOLDEN, RUNS

from conftest import build_script, compiled_modules

ROOT = Path(__file__).resolve().parent.parent
build_compiled = build_script()

#: Run in a subprocess: digests of the golden runs and of the lab suites at seed 1, and which
#: modules of the build were loaded from an extension.
DIGESTS = """
import importlib, json, sys
from scenarios.registry import all_scenarios
from scenarios.runner import run_scenario
runs = json.loads(sys.argv[1])
runs += [[s.name, 1] for s in all_scenarios()
         if s.suite in ("3A", "3B", "3C", "3D", "4A", "4B", "5A", "5B")]
digests = {f"{n}@{seed}": run_scenario(n, seed).digest for n, seed in runs}
compiled = [m for m in json.loads(sys.argv[2])
            if importlib.import_module(m).__file__.endswith(".so")]
print(json.dumps({"digests": digests, "compiled": compiled}))
"""


def _missing_toolchain() -> str | None:
    try:
        import mypyc  # noqa: F401
    except ImportError:
        return "mypyc is not installed (it comes with mypy, in the test extra)"
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        return f"no C compiler ({cc}) to build the compiled modules"
    include = sysconfig.get_paths()["include"]
    if not os.path.isfile(os.path.join(include, "Python.h")):
        return f"no Python headers ({include}/Python.h) to build the compiled modules"
    return None


def _sources_key() -> str:
    """A hash of everything a build depends on: our sources, the build script, the versions."""
    h = hashlib.blake2b(digest_size=12)
    from mypy.version import __version__ as mypy_version
    h.update(f"{sys.version}/{mypy_version}".encode())
    for pkg in ("protocols", "checkers", "sim", "scenarios", "tools"):
        for path in sorted([*(ROOT / pkg).rglob("*.py"), *(ROOT / pkg).rglob("*.h")]):
            h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="session")
def compiled_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> Path:
    missing = _missing_toolchain()
    if missing:
        pytest.skip(missing)
    key = _sources_key()
    cache = getattr(request.config, "cache", None)
    if cache is None:                              # -p no:cacheprovider: build every time
        out = tmp_path_factory.mktemp("compiled") / key
    else:
        base = cache.mkdir("raftsim-compiled")
        out = base / key
        for old in base.iterdir():                 # keep the current build only
            if old.name != key:
                shutil.rmtree(old, ignore_errors=True)
    if not (out / build_compiled.MANIFEST).exists():
        build_compiled.build(out, quiet=True)
    return out


def _run_digests(pythonpath: list[Path], cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, pythonpath))}
    modules = [build_compiled.module_name(m) for m in build_compiled.MODULES]
    # -P: nothing but PYTHONPATH ahead of the standard paths (no current directory first).
    return subprocess.Popen(
        [sys.executable, "-P", "-W", "error::RuntimeWarning", "-c", DIGESTS,
         json.dumps(RUNS), json.dumps(modules)],
        env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen[str]) -> dict:
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out)


@pytest.mark.skipif(bool(compiled_modules()), reason="this run is already the compiled build")
def test_compiled_build_gives_the_same_digests(compiled_dir: Path, tmp_path: Path) -> None:
    compiled = _run_digests([compiled_dir, ROOT], tmp_path)      # both at once: two cores
    interpreted = _run_digests([ROOT], tmp_path)
    got, want = _result(compiled), _result(interpreted)
    assert got["compiled"] == [build_compiled.module_name(m) for m in build_compiled.MODULES]
    assert want["compiled"] == []
    assert len(want["digests"]) > 60
    differ = sorted(k for k in want["digests"] if got["digests"][k] != want["digests"][k])
    assert not differ, f"the compiled build behaves differently in {differ}"
    golden = json.loads(GOLDEN.read_text())
    assert {k: got["digests"][k] for k in golden} == golden


def test_a_stale_build_warns(compiled_dir: Path, tmp_path: Path) -> None:
    """Once a compiled module's source changes, importing its package says the build is
    stale (and how to rebuild)."""
    tree = tmp_path / "tree"
    for pkg in ("protocols", "checkers", "sim", "scenarios"):
        shutil.copytree(ROOT / pkg, tree / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(compiled_dir), str(tree)])}
    check = [sys.executable, "-P", "-c", "import sim.disk; print(sim.disk.__file__)"]
    fresh = subprocess.run(check, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert fresh.returncode == 0 and fresh.stdout.strip().endswith(".so"), fresh.stderr
    assert "stale" not in fresh.stderr
    with open(tree / "sim" / "disk.py", "a") as f:
        f.write("\n# edited after the build\n")
    stale = subprocess.run(check, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert stale.returncode == 0, stale.stderr
    assert "compiled sim.disk" in stale.stderr and "is stale" in stale.stderr
    assert "tools/build_compiled.py --out" in stale.stderr
    assert stale.stderr.count("is stale") == 1


@pytest.mark.parametrize("edited", ["protocols/raft/state.py", "sim/__init__.py",
                                    "tools/fast_getattr.h"])
def test_a_build_is_stale_when_what_it_read_changes(compiled_dir: Path, tmp_path: Path,
                                                    edited: str) -> None:
    """mypyc copies the Final constants of the modules a compiled one imports (the Raft roles
    of protocols/raft/state.py) and trusts their annotations; the C header shapes the code:
    an edit of any of them makes the build stale too, said once, by the first compiled
    package imported, whichever it is."""
    tree = tmp_path / "tree"
    for pkg in ("protocols", "checkers", "sim", "scenarios", "tools"):
        shutil.copytree(ROOT / pkg, tree / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(compiled_dir), str(tree)])}
    check = [sys.executable, "-P", "-c", "import scenarios.harness.observe, sim.host"]
    fresh = subprocess.run(check, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert fresh.returncode == 0 and "stale" not in fresh.stderr, fresh.stderr
    with open(tree / edited, "a") as f:
        f.write("\n// edited after the build\n" if edited.endswith(".h") else
                "\n# edited after the build\n")
    stale = subprocess.run(check, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert stale.returncode == 0, stale.stderr
    assert stale.stderr.count("is stale") == 1, stale.stderr
    assert f"{tree / edited}, which it was built from, changed since" in stale.stderr


def test_a_module_defining_a_struct_is_refused() -> None:
    """mypyc would drop the class options of a msgspec Struct (and change digests)."""
    with pytest.raises(SystemExit, match="defines the msgspec Struct KVMachine"):
        build_compiled.check_no_structs(["protocols/kv/machine_types.py"])
    build_compiled.check_no_structs(build_compiled.MODULES)


def test_out_must_be_new_or_an_earlier_build(tmp_path: Path) -> None:
    """The build replaces --out whole, so it refuses (one line, exit 2, before compiling) a
    directory that is not one of its builds, the tree, a directory inside it or above it, and a
    place it cannot write; and what it refused is left as it was."""
    keep = tmp_path / "notes"
    keep.mkdir()
    (keep / "notes.txt").write_text("precious")
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / build_compiled.MANIFEST).write_text("{}")
    assert build_compiled.check_out(tmp_path / "new") is None
    assert build_compiled.check_out(earlier) is None
    root = build_compiled.ROOT
    for refused in (keep, keep / "notes.txt", root, root / "sim" / "x", root.parent,
                    keep / "notes.txt" / "x", Path("/proc/raftsim-nope")):
        assert build_compiled.check_out(refused) is not None, refused
    script = root / "tools" / "build_compiled.py"
    x = str(tmp_path / "x")
    for args, says in (
            (["--out", str(keep)], "exists and is not a compiled build"),
            (["--out", str(root.parent)], "holds the source tree"),
            (["--out", str(root)], "that is the source tree"),
            (["--out", str(root / "sim" / "x")], "inside the source tree"),
            (["--out", str(keep / "notes.txt" / "x")], "notes.txt is not a directory"),
            (["--out", x, "--jobs", "0"], "--jobs 0: give 1 or more"),
            (["--out", x, "--jobs", "two"], "invalid int value"),
            ([], "required: --out")):
        done = subprocess.run([sys.executable, str(script), *args], capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 2, done
        assert done.stdout == "" and len(done.stderr.splitlines()) == 1, done.stderr
        assert done.stderr.startswith("build_compiled.py: ") and says in done.stderr, args
    assert (keep / "notes.txt").read_text() == "precious"
    assert not (tmp_path / "x").exists()
