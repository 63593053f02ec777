"""Jepsen / Knossos ``history.edn`` files: the EDN subset reader and the history format on it.

The sample histories here are small ones written for these tests, in the shapes Jepsen writes
(one op map per line, ``:index`` and ``:time``) and Knossos keeps (one vector of op maps), with
verdicts worked out by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from checkers.linearizability import HistoryError, Verdict, check, load_history
from checkers.linearizability.edn import EdnError, Keyword, Symbol, read_forms
from scenarios.cli import main

K = Keyword


def forms(text: str) -> list[tuple[int, Any]]:
    return list(read_forms(text))


def test_reader_reads_the_subset_with_lines() -> None:
    text = ('; a comment\n{:a 1, :b [1 -2 3N 1.5 2e3] :c nil :d true :e "x\\"y\\n\\u0041"}\n'
            '#{1 2} (sym :ns/kw) #inst "2024-01-01" #_ :gone #jepsen.history.Op{:f :read}\n')
    got = forms(text)
    assert [line for line, _ in got] == [2, 3, 3, 3, 3]
    first = got[0][1]
    assert first == {K("a"): 1, K("b"): [1, -2, 3, 1.5, 2000.0], K("c"): None, K("d"): True,
                     K("e"): 'x"y\nA'}
    assert first.line == 2 and isinstance(list(first)[0], Keyword)
    assert got[1][1] == frozenset({1, 2})
    assert got[2][1] == [Symbol("sym"), K("ns/kw")] and repr(got[2][1][1]) == ":ns/kw"
    assert got[3][1] == "2024-01-01" and got[4][1] == {K("f"): K("read")}
    assert type(forms("true false")[0][1]) is bool and forms("1.0")[0][1].__class__ is float


@pytest.mark.parametrize("text,line,fragment", [
    ("{:a 1}\n{:b}", 2, "even number"),
    ("[1 2\n3", 1, "closing ']'"),
    ("[1 2)", 1, "']' to close"),
    ("\n)", 2, "unmatched"),
    ('\n\n"open', 3, "closing '\"'"),
    ("12abc", 1, "a number"),
    ("\\c", 1, "no characters"),
    (":", 1, "keyword name"),
    ('"\\q"', 1, "string escape"),
    ("[" * 100, 1, "nested at most"),
    ("{[1] 2}", 1, "map keys"),
    ("#{[1]}", 1, "a set of scalars"),
    ("#tag", 1, "a form after"),
    ("\n" + "9" * 5000, 2, "at most 4300 digits"),
    ("\u0663", 1, "a number"),
])
def test_reader_errors_name_the_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(EdnError) as err:
        forms(text)
    assert err.value.line == line and fragment in err.value.expected


JEPSEN_REGISTER = """\
{:index 0, :time 100, :type :invoke, :process 0, :f :write, :value 3}
{:index 1, :time 150, :type :invoke, :process 1, :f :read, :value nil}
{:index 2, :time 200, :type :ok, :process 0, :f :write, :value 3}
{:index 3, :time 210, :type :info, :process :nemesis, :f :start, :value "partition"}
{:index 4, :time 250, :type :ok, :process 1, :f :read, :value 3}
{:index 5, :time 300, :type :invoke, :process 2, :f :cas, :value [3 4]}
{:index 6, :time 350, :type :fail, :process 2, :f :cas, :value [3 4]}
{:index 7, :time 400, :type :invoke, :process 0, :f :write, :value 5}
{:index 8, :time 450, :type :info, :process 0, :f :write, :value 5, :error :timed-out}
{:index 9, :time 500, :type :invoke, :process 1, :f :read, :value nil}
{:index 10, :time 550, :type :ok, :process 1, :f :read, :value READ}
"""

KNOSSOS_CAS = """\
[{:process 0, :type :invoke, :f :write, :value 0}
 {:process 0, :type :ok, :f :write, :value 0}
 {:process 1, :type :invoke, :f :cas, :value [0 1]}
 {:process 2, :type :invoke, :f :cas, :value [0 2]}
 {:process 1, :type :ok, :f :cas, :value [0 1]}
 {:process 2, :type :ok, :f :cas, :value [0 2]}]
"""

INDEPENDENT = """\
{:process 0, :type :invoke, :f :write, :value [1 5], :index 0}
{:process 1, :type :invoke, :f :write, :value [2 7], :index 1}
{:process 0, :type :ok, :f :write, :value [1 5], :index 2}
{:process 1, :type :ok, :f :write, :value [2 7], :index 3}
{:process 0, :type :invoke, :f :read, :value [1 nil], :index 4}
{:process 0, :type :ok, :f :read, :value [1 READ], :index 5}
{:process 1, :type :invoke, :f :cas, :value [2 [7 8]], :index 6}
{:process 1, :type :ok, :f :cas, :value [2 [7 8]], :index 7}
"""


def verdict_of(tmp_path: Path, text: str, name: str = "history.edn") -> tuple[str, Verdict, int]:
    path = tmp_path / name
    path.write_text(text)
    history = load_history(path)
    result = check(history.model, history.operations)
    return history.format, result.verdict, len(result.partitions)


@pytest.mark.parametrize("read,expected", [
    ("3", Verdict.OK),      # the write of 5 timed out: it may not have happened
    ("5", Verdict.OK),      # or it did
    ("4", Verdict.ILLEGAL),  # the cas failed (:fail: it did not happen)
    ("nil", Verdict.ILLEGAL),
    ("3.0", Verdict.ILLEGAL),  # a float is not the integer written
])
def test_jepsen_register_history(tmp_path: Path, read: str, expected: Verdict) -> None:
    """Jepsen's layout: :nemesis ops skipped, :info unknown, :fail dropped, :time ignored."""
    fmt, verdict, parts = verdict_of(tmp_path, JEPSEN_REGISTER.replace("READ", read))
    assert (fmt, verdict, parts) == ("jepsen-edn", expected, 1)


def test_knossos_vector_history_two_cas_from_zero_is_illegal(tmp_path: Path) -> None:
    """Two concurrent cas 0->1 and 0->2 cannot both succeed; with one failing it is fine."""
    assert verdict_of(tmp_path, KNOSSOS_CAS)[1] is Verdict.ILLEGAL
    one_fails = KNOSSOS_CAS.replace(":type :ok, :f :cas, :value [0 2]", ":type :fail, :f :cas, :value [0 2]")
    assert verdict_of(tmp_path, one_fails)[1] is Verdict.OK


@pytest.mark.parametrize("read,expected", [("5", Verdict.OK), ("7", Verdict.ILLEGAL)])
def test_independent_kv_history_is_partitioned_by_key(tmp_path: Path, read: str,
                                                      expected: Verdict) -> None:
    fmt, verdict, parts = verdict_of(tmp_path, INDEPENDENT.replace("READ", read))
    assert (fmt, verdict, parts) == ("jepsen-edn", expected, 2)


@pytest.mark.parametrize("text,line,fragment", [
    ('{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :done, :f :read}\n',
     2, "a :type among"),
    ('{:process 0, :type :invoke, :f :inc, :value 1}\n', 1, "a client :f among"),
    ('{:process "p", :type :invoke, :f :read, :value nil}\n', 1, "a :process that is an integer"),
    ('[{:process 0, :type :invoke, :f :write, :value 1}\n 7]\n', 1, "an op map {:process P, :type T, :f F, :value V}, not 7"),
    ('{:process 0, :type :invoke, :f :write, :value [1 2]}\n'
     '{:process 1, :type :invoke, :f :write, :value 3}\n', 2, "a :value [key value]"),
    ('{:process 0, :type :invoke, :f :write, :value :x}\n', 1, "a :value of integers"),
    ('{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :ok, :f :read}\n',
     2, "a 'value' read"),
    ('{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :ok,\n :f :write',
     2, "closing '}'"),
])
def test_edn_history_errors_are_file_line_expected(tmp_path: Path, text: str, line: int,
                                                  fragment: str) -> None:
    path = tmp_path / "history.edn"
    path.write_text(text)
    with pytest.raises(HistoryError) as err:
        load_history(path)
    assert err.value.line == line and fragment in err.value.expected
    assert str(err.value).startswith(f"{path}:{line}: expected ")


def test_detection_keeps_porcupine_kv_lines_apart(tmp_path: Path) -> None:
    """A Porcupine kv line starts like an EDN op; the content tells them apart."""
    kv = ('{:process 0, :type :invoke, :f :put, :key "k", :value "x"}\n'
          '{:process 0, :type :ok, :f :put, :key "k", :value "x"}\n')
    assert verdict_of(tmp_path, kv, "kv.txt")[:2] == ("porcupine-kv", Verdict.OK)
    assert verdict_of(tmp_path, KNOSSOS_CAS, "h.txt")[0] == "jepsen-edn"


def test_cli_checks_an_edn_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "history.edn"
    path.write_text(JEPSEN_REGISTER.replace("READ", "4"))
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "NOT linearizable" in out and "format jepsen-edn" in out
    assert "could not place read() -> 4" in out
