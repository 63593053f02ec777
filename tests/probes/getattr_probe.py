"""Compiled alone by tests/test_fast_getattr.py to try tools/fast_getattr.h: each function is
one attribute read site of the compiled build, with its own inline cache."""

from typing import Any


def read_x(obj: Any) -> Any:
    return obj.x


def read_y(obj: Any) -> Any:
    return obj.y


def read_named(obj: Any, name: str) -> Any:
    return getattr(obj, name)                   # one site, any name
