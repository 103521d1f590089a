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

from trajectories.pipeline.batch_parts import BatchPart, batch_part, point_share
from trajectories.pipeline.batches import Batch
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
        self.fold(batch_part(attempts, runs, states, self.n_total, self.attempts))

    def fold(self, part: BatchPart) -> None:
        """Fold in one batch's share (``batch_part``)."""
        if part.states is not None:
            self.states.append(part.states)
        for name in ("born", "sampled"):
            self.p[name] += part.p[name]
        self.groups = part.groups if self.groups is None else self.groups + part.groups
        self.k_parts.append(part.k)
        self.starts.append(part.start)

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


def read_records(config: RunConfig, rundir: RunDirectory) -> list[PointRecords]:
    """Every grid point's records, each batch file read once (BLAS on one thread,
    as in ``summary.SERIAL_BLAS``)."""
    return RecordsReader(config, rundir).records()


class RecordsReader:
    """A run's records: the shares of the batches its workers finish (``add``,
    formed by the workers from the tables they wrote) and of the batches an
    earlier run finished (read from their sealed files), folded per grid point in
    the order of the manifest (``records``), so that the sums are those of reading
    every batch at the end, bit for bit. A batch without a share is read, and a
    damaged one raises its RecordError, in ``records``."""

    def __init__(self, config: RunConfig, rundir: RunDirectory) -> None:
        self.rundir = rundir
        self.points = config.points()
        self.parts: dict[str, BatchPart] = {}

    def add(self, batch: Batch, part: BatchPart) -> None:
        """The share of a batch finished in this run."""
        self.parts[batch.name] = part

    def _part(self, batch: Batch) -> BatchPart:
        return point_share(self.points[batch.point], self.rundir.read_batch(batch))

    def records(self) -> list[PointRecords]:
        """Every grid point's records."""
        out = []
        with threadpool_limits(limits=1):
            for p, point in enumerate(self.points):
                rec = PointRecords(point.sampling.n_traj, point.protocol.attempts)
                for batch in self.rundir.batches_of(p):
                    part = self.parts.pop(batch.name, None)
                    rec.fold(part if part is not None else self._part(batch))
                out.append(rec)
        return out
