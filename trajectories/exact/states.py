"""Exact references: steady states, time evolution e^{Lt} rho, and the filter (Eq. 5).

Every stochastic estimate of the package is validated against these functions.

* ``steady_state``: the unique zero of the Liouvillian, solved in the reduced space of
  ``liouvillian.reachable_support`` (App. B, C) with a trace constraint; a singular
  system (no unique steady state) raises ``NonUniqueSteadyStateError``. ``method=
  "dense"`` (SVD null space of the full Liouvillian) and ``"qutip"``
  (``qutip.steadystate``) are independent references.
* ``evolve``: e^{L t} rho_0 by ``scipy.sparse.linalg.expm_multiply``.
* ``herald``: the four joint outcome probabilities, p_suc and rho' (Eq. 5).

States may be given as ``qutip.Qobj`` (dims checked against the machine), and the
results come back as Qobjs with ``as_qobj=True`` (``Herald.qobj()`` for rho').
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.linalg import expm_multiply

from trajectories.system.filters import OUTCOMES, Filter, check_filter
from trajectories.system.liouvillian import diagonal_indices, reachable_support, unvec
from trajectories.system.models import OpenSystem
from trajectories.system.qobj import from_qobj, to_qobj

if TYPE_CHECKING:
    from qutip import Qobj

RCOND_MIN = 1e-14
"""Reciprocal condition number below which the steady state is declared not unique."""


class NonUniqueSteadyStateError(ValueError):
    """The Liouvillian has no unique steady state (kernel not one-dimensional)."""


def _hermitian_unit_trace(rho: NDArray[np.complex128]) -> NDArray[np.complex128]:
    rho = 0.5 * (rho + rho.conj().T)
    return rho / np.trace(rho).real


def solve_steady_state(L: sp.spmatrix, D: int) -> NDArray[np.complex128]:
    """The unique trace-one zero of a Liouvillian (D^2, D^2), via its reduced space."""
    support = reachable_support(L, diagonal_indices(D))
    L_R = L[support][:, support].toarray()
    is_pop = np.isin(support, diagonal_indices(D))
    scale = max(np.abs(L_R).max(), 1e-300)
    row = int(np.flatnonzero(is_pop)[0])
    L_R[row] = is_pop * scale
    rhs = np.zeros(support.size, dtype=complex)
    rhs[row] = scale
    factors, rcond = lu_factor_rcond(L_R)
    if not rcond > RCOND_MIN:
        raise NonUniqueSteadyStateError(
            f"the steady state is not unique (reduced Liouvillian of size "
            f"{support.size} "
            f"is singular, rcond={rcond:.2g}): check that p_A, p_B (or Gamma) make "
            "the dynamics ergodic"
        )
    x = la.lu_solve(factors, rhs, check_finite=False)
    return _hermitian_unit_trace(unvec(x, support, D))


def lu_factor_rcond(
    A: NDArray[np.complex128],
) -> tuple[tuple[NDArray, NDArray], float]:
    """The LU factors (lu, piv) of A and its reciprocal condition number in the
    1-norm, estimated from them (the caller judges singularity: no warning here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", la.LinAlgWarning)
        lu, piv = la.lu_factor(A, check_finite=False)
    (gecon,) = la.get_lapack_funcs(("gecon",), (lu,))
    rcond, _ = gecon(lu, np.abs(A).sum(axis=0).max(), norm="1")
    return (lu, piv), float(rcond)


def steady_state(
    model: OpenSystem,
    *,
    method: str = "reduced",
    interaction_picture: bool = True,
    as_qobj: bool = False,
) -> NDArray[np.complex128] | Qobj:
    """The steady state of ``model`` as a dense (D, D) density matrix (a Qobj with
    dims [[d_A, d_B], [d_A, d_B]] with ``as_qobj``).

    ``method``: ``"reduced"`` (default, fast), ``"dense"`` (SVD of the full
    Liouvillian, small D only) or ``"qutip"`` (``qutip.steadystate``).

    Examples
    --------
    >>> from trajectories.system.machines import qutrit
    >>> from trajectories.system.models import ResetModel
    >>> rho = steady_state(ResetModel(qutrit(g=0.01), p_A=0.001, p_B=0.01))
    >>> rho.shape, round(float(np.trace(rho).real), 12)
    ((9, 9), 1.0)
    """
    D = model.machine.dim
    if method == "reduced":
        rho = solve_steady_state(model.liouvillian(interaction_picture), D)
    elif method == "dense":
        rho = _dense_steady_state(model.liouvillian(interaction_picture), D)
    elif method == "qutip":
        import qutip

        H, c_ops = model.to_qutip(interaction_picture)
        rho = _hermitian_unit_trace(qutip.steadystate(H, c_ops).full())
    else:
        raise ValueError(f"method={method!r} must be 'reduced', 'dense' or 'qutip'")
    return to_qobj(rho, model.machine.dims) if as_qobj else rho


def _dense_steady_state(L: sp.spmatrix, D: int) -> NDArray[np.complex128]:
    if D > 40:
        raise ValueError(f"method='dense' needs D <= 40 (got D={D}); use 'reduced'")
    _, s, vh = la.svd(L.toarray())
    tol = s[0] * 1e-12
    nullity = int(np.sum(s < tol))
    if nullity != 1:
        raise NonUniqueSteadyStateError(
            f"the Liouvillian kernel has dimension {nullity} "
            f"(singular values < {tol:.2g})"
        )
    return _hermitian_unit_trace(vh[-1].conj().reshape(D, D, order="F"))


def evolve(
    model: OpenSystem,
    rho0: NDArray[np.complex128] | Qobj,
    times: Sequence[float] | NDArray[np.float64],
    *,
    interaction_picture: bool = True,
    as_qobj: bool = False,
) -> NDArray[np.complex128] | list[Any]:
    """e^{L t} rho0 at each of ``times`` (increasing, >= 0): array (n_times, D, D),
    or a list of Qobjs with ``as_qobj`` (rho0: an array or a Qobj operator).

    In the interaction picture (default) coherences between non-degenerate levels do
    not rotate; populations, p_suc and every quantity of the filtered state inside
    degenerate subspaces are the same in both pictures.
    """
    D = model.machine.dim
    rho0 = _finite_matrix(rho0, model.machine.dims, "rho0", "the machine")
    t = np.asarray(times, dtype=float)
    if (
        t.ndim != 1
        or np.any(~np.isfinite(t))
        or np.any(t < 0)
        or np.any(np.diff(t) < 0)
    ):
        raise ValueError(f"times={t} must be finite, >= 0 and non-decreasing")
    L = model.liouvillian(interaction_picture).tocsc()
    out = np.empty((t.size, D, D), dtype=complex)
    x, t_prev = rho0.reshape(-1, order="F"), 0.0
    for k, tk in enumerate(t):
        if tk > t_prev:
            x = expm_multiply(L * (tk - t_prev), x)
            t_prev = tk
        out[k] = x.reshape(D, D, order="F")
    return to_qobj(out, model.machine.dims) if as_qobj else out


def _finite_matrix(
    rho: NDArray[np.complex128] | Qobj, dims: tuple[int, int], name: str, user: str
) -> NDArray[np.complex128]:
    """rho (an array, or a Qobj on systems ``dims``) as a finite complex (D, D)
    array (the shape ``user`` needs)."""
    D = dims[0] * dims[1]
    rho = np.asarray(from_qobj(rho, dims, name, "oper"), dtype=complex)
    if rho.shape != (D, D):
        raise ValueError(f"{name} has shape {rho.shape}; {user} needs ({D}, {D})")
    if not np.all(np.isfinite(rho)):
        raise ValueError(
            f"{name} contains NaN or Inf; it must be a finite density matrix"
        )
    return rho


@dataclass(frozen=True, eq=False)
class Herald:
    """The filter applied to a state: outcome probabilities, p_suc and rho' (Eq. 5),
    with the dims (k_A, k_B) of the filtered subspace rho' lives in."""

    probabilities: dict[str, float]
    rho_post: NDArray[np.complex128]
    dims: tuple[int, int] | None = None

    @property
    def p_suc(self) -> float:
        """Tr[(Pi_A (x) Pi_B) rho] (Eq. 5)."""
        return self.probabilities["pass_pass"]

    def qobj(self) -> Qobj:
        """rho' as a Qobj with dims [[k_A, k_B], [k_A, k_B]]."""
        if self.dims is None:
            raise ValueError("this Herald has no dims; build it with herald()")
        return to_qobj(self.rho_post, self.dims)


def herald(rho: NDArray[np.complex128] | Qobj, filt: Filter) -> Herald:
    """Apply the local filters to rho (D, D), an array or a Qobj with dims [[d_A,
    d_B], [d_A, d_B]]: probabilities of the four joint outcomes and the post-selected
    rho' in the relabelled filtered subspace (Eq. 5)."""
    check_filter(filt)
    rho = _finite_matrix(rho, filt.dims, "rho", "the filter")
    probs = {
        name: float(np.real(np.trace(P @ rho)))
        for name, P in filt.joint_projectors().items()
    }
    if probs["pass_pass"] <= 0:
        raise ValueError(
            "the filter never succeeds on this state "
            f"(p_suc = {probs['pass_pass']:.3g})"
        )
    V = filt.isometry()
    rho_post = V.conj().T @ rho @ V / probs["pass_pass"]
    return Herald(probs, rho_post, filt.kept_dims)


def filter_superoperators(filt: Filter) -> dict[str, sp.csr_matrix]:
    """The four outcome maps rho -> P rho P as sparse (D^2, D^2) superoperators."""
    out = {}
    for name, P in filt.joint_projectors().items():
        Ps = sp.csr_matrix(P)
        out[name] = sp.kron(Ps.T, Ps, format="csr")
    assert set(out) == set(OUTCOMES)
    return out
