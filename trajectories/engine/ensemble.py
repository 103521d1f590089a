"""Schedules, running sums and the estimators of a trajectory ensemble.

``Schedule``: the checkpoints common to all trajectories (sample times, window
boundaries, t_max). ``ChunkSums``: running sums of x and x^2 of every recorded quantity
(so that means and standard errors need no per-trajectory storage), plus per-trajectory
jump counts. ``Ensemble``: the estimators, each with its standard error:

* ensemble averages at the sample times (independent trajectories: SE = std/sqrt(n));
* time averages over [burn_in, t_max]: every (trajectory, window) mean is a batch, and
  the SE is the batch-means SE; the integrated autocorrelation time
  tau_int = b Var(batch mean) / (2 sigma^2) tells how many independent samples a
  trajectory of duration T is worth (T / 2 tau_int);
* stationary jump rates per channel: jumps after burn-in per unit time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from analysis.estimators import (
    Estimate,
    integrated_autocorrelation_time,
    moments_mean_se,
)


def _finite_time(value: float, name: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name}={value} must be finite")
    return value


@dataclass(frozen=True, eq=False)
class Schedule:
    """Sample times, time-average windows and the merged checkpoint list."""

    t_max: float
    sample_times: NDArray[np.float64]
    burn_in: float
    n_windows: int
    checkpoints: NDArray[np.float64]
    sample_index: NDArray[np.int64]  # per checkpoint: index into sample_times or -1
    window_end: NDArray[np.int64]  # per checkpoint: the window it closes or -1
    attempt_index: NDArray[np.int64]  # per checkpoint: index of the attempt or -1

    @property
    def window_length(self) -> float:
        """Duration of one time-average window."""
        return (self.t_max - self.burn_in) / max(self.n_windows, 1)

    @classmethod
    def build(
        cls,
        t_max: float,
        sample_times: ArrayLike,
        burn_in: float,
        n_windows: int,
        attempt_times: ArrayLike = (),
    ) -> Schedule:
        """Validate the times and merge them into checkpoints."""
        t_max = _finite_time(t_max, "t_max")
        if t_max <= 0:
            raise ValueError(f"t_max={t_max} must be > 0")
        ts = np.atleast_1d(np.asarray(sample_times, dtype=float))
        if ts.ndim != 1 or not np.all(np.isfinite(ts)):
            raise ValueError(f"sample_times={ts} must be a 1-d array of finite times")
        if np.any(np.diff(ts) <= 0):
            raise ValueError(f"sample_times={ts} must be strictly increasing")
        if ts.size and (ts[0] < 0 or ts[-1] > t_max):
            raise ValueError(f"sample_times={ts} must lie in [0, t_max={t_max}]")
        burn_in = _finite_time(burn_in, "burn_in")
        if not 0 <= burn_in < t_max:
            raise ValueError(f"burn_in={burn_in} must satisfy 0 <= burn_in < t_max")
        if isinstance(n_windows, bool) or not isinstance(n_windows, (int, np.integer)):
            raise ValueError(f"n_windows={n_windows!r} must be an integer >= 0")
        if n_windows < 0:
            raise ValueError(f"n_windows={n_windows} must be >= 0")
        bounds = (
            burn_in + (t_max - burn_in) * np.arange(n_windows + 1) / n_windows
            if n_windows
            else np.array([])
        )
        if n_windows:
            bounds[-1] = t_max
        ta = np.atleast_1d(np.asarray(attempt_times, dtype=float))
        if ta.size and (
            not np.all(np.isfinite(ta))
            or np.any(np.diff(ta) <= 0)
            or ta[0] <= 0
            or ta[-1] > t_max
        ):
            raise ValueError(
                f"attempt_times={ta} must be strictly increasing in (0, t_max={t_max}]"
            )
        cp = np.unique(np.concatenate([ts[ts > 0], bounds[bounds > 0], ta, [t_max]]))
        sample_index = np.full(cp.size, -1)
        pos = np.searchsorted(cp, ts[ts > 0])
        sample_index[pos] = np.flatnonzero(ts > 0)
        window_end = np.full(cp.size, -1)
        if n_windows:
            window_end[np.searchsorted(cp, bounds[1:])] = np.arange(n_windows)
        attempt_index = np.full(cp.size, -1)
        attempt_index[np.searchsorted(cp, ta)] = np.arange(ta.size)
        return cls(
            t_max,
            ts,
            burn_in,
            int(n_windows),
            cp,
            sample_index,
            window_end,
            attempt_index,
        )


def _sq(x: NDArray[np.complex128]) -> NDArray[np.complex128]:
    """Re(x)^2 + 1j Im(x)^2, for running variances of real and imaginary parts."""
    return x.real**2 + 1j * x.imag**2


def _expect(rho: NDArray, ops: NDArray) -> NDArray[np.float64]:
    """Tr(O_k rho_n) for states (n, D, D) and operators (K, D, D): (n, K)."""
    return np.einsum("kji,nij->nk", ops, rho).real


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
        to_density: Callable[[NDArray], NDArray],
    ) -> None:
        """Trajectories (``rows`` of the active arrays ``act``) reached checkpoints k:
        record samples, and close time-average windows (``act.acc`` integrals, in the
        coordinates that ``to_density`` maps to the joint basis)."""
        si = schedule.sample_index[k]
        for s in np.unique(si[si >= 0]):
            self._add_samples(int(s), psi[si == s], ops)
        wi = schedule.window_end[k]
        for w in np.unique(wi[wi >= 0]):
            sel = rows[wi == w]
            X = to_density(act.acc[sel]) / schedule.window_length
            self._add_batch(w, X, ops, window=True)
            act.tot[sel] += act.acc[sel]
            act.acc[sel] = 0
            if w == schedule.n_windows - 1:  # the trajectory is complete
                X = to_density(act.tot[sel]) / (schedule.t_max - schedule.burn_in)
                self._add_batch(0, X, ops, window=False)

    def _add_batch(self, w: int, X: NDArray, ops: NDArray, window: bool) -> None:
        pre = "win" if window else "traj"
        getattr(self, f"{pre}_rho")[w] += X.sum(axis=0)
        getattr(self, f"{pre}_rho_sq")[w] += _sq(X).sum(axis=0)
        v = _expect(X, ops)
        getattr(self, f"{pre}_obs")[w] += v.sum(axis=0)
        getattr(self, f"{pre}_obs_sq")[w] += (v**2).sum(axis=0)
        getattr(self, "n_batches" if window else "n_traj_batches")[w] += X.shape[0]

    def count_jumps(
        self,
        ids: NDArray[np.int64],
        t: NDArray[np.float64],
        ch: NDArray[np.int64],
        burn_in: float,
        offset: int | None,
    ) -> None:
        """Count jumps of channel ch for trajectories ids at times t."""
        # a trajectory jumps at most once per call, so plain fancy indexing is exact
        self.counts[ids, ch] += 1
        late = t >= burn_in
        self.counts_after_burn_in[ids[late], ch[late]] += 1
        if offset is not None:
            self.jumps.append(np.stack([ids + offset, t, ch]))

    def merge(self, other: ChunkSums) -> ChunkSums:
        """Sums of two sets of trajectories (other's trajectories come after)."""
        kw = {
            name: getattr(self, name) + getattr(other, name)
            for name in (
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
        }
        return ChunkSums(
            **kw,
            counts=np.concatenate([self.counts, other.counts]),
            counts_after_burn_in=np.concatenate(
                [self.counts_after_burn_in, other.counts_after_burn_in]
            ),
            jumps=self.jumps + other.jumps,
        )


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


@dataclass(frozen=True, eq=False)
class Ensemble:
    """Estimates from a finished ensemble of trajectories (see module docstring)."""

    sums: ChunkSums
    schedule: Schedule
    channel_names: tuple[str, ...]
    observable_names: tuple[str, ...]
    record_jumps: bool = False

    @property
    def n_traj(self) -> int:
        """Number of trajectories."""
        return int(self.sums.counts.shape[0])

    def density(self, i: int) -> tuple[NDArray, NDArray]:
        """Ensemble-average rho at sample time i and its SE (se_re + 1j se_im)."""
        s = self.sums
        return moments_mean_se(s.rho[i], s.rho_sq[i], int(s.n_samples[i]))

    def observable(self, name: str) -> tuple[NDArray, NDArray]:
        """Ensemble averages of an observable at every sample time, with SEs."""
        k = self.observable_names.index(name)
        s = self.sums
        means, ses = [], []
        for i in range(s.n_samples.size):
            m, se = moments_mean_se(s.obs[i, k], s.obs_sq[i, k], int(s.n_samples[i]))
            means.append(m)
            ses.append(se)
        return np.array(means), np.array(ses)

    def _require_windows(self) -> None:
        if self.schedule.n_windows == 0:
            raise ValueError("no time averages: simulate with n_windows >= 1")

    def _batches(self) -> tuple[str, int]:
        """Whole trajectories are the batches when there are several (independent, so
        the SE holds whatever tau_int); a single trajectory uses its windows."""
        self._require_windows()
        if self.n_traj >= 2:
            return "traj", int(self.sums.n_traj_batches[0])
        return "win", int(self.sums.n_batches.sum())

    def time_average_density(self) -> tuple[NDArray, NDArray]:
        """Time-average rho over [burn_in, t_max] with its batch-means SE."""
        pre, n = self._batches()
        s = self.sums
        return moments_mean_se(
            getattr(s, f"{pre}_rho").sum(axis=0),
            getattr(s, f"{pre}_rho_sq").sum(axis=0),
            n,
        )

    def time_average(self, name: str) -> Estimate:
        """Time average of an observable with its batch-means SE."""
        pre, n = self._batches()
        k = self.observable_names.index(name)
        s = self.sums
        m, se = moments_mean_se(
            getattr(s, f"{pre}_obs")[:, k].sum(),
            getattr(s, f"{pre}_obs_sq")[:, k].sum(),
            n,
        )
        return Estimate(float(m), float(se), n)

    def autocorrelation_time(self, name: str) -> float:
        """Integrated autocorrelation time of an observable (needs sample times after
        burn-in for its stationary variance)."""
        self._require_windows()
        k = self.observable_names.index(name)
        s = self.sums
        late = np.flatnonzero(self.schedule.sample_times >= self.schedule.burn_in)
        if late.size == 0:
            raise ValueError("autocorrelation_time needs sample times >= burn_in")
        n_s = s.n_samples[late]
        mean = s.obs[late, k] / n_s
        variance = float(np.mean((s.obs_sq[late, k] - n_s * mean**2) / (n_s - 1)))
        pre, n = self._batches()
        length = (
            self.schedule.t_max - self.schedule.burn_in
            if pre == "traj"
            else self.schedule.window_length
        )
        bm = getattr(s, f"{pre}_obs")[:, k].sum() / n
        var_bm = (getattr(s, f"{pre}_obs_sq")[:, k].sum() - n * bm**2) / (n - 1)
        return integrated_autocorrelation_time(var_bm, length, variance)

    def jump_rates(self) -> tuple[NDArray, NDArray]:
        """Jumps per unit time after burn-in, per channel, with SEs (n_traj >= 2)."""
        duration = self.schedule.t_max - self.schedule.burn_in
        x = self.sums.counts_after_burn_in.astype(float) / duration
        n = x.shape[0]
        if n < 2:
            raise ValueError("jump_rates needs n_traj >= 2 for a standard error")
        return x.mean(axis=0), x.std(axis=0, ddof=1) / math.sqrt(n)

    def jumps(self) -> pd.DataFrame:
        """Every jump as a tidy table (trajectory, time, channel), time-ordered per
        trajectory (requires ``record_jumps=True``)."""
        if not self.record_jumps:
            raise ValueError("jumps were not recorded: simulate with record_jumps=True")
        if not self.sums.jumps:
            data = np.zeros((3, 0))
        else:
            data = np.concatenate(self.sums.jumps, axis=1)
        df = pd.DataFrame(
            {
                "trajectory": data[0].astype(np.int64),
                "time": data[1],
                "channel": pd.Categorical.from_codes(
                    data[2].astype(np.int64), categories=list(self.channel_names)
                ),
            }
        )
        return df.sort_values(["trajectory", "time"], kind="stable").reset_index(
            drop=True
        )

    def counts(self) -> pd.DataFrame:
        """Jump counts per trajectory (rows) and channel (columns)."""
        return pd.DataFrame(self.sums.counts, columns=list(self.channel_names))

    def __repr__(self) -> str:
        s = self.schedule
        return (
            f"Ensemble(n_traj={self.n_traj}, t_max={s.t_max:g}, "
            f"samples={s.sample_times.size}, windows={s.n_windows}, "
            f"jumps={int(self.sums.counts.sum())})"
        )
