"""Quorum arithmetic, pure and separate from the protocol (as etcd's quorum package).

Never touches Raft state: it takes plain integers and tuples.
"""

from __future__ import annotations

from typing import Sequence

__all__ = ["majority", "vote_won", "committed_index"]


def majority(n: int) -> int:
    """Smallest number of members that forms a quorum of ``n``."""
    return n // 2 + 1


def vote_won(votes_mask: int, n: int) -> bool:
    """True when the bitmask of granted votes covers a majority of ``n`` members."""
    return votes_mask.bit_count() >= majority(n)


def committed_index(match: Sequence[int]) -> int:
    """Highest index replicated on a majority, given each member's match index (§5.3)."""
    return sorted(match)[(len(match) - 1) // 2]    # the majority(n)-th largest, from below
