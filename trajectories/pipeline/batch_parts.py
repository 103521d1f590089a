"""A batch's share of its grid point's records: the small sums the summary and the
report fold (``records.PointRecords``), whatever the size of the batch's tables.

The worker that simulates a batch forms its share from the tables it has just
written, so that only the share travels back to the parent; a batch finished by an
earlier, interrupted run has its share formed from its sealed files instead
(``records.RecordsReader``). Both give the same numbers bit for bit: the tables
round-trip through parquet unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from analysis.heralding_stats import ratio_groups
from trajectories.pipeline.config import RunConfig


@dataclass(frozen=True, eq=False)
class BatchPart:
    """One batch's share of its grid point's records (``PointRecords.fold``)."""

    p: dict[str, tuple[float, float]]  # sums of x and x^2 of the first outcomes
    groups: NDArray[np.complex128]  # its rho' group sums (``ratio_groups``)
    k: NDArray[np.int32]  # K of each of its machines
    start: int  # its first trajectory
    states: pd.DataFrame | None


def batch_part(
    attempts: pd.DataFrame,
    runs: pd.DataFrame,
    states: pd.DataFrame | None,
    n_total: int,
    n_attempts: int,
) -> BatchPart:
    """The share of one batch's tables, for a point of ``n_total`` machines and
    ``n_attempts`` attempts."""
    p = {}
    for name, col in (("born", "first_born"), ("sampled", "first_success")):
        x = runs[col].to_numpy(dtype=float)
        p[name] = (x.sum(), (x**2).sum())
    t0 = int(runs["trajectory"].min())
    k = first_success(attempts, t0, len(runs), n_attempts)
    return BatchPart(p, ratio_groups(runs, n_total=n_total), k, t0, states)


def point_share(point: RunConfig, tables: dict[str, pd.DataFrame]) -> BatchPart:
    """The share of a batch of grid point ``point`` from its tables (BLAS on one
    thread: the same sums wherever it is formed)."""
    with threadpool_limits(limits=1):
        return batch_part(
            tables["attempts"],
            tables["runs"],
            tables.get("states"),
            point.sampling.n_traj,
            point.protocol.attempts,
        )


def first_success(
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
