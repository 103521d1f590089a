"""Entanglement and quality measures: pure functions of density matrices.

* negativity in the paper's normalisation, N = (||rho^{T_B}||_1 - 1)/2, the sum of the
  magnitudes of the negative eigenvalues of the partial transpose
  (Vidal-Werner, ref. 37);
  N = 1/2 for a maximally entangled two-qubit state, (d - 1)/2 for two qudits;
* logarithmic negativity log2 ||rho^{T_B}||_1;
* the maximal CHSH value of a two-qubit state, 2 sqrt(m1 + m2) with m1, m2 the two
  largest eigenvalues of T^T T, T the correlation matrix (Horodecki criterion);
* concurrence (Wootters), fidelity (to a pure or mixed state), purity.

Every state may be an array or a ``qutip.Qobj`` (a ket is read as |psi><psi|); a
Qobj's dims give (d_A, d_B), and must agree with ``dims`` when both are given
(``analysis.qobj``: qutip is not imported here, so this package stays light).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as la
from numpy.typing import ArrayLike, NDArray

from analysis.checks import check_unit_vector, is_integer
from analysis.qobj import bipartite_dims, is_qobj, qobj_array

_PAULI = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]])
_PAULI_PAIRS = np.einsum("iab,jcd->ijacbd", _PAULI, _PAULI).reshape(3, 3, 4, 4)
"""sigma_i (x) sigma_j, indexed [i, j]."""


def _density(
    rho: ArrayLike, name: str = "rho", local: tuple[int, ...] | None = None
) -> NDArray[np.complex128]:
    """rho as a finite square array; a Qobj (of systems ``local`` if given) is read
    as its matrix, a ket as |psi><psi|."""
    if is_qobj(rho):
        rho = qobj_array(rho, name, local, "state")
        if rho.ndim == 1:
            rho = np.outer(rho, rho.conj())
    try:
        rho = np.asarray(rho, dtype=complex)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={rho!r} must be a square numeric matrix") from None
    if rho.ndim != 2 or rho.shape[0] != rho.shape[1] or rho.size == 0:
        raise ValueError(
            f"{name} has shape {rho.shape}; it must be a non-empty square matrix"
        )
    if not np.all(np.isfinite(rho)):
        raise ValueError(f"{name} contains NaN or Inf; it must be finite")
    return rho


def _dims(rho: NDArray[np.complex128], dims: tuple[int, int] | None) -> tuple[int, int]:
    D = rho.shape[0]
    if dims is None:
        d = round(np.sqrt(D))
        if d * d != D:
            raise ValueError(
                f"rho has shape {rho.shape}, not (d^2, d^2): pass dims=(d_A, d_B) "
                f"with d_A d_B = {D}"
            )
        return d, d
    try:
        ok = len(dims) == 2 and all(is_integer(x) and x >= 1 for x in dims)
    except TypeError:
        ok = False
    if not ok or dims[0] * dims[1] != D:
        raise ValueError(
            f"dims={dims} must be two integers >= 1 with d_A d_B = {D} "
            f"(rho has shape {rho.shape})"
        )
    return int(dims[0]), int(dims[1])


def _bipartite(
    rho: ArrayLike, dims: tuple[int, int] | None
) -> tuple[NDArray[np.complex128], tuple[int, int]]:
    """rho as an array and its (d_A, d_B): from ``dims``, a Qobj's dims, or square."""
    if is_qobj(rho):
        local = bipartite_dims(rho, "rho")
        if dims is not None and tuple(dims) != local:
            raise ValueError(
                f"dims={dims} do not match rho's dims {rho.dims}; expected "
                f"dims={local} or None"
            )
        dims = local
    rho = _density(rho)
    return rho, _dims(rho, dims)


def partial_transpose(
    rho: ArrayLike, dims: tuple[int, int] | None = None
) -> NDArray[np.complex128]:
    """rho^{T_B}, the partial transpose on the second factor (dims default square,
    or those of a Qobj)."""
    rho, (d_A, d_B) = _bipartite(rho, dims)
    r = rho.reshape(d_A, d_B, d_A, d_B)
    return r.transpose(0, 3, 2, 1).reshape(d_A * d_B, d_A * d_B)


def negativity(rho: ArrayLike, dims: tuple[int, int] | None = None) -> float:
    """N = (||rho^{T_B}||_1 - 1)/2 (ref. 37); 1/2 for a two-qubit Bell state.

    Examples
    --------
    >>> bell = np.array([0, 1, 1, 0]) / np.sqrt(2)
    >>> round(negativity(np.outer(bell, bell)), 12)
    0.5
    """
    ev = la.eigvalsh(partial_transpose(rho, dims))
    return float(max(0.0, -ev[ev < 0].sum()))


def signed_negativity(rho: ArrayLike, dims: tuple[int, int] | None = None) -> float:
    """The negativity where rho^{T_B} has a negative eigenvalue, else its smallest
    eigenvalue with the sign flipped (<= 0): continuous through the boundary of the
    PPT states, so that errors of estimates near it follow the normal law.
    max(0, signed_negativity) = negativity."""
    ev = la.eigvalsh(partial_transpose(rho, dims))
    neg = ev[ev < 0]
    return float(-neg.sum()) if neg.size else float(-ev.min())


def log_negativity(rho: ArrayLike, dims: tuple[int, int] | None = None) -> float:
    """E_N = log2 ||rho^{T_B}||_1 = log2(2 N + Tr rho)."""
    rho, dims = _bipartite(rho, dims)
    return float(np.log2(2 * negativity(rho, dims) + np.trace(rho).real))


def correlation_matrix(rho: ArrayLike) -> NDArray[np.float64]:
    """T_ij = Tr[rho sigma_i (x) sigma_j] of a two-qubit state, (3, 3)."""
    rho = _density(rho, local=(2, 2))
    if rho.shape != (4, 4):
        raise ValueError(
            f"correlation_matrix needs a two-qubit state (4, 4), got {rho.shape}"
        )
    return np.einsum("ijkl,lk->ij", _PAULI_PAIRS, rho).real


def chsh_max(rho: ArrayLike) -> float:
    """Maximal CHSH value 2 sqrt(m1 + m2) of a two-qubit state (Horodecki criterion).

    Examples
    --------
    >>> bell = np.array([0, 1, 1, 0]) / np.sqrt(2)
    >>> round(chsh_max(np.outer(bell, bell)), 9)
    2.828427125
    """
    T = correlation_matrix(rho)
    m = np.sort(la.eigvalsh(T.T @ T))[::-1]
    return float(2 * np.sqrt(max(m[0] + m[1], 0.0)))


def concurrence(rho: ArrayLike) -> float:
    """Wootters concurrence of a two-qubit state."""
    # the square roots of the eigenvalues of rho yy rho* yy are the singular values
    # of sqrt(rho) yy sqrt(rho)*: no square roots of round-off
    return max(0.0, signed_concurrence(rho))


def signed_concurrence(rho: ArrayLike) -> float:
    """lambda_1 - lambda_2 - lambda_3 - lambda_4 before the clipping at 0 of the
    Wootters concurrence (continuous through the separable boundary)."""
    rho = _density(rho, local=(2, 2))
    if rho.shape != (4, 4):
        raise ValueError(f"concurrence needs a two-qubit state (4, 4), got {rho.shape}")
    yy = np.kron(_PAULI[1], _PAULI[1]).real
    s = _psd_sqrt(rho)
    lam = la.svdvals(s @ yy @ s.conj())
    return float(lam[0] - lam[1] - lam[2] - lam[3])


def _psd_sqrt(rho: NDArray[np.complex128]) -> NDArray[np.complex128]:
    """Square root of a Hermitian positive semidefinite matrix (negative round-off
    eigenvalues set to zero)."""
    w, V = la.eigh(0.5 * (rho + rho.conj().T))
    return (V * np.sqrt(np.clip(w, 0, None))) @ V.conj().T


def purity(rho: ArrayLike) -> float:
    """Tr rho^2."""
    rho = _density(rho)
    return float(np.real(np.vdot(rho.conj().T, rho)))


def fidelity(rho: ArrayLike, target: ArrayLike) -> float:
    """Fidelity to a target: <psi|rho|psi> for a state vector, else Uhlmann's
    (Tr sqrt(sqrt(rho) sigma sqrt(rho)))^2 for a density matrix; with two Qobjs
    their dims must agree."""
    local = rho.dims[0] if is_qobj(rho) else None
    rho = _density(rho)
    if is_qobj(target):
        target = qobj_array(target, "target", local, "state")
    try:
        target = np.asarray(target, dtype=complex)
    except (TypeError, ValueError):
        raise ValueError(
            f"target={target!r} must be a state vector or a density matrix"
        ) from None
    if target.ndim == 1:
        if target.size != rho.shape[0]:
            raise ValueError(
                f"target of length {target.size} does not match {rho.shape}"
            )
        if not np.all(np.isfinite(target)):
            raise ValueError("target contains NaN or Inf; it must be finite")
        check_unit_vector(target, "target")
        return float(np.real(target.conj() @ rho @ target))
    sigma = _density(target, "target")
    if sigma.shape != rho.shape:
        raise ValueError(f"target shape {sigma.shape} does not match {rho.shape}")
    # Tr sqrt(sqrt(rho) sigma sqrt(rho)) = sum of the singular values of
    # sqrt(rho) sqrt(sigma)
    return float(np.sum(la.svdvals(_psd_sqrt(rho) @ _psd_sqrt(sigma))) ** 2)
