"""What a run report shows, computed from a trace as plain data (dicts, lists, numbers, strings).

This module owns the content of every view of ``raftsim report TRACE``: the lanes of the
message-sequence diagram and its arrows, drops and duplicates; crash and network-fault periods;
role and term changes; the client operations, their latency and the throughput; per-node
counts; the linearizability view (``checkers.linearizability.report.build_view``, reused as it
is). It never writes markup (see ``html.py``) and reads no clock: the same trace gives the same
data. Times are virtual milliseconds rounded to the microsecond.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence, get_args

import msgspec

__all__ = ["Window", "WindowError", "malformed", "run_view", "lanes", "messages", "fault_periods",
           "role_changes", "shading", "operations", "latency", "throughput", "node_stats", "run_meta",
           "describe_message", "describe_fault", "density", "failure_focus", "message_size",
           "window_roles", "bucket_width", "MAX_TEXT"]

#: Longest hover text of one message (the rest is elided): keeps big runs' pages small.
MAX_TEXT = 240
#: Buckets of the throughput chart and of the overview strip.
BUCKETS = 120


class WindowError(ValueError):
    """A time window that selects nothing of the run (``str`` says why, in one line)."""


@dataclass(frozen=True)
class Window:
    """A time window in virtual ms; ``None`` bounds are the run's start and end."""
    lo: float | None = None
    hi: float | None = None

    def resolve(self, end: float) -> tuple[float, float]:
        """The window as (lo, hi) within a run that ends at ``end``; ``WindowError`` if empty."""
        lo = 0.0 if self.lo is None else self.lo
        hi = end if self.hi is None else self.hi
        if lo < 0:
            raise WindowError(f"the window starts at {_s(lo)}, before the run (which starts "
                              "at 0 s)")
        if self.hi is not None and hi <= 0:
            raise WindowError(f"the window ends at {_s(hi)}, when the run starts: --to must be "
                              "after 0")
        if self.lo is not None and lo >= end:
            raise WindowError(f"the window starts at {_s(lo)}, when the run had ended "
                              f"(at {_s(end)})")
        if hi <= lo:
            raise WindowError(f"the window {_s(lo)}..{_s(hi)} is empty (--from must be "
                              "before --to)")
        return lo, (min(hi, end) if end > 0 else hi)


def _s(ms: float) -> str:
    return f"{ms / 1000:g} s"


def _t(t: float) -> float:
    return round(float(t), 3)


# ---------------------------------------------------------------- well-formed records

_STR, _INT = (str,), (int,)
#: The fields the views read, by record kind: (field position, accepted types, what it is).
_SHAPES: dict[str, tuple[tuple[int, tuple[type, ...], str], ...]] = {
    "send": ((2, _INT, "an integer id"), (3, _STR, "a node name"), (4, _STR, "a node name")),
    "deliver": ((2, _INT, "an integer id"), (3, _STR, "a node name"), (4, _STR, "a node name")),
    "drop": ((2, _INT, "an integer id"), (3, _STR, "a node name"), (4, _STR, "a node name")),
    "dup": ((2, _INT, "an integer id"), (3, _STR, "a node name"), (4, _STR, "a node name")),
    "role": ((2, _STR, "a node name"), (3, _STR, "a role"), (4, (int, type(None)), "a term")),
    "crash": ((2, _STR, "a node name"),),
    "restart": ((2, _STR, "a node name"),),
    "snapshot": ((2, _STR, "a node name"),),
    "history": ((2, _STR, "a client name"), (3, _STR, "an event type"),
                (4, (list,), "an operation [f, key, value]")),
    "fault": ((2, (dict,), "a fault object"),),
}


def malformed(records: Sequence[list]) -> tuple[int, str] | None:
    """The first record the views cannot read, as (its index, what is wrong), or ``None``.

    A trace is verified by its digest, which a hand-made file can have too: this checks the
    fields the report reads (names are strings, ids integers, faults decode as faults)."""
    from sim.nemesis import AnyFault
    known = {cls.__name__ for cls in get_args(AnyFault)}
    for i, r in enumerate(records):
        kind = r[1]
        for pos, types, what in _SHAPES.get(kind, ()):
            value = r[pos]
            if not isinstance(value, types) or isinstance(value, bool):
                return i, f"malformed {kind!r} record: field {pos - 1} should be {what}"
        if kind == "fault":
            tag = r[2].get("type")
            if not isinstance(tag, str):
                return i, "malformed 'fault' record: the fault has no type"
            if tag not in known:          # a fault of another kind: shown by its name only
                continue
            try:
                msgspec.convert(r[2], AnyFault)
            except msgspec.ValidationError as exc:
                return i, f"malformed 'fault' record: {exc}"
    return None


# ---------------------------------------------------------------- the whole report

def run_view(header: dict[str, Any], records: Sequence[list], digest: str,
             window: Window | None = None, check: Any = None) -> dict[str, Any]:
    """Every view of one run, restricted to ``window``: the data the page is drawn from.

    ``check`` is the run's linearizability ``CheckResult`` (or ``None`` when the run had no
    client history); its view is the checker's own (``build_view``)."""
    meta = run_meta(header, records, digest)
    lo, hi = (window or Window()).resolve(meta["end"])
    names = lanes(records)
    ops = operations(records)
    shown = [op for op in ops if op["start"] <= hi and (op["end"] is None or op["end"] >= lo)]
    faults = [p for p in fault_periods(records, meta["end"]) if p["start"] <= hi and p["end"] >= lo]
    view = {
        "meta": {**meta, "window": [_t(lo), _t(hi)],
                 "whole": lo <= 0 and hi >= meta["end"]},
        "lanes": names,
        "messages": messages(records, names, lo, hi),
        "density": density(records, lo, hi),
        "faults": faults,
        "shading": shading(faults),
        "roles": window_roles(role_changes(records, names), lo, hi),
        "operations": shown,
        "latency": latency(shown, lo),
        "throughput": throughput(ops, lo, hi),
        "nodes": node_stats(records, names, lo, hi),
        "linearizability": None,
        "focus": None,
    }
    if check is not None:
        from checkers.linearizability.report import build_view
        seed = "" if meta["seed"] is None else f" seed {meta['seed']}"
        view["linearizability"] = build_view(check, title=f"history of {meta['scenario']}"
                                             f"{seed} (ties recorded)")
        view["focus"] = failure_focus(check)
    return view


def run_meta(header: dict[str, Any], records: Sequence[list], digest: str) -> dict[str, Any]:
    """Scenario, seed, params, digest, the run's end and its verdict (its ``result`` record)."""
    end = max((float(r[0]) for r in records), default=0.0)
    result = next((r for r in reversed(records) if r[1] == "result"), None)
    return {
        "scenario": str(header.get("scenario", "")),
        "seed": header.get("seed"),
        "params": msgspec.json.encode(header.get("params") or {}).decode(),
        "digest": digest,
        "records": len(records),
        "end": _t(end),
        "outcome": result[2] if result else None,
        "kind": result[3] if result else None,
        "failure": result[4] if result else None,
    }


# ---------------------------------------------------------------- lanes and messages

_NAME = re.compile(r"(\d+)")


def _natural(name: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in _NAME.split(name))


def lanes(records: Iterable[list]) -> list[str]:
    """Every node and client of the run: servers first, then clients (names starting with
    ``c``), each in natural order (``s2`` before ``s10``)."""
    seen: set[str] = set()
    for r in records:
        kind = r[1]
        if kind in ("send", "deliver", "drop", "dup"):
            seen.add(str(r[3]))
            seen.add(str(r[4]))
        elif kind in ("restart", "crash", "role", "snapshot", "history"):
            seen.add(str(r[2]))
    return sorted(seen, key=lambda n: (_is_client(n), _natural(n)))


def _is_client(name: str) -> bool:
    return name.startswith("c") and name[1:].isdigit()


def describe_message(msg: Any) -> str:
    """One line for a message: its type, then ``field=value`` for each field; long lists are
    counted, long strings cut, the whole at most ``MAX_TEXT`` characters."""
    if not isinstance(msg, dict):
        return _short(msg)
    parts = [str(msg.get("type", "?"))]
    for key, value in msg.items():
        if key != "type":
            parts.append(f"{key}={_short(value)}")
    text = " ".join(parts)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def _short(value: Any) -> str:
    if isinstance(value, (list, dict)) and len(value) > 3:
        return f"[{len(value)} items]"
    text = value if isinstance(value, str) else msgspec.json.encode(value).decode()
    return text if len(text) <= 60 else text[:59] + "…"


def messages(records: Sequence[list], names: Sequence[str], lo: float = 0.0,
             hi: float = float("inf")) -> dict[str, Any]:
    """The arrows of the message diagram: every message sent, delivered or dropped in
    ``lo..hi``, as columns (one list per field: small to embed, quick to draw).

    ``send``: [t, src lane, dst lane, type, text] per message (type and text index ``types`` and
    ``texts``, each text stored once); ``deliver``: [message, t, duplicate 0/1] per delivery
    (a duplicated message is delivered twice); ``drop``: [message, t, reason]."""
    lane = {n: i for i, n in enumerate(names)}
    sent: dict[int, list] = {}
    wanted: set[int] = set()              # messages with a send, delivery or drop in the window
    for r in records:
        kind = r[1]
        if kind == "send":
            sent[r[2]] = r
        if kind in ("send", "deliver", "drop", "dup") and lo <= r[0] <= hi:
            wanted.add(r[2])
    wanted &= sent.keys()
    events = [r for r in records if r[1] in ("deliver", "drop", "dup") and r[2] in wanted]
    tables: dict[str, dict[str, int]] = {"types": {}, "texts": {}, "reasons": {}}
    index: dict[int, int] = {}
    send_rows: list[list[Any]] = []
    ids: list[int] = []
    for mid in sorted(wanted, key=lambda m: (sent[m][0], m)):
        s = sent[mid]
        msg = s[5]
        typ = str(msg.get("type", "?")) if isinstance(msg, dict) else type(msg).__name__
        index[mid] = len(send_rows)
        ids.append(mid)
        send_rows.append([_t(s[0]), lane[str(s[3])], lane[str(s[4])],
                          _intern(tables["types"], typ),
                          _intern(tables["texts"], describe_message(msg))])
    delivered: dict[int, int] = {}
    deliveries, drops, dups = [], [], set()
    for r in events:
        kind, mid = r[1], r[2]
        if kind == "dup":
            dups.add(mid)
        elif kind == "deliver":
            n = delivered[mid] = delivered.get(mid, 0) + 1
            deliveries.append([index[mid], _t(r[0]), 1 if n > 1 else 0])
        elif kind == "drop":
            drops.append([index[mid], _t(r[0]), _intern(tables["reasons"], str(r[5]))])
    return {"ids": ids, "send": send_rows, "deliver": deliveries, "drop": drops,
            "dup": sorted(index[m] for m in dups if m in index),
            "types": list(tables["types"]), "texts": list(tables["texts"]),
            "reasons": list(tables["reasons"])}


def _intern(table: dict[str, int], text: str) -> int:
    found = table.get(text)
    if found is None:
        found = table[text] = len(table)
    return found


def density(records: Iterable[list], lo: float, hi: float, buckets: int = BUCKETS) -> list[int]:
    """How many messages were sent in each of ``buckets`` equal slices of ``lo..hi`` (the
    overview strip that the page zooms from)."""
    counts = [0] * buckets
    width = (hi - lo) / buckets or 1.0
    for r in records:
        if r[1] == "send" and lo <= r[0] <= hi:
            counts[min(buckets - 1, int((r[0] - lo) / width))] += 1
    return counts


# ---------------------------------------------------------------- faults and roles

def describe_fault(fault: Any) -> str:
    """A fault record's ``fault`` as a short phrase (``partition s0 s1 | s2``)."""
    if not isinstance(fault, dict):
        return str(fault)
    typ = fault.get("type")
    if typ == "Partition":
        return "partition " + " | ".join(" ".join(g) for g in fault.get("groups", ()))
    if typ == "Links":
        return f"links ({fault.get('shape') or 'custom'}) among {' '.join(fault.get('nodes', ()))}"
    if typ in ("Cut", "Uncut"):
        return f"{typ.lower()} {fault.get('src')}→{fault.get('dst')}"
    if typ in ("Crash", "Reboot", "Disconnect", "Connect"):
        after = fault.get("mid_step_after")
        extra = f" (inside a step, after {after} effects)" if after is not None else ""
        return f"{typ.lower()} {fault.get('node')}{extra}"
    if typ == "SetReliable":
        return "reliable network" if fault.get("reliable") else "unreliable network"
    if typ == "SetLongReordering":
        return f"long reordering {'on' if fault.get('on') else 'off'}"
    if typ == "SetLongDelays":
        return f"long delays {'on' if fault.get('on') else 'off'}"
    return str(typ).lower() if typ else "fault"


def fault_periods(records: Iterable[list], end: float) -> list[dict[str, Any]]:
    """When the run was under a fault: ``crash`` periods of one node (crash to restart) and
    ``network`` periods (from a partition, cut, disconnection or unreliable spell until the
    network is whole again), each ``{kind, start, end, node, label}``; a period still open at
    the end of the run ends there. Faults recorded at the same time (a leader cut off link by
    link) open one period, not one of no length per record."""
    periods: list[dict[str, Any]] = []
    down: dict[str, float] = {}
    active: dict[str, str] = {}           # what is wrong with the network now, by key
    opened = 0.0
    for r in records:
        t, kind = float(r[0]), r[1]
        if kind == "crash":
            down.setdefault(str(r[2]), t)
        elif kind == "restart" and str(r[2]) in down:
            node = str(r[2])
            periods.append(_period("crash", down.pop(node), t, node, f"{node} down"))
        elif kind == "fault" and isinstance(r[2], dict):
            before = dict(active)
            _apply_fault(active, r[2])
            if active != before:
                if before and t > opened:  # faults made together (a cut link by link): one
                    periods.append(_period("network", opened, t, None, "; ".join(before.values())))
                opened = t
    for node, t in down.items():
        periods.append(_period("crash", t, end, node, f"{node} down"))
    if active:
        periods.append(_period("network", opened, end, None, "; ".join(active.values())))
    return sorted(periods, key=lambda p: (p["start"], p["kind"], p["node"] or ""))


def shading(periods: Iterable[dict[str, Any]]) -> list[list]:
    """The fault periods merged for shading a chart of the run: [start, end, kind] with kind
    ``network`` (the network was not whole) or ``crash`` (some node was down), overlapping or
    touching periods of one kind as one band. A run whose faults flap draws a few bands, not
    thousands."""
    bands: list[list] = []
    for kind in ("network", "crash"):
        spans = sorted((p["start"], p["end"]) for p in periods if p["kind"] == kind)
        merged: list[list] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end, kind])
        bands.extend(merged)
    return bands


def _period(kind: str, start: float, end: float, node: str | None, label: str) -> dict[str, Any]:
    return {"kind": kind, "start": _t(start), "end": _t(end), "node": node, "label": label}


def _apply_fault(active: dict[str, str], fault: dict[str, Any]) -> None:
    typ = fault.get("type")
    if typ == "Heal":
        for key in [k for k in active if not k.startswith("net:")]:
            del active[key]
    elif typ in ("Partition", "Links"):
        for key in [k for k in active if k.startswith(("cut:", "shape", "off:"))]:
            del active[key]
        active["shape"] = describe_fault(fault)
    elif typ == "Disconnect":
        active[f"off:{fault.get('node')}"] = f"{fault.get('node')} disconnected"
    elif typ == "Connect":
        active.pop(f"off:{fault.get('node')}", None)
    elif typ == "Cut":
        active[f"cut:{fault.get('src')}>{fault.get('dst')}"] = describe_fault(fault)
    elif typ == "Uncut":
        active.pop(f"cut:{fault.get('src')}>{fault.get('dst')}", None)
    elif typ == "SetReliable":
        _flag(active, "net:unreliable", not fault.get("reliable"), "unreliable network")
    elif typ == "SetLongReordering":
        _flag(active, "net:reorder", bool(fault.get("on")), "long reordering")
    elif typ == "SetLongDelays":
        pass                              # a setting of undeliverable messages, not a fault


def _flag(active: dict[str, str], key: str, on: bool, label: str) -> None:
    if on:
        active[key] = label
    else:
        active.pop(key, None)


def role_changes(records: Iterable[list], names: Sequence[str]) -> list[list]:
    """[t, lane, role, term] for every role change (a crash is a change to ``down``)."""
    lane = {n: i for i, n in enumerate(names)}
    out = []
    for r in records:
        if r[1] == "role":
            out.append([_t(r[0]), lane[str(r[2])], str(r[3]), r[4]])
        elif r[1] == "crash" and str(r[2]) in lane:
            out.append([_t(r[0]), lane[str(r[2])], "down", None])
    return out


def window_roles(changes: Sequence[list], lo: float, hi: float) -> list[list]:
    """The role changes of ``lo..hi``, after the last change of each lane before ``lo`` (with its
    own time): the role a node held when the window opens (a leader elected before it is drawn
    leading from the window's start)."""
    before: dict[int, list] = {}
    for r in changes:
        if r[0] < lo:
            before[r[1]] = r
    return sorted(before.values(), key=lambda r: (r[0], r[1])) + [
        r for r in changes if lo <= r[0] <= hi]


# ---------------------------------------------------------------- client operations

def operations(records: Iterable[list]) -> list[dict[str, Any]]:
    """The client operations of the run's history, in invocation order: client, start, end
    (``None``: never completed), what was asked (``f key value``), the outcome type
    (``ok``, ``fail``, ``info`` or ``pending``) and the value returned."""
    ops: list[dict[str, Any]] = []
    open_: dict[str, dict[str, Any]] = {}
    for r in records:
        if r[1] != "history":
            continue
        client, typ, op = str(r[2]), str(r[3]), r[4]
        f, key, value = (list(op) + [None, None, None])[:3] if isinstance(op, list) else (op, None, None)
        if typ == "invoke":
            entry = {"id": len(ops), "client": client, "start": _t(r[0]), "end": None,
                     "f": str(f), "key": _text(key), "value": _text(value), "type": "pending",
                     "output": None}
            ops.append(entry)
            open_[client] = entry
        elif client in open_:
            entry = open_.pop(client)
            entry["type"] = typ
            entry["output"] = _text(value)
            if typ != "info":             # info: the outcome is unknown, the op never ended
                entry["end"] = _t(r[0])
    return ops


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return msgspec.json.encode(value).decode()


def latency(ops: Iterable[dict[str, Any]], lo: float = 0.0) -> dict[str, Any]:
    """Latency of every completed operation (points [start, ms, op id]) and its summary. An
    operation that started before ``lo`` (the window's start) is drawn at ``lo``."""
    points = [[max(op["start"], _t(lo)), _t(op["end"] - op["start"]), op["id"]] for op in ops
              if op["end"] is not None]
    values = sorted(p[1] for p in points)
    summary: dict[str, Any] = {"count": len(values)}
    if values:
        summary.update(mean=_t(sum(values) / len(values)), p50=_pct(values, 0.5),
                       p99=_pct(values, 0.99), max=values[-1])
    return {"points": points, "summary": summary}


def _pct(values: Sequence[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def throughput(ops: Iterable[dict[str, Any]], lo: float, hi: float,
               buckets: int = BUCKETS) -> dict[str, Any]:
    """Operations completed in each slice of ``lo..hi``, and per second. A slice is a round
    width (1, 2 or 5 times a power of ten ms, at least 10 ms) of at most ``buckets`` slices;
    the last may reach past ``hi``."""
    width = bucket_width((hi - lo) / buckets)
    buckets = max(1, math.ceil((hi - lo) / width - 1e-9))
    counts = [0] * buckets
    for op in ops:
        end = op["end"]
        if end is not None and lo <= end <= hi and op["type"] == "ok":
            counts[min(buckets - 1, int((end - lo) / width))] += 1
    return {"bucket_ms": _t(width), "counts": counts,
            "per_s": _t(sum(counts) / ((hi - lo) / 1000)) if hi > lo else 0.0}


def bucket_width(least: float) -> float:
    """The smallest of 10, 20, 50, 100, 200, 500, ... ms that is at least ``least``."""
    width = 10.0
    while True:
        for k in (1, 2, 5):
            if width * k >= least:
                return width * k
        width *= 10


# ---------------------------------------------------------------- per node

def node_stats(records: Iterable[list], names: Sequence[str], lo: float = 0.0,
               hi: float = float("inf")) -> list[dict[str, Any]]:
    """Per node (in lane order), over ``lo..hi``: messages and bytes sent and received (bytes as
    the network counts them: the message's msgpack size), elections started (became candidate)
    and won (became leader), the highest term it held, snapshots taken or installed, crashes."""
    size_of = message_size()
    stats: dict[str, dict[str, Any]] = {n: {"node": n, "sent": 0, "sent_bytes": 0, "received": 0, "received_bytes": 0,
                 "elections": 0, "won": 0, "term": None, "terms": 0, "snapshots": 0,
                 "crashes": 0} for n in names}
    sizes: dict[int, int] = {}
    terms: dict[str, set[int]] = {n: set() for n in names}
    for r in records:
        kind, t = r[1], r[0]
        if kind == "send":
            sizes[r[2]] = size = size_of(r[5])
            if lo <= t <= hi:
                st = stats[str(r[3])]
                st["sent"] += 1
                st["sent_bytes"] += size
        elif not lo <= t <= hi:
            continue
        elif kind == "deliver":
            st = stats[str(r[4])]
            st["received"] += 1
            st["received_bytes"] += sizes.get(r[2], 0)
        elif kind == "role":
            st = stats[str(r[2])]
            st["elections"] += r[3] == "candidate"
            st["won"] += r[3] == "leader"
            if isinstance(r[4], int):
                terms[str(r[2])].add(r[4])
                st["term"] = max(st["term"] or 0, r[4])
        elif kind == "snapshot":
            stats[str(r[2])]["snapshots"] += 1
        elif kind == "crash":
            stats[str(r[2])]["crashes"] += 1
    for n in names:
        stats[n]["terms"] = len(terms[n])
    return [stats[n] for n in names]


def message_size() -> Any:
    """A function giving a traced message's size as the network counted it: the msgpack
    encoding of the message struct. A known message type is rebuilt as its struct first (the
    trace holds bytes fields, such as a snapshot's data, as base64 text); any other message is
    measured as it was recorded."""
    import protocols.kv.messages
    import protocols.raft.messages
    import protocols.shardctrler.messages
    import protocols.shardkv.messages
    types: dict[str, type] = {}
    for module in (protocols.raft.messages, protocols.kv.messages,
                   protocols.shardctrler.messages, protocols.shardkv.messages):
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, msgspec.Struct)
                    and value.__struct_config__.tag_field == "type"):
                types.setdefault(str(value.__struct_config__.tag), value)
    encode = msgspec.msgpack.Encoder().encode

    def size(msg: Any) -> int:
        cls = types.get(str(msg.get("type"))) if isinstance(msg, dict) else None
        if cls is not None:
            try:
                return len(encode(msgspec.convert(msg, cls)))
            except msgspec.ValidationError:
                pass                      # not what the type says: measure it as recorded
        return len(encode(msg))

    return size


# ---------------------------------------------------------------- the checker's failure

def failure_focus(check: Any) -> dict[str, Any] | None:
    """Where the operation that could not be linearized sits, for the link from the
    linearizability view to the message diagram: its client and its call and return times."""
    from checkers.linearizability import INFINITY, Verdict
    for part in check.partitions:
        if part.verdict is Verdict.ILLEGAL and part.partials:
            op = part.operations[part.partials[0].blocked]
            end = None if op.return_ == INFINITY else _t(op.return_)
            return {"client": str(op.client_id), "call": _t(op.call), "return": end,
                    "partition": part.label}
    return None
