"""Where batches run: in the run's own process, in local worker processes, or on a
dask cluster; each batch's records written as it finishes, its share
(``batch_parts``) handed back.

Local backends:

- ``fork`` (the default on Linux): workers forked from a process that has the
  run's imports and the compiled kernel, so they start in milliseconds. From the
  command line that process is ``early_workers``' warm process, started before the
  run's own imports; otherwise the run itself (each worker then loads the kernel,
  ~0.5 s, side by side). Each writes its batches' records and sends back only
  their shares.
- ``loky`` (joblib; the default elsewhere, where forking a process with threads is
  not safe): fresh interpreters, each paying the run's imports (~1 s) on top.

Either way a worker ends within a second of its parent's death (no orphans after a
``kill -9`` of the run), and an interrupted or failing run stops its workers at
once. With ``dask`` (whose workers need not share the run's file system) the
parent writes the records the workers return.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import socket
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any

import pandas as pd

from trajectories.pipeline.batch_parts import BatchPart, point_share
from trajectories.pipeline.batches import Batch, run_batch
from trajectories.pipeline.config import ConfigError, RunConfig
from trajectories.pipeline.early_workers import (
    BACKENDS,
    LOCAL_BACKEND,
    WATCH_INTERVAL,
    EarlyWorkers,
    stop_with_parent,
)


def local_jobs(jobs: int) -> int:
    """The number of local processes ``--jobs`` asks for (-1: every core); a
    ConfigError for 0 or below -1."""
    if jobs == 0 or jobs < -1:
        raise ConfigError(f"--jobs={jobs} must be >= 1, or -1 for all cores")
    return (os.cpu_count() or 1) if jobs == -1 else jobs


Writer = Callable[[Batch, dict[str, pd.DataFrame]], None]
"""Writes a batch's records (``RunDirectory.write_batch``)."""

Done = tuple[Batch, BatchPart]
"""A finished batch (its records written) and its share of the records."""


def execute(
    config: RunConfig,
    batches: list[Batch],
    write: Writer,
    *,
    n_jobs: int = 1,
    backend: str = LOCAL_BACKEND,
    scheduler: str | None = None,
    client: Any = None,
    early: EarlyWorkers | None = None,
) -> Generator[Done]:
    """Run and write batches: a generator of each one with its share, once its
    records are written (close it to stop the workers). Dask runs through
    ``client``, else a client of ``scheduler`` of its own; forked workers come from
    ``early`` if given and still alive (which starts them at once)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} must be one of {BACKENDS}")
    if backend == "dask":
        return _on_dask(config, batches, write, n_jobs, scheduler, client)
    if n_jobs == 1:
        return _in_process(config, batches, write)
    if backend == "fork" and early is not None and early.alive:
        return early.run(_forked, config, batches, write, n_jobs)
    if backend == "fork":
        return _forked(config, batches, write, n_jobs)
    return _on_loky(config, batches, write, n_jobs)


def _in_process(
    config: RunConfig, batches: list[Batch], write: Writer
) -> Generator[Done]:
    points, sweep = config.points(), bool(config.sweep)
    for b in batches:
        yield finish(points[b.point], b, sweep, write)


def finish(point: RunConfig, batch: Batch, sweep: bool, write: Writer) -> Done:
    """Simulate a batch, write its records and form its share from them."""
    records = run_batch(point, batch, sweep)
    write(batch, records)
    return batch, point_share(point, records)


def _forked(
    config: RunConfig, batches: list[Batch], write: Writer, n_jobs: int
) -> Generator[Done]:
    points, sweep = config.points(), bool(config.sweep)
    pool = ProcessPoolExecutor(
        n_jobs,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_worker_start,
    )
    futures: list[Future] = []
    try:
        for b in batches:
            futures.append(pool.submit(finish, points[b.point], b, sweep, write))
        for future in as_completed(futures):
            yield future.result()
    finally:
        if not all(f.done() for f in futures):  # interrupted, or a batch failed
            # no cancel(): on Python 3.11 the pool's manager thread then fails on
            # the cancelled futures (gh-107219) and leaves its workers unreaped
            _stop_workers(pool)
        pool.shutdown(wait=True)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """End the pool's running workers now (their batches are lost, not damaged:
    records are written atomically)."""
    stop = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if stop is not None:
        stop()
        return
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        proc.terminate()


def _on_loky(
    config: RunConfig, batches: list[Batch], write: Writer, n_jobs: int
) -> Generator[Done]:
    from joblib import Parallel, delayed, parallel_config

    points, sweep = config.points(), bool(config.sweep)
    tasks = (delayed(finish)(points[b.point], b, sweep, write) for b in batches)
    with parallel_config(backend="loky", initializer=_worker_start):
        yield from Parallel(n_jobs=n_jobs, return_as="generator_unordered")(tasks)


def _on_dask(
    config: RunConfig,
    batches: list[Batch],
    write: Writer,
    n_jobs: int,
    scheduler: str | None,
    client: Any,
) -> Generator[Done]:
    from joblib import Parallel, delayed, parallel_config

    points, sweep = config.points(), bool(config.sweep)
    tasks = (delayed(_remote)(points[b.point], b, sweep) for b in batches)
    with connected("dask", scheduler, client):
        with parallel_config(backend="dask", n_jobs=n_jobs):
            for batch, records, part in Parallel(return_as="generator_unordered")(
                tasks
            ):
                write(batch, records)
                yield batch, part


def _remote(
    point: RunConfig, batch: Batch, sweep: bool
) -> tuple[Batch, dict[str, pd.DataFrame], BatchPart]:
    records = run_batch(point, batch, sweep)
    return batch, records, point_share(point, records)


_WATCHED: list[int] = []


def _worker_start(interval: float = WATCH_INTERVAL) -> None:
    """The initializer of local worker processes.

    SIGTERM ends a worker at once (a forked worker would otherwise inherit the run's
    handler, which turns SIGTERM into KeyboardInterrupt), and Ctrl-C is left to the
    parent, which stops its workers (no traceback from each). The worker ends within
    ``interval`` seconds of its parent's death, or at once if the parent died while
    it was forked (``stop_with_parent``: the parent's pid recorded before the fork),
    so a killed run leaves no worker behind (workers outlive a ``kill -9`` of their
    parent otherwise). A daemon thread, once per process.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    creator = multiprocessing.parent_process()
    parent = creator.pid if creator is not None and creator.pid else os.getppid()
    if parent in _WATCHED:
        return
    _WATCHED.append(parent)
    stop_with_parent(parent, lambda: os._exit(1), interval)


CONNECT_TIMEOUT = 5.0
"""Seconds to wait for the dask scheduler (``connected``)."""


def _reachable(scheduler: str) -> None:
    """OSError or ValueError unless a TCP (or TLS) scheduler address accepts a
    connection within ``CONNECT_TIMEOUT`` seconds (other schemes are left to dask):
    no dask Client is built for an address nothing listens on."""
    from distributed.comm.addressing import parse_address, parse_host_port

    scheme, location = parse_address(scheduler)
    if scheme in ("tcp", "tls"):
        host, port = parse_host_port(location)
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()


@contextmanager
def connected(backend: str, scheduler: str | None, client: Any = None) -> Iterator[Any]:
    """The dask client of ``backend`` "dask" (None for a local backend): ``client``
    if given, else one connected to ``scheduler`` within ``CONNECT_TIMEOUT`` seconds
    and closed on the way out. A ConfigError if the scheduler is missing or
    unreachable."""
    if backend != "dask" or client is not None:
        yield client
        return
    try:
        from dask.distributed import Client
    except ImportError:
        raise ConfigError(
            "--backend dask needs dask.distributed: pip install -e '.[cluster]'"
        ) from None
    if not scheduler:
        raise ConfigError("--backend dask needs --scheduler ADDRESS (tcp://host:port)")
    try:
        _reachable(scheduler)
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, ValueError, TimeoutError) as err:
        # a Client whose construction failed is closed by its __del__: let that run
        # now, not in the next thread that starts (where it deadlocks on the lock
        # of a new Client's event loop)
        gc.collect()
        raise ConfigError(
            f"--scheduler {scheduler}: cannot connect to the dask scheduler ({err})"
        ) from None
    try:
        yield client
    finally:
        client.close()
