"""Running one scenario with one seed: build the world, run the body, judge, digest.

The outcome of a run is a ``RunResult``, as data: pass, fail or unknown; the ``Failure`` (its
kind, the rule it broke, its message); what the seed drew (``drawn``, valid ``--params``); the
traffic of the world's networks; the linearizability ``CheckResult`` of a KV history; the
virtual and wall time; and the trace digest. The digest covers every record of the trace, so
two runs of the same scenario and seed agree on it exactly, in any process.

Every run is bounded: by its scenario's time limit in virtual time (failure kind
``time-limit``), by ``MAX_RECORDS`` trace records (failure kind ``trace-limit``), by
``MAX_MESSAGES`` messages sent, or its scenario's own tighter budget (failure kind ``budget``,
rule ``messages``) and, when the caller
gives one (campaigns do), by a wall-clock budget (kind ``budget``, rule ``wall-time``). The
message and record budgets are deterministic; the wall budget is not, so only campaigns use
it, to keep one pathological seed from holding a worker for ever. Params are
validated before anything runs or any file is opened. Trace and history files are written to
a temporary file renamed into place when the run ends, so a run that raises leaves no half
file and never touches a file that was already there.
"""

from __future__ import annotations

import builtins
import gc
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generator, Iterator, NoReturn

from checkers.invariants.raft import InvariantViolation
from sim import Trace, World

from scenarios.errors import BadInput
from scenarios.registry import Scenario, get

if TYPE_CHECKING:
    from checkers.linearizability import CheckResult

__all__ = ["ScenarioFailure", "ScenarioUnknown", "BadParams", "fail", "Gen", "Failure",
           "RunContext", "RunResult", "run_scenario", "replay_command", "validate_params",
           "MAX_RECORDS", "MAX_MESSAGES", "TraceLimit", "BudgetExceeded"]

#: The most trace records a run may write; more is the failure ``trace-limit``. Most runs of
#: the suites write thousands to a few hundred thousand; the largest seen, about 710,000
#: (SnapshotRecoverManyClients4B, seed 1). The most extreme params a random run accepts reach it
#: in a few minutes of wall time.
MAX_RECORDS = 5_000_000

#: The most messages a run may send (over every network of its world); more is the failure
#: ``budget`` (rule ``messages``). The lab suites send at most a few hundred thousand
#: (SnapshotRecoverManyClients4B, seed 1: about 160,000); a message storm (a leader answering
#: every reply with another request) reaches the ceiling in seconds of wall time instead of
#: running until the trace ceiling.
MAX_MESSAGES = 2_000_000


class ScenarioFailure(AssertionError):
    """A scenario's own assertion failed (the lab's t.Fatalf). ``kind`` names the check:
    "check" for a lab assertion, "linearizability", "liveness"; ``rule`` optionally names the
    rule within it (None for the lab's checks)."""

    def __init__(self, message: str, kind: str = "check", rule: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.rule = rule


class BadParams(BadInput):
    """Overrides a scenario does not accept, or cannot use (bad input: one line, exit 2)."""


#: What a scenario body is: a SimPy generator.
Gen = Generator[Any, Any, None]


def fail(message: str, kind: str = "check", rule: str | None = None) -> NoReturn:
    """Fail the scenario now (the lab's t.Fatalf)."""
    raise ScenarioFailure(message, kind, rule)


class ScenarioUnknown(Exception):
    """The run could not be judged (e.g. the linearizability check timed out): never a pass."""


class TraceLimit(Exception):
    """The run wrote more trace records than its ceiling allows (failure ``trace-limit``)."""


class BudgetExceeded(Exception):
    """The run used up one of its budgets: ``rule`` is ``messages`` or ``wall-time``."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


class _BoundedTrace(Trace):
    """A trace that raises ``TraceLimit`` once, when its record count passes ``max_records``,
    and ``BudgetExceeded`` once, when the world's networks have sent more than
    ``max_messages`` or the run has taken more than ``wall_budget_s`` seconds (all checked
    per flushed batch, so a run stops within a batch of records of its budget); it keeps
    recording afterwards, so the trace stays whole."""

    def __init__(self, max_records: int, world: World | None = None,
                 max_messages: int | None = None, wall_budget_s: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_records = max_records
        self.over = False
        self.world = world
        self.max_messages = max_messages
        self.wall_budget_s = wall_budget_s
        self.started = time.perf_counter()   # for the wall budget only

    def flush(self) -> None:
        super().flush()
        if self.over:
            return
        if self.count > self.max_records:
            self.over = True
            raise TraceLimit(f"the run wrote more than {self.max_records:,} trace records "
                             f"(the ceiling of a run)")
        if self.max_messages is not None and self.world is not None:
            sent = sum(net.total_count for net in self.world.networks)
            if sent > self.max_messages:
                self.over = True
                raise BudgetExceeded("messages", f"the run sent more than "
                                     f"{self.max_messages:,} messages (its message budget)")
        if self.wall_budget_s is not None:
            spent = time.perf_counter() - self.started
            if spent > self.wall_budget_s:
                self.over = True
                raise BudgetExceeded("wall-time", f"the run took more than "
                                     f"{self.wall_budget_s:g} s of wall time (its budget)")


@dataclass(frozen=True)
class Failure:
    """Why a run did not pass.

    ``kind``: check (a lab assertion), invariant (a Raft safety rule), linearizability,
    liveness, time-limit, trace-limit, budget (the run's ceilings), or unknown (the run could
    not be judged). ``rule``: the invariant's name (election-safety, log-matching, ...), the
    liveness rule, the budget (messages, wall-time), or None. ``str`` is the message.
    """
    kind: str
    message: str
    rule: str | None = None

    def __str__(self) -> str:
        return self.message


@dataclass
class RunContext:
    """What a scenario body gets: the world, the trace, its seed, and where to report."""
    world: World
    trace: Trace
    seed: int
    scenario: Scenario
    params: dict[str, Any] = field(default_factory=dict)  # overrides, replayed from the header
    facts: dict[str, Any] = field(default_factory=dict)   # figures the scenario reports
    history: list[dict[str, Any]] = field(default_factory=list)   # client ops (JSONL shape)
    drawn: dict[str, Any] | None = None    # what the seed drew: see record_drawn
    check: CheckResult | None = None       # the linearizability verdict of the history
    coverage: dict[str, int] = field(default_factory=dict)   # points reached: harness/coverage

    def record_history(self, client: str, type: str, f: str, key: str, value: Any) -> None:
        """One client invocation or completion, in virtual time (trace and history)."""
        now = self.world.env._now
        self.history.append({"t": now, "process": client, "type": type, "f": f, "key": key,
                             "value": value})
        trace = self.trace                      # trace.add, without its call
        buffer = trace.buffer
        buffer.append((now, "history", client, type, [f, key, value]))
        if len(buffer) >= trace.batch:
            trace.flush()

    def record_drawn(self, **sections: Any) -> None:
        """Record what the run drew from its seed (or took from params), as JSON-ready data by
        params section (profile, net, schedule, workload, ...). It becomes ``RunResult.drawn``:
        what ``--dump-params`` writes, a campaign stores and the shrinker makes smaller, so it
        must be valid ``params`` for the same scenario."""
        if self.drawn is None:
            self.drawn = {}
        self.drawn.update(sections)

    @property
    def env(self) -> Any:
        return self.world.env

    @property
    def now(self) -> float:
        return self.world.env.now

    def sleep(self, ms: float) -> Any:
        """A SimPy event that fires ``ms`` virtual milliseconds from now."""
        return self.world.env.timeout(ms)

    def fail(self, message: str, kind: str = "check", rule: str | None = None) -> NoReturn:
        fail(message, kind, rule)


@dataclass
class RunResult:
    scenario: str
    seed: int
    outcome: str                        # "pass", "fail" or "unknown"
    failure: Failure | None             # None when the run passed
    virtual_ms: float
    messages: int                       # sent on the world's networks (0 without a network)
    bytes: int
    digest: str
    records: int
    wall_s: float
    facts: dict[str, Any] = field(default_factory=dict)
    drawn: dict[str, Any] | None = None    # what the seed drew, valid params; None: draws nothing
    check: CheckResult | None = field(default=None, repr=False)   # of the KV history, if checked
    lines: list[builtins.bytes] | None = field(default=None, repr=False)   # with keep_lines=True
    coverage: dict[str, int] = field(default_factory=dict)   # point -> times reached, by name

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready data (``raftsim run --json``, ``replay --json``)."""
        failure = (None if self.failure is None else
                   {"kind": self.failure.kind, "rule": self.failure.rule,
                    "message": self.failure.message})
        return {"scenario": self.scenario, "seed": self.seed, "verdict": self.outcome,
                "failure": failure, "digest": self.digest, "virtual_ms": self.virtual_ms,
                "messages": self.messages, "bytes": self.bytes, "records": self.records,
                "wall_s": round(self.wall_s, 3), "facts": self.facts,
                "coverage": self.coverage}


def replay_command(name: str, seed: int, params_path: str | None = None) -> str:
    """The command that runs ``name`` with ``seed`` again (with the same params file, if one
    was given) and keeps its trace."""
    params = f" --params {_quote(params_path)}" if params_path else ""
    return f"raftsim run {name} --seed {seed}{params} --trace {name}-{seed}.trace.jsonl"


def _quote(path: str) -> str:
    import shlex
    return shlex.quote(path)


def validate_params(sc: Scenario, params: dict[str, Any] | None) -> None:
    """Refuse params ``sc`` does not take, or takes but not with these values (``BadParams``,
    naming the JSON path); called before anything runs."""
    unknown = sorted(set(params or ()) - set(sc.params))
    if unknown:
        accepted = ", ".join(sc.params) if sc.params else "none"
        raise BadParams(f"scenario {sc.name} does not take {', '.join(map(repr, unknown))} "
                        f"(accepted overrides: {accepted})")
    if params and sc.check_params is not None:
        sc.check_params(params)


def run_scenario(name: str | Scenario, seed: int, trace_path: str | None = None,
                 keep_lines: bool = False, params: dict[str, Any] | None = None,
                 history_path: str | None = None, max_records: int = MAX_RECORDS,
                 max_messages: int | None = MAX_MESSAGES,
                 wall_budget_s: float | None = None) -> RunResult:
    """Run ``name`` with ``seed``; never raises for a failing run (bugs in raftsim do raise).

    ``params`` override what the scenario would draw from the seed (a shrunk fault schedule,
    say); they are written into the trace header so that ``replay`` runs the same thing.
    ``keep_lines`` keeps every trace line in memory (for comparing with a recorded trace).
    ``history_path`` receives the client history as JSONL (``raftsim check`` reads it); a
    scenario without clients has none, which is bad input (not an empty, linearizable file).
    ``max_messages`` (None: none) and ``wall_budget_s`` (None: none, the default) are the
    run's message and wall-clock budgets (failure kind ``budget``).
    """
    sc = name if isinstance(name, Scenario) else get(name)
    validate_params(sc, params)
    with _relaxed_gc():
        return _run(sc, seed, trace_path, keep_lines, params, history_path, max_records,
                    max_messages, wall_budget_s)


@contextmanager
def _relaxed_gc() -> Iterator[None]:
    """Collect cycles rarely during a run. A run allocates millions of short-lived, acyclic
    objects (immutable states, messages); the default thresholds made the collector rescan
    them so often that it took about 40% of a 20-virtual-second run (measured with
    bench/bench_raft.py), while the run creates few cycles (peak memory was unchanged)."""
    previous = gc.get_threshold()
    gc.set_threshold(1_000_000, 100, 100)
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def _run(sc: Scenario, seed: int, trace_path: str | None, keep_lines: bool,
         params: dict[str, Any] | None, history_path: str | None,
         max_records: int, max_messages: int | None = MAX_MESSAGES,
         wall_budget_s: float | None = None) -> RunResult:
    started = time.perf_counter()      # wall time of the run, reported only
    if sc.max_messages is not None:
        max_messages = min(max_messages or sc.max_messages, sc.max_messages)
    world = World(seed)
    params = dict(params or {})
    trace_tmp = _temp_name(trace_path) if trace_path is not None else None
    trace = _BoundedTrace(max_records, world, max_messages, wall_budget_s, seed=seed,
                          scenario=sc.name, params=params, path=trace_tmp, keep=keep_lines)
    ctx = RunContext(world, trace, seed, sc, params=params)
    try:
        failure = _drive(ctx)
        end = world.env.now
        outcome = "pass" if failure is None else ("unknown" if failure.kind == "unknown"
                                                  else "fail")
        kind, message = (failure.kind, failure.message) if failure is not None else (None, None)
        trace.add((end, "result", outcome, kind, message))
        digest = trace.close()
        if history_path is not None:
            _write_history(sc, ctx.history, history_path)
    except BaseException:
        trace.abandon()
        if trace_tmp is not None and os.path.exists(trace_tmp):
            os.remove(trace_tmp)           # the run did not finish: leave no file behind
        raise
    if trace_path is not None and trace_tmp is not None:
        os.replace(trace_tmp, trace_path)
    return RunResult(
        scenario=sc.name, seed=seed, outcome=outcome, failure=failure, virtual_ms=end,
        messages=sum(net.total_count for net in world.networks),
        bytes=sum(net.total_bytes for net in world.networks),
        digest=digest, records=trace.count, wall_s=time.perf_counter() - started,
        facts=ctx.facts, drawn=ctx.drawn, check=ctx.check, lines=trace.lines,
        coverage=dict(sorted(ctx.coverage.items())))


def _temp_name(path: str) -> str:
    """A file beside ``path`` (same file system, so renaming it onto ``path`` is atomic)."""
    folder, base = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{base}.{os.getpid()}.tmp")


def _write_history(sc: Scenario, history: list[dict[str, Any]], path: str) -> None:
    if not history:
        raise BadInput(f"--history: scenario {sc.name} has no clients, so no history to write "
                       f"(histories come from the KV scenarios: 4A, 4B, random)")
    from checkers.linearizability import dump_history
    tmp = _temp_name(path)
    try:
        dump_history(history, tmp, model="kv", ties="recorded")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _drive(ctx: RunContext) -> Failure | None:
    """Run the body to completion inside the time limit; the failure, if any."""
    world = ctx.world
    process = world.env.process(ctx.scenario.body(ctx))
    outcome: list[Any] = []

    def finished(event: Any) -> None:
        if not event.ok:
            event.defused = True
        outcome.append(event)
        world.stop("finished")

    process.callbacks.append(finished)
    try:
        world.run(until=ctx.scenario.time_limit_ms)
    except (InvariantViolation, ScenarioFailure, TraceLimit, BudgetExceeded) as exc:   # a hook
        return _failure(exc)
    if not outcome:
        limit = ctx.scenario.time_limit_ms / 1000
        return Failure("time-limit", f"test took longer than {limit:g} seconds (virtual time)")
    event = outcome[0]
    if event.ok:
        return None
    if isinstance(event.value, (ScenarioFailure, ScenarioUnknown, InvariantViolation,
                                TraceLimit, BudgetExceeded)):
        return _failure(event.value)
    raise event.value


def _failure(exc: ScenarioFailure | ScenarioUnknown | InvariantViolation | TraceLimit
             | BudgetExceeded) -> Failure:
    if isinstance(exc, TraceLimit):
        return Failure("trace-limit", str(exc))
    if isinstance(exc, BudgetExceeded):
        return Failure("budget", str(exc), exc.rule)
    if isinstance(exc, InvariantViolation):
        return Failure("invariant", str(exc), exc.rule)
    if isinstance(exc, ScenarioUnknown):
        return Failure("unknown", str(exc))
    return Failure(exc.kind, str(exc), exc.rule)
