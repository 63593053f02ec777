"""The records of a clerk (``clerk.py``): its configuration and its state (msgspec Structs)
and its error (a builtin's subclass). Kept in a module of their own so that ``clerk.py`` may
be compiled (tools/build_compiled.py) while these stay interpreted; ``clerk`` re-exports them.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["ClerkConfig", "ClerkState", "ClerkBusy"]


class ClerkConfig(msgspec.Struct, frozen=True):
    """``servers`` in the order the clerk tries them (the lab hands each clerk a permutation).

    Retry: 100 ms by default. labrpc fails a call to a dead or cut-off server after 0-100 ms
    and its clerks move on at once, so a clerk must not wait much longer than that; a server
    that accepted the request but cannot commit it (minority leader) never answers, and this
    timer is what moves the clerk away from it.
    """
    me: str
    servers: tuple[str, ...]
    retry_lo: float = 100.0
    retry_hi: float = 100.0


class ClerkState(msgspec.Struct, frozen=True):
    """``op`` is the operation in progress (None when idle), numbered ``seq``; ``target`` the
    server last asked and ``tries`` how many servers were asked since the request was (re)sent
    by a timer; ``leader`` the server that answered the last successful operation.

    ``client_id`` names this clerk's dedup session: the address, suffixed by the boot count
    after a reboot, so a restarted clerk (whose seq starts over) never collides with the
    session of its previous life (the lab gets the same from random client ids).
    """
    config: ClerkConfig
    client_id: str
    boot: int = 0
    seq: int = 0
    leader: int = 0
    target: int = 0
    tries: int = 0
    op: Any = None


class ClerkBusy(RuntimeError):
    """A ClientRequest reached a clerk that is still serving one: a driver bug."""
