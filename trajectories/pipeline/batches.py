"""Batches of a run: the plan, their seeds, their records, and where they run.

Batch b draws from ``SeedSequence(seed).spawn(n_batches)[b]`` (``spawn_key=(b,)``); in
a sweep, batch b of grid point p draws from ``SeedSequence(seed).spawn(n_points)[p]
.spawn(n_batches)[b]`` (``spawn_key=(p, b)``). Its records depend on nothing but the
config and the seed: not on the number of jobs, the backend, or which batches ran
before an interruption.

Backends: joblib's ``loky`` on local cores (default) or ``dask`` (a dask.distributed
scheduler at ``scheduler``; ``pip install -e ".[cluster]"``). Each batch's records
are written as it finishes (by the local worker that ran it, or by the parent for
dask), so a failure loses no finished batch;
a local worker ends within a second of its parent's death (no orphans after a
``kill -9`` of the run).
"""

from __future__ import annotations

import gc
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, parallel_config
from threadpoolctl import threadpool_limits

from trajectories.exact.states import steady_state
from trajectories.heralding.protocol import run_heralding
from trajectories.pipeline.config import ConfigError, RunConfig
from trajectories.pipeline.states import state_support, states_table

RELAXATION_SAMPLES = 16
"""Ensemble samples spread over the burn-in (the relaxation curves of the report)."""


@dataclass(frozen=True)
class Batch:
    """One unit of work: grid point, batch index, first trajectory and size."""

    point: int
    index: int
    start: int
    size: int

    @property
    def name(self) -> str:
        """File stem of the batch records."""
        return f"p{self.point:03d}_b{self.index:05d}"


def plan(config: RunConfig) -> list[Batch]:
    """All batches of all grid points, in a fixed order."""
    n, size = config.sampling.n_traj, config.sampling.batch_size
    out = []
    for p in range(len(config.points())):
        for b, start in enumerate(range(0, n, size)):
            out.append(Batch(p, b, start, min(size, n - start)))
    return out


def batch_rng(seed: int, batch: Batch, sweep: bool = False) -> np.random.Generator:
    """The batch's own generator, a child of the run seed (see the module docstring)."""
    key = (batch.point, batch.index) if sweep else (batch.index,)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def run_batch(point: RunConfig, batch: Batch, sweep: bool) -> dict[str, pd.DataFrame]:
    """Simulate one batch: its attempts table and its per-machine runs table.

    BLAS runs on one thread: threaded linear algebra (eigenvectors of degenerate
    states, sums in matrix products) can differ in the last bits between thread
    counts, and the records must not depend on where a batch runs.
    """
    with threadpool_limits(limits=1):
        return _run_batch(point, batch, sweep)


def _run_batch(point: RunConfig, batch: Batch, sweep: bool) -> dict[str, pd.DataFrame]:
    model = point.build_model()
    proto = point.protocol
    support = state_support(steady_state(model))
    run = run_heralding(
        model,
        n_traj=batch.size,
        rng=batch_rng(point.sampling.seed, batch, sweep=sweep),
        attempt_period=proto.attempt_period,
        n_attempts=proto.attempts,
        restart=proto.restart,
        n_machines=proto.machines,
        initial=point.sampling.initial,
        burn_in=point.burn_in,
        relaxation_samples=RELAXATION_SAMPLES,
        average_elements=support,
    )
    attempts = run.attempts_table()
    runs = run.runs_table()
    states = states_table(run.ensemble, support, point.burn_in)
    for table in (attempts, runs):
        table["trajectory"] += batch.start
    for table in (attempts, runs, states):
        table.insert(0, "batch", batch.index)
        table.insert(0, "point", batch.point)
    attempts["bank"] = attempts["trajectory"] // proto.machines
    return {"attempts": attempts, "runs": runs, "states": states}


Writer = Callable[[Batch, dict[str, pd.DataFrame]], None]
"""Writes a batch's records (``RunDirectory.write_batch``)."""


def execute(
    config: RunConfig,
    batches: list[Batch],
    write: Writer,
    *,
    n_jobs: int = 1,
    backend: str = "loky",
    scheduler: str | None = None,
    client: Any = None,
) -> Iterator[Batch]:
    """Run and write batches, yielding each one once its records are written.

    Local workers (loky) write their own records, so only the batch travels back to
    the parent; with dask (whose workers need not share the run's file system) the
    parent writes what they return. Dask runs through ``client``, else a client of
    ``scheduler`` of its own.
    """
    points, sweep = config.points(), bool(config.sweep)
    if n_jobs == 1 and backend == "loky":
        for b in batches:
            yield _run_and_write(points[b.point], b, sweep, write)
        return
    if backend == "dask":
        tasks = (delayed(_tagged)(points[b.point], b, sweep) for b in batches)
        with connected(backend, scheduler, client):
            with parallel_config(backend="dask", n_jobs=n_jobs):
                for batch, records in Parallel(return_as="generator_unordered")(tasks):
                    write(batch, records)
                    yield batch
        return
    if backend != "loky":
        raise ValueError(f"backend={backend!r} must be 'loky' or 'dask'")
    tasks = (delayed(_run_and_write)(points[b.point], b, sweep, write) for b in batches)
    with parallel_config(backend="loky", initializer=_stop_with_parent):
        yield from Parallel(n_jobs=n_jobs, return_as="generator_unordered")(tasks)


def _tagged(
    point: RunConfig, batch: Batch, sweep: bool
) -> tuple[Batch, dict[str, pd.DataFrame]]:
    return batch, run_batch(point, batch, sweep)


def _run_and_write(point: RunConfig, batch: Batch, sweep: bool, write: Writer) -> Batch:
    write(batch, run_batch(point, batch, sweep))
    return batch


_WATCHED: list[int] = []


def _stop_with_parent(interval: float = 0.5) -> None:
    """The initializer of local worker processes: end the worker within
    ``interval`` seconds of its parent's death (the parent's pid is replaced by a
    reaper's), so a killed run leaves no worker behind (loky's workers outlive a
    ``kill -9`` of their parent otherwise). A daemon thread, once per process."""
    if _WATCHED:
        return
    parent = os.getppid()
    _WATCHED.append(parent)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="stop-with-parent", daemon=True).start()


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
    """The dask client of ``backend`` "dask" (None for "loky"): ``client`` if given,
    else one connected to ``scheduler`` within ``CONNECT_TIMEOUT`` seconds and closed
    on the way out. A ConfigError if the scheduler is missing or unreachable."""
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
