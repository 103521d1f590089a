"""Propagators of the coupled block of H_eff where its eigenbasis is not accurate.

Graded states (``taylor_propagate``). At small g/p the amplitudes of a machine's state
span many orders of magnitude along its chain of couplings (the success amplitude of
the one-step machine scales as (g/p)^(d-2), App. E). Propagating in the eigenbasis of
the coupled block, psi(s) = R exp(lam s) R^-1 psi, forms each small amplitude as a sum
of O(1) terms that cancel: its absolute error is ~1e-16 of the largest amplitude, so a
population below ~1e-30 is pure rounding. ``taylor_propagate`` sums the Taylor series
of exp(M h) psi by repeated products M (M ... psi) over substeps h with
||M||_1 h <= 1/2. The leading term of an amplitude that sits l couplings away from the
large ones is the product along that path, (h^l / l!) (M^l psi): formed by
multiplications, not cancellations, so every amplitude keeps a relative accuracy of a
few eps. The series is cut after n_C + 16 terms (n_C the block size, the longest
path): the first omitted term of an amplitude is below 2^-16 / 16! ~ 1e-18 of its
leading term.

Exceptional points (``BlockPropagator``). Near an exceptional point of H_eff the
eigenvectors of the coupled block are ill-conditioned; the block is then propagated
by exact dyadic propagators and a Taylor polynomial of the remainder, without
eigenvectors.

The two are Taylor series over steps of norm at most ``STEP_NORM``, but not the same
arithmetic: ``taylor_propagate`` multiplies vectors term by term over substeps of each
row's own length (so that every amplitude is a product along its path), while
``BlockPropagator`` splits every step into dyadic multiples of one fixed h, whose
propagators and Taylor matrices are computed once for all rows.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg as la
from numpy.typing import NDArray

from trajectories.system.models import OpenSystem

STEP_NORM = 0.5
"""Largest norm of h M over one Taylor step: ||.||_1 for the substeps of
``taylor_propagate``, ||.||_2 for the remainder step of ``BlockPropagator``."""

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
    substeps = np.maximum(np.ceil(norm * s / STEP_NORM), 1).astype(np.int64)
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


def coupled_levels(H: NDArray[np.complex128]) -> NDArray[np.int64]:
    """The levels that the off-diagonal part of H couples (increasing)."""
    off = H - np.diag(np.diag(H))
    return np.flatnonzero(np.any(off != 0, axis=0) | np.any(off != 0, axis=1))


def needs_graded_propagation(model: OpenSystem, *states: NDArray | None) -> bool:
    """Whether some positive population of one of the states (vectors or density
    matrices; None is skipped) on the levels coupled by H_int is below
    ``GRADED_RANGE`` of the largest one there."""
    coupled = coupled_levels(model.hamiltonian(True))
    for rho in states:
        if rho is None:
            continue
        pops = np.abs(rho) ** 2 if rho.ndim == 1 else np.diag(rho).real
        positive = pops[coupled][pops[coupled] > 0]
        if positive.size and positive.min() < GRADED_RANGE * positive.max():
            return True
    return False


class BlockPropagator:
    """exp(-i H s) psi for a small non-normal block H (k, k) and many steps s at once,
    without eigenvectors: accurate to rounding at and near exceptional points.

    Each step is split exactly in floating point as s = sum_j b_j 2^j h + r, b_j in
    {0, 1}, 0 <= r < h, with h = ``STEP_NORM`` / ||H||_2. The dyadic propagators
    U_j = exp(-i H 2^j h) are U_0 from ``scipy.linalg.expm`` and U_{j+1} = U_j^2
    (scaling and squaring, computed once, as far as the steps require; a decayed U_j
    is 0, never NaN), and exp(-i H r) = sum_m (r/h)^m (-i h H)^m / m! is a Taylor
    polynomial of degree ``TAYLOR_TERMS`` (||r H|| <= 1/2: truncation below 1e-19).
    Measured against 40-digit references at exceptional points: relative error
    <= 2e-14 up to 30 decay times.
    """

    TAYLOR_TERMS = 16

    def __init__(self, H: NDArray[np.complex128]) -> None:
        self.H = np.array(H, dtype=complex)
        norm = float(np.linalg.norm(self.H, 2)) if self.H.size else 0.0
        self.h = STEP_NORM / norm if norm > 0 else math.inf
        self._dyadic_T: list[NDArray[np.complex128]] = []  # exp(-i H 2^j h)^T
        if norm > 0:
            self._terms = _power_series_terms(-1j * self.h * self.H, self.TAYLOR_TERMS)

    def _dyadic(self, n: int) -> list[NDArray[np.complex128]]:
        """The transposed propagators U_j^T of steps 2^j h, j = 0..n-1."""
        if n and not self._dyadic_T:
            U = la.expm(-1j * self.h * self.H)
            self._dyadic_T.append(np.ascontiguousarray(U.T))
        while len(self._dyadic_T) < n:
            UT = self._dyadic_T[-1]
            self._dyadic_T.append(UT @ UT)
        return self._dyadic_T[:n]

    def apply(
        self, psi: NDArray[np.complex128], s: NDArray[np.float64]
    ) -> NDArray[np.complex128]:
        """exp(-i H s_n) psi_n for states psi (n, k) and finite steps s (n,) >= 0."""
        out = np.array(psi, dtype=complex)
        if not math.isfinite(self.h) or out.size == 0:
            return out
        rest = np.array(s, dtype=float)
        n_bits = max(0, math.frexp(float(rest.max()) / self.h)[1])
        n_bits += math.ldexp(self.h, n_bits) <= rest.max()  # division rounded down
        for j, UT in reversed(list(enumerate(self._dyadic(n_bits)))):
            step = math.ldexp(self.h, j)
            take = np.flatnonzero(rest >= step)
            if take.size:
                out[take] = out[take] @ UT
                rest[take] -= step  # exact: step <= rest < 2 step (Sterbenz)
        return self._taylor(out, rest)

    def _taylor(
        self, psi: NDArray[np.complex128], r: NDArray[np.float64]
    ) -> NDArray[np.complex128]:
        """exp(-i H r_n) psi_n for 0 <= r_n < h: the Taylor matrices, then matvecs."""
        x = np.power.outer(r / self.h, np.arange(self.TAYLOR_TERMS + 1))
        k = psi.shape[1]
        U = (x @ self._terms).reshape(-1, k, k)
        return np.einsum("nij,nj->ni", U, psi)

    @property
    def rate(self) -> float:
        """||H - tr(H)/k||_2: how fast a normalised state can turn under H."""
        k = self.H.shape[0]
        return float(np.linalg.norm(self.H - np.trace(self.H) / k * np.eye(k), 2))


def _power_series_terms(A: NDArray[np.complex128], degree: int) -> NDArray:
    """A^m / m! for m = 0..degree, flattened: array (degree + 1, k * k)."""
    terms = [np.eye(A.shape[0], dtype=complex)]
    for m in range(1, degree + 1):
        terms.append(terms[-1] @ A / m)
    return np.stack(terms).reshape(degree + 1, -1)
