"""Running sums over the trajectories of a chunk: x and x^2 of every recorded
quantity (so that means and standard errors need no per-trajectory storage), plus
per-trajectory jump counts.

``ChunkSums`` holds, per sample time, the sums of psi psi^dag and of the observables;
per time-average window, the sums of the window means (the batches of the batch-means
errors); and the sums of whole-trajectory means over [burn_in, average_end].
``JumpCounter`` collects the jumps of a chunk as codes and bins them once into its
counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from trajectories.engine.averages import TimeAverage
from trajectories.engine.schedule import Schedule


@dataclass
class ChunkSums:
    """Running sums over the trajectories of one or more chunks."""

    rho: NDArray[np.complex128]  # (n_s, D, D) sums of psi psi^dag
    rho_sq: NDArray[np.complex128]
    obs: NDArray[np.float64]  # (n_s, K_obs)
    obs_sq: NDArray[np.float64]
    n_samples: NDArray[np.int64]  # (n_s,)
    win_rho: NDArray[np.complex128]  # (W, D, D) sums of window means
    win_rho_sq: NDArray[np.complex128]
    win_obs: NDArray[np.float64]  # (W, K_obs)
    win_obs_sq: NDArray[np.float64]
    n_batches: NDArray[np.int64]  # (W,)
    traj_rho: NDArray[np.complex128]  # (1, D, D) sums of whole-trajectory means
    traj_rho_sq: NDArray[np.complex128]
    traj_obs: NDArray[np.float64]  # (1, K_obs)
    traj_obs_sq: NDArray[np.float64]
    n_traj_batches: NDArray[np.int64]  # (1,)
    counts: NDArray[np.int32]  # (m, K) jumps per trajectory and channel
    counts_after_burn_in: NDArray[np.int32]
    jumps: list[NDArray] = field(default_factory=list)

    @classmethod
    def empty(cls, m: int, D: int, K: int, K_obs: int, schedule: Schedule) -> ChunkSums:
        """Zero sums for m trajectories."""
        n_s, W = schedule.sample_times.size, schedule.n_windows
        z = np.zeros
        return cls(
            z((n_s, D, D), complex),
            z((n_s, D, D), complex),
            z((n_s, K_obs)),
            z((n_s, K_obs)),
            z(n_s, dtype=np.int64),
            z((W, D, D), complex),
            z((W, D, D), complex),
            z((W, K_obs)),
            z((W, K_obs)),
            z(W, dtype=np.int64),
            z((1, D, D), complex),
            z((1, D, D), complex),
            z((1, K_obs)),
            z((1, K_obs)),
            z(1, dtype=np.int64),
            z((m, K), dtype=np.int32),
            z((m, K), dtype=np.int32),
        )

    def _add_samples(self, si: int, psi: NDArray, ops: NDArray) -> None:
        """Add the states psi (n, D) to the sums of sample ``si``: psi psi^dag, its
        squares and the observables, by matrix products (no (n, D, D) array): with
        psi = x + i y, Re(psi_i psi_j^*) = x_i x_j + y_i y_j, Im = y_i x_j - x_i y_j."""
        x, y = psi.real, psi.imag
        xx, yy, xy = x * x, y * y, x * y
        self.rho[si] += psi.T @ psi.conj()
        cross = xy.T @ xy
        self.rho_sq[si] += (xx.T @ xx + yy.T @ yy + 2 * cross) + 1j * (
            yy.T @ xx + xx.T @ yy - 2 * cross
        )
        v = np.stack([np.einsum("ni,ni->n", psi.conj(), psi @ op.T) for op in ops])
        v = v.real.T
        self.obs[si] += v.sum(axis=0)
        self.obs_sq[si] += (v**2).sum(axis=0)
        self.n_samples[si] += psi.shape[0]

    def record_samples(
        self, t: float, psi: NDArray, ops: NDArray, schedule: Schedule
    ) -> None:
        """Record the states at t if t is a sample time (used for t = 0)."""
        hit = np.flatnonzero(schedule.sample_times == t)
        if hit.size:
            self._add_samples(int(hit[0]), psi, ops)

    def checkpoint(
        self,
        k: NDArray[np.int64],
        psi: NDArray[np.complex128],
        act: object,
        rows: NDArray[np.int64],
        ops: NDArray,
        schedule: Schedule,
        average: TimeAverage,
    ) -> None:
        """Trajectories (``rows`` of the active arrays ``act``) reached checkpoints k:
        record samples, and close time-average windows (``act.acc`` integrals, kept
        and mapped to the joint basis by ``average``)."""
        si = schedule.sample_index[k]
        for s in np.unique(si[si >= 0]):
            self._add_samples(int(s), psi[si == s], ops)
        wi = schedule.window_end[k]
        for w in np.unique(wi[wi >= 0]):
            sel = rows[wi == w]
            X = average.to_joint(act.acc[sel]) / schedule.window_length
            self._add_batch(w, X, ops, average, window=True)
            act.tot[sel] += act.acc[sel]
            act.acc[sel] = 0
            if w == schedule.n_windows - 1:  # the trajectory is complete
                X = average.to_joint(act.tot[sel])
                X /= schedule.average_end - schedule.burn_in
                self._add_batch(0, X, ops, average, window=False)

    def _add_batch(
        self, w: int, X: NDArray, ops: NDArray, average: TimeAverage, window: bool
    ) -> None:
        pre = "win" if window else "traj"
        average.add(
            getattr(self, f"{pre}_rho")[w], getattr(self, f"{pre}_rho_sq")[w], X
        )
        v = average.expect(X, ops)
        getattr(self, f"{pre}_obs")[w] += v.sum(axis=0)
        getattr(self, f"{pre}_obs_sq")[w] += (v**2).sum(axis=0)
        getattr(self, "n_batches" if window else "n_traj_batches")[w] += X.shape[0]

    SUMS = (
        "rho",
        "rho_sq",
        "obs",
        "obs_sq",
        "n_samples",
        "win_rho",
        "win_rho_sq",
        "win_obs",
        "win_obs_sq",
        "n_batches",
        "traj_rho",
        "traj_rho_sq",
        "traj_obs",
        "traj_obs_sq",
        "n_traj_batches",
    )
    """The running sums (every field but the per-trajectory counts and jumps)."""

    def add_sums(self, other: ChunkSums) -> None:
        """Add the running sums and jump records of ``other`` in place (not its
        per-trajectory counts: see ``engine.ensemble``, which concatenates those
        once)."""
        for name in self.SUMS:
            getattr(self, name).__iadd__(getattr(other, name))
        self.jumps += other.jumps


class JumpCounter:
    """Jump counts of a chunk of m trajectories, kept as codes id * K + channel per
    pass of the event loop and binned once (``finish``) into ``ChunkSums``."""

    def __init__(self, m: int, K: int, burn_in: float) -> None:
        self.m, self.K, self.burn_in = m, K, burn_in
        self.codes: list[NDArray[np.int64]] = []
        self.late: list[NDArray[np.int64]] = []

    def add(
        self,
        ids: NDArray[np.int64],
        t: NDArray[np.float64],
        ch: NDArray[np.int64],
        jumped: NDArray[np.bool_],
    ) -> None:
        """Rows where ``jumped``: trajectory ids jumped through channel ch at t."""
        none = self.m * self.K
        code = np.where(jumped, ids * self.K + ch, none)
        self.codes.append(code)
        if self.burn_in > 0:
            self.late.append(np.where(t >= self.burn_in, code, none))

    def _bin(self, codes: list[NDArray[np.int64]]) -> NDArray[np.int32]:
        size = self.m * self.K
        if not codes:
            return np.zeros((self.m, self.K), dtype=np.int32)
        n = np.bincount(np.concatenate(codes), minlength=size + 1)[:size]
        return n.reshape(self.m, self.K).astype(np.int32)

    def finish(self, sums: ChunkSums) -> None:
        """Add the counts to ``sums``."""
        counts = self._bin(self.codes)
        sums.counts += counts
        sums.counts_after_burn_in += (
            self._bin(self.late) if self.burn_in > 0 else counts
        )
