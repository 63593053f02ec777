"""The network's parameters, kept out of the compiled build (tools/build_compiled.py): mypyc
drops msgspec Struct class options such as ``frozen`` and ``forbid_unknown_fields``.
``sim.network`` re-exports ``NetParams``; import it from there."""

from __future__ import annotations

from typing import Annotated

import msgspec

__all__ = ["NetParams"]

#: Validation of params read from JSON: probabilities in [0, 1], delays finite and >= 0 (at most
#: a day). Constructors do not check them.
_P = Annotated[float, msgspec.Meta(ge=0, le=1)]
_Ms = Annotated[float, msgspec.Meta(ge=0, le=86_400_000)]


class NetParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Network behaviour. The defaults are labrpc's reliable network (no delay)."""

    reliable: bool = True
    reliable_delay: _Ms = 0.0              # labrpc: none
    short_delay: tuple[_Ms, _Ms] = (0.0, 27.0)   # unreliable: uniform [lo, hi) ms
    short_delay_replies: bool = False      # labrpc delays requests only
    drop_request: _P = 0.1                 # unreliable only
    drop_reply: _P = 0.1                   # unreliable only
    duplicate: _P = 0.0                    # any network: probability of a second copy
    reorder: _P = 0.0                      # any network: probability of an extra delay
    reorder_delay: tuple[_Ms, _Ms] = (0.0, 100.0)
    long_reordering: bool = False          # replies: p=600/900 of +200+randint(0, randint(0, 1999))
    long_delays: bool = False              # undeliverable: fail after [0, 7000) instead of [0, 100)
    fail_delay: _Ms = 100.0
    long_fail_delay: _Ms = 7000.0
