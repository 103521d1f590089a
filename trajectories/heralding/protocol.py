"""The heralding protocol on trajectories: filter outcomes sampled per run (Eq. 5).

Every trajectory is one machine. Starting from ``initial`` at t = 0, the local filters
are applied at t = T, 2T, ... (T = ``attempt_period``): the four joint outcomes of the
two local two-outcome measurements are drawn by the Born rule and the state collapses
onto the matching product projector. A failure leaves the machine in the collapsed
state, which keeps evolving; a success delivers the pair (the collapsed state in the
relabelled filtered subspace) and the machine restarts from ``restart`` ("thermal":
tau_A (x) tau_B, or "steady": the steady state). Trajectory i is machine i mod n of
bank i // n: banks of n machines attempt in lockstep.

The exact laws these samples are checked against are in ``protocol_exact.py``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trajectories.engine.initial_states import PureStateEnsemble
from trajectories.exact.starts import restart_state, start_state
from trajectories.heralding.results import HeraldingRun
from trajectories.simulation import simulate
from trajectories.system.filters import Filter
from trajectories.system.models import OpenSystem


class AttemptRecorder:
    """Samples the filter outcomes at each attempt and records them (``Attempts``)."""

    def __init__(
        self, filt: Filter, n_traj: int, n_attempts: int, restart: NDArray
    ) -> None:
        self.dims = filt.dims
        self.pi_A, self.pi_B = filt.pi_A, filt.pi_B
        self.V = filt.isometry()
        self.restart = PureStateEnsemble.of(restart)
        self.outcome = np.full((n_traj, n_attempts), -1, dtype=np.int8)
        self.born = np.zeros((n_traj, n_attempts))
        self.first_born = np.zeros(n_traj)
        self.first_state = np.zeros((n_traj, self.V.shape[1]), dtype=complex)
        self.pairs: list[tuple[NDArray, NDArray, NDArray]] = []

    def _branches(self, psi: NDArray) -> NDArray[np.complex128]:
        """(P_A^x (x) P_B^y) psi for the four outcomes: array (4, m, D)."""
        d_A, d_B = self.dims
        p3 = psi.reshape(-1, d_A, d_B)
        a_pass = np.einsum("ij,mjb->mib", self.pi_A, p3)
        a_fail = p3 - a_pass
        pp, fp = a_pass @ self.pi_B.T, a_fail @ self.pi_B.T
        return np.stack([pp, a_pass - pp, fp, a_fail - fp]).reshape(4, psi.shape[0], -1)

    def attempt(
        self,
        ids: NDArray[np.int64],
        index: NDArray[np.int64],
        psi: NDArray[np.complex128],
        rng: np.random.Generator,
    ) -> NDArray[np.complex128]:
        """Draw the joint outcome of each state, collapse, deliver and restart."""
        branches = self._branches(psi)
        probs = np.einsum("kmd,kmd->mk", branches.conj(), branches).real
        cum = np.cumsum(probs, axis=1)
        u = rng.random(psi.shape[0]) * cum[:, -1]
        outcome = np.minimum((cum < u[:, None]).sum(axis=1), 3)
        rows = np.arange(psi.shape[0])
        new = branches[outcome, rows] / np.sqrt(probs[rows, outcome])[:, None]
        self.outcome[ids, index] = outcome
        self.born[ids, index] = probs[:, 0]
        first = index == 0
        if first.any():
            self.first_born[ids[first]] = probs[first, 0]
            ok = first & (probs[:, 0] > 0)
            self.first_state[ids[ok]] = (branches[0, ok] @ self.V.conj()) / np.sqrt(
                probs[ok, 0]
            )[:, None]
        won = np.flatnonzero(outcome == 0)
        if won.size:
            self.pairs.append((ids[won], index[won], new[won] @ self.V.conj()))
            new[won] = self.restart.sample(won.size, rng)
        return new


def run_heralding(
    model: OpenSystem,
    *,
    n_traj: int,
    rng: np.random.Generator,
    attempt_period: float,
    n_attempts: int,
    initial: str | ArrayLike = "steady",
    restart: str = "thermal",
    n_machines: int = 1,
    chunk_size: int = 4096,
) -> HeraldingRun:
    """Simulate the heralding protocol on ``n_traj`` machines.

    Parameters
    ----------
    attempt_period
        T > 0: the filters are applied at t = T, 2T, ..., n_attempts T.
    n_attempts
        Number of attempts per machine (>= 1).
    initial, restart
        Start state (as in ``simulation.simulate``; default the steady state, i.e. the
        machine has been running) and the state after a delivered pair.
    n_machines
        Bank size n: consecutive trajectories form banks attempting in lockstep.

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
    T = float(attempt_period)
    if not (math.isfinite(T) and T > 0):
        raise ValueError(f"attempt_period={attempt_period!r} must be finite and > 0")
    for name, value in (
        ("n_attempts", n_attempts),
        ("n_machines", n_machines),
        ("n_traj", n_traj),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, np.integer))
            or value < 1
        ):
            raise ValueError(f"{name}={value!r} must be an integer >= 1")
    if n_traj % n_machines:
        raise ValueError(
            f"n_traj={n_traj} must be a multiple of n_machines={n_machines} "
            "(whole banks)"
        )
    start = start_state(model, initial)
    recorder = AttemptRecorder(
        model.machine.filter, n_traj, n_attempts, restart_state(model, restart)
    )
    times = T * np.arange(1, n_attempts + 1)
    ensemble = simulate(
        model,
        n_traj=n_traj,
        rng=rng,
        t_max=float(times[-1]),
        initial=start,
        chunk_size=chunk_size,
        attempt_times=times,
        attempts=recorder,
    )
    return HeraldingRun(
        model=model,
        attempt_period=T,
        n_machines=int(n_machines),
        initial=start,
        restart=restart,
        recorder=recorder,
        ensemble=ensemble,
    )
