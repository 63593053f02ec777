"""tools/fast_getattr.h, the compiled build's attribute reads with an inline cache at each read
site, answers exactly as the interpreter: the same object, or the same exception with the same
message, whatever the objects a site sees in turn, and whatever is done to their classes
between two reads (a slot emptied, a field replaced by a property, a class changed and changed
back, a foreign member descriptor, ``__getattr__``, a class freed and another made).

tests/probes/getattr_probe.py is compiled alone (an extension of its own) with the build's
script, and each of its functions, one read site, is compared with the same source run by the
interpreter, over sequences of reads and class changes drawn by Hypothesis.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import build_script
from test_compiled import _missing_toolchain

PROBE = Path(__file__).resolve().parent / "probes" / "getattr_probe.py"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def probes(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModuleType, ModuleType]:
    """(compiled, interpreted) getattr_probe. Every value a read can give is an object stored
    somewhere (a slot, a class, a closure), so the two must give the same object."""
    missing = _missing_toolchain()
    if missing:
        pytest.skip(missing)
    out = tmp_path_factory.mktemp("probe") / "build"
    build_script().build(out, modules=[PROBE.name], root=PROBE.parent, quiet=True)
    sys.path.insert(0, str(out))
    try:
        compiled = importlib.import_module("getattr_probe")
    finally:
        sys.path.remove(str(out))
    assert compiled.__file__ is not None and compiled.__file__.endswith(".so")
    return compiled, _load("getattr_probe_interpreted", PROBE)


def _world() -> dict[str, Any]:
    """Fresh classes (changed by the examples) and an object of each kind."""

    class XY(msgspec.Struct):
        x: Any
        y: Any

    class YX(msgspec.Struct, frozen=True):              # the same names at other offsets
        y: Any
        x: Any

    class Slots:
        __slots__ = ("x", "y")

        def __init__(self, x: Any = None, y: Any = None, empty: bool = False) -> None:
            if not empty:
                self.x, self.y = x, y

    class SlotsWithDict(Slots):
        __slots__ = ("__dict__",)

    class Property(Slots):
        __slots__ = ()
        x = property(lambda self: self.y)

        def __init__(self, y: Any) -> None:
            self.y = y

    class Plain:
        def __init__(self) -> None:
            self.x, self.y = ["plain x"], ["plain y"]

    fallbacks = {"x": ["fallback x"], "y": ["fallback y"]}

    class Fallback:
        __slots__ = ("y",)

        def __getattr__(self, name: str) -> Any:
            return fallbacks[name]

    class Foreign:                                      # another class's member descriptor
        x = Slots.__dict__["x"]
        y = XY.__dict__["y"]

    with_dict = SlotsWithDict(["d x"], ["d y"])
    with_dict.__dict__["x"] = "shadowed"                # a data descriptor wins over it
    fallback = Fallback()
    fallback.y = ["fallback y"]
    objects = {
        "xy": XY(["xy x"], ["xy y"]), "yx": YX(["yx y"], ["yx x"]),
        "slots": Slots(["s x"], ["s y"]), "empty": Slots(empty=True),
        "with_dict": with_dict, "property": Property(["p y"]), "plain": Plain(),
        "fallback": fallback, "foreign": Foreign(), "int": 7, "none": None,
    }
    classes = {"XY": XY, "YX": YX, "Slots": Slots, "Plain": Plain}
    return {"objects": objects, "classes": classes}


def _outcome(read: Callable[[Any], Any], obj: Any) -> tuple[Any, ...]:
    try:
        return ("value", read(obj))
    except Exception as e:                              # noqa: BLE001 (any error is compared)
        return ("error", type(e), str(e))


OBJECTS = sorted(_world()["objects"])
#: Read sites: read_x, read_y, and read_named (one site for every name) with x, y or a name no
#: object has.
SITES = ["x", "y", "named x", "named y", "named nope"]
READ = st.tuples(st.just("read"), st.sampled_from(SITES), st.sampled_from(OBJECTS))
CHANGE = st.tuples(st.just("change"), st.sampled_from(["XY", "YX", "Slots", "Plain"]),
                   st.sampled_from(["x", "y"]),
                   st.sampled_from(["property", "value", "restore", "delete"]))
EMPTY = st.tuples(st.just("empty"), st.sampled_from(["x", "y"]),
                  st.sampled_from(["slots", "with_dict", "property", "xy"]))
FILL = st.tuples(st.just("fill"), st.sampled_from(["x", "y"]),
                 st.sampled_from(["slots", "empty", "with_dict", "xy"]))
STEPS = st.lists(st.one_of(READ, READ, READ, CHANGE, EMPTY, FILL), min_size=1, max_size=40)


def _apply(world: dict[str, Any], step: tuple[str, ...]) -> None:
    kind, field = step[0], step[2] if step[0] == "change" else step[1]
    if kind == "change":
        cls = world["classes"][step[1]]
        saved = world.setdefault("saved", {}).setdefault((step[1], field),
                                                          cls.__dict__.get(field))
        what = step[3]
        if what == "property":
            replaced = [f"property {field}"]
            setattr(cls, field, property(lambda self: replaced))
        elif what == "value":
            setattr(cls, field, ["class value"])
        elif what == "delete" and field in cls.__dict__:
            delattr(cls, field)
        elif what == "restore" and saved is not None:
            setattr(cls, field, saved)
    else:
        obj = world["objects"][step[2]]
        try:
            if kind == "empty":
                delattr(obj, field)
            else:
                setattr(obj, field, [f"filled {field}"])
        except (AttributeError, TypeError):             # a frozen Struct, a replaced field
            pass


def _site(probe: ModuleType, site: str) -> Callable[[Any], Any]:
    if site.startswith("named "):
        name = site.split()[1]
        return lambda obj: probe.read_named(obj, name)
    return getattr(probe, f"read_{site}")


@settings(max_examples=300, deadline=None)
@given(steps=STEPS)
def test_reads_answer_as_the_interpreter(probes: tuple[ModuleType, ModuleType],
                                         steps: list[tuple[str, ...]]) -> None:
    compiled, interpreted = probes
    world = _world()
    for step in steps:
        if step[0] != "read":
            _apply(world, step)
            continue
        obj = world["objects"][step[2]]
        got = _outcome(_site(compiled, step[1]), obj)
        want = _outcome(_site(interpreted, step[1]), obj)
        if want[0] == "error":
            assert got == want, step
        else:
            assert got[0] == "value" and got[1] is want[1], (step, got, want)


def test_a_cached_read_keeps_reference_counts(probes: tuple[ModuleType, ModuleType]) -> None:
    """The value read through a warm cache gets one reference, given to the caller."""
    compiled, _ = probes
    value = ["counted"]
    obj = _world()["objects"]["xy"]
    obj.x = value
    compiled.read_x(obj)                                # warm the site's cache
    before = sys.getrefcount(value)
    for _ in range(1000):
        assert compiled.read_x(obj) is value
    assert sys.getrefcount(value) == before


def test_a_site_read_with_many_names_answers_for_each(
        probes: tuple[ModuleType, ModuleType]) -> None:
    """One site, names made afresh at each read and freed after it: the cache holds its name,
    so another name cannot take its address and be answered with its slot."""
    compiled, _ = probes

    class Wide:
        __slots__ = ("alpha_field", "omega_field")

    w = Wide()
    w.alpha_field, w.omega_field = ["alpha"], ["omega"]
    for i in range(200):
        part = "alpha" if i % 2 == 0 else "omega"
        name = "".join([part, "_field"])            # a new str object each time
        assert compiled.read_named(w, name) is getattr(w, name)
        del name
    with pytest.raises(AttributeError):
        compiled.read_named(w, "".join(["gamma", "_field"]))


def test_a_custom_mro_is_not_cached(probes: tuple[ModuleType, ModuleType]) -> None:
    """A metaclass's mro() can put in a type's MRO a class it does not derive from; a change to
    that class leaves the type's version tag alone, so such a type is never cached."""
    compiled, _ = probes

    class Holder:
        __slots__ = ("x",)

    class Outside:                                  # not a base of C, but in its MRO
        pass

    Outside.x = Holder.__dict__["x"]                # type: ignore[attr-defined]

    class Meta(type):
        def mro(cls) -> list[type]:
            return [cls, Outside, Holder, object] if cls.__name__ == "C" else type.mro(cls)

    class C(Holder, metaclass=Meta):
        __slots__ = ()

    c = C()
    c.x = ["slot"]
    assert compiled.read_x(c) is c.x
    assert compiled.read_x(c) is c.x
    replaced = ["property"]
    Outside.x = property(lambda self: replaced)     # type: ignore[attr-defined]
    sys._clear_type_cache()
    assert c.x is replaced
    assert compiled.read_x(c) is replaced


def test_a_class_changed_during_the_lookup_is_not_cached(
        probes: tuple[ModuleType, ModuleType]) -> None:
    """A str subclass as a key of a class's dict runs code during the lookup of a name with
    its hash: here it replaces the attribute being looked up. CPython's type cache keeps the
    stale answer under the type's fresh version tag until it is cleared; the site's cache, never
    cleared, must not keep it: the tag taken before the lookup no longer holds, so the answer
    is not cached."""
    compiled, _ = probes
    replaced = ["property"]
    fired: list[int] = []

    class Key(str):
        def __hash__(self) -> int:
            return hash("x")

        def __eq__(self, other: object) -> bool:
            if not fired:
                fired.append(1)
                Sub.x = property(lambda self: replaced)  # type: ignore[attr-defined]
            return False

    class Base:
        __slots__ = ("x",)

    class Mid(Base):
        __slots__ = ()
        locals()[Key("k")] = 0

    class Sub(Mid):
        __slots__ = ()

    s = Sub()
    Base.__dict__["x"].__set__(s, ["slot"])         # no lookup of "x" on Sub before the read
    sys._clear_type_cache()
    assert not fired
    compiled.read_x(s)
    assert fired
    sys._clear_type_cache()                         # CPython's own cache is as stale, till now
    assert s.x is replaced
    assert compiled.read_x(s) is replaced
