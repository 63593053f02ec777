"""A reader for the subset of EDN that Jepsen and Knossos histories use, with line numbers.

This module owns EDN parsing only: ``read_forms(text)`` yields each top-level form with the line
it starts on. Supported: ``nil``, ``true``, ``false``, integers (``42``, ``-7``, ``42N``), floats,
strings with the usual escapes, characters are not; keywords (``:f``, ``:jepsen/op``) as
``Keyword``, other symbols as ``Symbol``; vectors and lists as Python lists, sets as frozensets
(of hashable items), maps as dicts (``Form``s keep the line of each nested map); commas are
whitespace, ``;`` starts a comment, ``#_`` discards the next form, and a tag (``#inst "..."``,
``#jepsen.history.Op {...}``) is read as the form it tags. Malformed text raises ``EdnError``
with the line at fault and what was expected there.

The library ``edn_format`` reads full EDN but keeps no line numbers, which the
``FILE:LINE: expected ...`` errors of the history readers need; histories use this small subset.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

__all__ = ["Keyword", "Symbol", "EdnError", "EdnMap", "read_forms"]


class Keyword(str):
    """An EDN keyword, without its colon: ``Keyword("f")`` is ``:f``; never equal to a string
    for the history readers, which test ``isinstance(x, Keyword)`` first."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f":{str(self)}"


class Symbol(str):
    """An EDN symbol other than nil, true and false."""

    __slots__ = ()


class EdnMap(dict[Any, Any]):
    """A map, with ``line``: where its opening brace is."""

    line = 0


class EdnError(ValueError):
    """Malformed EDN: ``line`` is where, ``expected`` what should have been there."""

    def __init__(self, line: int, expected: str) -> None:
        super().__init__(f"line {line}: expected {expected}")
        self.line, self.expected = line, expected


_TOKEN = re.compile(r"""
    (?P<space>[\s,]+|;[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<open>\#\{|[\[({])
  | (?P<close>[\])}])
  | (?P<discard>\#_)
  | (?P<tag>\#[A-Za-z][^\s,;{}\[\]()"]*)
  | (?P<atom>[^\s,;{}\[\]()"\#][^\s,;{}\[\]()"]*)
""", re.VERBOSE | re.DOTALL)
_INT = re.compile(r"[+-]?\d+N?", re.ASCII)
_FLOAT = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?M?", re.ASCII)
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
_CLOSE = {"[": "]", "(": ")", "{": "}", "#{": "}"}
_MAX_DEPTH = 64  # nesting deeper than this is refused (histories nest two or three deep)


def read_forms(text: str) -> Iterator[tuple[int, Any]]:
    """Each top-level form of ``text`` with the (1-based) line where it starts."""
    tokens = _tokens(text)
    while True:
        token = next(tokens, None)
        if token is None:
            return
        line, kind, value = token
        if kind == "close":
            raise EdnError(line, f"a form, not an unmatched {value!r}")
        yield line, _form(tokens, token, 0)


def _tokens(text: str) -> Iterator[tuple[int, str, str]]:
    line, pos = 1, 0
    for match in _TOKEN.finditer(text):
        if match.start() != pos:  # a character no token starts with
            break
        kind, value = match.lastgroup or "", match.group()
        pos = match.end()
        if kind == "space":
            line += value.count("\n")
            continue
        yield line, kind, value
        if kind == "string":
            line += value.count("\n")
    if pos < len(text):
        if text[pos] == '"':
            raise EdnError(line, "a closing '\"' for this string")
        raise EdnError(line, f"an EDN form, not {text[pos]!r}")


def _form(tokens: Iterator[tuple[int, str, str]], token: tuple[int, str, str], depth: int) -> Any:
    line, kind, value = token
    if depth > _MAX_DEPTH:
        raise EdnError(line, f"forms nested at most {_MAX_DEPTH} deep")
    if kind == "atom":
        return _atom(line, value)
    if kind == "string":
        return _string(line, value[1:-1])
    if kind in ("tag", "discard"):
        tagged = _next(tokens, line, f"a form after {value}")
        if tagged[1] == "close":
            raise EdnError(tagged[0], f"a form after {value}")
        form = _form(tokens, tagged, depth + 1)
        if kind == "tag":
            return form
        following = _next(tokens, line, "a form after the discarded one")
        return _form(tokens, following, depth)
    if kind == "open":
        items = []
        while True:
            item = _next(tokens, line, f"a closing {_CLOSE[value]!r} for the {value!r} of line {line}")
            if item[1] == "close":
                if item[2] != _CLOSE[value]:
                    raise EdnError(item[0], f"{_CLOSE[value]!r} to close the {value!r} of line "
                                            f"{line}, not {item[2]!r}")
                break
            items.append(_form(tokens, item, depth + 1))
        return _collection(line, value, items)
    raise EdnError(line, f"a form, not an unmatched {value!r}")


def _next(tokens: Iterator[tuple[int, str, str]], line: int, expected: str) -> tuple[int, str, str]:
    token = next(tokens, None)
    if token is None:
        raise EdnError(line, f"{expected} before the end of the file")
    return token


def _collection(line: int, opener: str, items: list[Any]) -> Any:
    if opener in ("[", "("):
        return items
    if opener == "#{":
        try:
            return frozenset(items)
        except TypeError:
            raise EdnError(line, "a set of scalars") from None
    if len(items) % 2:
        raise EdnError(line, "a map with an even number of forms (key value ...)")
    result = EdnMap()
    result.line = line
    for key, value in zip(items[::2], items[1::2]):
        try:
            result[key] = value
        except TypeError:
            raise EdnError(line, "map keys that are scalars (keywords, strings, numbers)") from None
    return result


def _atom(line: int, text: str) -> Any:
    first = text[0]
    if first == ":":
        if len(text) == 1:
            raise EdnError(line, "a keyword name after ':'")
        return Keyword(text[1:])
    if text.isascii() and text.isdigit() and len(text) < 19:
        return int(text)
    if text == "nil":
        return None
    if text in ("true", "false"):
        return text == "true"
    if _INT.fullmatch(text):
        try:
            return int(text.rstrip("N"))
        except ValueError:  # more digits than Python converts (4300)
            raise EdnError(line, "an integer of at most 4300 digits") from None
    if _FLOAT.fullmatch(text):
        return float(text.rstrip("M"))
    if first.isdigit() or (first in "+-" and text[1:2].isdigit()):
        raise EdnError(line, f"a number, not {text!r}")
    if first == "\\":
        raise EdnError(line, f"a form this reader knows (no characters such as {text!r})")
    return Symbol(text)


def _string(line: int, body: str) -> str:
    if "\\" not in body:
        return body
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        code = body[i + 1]
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            i += 2
        elif code == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2:i + 6]):
            out.append(chr(int(body[i + 2:i + 6], 16)))
            i += 6
        else:
            raise EdnError(line, f"a string escape among \\\" \\\\ \\n \\t \\r \\b \\f \\uXXXX, "
                                 f"not \\{code}")
    return "".join(out)
