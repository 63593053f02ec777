"""The built-in sequential specifications: register, key-value, CAS register, versioned put.

Each model is a few small functions, written from the specification alone and independent of
any protocol code (a bug shared by a server and its judge would pass unseen). Every model
partitions its history by key (an absent key is the single key ``None``), and accepts an
``UNKNOWN`` output in every state. ``MODELS`` maps the names the CLI and history headers use.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Hashable, Mapping, NamedTuple

from .model import UNKNOWN, DecodeError, Model, partition_by_key

__all__ = [
    "RegisterInput", "KvInput", "CasInput", "VersionedInput", "VersionedOutput",
    "register_model", "kv_model", "cas_register_model", "versioned_kv_model",
    "MODELS", "get_model", "Typed", "typed",
]

Event = Mapping[str, Any]


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


class Typed:
    """A JSON ``true``/``false`` or floating-point number, equal only to the same value of the
    same JSON type.

    Python says ``True == 1 == 1.0`` (and hashes them alike); JSON says they are three values.
    Values and keys read from a history wrap booleans and floats in ``Typed`` so that a write of
    ``1`` followed by a read of ``true`` (or ``1.0``) is not linearizable and ``true`` and ``1``
    are different keys. Integers, strings and ``null`` (None) compare correctly as they are.
    """

    __slots__ = ("value",)

    def __init__(self, value: bool | float) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Typed:
            return False
        a, b = self.value, other.value
        return a.__class__ is b.__class__ and (a == b or (a != a and b != b))  # nan is itself

    def __hash__(self) -> int:
        value = self.value
        return hash((value.__class__ is bool, 0.0 if value != value else value))

    def __repr__(self) -> str:
        value = self.value
        if value.__class__ is bool:
            return "true" if value else "false"
        return repr(value)


MAX_DEPTH = 32  # lists nested deeper than this are refused as values


def typed(value: Any, depth: int = 0) -> Hashable:
    """A JSON value as the models compare it: booleans and floats wrapped in ``Typed``, lists
    frozen into tuples; integers, strings and None as they are. Objects are refused, and so
    are lists nested more than ``MAX_DEPTH`` deep."""
    cls = value.__class__
    if cls is str or cls is int or value is None:
        return value
    if cls is bool or cls is float:
        return Typed(value)
    if cls is list or cls is tuple:
        if depth >= MAX_DEPTH:
            raise DecodeError(f"lists nested at most {MAX_DEPTH} deep")
        return tuple(typed(v, depth + 1) for v in value)
    if isinstance(value, Typed):
        return value
    raise DecodeError(f"a JSON scalar or list, not {cls.__name__}")


def _key_of(event: Event) -> Hashable:
    """The event's key, typed (``true`` and ``1`` are different keys); absent: the key None."""
    if "key" not in event:
        return None
    key = event["key"]
    if key is None or not isinstance(key, (str, int, float)):
        raise DecodeError("'key' to be a string or a number (or no 'key' at all)", event)
    return typed(key)


def _field(event: Event, name: str, kind: type, what: str) -> Any:
    value = event.get(name)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise DecodeError(f"{what} in '{name}'", event)
    return value


def _scalar(value: Any, event: Event | None = None) -> Hashable:
    """Register values: JSON scalars compared by type (see ``typed``), lists frozen into tuples
    so states stay hashable."""
    try:
        return typed(value)
    except DecodeError as err:
        if "nested" in err.expected:
            raise DecodeError(f"a 'value' with {err.expected}", event) from None
        raise DecodeError("a scalar or list 'value', not an object", event) from None


def _value_of(event: Event, what: str) -> Hashable:
    """The event's ``value`` (``null``: no value); a missing ``value`` is an error, not null."""
    if "value" not in event:
        raise DecodeError(f"a 'value' {what} (null for no value)", event)
    return _scalar(event["value"], event)


def _describe(name: str, key: Hashable, *args: Any) -> str:
    shown = ([] if key is None else [_short(key)]) + [_short(a) for a in args]
    return f"{name}({', '.join(shown)})"


def _describe_rw(op: str, key: Hashable, value: Any, out: Any) -> str:
    """``read(k) -> v`` shows what was read; ``write(k, v)`` what was written."""
    if op in ("read", "get"):
        shown = "?" if out is UNKNOWN else ("(no value)" if out is None else _short(out))
        return f"{_describe(op, key)} -> {shown}"
    return _describe(op, key, value) + (" -> ?" if out is UNKNOWN else "")


# ------------------------------------------------------------------------------- register

class RegisterInput(NamedTuple):
    """``read`` or ``write value``; the output of a read is the value read (None: no value)."""
    op: str
    key: Hashable = None
    value: Hashable = None


def _register_step(state: Hashable, inp: RegisterInput, out: Any) -> tuple[bool, Hashable]:
    if inp.op == "read":
        return (out == state or out is UNKNOWN), state
    return True, inp.value


def _register_decode(invoke: Event, complete: Event | None) -> tuple[RegisterInput, Any] | None:
    f, key = invoke.get("f"), _key_of(invoke)
    if f == "read":
        out = UNKNOWN if complete is None else _value_of(complete, "read on this completion")
        return RegisterInput("read", key), out
    if f == "write":
        out = UNKNOWN if complete is None else None
        return RegisterInput("write", key, _value_of(invoke, "to write")), out
    raise DecodeError("'f' to be read or write for the register model")


register_model: Model = Model(
    name="register",
    init=lambda: None,
    step=_register_step,
    partition=partition_by_key,
    read_only=lambda i, o: i.op == "read",
    plain_read=lambda i, o: i.op == "read",
    describe_operation=lambda i, o: _describe_rw(i.op, i.key, i.value, o),
    describe_state=lambda s: "(no value)" if s is None else _short(s, 200),
    decode=_register_decode,
)


# ------------------------------------------------------------------------------- key-value

class KvInput(NamedTuple):
    """``get key``, ``put key value`` or ``append key value``; a get outputs the value read."""
    op: str
    key: Hashable
    value: str | None = None


def _kv_step(state: str, inp: KvInput, out: Any) -> tuple[bool, str]:
    op = inp.op
    if op == "get":
        return (out == state or out is UNKNOWN), state
    if op == "put":
        return True, inp.value  # type: ignore[return-value]
    return True, state + inp.value  # type: ignore[operator]


def _kv_decode(invoke: Event, complete: Event | None) -> tuple[KvInput, Any] | None:
    f = invoke.get("f")
    key = invoke.get("key")
    if key.__class__ is not str:            # a string key is itself; anything else: _key_of
        key = _key_of(invoke)
    if f == "get":
        if complete is None:
            return _kv_input(("get", key, None)), UNKNOWN  # read-only: the checker drops it
        value = complete.get("value")
        if value.__class__ is not str:
            value = _field(complete, "value", str, "a string value read by get")
        return _kv_input(("get", key, None)), value
    if f == "put" or f == "append":
        value = invoke.get("value")
        if value.__class__ is not str:
            value = _field(invoke, "value", str, f"a string value for {f}")
        return _kv_input((f, key, value)), (UNKNOWN if complete is None else None)
    raise DecodeError("'f' to be get, put or append for the kv model")


#: ``KvInput(op, key, value)`` without the Python frame of its generated ``__new__`` (which
#: does exactly this): a history of many operations decodes each one.
_kv_input = partial(tuple.__new__, KvInput)


kv_model: Model = Model(
    name="kv",
    init=lambda: "",
    step=_kv_step,
    partition=partition_by_key,
    read_only=lambda i, o: i.op == "get",
    plain_read=lambda i, o: i.op == "get",
    describe_operation=lambda i, o: _describe_rw(i.op, i.key, i.value, o),
    describe_state=lambda s: _short(s, 200),
    decode=_kv_decode,
)


# ---------------------------------------------------------------------- CAS register

class CasInput(NamedTuple):
    """``read``, ``write value`` or ``cas expected new``; a cas outputs whether it swapped."""
    op: str
    key: Hashable = None
    value: Hashable = None
    new: Hashable = None


def _cas_step(state: Hashable, inp: CasInput, out: Any) -> tuple[bool, Hashable]:
    op = inp.op
    if op == "read":
        return (out == state or out is UNKNOWN), state
    if op == "write":
        return True, inp.value
    hit = state == inp.value
    return (out is UNKNOWN or out == hit), (inp.new if hit else state)


def _cas_decode(invoke: Event, complete: Event | None) -> tuple[CasInput, Any] | None:
    f, key = invoke.get("f"), _key_of(invoke)
    if f in ("read", "write"):
        inp, out = _register_decode(invoke, complete)  # type: ignore[misc]
        return CasInput(f, key, inp.value), out
    if f != "cas":
        raise DecodeError("'f' to be read, write or cas for the cas-register model")
    pair = invoke.get("value")
    if not isinstance(pair, list) or len(pair) != 2:
        raise DecodeError("'value' to be [expected, new] for cas", invoke)
    if complete is None:
        return CasInput("cas", key, _scalar(pair[0]), _scalar(pair[1])), UNKNOWN
    result = complete.get("result", True)
    if not isinstance(result, bool):
        raise DecodeError("'result' to be true or false for cas", complete)
    return CasInput("cas", key, _scalar(pair[0]), _scalar(pair[1])), result


def _cas_describe(i: CasInput, o: Any) -> str:
    if i.op == "cas":
        return _describe("cas", i.key, i.value, i.new) + (" -> ?" if o is UNKNOWN else f" -> {o}")
    return _describe_rw(i.op, i.key, i.value, o)


cas_register_model: Model = Model(
    name="cas-register",
    init=lambda: None,
    step=_cas_step,
    partition=partition_by_key,
    read_only=lambda i, o: i.op == "read" or (i.op == "cas" and o is False),  # a failed cas
    plain_read=lambda i, o: i.op == "read",
    describe_operation=_cas_describe,
    describe_state=lambda s: "(no value)" if s is None else _short(s, 200),
    decode=_cas_decode,
)


# ------------------------------------------------------------------- versioned put

class VersionedInput(NamedTuple):
    """``get key`` or ``put key value version`` (a conditional put, as in the 2025 lab)."""
    op: str
    key: Hashable
    value: str | None = None
    version: int | None = None


class VersionedOutput(NamedTuple):
    """What a get returned (value, version, err) or what a put returned (err only)."""
    value: str | None = None
    version: int | None = None
    err: str = "OK"


_PUT_APPLIED = frozenset({"OK", "ErrMaybe"})
_PUT_REFUSED = frozenset({"ErrVersion", "ErrMaybe"})


Versioned = tuple[str, int]


def _versioned_step(state: Versioned, inp: VersionedInput, out: Any) -> tuple[bool, Versioned]:
    value, version = state
    if inp.op == "get":
        return (out is UNKNOWN or out.value == value), state  # the version is not compared
    if inp.version == version:
        legal = out is UNKNOWN or out.err in _PUT_APPLIED
        return legal, (inp.value, version + 1)  # type: ignore[return-value]
    return (out is UNKNOWN or out.err in _PUT_REFUSED), state


def _versioned_decode(invoke: Event, complete: Event | None) -> tuple[VersionedInput, Any] | None:
    f, key = invoke.get("f"), _key_of(invoke)
    if f == "get":
        if complete is None:
            return VersionedInput("get", key), UNKNOWN  # read-only: the checker drops it
        value = _field(complete, "value", str, "a string value read by get")
        version = complete.get("version")
        err = complete.get("err", "OK")
        return VersionedInput("get", key), VersionedOutput(value, version, err)
    if f != "put":
        raise DecodeError("'f' to be get or put for the versioned-kv model")
    value = _field(invoke, "value", str, "a string value for put")
    version = _field(invoke, "version", int, "an integer version for put")
    if complete is None:
        return VersionedInput("put", key, value, version), UNKNOWN
    err = _field(complete, "err", str, "an error string (OK, ErrVersion, ErrMaybe) for put")
    return VersionedInput("put", key, value, version), VersionedOutput(err=err)


def _versioned_describe(i: VersionedInput, o: Any) -> str:
    if i.op == "get":
        shown = " -> ?" if o is UNKNOWN else f" -> ({_short(o.value)}, {o.version}, {o.err})"
        return _describe("get", i.key) + shown
    return _describe("put", i.key, i.value, i.version) + (" -> ?" if o is UNKNOWN else f" -> {o.err}")


versioned_kv_model: Model = Model(
    name="versioned-kv",
    init=lambda: ("", 0),
    step=_versioned_step,
    partition=partition_by_key,
    read_only=lambda i, o: i.op == "get" or (o is not UNKNOWN and o.err == "ErrVersion"),
    describe_operation=_versioned_describe,
    describe_state=lambda s: f"({_short(s[0], 200)}, v{s[1]})",
    decode=_versioned_decode,
)


MODELS: dict[str, Model] = {
    m.name: m for m in (register_model, kv_model, cas_register_model, versioned_kv_model)
}


def get_model(name: str) -> Model:
    """The built-in model called ``name``; raises ``KeyError`` naming the choices."""
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r} (choose from {', '.join(MODELS)})") from None
