"""The attempt period that delivers pairs fastest at a given fidelity (Sec. II).

A short period T attempts often but catches the machine before it has built its
correlations; a long one waits for the steady state. ``optimal_attempt_period``
maximises the long-run pair rate 1 / (T E[K']) over T subject to the fidelity of the
long-run delivered pair to the machine's target reaching a floor.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from analysis.measures import fidelity
from trajectories.exact.attempt_chain import AttemptChain, ChainMaps
from trajectories.exact.starts import check_restart, restart_state
from trajectories.system.checks import check_int, check_positive, check_probability
from trajectories.system.models import OpenSystem, check_model

DEFAULT_PERIOD_BOUNDS = (1e-1, 1e6)
"""Default search interval of ``optimal_attempt_period`` (units of 1 / first gap)."""


class OptimalPeriod(NamedTuple):
    """Result of ``optimal_attempt_period``."""

    attempt_period: float
    rate: float
    fidelity: float
    constraint_active: bool


def optimal_attempt_period(
    model: OpenSystem,
    fidelity_floor: float,
    restart: str = "thermal",
    bounds: tuple[float, float] = DEFAULT_PERIOD_BOUNDS,
    *,
    n_grid: int = 36,
) -> OptimalPeriod:
    """Maximise ``pair_rate`` over T in ``bounds`` subject to fidelity >= floor.

    The fidelity is that of the long-run delivered state (``delivered_state`` with
    k=None) to ``model.machine.target``. A grid of ``n_grid`` points in log T brackets
    the best feasible point, which is then refined on log T: by
    ``scipy.optimize.minimize_scalar`` when the constraint is inactive there, or by
    ``scipy.optimize.brentq`` on fidelity = floor when the best point lies on the
    boundary of the feasible set. A ValueError names the best fidelity in ``bounds``
    when no T reaches the floor.
    """
    model = check_model(model)
    floor = check_probability(fidelity_floor, "fidelity_floor")
    restart = check_restart(restart)
    lo, hi = _check_bounds(bounds)
    n_grid = check_int(n_grid, "n_grid", 3)
    if model.machine.target is None:
        raise ValueError(f"machine {model.machine.name!r} has no target state")
    scan = _RateAndFidelity(model, restart, floor)
    grid = np.linspace(math.log(lo), math.log(hi), n_grid)
    values = np.array([scan(float(x)) for x in grid])
    feasible = values[:, 1] >= floor
    if not feasible.any():
        raise ValueError(
            f"fidelity_floor={floor} is not reached for T in [{lo:.3g}, {hi:.3g}]: "
            f"the best fidelity there is {values[:, 1].max():.6f}"
        )
    best = int(np.flatnonzero(feasible)[np.argmax(values[feasible, 0])])
    return _refine(scan, grid, feasible, best)


class _RateAndFidelity:
    """(log pair rate, fidelity of the long-run delivered pair) at T = exp(log_T),
    cached, against the fidelity floor."""

    def __init__(self, model: OpenSystem, restart: str, floor: float) -> None:
        self.maps = ChainMaps(model, restart_state(model, restart))
        self.target = model.machine.target
        self.floor = floor
        self._cache: dict[float, tuple[float, float]] = {}

    def __call__(self, log_T: float) -> tuple[float, float]:
        if log_T not in self._cache:
            chain = AttemptChain(self.maps, math.exp(log_T))
            log_rate = -log_T - math.log(chain.moments().mean)
            self._cache[log_T] = (
                log_rate,
                fidelity(chain.delivered(None), self.target),
            )
        return self._cache[log_T]

    def feasible(self, log_T: float) -> bool:
        """Whether the fidelity at log_T reaches the floor."""
        return self(log_T)[1] >= self.floor

    def feasible_side(self, root: float, inside: float) -> float:
        """Move a root of fidelity = floor towards ``inside`` until it is feasible."""
        x, step = root, 1e-12 * max(1.0, abs(root))
        step = math.copysign(step, inside - root)
        while self(x)[1] < self.floor and abs(x - root) < abs(inside - root):
            x += step
            step *= 2
        return x if self.feasible(x) else inside

    def on_boundary(self, log_T: float, h: float = 1e-6) -> bool:
        """Whether a small step in log T from log_T would leave the feasible set."""
        return self(log_T - h)[1] < self.floor or self(log_T + h)[1] < self.floor


def _refine(
    scan: _RateAndFidelity,
    grid: NDArray[np.float64],
    feasible: NDArray[np.bool_],
    i: int,
) -> OptimalPeriod:
    """The best of: grid point i, the rate maximiser between its neighbours, and the
    feasible-side roots of fidelity = floor towards an infeasible neighbour."""
    import scipy.optimize as opt  # here, not at import: ~0.1 s that a run never uses

    left, right = max(i - 1, 0), min(i + 1, grid.size - 1)
    res = opt.minimize_scalar(
        lambda x: -scan(float(x))[0],
        bounds=(float(grid[left]), float(grid[right])),
        method="bounded",
        options={"xatol": 1e-9},
    )
    candidates = [float(grid[i]), float(res.x)]
    for j in {left, right} - {i}:
        if not feasible[j]:
            root = opt.brentq(
                lambda x: scan(float(x))[1] - scan.floor, grid[i], grid[j], xtol=1e-13
            )
            candidates.append(scan.feasible_side(root, float(grid[i])))
    best = max((x for x in candidates if scan.feasible(x)), key=lambda x: scan(x)[0])
    log_rate, fid = scan(best)
    active = best not in (float(res.x), float(grid[i])) or scan.on_boundary(best)
    return OptimalPeriod(math.exp(best), math.exp(log_rate), fid, active)


def _check_bounds(bounds: object) -> tuple[float, float]:
    try:
        lo, hi = bounds  # type: ignore[misc]
    except (TypeError, ValueError):
        raise ValueError(
            f"bounds={bounds!r} must be a pair (T_min, T_max) with 0 < T_min < T_max"
        ) from None
    lo = check_positive(lo, "bounds[0]")
    hi = check_positive(hi, "bounds[1]")
    if not lo < hi:
        raise ValueError(f"bounds={bounds!r} must satisfy 0 < T_min < T_max")
    return lo, hi
