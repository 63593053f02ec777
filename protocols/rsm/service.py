"""What a replicated service tells the generic server about itself: a record of small pure
functions (Porcupine's model style), so the server over Raft never knows what the commands mean.

Owns the shape of that record only. Never does I/O, never reads a clock or randomness and never
imports simpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Service"]


@dataclass(frozen=True, slots=True)
class Service:
    """A state machine replicated through Raft, with the client protocol around it.

    - ``name`` appears in notes (``"not a KV op"``).
    - ``request`` / ``reply``: the message types clients send and servers answer with. A reply
      that reaches a server is ignored.
    - ``malformed(msg)``: None for a request the service can run, else what to note about it.
    - ``command(msg)``: the log command for a well-formed request.
    - ``identity(command)``: ``(client, seq)`` naming an operation across retries, or None if
      ``command`` is not one of this service's commands.
    - ``empty()``, ``apply(machine, command) -> (machine, result)``: the state machine.
    - ``encode(machine) -> bytes`` (deterministic) and ``decode(bytes) -> machine``: snapshots;
      ``decode(b"")`` is the empty machine.
    - ``answer(seq, result)``: the reply once operation ``seq`` was applied; ``refuse(seq)``: the
      reply that sends a client to another server (the lab's ErrWrongLeader).
    - ``internal(machine, command) -> (machine, effects)``: optional; applies a command that is
      no client's operation (``identity`` None) and that the service proposed itself with
      ``rsm.propose`` (the sharded KV's configuration changes and shard hand-offs). ``effects``
      are observations (``Note``) for the driver. Without it such a command is only noted.
    - ``observe(machine, command, result) -> effects``: optional; observations to emit after a
      client operation applied (the sharded KV reports which shard it served, and under which
      configuration, to the sharding invariants).
    - ``apply_all(machine, commands) -> (machine, results) | None``: optional; for several
      entries committed together, exactly what ``apply`` over each command in turn gives (the
      last machine, each result), or None (and no change) if some command is not a client
      operation (``identity`` None): the server then takes them one by one. A machine of
      persistent maps copies them once per batch instead of once per operation. Not used
      with ``observe`` (it needs each machine).
    """
    name: str
    request: type
    reply: type
    malformed: Callable[[Any], Any]
    command: Callable[[Any], Any]
    identity: Callable[[Any], "tuple[str, int] | None"]
    empty: Callable[[], Any]
    apply: Callable[[Any, Any], "tuple[Any, Any]"]
    encode: Callable[[Any], bytes]
    decode: Callable[[bytes], Any]
    answer: Callable[[int, Any], Any]
    refuse: Callable[[int], Any]
    internal: "Callable[[Any, Any], tuple[Any, list[Any]]] | None" = None
    observe: "Callable[[Any, Any, Any], list[Any]] | None" = None
    apply_all: "Callable[[Any, list[Any]], tuple[Any, list[Any]] | None] | None" = None
