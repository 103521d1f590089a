"""Time-average integrals between events: integral_0^s psi(u) psi(u)^dag du of the
normalised state, in the eigen-coordinates of ``Unravelling``, for every element or
for chosen pairs of coordinates (``Pairs``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from trajectories.engine.unravelling import Unravelling

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(12)


@dataclass(frozen=True, eq=False)
class Pairs:
    """Pairs (l, m) of eigen-coordinates whose integrals are wanted, with the
    factors of the reset model's closed form taken at them once."""

    left: NDArray[np.int64]  # l
    right: NDArray[np.int64]  # m
    inv_omega: NDArray[np.complex128]  # i / omega_lm (0 where (near) degenerate)
    degenerate: NDArray[np.float64]  # 1 where omega_lm = 0
    near: NDArray[np.int64]  # positions of the near-degenerate pairs
    near_omega: NDArray[np.float64]  # their omega_lm
    omega: NDArray[np.float64]  # omega_lm of every pair

    @classmethod
    def of(cls, unr: Unravelling, left: NDArray, right: NDArray) -> Pairs:
        """The pairs (left[q], right[q]) of ``unr``'s coordinates; the factors are
        those of ``Unravelling.inv_omega``, ``degenerate`` and ``near_degenerate``
        at the pairs, computed without the (D, D) matrices."""
        left = np.asarray(left, dtype=np.int64)
        right = np.asarray(right, dtype=np.int64)
        E = unr.lam.real
        omega = E[left] - E[right]
        degenerate = omega == 0
        cut = 1e-6 * np.abs(E).max() + 1e-12
        near = (np.abs(omega) > 0) & (np.abs(omega) < cut)
        inv_omega = np.zeros(left.size, dtype=complex)
        far = ~degenerate & ~near
        inv_omega[far] = 1j / omega[far]
        pos = np.flatnonzero(near)
        return cls(
            left, right, inv_omega, degenerate.astype(float), pos, omega[pos], omega
        )

    def products(
        self, a: NDArray[np.complex128], b: NDArray[np.complex128]
    ) -> NDArray[np.complex128]:
        """a_l b_m^* for the pairs, states (n, D) -> (n, P)."""
        return a[:, self.left] * b[:, self.right].conj()


def segment_density_integral(
    unr: Unravelling,
    c: NDArray[np.complex128],
    s: NDArray[np.float64],
    pairs: Pairs | None = None,
) -> NDArray[np.complex128]:
    """integral_0^s c(u) c(u)^dag / ||psi(u)||^2 du in eigen-coordinates, (n, D, D),
    or its elements at ``pairs`` (n, P); ``Unravelling.coords_to_density`` maps the
    whole matrix to the integral of psi psi^dag.

    Closed form for the reset model (unitary between jumps): with P(u) = c(u) c(u)^dag
    and omega = E_m - E_n, integral_0^s P_mn(u) du = i (P_mn(s) - P_mn(0)) / omega_mn,
    or s P_mn(0) where omega_mn = 0 (near-degenerate pairs use the expm1 form, which
    keeps full relative precision). Otherwise Gauss-Legendre quadrature (12 nodes) on
    sub-intervals short enough that the integrand varies by at most ~2 e-folds or
    radians on each (error < 1e-13). Each element is computed by the same operations
    whether all are wanted or a few.
    """
    if unr.uniform_rate is not None:  # c is normalised
        if pairs is not None:
            return _unitary_pair_integral(unr, c, s, pairs)
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
    shape = (unr.dim, unr.dim) if pairs is None else (pairs.left.size,)
    out = np.zeros((c.shape[0], *shape), dtype=complex)
    h = s / n_sub
    for k in range(int(n_sub.max())):
        live = np.flatnonzero(k < n_sub)
        for x, w in zip(_GL_NODES, _GL_WEIGHTS, strict=True):
            u = h[live] * (k + 0.5 * (x + 1.0))
            cu = unr.propagate(c[live], u)
            cu /= np.sqrt(unr.norm_sq(cu))[:, None]
            if pairs is None:
                out[live] += (0.5 * w * h[live])[:, None, None] * (
                    cu[:, :, None] * cu[:, None, :].conj()
                )
            else:
                out[live] += (0.5 * w * h[live])[:, None] * pairs.products(cu, cu)
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
        out[:, m, n] = P0[:, m, n] * s * _phase_mean(s * unr.omega[m, n])
    _short_segments(out, P0, s[:, None, None], np.multiply.outer(s, unr.omega))
    return out


def _unitary_pair_integral(
    unr: Unravelling, c: NDArray[np.complex128], s: NDArray[np.float64], pairs: Pairs
) -> NDArray[np.complex128]:
    """``_unitary_segment_integral`` at the pairs only, (n, P)."""
    cs = unr.propagate(c, s)
    P0 = pairs.products(c, c)
    out = (pairs.products(cs, cs) - P0) * pairs.inv_omega
    out += P0 * (pairs.degenerate * s[:, None])
    for q, omega in zip(pairs.near.tolist(), pairs.near_omega.tolist(), strict=True):
        out[:, q] = P0[:, q] * s * _phase_mean(s * omega)
    _short_segments(out, P0, s[:, None], np.multiply.outer(s, pairs.omega))
    return out


SHORT_PHASE = 1e-3
"""Below this |omega s| the closed form (P(s) - P(0)) i / omega loses more than
eps / |omega s| ~ 2e-13 of its value to cancellation (all of it once the phase rounds
to 1, e.g. at an attempt period of 1e-300): those integrals are P(0) s times the
mean phase (``_phase_mean``) instead, exact at any s."""


def _short_segments(
    out: NDArray[np.complex128],
    P0: NDArray[np.complex128],
    s: NDArray[np.float64],
    x: NDArray[np.float64],
) -> None:
    """Replace the integrals whose phase x = omega s is nonzero and below
    ``SHORT_PHASE`` by P0 s ``_phase_mean(x)`` (s broadcast to the shape of x)."""
    short = (x != 0) & (np.abs(x) < SHORT_PHASE)
    if short.any():
        s_full = np.broadcast_to(s, x.shape)
        out[short] = P0[short] * s_full[short] * _phase_mean(x[short])


def _phase_mean(x: NDArray[np.float64]) -> NDArray[np.complex128]:
    """(1/x) integral_0^x exp(-i u) du = sin(x)/x - i 2 sin(x/2)^2 / x in real
    arithmetic (complex division overflows at x ~ 1e-300), 1 at x = 0 (a segment
    of zero length)."""
    safe = np.where(x == 0, 1.0, x)
    real = np.where(x == 0, 1.0, np.sin(safe) / safe)
    imag = np.where(x == 0, 0.0, -2.0 * np.sin(0.5 * safe) ** 2 / safe)
    return real + 1j * imag
