"""Closed forms of the qudit machine: Eq. 12, the steady state C2-C3, C11 and C12.

Notation of Sec. III: two (d+1)-level systems, H_int of Eq. 10 with every coupling
g_k = g/sqrt(2) (as ``machines.qudit(d, g)``), reset model (Eq. 4) at T_A = inf,
T_B = 0, filters Pi_A = 1 - |d><d|, Pi_B = 1 - |0><0| (Eq. C10). Full matrices use the
basis |a,b>, flat index a (d+1) + b; filtered matrices the relabelled basis (kept
levels renumbered 0..d-1, so original |k, d-k> is relabelled |k, d-1-k>).

Typos and conventions of the paper corrected here (each pinned in
``tests/test_paper_qudit.py``):

* Eq. 12 is written with d the *local* dimension, i.e. d+1 in the notation of
  Eqs. 9-11 (hence "agrees with (8) for d = 3": the qutrit machine). In the notation
  of Sec. III, p_suc = d g^2 p_A (d p_A + (d+1) p_B) /
  ((d+1)^2 (g^2 xi + p_A p_B (p_A + p_B)^2)), xi = 2d p_A p_B + d p_B^2 + p_A^2.
* Eqs. C2-C3 are the exact steady state when every g_k = g, not g/sqrt(2) as
  Sec. III sets: with the g of Sec. III, replace g by g/sqrt(2) (2 g^2 -> g^2,
  c_3 -> i (d+1) g p_A p_B (p_A + p_B)/sqrt(2)). They also hold for d = 2.
* Eq. C11 is wrong: its coherences carry 2 d g i p_A p_B (the matrix is then not
  Hermitian) instead of the 2 (d+1) g^2 p_A p_B of C2, their sums (k <= d-2,
  l <= d-k-1) omit every coherence with original |d-1, 1>, and their kets are in
  relabelled labels while the populations are in original ones. The filtered state
  is the isotropic state of ``filtered_state``; it does not depend on g.
* Eq. C12 holds: 1 - <S_d|rho'|S_d> = (d-1)/d p_A/p_B + O((p_A/p_B)^2).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "deficit_coefficient",
    "fidelity_deficit",
    "filtered_state",
    "maximally_entangled_state",
    "steady_state",
    "success_probability",
]


def _check_d(d: int) -> int:
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"d={d!r} must be an integer >= 2")
    return int(d)


def success_probability(
    d: int, g: ArrayLike, p_A: ArrayLike, p_B: ArrayLike
) -> float | NDArray[np.float64]:
    """Eq. 12 (corrected: printed d -> d+1): p_suc of the qudit machine.

    Parameters
    ----------
    d
        Filtered dimension (two (d+1)-level systems), d >= 2.
    g, p_A, p_B
        Coupling (g_k = g/sqrt(2)) and reset rates; broadcast as NumPy arrays.
    """
    n = _check_d(d) + 1  # the d of the printed Eq. 12
    g, p_A, p_B = (np.asarray(x, dtype=float) for x in (g, p_A, p_B))
    xi = 2 * (n - 1) * p_A * p_B + (n - 1) * p_B**2 + p_A**2
    out = (
        (n - 1)
        * g**2
        * p_A
        * ((n - 1) * p_A + n * p_B)
        / (n**2 * (g**2 * xi + p_A * p_B * (p_A + p_B) ** 2))
    )
    return float(out) if out.ndim == 0 else out


def steady_state(d: int, g: float, p_A: float, p_B: float) -> NDArray[np.complex128]:
    """Eqs. C2-C3 (corrected: printed g -> g/sqrt(2)): the full steady state.

    Returns
    -------
    ((d+1)^2, (d+1)^2) complex array in the basis |a,b>, flat index a (d+1) + b.
    Eqs. C2-C3 as printed are ``steady_state(d, sqrt(2) g, p_A, p_B)``.
    """
    d = _check_d(d)
    gc = g / math.sqrt(2)  # the g of App. C is the common coupling g_k
    D = d + 1
    s = p_A + p_B
    c1 = D * p_A * p_B * s**2 + 2 * gc**2 * (D**2 * p_B**2 + 2 * d * D * p_A * p_B)
    c2 = p_A * (D * p_B * s**2 + 2 * D * gc**2 * d * p_B)
    c3 = 1j * D * gc * p_A * p_B * s
    N = D**2 * (
        p_A * p_B * s**2 + 2 * gc**2 * (p_A**2 + 2 * d * p_A * p_B + d * p_B**2)
    )
    w = 2 * D * gc**2 * p_A * p_B  # populations and coherences of |k, d-k>

    def idx(a: int, b: int) -> int:
        return a * D + b

    rho = np.eye(D * D, dtype=complex) * (2 * gc**2 * p_A**2)
    for k in range(d):
        rho[idx(k, 0), idx(k, 0)] += c1
    rho[idx(d, 0), idx(d, 0)] += c2
    chain = [idx(k, d - k) for k in range(d)]
    rho[np.ix_(chain, chain)] += w
    rho[idx(d, 0), chain] += c3
    rho[chain, idx(d, 0)] += np.conj(c3)
    return rho / N


def maximally_entangled_state(d: int) -> NDArray[np.complex128]:
    """Eq. 11: |S_d> = sum_k |k-1, d-k> / sqrt(d), in the relabelled basis (d^2,)."""
    d = _check_d(d)
    psi = np.zeros(d * d, dtype=complex)
    psi[[a * d + (d - 1 - a) for a in range(d)]] = 1 / math.sqrt(d)
    return psi


def filtered_state(d: int, p_A: float, p_B: float) -> NDArray[np.complex128]:
    """Eq. C11 (corrected): the filtered state rho' in the relabelled basis.

    rho' = (p_A 1 + d (d+1) p_B |S_d><S_d|) / (d (d p_A + (d+1) p_B)), i.e. the
    normalised filter of C2: populations 2 g^2 p_A^2 on all d^2 kept states, plus
    2 (d+1) g^2 p_A p_B on every |k, d-k> and on every coherence between them
    (App. C coupling g). Independent of g.
    """
    d = _check_d(d)
    psi = maximally_entangled_state(d)
    rho = p_A * np.eye(d * d) + d * (d + 1) * p_B * np.outer(psi, psi.conj())
    return rho / (d * (d * p_A + (d + 1) * p_B))


def fidelity_deficit(
    d: int, p_A: ArrayLike, p_B: ArrayLike
) -> float | NDArray[np.float64]:
    """Eq. C12, exactly: 1 - <S_d|rho'|S_d> = (d^2-1) p_A / (d (d p_A + (d+1) p_B))."""
    d = _check_d(d)
    p_A, p_B = (np.asarray(x, dtype=float) for x in (p_A, p_B))
    out = (d * d - 1) * p_A / (d * (d * p_A + (d + 1) * p_B))
    return float(out) if out.ndim == 0 else out


def deficit_coefficient(d: int) -> float:
    """Eq. C12: the coefficient (d-1)/d of 1 - F = (d-1)/d p_A/p_B + O((p_A/p_B)^2)."""
    d = _check_d(d)
    return (d - 1) / d
