"""Time-average integrals between events: integral_0^s psi(u) psi(u)^dag du of the
normalised state, in the eigen-coordinates of ``Unravelling``."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from trajectories.engine.unravelling import Unravelling

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(12)


def segment_density_integral(
    unr: Unravelling, c: NDArray[np.complex128], s: NDArray[np.float64]
) -> NDArray[np.complex128]:
    """integral_0^s c(u) c(u)^dag / ||psi(u)||^2 du in eigen-coordinates, (n, D, D);
    ``Unravelling.coords_to_density`` maps it to the integral of psi psi^dag.

    Closed form for the reset model (unitary between jumps): with P(u) = c(u) c(u)^dag
    and omega = E_m - E_n, integral_0^s P_mn(u) du = i (P_mn(s) - P_mn(0)) / omega_mn,
    or s P_mn(0) where omega_mn = 0 (near-degenerate pairs use the expm1 form, which
    keeps full relative precision). Otherwise Gauss-Legendre quadrature (12 nodes) on
    sub-intervals short enough that the integrand varies by at most ~2 e-folds or
    radians on each (error < 1e-13).
    """
    if unr.uniform_rate is not None:  # c is normalised
        return _unitary_segment_integral(unr, c, s)
    # the normalised state varies at rates |lam_m - lam_n| over its nonzero components
    present = c != 0
    spread = [
        np.where(present, part, -np.inf).max(axis=1)
        - np.where(present, part, np.inf).min(axis=1)
        for part in (unr.lam.real, unr.lam.imag)
    ]
    scale = np.hypot(*spread)
    if unr.exact_block is not None:  # the joint basis turns at up to this rate
        scale = np.maximum(scale, 2.0 * unr.exact_block.rate)
    n_sub = np.clip(np.ceil(s * scale / 2.0), 1, None).astype(np.int64)
    out = np.zeros((c.shape[0], unr.dim, unr.dim), dtype=complex)
    h = s / n_sub
    for k in range(int(n_sub.max())):
        live = np.flatnonzero(k < n_sub)
        for x, w in zip(_GL_NODES, _GL_WEIGHTS, strict=True):
            u = h[live] * (k + 0.5 * (x + 1.0))
            cu = unr.propagate(c[live], u)
            cu /= np.sqrt(unr.norm_sq(cu))[:, None]
            out[live] += (0.5 * w * h[live])[:, None, None] * (
                cu[:, :, None] * cu[:, None, :].conj()
            )
    return out


def _unitary_segment_integral(
    unr: Unravelling, c: NDArray[np.complex128], s: NDArray[np.float64]
) -> NDArray[np.complex128]:
    """The closed form of ``segment_density_integral`` for the reset model."""
    cs = unr.propagate(c, s)
    P0 = c[:, :, None] * c[:, None, :].conj()
    out = (cs[:, :, None] * cs[:, None, :].conj() - P0) * unr.inv_omega
    out += P0 * (unr.degenerate * s[:, None, None])
    for m, n in unr.near_degenerate:
        x = s * unr.omega[m, n]
        out[:, m, n] = P0[:, m, n] * s * (-np.expm1(-1j * x) / (1j * x))
    return out
