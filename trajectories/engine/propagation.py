"""Propagation of graded states: exp(M s) psi accurate for every amplitude.

At small g/p the amplitudes of a machine's state span many orders of magnitude along
its chain of couplings (the success amplitude of the one-step machine scales as
(g/p)^(d-2), App. E). Propagating in the eigenbasis of the coupled block,
psi(s) = R exp(lam s) R^-1 psi, forms each small amplitude as a sum of O(1) terms
that cancel: its absolute error is ~1e-16 of the largest amplitude, so a population
below ~1e-30 is pure rounding.

``taylor_propagate`` sums the Taylor series of exp(M h) psi by repeated products
M (M ... psi) over substeps h with ||M||_1 h <= 1/2. The leading term of an amplitude
that sits l couplings away from the large ones is the product along that path,
(h^l / l!) (M^l psi): formed by multiplications, not cancellations, so every
amplitude keeps a relative accuracy of a few eps. The series is cut after
n_C + 16 terms (n_C the block size, the longest path): the first omitted term of an
amplitude is below 2^-16 / 16! ~ 1e-18 of its leading term.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from trajectories.system.models import OpenSystem

SUBSTEP_NORM = 0.5
"""Largest ||M||_1 h of one Taylor substep."""

EXTRA_TERMS = 16
"""Terms kept beyond the longest path of the block."""


def taylor_propagate(
    M: NDArray[np.complex128], psi: NDArray[np.complex128], s: NDArray[np.float64]
) -> NDArray[np.complex128]:
    """exp(M s_i) psi_i for every row i of psi (n, k), s (n,) >= 0; M (k, k).

    Examples
    --------
    >>> import scipy.linalg as la
    >>> M = np.array([[0, -1e-9j], [-1e-9j, 0]])
    >>> psi = np.array([[1, 0]], dtype=complex)
    >>> out = taylor_propagate(M, psi, np.array([2.0]))
    >>> bool(abs(out[0, 1] / -2e-9j - 1) < 1e-15)
    True
    """
    norm = float(np.abs(M).sum(axis=0).max(initial=0.0))
    out = np.array(psi, dtype=complex, order="C")
    if norm == 0 or out.size == 0:
        return out
    s = np.asarray(s, dtype=float)
    substeps = np.maximum(np.ceil(norm * s / SUBSTEP_NORM), 1).astype(np.int64)
    h = s / substeps
    MT = np.ascontiguousarray(M.T)
    n_terms = M.shape[0] + EXTRA_TERMS
    for j in range(int(substeps.max())):
        rows = np.flatnonzero(substeps > j) if j else slice(None)
        out[rows] = _taylor_step(MT, out[rows], h[rows], n_terms)
    return out


def _taylor_step(
    MT: NDArray[np.complex128],
    psi: NDArray[np.complex128],
    h: NDArray[np.float64],
    n_terms: int,
) -> NDArray[np.complex128]:
    """sum_{n < n_terms} (h M)^n psi / n! for rows psi (m, k), h (m,)."""
    term = psi.copy()
    acc = psi.copy()
    hc = h[:, None]
    for n in range(1, n_terms):
        term = (term @ MT) * (hc / n)
        acc += term
    return acc


GRADED_RANGE = 1e-15
"""Populations below this fraction of the largest one on the coupled levels are
beyond the eigenbasis propagation: its amplitude error, ~1e-16 of the largest
amplitude, would exceed 1e-7 of theirs."""


def needs_graded_propagation(model: OpenSystem, *states: NDArray | None) -> bool:
    """Whether some positive population of one of the states (vectors or density
    matrices; None is skipped) on the levels coupled by H_int is below
    ``GRADED_RANGE`` of the largest one there."""
    H = model.hamiltonian(True)
    off = H - np.diag(np.diag(H))
    coupled = np.any(off != 0, axis=0) | np.any(off != 0, axis=1)
    for rho in states:
        if rho is None:
            continue
        pops = np.abs(rho) ** 2 if rho.ndim == 1 else np.diag(rho).real
        positive = pops[coupled][pops[coupled] > 0]
        if positive.size and positive.min() < GRADED_RANGE * positive.max():
            return True
    return False
