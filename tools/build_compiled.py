"""The optional compiled build: mypyc on the hottest modules, into a directory of its own.

    python3 tools/build_compiled.py --out DIR [--jobs 2]
    PYTHONPATH=DIR:. python3 -P -m scenarios.cli run Basic4A --seed 1   # runs compiled

(``-P``: ``python -m`` would otherwise put the current directory, the tree, ahead of ``DIR``.)
The pure-Python tree stays the reference (and what ``pip install -e .`` runs); nothing is
written into it. ``DIR`` gets, for every package of a compiled module, a small ``__init__.py``
that runs the tree's own ``__init__.py`` with ``DIR/pkg`` first on the package's path, so that
a compiled module's extension shadows its source there while every other module comes from the
tree (found as the next ``pkg/__init__.py`` on ``sys.path``). ``DIR/raftsim_compiled.json``
records a hash of every file the build read: the compiled modules, every module of ours they
import, directly or not (mypyc copies their ``Final`` constants and trusts their annotations),
and this script and its C header. When one of them differs in the tree (an edit, a checkout),
the first import of a compiled package warns that the build is stale. Rebuild with the same
command.

Rules for a compiled module (see docs/performance.md): it defines no msgspec Struct (mypyc
drops the class options ``tag``, ``frozen``, ``array_like``, ``forbid_unknown_fields``, which
changes encodings and digests: such classes live in small interpreted modules and are
re-exported); it type-checks under mypyc; nothing patches its functions or classes at run time
(tests that plant bugs that way are marked ``interpreted`` and skip when the compiled build is
active).
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
from typing import Any, NoReturn

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


def _hash(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def read_by(root: Path, modules: list[str]) -> list[str]:
    """Every module of ours (a ``.py`` under ``root``, package ``__init__.py`` files included)
    that ``modules`` import, directly or not, ``modules`` excluded; relative paths, sorted."""
    import ast

    def path_of(name: str) -> list[str]:
        """The files importing ``name`` runs: its packages' ``__init__.py`` and itself."""
        parts, found = name.split("."), []
        for i in range(1, len(parts) + 1):
            base = "/".join(parts[:i])
            for candidate in (f"{base}/__init__.py", f"{base}.py"):
                if (root / candidate).is_file():
                    found.append(candidate)
        return found

    seen: set[str] = set()
    todo = list(modules)
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        package = module_name(rel).rsplit(".", 1)[0] if not rel.endswith("__init__.py") \
            else module_name(rel)[:-len(".__init__")]
        for node in ast.walk(ast.parse((root / rel).read_text(), rel)):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:              # relative: from the package, level - 1 up
                    up = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{up}.{base}" if base else up
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            for name in names:
                if name:
                    todo.extend(f for f in path_of(name) if f not in seen)
    return sorted(seen - set(modules))


def manifest(root: Path, modules: list[str]) -> dict[str, Any]:
    """What a build was made from: a hash of every file it read, by path relative to the tree
    (the compiled modules, the modules they import, this script and its C header), and which
    of them are compiled."""
    files = {rel: _hash(root / rel) for rel in [*modules, *read_by(root, modules)]}
    for own in (Path(__file__).name, FAST_GETATTR):
        files[f"tools/{own}"] = _hash(Path(__file__).resolve().parent / own)
    return {"files": files, "compiled": sorted(modules)}


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
import os as _os
import sys as _sys

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
_check = _sys.modules.get("_raftsim_build_check")
if _check is None:
    import importlib.util as _util
    _spec = _util.spec_from_file_location("_raftsim_build_check",
                                          _os.path.join(_top, {check!r}))
    _check = _util.module_from_spec(_spec)
    _spec.loader.exec_module(_check)
    _sys.modules["_raftsim_build_check"] = _check
_check.check(_top, _os.path.abspath(_os.path.join(_source, *[_os.pardir] * {depth})))
__file__ = _os.path.join(_source, "__init__.py")
with open(__file__, "rb") as _f:
    exec(compile(_f.read(), __file__, "exec"))
'''


#: Written into ``DIR`` beside the manifest: the stale-build check, run once per process and
#: tree by the first compiled package imported.
CHECK = "raftsim_build_check.py"
CHECK_SOURCE = '''\
# Written by tools/build_compiled.py: warns when a file this build was made from changed in
# the tree since. Not to be edited.
import hashlib
import json
import os
import warnings

_done = set()


def _hash(path):
    try:
        with open(path, "rb") as f:
            return hashlib.blake2b(f.read(), digest_size=16).hexdigest()
    except OSError:
        return None


def check(top, tree):
    if (top, tree) in _done:
        return
    _done.add((top, tree))
    with open(os.path.join(top, {manifest!r})) as f:
        built = json.load(f)
    rebuild = ("; rebuild with `python3 tools/build_compiled.py --out " + top
               + "` or drop it from PYTHONPATH")
    compiled = set(built["compiled"])
    for rel, digest in sorted(built["files"].items()):
        path = os.path.join(tree, *rel.split("/"))
        if rel.startswith("tools/") and not os.path.isdir(os.path.join(tree, "tools")):
            continue                    # a tree without the build's tools: nothing to compare
        if _hash(path) == digest:
            continue
        if rel in compiled:
            what = ("the compiled " + rel[:-len(".py")].replace("/", ".") + " in " + top
                    + " is stale: " + path + " changed since it was built")
        else:
            what = ("the compiled build in " + top + " is stale: " + path
                    + ", which it was built from, changed since")
        warnings.warn("raftsim: " + what + rebuild, RuntimeWarning, stacklevel=3)
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
                rel=pkg, depth=pkg.count("/") + 1, check=CHECK))
        (stage / CHECK).write_text(CHECK_SOURCE.format(manifest=MANIFEST))
        (stage / MANIFEST).write_text(json.dumps(manifest(root, modules), indent=1,
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
    if out == ROOT:
        return f"--out {out}: that is the source tree; give a directory of its own"
    if ROOT in out.parents:
        return f"--out {out}: inside the source tree; give a directory outside it"
    if out in ROOT.parents:
        return (f"--out {out}: holds the source tree (a build replaces its directory whole); "
                f"give a directory of its own")
    if out.exists() and not (out.is_dir() and (out / MANIFEST).is_file()):
        return (f"--out {out}: exists and is not a compiled build (no {MANIFEST} in it); "
                f"give a new directory")
    for above in (out.parent, *out.parent.parents):
        if above.exists():
            if not above.is_dir():
                return f"--out {out}: {above} is not a directory"
            break
    try:                                    # can we make a directory beside it? (root too)
        out.parent.mkdir(parents=True, exist_ok=True)
        os.rmdir(tempfile.mkdtemp(prefix=".raftsim-probe-", dir=out.parent))
    except OSError as e:
        return f"--out {out}: cannot write there ({e.strerror or e})"
    return None


class _Parser(argparse.ArgumentParser):
    """Bad arguments: one line on stderr, exit 2 (no usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"build_compiled.py: {message} (--help for usage)\n")


def main() -> None:
    parser = _Parser(description=__doc__.splitlines()[0])
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
    try:
        build(args.out, jobs=args.jobs)
    except RuntimeError as e:               # the compiler's own output is above
        sys.exit(f"build_compiled.py: {str(e).splitlines()[0]}; nothing was written to "
                 f"{args.out.resolve()}")
    print(f"compiled {len(MODULES)} modules into {args.out.resolve()}; run with "
          f"PYTHONPATH={args.out.resolve()}:{ROOT}")


if __name__ == "__main__":
    main()
