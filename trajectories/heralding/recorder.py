"""The filter measurement at each attempt (Eq. 5): the four joint outcomes of the two
local two-outcome measurements drawn by the Born rule, collapse, delivery of the pair
and restart; every outcome and Born probability recorded."""

from __future__ import annotations

import numpy as np
from numpy.random import Generator
from numpy.typing import NDArray

from trajectories.engine.initial_states import PureStateEnsemble
from trajectories.system.filters import Filter

Indices = NDArray[np.int64]
"""Trajectory or attempt indices (m,)."""

States = NDArray[np.complex128]
"""State vectors (m, D), one a row."""


class AttemptRecorder:
    """Samples the filter outcomes at each attempt and records them (``Attempts``)."""

    def __init__(
        self, filt: Filter, n_traj: int, n_attempts: int, restart: NDArray
    ) -> None:
        self.dims = filt.dims
        self.pi_A, self.pi_B = filt.pi_A, filt.pi_B
        self.keep_A = _kept_levels(self.pi_A)
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
        if self.keep_A is not None:  # the einsum's values (zeros +0) at O(m D)
            a_pass = np.where(self.keep_A[None, :, None], p3, 0.0) + 0.0
        else:
            a_pass = np.einsum("ij,mjb->mib", self.pi_A, p3)
        a_fail = p3 - a_pass
        pp, fp = a_pass @ self.pi_B.T, a_fail @ self.pi_B.T
        return np.stack([pp, a_pass - pp, fp, a_fail - fp]).reshape(4, psi.shape[0], -1)

    def attempt(
        self, ids: Indices, index: Indices, psi: States, rng: Generator
    ) -> States:
        """Draw the joint outcome of each state (trajectories ``ids``, attempt
        ``index``), collapse, deliver and restart (``event_loop.Attempts``)."""
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


def _kept_levels(P: NDArray[np.complex128]) -> NDArray[np.bool_] | None:
    """The kept levels of a diagonal 0/1 projector, else None."""
    diag = np.diag(P)
    exact = np.array_equal(P, np.diag(diag)) and np.isin(diag, (0.0, 1.0)).all()
    return (diag == 1.0) if exact else None
