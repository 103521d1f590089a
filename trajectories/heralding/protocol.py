"""The heralding protocol on trajectories: filter outcomes sampled per run (Eq. 5).

Every trajectory is one machine. Starting from ``initial`` at t = 0, the local filters
are applied at t = T, 2T, ... (T = ``attempt_period``): the four joint outcomes of the
two local two-outcome measurements are drawn by the Born rule and the state collapses
onto the matching product projector. A failure leaves the machine in the collapsed
state, which keeps evolving; a success delivers the pair (the collapsed state in the
relabelled filtered subspace) and the machine restarts from ``restart`` ("thermal":
tau_A (x) tau_B, or "steady": the steady state). Trajectory i is machine i mod n of
bank i // n: banks of n machines attempt in lockstep.

The exact laws these samples are checked against are in ``exact/attempt_laws.py``
and ``exact/delivered_pairs.py`` (compared in ``validation/heralding.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from trajectories.exact.starts import restart_state, start_state
from trajectories.heralding.recorder import AttemptRecorder
from trajectories.heralding.results import HeraldingRun
from trajectories.simulation import simulate
from trajectories.system.checks import check_duration, check_int, check_positive
from trajectories.system.models import OpenSystem

if TYPE_CHECKING:
    from qutip import Qobj


def steady_estimate_options(burn_in: float, T: float, samples: int) -> dict:
    """Engine options of the run's own steady-state estimates: ``samples`` ensemble
    samples over [0, b] (quadratically spaced, dense early) and b, and one
    time-average window [b, b + T] before the first attempt."""
    grid = burn_in * np.linspace(0.0, 1.0, samples + 1)[1:] ** 2 if burn_in else []
    return {
        "sample_times": np.unique(np.r_[0.0, grid, burn_in]),
        "burn_in": burn_in,
        "n_windows": 1 if samples else 0,
        "average_end": float(burn_in + T) if samples else None,
    }


def run_heralding(
    model: OpenSystem,
    *,
    n_traj: int,
    rng: np.random.Generator,
    attempt_period: float,
    n_attempts: int,
    initial: str | ArrayLike | Qobj = "steady",
    restart: str = "thermal",
    n_machines: int = 1,
    chunk_size: int = 4096,
    burn_in: float = 0.0,
    relaxation_samples: int = 0,
    average_elements: tuple[ArrayLike, ArrayLike] | None = None,
) -> HeraldingRun:
    """Simulate the heralding protocol on ``n_traj`` machines: filters at
    t = b + kT, k = 1..n_attempts (T = ``attempt_period``, b = ``burn_in``), from
    ``initial`` (default "steady"; or an array or Qobj), restarting from ``restart``
    after a pair, in banks of ``n_machines``; with ``relaxation_samples`` > 0 the run
    also estimates the steady state (``steady_estimate_options``).

    ``average_elements`` (i, j): time-average only these elements of the density
    (``engine.averages.ElementAverage``; default all).

    Examples
    --------
    >>> from trajectories.system.machines import qutrit
    >>> from trajectories.system.models import ResetModel
    >>> run = run_heralding(ResetModel(qutrit(g=0.01), 0.002, 0.01), n_traj=200,
    ...                     rng=np.random.default_rng(0), attempt_period=100.0,
    ...                     n_attempts=5)
    >>> run.attempts_table().shape
    (1000, 10)
    """
    T, n_attempts, n_machines = _check_protocol(
        attempt_period, n_attempts, n_machines, n_traj
    )
    burn_in = check_duration(burn_in, "burn_in")
    start = start_state(model, initial)
    recorder = AttemptRecorder(
        model.machine.filter, n_traj, n_attempts, restart_state(model, restart)
    )
    times = burn_in + T * np.arange(1, n_attempts + 1)
    ensemble = simulate(
        model,
        n_traj=n_traj,
        rng=rng,
        t_max=float(times[-1]),
        initial=start,
        average_elements=average_elements,
        chunk_size=chunk_size,
        attempt_times=times,
        attempts=recorder,
        **steady_estimate_options(burn_in, T, relaxation_samples),
    )
    return HeraldingRun(
        model, T, n_machines, float(burn_in), start, restart, recorder, ensemble
    )


def _check_protocol(
    attempt_period: object, n_attempts: object, n_machines: object, n_traj: object
) -> tuple[float, int, int]:
    """T, n_attempts and n_machines checked, with n_traj whole banks of n_machines."""
    T = check_positive(attempt_period, "attempt_period")
    n_attempts = check_int(n_attempts, "n_attempts")
    n_machines = check_int(n_machines, "n_machines")
    n_traj = check_int(n_traj, "n_traj")
    if n_traj % n_machines:
        raise ValueError(
            f"n_traj={n_traj} must be a multiple of n_machines={n_machines} "
            "(whole banks)"
        )
    return T, n_attempts, n_machines
