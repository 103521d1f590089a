"""Closed forms of the two-qutrit machine: Eqs. 6-8 and B2-B11.

Reset model (Eq. 4) at maximal gradient T_A = inf, T_B = 0, couplings
g1 = g cos(theta) on |0,2><2,0| and g2 = g sin(theta) on |1,1><2,0| (Eq. 3), filters
Pi_A = |0><0| + |1><1|, Pi_B = |1><1| + |2><2| (Eq. 5), mu = p_A / p_B.

Basis. Every 4x4 matrix returned here is in the package's relabelled filtered basis
(``filters.py``): |0,0>, |0,1>, |1,0>, |1,1> = original |0,1>, |0,2>, |1,1>, |1,2>.
The paper prints Eqs. 6 and B2 in the reversed labelling, paper |a,b> = package
|1-a, 1-b>: its rows 1..4 are original |1,2>, |1,1>, |0,2>, |0,1>. Read that way,
Eqs. B3-B6 are exact as printed (r1 is the |1,2> population, fed by |0,2> and hence
by g1 = g cos(theta)), and Eq. 6 is their first order in mu. Since the exact filtered
state obeys rho'(pi/2 - theta) = R rho'(theta) R, with R that reversal (B2-B6 and the
numerics both show it), the printed matrices are equally the package's with
c_theta <-> s_theta exchanged: the reading stated for Eqs. 6-7. Exchanging
only |0,1> <-> |1,0> is *not* an equivalent reading: it reproduces Eq. 7 and the
central block, but puts mu c_theta^2 / 3 on the wrong corner (that corner carries
s_theta^2: original |0,1> is reached from |1,1> by a reset of A). ``relabel_paper``
converts between the two labellings.

The p_suc closed forms (Eqs. 8, B7-B11) are scalars and need no relabelling; all of
them are exact as printed.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "b_coefficients",
    "filtered_state",
    "first_order_state",
    "pure_state",
    "relabel_paper",
    "success_probability",
    "success_probability_small_g",
    "success_probability_small_mu",
]


def relabel_paper(matrix: ArrayLike) -> NDArray[np.complex128]:
    """Eqs. 6, 7, B2: map a 4x4 matrix between the paper's and the package's labels.

    Paper |a,b> is package |1-a, 1-b> (module docstring); the map is an involution.
    """
    m = np.asarray(matrix, dtype=complex)
    if m.shape != (4, 4):
        raise ValueError(f"expected a (4, 4) matrix, got shape {m.shape}")
    return m[::-1, ::-1].copy()


def pure_state(theta: float) -> NDArray[np.complex128]:
    """Eq. 7: the mu -> 0 limit cos(theta)|0,1> + sin(theta)|1,0> (package basis).

    Printed as sin(theta)|0,1> + cos(theta)|1,0> in the paper's labelling.
    """
    return np.array([0.0, np.cos(theta), np.sin(theta), 0.0], dtype=complex)


def first_order_state(theta: float, mu: float) -> NDArray[np.complex128]:
    """Eq. 6: rho' to first order in mu = p_A/p_B for g << p_B (package basis).

    Parameters
    ----------
    theta
        Coupling angle, g1 = g cos(theta), g2 = g sin(theta).
    mu
        p_A / p_B.

    Returns
    -------
    (4, 4) complex array: diag(mu s^2/3, (1 - mu/3) c^2, (1 - mu/3) s^2, mu c^2/3)
    with coherence (1 - 2 mu/3) c s between |0,1> and |1,0>; the printed matrix is
    ``relabel_paper`` of this one.
    """
    c, s = np.cos(theta), np.sin(theta)
    rho = np.diag(
        [mu * s * s / 3, (1 - mu / 3) * c * c, (1 - mu / 3) * s * s, mu * c * c / 3]
    ).astype(complex)
    rho[1, 2] = rho[2, 1] = (1 - 2 * mu / 3) * c * s
    return rho


def _denominator(g: float, theta: float, p_A: float, p_B: float) -> float:
    """Common denominator of Eqs. B3-B6."""
    g2 = g * g
    return (2 * p_A + 3 * p_B) * (
        -g2 * p_A * np.cos(4 * theta)
        + g2 * (p_A + 6 * p_B)
        + 6 * p_B * (p_A + p_B) ** 2
    )


def b_coefficients(
    g: float, theta: float, p_A: float, p_B: float
) -> tuple[float, float, float, float]:
    """Eqs. B3-B6 as printed: (r1, r2, r3, t), in the paper's labelling.

    r1, r2, r3 are the populations of paper |0,0>, |0,1>, |1,0> (package |1,1>,
    |1,0>, |0,1>) and t the coherence <0,1|rho'|1,0> in the paper's labelling.
    """
    g2 = g * g
    c2t = np.cos(2 * theta)
    base = g2 * (p_A + 3 * p_B) + 3 * p_B * (p_A + p_B) ** 2
    den = _denominator(g, theta, p_A, p_B)
    r1 = 2 * p_A * np.cos(theta) ** 2 * (base - g2 * p_A * c2t) / den
    r2 = 2 * np.sin(theta) ** 2 * (p_A + 3 * p_B) * (base + g2 * p_A * c2t) / den
    r3 = 2 * np.cos(theta) ** 2 * (p_A + 3 * p_B) * (base - g2 * p_A * c2t) / den
    t = 3 * p_B * np.sin(2 * theta) * base / den
    return float(r1), float(r2), float(r3), float(t)


def filtered_state(
    g: float, theta: float, p_A: float, p_B: float
) -> NDArray[np.complex128]:
    """Eq. B2 with Eqs. B3-B6: the exact filtered state rho' (package basis).

    The fourth population 1 - r1 - r2 - r3 is evaluated in the closed form
    2 p_A s^2 (g^2 p_A cos 2theta + g^2 (p_A + 3 p_B) + 3 p_B (p_A + p_B)^2) / den
    (den the denominator of B3-B6), which avoids the cancellation for small mu.

    Returns
    -------
    (4, 4) complex array, equal to ``relabel_paper`` of the printed Eq. B2.
    """
    r1, r2, r3, t = b_coefficients(g, theta, p_A, p_B)
    g2 = g * g
    base = g2 * (p_A + 3 * p_B) + 3 * p_B * (p_A + p_B) ** 2
    r4 = (
        2
        * p_A
        * np.sin(theta) ** 2
        * (base + g2 * p_A * np.cos(2 * theta))
        / _denominator(g, theta, p_A, p_B)
    )
    rho = np.diag([r4, r3, r2, r1]).astype(complex)
    rho[1, 2] = rho[2, 1] = t
    return rho


def success_probability(
    g: ArrayLike, theta: ArrayLike, p_A: ArrayLike, p_B: ArrayLike
) -> float | NDArray[np.float64]:
    """Eqs. B7-B11: the exact filtering success probability p_suc.

    Broadcasts over NumPy arrays; returns a float for scalar input.
    """
    g, theta, p_A, p_B = (np.asarray(x, dtype=float) for x in (g, theta, p_A, p_B))
    g2, c4t = g * g, np.cos(4 * theta)
    A = g2 * g2 * p_A * c4t * (p_A + p_B) * (p_A + 2 * p_B)
    B = g2 * g2 * (p_A**3 + 11 * p_A**2 * p_B + 26 * p_A * p_B**2 + 12 * p_B**3)
    C = 2 * g2 * p_B * (p_A + p_B) ** 2 * (4 * p_A**2 + 15 * p_A * p_B + 6 * p_B**2)
    D = 6 * p_A * p_B**2 * (p_A + p_B) ** 4
    num = (
        2
        * g2
        * p_A
        * (2 * p_A + 3 * p_B)
        * (g2 * p_A * c4t - g2 * (p_A + 6 * p_B) - 6 * p_B * (p_A + p_B) ** 2)
    )
    out = num / (9 * A - 9 * (B + C + D))
    return float(out) if out.ndim == 0 else out


def success_probability_small_mu(
    p_A: ArrayLike, p_B: ArrayLike
) -> float | NDArray[np.float64]:
    """Eq. 8 (left): p_suc ~ p_A / (3 p_B) for mu -> 0 at fixed g (any theta)."""
    out = np.asarray(p_A, dtype=float) / (3 * np.asarray(p_B, dtype=float))
    return float(out) if out.ndim == 0 else out


def success_probability_small_g(
    g: ArrayLike, p_A: ArrayLike, p_B: ArrayLike
) -> float | NDArray[np.float64]:
    """Eq. 8 (right): p_suc ~ 2 (2 p_A + 3 p_B) g^2 / (9 p_B (p_A + p_B)^2), g -> 0."""
    g, p_A, p_B = (np.asarray(x, dtype=float) for x in (g, p_A, p_B))
    out = 2 * (2 * p_A + 3 * p_B) * g * g / (9 * p_B * (p_A + p_B) ** 2)
    return float(out) if out.ndim == 0 else out
