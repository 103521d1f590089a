"""App. G: qubit-qubit and qubit-qutrit machines (Eqs. G1-G11), reset model (Eq. 4).

Bases: |a, b> with flat index a d_B + b; the qubit-qutrit states G6 and G8 are in the
relabelled filtered subspace (qutrit levels {1, 2} -> {0, 1} for G6, {0, 1} for G8),
the qubit unfiltered. Every state depends on the rates only through their ratios.

Findings on App. G (all closed forms G1, G3, G4, G6, G8, G9, G10 agree with the exact
numerics):

* G2: the quoted parameters give N = 0.004032; the true optimum of N over G1
  (``qubit_qubit_optimum``) is N = 0.00403538465394 at g/p_B = 0.2290843,
  p_A/p_B = 0.2476167, consistent with the printed 0.004 and g, p_A, p_B (ratios
  0.232, 0.242).
* G4: the optimum g = p_B/(1 + sqrt 3), N = (sqrt 3 - 1)/8, has purity exactly
  (13 + 3 sqrt 3)/24 = 0.75817; it is also the optimum over p_A != p_B.
* G6-G7: the g_2 -> 0 state at the p_A chosen after G6 is diag(1/4, 5/8, 1/8, 0)
  with coherence sqrt 2/8: N = (sqrt 3 - 1)/8, purity 17/32, as stated. The
  numerical optimum N = 0.104 of G7 is a supremum, (sqrt 2 - 1)/4 = 0.1035534,
  reached only as g_2/g_1 -> 0 at p_A/g_2 = 2 sqrt(2 + 2 sqrt 2) = 4.394 (the quoted
  point has g_2/g_1 = 5e-5, p_A/g_2 = 4.375, N = 0.103552). The purity 0.6875 quoted
  for it is that of the limit, exactly 11/16; at the quoted parameters it is 0.6859.
* G11: dN/dK = 0 (G10) has a single positive root, K = sqrt(6 + 2 sqrt 6), not two
  (the other stationary point is K = 0, a minimum; K^2 = 6 - 2 sqrt 6 solves only
  the squared equation K^4 - 12 K^2 + 12 = 0). N = 1/(2 + 2 sqrt 6) is the supremum
  of G9 over all parameters, approached as g_1/g_2 -> 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize

__all__ = [
    "G2_QUOTED",
    "G7_QUOTED",
    "G11_PURITY",
    "Optimum",
    "qubit_qubit_inverted_negativity",
    "qubit_qubit_inverted_optimum",
    "qubit_qubit_inverted_state",
    "qubit_qubit_negativity",
    "qubit_qubit_optimum",
    "qubit_qubit_state",
    "qubit_qutrit_best_p_A",
    "qubit_qutrit_inverted_limit_state",
    "qubit_qutrit_inverted_negativity",
    "qubit_qutrit_inverted_negativity_K",
    "qubit_qutrit_inverted_optimum",
    "qubit_qutrit_negativity",
    "qubit_qutrit_optimum",
    "qubit_qutrit_state",
    "qubit_qutrit_strong_g1_negativity",
    "qubit_qutrit_weak_g2_state",
]

SQRT2, SQRT3, SQRT6 = math.sqrt(2.0), math.sqrt(3.0), math.sqrt(6.0)


@dataclass(frozen=True)
class Optimum:
    """An optimal (or supremal) negativity, the purity of its state, and where."""

    negativity: float
    purity: float
    params: dict[str, float]


def _x_state(
    p00: float, p11: float, p22: float, p33: float, coherence: complex, norm: float
) -> NDArray[np.complex128]:
    """(4, 4) state with the given diagonal and rho[1, 2] = coherence, over norm."""
    rho = np.diag([p00, p11, p22, p33]).astype(complex)
    rho[1, 2], rho[2, 1] = coherence, np.conj(coherence)
    return rho / norm


def _x_negativity(p00: float, p33: float, c: float) -> float:
    """Negativity of an X state with corners p00, p33 and |rho[1, 2]| = c."""
    return max(0.0, math.sqrt(((p00 - p33) / 2) ** 2 + c**2) - (p00 + p33) / 2)


def _x_purity(rho: NDArray[np.complex128]) -> float:
    return float(np.sum(np.abs(rho) ** 2))


def _check_rates(**rates: float) -> None:
    for name, value in rates.items():
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{name}={value} must be finite and > 0")


# ------------------------------------------------------------------ qubit-qubit, G1-G4


def qubit_qubit_state(g: float, p_A: float, p_B: float) -> NDArray[np.complex128]:
    """Eq. G1: steady state of the qubit-qubit machine, T_A = inf, T_B = 0, (4, 4)."""
    _check_rates(g=g, p_A=p_A, p_B=p_B)
    s, t = p_A + p_B, p_A + 2 * p_B
    return _x_state(
        p_A * p_B * s**2 + g**2 * t**2,
        g**2 * p_A * t,
        p_A * (p_B * s**2 + g**2 * t),
        g**2 * p_A**2,
        -1j * g * p_A * p_B * s,
        2 * s**2 * (2 * g**2 + p_A * p_B),
    )


def qubit_qubit_negativity(g: float, p_A: float, p_B: float) -> float:
    """Negativity of the state of Eq. G1 (the quantity optimised in Eq. G2)."""
    rho = qubit_qubit_state(g, p_A, p_B)
    return _x_negativity(rho[0, 0].real, rho[3, 3].real, abs(rho[1, 2]))


G2_QUOTED = {"negativity": 0.004, "g": 2.2e-3, "p_A": 2.3e-3, "p_B": 9.5e-3}
"""Eq. G2 as printed: N = 0.004 at these parameters."""


def qubit_qubit_optimum() -> Optimum:
    """Eq. G2: maximal negativity of Eq. G1 over g/p_B and p_A/p_B (numerical).

    Params are ratios to p_B. Result N = 0.004035385 at g/p_B = 0.22908,
    p_A/p_B = 0.24762.
    """

    def cost(v: NDArray[np.float64]) -> float:
        return -qubit_qubit_negativity(math.exp(v[0]), math.exp(v[1]), 1.0)

    res = minimize(
        cost,
        np.log([0.2, 0.2]),
        method="Nelder-Mead",
        options={"xatol": 1e-11, "fatol": 1e-18, "maxiter": 10_000},
    )
    g, p_A = np.exp(res.x)
    rho = qubit_qubit_state(g, p_A, 1.0)
    return Optimum(float(-res.fun), _x_purity(rho), {"g": float(g), "p_A": float(p_A)})


def qubit_qubit_inverted_state(
    g: float, p_A: float, p_B: float
) -> NDArray[np.complex128]:
    """Eq. G3: qubit-qubit steady state, population inversion T_A -> 0^-, T_B = 0."""
    _check_rates(g=g, p_A=p_A, p_B=p_B)
    s = p_A + p_B
    return _x_state(
        2 * g**2 * p_B**2,
        2 * g**2 * p_A * p_B,
        p_A * p_B * (2 * g**2 + s**2),
        2 * g**2 * p_A**2,
        -1j * g * p_A * p_B * s,
        s**2 * (2 * g**2 + p_A * p_B),
    )


def qubit_qubit_inverted_negativity(g: float, p_B: float) -> float:
    """Eq. G4: negativity of Eq. G3 at p_A = p_B, g (p_B - g)/(2 (2 g^2 + p_B^2))."""
    _check_rates(g=g, p_B=p_B)
    return max(0.0, g * (p_B - g) / (2 * (2 * g**2 + p_B**2)))


def qubit_qubit_inverted_optimum() -> Optimum:
    """Text after Eq. G4: g = p_B/(1 + sqrt 3) gives N = (sqrt 3 - 1)/8, purity 0.758.

    The purity is exactly (13 + 3 sqrt 3)/24. Params are ratios to p_B (p_A = p_B).
    """
    return Optimum(
        (SQRT3 - 1) / 8,
        (13 + 3 * SQRT3) / 24,
        {"g": 1 / (1 + SQRT3), "p_A": 1.0},
    )


# ----------------------------------------------------------------- qubit-qutrit, G5-G7


def qubit_qutrit_state(g1: float, g2: float, p_A: float) -> NDArray[np.complex128]:
    """Eq. G6: qubit-qutrit rho', T_A -> 0, T_B -> inf, qutrit {1, 2} kept, p_B -> 0."""
    _check_rates(g1=g1, g2=g2, p_A=p_A)
    return _x_state(
        2 * g2**2 * (2 * g1**2 + p_A**2),
        g1**2 * (2 * g2**2 + p_A**2),
        2 * g1**2 * g2**2,
        0.0,
        1j * g1**2 * g2 * p_A,
        2 * g2**2 * p_A**2 + g1**2 * (8 * g2**2 + p_A**2),
    )


def qubit_qutrit_negativity(g1: float, g2: float, p_A: float) -> float:
    """Negativity of the state of Eq. G6 (the quantity optimised in Eq. G7)."""
    rho = qubit_qutrit_state(g1, g2, p_A)
    return _x_negativity(rho[0, 0].real, rho[3, 3].real, abs(rho[1, 2]))


def qubit_qutrit_best_p_A(g1: float, g2: float) -> float:
    """Text after G6: p_A = 2 sqrt 2 g1 g2/sqrt(g1^2 + 2 g2^2) maximises |rho'_12|."""
    _check_rates(g1=g1, g2=g2)
    return 2 * SQRT2 * g1 * g2 / math.sqrt(g1**2 + 2 * g2**2)


def qubit_qutrit_weak_g2_state() -> NDArray[np.complex128]:
    """Text after Eq. G6: the limit g2 -> 0 of Eq. G6 at the best p_A.

    diag(1/4, 5/8, 1/8, 0), rho[1, 2] = i sqrt 2/8: N = (sqrt 3 - 1)/8, purity 17/32.
    """
    return _x_state(2.0, 5.0, 1.0, 0.0, 1j * SQRT2, 8.0)


G7_QUOTED = {
    "negativity": 0.104,
    "g1": 9.2e-3,
    "g2": 4.8e-7,
    "p_A": 2.1e-6,
    "purity": 0.6875,
}
"""Eq. G7 and the sentence after it as printed."""


def qubit_qutrit_strong_g1_negativity(u: float) -> float:
    """Negativity of G6 for g1/g2 -> inf, p_A = u g2: (sqrt(4 + u^2) - 2)/(8 + u^2)."""
    return (math.sqrt(4 + u * u) - 2) / (8 + u * u)


def qubit_qutrit_optimum() -> Optimum:
    """Eq. G7: the supremum of the negativity of Eq. G6, N = (sqrt 2 - 1)/4 = 0.10355.

    Reached as g2/g1 -> 0 with p_A/g2 = 2 sqrt(2 + 2 sqrt 2); purity 11/16 = 0.6875.
    Params: ``g2`` = 0 (ratio to g1) and ``p_A`` as a ratio to g2.
    """
    return Optimum(
        (SQRT2 - 1) / 4, 11 / 16, {"g2": 0.0, "p_A": 2 * math.sqrt(2 + 2 * SQRT2)}
    )


# ------------------------------------------------- qubit-qutrit with inversion, G8-G11


def qubit_qutrit_inverted_state(
    g1: float, g2: float, p_A: float
) -> NDArray[np.complex128]:
    """Eq. G8: qubit-qutrit rho', T_A -> 0^-, T_B = 0, qutrit {0, 1} kept, p_B -> 0."""
    _check_rates(g1=g1, g2=g2, p_A=p_A)
    return _x_state(
        0.0,
        2 * g1**2 * g2**2,
        g2**2 * (2 * g1**2 + p_A**2),
        g1**2 * (2 * g2**2 + p_A**2),
        -1j * g1 * g2**2 * p_A,
        g2**2 * p_A**2 + g1**2 * (6 * g2**2 + p_A**2),
    )


def qubit_qutrit_inverted_negativity(g1: float, g2: float, p_A: float) -> float:
    """Eq. G9: negativity of the state of Eq. G8."""
    _check_rates(g1=g1, g2=g2, p_A=p_A)
    a = g1**2 * (2 * g2**2 + p_A**2)
    root = math.sqrt(4 * g1**2 * g2**4 * p_A**2 + a**2)
    return (root - a) / (2 * (g2**2 * p_A**2 + g1**2 * (6 * g2**2 + p_A**2)))


def qubit_qutrit_inverted_negativity_K(K: float) -> float:
    """Eq. G10: Eq. G9 at p_A = K g1 for g1 -> 0, (sqrt(1 + K^2) - 1)/(6 + K^2)."""
    if not K >= 0:
        raise ValueError(f"K={K} must be >= 0")
    return (math.sqrt(1 + K * K) - 1) / (6 + K * K)


def qubit_qutrit_inverted_limit_state(K: float) -> NDArray[np.complex128]:
    """Eq. G8 at p_A = K g1 for g1 -> 0 (the state behind Eq. G10), (4, 4)."""
    if not K >= 0:
        raise ValueError(f"K={K} must be >= 0")
    return _x_state(0.0, 2.0, 2 + K * K, 2.0, -1j * K, 6 + K * K)


def qubit_qutrit_inverted_optimum() -> Optimum:
    """Eq. G11: K = sqrt(6 + 2 sqrt 6) maximises Eq. G10, N = 1/(2 + 2 sqrt 6) = 0.145.

    Params: ``g1`` = 0 (ratio to g2) and ``p_A`` = K (ratio to g1). The purity, exactly
    (27 + 3 sqrt 6)/50, is that of ``qubit_qutrit_inverted_limit_state(K)``.
    """
    K = math.sqrt(6 + 2 * SQRT6)
    rho = qubit_qutrit_inverted_limit_state(K)
    return Optimum(1 / (2 + 2 * SQRT6), _x_purity(rho), {"g1": 0.0, "p_A": K})


G11_PURITY = (27 + 3 * SQRT6) / 50
"""Purity of the state of Eq. G11 in closed form, (27 + 3 sqrt 6)/50 = 0.68697."""
