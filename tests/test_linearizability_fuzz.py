"""Damaged histories of every format never crash ``raftsim check``, hang it or make it lie about
its input: the exit code is 0, 1, 2 or 3, bad input is exactly one line on stderr, and a file
that is checked prints nothing on stderr.

Hypothesis mutates small valid histories (bytes deleted, inserted, lines dropped, repeated,
swapped, the file cut short) and runs the command in this process. A run that exits with any
other code (a crash is 4) fails with the input that caused it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from checkers.linearizability import FORMATS, MODELS
from scenarios.cli import main

SEEDS = {
    "raftsim-kv": b"""{"format":"raftsim-history","version":1,"model":"kv"}
{"t":0,"process":"c0","type":"invoke","f":"put","key":"k","value":"v"}
{"t":1,"process":"c1","type":"invoke","f":"get","key":"k"}
{"t":2,"process":"c0","type":"ok","f":"put","key":"k"}
{"t":3,"process":"c1","type":"ok","f":"get","key":"k","value":"v"}
{"t":4,"process":"c0","type":"invoke","f":"append","key":"j","value":"x"}
{"t":5,"process":"c0","type":"info","f":"append","key":"j"}
""",
    "raftsim-cas": b"""{"format":"raftsim-history","version":1,"model":"cas-register"}
{"t":0,"process":0,"type":"invoke","f":"write","value":1}
{"t":1,"process":0,"type":"ok","f":"write"}
{"t":2,"process":1,"type":"invoke","f":"cas","key":3,"value":[1,true]}
{"t":3,"process":1,"type":"ok","f":"cas","key":3,"result":false}
{"t":4,"process":2,"type":"invoke","f":"read"}
{"t":5,"process":2,"type":"ok","f":"read","value":1.5}
""",
    "raftsim-versioned": b"""{"format":"raftsim-history","version":1,"model":"versioned-kv"}
{"t":0,"process":"a","type":"invoke","f":"put","key":"k","value":"x","version":0}
{"t":1,"process":"a","type":"ok","f":"put","key":"k","err":"OK"}
{"t":2,"process":"b","type":"invoke","f":"get","key":"k"}
{"t":3,"process":"b","type":"ok","f":"get","key":"k","value":"x","version":1,"err":"OK"}
""",
    "porcupine-kv": b"""{:process 0, :type :invoke, :f :append, :key "0", :value "x 0 0 y"}
{:process 1, :type :invoke, :f :get, :key "0", :value nil}
{:process 0, :type :ok, :f :append, :key "0", :value "x 0 0 y"}
{:process 1, :type :ok, :f :get, :key "0", :value "x 0 0 y"}
""",
    "jepsen": b"""INFO  jepsen.util - 2\t:invoke\t:write\t4
INFO  jepsen.util - 2\t:ok\t:write\t4
INFO  jepsen.util - 1\t:invoke\t:cas\t[4 0]
INFO  jepsen.util - 3\t:invoke\t:read\tnil
INFO  jepsen.util - 1\t:fail\t:cas\t[4 0]
INFO  jepsen.util - 3\t:ok\t:read\t4
INFO  jepsen.util - 4\t:invoke\t:write\t1
INFO  jepsen.util - 4\t:info\t:write\t:timed-out
""",
    "jepsen-edn": b"""{:index 0, :time 1, :type :invoke, :process 0, :f :write, :value 3}
{:index 1, :time 2, :type :invoke, :process 1, :f :read, :value nil}
{:index 2, :time 3, :type :ok, :process 0, :f :write, :value 3}
{:index 3, :time 4, :type :info, :process :nemesis, :f :start, :value "x"}
{:index 4, :time 5, :type :ok, :process 1, :f :read, :value 3}
{:index 5, :time 6, :type :invoke, :process 2, :f :cas, :value [3 4]}
{:index 6, :time 7, :type :fail, :process 2, :f :cas, :value [3 4], :error :timed-out}
""",
    "knossos-independent": b"""[{:process 0, :type :invoke, :f :write, :value [1 5]}
 {:process 0, :type :ok, :f :write, :value [1 5]}
 {:process 1, :type :invoke, :f :cas, :value [1 [5 6]]}
 {:process 1, :type :ok, :f :cas, :value [1 [5 6]]}
 {:process 0, :type :invoke, :f :read, :value [1 nil]}
 {:process 0, :type :ok, :f :read, :value [1 6]}]
""",
}

SNIPPETS = [b"", b"{", b"}", b"[", b"]", b"(", b")", b'"', b"\\", b":", b",", b" ", b"\n", b"\t",
            b"\x1b[2J", b"\x00", b"\xff\xfe", b"\xc3", b"nil", b"null", b"true", b"1e400", b"-0",
            b"99999999999999999999999999", b"1" + b"0" * 400, b"7" * 5000, b"NaN", b"Infinity", b":f :cas", b":type :ok",
            b'"t":1e308', b'"value":[1,[2]]', b'"key":{"a":1}', b"#_", b"#{", b";", b"1.5",
            b'"process":true', b":process :nemesis", b"[" * 200, b"{:a" * 50, b"\\u0000",
            b"\r\n", "\u00b2".encode(), "\u0663".encode(), b"\xe2\x80\xae", b"INFO  jepsen.util - ", b'{"format":"raftsim-history"}']


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = SEEDS[name]
    for _ in range(draw(st.integers(1, 4))):
        lines = data.split(b"\n")
        kind = draw(st.sampled_from(["insert", "delete", "replace", "drop", "repeat", "swap",
                                     "cut"]))
        at = draw(st.integers(0, max(len(data), 1)))
        line = draw(st.integers(0, max(len(lines) - 1, 0)))
        if kind == "insert":
            data = data[:at] + draw(st.sampled_from(SNIPPETS)) + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 12)):]
        elif kind == "replace":
            data = data[:at] + draw(st.sampled_from(SNIPPETS)) + data[at + draw(st.integers(1, 8)):]
        elif kind == "drop":
            data = b"\n".join(lines[:line] + lines[line + 1:])
        elif kind == "repeat":
            data = b"\n".join(lines[:line + 1] + lines[line:])
        elif kind == "swap":
            other = draw(st.integers(0, max(len(lines) - 1, 0)))
            lines[line], lines[other] = lines[other], lines[line]
            data = b"\n".join(lines)
        else:
            data = data[:at]
    return name, data


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=damaged(), json_out=st.booleans(), everything=st.booleans(),
       model=st.sampled_from(["auto", "auto", "auto", *MODELS]),
       fmt=st.sampled_from(["auto", "auto", "auto", *FORMATS]))
def test_damaged_histories_get_a_verdict_or_one_line(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str],
                                                     case: tuple[str, bytes], json_out: bool,
                                                     everything: bool, model: str,
                                                     fmt: str) -> None:
    _, data = case
    path = tmp_path / "history.txt"
    path.write_bytes(data)
    argv = ["check", str(path), "--timeout", "10", "--model", model, "--format", fmt]
    argv += ["--json"] * json_out + ["--all-partitions"] * everything
    code = main(argv)
    out, err = capsys.readouterr()
    assert code in (0, 1, 2, 3), (code, err)
    assert "Traceback" not in out + err
    if code == 2:
        assert err.startswith("raftsim: error: ") and err.count("\n") == 1, err
        assert err.isprintable() or err[:-1].isprintable()
    else:
        assert err == ""
    assert "\x1b" not in out and "\x00" not in out


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_the_seed_histories_are_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      name: str) -> None:
    """The fuzzing starts from valid histories (each gets a verdict, not a parse error)."""
    path = tmp_path / "history.txt"
    path.write_bytes(SEEDS[name])
    assert main(["check", str(path)]) in (0, 1)
    assert capsys.readouterr().err == ""
