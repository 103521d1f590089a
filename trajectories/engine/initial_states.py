"""Pure-state ensembles of a density matrix, accurate for every element's own weight.

A trajectory starts from a pure state psi drawn so that E[|psi><psi|] = rho. Drawing
eigenvectors of rho with their eigenvalues as probabilities does this in exact
arithmetic, but ``eigh`` is only accurate to ~1e-16 ||rho|| in absolute terms: an
element of rho of size 1e-30 (a success amplitude at small g/p, App. E) is lost in the
rounding, and a small eigenvalue may even come out negative and be dropped.

``PureStateEnsemble`` decomposes the Jacobi-scaled matrix instead. With
S = diag(rho_ii) on the support of rho (a zero diagonal element of a positive
semidefinite matrix has a zero row and column), H = S^-1/2 rho S^-1/2 has unit
diagonal, and its eigendecomposition H = sum_k l_k w_k w_k^dag is computed with an
absolute error of order n eps (||H|| <= tr H = n). Then

    rho = sum_k l_k (S^1/2 w_k)(S^1/2 w_k)^dag,

so the ensemble {psi_k = S^1/2 w_k / ||S^1/2 w_k||, probability l_k ||S^1/2 w_k||^2}
reproduces every element with error O(n eps) sqrt(rho_ii rho_jj): relative to the
element's own scale, however small (clipping a negative l_k >= -O(n eps) moves rho_ij
by no more than that). Each connected component of the sparsity graph of rho (its
blocks: energy sectors, App. B, C) is decomposed on its own, which keeps exact zeros
exact and costs less.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components


@dataclass(frozen=True, eq=False)
class PureStateEnsemble:
    """Pure states (rows of ``states``, (K, D)) with probabilities ``probs`` (K,)
    whose mixture is a given density matrix, element by element accurate."""

    probs: NDArray[np.float64]
    states: NDArray[np.complex128]

    @classmethod
    def of(cls, state: NDArray) -> PureStateEnsemble:
        """The ensemble of a state vector (D,) or of a density matrix (D, D)."""
        state = np.asarray(state, dtype=complex)
        if state.ndim == 1:
            return cls(np.ones(1), state[None, :].copy())
        probs, states = [], []
        for block in _blocks(state):
            p, psi = _scaled_decomposition(state[np.ix_(block, block)])
            full = np.zeros((p.size, state.shape[0]), dtype=complex)
            full[:, block] = psi
            probs.append(p)
            states.append(full)
        p = np.concatenate(probs)
        return cls(p / p.sum(), np.concatenate(states))

    def sample(self, n: int, rng: np.random.Generator) -> NDArray[np.complex128]:
        """n pure states (n, D) drawn independently from the ensemble."""
        if self.probs.size == 1:
            return np.repeat(self.states, n, axis=0)
        k = rng.choice(self.probs.size, size=n, p=self.probs)
        return self.states[k]

    def density(self) -> NDArray[np.complex128]:
        """sum_k p_k |psi_k><psi_k| (equal to the state it was built from)."""
        return (self.states.T * self.probs) @ self.states.conj()


def _blocks(rho: NDArray[np.complex128]) -> list[NDArray[np.int64]]:
    """The supported levels of rho grouped by connected component of its sparsity
    graph (levels with rho_ii = 0 are left out)."""
    support = np.flatnonzero(np.diag(rho).real > 0)
    sub = rho[np.ix_(support, support)]
    n, label = connected_components(csr_matrix(sub != 0), directed=False)
    return [support[label == c] for c in range(n)]


def _scaled_decomposition(
    block: NDArray[np.complex128],
) -> tuple[NDArray[np.float64], NDArray[np.complex128]]:
    """(weights, unit states (K, n)) of a block with positive diagonal, from the
    eigendecomposition of its Jacobi-scaled form (see the module docstring)."""
    s = np.sqrt(np.diag(block).real)
    H = block / np.outer(s, s)
    H = 0.5 * (H + H.conj().T)
    lam, W = np.linalg.eigh(H)
    keep = lam > 0
    psi = (W[:, keep] * s[:, None]).T
    norm_sq = np.einsum("kd,kd->k", psi.conj(), psi).real
    return lam[keep] * norm_sq, psi / np.sqrt(norm_sq)[:, None]
