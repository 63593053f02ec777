"""The links of the explorer's wire: what ``overflow="lose-oldest"`` keeps of them, and the
runs of identical copies whose order it tells apart.

Owns pure functions over a wire (a tuple of ``InFlight`` in sending order, so the messages of
one link are in the order they were sent). Never reads a clock or a random source.
"""

from __future__ import annotations

from sim.cluster import InFlight

__all__ = ["lose_oldest", "lose_appended", "run_of"]


def lose_appended(inflight: tuple[InFlight, ...], base: int, k: int,
                   ) -> tuple[tuple[InFlight, ...], tuple[InFlight, ...]] | None:
    """``lose_oldest(inflight, k)`` when the messages before ``base`` hold at most ``k`` on
    any link (only the links of those from ``base`` on are counted), or None when no link
    holds more than ``k``."""
    over: dict[tuple[str, str], int] | None = None
    for i in range(base, len(inflight)):
        src, dst = inflight[i][0], inflight[i][1]
        if over is not None and (src, dst) in over:
            continue
        n = 0
        for o in inflight:
            if o[1] == dst and o[0] == src:
                n += 1
        if n > k:
            if over is None:
                over = {}
            over[(src, dst)] = n - k
    if over is None:
        return None
    return _drop_oldest(inflight, over)


def lose_oldest(inflight: tuple[InFlight, ...], k: int,
                ) -> tuple[tuple[InFlight, ...], tuple[InFlight, ...]]:
    """``inflight`` with at most ``k`` messages per link, the newest (the wire is in sending
    order), and the messages lost, oldest first."""
    counts: dict[tuple[str, str], int] = {}
    for m in inflight:
        link = (m[0], m[1])
        counts[link] = counts.get(link, 0) + 1
    over = {link: n - k for link, n in counts.items() if n > k}
    if not over:
        return inflight, ()
    return _drop_oldest(inflight, over)


def _drop_oldest(inflight: tuple[InFlight, ...], over: dict[tuple[str, str], int],
                 ) -> tuple[tuple[InFlight, ...], tuple[InFlight, ...]]:
    """``inflight`` without the ``over[link]`` oldest messages of each link in ``over`` (which
    it uses up), and those messages, oldest first."""
    kept: list[InFlight] = []
    lost: list[InFlight] = []
    for m in inflight:
        link = (m[0], m[1])
        extra = over.get(link)
        if extra:
            over[link] = extra - 1
            lost.append(m)
        else:
            kept.append(m)
    return tuple(kept), tuple(lost)


def run_of(inflight: tuple[InFlight, ...], k: int) -> int:
    """The run of copies of ``inflight[k]`` on its link that ``k`` begins (0 for the oldest
    copy's run), or -1 when ``k`` is not the first copy of its run."""
    m = inflight[k]
    run, copies, apart, first = -1, False, False, False
    for j in range(k + 1):
        o = inflight[j]
        if o == m:
            first = not copies or apart
            if first:
                run += 1
            copies, apart = True, False
        elif copies and o[0] == m[0] and o[1] == m[1]:
            apart = True
    return run if first else -1
