"""From a trace file, an explorer counterexample, a finished run or a campaign database to
the HTML of its report.

This module wires the parts: it reads the input (``sim.load_trace``, a counterexample taken
again as trace records by ``explored.py``, the campaign database),
takes the linearizability result of the run's history (the run's own ``CheckResult`` when there
is one, else the checker run once over the history the trace holds, with the run's budget),
computes the views and renders them. Errors the user can fix are ``BadInput`` (one line).
"""

from __future__ import annotations

from typing import Any, Sequence

import msgspec

from scenarios.errors import BadInput
from scenarios.report.views import Window, WindowError, malformed, run_view

__all__ = ["trace_report", "counterexample_report", "result_report", "campaign_report",
           "history_check"]


def trace_report(path: str, window: Window | None = None) -> str:
    """The HTML report of the run recorded in the trace file ``path`` (or of the path an
    explorer counterexample records: ``counterexample_report``)."""
    from sim import TraceError, load_trace
    compressed = _compression(path)
    if compressed is not None:
        raise BadInput(f"{path}: {compressed}-compressed, not a trace: decompress it first")
    if not _starts_as_trace(path):
        from scenarios.cli.explore import is_counterexample
        if is_counterexample(path):
            return counterexample_report(path, window)
    try:
        loaded = load_trace(path)
    except TraceError as exc:
        if exc.line == 1:                # not even a trace's header: say what the command takes
            if _is_history(path):
                raise BadInput(f"{path}: a client history, not a trace: `raftsim check "
                               f"{path} --html OUT` draws its linearizability view") from None
            raise BadInput(f"{path}: neither a trace nor a campaign database (line 1: "
                           f"{exc.what})") from None
        where = f"{exc.path}:{exc.line}" if exc.line > 0 else exc.path
        raise BadInput(f"{where}: {exc.what}") from None
    except RecursionError:
        raise BadInput(f"{path}: JSON nested too deeply to be a trace") from None
    bad = malformed(loaded.records)
    if bad is not None:
        raise BadInput(f"{path}:{bad[0] + 2}: {bad[1]}")         # line 1 is the header
    return _render(loaded.header, loaded.records, loaded.digest, window,
                   history_check(loaded.records))


def counterexample_report(path: str, window: Window | None = None) -> str:
    """The HTML report of the path the explorer counterexample ``path`` records, taken again
    (bad input if the file is damaged or its path no longer gives its digest) and drawn as a
    run, one step per virtual millisecond; the failure links to the violating step."""
    from scenarios.report.explored import STEP_MS, counterexample_records
    from scenarios.report.html import render_run
    run = counterexample_records(path)
    check = history_check(run.records)
    try:
        view = run_view(run.header, run.records, run.digest, window, check)
    except WindowError as exc:
        raise BadInput(str(exc)) from None
    view["meta"]["note"] = run.header["note"]
    if run.violation_step is not None:
        view["meta"]["step"] = run.violation_step
        if view["focus"] is None:         # not a client's operation: the step that broke it
            t = run.violation_step * STEP_MS
            view["focus"] = {"client": run.violation_node, "call": t - STEP_MS, "return": t,
                             "partition": None}
    return render_run(view)


#: The first bytes of compressed files, and the compression's name.
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"),
          (b"\x28\xb5\x2f\xfd", "zstd"), (b"PK\x03\x04", "zip"))


def _compression(path: str) -> str | None:
    """The name of the compression ``path`` starts with, or ``None``."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return None                      # load_trace says why it cannot be read
    return next((name for magic, name in _MAGIC if head.startswith(magic)), None)


def _starts_as_trace(path: str) -> bool:
    """Whether the file starts with a trace's header (no need to ask the explorer's code,
    slow to import, whether it is one of its counterexamples)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(_TRACE_START)) == _TRACE_START
    except OSError:
        return False


_TRACE_START = b'{"format":"raftsim-trace"'


def _is_history(path: str) -> bool:
    """Whether the file starts like a raftsim history (``raftsim run --history``)."""
    try:
        with open(path, "rb") as f:
            first = f.readline(4096)
        header = msgspec.json.decode(first)
    except (OSError, msgspec.DecodeError, RecursionError):
        return False
    return isinstance(header, dict) and header.get("format") == "raftsim-history"


def result_report(result: Any, window: Window | None = None) -> str:
    """The HTML report of a run just made (``run_scenario(..., keep_lines=True)``): its trace
    lines are the data, its ``CheckResult`` the linearizability verdict (not checked again).
    A run that ended before checking its history (a liveness failure, say) has none: its
    history is checked here, as ``trace_report`` does, so both give the same page."""
    lines = result.lines
    if lines is None:
        raise ValueError("result_report needs a run made with keep_lines=True")
    decoder = msgspec.json.Decoder()
    header = decoder.decode(lines[0])
    records = [decoder.decode(line) for line in lines[1:]]
    check = result.check if result.check is not None else history_check(records)
    return _render(header, records, result.digest, window, check)


def _render(header: dict[str, Any], records: list[list], digest: str, window: Window | None,
            check: Any) -> str:
    from scenarios.report.html import render_run
    try:
        view = run_view(header, records, digest, window, check)
    except WindowError as exc:
        raise BadInput(str(exc)) from None
    return render_run(view)


def history_check(records: Sequence[list]) -> Any:
    """The linearizability ``CheckResult`` of the client history in ``records`` (the KV model,
    with the budget a run uses; partial linearizations when it is not linearizable), or
    ``None`` when the run had no client history."""
    events = [{"t": r[0], "process": r[2], "type": r[3], "f": r[4][0], "key": r[4][1],
               "value": r[4][2]} for r in records if r[1] == "history"
              and isinstance(r[4], list) and len(r[4]) == 3]
    if not events:
        return None
    from checkers.linearizability import HistoryError, Verdict, check, history_from_events, kv_model
    from scenarios.harness.kv import CHECK_BUDGET
    try:
        ops = history_from_events(events, kv_model, source="trace history", ties="recorded")
    except HistoryError as exc:
        raise BadInput(f"the trace's client history cannot be checked: {exc}") from None
    result = check(kv_model, ops, max_cache=CHECK_BUDGET)
    if result.verdict is Verdict.ILLEGAL:
        result = check(kv_model, ops, max_cache=CHECK_BUDGET, verbose=True)
    return result


def campaign_report(path: str) -> str:
    """The HTML report of the campaign database ``path``."""
    from scenarios.report.campaign import campaign_view, read_campaign
    from scenarios.report.html import render_campaign
    return render_campaign(campaign_view(read_campaign(path)))
