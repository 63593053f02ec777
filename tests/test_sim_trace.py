"""Trace: determinism of the digest, the file format and its integrity checks.

Run as a script (``python tests/test_sim_trace.py SEED``) it prints the digest of the toy
gossip run, which the cross-process test compares under different PYTHONHASHSEED values.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from protocols.core import (  # noqa: E402
    Apply, Note, Persist, Receive, Restart, RoleChanged, Send, SetTimer, TimerFired,
)
from sim import (  # noqa: E402
    FaultProfile, Host, NetParams, Nemesis, Network, Trace, TraceError, World,
    first_difference, load_trace, random_schedule,
)

SERVERS = ("s0", "s1", "s2", "s3", "s4")


class Gossip(msgspec.Struct, frozen=True, tag=True):
    count: int
    seen: frozenset[str]


class Ack(msgspec.Struct, frozen=True, tag=True):
    IS_REPLY: ClassVar[bool] = True
    count: int


class GState(msgspec.Struct, frozen=True):
    me: str
    count: int = 0
    seen: frozenset[str] = frozenset()


def gossip(state: GState, event: Any) -> tuple[GState, list]:
    """Counts ticks, persists the count, gossips it with the set of names heard of."""
    me = state.me
    if isinstance(event, Restart):
        count = event.durable.state if event.durable else 0
        return GState(me, count, frozenset({me})), [SetTimer("tick", 10, 50),
                                                     RoleChanged("follower", count)]
    if isinstance(event, TimerFired):
        count = state.count + 1
        sends = [Send(p, Gossip(count, state.seen)) for p in SERVERS if p != me]
        return (GState(me, count, state.seen),
                [Persist(count), *sends, Apply(count, 1, f"{me}:{count}"),
                 SetTimer("tick", 10, 50)])
    if isinstance(event, Receive) and isinstance(event.msg, Gossip):
        seen = state.seen | event.msg.seen | {event.src}
        return GState(me, max(state.count, event.msg.count), seen), [Send(event.src,
                                                                          Ack(state.count))]
    if isinstance(event, Receive):
        return state, [Note("ack", event.msg.count)]
    return state, []


def run_gossip(seed: int, path: str | None = None, keep: bool = False,
               until: float = 3000.0) -> Trace:
    world = World(seed)
    trace = Trace(seed=seed, scenario="gossip", params={"until": until}, path=path, keep=keep)
    net = Network(world, trace, NetParams(reliable=False, duplicate=0.02, reorder=0.05))
    hosts = {a: Host(world, a, gossip, lambda a=a: GState(a), network=net) for a in SERVERS}
    for h in hosts.values():
        h.boot()
    profile = FaultProfile(mean_gap_ms=200.0, settle_ms=500.0, flip_long_reordering=0.5)
    schedule = random_schedule(world.rng("faults"), SERVERS, until, profile, reliable=False)
    Nemesis(world, net, hosts).run(schedule)
    world.run(until=until)
    trace.close()
    return trace


# ---------------------------------------------------------------- determinism

def test_same_seed_same_digest_and_lines() -> None:
    """Two runs with one seed produce byte-identical lines and the same digest."""
    a, b = run_gossip(7, keep=True), run_gossip(7, keep=True)
    assert a.digest() == b.digest()
    assert first_difference(a.lines, b.lines) is None
    assert a.count > 1000


# Golden digest of ``run_gossip(7)``. It changes when the simulator's behaviour or the trace
# format changes on purpose; then print the new one with ``python tests/test_sim_trace.py 7``.
GOLDEN_GOSSIP_7 = "c8d757bda18624867666e65e22e4185c"


def test_golden_digest_catches_behaviour_changes() -> None:
    """A seeded run keeps its digest across versions unless the behaviour changes on purpose."""
    assert run_gossip(7).digest() == GOLDEN_GOSSIP_7


def test_different_seeds_give_different_traces() -> None:
    """Changing the seed changes the run."""
    a, b = run_gossip(7, keep=True), run_gossip(8, keep=True)
    assert a.digest() != b.digest()
    diff = first_difference(a.lines, b.lines)
    assert diff is not None and diff.line == 1  # the header holds the seed
    assert first_difference(a.lines[1:], b.lines[1:]) is not None


def test_same_digest_in_other_processes_under_any_hash_seed() -> None:
    """The digest does not depend on the process or on PYTHONHASHSEED (the messages carry
    sets of strings, whose iteration order does)."""
    here = run_gossip(11).digest()
    outs = []
    for hash_seed in ("1", "2", "random"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed, PYTHONPATH=str(ROOT))
        proc = subprocess.run([sys.executable, __file__, "11"], env=env, capture_output=True,
                              text=True, check=True, timeout=120)
        outs.append(proc.stdout.strip())
    assert outs == [here, here, here]


def test_digest_is_blake2b_over_lines_with_newlines() -> None:
    """digest = blake2b-128 over every line (header included) each followed by a newline."""
    trace = run_gossip(3, keep=True, until=500.0)
    h = hashlib.blake2b(digest_size=16)
    for line in trace.lines:
        h.update(line + b"\n")
    assert trace.digest() == h.hexdigest()
    assert len(trace.lines) == trace.count + 1


def test_unordered_collections_encode_sorted() -> None:
    """A set inside a record is written sorted, whatever the hash seed."""
    trace = Trace(keep=True)
    trace.add((0.0, "note", "s0", "x", frozenset({"b", "c", "a"})))
    trace.flush()
    assert trace.lines[1] == b'[0.0,"note","s0","x",["a","b","c"]]'


def test_unencodable_record_is_reported_with_its_kind() -> None:
    """A record that msgspec cannot encode fails loudly, naming the record."""
    trace = Trace()
    trace.add((0.0, "note", "s0", "x", object()))
    with pytest.raises(TypeError, match="note"):
        trace.flush()


# ---------------------------------------------------------------- the file format

def test_trace_file_round_trip(tmp_path: Path) -> None:
    """A streamed trace loads back: header, every record, footer digest = running digest."""
    path = tmp_path / "run.trace.jsonl"
    trace = run_gossip(5, path=str(path), keep=True, until=1000.0)
    loaded = load_trace(str(path))
    assert loaded.header["format"] == "raftsim-trace" and loaded.header["seed"] == 5
    assert loaded.header["params"] == {"until": 1000.0}
    assert loaded.digest == trace.digest()
    assert len(loaded.records) == trace.count
    assert loaded.lines == trace.lines
    kinds = {r[1] for r in loaded.records}
    assert {"send", "deliver", "drop", "timer", "fault", "apply", "role"} <= kinds
    assert all(len(r) == 2 + len(loaded.header["fields"][r[1]]) for r in loaded.records)


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


@pytest.fixture
def good(tmp_path: Path) -> tuple[Path, list[bytes]]:
    path = tmp_path / "good.jsonl"
    run_gossip(5, path=str(path), until=300.0)
    return path, path.read_bytes().split(b"\n")[:-1]


def test_tampered_record_is_detected(good: tuple[Path, list[bytes]]) -> None:
    """Changing one record, even into valid JSON, breaks the digest (reported at the footer)."""
    path, lines = good
    i = next(k for k, line in enumerate(lines) if k > 0 and b'"deliver"' in line)
    lines[i] = lines[i].replace(b'"deliver"', b'"drop"', 1)[:-1] + b',"unreliable"]'
    write_lines(path, lines)
    with pytest.raises(TraceError) as err:
        load_trace(str(path))
    assert err.value.line == len(lines) and "digest mismatch" in str(err.value)
    assert str(err.value).startswith(f"{path}:{len(lines)}: ") and "\n" not in str(err.value)


def test_truncated_trace_is_detected(good: tuple[Path, list[bytes]]) -> None:
    """A file without its footer, or cut inside a line, is truncated."""
    path, lines = good
    write_lines(path, lines[:-1])
    with pytest.raises(TraceError, match="truncated: no footer"):
        load_trace(str(path))
    path.write_bytes(b"".join(line + b"\n" for line in lines)[:-30])
    with pytest.raises(TraceError, match="truncated"):
        load_trace(str(path))


def test_non_json_line_is_reported_with_its_line_number(good: tuple[Path, list[bytes]]
                                                        ) -> None:
    """A line that is not JSON is reported as FILE:LINE."""
    path, lines = good
    lines[3] = b"[12.5, \"send\", oops"
    write_lines(path, lines)
    with pytest.raises(TraceError) as err:
        load_trace(str(path))
    assert err.value.line == 4 and "not JSON" in err.value.what


def test_wrong_format_and_malformed_records_are_rejected(tmp_path: Path) -> None:
    """A foreign header, an empty file or a record of unknown kind is refused."""
    path = tmp_path / "x.jsonl"
    write_lines(path, [b'{"format":"something-else"}', b'{"end":"raftsim-trace"}'])
    with pytest.raises(TraceError, match="not a raftsim-trace file") as err:
        load_trace(str(path))
    assert err.value.line == 1
    path.write_bytes(b"")
    with pytest.raises(TraceError, match="empty"):
        load_trace(str(path))
    trace = Trace(path=str(path))
    trace.add((1.0, "teleport", "s0"))
    trace.close()
    with pytest.raises(TraceError, match="malformed record") as err:
        load_trace(str(path))
    assert err.value.line == 2


def test_harness_record_kinds_are_declared_in_the_header(tmp_path: Path) -> None:
    """Extra kinds given to Trace(fields=...) are declared in the header and load back."""
    path = tmp_path / "h.jsonl"
    trace = Trace(path=str(path), fields={"checkpoint": ["label"]})
    trace.add((1.0, "checkpoint", "warm"))
    trace.add((2.0, "result", "pass", None, None))
    trace.close()
    loaded = load_trace(str(path))
    assert loaded.header["fields"]["checkpoint"] == ["label"]
    assert [r[1] for r in loaded.records] == ["checkpoint", "result"]


def test_first_difference_points_at_the_diverging_line() -> None:
    """first_difference gives the 1-based line where two traces diverge, or None."""
    a = [b"h", b"x", b"y"]
    assert first_difference(a, list(a)) is None
    assert first_difference(a, [b"h", b"x", b"z"]) == (3, b"y", b"z")
    assert first_difference(a, a[:2]) == (3, b"y", None)


if __name__ == "__main__":
    print(run_gossip(int(sys.argv[1])).digest())
