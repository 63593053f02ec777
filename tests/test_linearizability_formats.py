"""History files: our JSONL, Porcupine kv logs and Jepsen logs, read, detected and written.

Rule for bad input: every reader raises HistoryError whose text is ``FILE:LINE: expected ...``,
naming the line at fault and what should have been there.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest

from checkers.linearizability import (UNKNOWN, HistoryError, HistoryWriter, KvInput, Operation,
                                      Verdict, check, dump_history, history_from_events, kv_model,
                                      load_history)

HEADER = '{"format":"raftsim-history","version":1,"model":"kv"}'


def write(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def expect_error(path: Path, line: int, fragment: str, **kwargs: object) -> None:
    with pytest.raises(HistoryError) as caught:
        load_history(path, **kwargs)  # type: ignore[arg-type]
    text = str(caught.value)
    assert text.startswith(f"{path}:{line}: expected "), text
    assert fragment in text, text
    assert "\n" not in text


# ------------------------------------------------------------------------------ ours

def test_jsonl_history_round_trip(tmp_path: Path) -> None:
    """What HistoryWriter writes, load_history reads back as the same operations."""
    path = tmp_path / "run.jsonl"
    with HistoryWriter(path, model="kv") as w:
        w.invoke(1.0, "c0", "append", key="k", value="x")
        w.invoke(1.5, "c1", "get", key="k")
        w.ok(2.0, "c0", "append", key="k", value="x")
        w.ok(2.5, "c1", "get", key="k", value="x")
        w.invoke(3.0, "c1", "put", key="k", value="y")
        w.fail(3.5, "c1", "put", key="k")
    history = load_history(path)
    assert history.format == "raftsim" and history.model.name == "kv"
    assert [(op.client_id, op.input, op.call, op.output, op.return_) for op in history.operations] == [
        ("c0", KvInput("append", "k", "x"), 1.0, None, 2.0),
        ("c1", KvInput("get", "k"), 1.5, "x", 2.5),
    ]  # the failed put did not happen
    assert check(history.model, history.operations).verdict is Verdict.OK


def test_a_history_cut_short_is_valid(tmp_path: Path) -> None:
    """Every line is complete when written: pending invocations become unknown outcomes."""
    out = io.StringIO()
    w = HistoryWriter(out, model="kv")
    w.invoke(0, "c0", "put", key="k", value="v")
    w.invoke(1, "c1", "get", key="k")
    w.info(2, "c1", "get", key="k")
    path = write(tmp_path, "cut.jsonl", *out.getvalue().splitlines())
    history = load_history(path)
    assert [(op.output, op.return_) for op in history.operations] == [(UNKNOWN, math.inf)] * 2
    result = check(history.model, history.operations)
    assert result.ok and len(result.partitions[0].operations) == 1  # the unanswered get is dropped


def test_dump_history_and_events(tmp_path: Path) -> None:
    """dump_history writes a whole event list; history_from_events reads one in memory."""
    events = [{"t": 0, "process": 1, "type": "invoke", "f": "put", "key": "a", "value": "1"},
              {"t": 1, "process": 1, "type": "ok", "f": "put", "key": "a"}]
    dump_history(events, tmp_path / "h.jsonl", model="kv")
    assert load_history(tmp_path / "h.jsonl").operations == history_from_events(events, kv_model)


def test_versioned_and_cas_fields(tmp_path: Path) -> None:
    """versioned-kv puts carry version and err; cas completions carry result."""
    path = write(tmp_path, "v.jsonl", '{"format":"raftsim-history","version":1,"model":"versioned-kv"}',
                 '{"t":0,"process":"c0","type":"invoke","f":"put","key":"k","value":"a","version":0}',
                 '{"t":1,"process":"c0","type":"ok","f":"put","key":"k","err":"OK"}',
                 '{"t":2,"process":"c0","type":"invoke","f":"get","key":"k"}',
                 '{"t":3,"process":"c0","type":"ok","f":"get","key":"k","value":"a","version":1,"err":"OK"}')
    assert check(load_history(path).model, load_history(path).operations).ok
    path = write(tmp_path, "c.jsonl", '{"format":"raftsim-history","version":1,"model":"cas-register"}',
                 '{"t":0,"process":0,"type":"invoke","f":"cas","value":[null,1]}',
                 '{"t":1,"process":0,"type":"ok","f":"cas","value":[null,1],"result":true}')
    assert load_history(path).operations[0].output is True


@pytest.mark.parametrize("lines,line,fragment", [
    (["not json"], 1, "header"),
    (['{"format":"other","version":1,"model":"kv"}'], 1, "header"),
    (['{"format":"raftsim-history","version":2,"model":"kv"}'], 1, '"version": 1'),
    (['{"format":"raftsim-history","version":1,"model":"nope"}'], 1, "a model among"),
    ([HEADER, '{"t":0,"process":"c0","type":"invoke"'], 2, "a JSON object"),
    ([HEADER, '[1, 2]'], 2, "a JSON object"),
    ([HEADER, '{"process":"c0","type":"invoke","f":"get","key":"k"}'], 2, "'t'"),
    ([HEADER, '{"t":5,"process":"c0","type":"invoke","f":"get","key":"k"}',
      '{"t":4,"process":"c0","type":"ok","f":"get","key":"k","value":""}'], 3, "time order"),
    ([HEADER, '{"t":0,"process":"c0","type":"begin","f":"get","key":"k"}'], 2, "'type'"),
    ([HEADER, '{"t":0,"process":null,"type":"invoke","f":"get","key":"k"}'], 2, "'process'"),
    ([HEADER, '{"t":0,"process":"c0","type":"ok","f":"get","key":"k","value":""}'], 2, "an invocation"),
    ([HEADER, '{"t":0,"process":"c0","type":"invoke","f":"get","key":"k"}',
      '{"t":1,"process":"c0","type":"invoke","f":"get","key":"k"}'], 3, "from line 2"),
    ([HEADER, '{"t":0,"process":"c0","type":"invoke","f":"get","key":"k"}',
      '{"t":1,"process":"c0","type":"ok","f":"put","key":"k"}'], 3, "'get'"),
    ([HEADER, '{"t":0,"process":"c0","type":"invoke","f":"put","key":"k"}'], 2, "'value'"),
    ([HEADER, '{"t":0,"process":"c0","type":"invoke","f":"get","key":"k"}',
      '{"t":1,"process":"c0","type":"ok","f":"get","key":"k","value":3}'], 3, "'value'"),
    ([HEADER, '{"t":0,"process":"c0","type":"invoke","f":"cas","key":"k"}'], 2, "'f'"),
])
def test_bad_jsonl(tmp_path: Path, lines: list[str], line: int, fragment: str) -> None:
    """Each malformed JSONL history names its line and what was expected."""
    expect_error(write(tmp_path, "bad.jsonl", *lines), line, fragment)


# ------------------------------------------------------------------- Porcupine / Jepsen

KV_OK = ['{:process 0, :type :invoke, :f :append, :key "0", :value "x 0 0 y"}',
         '{:process 0, :type :ok, :f :append, :key "0", :value "x 0 0 y"}',
         '{:process 1, :type :invoke, :f :get, :key "0", :value nil}',
         '{:process 1, :type :ok, :f :get, :key "0", :value "x 0 0 y"}']


def test_porcupine_kv_log(tmp_path: Path) -> None:
    """Line numbers are the timestamps; keys partition the history."""
    history = load_history(write(tmp_path, "c.txt", *KV_OK))
    assert history.format == "porcupine-kv"
    assert [(op.call, op.return_) for op in history.operations] == [(0, 1), (2, 3)]
    assert check(history.model, history.operations).ok


def test_bad_porcupine_kv_log(tmp_path: Path) -> None:
    """A line that is not a kv event names the shape expected."""
    expect_error(write(tmp_path, "c.txt", *KV_OK[:2], '{:process 1, :type :invoke, :f :get}'), 3, ":key")
    expect_error(write(tmp_path, "c.txt", *KV_OK[:2], KV_OK[3]), 3, "an invocation by process 1")


JEPSEN = ["INFO  jepsen.util - 2\t:invoke\t:write\t4", "INFO  jepsen.util - 2\t:ok\t:write\t4",
          "INFO  jepsen.util - 1   :invoke :cas    [4 1]", "INFO  jepsen.util - 1   :fail   :cas    [4 1]",
          "INFO  jepsen.util - 3\t:invoke\t:read\tnil", "INFO  jepsen.util - 3\t:fail\t:read\t:timed-out",
          "INFO  jepsen.util - 4\t:invoke\t:write\t1", "INFO  jepsen.util - 4\t:info\t:write\t:timed-out"]


def test_jepsen_log(tmp_path: Path) -> None:
    """:fail on cas is an observation (the value was not A); :fail on a read drops it; :info is
    an unknown outcome. Tabs or runs of spaces separate fields."""
    history = load_history(write(tmp_path, "etcd.log", *JEPSEN))
    assert history.format == "jepsen" and history.model.name == "cas-register"
    outputs = [op.output for op in history.operations]
    assert outputs == [None, False, UNKNOWN]
    assert check(history.model, history.operations).verdict is Verdict.ILLEGAL  # cas saw 4 and failed


@pytest.mark.parametrize("line,fragment", [
    ("INFO  jepsen.util - x\t:invoke\t:read\tnil", "PROCESS"),
    ("INFO  jepsen.util - 1\t:begin\t:read\tnil", ":TYPE"),
    ("INFO  jepsen.util - 1\t:invoke\t:cas\t[1]", "[A B]"),
    ("INFO  jepsen.util - 1\t:invoke\t:write\tfour", "an integer or nil"),
])
def test_bad_jepsen_log(tmp_path: Path, line: str, fragment: str) -> None:
    """A malformed Jepsen line names its line and what was expected."""
    expect_error(write(tmp_path, "etcd.log", *JEPSEN[:2], line), 3, fragment)


# ---------------------------------------------------------------------- whole files

def test_unrecognised_content(tmp_path: Path) -> None:
    """Auto-detection looks at the first non-empty line and says what it accepts."""
    expect_error(write(tmp_path, "x.txt", "", "hello"), 2, "raftsim-history")


def test_empty_file(tmp_path: Path) -> None:
    """An empty (or blank) file is not a history."""
    expect_error(write(tmp_path, "e.txt", "", "  "), 1, "empty")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    """A missing path or a directory is reported against the path itself."""
    for path, fragment in ((tmp_path / "nope.txt", "readable"), (tmp_path, "directory")):
        with pytest.raises(HistoryError, match=fragment) as caught:
            load_history(path)
        assert str(caught.value).startswith(f"{path}: expected")


def test_not_utf8(tmp_path: Path) -> None:
    """Binary junk is reported at the line where it starts."""
    path = tmp_path / "b.txt"
    path.write_bytes(b"{:process 0}\n\xff\xfe\n")
    expect_error(path, 2, "UTF-8")


def test_forced_format_and_model(tmp_path: Path) -> None:
    """--format and --model override detection; a mismatch is a decode error on a line."""
    path = write(tmp_path, "c.txt", *KV_OK)
    assert load_history(path, format="porcupine-kv", model="kv").model.name == "kv"
    expect_error(path, 1, "'f'", model="cas-register")
    expect_error(path, 1, "INFO", format="jepsen")


def _event(**changes: object) -> dict[str, object]:
    event: dict[str, object] = {"t": 2.0, "process": "c0", "type": "invoke", "f": "get",
                                "key": "k", "value": None}
    event.update(changes)
    return event


@pytest.mark.parametrize("bad, fragment", [
    (_event(t=math.nan), "a finite number 't'"),
    (_event(t=math.inf), "a finite number 't'"),
    (_event(t=True), "a finite number 't'"),
    (_event(t="2"), "a finite number 't'"),
    (_event(t=10 ** 400), "a finite number 't'"),
    (_event(t=0.5), "'t' >= 1.0"),
    (_event(process=True), "a string or integer 'process'"),
    (_event(process=1.5), "a string or integer 'process'"),
    (_event(type="done"), "'type' to be one of"),
    (_event(f=1), "a string 'f'"),
])
def test_in_memory_events_are_checked_like_lines(bad: dict[str, object], fragment: str) -> None:
    """history_from_events refuses what a history file's reader refuses, naming the event."""
    events = [_event(t=1.0, type="invoke"), _event(t=1.0, type="ok", value=""), bad]
    with pytest.raises(HistoryError) as caught:
        history_from_events(events, kv_model, source="mem")
    assert str(caught.value).startswith("mem:3: expected "), str(caught.value)
    assert fragment in str(caught.value)


def test_in_memory_events_of_other_plain_types_are_accepted() -> None:
    """Integer times and processes are as good as floats and strings (the slow path)."""
    events = [_event(t=1, process=7), _event(t=2, process=7, type="ok", value="")]
    ops = history_from_events(events, kv_model)
    assert [(op.client_id, op.call, op.return_) for op in ops] == [(7, 1, 2)]


OWN_WRITE_MISSED = [
    {"t": 0.0, "process": "c0", "type": "invoke", "f": "append", "key": "k", "value": "x"},
    {"t": 5.0, "process": "c0", "type": "ok", "f": "append", "key": "k", "value": "x"},
    {"t": 5.0, "process": "c0", "type": "invoke", "f": "get", "key": "k"},
    {"t": 7.0, "process": "c0", "type": "ok", "f": "get", "key": "k", "value": ""},
]


def test_ties_recorded_order_equal_times_as_listed(tmp_path: Path) -> None:
    """A history recorded in the order things happened says so in its header, and equal times
    are then ordered as listed: a get that missed its own client's append is caught, in
    memory and from the file; without the header touching operations stay concurrent."""
    assert check(kv_model, history_from_events(OWN_WRITE_MISSED, kv_model)).ok
    ops = history_from_events(OWN_WRITE_MISSED, kv_model, ties="recorded")
    assert [(op.call_seq, op.return_seq) for op in ops] == [(1, 2), (3, 4)]
    assert not check(kv_model, ops).ok
    dump_history(OWN_WRITE_MISSED, tmp_path / "rec.jsonl", model="kv", ties="recorded")
    first = (tmp_path / "rec.jsonl").read_text(encoding="utf-8").splitlines()[0]
    assert '"ties":"recorded"' in first
    loaded = load_history(tmp_path / "rec.jsonl").operations      # positions are line numbers
    assert [(op.call_seq, op.return_seq) for op in loaded] == [(2, 3), (4, 5)]
    assert not check(kv_model, loaded).ok
    dump_history(OWN_WRITE_MISSED, tmp_path / "plain.jsonl", model="kv")
    assert "ties" not in (tmp_path / "plain.jsonl").read_text(encoding="utf-8").splitlines()[0]
    assert check(kv_model, load_history(tmp_path / "plain.jsonl").operations).ok


def test_a_bad_ties_value_is_an_error(tmp_path: Path) -> None:
    """The header's ties is concurrent or recorded; anything else names the header line, and
    the Python entry points refuse it too."""
    path = write(tmp_path, "t.jsonl",
                 '{"format":"raftsim-history","version":1,"model":"kv","ties":"sometimes"}')
    expect_error(path, 1, '"ties": "concurrent" or "recorded" in the header (or no "ties"), '
                          'not "sometimes"')
    path = write(tmp_path, "n.jsonl", '{"format":"raftsim-history","version":1,"model":"kv","ties":null}')
    expect_error(path, 1, "not null")
    assert load_history(write(tmp_path, "ok.jsonl", HEADER)).ties == "concurrent"
    with pytest.raises(ValueError, match="ties"):
        history_from_events(OWN_WRITE_MISSED, kv_model, ties="ordered")
    with pytest.raises(ValueError, match="ties"):
        HistoryWriter(io.StringIO(), ties="ordered")


def test_recorded_positions_are_all_or_none_and_a_return_comes_after_its_call() -> None:
    """Operations carry their events' positions together or not at all (a 0 would sort first
    at its time), and a known outcome's return is listed after its call."""
    put = Operation("c0", KvInput("put", "k", "a"), 0, None, 5)
    get = Operation("c1", KvInput("get", "k"), 5, "", 7, 3, 4)
    with pytest.raises(ValueError, match="some operations and not others"):
        check(kv_model, [put, get])
    with pytest.raises(ValueError, match="not listed after its call"):
        check(kv_model, [Operation("c0", KvInput("put", "k", "a"), 5, None, 5, 3, 2)])
    unknown = Operation("c0", KvInput("put", "k", "a"), 1, UNKNOWN, math.inf, 1, 0)
    assert check(kv_model, [unknown, get]).ok
