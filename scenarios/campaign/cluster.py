"""Running a campaign on a Dask cluster (``distributed``): ``tcp://HOST:PORT`` or ``local:N``.

The client keeps a sliding window of submitted seeds (a few per worker thread, never the whole
range), takes results as they complete (``as_completed``) and hands each to the same ``Ledger``
as the local pool: one writer of the database, the same spot-check. A worker that dies mid-seed
makes the scheduler run the seed elsewhere; after ``allowed-failures`` deaths it is given up
(``KilledWorker``). Dask blames every seed a dying worker held, the innocent ones queued beside
the culprit too, so a batch given up on among others runs again alone (nothing else in flight),
split into single seeds if given up on alone, and a single seed given up on alone is recorded as
a crash. Before anything runs, every worker must be running the client's raftsim (same version
and source fingerprint): a worker with other code would produce other digests, silently. Only
this module imports Dask.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import signal
import socket
import warnings
from typing import Any, Callable, Generator, Iterable, Iterator, Sized

from scenarios.campaign.db import CampaignDB, CampaignError, SeedResult
from scenarios.campaign.work import Ledger, Task, fingerprint, perform_batch

__all__ = ["run_campaign_dask", "connect", "parse_scheduler"]

#: Seeds in flight per worker thread: enough to keep workers busy between round trips.
WINDOW_PER_THREAD = 2
#: Seeds per Dask task. A seed of a random scenario takes tens of milliseconds; the scheduler's
#: cost per task (its loop shares the client's machine) is paid once for a batch. A batch that
#: Dask gives up on while it runs alone is split, so only the seed that kills its workers is a
#: crash.
BATCH = 8
CONNECT_TIMEOUT_S = 10
#: Dask settings for the life of a ``local:N`` cluster. A LocalCluster hard-closes a worker's
#: nanny when, ``lost-worker-timeout`` after any death of that worker, no worker of its name is
#: registered: a seed that kills its workers again and again (several deaths in a row, each
#: restart taking seconds on a loaded machine) can make that check land between a death and
#: the restart, and the cluster then loses the worker for good (all of them: the campaign
#: waits forever). Our nannies live in this process and restart their worker themselves:
#: nothing is ever lost for real, so the check is put off for good.
LOCAL_CLUSTER_CONFIG = {"distributed.deploy.lost-worker-timeout": "3650d"}


def parse_scheduler(text: str) -> tuple[str, int]:
    """``local:N`` -> ("local", N); ``tcp://HOST:PORT`` (or tls://) -> (address, 0)."""
    if text.startswith("local:"):
        try:
            n = int(text[len("local:"):])
        except ValueError:
            n = 0
        if n < 1:
            raise CampaignError(f"bad --scheduler {text!r}: local:N needs N >= 1 workers")
        return "local", n
    if "://" not in text or not text.split("://", 1)[1]:
        raise CampaignError(f"bad --scheduler {text!r}: expected tcp://HOST:PORT or local:N")
    return text, 0


@contextlib.contextmanager
def connect(scheduler: str) -> Iterator[Any]:
    """A ``distributed.Client`` for ``scheduler`` (starting a LocalCluster for local:N), whose
    workers have been checked to run this raftsim; closed (and the cluster stopped) on exit.

    While it starts, SIGINT is blocked in this thread, so every thread Dask starts meanwhile
    inherits the block and a Ctrl-C can only reach the main thread: it stays pending and
    interrupts as soon as the start-up is over (the cluster is then closed again), instead of
    being taken by a Dask thread and lost."""
    address, n = parse_scheduler(scheduler)
    with contextlib.ExitStack() as stack:
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            client = _start(stack, address, n)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)   # a pending Ctrl-C lands here
        yield client


def _start(stack: contextlib.ExitStack, address: str, n: int) -> Any:
    try:
        import distributed
    except ImportError:
        raise CampaignError("--scheduler needs Dask: pip install 'raftsim[dask]'") from None
    logging.getLogger("distributed").setLevel(logging.CRITICAL)   # one line, never a log
    if address == "local":
        # Its processes inherit an ignored SIGINT: Ctrl-C is the client's to handle (it stops
        # them), and a worker never prints a traceback for it. Setting SIG_IGN would discard a
        # Ctrl-C already pending: that one interrupts now.
        # The dashboard takes any free port: a busy 8787 (another cluster) is not worth a
        # warning.
        if signal.SIGINT in signal.sigpending():
            raise KeyboardInterrupt
        import dask
        stack.enter_context(dask.config.set(LOCAL_CLUSTER_CONFIG))   # restored after close
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1,
                                                   processes=True, dashboard_address=":0",
                                                   silence_logs=logging.CRITICAL)
            stack.callback(_quietly, cluster.close)
        finally:
            signal.signal(signal.SIGINT, previous)
        client = distributed.Client(cluster)
    else:
        _probe(address)
        try:
            client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            raise CampaignError(f"cannot reach the Dask scheduler at {address} "
                                f"({' '.join(str(exc).split())[:200]})") from None
    stack.callback(_quietly, client.close)
    check_workers(client, address)
    return client


def _quietly(close: Callable[[], Any]) -> None:
    """Shut down without a word: the campaign's results are stored, whatever happens here
    (an interrupted client may find its connections already gone)."""
    try:
        close()
    except Exception:
        pass


def _probe(address: str) -> None:
    """Fail fast on an address nobody listens on (Dask itself retries until its timeout)."""
    scheme, _, rest = address.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme not in ("tcp", "tls") or not port.isdigit():
        return                               # let Dask judge other transports
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise CampaignError(f"cannot reach the Dask scheduler at {address} "
                            f"({exc.strerror or exc})") from None


def check_workers(client: Any, address: str, ours: str | None = None) -> None:
    """Every worker imports raftsim and runs the client's exact code; else bad input."""
    workers = client.scheduler_info()["workers"]
    if not workers:
        raise CampaignError(f"the Dask scheduler at {address} has no workers (start some "
                            f"with `dask worker {address}`)")
    ours = ours or fingerprint()
    from importlib.metadata import version
    for worker, found in client.run(version, "raftsim", on_error="return").items():
        if isinstance(found, BaseException):
            raise CampaignError(f"Dask worker {worker} cannot run raftsim "
                                f"({type(found).__name__}: {found})")
    for worker, found in client.run(fingerprint, on_error="return").items():
        if isinstance(found, BaseException):
            raise CampaignError(f"Dask worker {worker} cannot run raftsim "
                                f"({type(found).__name__}: {found})")
        if found != ours:
            raise CampaignError(f"Dask worker {worker} runs raftsim {found}, this client "
                                f"runs {ours}: install the same version everywhere (another "
                                "version would give other digests)")


def run_campaign_dask(client: Any, scenario: str, seeds: Iterable[int], db: CampaignDB,
                      on_result: Callable[[SeedResult], None] = lambda r: None,
                      params: dict[str, Any] | None = None, spot_check: float = 0.0,
                      rechecks: Iterable[SeedResult] = (),
                      ledger: Ledger | None = None) -> Generator[None, None, None]:
    """``local.run_campaign`` on the workers of ``client``; a generator, stopped by closing it
    (outstanding work is cancelled, everything stored stays stored)."""
    from distributed import as_completed
    ledger = ledger or Ledger(db, scenario, params, spot_check, on_result)
    todo = iter(seeds)
    source = fingerprint()
    threads = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
    window = max(2, WINDOW_PER_THREAD * threads)
    # A short campaign still spreads over every worker: batches of at most half a share.
    size = len(seeds) if isinstance(seeds, Sized) else BATCH * 2 * threads
    batch_size = max(1, min(BATCH, -(-size // (2 * threads))))
    tasks: dict[Any, tuple[tuple[Task, ...], bool]] = {}    # future -> (batch, ran alone)
    # Batches Dask gave up on while others were in flight: each runs again alone, once nothing
    # else is in flight, so that a dying worker can only blame the batch that killed it.
    suspects: list[tuple[Task, ...]] = []
    flight = as_completed()
    serial = itertools.count()               # a resubmitted task needs a new key

    def submit(batch: tuple[Task, ...], first: str | None = None, alone: bool = False) -> None:
        others = [w for w in client.scheduler_info()["workers"] if w != first] if first else []
        where = dict(workers=others, allow_other_workers=True) if others else {}
        kind = "seeds" if batch[0][1] is None else "recheck"
        key = f"raftsim-{kind}-{batch[0][0]}-{len(batch)}-{next(serial)}-{client.id}"
        future = client.submit(perform_batch, scenario, params, batch, source, pure=False,
                               key=key, **where)
        tasks[future] = (batch, alone)
        flight.add(future)

    def top_up() -> None:
        if suspects:                         # no new work until every suspect has run alone
            if not tasks:
                submit(suspects.pop(0), alone=True)
            return
        while len(tasks) < window:
            batch = tuple(ledger.task(seed) for seed in itertools.islice(todo, batch_size))
            if not batch:
                return
            submit(batch)

    for r in rechecks:
        if r.digest is not None:
            submit((ledger.task(r.seed, r.digest),), r.worker)
    top_up()
    try:
        for future in flight:
            batch, alone = tasks.pop(future)
            try:
                answers = future.result()
            except Exception as exc:             # KilledWorker: workers died holding it
                if _other_code(exc):
                    raise CampaignError(f"a Dask worker runs other raftsim code: {exc}") from None
                if not alone:                    # perhaps blamed for a neighbour: run it alone
                    suspects.append(batch)
                elif len(batch) > 1:             # it kills workers: find the seed that does
                    suspects.extend((task,) for task in batch)
                else:
                    ledger.lost(batch[0], f"Dask gave up on it while it ran alone: "
                                f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
            else:
                for answer in answers:
                    follow = ledger.accept(answer)
                    if follow is not None:
                        submit((follow,), getattr(answer, "worker", None))
            future.release()
            top_up()
            yield
    finally:
        client.cancel(list(tasks))


def _other_code(exc: BaseException) -> bool:
    return isinstance(exc, RuntimeError) and "raftsim source differs" in str(exc)
