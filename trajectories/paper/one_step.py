"""App. E: one-step machines, their g -> 0 limit state (Eq. E3) and Eqs. E4-E10.

Two d-level systems with unit gaps, T_A = inf, T_B = 0, reset model (Eq. 4). The
interaction couples the chain of product states ``c_k = |k, d-1-k>`` (k = 0..d-1, all of
energy d - 1) by nearest-neighbour links ``c_k <-> c_{k+1}``.

Typos and conventions of App. E
-------------------------------
* Eq. E1 as printed, ``sum_{k=0}^{d-2} g_k (|k+1, d-k-1><k, d-k| + h.c.)``, needs the
  state |0, d> at k = 0, but B has levels 0..d-1; its chain also has energy d, which
  misses the filtered pair |0, d-1>, |1, d-2>. The chain meant is the energy-(d-1)
  one, ``|k+1, d-2-k><k, d-1-k| + h.c.``, k = 0..d-2 (E1 with d-k -> d-1-k), which
  ``machines.one_step`` builds; it reproduces Eqs. E4-E9 exactly.
* E1 labels the couplings g_0..g_{d-2}, the text after it g_1..g_{d-1}: the text's g_1
  (set to p_B/2) is the coupling of the link c_0 <-> c_1, i.e. ``|0,d-1> <-> |1,d-2>``,
  the only link inside the filtered subspace; p_A and all other links equal g.
* Eq. E10 for d = 3 is printed as (3 - g)/(2 + 8g), which gives 3/2 at g = 0, 5/12
  instead of eta_3 = 3/8 at g = 1/2 and turns negative for g > 3. The limit state gives
  3g/(2 + 8g^2) (``relaxed_negativity``). The d = 4 form is right. E10 also reuses the
  letter g for the ratio g_1/p_B; it is called ``gamma`` here.

The g -> 0 limit (how ``limit_state`` computes it)
--------------------------------------------------
The Liouvillian is homogeneous of degree one in the rates, so the state depends only on
eps = g/p_B and gamma = g_1/p_B (App. E: gamma = 1/2, hence no p_B dependence); set
p_B = 1. In the interaction picture the steady state of Eq. 4 solves

    (s + i ad_H) rho = p_A tau_A (x) rho_B + p_B rho_A (x) tau_B,   s = p_A + p_B,

with rho_A, rho_B the marginals, which are diagonal (vectors a, b). Off the chain rho is
diagonal and equals the right-hand side over s. On the chain, Y = rho restricted to the
c_k solves (s + i ad_H) Y = diag(x) with x_k = eps b_{d-1-k}/d + a_{d-1} delta_{k,d-1}.
With K the population part of (s + i ad_H)^{-1} on diagonal inputs and T = K - 1/s,
Delta = T x, the marginal equations give a = 1/d + s Delta/eps and b_j = delta_{j0} +
s Delta_{d-1-j}, hence the d x d system

    (1 - M T) x = (s/d) e_{d-1},   M = (eps s/d) 1 + (s/eps) e_{d-1} e_{d-1}^T.

Row d-1 of T is O(eps^2) (a first-order coherent step leaves the populations
unchanged), so 1 - M T = 1 + O(eps), and x, Delta, Y are power series in eps whose
coefficients follow by forward recursions, without any solve. The chain resolvent is a
Neumann series too: s + i ad_H = A0 + eps A1 with A0 = 1 + i ad_{H0} (the gamma link,
inverted in closed form, ||A0^{-1}|| <= 1) and A1 = 1 + i ad_{H1} (the unit links). The
gauge U = diag(i^k) makes every quantity real: U^dag Y U solves s Y' + [J, Y'] =
diag(x), J = i U^dag H U real antisymmetric, and Y_kl = i^(k-l) Y'_kl. The filtered
block first appears at order eps^(2(d-2)) (p_suc ~ (g/p_B)^(2(d-2))); its coefficient,
normalised, is the limit. The recursion runs in float64 (well conditioned, no large
cancellations) or in exact rationals (``exact=True``), which returns Eqs. E4-E9.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np
from numpy.typing import NDArray

from trajectories.system.liouvillian import diagonal_indices, reachable_support
from trajectories.system.models import OpenSystem

__all__ = [
    "ETA",
    "FIG6_D20",
    "OneStepLimit",
    "e3_chsh",
    "e3_negativity",
    "e3_state",
    "eta",
    "heralded_limit",
    "limit_state",
    "relaxed_negativity",
]

Number = float | Fraction

ETA: dict[int, Fraction] = {
    3: Fraction(3, 8),
    4: Fraction(11, 26),
    5: Fraction(89, 199),
    6: Fraction(761, 1651),
    7: Fraction(26931, 57371),
    8: Fraction(243719, 513029),
}
"""eta_d of Eqs. E4-E9 as printed."""

FIG6_D20 = {"negativity": 0.4926, "chsh": 2.8075}
"""The d = 20 values quoted under Fig. 6 (four decimals)."""


def eta(d: int) -> Fraction:
    """eta_d of Eqs. E4-E9 (d = 3..8) as an exact fraction."""
    if d not in ETA:
        raise ValueError(f"Eqs. E4-E9 give eta_d for d = 3..8, not d={d!r}")
    return ETA[d]


def e3_state(eta_d: float) -> NDArray[np.complex128]:
    """The state varrho'_d of Eq. E3 for a given eta_d, (4, 4) in the relabelled basis.

    Basis |0,0>, |0,1>, |1,0>, |1,1> of the filtered levels A: {0, 1}, B: {d-2, d-1};
    relabelled |0,1> is |0, d-1> = c_0 and |1,0> is |1, d-2> = c_1.
    """
    e = float(eta_d)
    rho = np.zeros((4, 4), dtype=complex)
    rho[1, 1], rho[2, 2] = e, 1.0 - e
    rho[1, 2], rho[2, 1] = -1j * e, 1j * e
    return rho


def e3_negativity(eta_d: float) -> float:
    """The negativity N = eta_d of the state of Eq. E3 (text after Eq. E3)."""
    return float(eta_d)


def e3_chsh(eta_d: float) -> float:
    """Maximal CHSH value 2 sqrt(1 + 4 eta_d^2) of the state of Eq. E3 (Fig. 6)."""
    return 2.0 * math.sqrt(1.0 + 4.0 * float(eta_d) ** 2)


def relaxed_negativity(d: int, gamma: Number) -> Number:
    """Eq. E10 (corrected for d = 3): negativity of the limit state vs gamma = g_1/p_B.

    d = 3: 3 gamma / (2 + 8 gamma^2) (printed: (3 - gamma)/(2 + 8 gamma));
    d = 4: gamma (5 + 2 gamma^2) / (3 + 13 gamma^2 + 4 gamma^4) (as printed).
    Exact for a Fraction ``gamma``.
    """
    if gamma < 0:
        raise ValueError(f"gamma={gamma} must be >= 0")
    if d == 3:
        return 3 * gamma / (2 + 8 * gamma**2)
    if d == 4:
        return gamma * (5 + 2 * gamma**2) / (3 + 13 * gamma**2 + 4 * gamma**4)
    raise ValueError(f"Eq. E10 is given for d = 3, 4, not d={d!r}")


@dataclass(frozen=True)
class OneStepLimit:
    """The g -> 0 limit of the filtered state of a one-step machine (Eq. E3).

    ``populations`` is the diagonal of varrho'_d in the relabelled basis and
    varrho'_d[1, 2] = -i ``coherence`` (real); both are Fractions when exact. The
    success probability is p_suc = ``p_suc_coefficient`` (g/p_B)^``order`` + ...
    """

    d: int
    gamma: Number
    populations: tuple[Number, Number, Number, Number]
    coherence: Number
    order: int
    p_suc_coefficient: Number

    @property
    def eta(self) -> Number:
        """varrho'_d[1, 1], the eta_d of Eq. E3."""
        return self.populations[1]

    def matrix(self) -> NDArray[np.complex128]:
        """varrho'_d as a (4, 4) complex array."""
        rho = np.diag([float(p) for p in self.populations]).astype(complex)
        rho[1, 2], rho[2, 1] = -1j * float(self.coherence), 1j * float(self.coherence)
        return rho


def _solve_A0(W: NDArray, gamma: Number) -> NDArray:
    """Z with Z + [J0, Z] = W for every (d, d) slice of W; J0 = gamma (E_10 - E_01)."""
    Z = W.copy()
    n = 1 + gamma * gamma
    # rows {0, 1}, columns >= 2: (1 + j) Z = W, (1 + j)^{-1} = (1 - j)/(1 + gamma^2)
    Z[:, 0, 2:] = (W[:, 0, 2:] + gamma * W[:, 1, 2:]) / n
    Z[:, 1, 2:] = (W[:, 1, 2:] - gamma * W[:, 0, 2:]) / n
    # rows >= 2, columns {0, 1}: Z (1 - j) = W
    Z[:, 2:, 0] = (W[:, 2:, 0] + gamma * W[:, 2:, 1]) / n
    Z[:, 2:, 1] = (W[:, 2:, 1] - gamma * W[:, 2:, 0]) / n
    # the 2 x 2 block {0, 1}: a - gamma(b + c) = wa, b + gamma(a - e) = wb, ...
    wa, wb, wc, we = W[:, 0, 0], W[:, 0, 1], W[:, 1, 0], W[:, 1, 1]
    m = 1 + 4 * gamma * gamma
    diff = ((wa - we) + 2 * gamma * (wb + wc)) / m
    tot = ((wb + wc) - 2 * gamma * (wa - we)) / m
    Z[:, 0, 0], Z[:, 1, 1] = (wa + we + diff) / 2, (wa + we - diff) / 2
    Z[:, 0, 1], Z[:, 1, 0] = (tot + wb - wc) / 2, (tot - wb + wc) / 2
    return Z


def _apply_A1(Y: NDArray) -> NDArray:
    """Y + [J1, Y] on (d, d) slices, J1 = sum_{k=1}^{d-2} E_{k+1,k} - E_{k,k+1}."""
    out = Y.copy()
    out[:, 1:-1, :] -= Y[:, 2:, :]
    out[:, 2:, :] += Y[:, 1:-1, :]
    out[:, :, 2:] += Y[:, :, 1:-1]
    out[:, :, 1:-1] -= Y[:, :, 2:]
    return out


def limit_state(
    d: int, gamma: Number = Fraction(1, 2), *, exact: bool = False
) -> OneStepLimit:
    """The g -> 0 limit varrho'_d of the filtered steady state (Eqs. E2-E3), any d >= 3.

    p_A = g and all links but c_0 <-> c_1 equal g; that link is g_1 = gamma p_B (App. E:
    gamma = 1/2; E10 varies it). Computed by the eps = g/p_B series of the module
    docstring, in float64 or, with ``exact=True``, in exact rationals.
    """
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 3:
        raise ValueError(f"d={d!r} must be an integer >= 3")
    d = int(d)
    one, gam = (Fraction(1), Fraction(gamma)) if exact else (1.0, float(gamma))
    if not gam > 0:
        raise ValueError(f"gamma={gamma} must be > 0 (gamma = 0 cuts c_0 off)")
    n_star = 2 * (d - 2)
    K, blk = _chain_series(d, gam, one, n_star + 2)
    T = _t_series(K, one)
    x = _source_series(T, one, n_star + 1)
    for n in range(n_star):
        pops, coh = _filtered_block(blk, T, x, n, one)
        if any(p != 0 for p in pops) or coh != 0:
            raise RuntimeError(f"the filtered block is nonzero at order {n} < {n_star}")
    pops, coh = _filtered_block(blk, T, x, n_star, one)
    p_suc = sum(pops)
    if not p_suc > 0:
        raise RuntimeError(f"p_suc vanishes at order {n_star}")
    return OneStepLimit(
        d=d,
        gamma=gam,
        populations=tuple(p / p_suc for p in pops),
        coherence=coh / p_suc,
        order=n_star,
        p_suc_coefficient=p_suc,
    )


def _zeros(shape: int | tuple[int, ...], one: Number) -> NDArray:
    """Zeros in the arithmetic of ``one``: float64, or Fractions in an object array."""
    dtype = object if isinstance(one, Fraction) else float
    return np.full(shape, one * 0, dtype=dtype)


def _chain_series(
    d: int, gam: Number, one: Number, orders: int
) -> tuple[list[NDArray], list[NDArray]]:
    """Orders 0..orders-1 of the chain resolvent Y[l] = A(eps)^{-1} E_ll.

    Returns the populations K_n (row k, column source l) and the {c_0, c_1} block
    (rows Y_00, Y_11, Y_01; column source l) of every order.
    """
    Y = _zeros((d, d, d), one)
    for k in range(d):
        Y[k, k, k] = one
    Y = _solve_A0(Y, gam)
    K, blk = [], []
    for n in range(orders):
        if n > 0:
            Y = -_solve_A0(_apply_A1(Y), gam)
        K.append(np.array([[Y[src, k, k] for src in range(d)] for k in range(d)]))
        blk.append(np.array([Y[:, 0, 0], Y[:, 1, 1], Y[:, 0, 1]]))
    return K, blk


def _t_series(K: list[NDArray], one: Number) -> list[NDArray]:
    """The orders of T = K - 1/s (s = 1 + eps), checking that row d-1 is O(eps^2)."""
    d = K[0].shape[0]
    eye = _zeros((d, d), one)
    for k in range(d):
        eye[k, k] = one
    T = [K[n] - (-1) ** n * eye for n in range(len(K))]
    if any(T[n][d - 1, k] != 0 for n in (0, 1) for k in range(d)):
        raise RuntimeError("row d-1 of T is not O(eps^2); the series does not apply")
    return T


def _source_series(T: list[NDArray], one: Number, orders: int) -> list[NDArray]:
    """Orders 0..orders-1 of x in (1 - M T) x = (s/d) e_{d-1}, by forward recursion."""
    d = T[0].shape[0]
    U = [T[n + 1][d - 1] for n in range(orders)]
    e = _zeros(d, one)
    e[d - 1] = one
    x = []
    for n in range(orders):
        r = e / d if n <= 1 else _zeros(d, one)
        for m in range(1, n + 1):
            MT = np.outer(e, U[m] + U[m - 1]) + T[m - 1] / d
            if m >= 2:
                MT = MT + T[m - 2] / d
            r = r + MT @ x[n - m]
        x.append(r)
    return x


def _filtered_block(
    blk: list[NDArray], T: list[NDArray], x: list[NDArray], n: int, one: Number
) -> tuple[list[Number], Number]:
    """Order n of the filtered block: its four populations and the coherence Y_01."""
    d = T[0].shape[0]
    yb = sum(blk[m] @ x[n - m] for m in range(n + 1))
    delta = sum(T[m] @ x[n - 1 - m] for m in range(n)) if n > 0 else [one * 0] * 2
    return [delta[1] / d, yb[0], yb[1], delta[0] / d], yb[2]


def heralded_limit(
    model_at: Callable[[float], OpenSystem],
    *,
    eps: str = "1e-30",
    dps: int = 80,
) -> tuple[NDArray[np.complex128], mpmath.mpf]:
    """Limit of rho' (Eqs. E2-E3, G6, G8) from the package's Liouvillian, in mpmath.

    ``model_at(x)`` must give a model whose Liouvillian is affine in x: a reset rate
    (x = p_B), or x = g entering p_A and interaction couplings together (the
    interaction-picture Liouvillian is linear in both). The Liouvillians at x = 0 and
    x = 1 define L(eps) = L0 + eps (L1 - L0); restricted to the reachable support, it
    is solved with a trace row at ``dps`` digits and eps = ``eps``: the O(eps) error
    is far below the double-precision rounding of the Liouvillian's own entries, which
    sets the accuracy (~1e-16 relative). The columns of L0 must sum to zero over the
    populations exactly in floating point (true with exact rates such as 1.0, or one
    populated thermal level); this is checked, as a leak of 1e-16 would swamp eps.
    Returns (rho' (k, k) in the relabelled basis, p_suc).
    """
    m0, m1 = model_at(0.0), model_at(1.0)
    D = m0.machine.dim
    L0 = m0.liouvillian().tocsr()
    L1 = (m1.liouvillian() - L0).tocsr()
    support = reachable_support(L0 + L1, diagonal_indices(D))
    pops = np.isin(support, diagonal_indices(D))
    A0 = L0[support][:, support].toarray()
    A1 = L1[support][:, support].toarray()
    with mpmath.workdps(dps):
        sol = _steady_solve(A0, A1, pops, mpmath.mpf(eps))
        value = dict(zip(support.tolist(), sol, strict=True))
        V = m0.machine.filter.isometry()
        keep = [int(np.flatnonzero(np.abs(col) > 0.5)[0]) for col in V.T]
        sub = [[value.get(i + D * j, mpmath.mpc(0)) for j in keep] for i in keep]
        p_suc = mpmath.re(mpmath.fsum(sub[a][a] for a in range(len(keep))))
        rho = np.array([[complex(z / p_suc) for z in row] for row in sub])
    return rho, p_suc


def _mpc(z: complex) -> mpmath.mpc:
    return mpmath.mpc(float(z.real), float(z.imag))


def _steady_solve(
    A0: NDArray[np.complex128],
    A1: NDArray[np.complex128],
    pops: NDArray[np.bool_],
    e: mpmath.mpf,
) -> mpmath.matrix:
    """The state with (A0 + e A1) rho = 0 and unit trace, at the working precision.

    The first population row is replaced by the trace; ``pops`` marks the
    populations. A0 must preserve the trace exactly in floating point.
    """
    n = pops.size
    for j in range(n):
        if mpmath.fsum(_mpc(A0[i, j]) for i in np.flatnonzero(pops)) != 0:
            raise ValueError(
                "the Liouvillian at x = 0 is not exactly trace preserving in "
                "floating point; use exact rates (e.g. 1.0)"
            )
    M = mpmath.matrix(n, n)
    rows, cols = np.nonzero(A0 != 0)
    for i, j in zip(rows, cols, strict=True):
        M[i, j] = _mpc(A0[i, j])
    rows, cols = np.nonzero(A1 != 0)
    for i, j in zip(rows, cols, strict=True):
        M[i, j] += e * _mpc(A1[i, j])
    r = int(np.flatnonzero(pops)[0])
    for j in range(n):
        M[r, j] = 1 if pops[j] else 0
    b = mpmath.matrix(n, 1)
    b[r] = 1
    return mpmath.lu_solve(M, b)
