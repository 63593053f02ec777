"""The trace of a run: one JSON line per event, a running digest, and a checked file format.

A trace file is JSON lines:

- line 1, the header: ``{"format":"raftsim-trace","version":1,"scenario":..,"seed":..,
  "params":{..},"fields":{kind:[names..]}}``;
- one record per event, a JSON array ``[t, kind, ...]`` whose fields are named by
  ``header["fields"][kind]`` (``t`` is virtual time in ms, a float);
- a footer: ``{"end":"raftsim-trace","records":N,"digest":HEX}``.

The digest is blake2b (digest_size=16) over the exact bytes of every line before the footer
(header included), each followed by ``b"\\n"``. Same seed and code give byte-identical lines in
any process: records hold only immutable values, and the JSON encoder sorts the items of
unordered collections (sets, dict keys), which would otherwise follow PYTHONHASHSEED.

Recording is cheap: ``add(record)`` appends a tuple to a buffer; encoding (one msgspec call per
batch) and hashing happen when the buffer fills, on ``digest()`` and on ``close()``.
"""

from __future__ import annotations

import hashlib
from typing import Any, BinaryIO, NamedTuple, Sequence

import msgspec

__all__ = [
    "Trace", "TraceError", "LoadedTrace", "Difference", "FIELDS", "FORMAT", "VERSION",
    "load_trace", "first_difference",
]

FORMAT = "raftsim-trace"
VERSION = 1

#: Field names of each record kind, after ``t`` and ``kind``. Written into every header.
FIELDS: dict[str, list[str]] = {
    "send": ["id", "src", "dst", "msg"],
    "deliver": ["id", "src", "dst"],
    "drop": ["id", "src", "dst", "reason"],
    "dup": ["id", "src", "dst"],
    "timer": ["node", "timer"],
    "input": ["node", "event"],
    "propose": ["node", "command", "index", "term", "leader"],
    "apply": ["node", "index", "term", "command"],
    "snapshot": ["node", "index", "term", "size", "digest"],
    "role": ["node", "role", "term"],
    "note": ["node", "what", "detail"],
    "crash": ["node", "incarnation", "lost"],
    "restart": ["node", "incarnation", "blank"],
    "fault": ["fault"],
    "result": ["outcome", "kind", "failure"],          # the verdict of a scenario run
    "history": ["client", "type", "op"],               # a client invocation or completion
}


class _Header(msgspec.Struct):
    """The first line; a Struct so that ``format`` comes first (dicts are written sorted)."""
    format: str
    version: int
    scenario: str
    seed: int
    params: dict
    fields: dict


class _Footer(msgspec.Struct):
    end: str
    records: int
    digest: str


class TraceError(ValueError):
    """A trace file that cannot be trusted; ``str`` is one line ``FILE:LINE: what``."""

    def __init__(self, path: str, line: int, what: str) -> None:
        super().__init__(f"{path}:{line}: {what}")
        self.path = path
        self.line = line
        self.what = what


class Trace:
    """The record of one run: buffered, digested, optionally streamed to ``path``.

    ``keep=True`` also keeps every encoded line in memory (``lines``), for tests and diffs.
    ``fields`` declares extra record kinds (kind -> field names) a harness writes; a loaded
    trace accepts exactly the kinds its header declares.
    """

    def __init__(self, seed: int = 0, scenario: str = "", params: dict | None = None,
                 path: str | None = None, keep: bool = False, batch: int = 4096,
                 fields: dict[str, list[str]] | None = None) -> None:
        table = {**FIELDS, **fields} if fields else FIELDS  # extra record kinds, if any
        self.header = {"format": FORMAT, "version": VERSION, "scenario": scenario,
                       "seed": seed, "params": params or {}, "fields": table}
        header = _Header(FORMAT, VERSION, scenario, seed, params or {}, table)
        self._encoder = msgspec.json.Encoder(order="deterministic")
        self._hash = hashlib.blake2b(digest_size=16)
        self._buf: list[tuple] = []
        self._batch = batch
        #: Unchecked ``add`` for hot paths that are always followed by an ``add`` soon after.
        self.append = self._buf.append
        #: The buffer and its batch size: a hot path may do what ``add`` does without its call,
        #: ``buffer.append(record)`` then ``flush()`` once ``len(buffer) >= batch``.
        self.buffer = self._buf
        self.batch = batch
        self.count = 0
        self.lines: list[bytes] | None = [] if keep else None
        self._file: BinaryIO | None = open(path, "wb") if path else None
        self.path = path
        self.closed = False
        self._emit(self._encoder.encode(header) + b"\n")

    def add(self, record: tuple) -> None:
        """Record one event: ``(t, kind, *fields)`` with immutable values."""
        buf = self._buf
        buf.append(record)
        if len(buf) >= self._batch:
            self.flush()

    def flush(self) -> None:
        """Encode and hash the buffered records (and write them, when streaming)."""
        buf = self._buf
        if not buf:
            return
        if self.closed:
            raise RuntimeError("trace is closed: no record may be added after close()")
        try:
            chunk = self._encoder.encode_lines(buf)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"trace record cannot be encoded: {_first_bad(self._encoder, buf)}"
                            ) from exc
        self.count += len(buf)
        buf.clear()
        self._emit(chunk)

    def _emit(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        if self._file is not None:
            self._file.write(chunk)
        if self.lines is not None:
            self.lines.extend(chunk.split(b"\n")[:-1])

    def digest(self) -> str:
        """Hex blake2b-128 of every line so far (header included)."""
        self.flush()
        return self._hash.hexdigest()

    def close(self) -> str:
        """Flush, write the footer when streaming, close the file; returns the digest."""
        digest = self.digest()
        if not self.closed and self._file is not None:
            footer = _Footer(FORMAT, self.count, digest)
            self._file.write(self._encoder.encode(footer) + b"\n")
            self._file.close()
            self._file = None
        self.closed = True
        return digest

    def abandon(self) -> None:
        """Close a streamed file without its footer: the run did not finish, and the file then
        reads as truncated (``load_trace`` refuses it) instead of passing for a whole run."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self.closed = True

    def __enter__(self) -> "Trace":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _first_bad(encoder: msgspec.json.Encoder, records: list[tuple]) -> str:
    for record in records:
        try:
            encoder.encode(record)
        except (TypeError, ValueError) as exc:
            return f"{record[:2]!r}...: {exc}"
    return "unknown record"


# ---------------------------------------------------------------- reading

class LoadedTrace(NamedTuple):
    """A verified trace file: header, decoded records, digest and raw lines (header first)."""

    header: dict
    records: list[list]
    digest: str
    lines: list[bytes]


def load_trace(path: str) -> LoadedTrace:
    """Read and verify a trace file; raise ``TraceError`` if it is not intact."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise TraceError(path, 0, f"cannot read: {exc.strerror}") from None
    if not data:
        raise TraceError(path, 1, "empty file")
    lines = data.split(b"\n")
    if lines[-1] != b"":
        raise TraceError(path, len(lines), "truncated: last line has no newline")
    lines.pop()
    header = _decode(path, 1, lines[0])
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise TraceError(path, 1, f"not a {FORMAT} file (no header)")
    if header.get("version") != VERSION:
        raise TraceError(path, 1, f"unsupported version {header.get('version')!r}")
    footer = _decode(path, len(lines), lines[-1]) if len(lines) > 1 else None
    if not isinstance(footer, dict) or footer.get("end") != FORMAT:
        raise TraceError(path, len(lines), "truncated: no footer line")
    fields = header.get("fields")
    if not isinstance(fields, dict):
        raise TraceError(path, 1, "header has no record field table")
    records = [_record(path, n, line, fields) for n, line in enumerate(lines[1:-1], start=2)]
    _check_footer(path, len(lines), footer, records, data[: len(data) - len(lines[-1]) - 1])
    return LoadedTrace(header, records, footer["digest"], lines[:-1])


def _decode(path: str, line_no: int, line: bytes) -> Any:
    try:
        return msgspec.json.decode(line)
    except msgspec.DecodeError as exc:
        raise TraceError(path, line_no, f"not JSON: {exc}") from None


def _record(path: str, line_no: int, line: bytes, fields: dict) -> list:
    record = _decode(path, line_no, line)
    if (not isinstance(record, list) or len(record) < 2
            or not isinstance(record[0], (int, float)) or record[1] not in fields):
        raise TraceError(path, line_no, "malformed record (expected [t, kind, ...])")
    if len(record) != 2 + len(fields[record[1]]):
        raise TraceError(path, line_no, f"malformed {record[1]!r} record: wrong field count")
    return record


def _check_footer(path: str, line_no: int, footer: dict, records: list, covered: bytes) -> None:
    if footer.get("records") != len(records):
        raise TraceError(path, line_no,
                         f"footer says {footer.get('records')} records, file has {len(records)}")
    actual = hashlib.blake2b(covered, digest_size=16).hexdigest()
    if footer.get("digest") != actual:
        raise TraceError(path, line_no,
                         f"digest mismatch: footer {footer.get('digest')}, lines hash to {actual}")


# ---------------------------------------------------------------- comparing

class Difference(NamedTuple):
    """Where two traces diverge: 1-based line number and each side's line (None past the end)."""

    line: int
    a: bytes | str | None
    b: bytes | str | None


def first_difference(lines_a: Sequence[bytes | str],
                     lines_b: Sequence[bytes | str]) -> Difference | None:
    """The first line at which the two traces differ, or None if they are identical."""
    for i, (a, b) in enumerate(zip(lines_a, lines_b)):
        if a != b:
            return Difference(i + 1, a, b)
    if len(lines_a) == len(lines_b):
        return None
    n = min(len(lines_a), len(lines_b))
    return Difference(n + 1, lines_a[n] if n < len(lines_a) else None,
                      lines_b[n] if n < len(lines_b) else None)
