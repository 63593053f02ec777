"""History files: reading our JSONL, Porcupine kv logs, Jepsen etcd logs and Jepsen history.edn;
writing JSONL.

This module owns parsing, format detection and the writer. Every reader turns its lines into
the same events (``t``, ``process``, ``type`` in invoke/ok/fail/info, ``f`` and the op's
fields), pairs invocations with completions per process, and lets the model decode each pair
into an ``Operation``. Bad input raises ``HistoryError`` naming the file, the line and what was
expected; it never leaks a traceback of the parser. See docs/history-format.md.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import IO, Any, Callable, Iterable, Iterator, Mapping

from .model import INFINITY, UNKNOWN, DecodeError, Model, Operation
from .models import MODELS, get_model

__all__ = [
    "HistoryError", "LoadedHistory", "FORMATS", "DEFAULT_MODEL", "load_history",
    "detect_format", "history_from_events", "HistoryWriter", "dump_history",
]

FORMAT_NAME, FORMAT_VERSION = "raftsim-history", 1
#: How equal times order a call and a return (the header's optional "ties"; see
#: ``history_from_events``).
CONCURRENT, RECORDED = "concurrent", "recorded"
TIES = (CONCURRENT, RECORDED)
FORMATS = ("raftsim", "porcupine-kv", "jepsen", "jepsen-edn")
DEFAULT_MODEL = {"porcupine-kv": "kv", "jepsen": "cas-register", "jepsen-edn": "cas-register"}
_TYPES = ("invoke", "ok", "fail", "info")


class HistoryError(Exception):
    """A malformed history: ``str(err)`` is ``FILE:LINE: expected ...``."""

    def __init__(self, path: str, line: int, expected: str) -> None:
        where = f"{path}:{line}" if line > 0 else path  # line 0: the file as a whole
        super().__init__(f"{where}: expected {expected}")
        self.path, self.line, self.expected = path, line, expected


@dataclass(frozen=True)
class LoadedHistory:
    """A parsed history file: where it came from, its format, the model, the operations and
    how equal times were ordered (``ties``: concurrent or recorded, from our header)."""

    path: str
    format: str
    model: Model
    operations: list[Operation]
    ties: str = "concurrent"


# ------------------------------------------------------------------------------ loading

def load_history(path: str | os.PathLike[str], *, format: str = "auto",
                 model: Model | str | None = None) -> LoadedHistory:
    """Read a history file. ``format`` is ``auto`` or one of ``FORMATS``; ``model`` (a Model or
    a built-in name) overrides the file's model (our header) or the format's default."""
    name = os.fspath(path)
    lines = _read_lines(name)
    fmt = detect_format(name, lines) if format == "auto" else format
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (choose from auto, {', '.join(FORMATS)})")
    ties = CONCURRENT
    if fmt == "raftsim":
        header_model, ties, events = _read_raftsim(name, lines)
    else:
        header_model = DEFAULT_MODEL[fmt]
        events = _READERS[fmt](name, lines)
    if isinstance(model, str):
        model = get_model(model)  # a bad name is the caller's error: KeyError
    chosen = model if model is not None else _header_model(header_model, name, lines)
    return LoadedHistory(name, fmt, chosen, _operations(name, events, chosen, ties == RECORDED),
                         ties)


def _read_lines(path: str) -> list[str]:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except IsADirectoryError:
        raise HistoryError(path, 0, "a history file, not a directory") from None
    except OSError as err:
        raise HistoryError(path, 0, f"a readable file ({err.strerror or err})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise HistoryError(path, line, "UTF-8 text") from None
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    if not any(line.strip() for line in lines):
        raise HistoryError(path, 1, "a history, but the file is empty")
    return lines


def _header_model(name: str, path: str, lines: list[str]) -> Model:
    if name not in MODELS:
        line = next(i + 1 for i, s in enumerate(lines) if s.strip())
        raise HistoryError(path, line, f"a model among {', '.join(MODELS)} (got {name!r}; "
                           "give your own model explicitly, e.g. --model MODULE:ATTRIBUTE)")
    return MODELS[name]


def detect_format(path: str, lines: list[str]) -> str:
    """Tell the format from the first non-empty line."""
    number, first = next((i + 1, s.strip()) for i, s in enumerate(lines) if s.strip())
    if first.startswith("{:process ") and not _EDN_ONLY.search(first):
        return "porcupine-kv"
    if first[:2] in ("{:", "[{", "({", "#j") or first[:1] in ";[(":
        return "jepsen-edn"
    if first.startswith("INFO") and "jepsen.util" in first:
        return "jepsen"
    if first.startswith("{") and f'"{FORMAT_NAME}"' in first:
        return "raftsim"
    raise HistoryError(path, number, f'a {{"format":"{FORMAT_NAME}",...}} header, a Porcupine kv '
                       "line ({:process ...}), a Jepsen log line (INFO  jepsen.util - ...) or a "
                       "Jepsen history.edn op ({:type :invoke, ...})")


_EDN_ONLY = re.compile(r":(index|time) |:f :(?!(get|put|append)\b)")  # never in Porcupine kv


# ------------------------------------------------------------------------- our JSONL

_decoders: list[Callable[[str], Any]] = []


def _decode_json(text: str) -> Any:
    """Parse one JSON line (msgspec, imported on first use: other formats never pay for it)."""
    if not _decoders:
        import msgspec
        _decoders.append(msgspec.json.Decoder().decode)
    return _decoders[0](text)


def _read_raftsim(path: str, lines: list[str]
                  ) -> tuple[str, str, list[tuple[int, dict[str, Any]]]]:
    numbered = [(i + 1, s) for i, s in enumerate(lines) if s.strip()]
    number, header = _json_object(path, *numbered[0])
    if header.get("format") != FORMAT_NAME:
        raise HistoryError(path, number, f'a header with "format": "{FORMAT_NAME}"')
    if header.get("version") != FORMAT_VERSION:
        raise HistoryError(path, number, f'"version": {FORMAT_VERSION} in the header')
    model = header.get("model")
    if not isinstance(model, str):
        raise HistoryError(path, number, 'a string "model" in the header')
    ties = header.get("ties", CONCURRENT)
    if ties not in TIES:
        shown = _json_text(ties)
        raise HistoryError(path, number, f'"ties": "{CONCURRENT}" or "{RECORDED}" in the header '
                                         f'(or no "ties"), not {shown}')
    events, last_t = [], float("-inf")
    for number, text in numbered[1:]:
        _, event = _json_object(path, number, text)
        last_t = _check_event(path, number, event, last_t)
        events.append((number, event))
    return model, ties, events


def _json_text(value: Any, limit: int = 40) -> str:
    """``value`` as JSON, cut to ``limit`` characters (control characters escaped)."""
    import json
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= limit else text[:limit] + "..."


def _json_object(path: str, number: int, text: str) -> tuple[int, dict[str, Any]]:
    try:
        value = _decode_json(text)
    except ValueError:  # msgspec.DecodeError is a ValueError
        raise HistoryError(path, number, "a JSON object on one line") from None
    except RecursionError:
        raise HistoryError(path, number, "a JSON object of reasonable depth") from None
    if not isinstance(value, dict):
        raise HistoryError(path, number, "a JSON object on one line")
    return number, value


def _check_event(path: str, number: int, event: dict[str, Any], last_t: float) -> float:
    t = event.get("t")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not _finite(t):
        raise HistoryError(path, number, "a finite number 't' (virtual milliseconds)")
    if t < last_t:
        raise HistoryError(path, number, f"'t' >= {last_t} (events in time order)")
    process = event.get("process")
    if isinstance(process, bool) or not isinstance(process, (str, int)):
        raise HistoryError(path, number, "a string or integer 'process'")
    if event.get("type") not in _TYPES:
        raise HistoryError(path, number, "'type' to be one of invoke, ok, fail, info")
    if not isinstance(event.get("f"), str):
        raise HistoryError(path, number, "a string 'f' (the operation)")
    return float(t)


def _finite(t: float) -> bool:
    """Whether ``t`` is a finite float, or an integer a float can hold (10**400 is neither)."""
    try:
        return math.isfinite(t)
    except OverflowError:
        return False


# ------------------------------------------------------------------- Porcupine kv logs

_KV_LINE = re.compile(r'\{:process (\d+), :type :(invoke|ok|fail|info), :f :(get|put|append), '
                      r':key "([^"]*)", :value (?:nil|"([^"]*)")\}')
_KV_SHAPE = ('{:process N, :type :invoke|:ok|:fail|:info, :f :get|:put|:append, '
             ':key "K", :value nil|"V"}')


def _read_porcupine_kv(path: str, lines: list[str]) -> list[tuple[int, dict[str, Any]]]:
    events = []
    for index, text in enumerate(lines):
        if not text.strip():
            continue
        match = _KV_LINE.fullmatch(text.strip())
        if match is None:
            raise HistoryError(path, index + 1, _KV_SHAPE)
        process, kind, f, key, value = match.groups()
        events.append((index + 1, {"t": index, "process": int(process), "type": kind, "f": f,
                                   "key": key, "value": value}))
    return events


# ------------------------------------------------------------------------- Jepsen logs

_JEPSEN_SHAPE = "'INFO  jepsen.util - PROCESS :TYPE :F VALUE'"
_JEPSEN_TYPES = {":invoke": "invoke", ":ok": "ok", ":fail": "fail", ":info": "info"}
_JEPSEN_INT = re.compile(r"-?[0-9]{1,18}")  # at most 18 digits: longer is no process or value here


def _read_jepsen(path: str, lines: list[str]) -> list[tuple[int, dict[str, Any]]]:
    events = []
    for index, text in enumerate(lines):
        fields = text.split()
        if not fields:
            continue
        number = index + 1
        if (len(fields) < 7 or fields[:3] != ["INFO", "jepsen.util", "-"]
                or not _JEPSEN_INT.fullmatch(fields[3])):
            raise HistoryError(path, number, _JEPSEN_SHAPE)
        kind = _JEPSEN_TYPES.get(fields[4])
        if kind is None or fields[5] not in (":read", ":write", ":cas"):
            raise HistoryError(path, number, f"{_JEPSEN_SHAPE} with :TYPE in :invoke, :ok, :fail, "
                               ":info and :F in :read, :write, :cas")
        event = {"t": index, "process": int(fields[3]), "type": kind, "f": fields[5][1:]}
        _jepsen_value(path, number, event, " ".join(fields[6:]))
        events.append((number, event))
    return events


def _jepsen_value(path: str, number: int, event: dict[str, Any], text: str) -> None:
    """Fill ``value`` (and ``result`` for cas) following the etcd history conventions."""
    kind = event["type"]
    if text == ":timed-out" and kind in ("info", "fail"):
        return
    if event["f"] == "cas":
        match = re.fullmatch(r"\[(-?[0-9]{1,18}) (-?[0-9]{1,18})\]", text)
        if match is None:
            raise HistoryError(path, number, "a cas value [A B] with integers A and B "
                               "(of at most 18 digits)")
        event["value"] = [int(match[1]), int(match[2])]
        if kind in ("ok", "fail"):  # a failed cas completed: the value was not A
            event["type"], event["result"] = "ok", kind == "ok"
        return
    if text != "nil" and not _JEPSEN_INT.fullmatch(text):
        raise HistoryError(path, number, "an integer or nil value (an integer of at most 18 digits)")
    event["value"] = None if text == "nil" else int(text)


# ------------------------------------------------------------- Jepsen history.edn files

_EDN_TYPES = ("invoke", "ok", "fail", "info")
_EDN_FS = ("read", "write", "cas")


def _read_jepsen_edn(path: str, lines: list[str]) -> list[tuple[int, dict[str, Any]]]:
    """Ops of a Jepsen / Knossos ``history.edn``: one map per op, at top level or in one vector.

    Client ops (an integer ``:process``) of the register, cas-register and independent
    (kv-style: ``:value [key value]``) workloads become events; ops of other processes (the
    ``:nemesis``) are skipped. Time is the op's position in the file, which is real-time order.
    """
    from .edn import EdnError, Keyword, read_forms
    ops: list[tuple[int, Any]] = []
    try:
        for line, form in read_forms("\n".join(lines)):
            if isinstance(form, list):  # a Knossos data file: one vector of ops
                ops.extend((getattr(op, "line", line), op) for op in form)
            else:
                ops.append((line, form))
    except EdnError as err:
        raise HistoryError(path, err.line, err.expected) from None
    client = [(line, op) for line, op in ops if _edn_client_op(path, line, op, Keyword)]
    keyed = any(_edn_keyed(op) for _, op in client)
    events = []
    for t, (line, op) in enumerate(client):
        f, value = str(op[Keyword("f")]), op.get(Keyword("value"))
        event: dict[str, Any] = {"t": t, "process": op[Keyword("process")],
                                 "type": str(op[Keyword("type")]), "f": f}
        if keyed:
            if not (isinstance(value, list) and len(value) == 2):
                raise HistoryError(path, line, "a :value [key value] (the other ops of this "
                                   "history are keyed)")
            key, value = value
            if isinstance(key, Keyword) or not isinstance(key, (str, int, float)):
                raise HistoryError(path, line, "a key that is an integer, a float or a string")
            event["key"] = key
        if isinstance(value, Keyword) or _has_keyword(value, Keyword):
            if event["type"] in ("fail", "info"):  # e.g. :value :timed-out: no information
                events.append((line, event))
                continue
            raise HistoryError(path, line, f"a :value of integers, strings or nil, not {value!r}")
        if f == "cas":
            event["value"] = value
            if event["type"] == "ok":
                event["result"] = True
        elif Keyword("value") in op:  # a missing :value stays missing (it is not nil)
            event["value"] = value
        events.append((line, event))
    return events


def _edn_client_op(path: str, line: int, op: Any, keyword: type) -> bool:
    """Whether ``op`` is a client op to check; raises on a malformed op."""
    if not isinstance(op, dict):
        raise HistoryError(path, line, "an op map {:process P, :type T, :f F, :value V}, "
                           f"not {_short_edn(op)}")
    process = op.get(keyword("process"))
    kind = op.get(keyword("type"))
    f = op.get(keyword("f"))
    if not (isinstance(kind, keyword) and str(kind) in _EDN_TYPES):
        raise HistoryError(path, line, "a :type among :invoke, :ok, :fail, :info")
    if isinstance(process, keyword):
        return False  # :nemesis and other non-client processes
    if isinstance(process, bool) or not isinstance(process, int):
        raise HistoryError(path, line, "a :process that is an integer (or a keyword such as "
                           ":nemesis)")
    if not (isinstance(f, keyword) and str(f) in _EDN_FS):
        raise HistoryError(path, line, "a client :f among :read, :write, :cas (the register, "
                           "cas-register and independent kv workloads)")
    return True


def _edn_keyed(op: Any) -> bool:
    """Whether a client op carries a key, as jepsen.independent writes it: [key value]."""
    from .edn import Keyword
    value = op.get(Keyword("value"))
    if not isinstance(value, list) or len(value) != 2:
        return False
    return str(op[Keyword("f")]) != "cas" or isinstance(value[1], list)


def _short_edn(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


def _has_keyword(value: Any, keyword: type) -> bool:
    if isinstance(value, list):
        return any(isinstance(v, keyword) or _has_keyword(v, keyword) for v in value)
    return isinstance(value, (dict, frozenset))


_READERS = {"porcupine-kv": _read_porcupine_kv, "jepsen": _read_jepsen,
            "jepsen-edn": _read_jepsen_edn}


# ----------------------------------------------------------------- events to operations

def history_from_events(events: Iterable[Mapping[str, Any]], model: Model,
                        source: str = "<events>", ties: str = "concurrent") -> list[Operation]:
    """Operations of an in-memory event list (the shape our JSONL lines have, without header).

    ``ties``: ``"concurrent"`` (Porcupine's rule: at equal times a call comes before a
    return, so touching operations overlap) or ``"recorded"`` (the events are listed in the
    order they happened, and at equal times that order counts: what the simulator records)."""
    if ties not in TIES:
        raise ValueError(f"ties must be {CONCURRENT!r} or {RECORDED!r}, not {ties!r}")
    numbered, last_t = [], float("-inf")
    get = dict.get
    for number, event in enumerate(events, start=1):
        if type(event) is not dict:     # read only: a plain dict needs no copy
            event = dict(event)
        # The usual event passes _check_event's tests as written here (a finite float time
        # in order, a string process, a known type, a string f); anything else goes
        # through _check_event itself, which says what is wrong.
        t = get(event, "t")
        if (t.__class__ is float and last_t <= t and t - t == 0.0
                and get(event, "process").__class__ is str and get(event, "type") in _TYPES
                and get(event, "f").__class__ is str):
            last_t = t
        else:
            last_t = _check_event(source, number, event, last_t)
        numbered.append((number, event))
    return _operations(source, numbered, model, ties == RECORDED)


def _operations(path: str, events: list[tuple[int, dict[str, Any]]], model: Model,
                recorded: bool = False) -> list[Operation]:
    """The operations of the numbered events; ``recorded``: the numbers order equal times."""
    ops: list[Operation] = []
    add, decode, operation = ops.append, model.decode, Operation   # looked up once
    for (line, invoke), completion in _pairs(path, events):
        complete = None if completion is None else completion[1]
        try:
            decoded = decode(invoke, complete)
        except DecodeError as err:
            at = completion[0] if completion is not None and err.event is complete else line
            raise HistoryError(path, at, err.expected) from None
        if decoded is None:
            continue
        inp, out = decoded
        end = INFINITY if out is UNKNOWN else complete["t"]  # type: ignore[index]
        if recorded:
            add(operation(invoke["process"], inp, invoke["t"], out, end, line,
                          0 if out is UNKNOWN else completion[0]))  # type: ignore[index]
        else:
            add(operation(invoke["process"], inp, invoke["t"], out, end))
    return ops


Pair = tuple[tuple[int, dict[str, Any]], "tuple[int, dict[str, Any]] | None"]


def _pairs(path: str, events: list[tuple[int, dict[str, Any]]]) -> Iterator[Pair]:
    """Match each invocation with its process's next completion, in invocation order.

    ``fail`` drops the operation (it did not happen); ``info`` and a missing completion leave
    the outcome unknown (the pair's completion is None).
    """
    pending: dict[Any, int] = {}
    slots: list[Any] = []
    for number, event in events:
        process, kind = event["process"], event["type"]
        if kind == "invoke":
            if process in pending:
                raise HistoryError(path, number, f"a completion of process {process!r}'s operation "
                                   f"from line {slots[pending[process]][0][0]} before it invokes again")
            pending[process] = len(slots)
            slots.append([(number, event), None])
            continue
        if process not in pending:
            raise HistoryError(path, number, f"an invocation by process {process!r} before this {kind}")
        slot = slots[pending.pop(process)]
        if event["f"] != slot[0][1]["f"]:
            raise HistoryError(path, number, f"'f' {slot[0][1]['f']!r} as in the invocation "
                               f"at line {slot[0][0]}")
        slot[1] = "drop" if kind == "fail" else (None if kind == "info" else (number, event))
    for invocation, completion in slots:
        if completion != "drop":
            yield invocation, completion


# ---------------------------------------------------------------------------- writing

class HistoryWriter:
    """Streams a history in our JSONL format, one complete line per event.

    Each line is flushed as it is written, so a run cut short still leaves a valid history
    (operations without a completion are read as unknown outcomes)::

        with HistoryWriter("run.history.jsonl", model="kv") as w:
            w.invoke(12.5, "c0", "append", key="k", value="x")
            w.ok(13.0, "c0", "append", key="k", value="x")
    """

    def __init__(self, target: str | os.PathLike[str] | IO[str], model: str = "kv",
                 flush: bool = True, ties: str = "concurrent") -> None:
        if ties not in TIES:
            raise ValueError(f"ties must be {CONCURRENT!r} or {RECORDED!r}, not {ties!r}")
        self._owned = isinstance(target, (str, os.PathLike))
        self._out: IO[str] = (open(target, "w", encoding="utf-8")
                              if isinstance(target, (str, os.PathLike)) else target)
        self._flush = flush
        import msgspec
        self._encode: Callable[[Any], bytes] = msgspec.json.encode
        header = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "model": model}
        if ties != CONCURRENT:
            header["ties"] = ties
        self._write(header)

    def event(self, t: float, process: str | int, type: str, f: str, **fields: Any) -> None:
        """Write one event; ``type`` is invoke, ok, fail or info."""
        if type not in _TYPES:
            raise ValueError(f"type must be one of {', '.join(_TYPES)}, not {type!r}")
        self._write({"t": t, "process": process, "type": type, "f": f, **fields})

    def invoke(self, t: float, process: str | int, f: str, **fields: Any) -> None:
        self.event(t, process, "invoke", f, **fields)

    def ok(self, t: float, process: str | int, f: str, **fields: Any) -> None:
        self.event(t, process, "ok", f, **fields)

    def fail(self, t: float, process: str | int, f: str, **fields: Any) -> None:
        self.event(t, process, "fail", f, **fields)

    def info(self, t: float, process: str | int, f: str, **fields: Any) -> None:
        self.event(t, process, "info", f, **fields)

    def close(self) -> None:
        if self._owned:
            self._out.close()
        else:
            self._out.flush()

    def __enter__(self) -> "HistoryWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, record: Mapping[str, Any]) -> None:
        self._out.write(self._encode(record).decode("utf-8") + "\n")
        if self._flush:
            self._out.flush()


def dump_history(events: Iterable[Mapping[str, Any]], path: str | os.PathLike[str] | IO[str],
                 model: str = "kv", ties: str = "concurrent") -> None:
    """Write a whole event list (dicts with t, process, type, f and fields) as our JSONL;
    ``ties`` as ``history_from_events`` takes it, recorded in the header."""
    with HistoryWriter(path, model=model, flush=False, ties=ties) as writer:
        for e in events:
            fields = {k: v for k, v in e.items() if k not in ("t", "process", "type", "f")}
            writer.event(e["t"], e["process"], e["type"], e["f"], **fields)
