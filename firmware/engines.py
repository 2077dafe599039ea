"""Where re-analysis tasks run: one small seam in front of three engines.

Each engine runs a pure, importable function over picklable items and hands
back `(item, result, error)` as each completes, in whatever order; the caller
never learns how it ran:

- `InlineEngine`: this process, one item after another. No start-up, no
  parallelism; tests and debugging.
- `ProcessEngine`: a pool of worker processes on this box (the standard
  library's, spawned, one thread each). No scheduler: it starts in the time
  its processes take to import the firmware. A worker that dies (kill -9,
  out of memory) breaks the pool: a new pool reruns what had not finished,
  and after BROKEN_LIMIT breaks in a row with nothing finished in between
  the rest fail.
- `DaskEngine`: Dask distributed (the `archive` extra): a `LocalCluster` of
  worker processes on this box, or an existing cluster at a scheduler
  address whose workers see the archive at the same paths. The scheduler
  reruns the work of a worker that dies (up to its `allowed-failures`).

`startup_seconds` is what an engine took to be ready to run work.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

log = logging.getLogger("firmware.engines")

ENGINES = ("dask", "processes", "inline")
BROKEN_LIMIT = 3          # pool breaks in a row, with nothing finished in between, before giving up
CONNECT_TIMEOUT = 15.0    # seconds to reach a scheduler given by address
WORKER_TIMEOUT = 60.0     # seconds for a cluster's first worker, or a LocalCluster's workers, to come up

Outcome = tuple[Any, Any, BaseException | None]


class EngineError(Exception):
    """An engine cannot start or reach its cluster; one line for the user."""


class WorkerLost(Exception):
    """A task's worker process died every time it was tried."""


class Engine(Protocol):
    description: str        # for the user: "LocalCluster, 2 workers"
    workers: int
    startup_seconds: float

    def run(self, fn: Callable, items: Iterable, key: Callable[[Any], str]) -> Iterator[Outcome]: ...
    def close(self) -> None: ...


def start_engine(kind: str, workers: int, scheduler: str | None = None,
                 initializer: Callable[[], None] | None = None) -> Engine:
    """The engine `kind` ("dask", "processes", "inline") with `workers` workers
    (a cluster given by `scheduler` brings its own). `initializer` runs once in
    worker process before its first task (inline: the task function does it)."""
    if kind == "dask":
        return DaskEngine(workers, scheduler, initializer)
    if scheduler is not None:
        raise EngineError(f"--scheduler needs the dask engine, not {kind}")
    if kind == "processes":
        return ProcessEngine(workers, initializer)
    if kind == "inline":
        return InlineEngine()
    raise EngineError(f"unknown engine {kind!r}; choose from {', '.join(ENGINES)}")


def dask_available() -> bool:
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


class InlineEngine:
    def __init__(self) -> None:
        self.description = "this process"
        self.workers = 1
        self.startup_seconds = 0.0

    def run(self, fn, items, key):
        for item in items:
            try:
                result = fn(item)
            except Exception as e:
                yield item, None, e
            else:
                yield item, result, None

    def close(self) -> None:
        pass


class ProcessEngine:
    def __init__(self, workers: int, initializer: Callable[[], None] | None = None):
        if workers < 1:
            raise EngineError(f"--workers must be at least 1 (got {workers})")
        t0 = time.perf_counter()
        self.workers = workers
        self.description = f"process pool, {workers} worker{'s' if workers > 1 else ''}"
        self._initializer = initializer
        self._pool = self._new_pool()
        # Processes start on demand: make them all now, so start-up is measured here.
        list(self._pool.map(_ready, range(workers)))
        self.startup_seconds = time.perf_counter() - t0

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"),
                                   initializer=_init_worker, initargs=(self._initializer,))

    def run(self, fn, items, key):
        todo = {key(item): item for item in items}
        breaks = 0
        while todo:
            futures = {self._pool.submit(fn, item): k for k, item in todo.items()}
            broken = False
            for fut in as_completed(futures):
                k = futures[fut]
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    broken = True
                    continue
                except Exception as e:
                    breaks = 0
                    yield todo.pop(k), None, e
                    continue
                breaks = 0
                yield todo.pop(k), result, None
            if broken:
                breaks += 1
                log.warning("a worker process died; %d task(s) run again in a new pool", len(todo))
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
                if breaks >= BROKEN_LIMIT:
                    for k in list(todo):
                        yield todo.pop(k), None, WorkerLost(f"its worker process died {breaks} times")

    def close(self) -> None:
        """Stop at once: what a worker is in the middle of is lost (an interrupted run is
        resumed by running it again), so Ctrl-C does not wait for the tasks running."""
        processes = list(getattr(self._pool, "_processes", {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            p.terminate()
        for p in processes:
            p.join(5)


def _init_worker(initializer) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    if initializer is not None:
        initializer()


def _ready(_: int) -> bool:
    return True


class DaskEngine:
    def __init__(self, workers: int | None, scheduler: str | None = None,
                 initializer: Callable[[], None] | None = None):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise EngineError("Dask is not installed: pip install 'nvr-heatmap[archive]', "
                              "or run on this box with --engine processes") from None
        t0 = time.perf_counter()
        # Dask's own chatter would bury the command's lines; what matters to the user
        # (a task that failed, a worker lost for good) comes back as a task's error.
        logging.getLogger("distributed").setLevel(logging.ERROR)
        self._cluster = None
        self._futures: list = []
        if scheduler is not None:
            try:
                self._client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
            except (OSError, TimeoutError) as e:
                raise EngineError(f"--scheduler {scheduler}: cannot connect ({_one_line(e)})") from None
            try:
                self._client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
            except TimeoutError:
                self._client.close()
                raise EngineError(f"--scheduler {scheduler}: no worker joined within {WORKER_TIMEOUT:g} s") from None
            if initializer is not None:
                self._client.run(initializer)  # later workers run it with their first task
            self.workers = sum(w.get("nthreads", 1) for w in self._client.scheduler_info()["workers"].values())
            self.description = f"Dask cluster at {scheduler}, {self.workers} worker thread(s)"
        else:
            if workers is None or workers < 1:
                raise EngineError(f"--workers must be at least 1 (got {workers})")
            # Loopback only, no dashboard: nothing of this box is served to the network.
            self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                         host="127.0.0.1", dashboard_address=None,
                                         silence_logs=logging.CRITICAL)  # failures come back as errors
            self._client = Client(self._cluster, set_as_default=False)
            self._client.wait_for_workers(workers, timeout=WORKER_TIMEOUT)
            self._client.register_plugin(_local_worker_setup()(initializer), name="nvr-worker-setup")
            self.workers = workers
            self.description = f"Dask LocalCluster, {workers} worker{'s' if workers > 1 else ''}"
        self.startup_seconds = time.perf_counter() - t0

    def run(self, fn, items, key):
        from distributed import as_completed as dask_completed

        items = list(items)
        if not items:
            return
        futures = self._client.map(fn, items, key=[key(i) for i in items], pure=False)
        self._futures = futures
        by_key = {f.key: item for f, item in zip(futures, items)}
        # with_results: results are fetched in the background as tasks finish, not one
        # round trip per task here.
        for fut, result in dask_completed(futures, loop=self._client.loop, with_results=True, raise_errors=False):
            item = by_key.pop(fut.key)
            if fut.status == "finished":
                yield item, result, None
            else:
                error = fut.exception() if fut.status == "error" else None
                yield item, None, error or WorkerLost(f"task {fut.status}")
            fut.release()
        self._futures = []

    def close(self) -> None:
        try:
            if self._futures:
                self._client.cancel(self._futures)
            self._client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()


def _local_worker_setup():
    """A WorkerPlugin for our own LocalCluster's workers, run as each starts (a worker the
    nanny restarts too): the initializer (kernels loaded before the first task, as the
    process pool's are), and Ctrl-C left to the driver: a terminal's Ctrl-C reaches the
    whole process group, and the driver stops the cluster in order, so its workers must not
    die of it first (each would print a traceback)."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class LocalWorkerSetup(WorkerPlugin):
        def __init__(self, initializer):
            self.initializer = initializer

        def setup(self, worker) -> None:
            import signal

            signal.signal(signal.SIGINT, signal.SIG_IGN)
            if self.initializer is not None:
                self.initializer()

    return LocalWorkerSetup


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
