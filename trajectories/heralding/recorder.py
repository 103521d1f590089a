"""The filter measurement at each attempt (Eq. 5): the four joint outcomes of the two
local two-outcome measurements drawn by the Born rule, collapse, delivery of the pair
and restart; every outcome and Born probability recorded."""

from __future__ import annotations

from functools import cached_property

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
        self.codes = _outcome_codes(filt)
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

    def _collapse(
        self, psi: States, rng: Generator
    ) -> tuple[NDArray[np.int64], NDArray[np.float64], States]:
        """The drawn outcome, the four Born probabilities and the collapsed states.

        Diagonal filters (``codes``): the probabilities are the populations summed
        per outcome, the collapse a mask and a rescale; otherwise the four branches
        (P_A^x (x) P_B^y) psi."""
        if self.codes is None:
            branches = self._branches(psi)
            probs = np.einsum("kmd,kmd->mk", branches.conj(), branches).real
        else:
            pop = psi.real**2 + psi.imag**2
            probs = np.stack([pop[:, c].sum(axis=1) for c in self.codes], axis=1)
        cum = np.cumsum(probs, axis=1)
        u = rng.random(psi.shape[0]) * cum[:, -1]
        outcome = np.minimum((cum < u[:, None]).sum(axis=1), 3)
        rows = np.arange(psi.shape[0])
        scale = 1.0 / np.sqrt(probs[rows, outcome])
        if self.codes is None:
            return outcome, probs, branches[outcome, rows] * scale[:, None]
        keep = self.kept[outcome]
        return outcome, probs, np.where(keep, psi * scale[:, None], 0.0)

    @cached_property
    def kept(self) -> NDArray[np.bool_]:
        """kept[k, j]: whether basis state j survives outcome k (diagonal filters)."""
        out = np.zeros((4, int(np.prod(self.dims))), dtype=bool)
        for k, c in enumerate(self.codes):
            out[k, c] = True
        return out

    def attempt(
        self, ids: Indices, index: Indices, psi: States, rng: Generator
    ) -> States:
        """Draw the joint outcome of each state (trajectories ``ids``, attempt
        ``index``), collapse, deliver and restart (``event_loop.Attempts``)."""
        outcome, probs, new = self._collapse(psi, rng)
        self.outcome[ids, index] = outcome
        self.born[ids, index] = probs[:, 0]
        first = index == 0
        if first.any():
            self.first_born[ids[first]] = probs[first, 0]
            ok = first & (probs[:, 0] > 0)
            self.first_state[ids[ok]] = (
                self._success_branch(psi[ok]) @ self.V.conj()
            ) / np.sqrt(probs[ok, 0])[:, None]
        won = np.flatnonzero(outcome == 0)
        if won.size:
            self.pairs.append((ids[won], index[won], new[won] @ self.V.conj()))
            new[won] = self.restart.sample(won.size, rng)
        return new

    def _success_branch(self, psi: States) -> States:
        """(Pi_A (x) Pi_B) psi."""
        if self.codes is None:
            return self._branches(psi)[0]
        return np.where(self.kept[0], psi, 0.0)


def _outcome_codes(filt: Filter) -> list[Indices] | None:
    """The joint basis states of each outcome (pass_pass, pass_fail, fail_pass,
    fail_fail) if both projectors are diagonal 0/1 matrices, else None."""
    diag = []
    for P in (filt.pi_A, filt.pi_B):
        d = np.diag(P).real
        if not np.array_equal(P, np.diag(d).astype(P.dtype)) or not np.all(
            (d == 0) | (d == 1)
        ):
            return None
        diag.append(d == 1)
    a, b = diag
    fail_A, fail_B = np.repeat(~a, b.size), np.tile(~b, a.size)
    code = 2 * fail_A + fail_B
    return [np.flatnonzero(code == k) for k in range(4)]
