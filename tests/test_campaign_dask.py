"""Campaigns on Dask: the same results as the local pool, whatever the workers and the order they
finish in; a worker killed mid-campaign loses nothing; a campaign whose client is killed resumes
without loss or repeat; a cluster that cannot run our code is bad input, up front."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

distributed = pytest.importorskip("distributed")

from scenarios.campaign import CampaignDB, CampaignError, run_campaign  # noqa: E402
from scenarios.campaign.cluster import check_workers, run_campaign_dask  # noqa: E402
from scenarios.cli import main  # noqa: E402
from scenarios.runner import run_scenario  # noqa: E402


@pytest.fixture(scope="module")
def client():
    """The cluster of `--scheduler local:2`: 2 worker processes of 1 thread each."""
    from scenarios.campaign.cluster import connect
    with connect("local:2") as c:
        yield c


def stored(db: CampaignDB) -> dict[int, tuple]:
    return {r.seed: (r.outcome, r.digest, r.profile) for r in db.results()}


def test_dask_results_equal_local_results(tmp_path, client):
    """Same outcomes, digests and drawn profiles as the local pool, and as single runs."""
    seeds = list(range(1, 9))
    local = CampaignDB(str(tmp_path / "local.db"), "random", create=True)
    for _ in run_campaign("random", seeds, 2, local):
        pass
    dask = CampaignDB(str(tmp_path / "dask.db"), "random", create=True)
    for _ in run_campaign_dask(client, "random", seeds, dask, spot_check=0.5):
        pass
    assert stored(dask) == stored(local) and sorted(stored(dask)) == seeds
    assert stored(dask)[5][:2] == ("pass", run_scenario("random", 5).digest)
    rechecked = [r for r in dask.results() if r.recheck_digest is not None]
    assert rechecked and all(r.recheck_digest == r.digest for r in rechecked)
    assert {r.worker for r in dask.results()} == set(client.scheduler_info()["workers"])
    local.close()
    dask.close()


def test_worker_killed_mid_campaign_loses_nothing(tmp_path, client):
    """SIGKILL a worker while it holds seeds: Dask runs them elsewhere, every seed is stored
    once, with the result a single run gives."""
    pids = client.run(os.getpid)
    killed: list[int] = []

    def kill_once(result):
        if not killed:
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    seeds = list(range(20, 36))
    db = CampaignDB(str(tmp_path / "c.db"), "random-raft", create=True)
    for _ in run_campaign_dask(client, "random-raft", seeds, db, on_result=kill_once):
        pass
    results = stored(db)
    db.close()
    assert killed and sorted(results) == seeds
    for seed in seeds:
        assert results[seed][:2] == ("pass", run_scenario("random-raft", seed).digest)
    client.wait_for_workers(2, timeout=60)          # the nanny restarts it for the next test


def test_killed_client_then_ctrl_c_then_resume_lose_nothing(tmp_path):
    """SIGKILL the client mid-campaign: its cluster goes too, and a resumed campaign runs only
    the missing seeds. Ctrl-C on the resumed one (to the whole process group, the local
    cluster's workers included) keeps what is stored, prints how to continue and nothing on
    stderr. A last resume, on the local pool, completes the range with the same results.
    The range is long enough (a few seconds of work compiled) that the resumed campaign is
    still running when Ctrl-C comes."""
    n = 400
    db_path = str(tmp_path / "c.db")
    cmd = [sys.executable, "-m", "scenarios.cli", "campaign", "random-raft", "--seeds",
           f"1..{n}", "--db", db_path]
    dask = ["--scheduler", "local:2"]
    proc = subprocess.Popen(cmd + dask, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    _wait_for_rows(db_path, 3)
    os.kill(proc.pid, signal.SIGKILL)               # the client only
    proc.wait()
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):         # its cluster went with it, or goes now
        _kill_group(proc.pid)
    killed = _rows(db_path)
    assert 3 <= len(killed) < n

    proc = subprocess.Popen(cmd + dask + ["--resume"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    _wait_for_rows(db_path, len(killed) + 2)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err == "", out + err
    assert f"({n - len(killed)} to run, {len(killed)} already in" in out
    interrupted = _rows(db_path)
    assert n > len(interrupted) >= len(killed) + 2
    assert (f"interrupted: {len(interrupted)} of {n} seeds have results; continue with `raftsim "
            f"campaign random-raft --seeds 1..{n} --scheduler local:2 --db {db_path} "
            f"--resume`") in out

    done = subprocess.run(cmd + ["--jobs", "2", "--resume"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"({n - len(interrupted)} to run, {len(interrupted)} already in" in done.stdout
    after = _rows(db_path)
    assert sorted(after) == list(range(1, n + 1))
    for seed, row in interrupted.items():           # nothing stored was touched
        assert after[seed] == row
    for seed in (1, n):
        assert after[seed] == ("pass", run_scenario("random-raft", seed).digest)


def _wait_for_rows(path: str, n: int) -> None:
    deadline = time.time() + 120
    while time.time() < deadline and _count(path) < n:
        time.sleep(0.1)


def _kill_group(pgid: int) -> None:
    """Kill what is left of the process group; ProcessLookupError if nothing is left."""
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            raise
        time.sleep(0.2)
    os.killpg(pgid, signal.SIGKILL)


def _rows(path: str) -> dict[int, tuple]:
    with sqlite3.connect(path) as conn:
        return {r[0]: r[1:] for r in conn.execute("SELECT seed, outcome, digest FROM results")}


def _count(path: str) -> int:
    if not os.path.exists(path):
        return 0
    try:
        return len(_rows(path))
    except sqlite3.Error:
        return 0


def test_workers_with_other_code_are_refused(client):
    with pytest.raises(CampaignError, match=r"runs raftsim .*, this client runs 0\.0\.0\+other"):
        check_workers(client, "local", ours="0.0.0+other")


class _Lacking:
    """A client whose workers cannot import raftsim (what client.run returns then)."""

    def scheduler_info(self):
        return {"workers": {"tcp://10.0.0.9:4000": {}}}

    def run(self, func, *args, on_error="raise"):
        return {"tcp://10.0.0.9:4000": ModuleNotFoundError("No module named 'scenarios'")}


def test_workers_lacking_raftsim_are_refused():
    with pytest.raises(CampaignError, match=r"10\.0\.0\.9:4000 cannot run raftsim "
                                            r"\(ModuleNotFoundError"):
        check_workers(_Lacking(), "tcp://10.0.0.9:8786")


@pytest.mark.parametrize("scheduler, needle", [
    ("tcp://127.0.0.1:1", "cannot reach the Dask scheduler at tcp://127.0.0.1:1"),
    ("local:0", "local:N needs N >= 1"),
    ("127.0.0.1:8786", "expected tcp://HOST:PORT or local:N"),
])
def test_unusable_scheduler_is_one_line(tmp_path, capsys, scheduler, needle):
    path = tmp_path / "c.db"
    assert main(["campaign", "random-raft", "--seeds", "1..3", "--db", str(path),
                 "--scheduler", scheduler]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1
    assert not path.exists()                        # nothing written for bad input


PROBE = """
import sys
from scenarios.cli import main
from scenarios.registry import Scenario, register


def body(ctx):
    ctx.fail(f"distributed loaded: {'distributed' in sys.modules}")
    yield


register(Scenario("test-probe", "test", "reports what its process imported", body))
code = main(["campaign", "test-probe", "--seeds", "1..2", "--db", sys.argv[1], "--json"])
print(code, "distributed" in sys.modules)
"""


def test_the_local_path_does_not_import_dask(tmp_path):
    """Neither the command nor its worker processes import Dask without --scheduler."""
    out = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "c.db")],
                         capture_output=True, text=True)
    lines = out.stdout.splitlines()
    assert lines[-1] == "1 False", out.stdout + out.stderr
    failures = [json.loads(line)["failure"]["message"] for line in lines[:-1]]
    assert failures == ["distributed loaded: False"] * 2


def _crashy(ctx):
    if ctx.seed == 3:
        os._exit(7)                                 # takes its Dask worker down with it
    yield ctx.sleep(1)


class _RegisterCrashy(distributed.WorkerPlugin):
    """Every worker, restarted ones too, knows the scenario 'test-crashy'."""

    def setup(self, worker):
        from scenarios.registry import Scenario, register
        register(Scenario("test-crashy", "test", "kills its worker on seed 3", _crashy))


def test_seed_that_kills_its_workers_is_recorded_as_a_crash(tmp_path, client):
    """Dask gives the seed up after the scheduler's allowed failures (lowered to 1 here) and
    blames the seeds queued beside it on the dying workers too: a crash for that seed, every
    other seed passes (each suspect runs again alone)."""
    from scenarios.registry import Scenario, register, unregister
    register(Scenario("test-crashy", "test", "kills its worker on seed 3", _crashy))
    client.register_plugin(_RegisterCrashy(), name="crashy")
    previous = client.run_on_scheduler(_set_allowed_failures, 1)
    try:
        db = CampaignDB(str(tmp_path / "c.db"), "test-crashy", create=True)
        for _ in run_campaign_dask(client, "test-crashy", range(1, 13), db):
            pass
        results = {r.seed: r for r in db.results()}
        db.close()
    finally:
        client.run_on_scheduler(_set_allowed_failures, previous)
        client.unregister_worker_plugin("crashy")
        unregister("test-crashy")
    assert sorted(results) == list(range(1, 13))
    assert results[3].outcome == "crash" and "KilledWorker" in results[3].failure
    others = {s: (r.outcome, r.failure) for s, r in results.items() if s != 3}
    assert others == {s: ("pass", None) for s in range(1, 13) if s != 3}
    client.wait_for_workers(2, timeout=60)


def _set_allowed_failures(n, dask_scheduler=None):
    previous = dask_scheduler.allowed_failures
    dask_scheduler.allowed_failures = n
    return previous


def test_ctrl_c_while_the_local_cluster_starts_is_not_lost(monkeypatch):
    """A Ctrl-C that lands while `local:N` starts its cluster (SIGINT ignored then, so that the
    workers inherit the ignoring) interrupts as soon as start-up ends, and the cluster is
    closed: it is neither thrown away nor leaves processes behind. Every thread Dask starts
    then blocks SIGINT, so the kernel hands a Ctrl-C to the main thread: sent there (a
    thread older than the start, such as this module's cluster fixture, could take it and
    drop it, which a campaign started from the command line never has)."""
    import signal

    from scenarios.campaign.cluster import connect
    closed: list[bool] = []

    class Starting:
        def __init__(self, **options):
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)  # Ctrl-C now

        def close(self):
            closed.append(True)

    monkeypatch.setattr(distributed, "LocalCluster", Starting)
    with pytest.raises(KeyboardInterrupt):
        with connect("local:2"):
            pytest.fail("the campaign went on after Ctrl-C")
    assert closed == [True]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, set())


def test_a_local_cluster_never_gives_its_workers_up():
    """A LocalCluster closes a worker's nanny for good if no worker of its name is registered
    `lost-worker-timeout` after one of its deaths: a seed that kills worker after worker can
    make that check land between a death and the restart. While `local:N` runs, the check
    is put off beyond any campaign; Dask's own setting is back afterwards."""
    import dask
    from dask.utils import parse_timedelta

    from scenarios.campaign.cluster import connect
    key = "distributed.deploy.lost-worker-timeout"
    before = dask.config.get(key)
    with connect("local:1") as c:
        assert parse_timedelta(dask.config.get(key)) >= 365 * 86400
        assert len(c.cluster.workers) == 1
    assert dask.config.get(key) == before


def test_local_workers_ignore_ctrl_c():
    """The workers of `local:N` ignore SIGINT (a Ctrl-C at the terminal is the client's to
    handle: they inherit the ignoring from the start-up), while the client's own handler is
    left as it was."""
    import signal

    from scenarios.campaign.cluster import connect
    before = signal.getsignal(signal.SIGINT)
    with connect("local:1") as c:
        answers = c.run(signal.getsignal, signal.SIGINT)
    assert list(answers.values()) == [signal.SIG_IGN]
    assert signal.getsignal(signal.SIGINT) is before
