"""The checkpoints common to all trajectories of an ensemble: sample times,
time-average window boundaries, attempt times and t_max, merged into one list."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True, eq=False)
class Schedule:
    """Sample times, time-average windows and the merged checkpoint list."""

    t_max: float
    sample_times: NDArray[np.float64]
    burn_in: float
    n_windows: int
    average_end: float  # time averages over [burn_in, average_end]
    checkpoints: NDArray[np.float64]
    sample_index: NDArray[np.int64]  # per checkpoint: index into sample_times or -1
    window_end: NDArray[np.int64]  # per checkpoint: the window it closes or -1
    attempt_index: NDArray[np.int64]  # per checkpoint: index of the attempt or -1

    @property
    def window_length(self) -> float:
        """Duration of one time-average window."""
        return (self.average_end - self.burn_in) / max(self.n_windows, 1)

    @classmethod
    def build(
        cls,
        t_max: float,
        sample_times: ArrayLike,
        burn_in: float,
        n_windows: int,
        attempt_times: ArrayLike = (),
        average_end: float | None = None,
    ) -> Schedule:
        """Validate the times and merge them into checkpoints; time averages cover
        [burn_in, average_end] (default t_max)."""
        t_max = _finite_time(t_max, "t_max")
        if t_max <= 0:
            raise ValueError(f"t_max={t_max} must be > 0")
        ts = _sample_times(sample_times, t_max)
        burn_in = _finite_time(burn_in, "burn_in")
        if not 0 <= burn_in < t_max:
            raise ValueError(f"burn_in={burn_in} must satisfy 0 <= burn_in < t_max")
        end = t_max if average_end is None else _finite_time(average_end, "average_end")
        if not burn_in < end <= t_max:
            raise ValueError(f"average_end={end} must be in (burn_in, t_max={t_max}]")
        bounds = _window_bounds(burn_in, n_windows, end)
        ta = _attempt_times(attempt_times, t_max)
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
            end,
            cp,
            sample_index,
            window_end,
            attempt_index,
        )


def _finite_time(value: float, name: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name}={value} must be finite")
    return value


def _sample_times(sample_times: ArrayLike, t_max: float) -> NDArray[np.float64]:
    """The sample times as an increasing array in [0, t_max], else ValueError."""
    ts = np.atleast_1d(np.asarray(sample_times, dtype=float))
    if ts.ndim != 1 or not np.all(np.isfinite(ts)):
        raise ValueError(f"sample_times={ts} must be a 1-d array of finite times")
    if np.any(np.diff(ts) <= 0):
        raise ValueError(f"sample_times={ts} must be strictly increasing")
    if ts.size and (ts[0] < 0 or ts[-1] > t_max):
        raise ValueError(f"sample_times={ts} must lie in [0, t_max={t_max}]")
    return ts


def _window_bounds(burn_in: float, n_windows: int, t_max: float) -> NDArray[np.float64]:
    """The n_windows + 1 boundaries of equal windows over [burn_in, t_max] (none for
    0 windows), else ValueError for a bad window count."""
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
    return bounds


def _attempt_times(attempt_times: ArrayLike, t_max: float) -> NDArray[np.float64]:
    """The attempt times as an increasing array in (0, t_max], else ValueError."""
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
    return ta
