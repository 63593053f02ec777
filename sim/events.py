"""Events the simulator adds to the vocabulary of ``protocols.core`` (never edited here).

``SendFailed`` is labrpc's ``Call`` returning false, as an event: it reaches a host that asked
``Network.notify_on_failure(addr)`` when one of its requests was dropped or could not be
delivered, after the failure delay. Replies that are lost produce no notification.
"""

from __future__ import annotations

from typing import Any

from protocols.core import Event

__all__ = ["SendFailed"]


class SendFailed(Event, frozen=True):
    """The request ``msg`` that this node sent to ``dst`` was lost."""
    dst: str
    msg: Any
