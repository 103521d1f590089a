"""One streaming pass over a run's batch records, feeding the summary and the report.

``PointRecords`` folds the batches of one grid point, one at a time (memory: one
batch plus K of every machine as int32, the rho' group sums and the small states
tables): the sums of the Born and sampled first-attempt outcomes, the rho' group sums
(``ratio_groups``), K, the attempt of each machine's first success (censored:
attempts + 1), and the per-batch sums of the sampled states (``states.py``). The
first-round success of a bank of n machines is read off K (some K == 1 among its
machines).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from analysis.heralding_stats import ratio_groups
from trajectories.pipeline.config import RunConfig
from trajectories.pipeline.rundir import RunDirectory


class PointRecords:
    """The running sums and per-machine K of one grid point."""

    def __init__(self, n_total: int, attempts: int) -> None:
        self.n_total, self.attempts = n_total, attempts
        self.p = {"born": np.zeros(2), "sampled": np.zeros(2)}
        self.groups: NDArray[np.complex128] | None = None
        self.k_parts: list[NDArray[np.int32]] = []
        self.starts: list[int] = []
        self.states: list[pd.DataFrame] = []

    def add(
        self,
        attempts: pd.DataFrame,
        runs: pd.DataFrame,
        states: pd.DataFrame | None = None,
    ) -> None:
        """Fold in one batch's attempts, runs and states tables."""
        if states is not None:
            self.states.append(states)
        for name, col in (("born", "first_born"), ("sampled", "first_success")):
            x = runs[col].to_numpy(dtype=float)
            self.p[name] += (x.sum(), (x**2).sum())
        g = ratio_groups(runs, n_total=self.n_total)
        self.groups = g if self.groups is None else self.groups + g
        t0 = int(runs["trajectory"].min())
        self.k_parts.append(_first_success(attempts, t0, len(runs), self.attempts))
        self.starts.append(t0)

    def state_sums(self) -> pd.DataFrame:
        """The states tables of all batches, one row per batch and element (small:
        samples x elements per batch)."""
        return pd.concat(self.states, ignore_index=True) if self.states else None

    @property
    def k(self) -> NDArray[np.int32]:
        """K of every machine, in trajectory order."""
        order = np.argsort(self.starts, kind="stable")
        return np.concatenate([self.k_parts[i] for i in order])

    def bank_hits(self, machines: int) -> NDArray[np.bool_]:
        """Whether each bank of ``machines`` consecutive machines had a first-round
        success."""
        return (self.k == 1).reshape(-1, machines).any(axis=1)


def _first_success(
    attempts: pd.DataFrame, t0: int, n: int, n_attempts: int
) -> NDArray[np.int32]:
    """K of machines t0..t0+n-1 from their attempts table (censored: attempts + 1)."""
    k = np.full(n, n_attempts + 1, dtype=np.int32)
    hit = attempts["success"].to_numpy(dtype=bool)
    traj = attempts["trajectory"].to_numpy()[hit] - t0
    att = attempts["attempt"].to_numpy()[hit].astype(np.int32)
    order = np.lexsort((att, traj))  # the first success of each machine first
    traj, att = traj[order], att[order]
    first = np.ones(traj.size, dtype=bool)
    first[1:] = traj[1:] != traj[:-1]
    k[traj[first]] = att[first]
    return k


def read_records(config: RunConfig, rundir: RunDirectory) -> list[PointRecords]:
    """Every grid point's records, each batch file read once (BLAS on one thread,
    as in ``summary.SERIAL_BLAS``)."""
    out = []
    with threadpool_limits(limits=1):
        for p, point in enumerate(config.points()):
            rec = PointRecords(point.sampling.n_traj, point.protocol.attempts)
            for tables in rundir.iter_batches(p):
                rec.add(**tables)
            out.append(rec)
    return out
