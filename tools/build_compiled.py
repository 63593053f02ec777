"""The optional compiled build: mypyc on the hottest modules, into a directory of its own.

    python3 tools/build_compiled.py --out DIR [--jobs 2]
    PYTHONPATH=DIR:. python3 -m scenarios.cli run Basic4A --seed 1     # runs compiled

The pure-Python tree stays the reference (and what ``pip install -e .`` runs); nothing is
written into it. ``DIR`` gets, for every package of a compiled module, a small ``__init__.py``
that runs the tree's own ``__init__.py`` with ``DIR/pkg`` first on the package's path, so that
a compiled module's extension shadows its source there while every other module comes from the
tree (found as the next ``pkg/__init__.py`` on ``sys.path``). ``DIR/raftsim_compiled.json``
records a hash of each compiled module's source: when the tree's source differs (an edit, a
checkout), importing the package warns that the build is stale. Rebuild with the same command.

Rules for a compiled module (see docs/performance.md): it defines no msgspec Struct (mypyc
drops the class options ``tag``, ``frozen``, ``forbid_unknown_fields``, which changes
encodings and digests: such classes live in small interpreted modules and are re-exported);
it type-checks under mypyc; nothing patches its functions or classes at run time (tests that
plant bugs that way are marked ``interpreted`` and skip when the compiled build is active).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The compiled modules, chosen by profile (docs/performance.md). Edit this list to change them.
MODULES = [
    "sim/world.py",
    "sim/network.py",
    "sim/host.py",
    "sim/disk.py",
    "protocols/raft/node.py",
    "protocols/raft/quorum.py",
    "protocols/rsm/clerk.py",
    "protocols/rsm/server.py",
    "protocols/kv/machine.py",
    "checkers/invariants/raft.py",
    "checkers/invariants/oracles.py",
    "checkers/invariants/kv.py",
    "scenarios/harness/observe.py",
    "scenarios/harness/raft.py",
    "scenarios/harness/coverage.py",
]

MANIFEST = "raftsim_compiled.json"
GROUP = "raftsim"
#: Included by the generated C: attribute reads with an inline cache (see the header).
FAST_GETATTR = "fast_getattr.h"


def module_name(path: str) -> str:
    return path[:-len(".py")].replace("/", ".")


def source_hashes(root: Path, modules: list[str]) -> dict[str, str]:
    """blake2b of each module's source, by module name."""
    return {module_name(m): hashlib.blake2b((root / m).read_bytes(), digest_size=16).hexdigest()
            for m in modules}


def packages(modules: list[str]) -> list[str]:
    """Every package (as a relative directory) that holds a compiled module, parents first."""
    found: set[str] = set()
    for m in modules:
        parts = m.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            found.add("/".join(parts[:i]))
    return sorted(found, key=lambda p: (p.count("/"), p))


#: The ``__init__.py`` written into ``DIR`` for each package of a compiled module.
SHIM = '''\
# Written by tools/build_compiled.py: the compiled build of raftsim. Runs the tree's own
# {rel}/__init__.py with this directory first on the package's path. Not to be edited.
import hashlib as _hashlib
import json as _json
import os as _os
import sys as _sys
import warnings as _warnings

_here = _os.path.dirname(_os.path.abspath(__file__))
_top = _os.path.abspath(_os.path.join(_here, *[_os.pardir] * {depth}))
_source = None
for _entry in _sys.path:
    _dir = _os.path.join(_os.path.abspath(_entry or _os.curdir), {rel!r})
    if _os.path.abspath(_entry or _os.curdir) != _top and \\
            _os.path.isfile(_os.path.join(_dir, "__init__.py")):
        _source = _dir
        break
if _source is None:
    raise ImportError("the compiled build in " + _top + " needs the source tree on sys.path "
                      "after it (PYTHONPATH=" + _top + ":TREE)")
__path__ = [_here, _source]
with open(_os.path.join(_top, {manifest!r})) as _f:
    _built = _json.load(_f)
for _name, _hash in sorted(_built.items()):
    if _name.rsplit(".", 1)[0] != __name__:
        continue
    _file = _os.path.join(_source, _name.rsplit(".", 1)[1] + ".py")
    try:
        with open(_file, "rb") as _f:
            _now = _hashlib.blake2b(_f.read(), digest_size=16).hexdigest()
    except OSError:
        _now = None
    if _now != _hash:
        _warnings.warn("raftsim: the compiled " + _name + " in " + _top + " is stale: "
                       + _file + " changed since it was built; rebuild with `python3 "
                       "tools/build_compiled.py --out " + _top + "` or drop it from PYTHONPATH",
                       RuntimeWarning, stacklevel=2)
__file__ = _os.path.join(_source, "__init__.py")
with open(__file__, "rb") as _f:
    exec(compile(_f.read(), __file__, "exec"))
'''


def check_no_structs(modules: list[str]) -> None:
    """Refuse a module that defines a msgspec Struct (its compiled class would lose its options
    and change every encoding and digest): move the class to an interpreted module instead."""
    import importlib

    import msgspec
    for m in modules:
        name = module_name(m)
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, msgspec.Struct) and \
                    value.__module__ == name:
                raise SystemExit(f"{m} defines the msgspec Struct {value.__name__}: move it to "
                                 f"an interpreted module and import it from there")


def use_fast_getattr(c_dir: str) -> None:
    """Make the generated C read attributes through ``fast_getattr.h`` (an inline cache at each
    read site; the same values and errors as mypyc's ``PyObject_GetAttr``): the header goes
    beside the C, included by the internal header (``__native_internal_GROUP.h``, or
    ``__native_internal.h`` for a single module) right after mypyc's ``CPy.h``."""
    c = Path(c_dir)
    shutil.copy(Path(__file__).with_name(FAST_GETATTR), c / FAST_GETATTR)
    anchor = "#include <CPy.h>\n"
    headers = sorted(c.glob("__native_internal*.h"))
    if not headers:
        raise SystemExit(f"{c}: no __native_internal*.h (a new mypyc?)")
    for internal in headers:
        text = internal.read_text()
        if text.count(anchor) != 1:
            raise SystemExit(f"{internal}: expected one {anchor.strip()!r} (a new mypyc?)")
        internal.write_text(text.replace(anchor, anchor + f'#include "{FAST_GETATTR}"\n'))


def build(out: Path, modules: list[str] = MODULES, root: Path = ROOT, jobs: int = 2,
          quiet: bool = False) -> None:
    """Compile ``modules`` (paths relative to ``root``) with mypyc into ``out``."""
    out = out.resolve()
    with tempfile.TemporaryDirectory(prefix="raftsim-mypyc-") as tmp:
        stage = Path(tmp) / "lib"
        script = (
            "import sys\n"
            "from setuptools import setup\n"
            "from mypyc.build import mypycify\n"
            "from build_compiled import check_no_structs, use_fast_getattr\n"
            f"check_no_structs({modules!r})\n"
            f"modules = mypycify({modules!r}, target_dir={str(Path(tmp) / 'c')!r}, "
            f"multi_file=True, group_name={GROUP!r})\n"
            f"use_fast_getattr({str(Path(tmp) / 'c')!r})\n"
            f"setup(name='raftsim-compiled', ext_modules=modules, "
            f"script_args=['-q', 'build_ext', '--build-lib', {str(stage)!r}, "
            f"'--build-temp', {str(Path(tmp) / 'o')!r}, '--parallel', '{jobs}'])\n")
        env = {**os.environ, "MYPY_CACHE_DIR": str(Path(tmp) / "mypy-cache"),
               "PYTHONPATH": os.pathsep.join([str(root), str(Path(__file__).parent)])}
        done = subprocess.run([sys.executable, "-c", script], cwd=root, env=env,
                              capture_output=quiet, text=True)
        if done.returncode != 0:
            detail = (done.stdout + done.stderr)[-4000:] if quiet else ""
            raise RuntimeError(f"mypyc build failed (exit {done.returncode})\n{detail}")
        for pkg in packages(modules):
            (stage / pkg).mkdir(parents=True, exist_ok=True)
            (stage / pkg / "__init__.py").write_text(SHIM.format(
                rel=pkg, depth=pkg.count("/") + 1, manifest=MANIFEST))
        (stage / MANIFEST).write_text(json.dumps(source_hashes(root, modules), indent=1,
                                                 sort_keys=True) + "\n")
        if out.exists():
            if not (out / MANIFEST).is_file():      # never remove what is not a build of ours
                raise RuntimeError(f"{out} exists and is not a compiled build")
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(stage), str(out))


def check_out(out: Path) -> str | None:
    """Why ``out`` cannot take a build, or None. The build replaces ``out`` whole, so it must be
    new, or a build made by this script (it holds the manifest); never the tree, inside it or
    above it; and its parent must be a directory we can write."""
    out = out.resolve()
    if out == ROOT or ROOT in out.parents or out in ROOT.parents:
        return f"--out {out}: the build goes in a directory of its own, outside the source tree"
    if out.exists() and not (out.is_dir() and (out / MANIFEST).is_file()):
        return (f"--out {out}: exists and is not a compiled build (no {MANIFEST} in it); "
                f"give a new directory")
    try:                                    # can we make a directory beside it? (root too)
        out.parent.mkdir(parents=True, exist_ok=True)
        os.rmdir(tempfile.mkdtemp(prefix=".raftsim-probe-", dir=out.parent))
    except OSError as e:
        return f"--out {out}: cannot write there ({e.strerror or e})"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path,
                        help="directory for the compiled modules: a new one, or an earlier "
                             "build (replaced); never in the tree")
    parser.add_argument("--jobs", type=int, default=2, help="parallel C compilations (>= 1)")
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: give 1 or more")
    why = check_out(args.out)
    if why:
        parser.error(why)
    build(args.out, jobs=args.jobs)
    print(f"compiled {len(MODULES)} modules into {args.out.resolve()}; run with "
          f"PYTHONPATH={args.out.resolve()}:{ROOT}")


if __name__ == "__main__":
    main()
