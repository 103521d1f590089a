"""Batches of a run: the plan, their seeds and their records (where they run:
``backends``).

Batch b draws from ``SeedSequence(seed).spawn(n_batches)[b]`` (``spawn_key=(b,)``); in
a sweep, batch b of grid point p draws from ``SeedSequence(seed).spawn(n_points)[p]
.spawn(n_batches)[b]`` (``spawn_key=(p, b)``). Its records depend on nothing but the
config and the seed: not on the number of jobs, the backend, or which batches ran
before an interruption.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from trajectories.exact.states import steady_state
from trajectories.heralding.protocol import run_heralding
from trajectories.pipeline.config import RunConfig
from trajectories.pipeline.states import state_support, states_table
from trajectories.system.machines import qutrit
from trajectories.system.models import ResetModel

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


def warm_up() -> None:
    """Run one two-qutrit reset machine through one attempt: numba's import and the
    compiled kernel's load from its cache (~0.4 s), done once in the process that
    local workers are forked from (``early_workers``), so that they start warm."""
    model = ResetModel(qutrit(g=0.01), p_A=0.002, p_B=0.01)
    rng = np.random.default_rng(0)
    run_heralding(model, n_traj=1, rng=rng, attempt_period=1.0, n_attempts=1)
